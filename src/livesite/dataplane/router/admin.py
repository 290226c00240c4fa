"""The admin API, served under ``/-/`` on the router's own listener and never forwarded.

Every path but ``/-/health`` needs ``Authorization: Bearer <token>`` when the router has a token
(401 without one, 403 with a wrong one). Errors are ``{"error": "..."}`` with a 4xx status. Routes::

    GET    /-/health            {"status": "ok"}
    GET    /-/weights           {"stable": 90, "canary": 10}
    PUT    /-/weights           some or all weights; answers all of them after applying
    GET    /-/routes            {"routes": [...], "sticky": {"header": H} | {"cookie": C} | null}
    PUT    /-/routes            "routes" and/or "sticky" (a key left out is left as it is)
    GET    /-/backends          {"backends": [{name, url, weight, healthy, draining, in_flight}], "generation": N}
    GET    /-/stats             {"since": T, "weights": {...}, "generation": N, "backends": {name: {...}}}
    DELETE /-/stats             resets the counters, answers the (empty) stats
    GET    /-/faults            {"faults": [...]}
    POST   /-/faults            adds a fault (with a TTL), answers it with its id and expiry
    DELETE /-/faults/{id}       removes one fault; DELETE /-/faults removes all
"""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from livesite.dataplane.router.faults import FaultSpec
from livesite.dataplane.router.http import error_body
from livesite.dataplane.router.settings import Route, Sticky

if TYPE_CHECKING:
    from livesite.dataplane.router.client import ClientConnection, Request
    from livesite.dataplane.router.core import Router

_WEIGHTS = TypeAdapter(dict[str, int])


class RoutesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routes: list[Route] | None = None
    sticky: Sticky | None = None


class AdminError(Exception):
    def __init__(self, status: int, message: str, *, auth: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.auth = auth  # a WWW-Authenticate error code ("" for none) when the token is at fault


def handle(router: Router, client: ClientConnection, request: Request) -> None:
    path = request.path.split(b"?", 1)[0].decode("latin-1")
    method = request.method.decode("latin-1")
    status: int
    doc: object
    try:
        if path == "/-/health":
            _only(method, "GET", "HEAD")
            status, doc = 200, {"status": "ok", **router.settings.labels}
        else:
            _authorize(router, request)
            status, doc = _dispatch(router, method, path, b"".join(request.body))
    except AdminError as exc:
        settings = router.settings
        headers = None
        more: dict[str, object] = {"status": exc.status}
        if exc.auth is not None:
            challenge = f'Bearer realm="{settings.admin_realm}"' + (
                f', error="{exc.auth}"' if exc.auth else ""
            )
            headers = [(b"WWW-Authenticate", challenge.encode())]
            if settings.admin_hint:
                more["hint"] = settings.admin_hint
        client.send_own(exc.status, error_body(exc.message, **more), headers=headers)
        return
    client.send_own(status, json.dumps(doc).encode())


def _authorize(router: Router, request: Request) -> None:
    token = router.admin_token
    if token is None:
        return
    given = None
    for name, value in request.headers:
        if name.lower() == b"authorization":
            given = value
    scheme, _, given_token = (given or b"").partition(b" ")
    if scheme.lower() != b"bearer" or not given_token.strip():
        raise AdminError(401, "this admin API needs Authorization: Bearer <token> (the admin token)", auth="")
    if not hmac.compare_digest(given_token.strip(), token):  # no timing hint about the token
        raise AdminError(403, "wrong admin token", auth="invalid_token")


def _only(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise AdminError(405, f"{method} is not allowed here; use {' or '.join(allowed)}")


def _dispatch(router: Router, method: str, path: str, body: bytes) -> tuple[int, object]:
    if path == "/-/weights":
        _only(method, "GET", "PUT")
        if method == "PUT":
            try:
                asked = _WEIGHTS.validate_json(body)
            except ValidationError as exc:
                raise AdminError(
                    400, f"weights must map backend names to whole numbers: {_first(exc)}"
                ) from None
            try:
                router.set_weights(asked)
            except ValueError as exc:
                raise AdminError(400, str(exc)) from None
        return 200, router.weights()
    if path == "/-/routes":
        _only(method, "GET", "PUT")
        if method == "PUT":
            try:
                asked_routes = RoutesBody.model_validate_json(body)
            except ValidationError as exc:
                raise AdminError(400, f"routes: {_first(exc)}") from None
            routes = None if asked_routes.routes is None else tuple(asked_routes.routes)
            try:
                router.set_routes(routes, asked_routes.sticky, "sticky" in asked_routes.model_fields_set)
            except ValueError as exc:
                raise AdminError(400, str(exc)) from None
        return 200, _routes(router)
    if path == "/-/backends":
        _only(method, "GET")
        return 200, {
            "backends": [
                {
                    "name": b.name,
                    "url": b.spec.url,
                    "weight": b.weight,
                    "healthy": b.healthy,
                    "draining": b.weight == 0 and b.in_flight > 0,
                    "in_flight": b.in_flight,
                }
                for b in router.backends.values()
            ],
            "generation": router.generation,
        }
    if path == "/-/stats":
        _only(method, "GET", "DELETE")
        if method == "DELETE":
            router.reset_stats()
        return 200, {
            **router.settings.labels,
            "since": round(router.since, 3),
            "generation": router.generation,
            "weights": router.weights(),
            "backends": {name: b.stats.view().model_dump() for name, b in router.backends.items()},
        }
    if path == "/-/faults":
        _only(method, "GET", "POST", "DELETE")
        if method == "POST":
            try:
                spec = FaultSpec.model_validate_json(body)
            except ValidationError as exc:
                raise AdminError(400, f"fault: {_first(exc)}") from None
            if spec.match.backend is not None and spec.match.backend not in router.backends:
                raise AdminError(400, f"fault: unknown backend {spec.match.backend!r}")
            fault = router.faults.add(spec)
            router.generation += 1
            return 201, fault.view().model_dump()
        if method == "DELETE":
            removed = router.faults.clear()
            router.generation += 1
            return 200, {"removed": removed}
        return 200, {"faults": [f.model_dump() for f in router.faults.views()]}
    if path.startswith("/-/faults/"):
        _only(method, "DELETE")
        fault_id = path.removeprefix("/-/faults/")
        if not router.faults.remove(fault_id):
            raise AdminError(404, f"no fault {fault_id!r} (it may have expired)")
        router.generation += 1
        return 200, {"removed": 1, "id": fault_id}
    raise AdminError(404, f"no such admin path: {path}")


def _routes(router: Router) -> dict[str, object]:
    return {
        "routes": [r.model_dump(exclude_none=True) for r in router.routes],
        "sticky": None if router.sticky is None else router.sticky.model_dump(exclude_none=True),
    }


def _first(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])
