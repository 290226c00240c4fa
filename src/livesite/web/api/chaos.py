"""``POST /api/chaos/halt``: the kill switch over HTTP, for a chat bot or a big red button.

Off unless ``monitor.halt_token`` is set; then it answers only to ``Authorization: Bearer <token>``
(compared in constant time). It does what ``livesite chaos halt`` does: every running experiment
stops at its next look, and every active fault is reverted before the answer.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from livesite.chaos.leases import FaultBook


class Halted(BaseModel):
    reverted: int
    errors: list[str]


def router(book: FaultBook | None, token: str | None) -> APIRouter:
    api = APIRouter(prefix="/api/chaos")

    @api.post("/halt", response_model=Halted, responses={401: {}, 403: {}, 404: {}})
    async def halt(authorization: Annotated[str | None, Header()] = None) -> Halted | JSONResponse:
        if book is None or token is None:
            return _error(
                404, "the kill switch is off here", "set monitor.halt_token (and a store) to enable it"
            )
        if authorization is None or not authorization.startswith("Bearer "):
            return _error(401, "the kill switch needs Authorization: Bearer <halt token>", None)
        if not hmac.compare_digest(authorization.removeprefix("Bearer ").encode(), token.encode()):
            return _error(403, "wrong halt token", None)
        reverted, errors = await book.halt()
        return Halted(reverted=len(reverted), errors=errors)

    return api


def _error(status: int, error: str, hint: str | None) -> JSONResponse:
    return JSONResponse({"error": error, "status": status, "hint": hint}, status_code=status)
