"""HTTP faults in livesite's router (``/-/faults``): a status, an abort or a delay for a share of requests.

The router expires each fault at its ``ttl_seconds`` by itself, so a dead runner leaves nothing behind.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx
from pydantic import BaseModel

from livesite.chaos.faults.base import FaultError, FaultKind, Info, Target
from livesite.chaos.spec import HttpFault

log = logging.getLogger(__name__)


async def resolve(spec: BaseModel) -> Sequence[Target]:
    assert isinstance(spec, HttpFault)
    what = {"status": f"answer {spec.status}", "abort": "abort", "delay": f"delay {spec.delay_ms} ms"}[
        spec.action
    ]
    return [
        Target(
            resource=f"http:{spec.router.rstrip('/')}",
            description=f"router {spec.router}: {what} for {spec.share:.0%} of requests matching {spec.match or 'all'}",
        )
    ]


async def _call(spec: HttpFault, method: str, path: str, body: object = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {spec.token}"} if spec.token else {}
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            return await client.request(
                method, f"{spec.router.rstrip('/')}{path}", json=body, headers=headers
            )
    except httpx.HTTPError as e:
        raise FaultError(f"the router at {spec.router} did not answer: {type(e).__name__}: {e}") from None


def prepare(spec: BaseModel, target: Target, token: str) -> Info:
    return {"id": f"livesite-{token}"}


async def inject(spec: BaseModel, target: Target, ttl: float, info: Info) -> None:
    assert isinstance(spec, HttpFault)
    fault_id = str(info["id"])
    body = {
        "id": fault_id,
        "action": spec.action,
        "status": spec.status,
        "delay_ms": spec.delay_ms,
        "share": spec.share,
        "match": spec.match,
        "ttl_seconds": ttl,
    }
    reply = await _call(spec, "POST", "/-/faults", body)
    if reply.status_code >= 300:
        raise FaultError(
            f"router {spec.router}: the fault was refused ({reply.status_code}): {reply.text[:200]}"
        )


async def revert(spec: BaseModel, target: Target, info: Info) -> None:
    assert isinstance(spec, HttpFault)
    reply = await _call(spec, "DELETE", f"/-/faults/{info.get('id')}")
    if reply.status_code in (401, 403) and not spec.token:
        # Rebuilt from its lease, which keeps no secret: the router itself ends the fault at its TTL.
        log.warning("router %s: fault %s ends at its TTL (no admin token here)", spec.router, info.get("id"))
        return
    if reply.status_code >= 300 and reply.status_code != 404:
        raise FaultError(f"router {spec.router}: the revert answered {reply.status_code}: {reply.text[:200]}")


KIND = FaultKind(resolve=resolve, inject=inject, revert=revert, prepare=prepare)
