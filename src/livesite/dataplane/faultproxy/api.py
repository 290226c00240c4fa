"""The Toxiproxy REST API, route for route: same paths, methods, JSON and status codes, so that
Toxiproxy's clients drive the fault proxy unchanged. Errors are ``{"error": ..., "status": ...}``.

Like Toxiproxy, it refuses browsers (a ``Mozilla/`` User-Agent gets 403): a page open on the
operator's machine must not be able to add toxics by posting to 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from livesite.dataplane.faultproxy import wire
from livesite.dataplane.faultproxy.errors import ApiError
from livesite.dataplane.faultproxy.service import FaultProxy

Handler = Callable[[Request], Awaitable[Response]]


def _version() -> str:
    try:
        return f"livesite-{dist_version('livesite')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
        return "livesite"


async def _body(request: Request) -> object:
    """The request's JSON, read no further than ``MAX_BODY_BYTES``."""
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > wire.MAX_BODY_BYTES:
            raise ApiError(f"bad request body: larger than {wire.MAX_BODY_BYTES} bytes", 413)
        parts.append(part)
    return wire.parse_json(b"".join(parts))


def _error(e: ApiError) -> Response:
    return JSONResponse(e.body(), status_code=e.status)


def create_app(service: FaultProxy) -> Starlette:
    """The API over ``service``; nothing global, so tests and the CLI each build their own."""

    def guarded(handler: Handler) -> Handler:
        async def answer(request: Request) -> Response:
            if request.headers.get("user-agent", "").startswith("Mozilla/"):
                return PlainTextResponse("User agent not allowed\n", status_code=403)
            try:
                return await handler(request)
            except ApiError as e:
                return _error(e)

        return answer

    def name(request: Request, key: str = "proxy") -> str:
        return str(request.path_params[key])

    async def proxy_index(request: Request) -> Response:
        now = service.now()
        return JSONResponse({n: wire.proxy_json(p, now) for n, p in service.proxies.items()})

    async def proxy_create(request: Request) -> Response:
        proxy = await service.create(await _body(request))
        return JSONResponse(wire.proxy_json(proxy, service.now()), status_code=201)

    async def populate(request: Request) -> Response:
        done, error = await service.populate(await _body(request))
        now = service.now()
        body: dict[str, object] = {"proxies": [wire.proxy_json(p, now) for p in done]}
        if error is not None:
            return JSONResponse(error.body() | body, status_code=error.status)
        return JSONResponse(body, status_code=201)

    async def reset(request: Request) -> Response:
        await service.reset()
        return Response(status_code=204)

    async def proxy_show(request: Request) -> Response:
        return JSONResponse(wire.proxy_json(service.get(name(request)), service.now()))

    async def proxy_update(request: Request) -> Response:
        proxy = await service.update(name(request), await _body(request))
        return JSONResponse(wire.proxy_json(proxy, service.now()))

    async def proxy_delete(request: Request) -> Response:
        await service.delete(name(request))
        return Response(status_code=204)

    async def toxic_index(request: Request) -> Response:
        proxy, now = service.get(name(request)), service.now()
        return JSONResponse([wire.toxic_json(t, now) for t in proxy.toxic_list()])

    async def toxic_create(request: Request) -> Response:
        service.get(name(request))  # an unknown proxy is a 404 before the body is judged
        entry = await service.add_toxic(name(request), await _body(request))
        return JSONResponse(wire.toxic_json(entry, service.now()))

    async def toxic_show(request: Request) -> Response:
        entry = service.toxic(name(request), name(request, "toxic"))
        return JSONResponse(wire.toxic_json(entry, service.now()))

    async def toxic_update(request: Request) -> Response:
        service.toxic(name(request), name(request, "toxic"))
        entry = await service.update_toxic(name(request), name(request, "toxic"), await _body(request))
        return JSONResponse(wire.toxic_json(entry, service.now()))

    async def toxic_delete(request: Request) -> Response:
        await service.remove_toxic(name(request), name(request, "toxic"))
        return Response(status_code=204)

    async def version(request: Request) -> Response:
        return Response(f'{{"version": "{_version()}"}}\n', media_type="application/json;charset=utf-8")

    routes = [
        Route("/reset", guarded(reset), methods=["POST"]),
        Route("/proxies", guarded(proxy_index), methods=["GET"]),
        Route("/proxies", guarded(proxy_create), methods=["POST"]),
        Route("/populate", guarded(populate), methods=["POST"]),
        Route("/proxies/{proxy}", guarded(proxy_show), methods=["GET"]),
        Route("/proxies/{proxy}", guarded(proxy_update), methods=["POST", "PATCH"]),
        Route("/proxies/{proxy}", guarded(proxy_delete), methods=["DELETE"]),
        Route("/proxies/{proxy}/toxics", guarded(toxic_index), methods=["GET"]),
        Route("/proxies/{proxy}/toxics", guarded(toxic_create), methods=["POST"]),
        Route("/proxies/{proxy}/toxics/{toxic}", guarded(toxic_show), methods=["GET"]),
        Route("/proxies/{proxy}/toxics/{toxic}", guarded(toxic_update), methods=["POST", "PATCH"]),
        Route("/proxies/{proxy}/toxics/{toxic}", guarded(toxic_delete), methods=["DELETE"]),
        Route("/version", guarded(version), methods=["GET"]),
    ]
    return Starlette(routes=routes)
