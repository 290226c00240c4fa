"""CPU per journey step: livesite's journey kind vs a hand-written httpx client, same server, same run.

Load: N journeys (default 1,000) at a fixed concurrency (default 20) against a local nginx (1 worker,
access log off) that answers a shop API: login (a token), cart (a total), checkout (an order), logout.
A journey is 4 requests on one new connection (a fake user's own session): login and extract the
token, add to the cart and extract the total, check out and assert the order's total equals it, and
log out as cleanup. Contenders, one after another, in this process (nginx runs in its own):

- ``livesite``: ``run_check`` of a ``kind: journey`` check (the frame, assertions, variables, redaction
  of the token, one Result per journey), as a fake user with the marker header and credentials.
- ``livesite+lease``: the same through ``ProbeService.probe`` with ``cohort:``: each journey also
  leases a user from a SQLite store (``BEGIN IMMEDIATE``), renews nothing (it is short) and releases it.
- ``httpx``: the same 4 requests by ``httpx.AsyncClient`` (one client per journey, one shared TLS
  context), JSON parsed and the same values checked by hand — what a team writes without livesite.

CPU is ``time.process_time()`` of this process around the journeys only (nginx's CPU is not counted).
Prints the load, httpx's version, per contender µs of CPU per step and journeys per minute on one
core, and last the line ``journeys: livesite X µs CPU/step, Y journeys/min/core vs httpx Z µs/step →
ratio R×``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from livesite import runtime
from livesite.checks import Credentials, Identity, Resources, RunContext, run_check
from livesite.config import loads
from livesite.config.models import Config, Zone
from livesite.probe import ProbeService
from livesite.results import Status
from livesite.testing.servers import Nginx

STEPS = 4
TOKEN = "tok-6f1c2a9b8e7d4c3b2a19f8e7d6c5b4a3"
LOCATIONS = f"""
location = /api/login {{
    default_type application/json;
    add_header X-Version "v1" always;
    return 200 '{{"token": "{TOKEN}", "expires_in": 300}}';
}}
location = /api/cart {{
    default_type application/json;
    add_header X-Version "v1" always;
    return 200 '{{"items": [{{"product_id": 1, "quantity": 2}}], "total_cents": 17800}}';
}}
location = /api/checkout {{
    default_type application/json;
    add_header X-Version "v1" always;
    return 201 '{{"id": 7, "total_cents": 17800, "payment_id": "pay-1"}}';
}}
location = /api/logout {{
    add_header X-Version "v1" always;
    return 204;
}}
"""


def config_text(base_url: str, store: Path) -> str:
    users = "".join(
        f"        - {{id: u{i}, username: u{i}@example.test, password: pw-{i}-secret}}\n" for i in range(64)
    )
    return f"""
zones: [{{name: local, base_url: "{base_url}"}}]
store: {{url: "sqlite:///{store}"}}
users:
  wait_seconds: 30s
  cohorts:
    - name: bench
      users:
{users}
checks:
  - name: checkout
    kind: journey
    cohort: bench
    steps:
      - name: login
        method: POST
        url: /api/login
        json: {{email: "${{user.username}}", password: "${{user.password}}"}}
        assert: [status == 200]
        extract: {{token: json.token}}
      - name: cart
        method: POST
        url: /api/cart
        headers: {{Authorization: "Bearer ${{steps.login.token}}"}}
        json: {{product_id: 1, quantity: 2}}
        assert: [status == 200, json.total_cents > 0]
        extract: {{total: json.total_cents}}
      - name: checkout
        method: POST
        url: /api/checkout
        headers: {{Authorization: "Bearer ${{steps.login.token}}"}}
        assert: [status == 201, 'json.total_cents == ${{steps.cart.total}}']
    cleanup:
      - name: logout
        method: POST
        url: /api/logout
        headers: {{Authorization: "Bearer ${{steps.login.token}}"}}
        assert: [status == 204]
"""


@dataclass
class Run:
    name: str
    journeys: int
    ok: int
    cpu_seconds: float
    wall_seconds: float

    @property
    def cpu_us_per_step(self) -> float:
        return self.cpu_seconds / (self.journeys * STEPS) * 1e6

    @property
    def journeys_per_minute_per_core(self) -> float:
        return 60 * self.journeys / self.cpu_seconds if self.cpu_seconds else 0.0

    def line(self) -> str:
        return (
            f"{self.name:15} {self.ok}/{self.journeys} ok  {self.cpu_us_per_step:7.0f} µs CPU/step  "
            f"{self.journeys_per_minute_per_core:8.0f} journeys/min/core  "
            f"({self.journeys / self.wall_seconds:.0f} journeys/s wall)"
        )


async def measure(name: str, n: int, concurrency: int, one: Callable[[int], Awaitable[bool]]) -> Run:
    slots = asyncio.Semaphore(concurrency)

    async def bounded(i: int) -> bool:
        async with slots:
            return await one(i)

    for i in range(min(50, n)):  # warm-up: imports, first connections, memoised rules
        await one(i)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    results = await asyncio.gather(*(bounded(i) for i in range(n)))
    return Run(name, n, sum(results), time.process_time() - cpu0, time.perf_counter() - wall0)


def livesite_one(config: Config) -> Callable[[int], Awaitable[bool]]:
    spec = config.checks[0]
    zone = Zone(name="local", base_url=config.zones[0].base_url)
    resources = Resources()
    contexts = [
        RunContext(
            zone=zone,
            zones=(zone,),
            resources=resources,
            identity=Identity(
                user=f"u{i}",
                cohort="bench",
                headers=(("X-Livesite-Synthetic", f"u{i}"),),
                credentials=Credentials(username=f"u{i}@example.test", password=f"pw-{i}-secret"),
            ),
        )
        for i in range(64)
    ]

    async def one(i: int) -> bool:
        result = await run_check(spec, contexts[i % 64])
        return result.status is Status.ok

    return one


def leased_one(probes: ProbeService) -> Callable[[int], Awaitable[bool]]:
    spec = probes.config.checks[0]

    async def one(i: int) -> bool:
        result = await probes.probe(spec, "local")
        return result.status is Status.ok

    return one


def httpx_one(base_url: str) -> Callable[[int], Awaitable[bool]]:
    # One TLS context for every client: httpx would otherwise load the CA bundle per client (~20 ms
    # of CPU each), which no one writing this by hand would leave in, and which is not HTTP work.
    tls = ssl.create_default_context()

    async def one(i: int) -> bool:
        headers = {"X-Livesite-Synthetic": f"u{i % 64}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, verify=tls) as client:
            login = await client.post("/api/login", json={"email": f"u{i}@example.test", "password": "pw"})
            if login.status_code != 200:
                return False
            auth = {"Authorization": f"Bearer {login.json()['token']}"}
            try:
                cart = await client.post("/api/cart", json={"product_id": 1, "quantity": 2}, headers=auth)
                if cart.status_code != 200 or not cart.json()["total_cents"] > 0:
                    return False
                order = await client.post("/api/checkout", headers=auth)
                return order.status_code == 201 and order.json()["total_cents"] == cart.json()["total_cents"]
            finally:
                await client.post("/api/logout", headers=auth)

    return one


async def main(args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="livesite-bench-journeys-") as tmp,
        Nginx(Path(tmp) / "nginx", locations=LOCATIONS) as nginx,
    ):
        config = loads(config_text(nginx.url("").rstrip("/"), Path(tmp) / "store.db"))
        print(
            f"load: {args.journeys} journeys × {STEPS} requests, concurrency {args.concurrency}, "
            f"nginx on loopback; peer httpx {httpx.__version__}; Python {sys.version.split()[0]}"
        )
        runs = [await measure("livesite", args.journeys, args.concurrency, livesite_one(config))]
        probes = ProbeService(config)
        try:
            runs.append(await measure("livesite+lease", args.journeys, args.concurrency, leased_one(probes)))
        finally:
            await probes.aclose()
        runs.append(
            await measure("httpx", args.journeys, args.concurrency, httpx_one(nginx.url("").rstrip("/")))
        )
        for run in runs:
            print(run.line())
        ours, peer = runs[0], runs[-1]
        if args.json:
            print(json.dumps({r.name: {"cpu_us_per_step": r.cpu_us_per_step, "ok": r.ok} for r in runs}))
        print(
            f"journeys: livesite {ours.cpu_us_per_step:.0f} µs CPU/step, "
            f"{ours.journeys_per_minute_per_core:.0f} journeys/min/core (goal 1,000) vs httpx "
            f"{peer.cpu_us_per_step:.0f} µs/step → ratio {peer.cpu_us_per_step / ours.cpu_us_per_step:.2f}×"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    runtime.run(main(parser.parse_args()))
