"""HTTP helpers shared by the demo's servers: one error shape, the admin-token guard and a header-stamping
middleware."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]
ADMIN_REALM = "livesite-demo-admin"


def error(
    status: int, message: str, hint: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one error shape of the demo: `{"error": ..., "status": ..., "hint": ...}`."""
    return JSONResponse(
        {"error": message, "status": status, "hint": hint}, status_code=status, headers=headers
    )


def admin_only(token: str, handler: Handler) -> Handler:
    """Wrap an admin endpoint: it answers only to ``Authorization: Bearer <token>``.

    A missing token is a 401, a wrong one a 403, both in the one error shape. The demo's admin token is made
    at `livesite demo up` (see `livesite demo env`), so nothing else on the machine can change the demo.
    """
    if not token:  # an empty token would let "Bearer " through
        raise ValueError("the demo's admin token is empty")
    expected = token.encode()

    async def guarded(request: Request) -> Response:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return error(
                401,
                "this admin endpoint needs the demo's admin token",
                "send Authorization: Bearer $LIVESITE_DEMO_ADMIN_TOKEN (see `livesite demo env`)",
                {"WWW-Authenticate": f'Bearer realm="{ADMIN_REALM}"'},
            )
        if not hmac.compare_digest(given.strip().encode(), expected):  # no timing hint about the token
            return error(
                403,
                "wrong admin token",
                "use LIVESITE_DEMO_ADMIN_TOKEN of this demo (see `livesite demo env`)",
                {"WWW-Authenticate": f'Bearer realm="{ADMIN_REALM}", error="invalid_token"'},
            )
        return await handler(request)

    return guarded


def admin_headers(token: str) -> dict[str, str]:
    """What a client of the demo's admin endpoints sends."""
    return {"Authorization": f"Bearer {token}"}


class Stamp:
    """ASGI middleware: fixed headers on every response, optionally after a delay (`/health` is never delayed)."""

    def __init__(self, app: ASGIApp, headers: dict[str, str], delay_ms: int = 0) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.delay_seconds = delay_ms / 1000

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.delay_seconds and scope["path"] != "/health":
            await asyncio.sleep(self.delay_seconds)

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, stamped)
