"""HTTP helpers shared by the demo's servers: one error shape and a header-stamping middleware."""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def error(
    status: int, message: str, hint: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one error shape of the demo: `{"error": ..., "status": ..., "hint": ...}`."""
    return JSONResponse(
        {"error": message, "status": status, "hint": hint}, status_code=status, headers=headers
    )


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
