"""The builtin router's client against the rest of the admin contract: /-/backends, /-/routes, histograms.

The built-in router that serves these is being written now; until it lands, this small Starlette app
serves the agreed JSON shapes (a stand-in only where the real server cannot run yet). The demo's front,
which has the first half of the contract, is tested for real in test_router_conformance.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as Path

from conftest import serve_asgi
from livesite.rollout.routers import BuiltinRouter, BuiltinSettings, Route, RouterError

TOKEN = "contract-token-0123456789"


def contract_app() -> Starlette:
    state: dict[str, object] = {"weights": {"stable": 100, "canary": 0}, "routes": [], "generation": 1}

    def authorised(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def weights(request: Request) -> Response:
        if not authorised(request):
            return JSONResponse({"error": "token"}, 401)
        if request.method == "PUT":
            state["weights"] = {**state["weights"], **(await request.json())}  # type: ignore[dict-item]
            state["generation"] = int(state["generation"]) + 1  # type: ignore[call-overload]
        return JSONResponse(state["weights"])

    async def routes(request: Request) -> Response:
        if not authorised(request):
            return JSONResponse({"error": "token"}, 401)
        if request.method == "PUT":
            state["routes"] = (await request.json())["routes"]
            state["generation"] = int(state["generation"]) + 1  # type: ignore[call-overload]
        return JSONResponse({"routes": state["routes"], "sticky": {"header": "X-Livesite-Synthetic"}})

    async def backends(request: Request) -> Response:
        rows = [
            {
                "name": n,
                "url": f"http://127.0.0.1:{9000 + i}",
                "weight": w,
                "healthy": True,
                "draining": n == "old",
            }
            for i, (n, w) in enumerate(state["weights"].items())  # type: ignore[attr-defined]
        ]
        return JSONResponse({"generation": state["generation"], "backends": rows})

    async def stats(request: Request) -> Response:
        latency = {"buckets": [[0.005, 3], [0.05, 9], ["+Inf", 10]], "count": 10}
        canary = {"requests": 10, "errors": 1, "latency_seconds_sum": 0.31, "status": {"2xx": 9, "5xx": 1}}
        return JSONResponse({"backends": {"canary": {**canary, "latency": latency}}})

    return Starlette(
        routes=[
            Path("/-/health", health),
            Path("/-/weights", weights, methods=["GET", "PUT"]),
            Path("/-/routes", routes, methods=["GET", "PUT"]),
            Path("/-/backends", backends),
            Path("/-/stats", stats),
        ]
    )


@pytest.fixture
async def router() -> AsyncIterator[BuiltinRouter]:
    async with serve_asgi(contract_app()) as (url, _):
        yield BuiltinRouter(BuiltinSettings(url=url, token=TOKEN))


async def test_verify_reads_the_generation_weights_and_routes_the_router_reports(
    router: BuiltinRouter,
) -> None:
    route = Route(header="X-Livesite-Route", value="canary", backend="canary")
    await router.set_weights({"canary": 10})
    await router.set_routes([route])
    state = await router.verify()
    assert state.weights == {"stable": 100, "canary": 10}
    assert state.routes == [route]
    assert state.generation == "3"


async def test_stats_carry_status_classes_and_the_latency_histogram(router: BuiltinRouter) -> None:
    canary = (await router.stats())["canary"]
    assert (canary.requests, canary.errors, canary.status) == (10, 1, {"2xx": 9, "5xx": 1})
    assert canary.latency.count == 10
    assert canary.latency.buckets == [(0.005, 3), (0.05, 9)]
    assert canary.latency.mean_seconds == pytest.approx(0.031)


async def test_a_route_to_a_backend_the_router_lacks_is_refused_before_it_is_sent(
    router: BuiltinRouter,
) -> None:
    with pytest.raises(RouterError) as caught:
        await router.set_routes([Route(header="X-Livesite-Route", value="v", backend="nope")])
    assert caught.value.kind == "rejected"
    assert (await router.verify()).routes == []
