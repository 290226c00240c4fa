"""Network faults on a Toxiproxy-compatible API (``livesite chaos proxy``, or Toxiproxy itself).

A toxic is created with our ``ttl`` (seconds) so that livesite's proxy removes it by itself even if
the runner dies; Toxiproxy ignores the field, and ``recover`` removes its toxics instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from pydantic import BaseModel

from livesite.chaos.faults.base import FaultError, FaultKind, Info, Target
from livesite.chaos.spec import ProxyFault


async def resolve(spec: BaseModel) -> Sequence[Target]:
    assert isinstance(spec, ProxyFault)
    what = "down" if spec.down else f"{spec.toxic.type} {spec.toxic.attributes}" if spec.toxic else ""
    return [
        Target(
            resource=f"proxy:{spec.api.rstrip('/')}/{spec.proxy}",
            description=f"proxy {spec.proxy} at {spec.api}: {what}",
        )
    ]


async def _call(method: str, url: str, body: object = None) -> httpx.Response:
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            return await client.request(method, url, json=body)
    except httpx.HTTPError as e:
        raise FaultError(f"the proxy API at {url} did not answer: {type(e).__name__}: {e}") from None


def prepare(spec: BaseModel, target: Target, token: str) -> Info:
    assert isinstance(spec, ProxyFault)
    return {"down": True} if spec.down else {"toxic": f"livesite-{token}"}


async def inject(spec: BaseModel, target: Target, ttl: float, info: Info) -> None:
    assert isinstance(spec, ProxyFault)
    base = f"{spec.api.rstrip('/')}/proxies/{spec.proxy}"
    if spec.down:
        reply = await _call("POST", base, {"enabled": False})
        if reply.status_code >= 300:
            raise FaultError(
                f"proxy {spec.proxy}: disabling it answered {reply.status_code}: {reply.text[:200]}"
            )
        return
    assert spec.toxic is not None
    name = str(info["toxic"])
    body = {
        "name": name,
        "type": spec.toxic.type,
        "stream": spec.toxic.stream,
        "toxicity": spec.toxic.toxicity,
        "attributes": spec.toxic.attributes,
        "ttl": ttl,
    }
    reply = await _call("POST", f"{base}/toxics", body)
    if reply.status_code >= 300:
        raise FaultError(
            f"proxy {spec.proxy}: adding the toxic answered {reply.status_code}: {reply.text[:200]}"
        )


async def revert(spec: BaseModel, target: Target, info: Info) -> None:
    assert isinstance(spec, ProxyFault)
    base = f"{spec.api.rstrip('/')}/proxies/{spec.proxy}"
    if info.get("down"):
        reply = await _call("POST", base, {"enabled": True})
    else:
        reply = await _call("DELETE", f"{base}/toxics/{info.get('toxic')}")
    if reply.status_code >= 300 and reply.status_code != 404:  # 404: expired or removed already
        raise FaultError(f"proxy {spec.proxy}: the revert answered {reply.status_code}: {reply.text[:200]}")


KIND = FaultKind(resolve=resolve, inject=inject, revert=revert, prepare=prepare)
