"""Walk a canary through the built-in router and watch sticky users move over once, never back.

    python examples/router_canary.py                 # two local backends, in one process
    python examples/router_canary.py --users 200 --steps 0,5,25,50,100

Two backends stand for the stable (v1) and the canary (v2) revision. The router keeps each user (by
``X-User``) in one cohort; a fake user (``X-Livesite-Route: canary``) is pinned to the canary before
any real user gets it. Every step sets the canary weight through the admin API (as a rollout does),
sends one request per user, and prints the canary's share and its stats. Exits 1 if a user ever
went back from the canary to stable.
"""

from __future__ import annotations

import argparse
import asyncio

import httpx

from livesite.dataplane.router import HealthCheck, Route, Router, RouterSettings, Sticky, parse_backends
from livesite.testing import TargetServer

TOKEN = "example-admin-token"


async def main(users: int, steps: list[int]) -> int:
    async with TargetServer(version="v1") as stable, TargetServer(version="v2") as canary:
        settings = RouterSettings(
            port=0,
            backends=parse_backends(
                [f"stable=http://127.0.0.1:{stable.port}=100", f"canary=http://127.0.0.1:{canary.port}=0"]
            ),
            sticky=Sticky(header="X-User"),
            routes=(Route(header="X-Livesite-Route", value="canary", backend="canary"),),
            admin_token=TOKEN,
            health=HealthCheck(path="/status/200"),
        )
        async with Router(settings) as router, httpx.AsyncClient(base_url=router.url) as http:
            admin = {"Authorization": f"Bearer {TOKEN}"}
            pinned = await http.get("/json", headers={"X-Livesite-Route": "canary"})
            print(f"fake user pinned to the canary at weight 0: served by {pinned.headers['x-version']}")
            on_canary: set[str] = set()
            flipped = 0
            for weight in steps:
                applied = await http.put(
                    "/-/weights", json={"stable": 100 - weight, "canary": weight}, headers=admin
                )
                applied.raise_for_status()
                await http.delete("/-/stats", headers=admin)
                now_on_canary = set()
                for i in range(users):
                    r = await http.get("/json", headers={"X-User": f"user-{i}"})
                    if r.headers["x-version"] == "v2":
                        now_on_canary.add(f"user-{i}")
                flipped += len(on_canary - now_on_canary)
                on_canary = now_on_canary
                stats = (await http.get("/-/stats", headers=admin)).json()["backends"]["canary"]
                print(
                    f"canary weight {weight:3}%: {len(on_canary):4} of {users} users on the canary; "
                    f"its stats: {stats['requests']} requests, {stats['errors']} errors"
                )
            print(f"users who went back to stable: {flipped}")
            return 1 if flipped else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument(
        "--steps", default="0,10,25,50,100", help="canary weights in percent, comma-separated"
    )
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.users, [int(s) for s in args.steps.split(",")])))
