"""Run a check from code through the probe service, as a given fake user, once and then on schedule.

    livesite demo up && eval "$(livesite demo env)"
    python examples/probe_as_a_user.py examples/demo-checks.yaml health zone-a --seconds 5

This is how a rollout's analysis or a chaos experiment gets its Results (docs/probes.md).
"""

from __future__ import annotations

import argparse
import asyncio

from livesite.checks import Identity
from livesite.config import load
from livesite.probe import Job, ProbeService, job_for
from livesite.results import Result


async def main(config_path: str, check: str, zone: str, seconds: float) -> int:
    config = load(config_path)
    spec = config.check(check)
    if spec is None:
        raise SystemExit(f"no check named {check!r} in {config_path}")
    probes = ProbeService(config)
    alice = Identity(user="alice", cohort="pro-eu", headers=(("X-Demo-User", "alice"),))
    try:
        once = await probes.probe(spec, zone, alice)
        print(f"once: {once.check}@{once.zone} as {once.user} ({once.cohort}): {once.status} {once.reason()}")
        heard: list[Result] = []

        def on_result(job: Job, result: Result) -> None:
            heard.append(result)
            print(f"scheduled: {result.check}@{result.zone} {result.status} revision={result.revision}")

        probes.schedule(job_for(config, spec, zone, alice, spread_start=False), on_result)
        await probes.run(until=probes.clock.monotonic() + seconds)
    finally:
        probes.close()
    passed = sum(r.passed for r in [once, *heard])
    print(f"{passed} of {len(heard) + 1} runs passed")
    return 0 if passed == len(heard) + 1 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config")
    parser.add_argument("check")
    parser.add_argument("zone")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.config, args.check, args.zone, args.seconds)))
