"""A second process for the leasing tests: lease a user of cohort ``staff``, say so, hold it until
stdin closes or a line arrives, then release it (or be killed while holding it)."""

from __future__ import annotations

import asyncio
import sys

from livesite.config import load
from livesite.users import UserPool


async def main(config_path: str) -> None:
    config = load(config_path)
    pool = await UserPool.open(config)
    try:
        async with pool.running(cohort="staff", check="child") as who:
            print(f"held {who.user}", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
    finally:
        await pool.close()
    print("released", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
