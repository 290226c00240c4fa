"""Simulated customers: a steady background load with a realistic mix, so analyses have data.

Visits start at a steady rate (`rate_per_second`) and alternate between zones. A visit is one journey:
    browse  (60%)  home, catalog, one product page
    account (20%)  log in (registering first if needed), look at /api/me, sometimes refresh the token
    buy     (20%)  log in, add one or two products to the cart, check out
The process serves `GET /-/health` and `GET /-/stats` (visits, requests, errors by journey; admin token).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import httpx
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from livesite.demo.responses import admin_only
from livesite.demo.serve import serve
from livesite.demo.settings import CustomersSettings, load

JOURNEYS = (("browse", 60), ("account", 20), ("buy", 20))
POOL_SIZE = 50
MAX_CONCURRENT_VISITS = 100


class JourneyStats(BaseModel):
    visits: int = 0
    requests: int = 0
    errors: int = 0


class Customer(BaseModel):
    email: str
    password: str
    token: str | None = None
    refresh_token: str | None = None


class Crowd:
    def __init__(self, settings: CustomersSettings) -> None:
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.pool = [
            Customer(email=f"customer-{i}@example.test", password=f"secret-{i}!") for i in range(POOL_SIZE)
        ]
        self.stats = {name: JourneyStats() for name, _ in JOURNEYS}
        self.gate = asyncio.Semaphore(MAX_CONCURRENT_VISITS)

    async def _get(
        self,
        http: httpx.AsyncClient,
        journey: str,
        method: str,
        url: str,
        json: object | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        stats = self.stats[journey]
        stats.requests += 1
        try:
            reply = await http.request(method, url, json=json, headers=headers)
        except httpx.HTTPError:
            stats.errors += 1
            return None
        if reply.status_code >= 500:
            stats.errors += 1
        return reply

    async def _login(self, http: httpx.AsyncClient, journey: str, base: str, who: Customer) -> bool:
        if who.token is not None:
            return True
        creds = {"email": who.email, "password": who.password}
        reply = await self._get(http, journey, "POST", f"{base}/api/login", json=creds)
        if reply is not None and reply.status_code == 401:
            await self._get(http, journey, "POST", f"{base}/api/register", json=creds)
            reply = await self._get(http, journey, "POST", f"{base}/api/login", json=creds)
        if reply is None or reply.status_code != 200:
            return False
        who.token, who.refresh_token = reply.json()["token"], reply.json()["refresh_token"]
        return True

    async def visit(self, http: httpx.AsyncClient, base: str) -> None:
        journey = self.rng.choices([n for n, _ in JOURNEYS], weights=[w for _, w in JOURNEYS])[0]
        self.stats[journey].visits += 1
        product = self.rng.randint(1, 6)
        if journey == "browse":
            for path in ("/", "/products", f"/products/{product}"):
                await self._get(http, journey, "GET", base + path)
            return
        who = self.rng.choice(self.pool)
        if not await self._login(http, journey, base, who):
            return
        auth = {"Authorization": f"Bearer {who.token}"}
        if journey == "account":
            reply = await self._get(http, journey, "GET", f"{base}/api/me", headers=auth)
            if reply is not None and reply.status_code == 401:
                who.token = None
            return
        await self._get(http, journey, "GET", f"{base}/api/products/{product}")
        for _ in range(self.rng.randint(1, 2)):
            body = {"product_id": self.rng.randint(1, 6), "quantity": 1}
            reply = await self._get(http, journey, "POST", f"{base}/api/cart", json=body, headers=auth)
            if reply is not None and reply.status_code == 401:
                who.token = None
                return
        await self._get(http, journey, "POST", f"{base}/api/checkout", headers=auth)

    async def _guarded(self, http: httpx.AsyncClient, base: str) -> None:
        async with self.gate:
            await self.visit(http, base)

    async def run(self) -> None:
        """Start visits at a steady rate until cancelled."""
        interval = 1.0 / self.settings.rate_per_second
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=10.0) as http:
            try:
                next_at = loop.time()
                for n in range(1 << 62):
                    base = self.settings.zone_urls[n % len(self.settings.zone_urls)]
                    task = asyncio.create_task(self._guarded(http, base))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    next_at += interval
                    await asyncio.sleep(max(0.0, next_at - loop.time()))
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)


def create_app(settings: CustomersSettings) -> Starlette:
    """The customers process described by `settings`, as an ASGI app."""
    crowd = Crowd(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runner = asyncio.create_task(crowd.run()) if settings.rate_per_second > 0 else None
        yield
        if runner is not None:
            runner.cancel()
            with suppress(asyncio.CancelledError):
                await runner

    async def health(request: Request) -> Response:
        return JSONResponse(
            {"status": "ok", "customers": settings.name, "rate_per_second": settings.rate_per_second}
        )

    async def stats(request: Request) -> Response:
        return JSONResponse({name: s.model_dump() for name, s in crowd.stats.items()})

    return Starlette(
        routes=[Route("/-/health", health), Route("/-/stats", admin_only(settings.admin_token, stats))],
        lifespan=lifespan,
    )


def main() -> None:
    settings, fd = load(CustomersSettings)
    serve(create_app(settings), fd)


if __name__ == "__main__":
    main()
