"""The partner: a third party whose payments API and widget the shop depends on.

Its behaviour is switched at run time with `PUT /-/mode`:
    {"mode": "ok"}                      normal
    {"mode": "slow", "delay_ms": 800}   every answer waits delay_ms first
    {"mode": "error"}                   every answer is HTTP 500
    {"mode": "down"}                    every answer is HTTP 503 with Retry-After (connections stay open, so
                                        a client sees a clean "service unavailable", not a hang)
The mode covers everything except the control paths under `/-/`, which need the demo's admin token. It also takes feedback reports from us:
`POST /feedback` stores a JSON object, `GET /feedback` lists them. `GET /-/referrals` lists referral visits.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from livesite.demo.responses import admin_only, error
from livesite.demo.serve import serve
from livesite.demo.settings import PartnerMode, PartnerSettings, load

Handler = Callable[[Request], Awaitable[Response]]

WIDGET_JS = """/* livesite demo partner widget */
(function () {
  var el = document.getElementById("partner-widget");
  if (el) { el.textContent = "Pay in 3 with Partner"; el.setAttribute("data-partner", "ready"); }
  window.livesitePartner = { ready: true };
})();
"""


class ModeChange(BaseModel):
    mode: PartnerMode
    delay_ms: int = Field(default=0, ge=0, le=60_000)


class Payment(BaseModel):
    amount_cents: int = Field(ge=0)
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    reference: str = ""


class Partner:
    def __init__(self, settings: PartnerSettings) -> None:
        self.settings = settings
        self.mode = ModeChange(mode=settings.mode, delay_ms=settings.delay_ms)
        self.payments: dict[str, dict[str, Any]] = {}
        self.feedback: list[dict[str, Any]] = []
        self.referrals: list[dict[str, str]] = []
        self.ids = itertools.count(1)

    def moded(self, handler: Handler) -> Handler:
        """Wrap a public handler so that the current mode applies to it."""

        async def wrapped(request: Request) -> Response:
            mode = self.mode
            if mode.mode == "down":
                return error(503, "partner is down", "wait for the partner to recover", {"Retry-After": "30"})
            if mode.mode == "error":
                return error(500, "partner internal error")
            if mode.mode == "slow" and mode.delay_ms:
                await asyncio.sleep(mode.delay_ms / 1000)
            return await handler(request)

        return wrapped

    async def set_mode(self, request: Request) -> Response:
        if request.method == "PUT":
            try:
                self.mode = ModeChange.model_validate_json(await request.body())
            except ValidationError as exc:
                return error(
                    400,
                    f"invalid mode: {exc.errors()[0]['msg']}",
                    'send {"mode": "ok" | "slow" | "error" | "down", "delay_ms": 800}',
                )
        return JSONResponse(self.mode.model_dump())

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "partner": self.settings.name, "mode": self.mode.mode})

    async def landing(self, request: Request) -> Response:
        if request.query_params:
            self.referrals.append(dict(request.query_params))
        ref = request.query_params.get("ref", "direct")
        return HTMLResponse(
            f"<!doctype html><title>Partner</title><h1>Partner payments</h1><p>Hello, {ref}.</p>".replace(
                ref, ref.replace("<", "&lt;")
            )
        )

    async def referrals_view(self, request: Request) -> Response:
        return JSONResponse(self.referrals)

    async def widget(self, request: Request) -> Response:
        return Response(
            WIDGET_JS, media_type="application/javascript", headers={"Cache-Control": "public, max-age=60"}
        )

    async def pay(self, request: Request) -> Response:
        try:
            payment = Payment.model_validate_json(await request.body())
        except ValidationError as exc:
            return error(400, f"invalid payment: {exc.errors()[0]['msg']}")
        payment_id = f"pay_{next(self.ids):06d}"
        record = {"payment_id": payment_id, "status": "approved", **payment.model_dump(), "at": time.time()}
        self.payments[payment_id] = record
        return JSONResponse(record, status_code=201)

    async def payment(self, request: Request) -> Response:
        record = self.payments.get(request.path_params["payment_id"])
        return JSONResponse(record) if record else error(404, "no such payment")

    async def feedback_view(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                report = await request.json()
            except ValueError:
                report = None
            if not isinstance(report, dict):
                return error(400, "feedback must be a JSON object", 'send {"summary": "...", "details": ...}')
            stored = {"id": next(self.ids), "received_at": time.time(), "report": report}
            self.feedback.append(stored)
            return JSONResponse(stored, status_code=201)
        return JSONResponse(self.feedback)


def create_app(settings: PartnerSettings) -> Starlette:
    """The partner described by `settings`, as an ASGI app."""
    p = Partner(settings)
    return Starlette(
        routes=[
            Route("/-/mode", admin_only(settings.admin_token, p.set_mode), methods=["GET", "PUT"]),
            Route("/-/referrals", admin_only(settings.admin_token, p.referrals_view)),
            Route("/health", p.moded(p.health)),
            Route("/", p.moded(p.landing)),
            Route("/widget.js", p.moded(p.widget)),
            Route("/api/payments", p.moded(p.pay), methods=["POST"]),
            Route("/api/payments/{payment_id}", p.moded(p.payment)),
            Route("/feedback", p.moded(p.feedback_view), methods=["GET", "POST"]),
        ]
    )


def main() -> None:
    settings, fd = load(PartnerSettings)
    serve(create_app(settings), fd)


if __name__ == "__main__":
    main()
