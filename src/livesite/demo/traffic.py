"""Shoppers that buy as fast as they can through one URL: traffic a rollout can judge in seconds.

The simulated customers (``customers.py``) model a day's mix, which an edge cache mostly absorbs;
a rollout on a front needs requests that reach it. Each shopper registers, logs in, then adds a
product to the cart and checks out, again and again, until stopped: every request is private, so
none is cached, and a revision that breaks checkout shows at once in the front's counters.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import httpx


@dataclass
class Tally:
    requests: int = 0
    errors: int = 0


async def _shopper(url: str, stop: asyncio.Event, tally: Tally, client: httpx.AsyncClient) -> None:
    who = {"email": f"shopper-{uuid.uuid4().hex[:12]}@demo.test", "password": "shopper-pass"}
    await client.post(f"{url}/api/register", json=who)
    token = (await client.post(f"{url}/api/login", json=who)).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    while not stop.is_set():
        for method, path, body in (("POST", "/api/cart", {"product_id": 1}), ("POST", "/api/checkout", None)):
            try:
                reply = await client.request(method, f"{url}{path}", json=body, headers=auth)
                tally.requests += 1
                tally.errors += reply.status_code >= 500
            except httpx.HTTPError:
                tally.requests += 1
                tally.errors += 1


async def shop(url: str, stop: asyncio.Event, shoppers: int = 4) -> Tally:
    """Run ``shoppers`` against ``url`` until ``stop`` is set; what they sent and what failed."""
    tally = Tally()
    async with httpx.AsyncClient(timeout=5) as client:
        await asyncio.gather(*(_shopper(url, stop, tally, client) for _ in range(shoppers)))
    return tally
