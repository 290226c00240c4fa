"""Forwarding one HTTP request upstream, shared by the edge cache and the front."""

from __future__ import annotations

import httpx
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

# hop-by-hop headers (RFC 9110 §7.6.1) plus those the forwarding itself recomputes
_DROP_REQUEST = {
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "accept-encoding",
}
_DROP_RESPONSE = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
    "date",
    "server",
}


class Upstream(BaseModel):
    """A complete upstream response, small enough to hold (and cache) in memory."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def to_response(self, extra: dict[str, str]) -> Response:
        response = Response(self.body, status_code=self.status)
        for key, value in self.headers:
            response.headers.append(key, value)
        for key, value in extra.items():
            response.headers[key] = value
        return response


async def forward(client: httpx.AsyncClient, base_url: str, request: Request, body: bytes) -> Upstream:
    """Send `request` (whose body was already read) to `base_url`; transport errors propagate."""
    headers = [(k, v) for k, v in request.headers.items() if k not in _DROP_REQUEST]
    client_host = request.client.host if request.client else "127.0.0.1"
    headers.append(("x-forwarded-for", client_host))
    url = base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    reply = await client.request(request.method, url, content=body, headers=headers)
    kept = [(k.lower(), v) for k, v in reply.headers.multi_items() if k.lower() not in _DROP_RESPONSE]
    return Upstream(status=reply.status_code, headers=kept, body=reply.content)
