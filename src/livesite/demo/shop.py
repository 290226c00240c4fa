"""The shop: pages, catalog, accounts with expiring tokens, cart and checkout through the partner.

One process is one instance of one revision in one zone. All instances share one SQLite file, so any instance
serves any user. Seeded defects (see `livesite.demo.defects`) change behaviour in ways a plain request observes.
"""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import httpx
from pydantic import BaseModel, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from livesite.demo import pages
from livesite.demo.db import Session, ShopDb
from livesite.demo.defects import parse_defects
from livesite.demo.responses import Stamp, admin_headers, admin_only, error
from livesite.demo.serve import serve
from livesite.demo.settings import ShopSettings, load

CATALOG_PATHS = ("/", "/products", "/api/products")


class Credentials(BaseModel):
    email: str = Field(min_length=3, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=6, max_length=200)


class RefreshRequest(BaseModel):
    refresh_token: str


class CartAdd(BaseModel):
    product_id: int
    quantity: int = Field(default=1, ge=1, le=100)


class PriceChange(BaseModel):
    price_cents: int = Field(ge=0, le=10_000_000)


class PurgeRequest(BaseModel):
    paths: list[str] = []


class Shop:
    """The request handlers of one shop instance."""

    def __init__(self, settings: ShopSettings) -> None:
        self.settings = settings
        self.defects = parse_defects(settings.defects)
        self.db = ShopDb(settings.db_path)
        self.rng = random.Random(settings.seed ^ zlib.crc32(settings.name.encode()))
        self.http: httpx.AsyncClient | None = None
        self.ctx = pages.PageContext(
            partner_url=settings.partner_url,
            revision=settings.revision,
            instance=settings.name,
            zone=settings.zone or "",
            broken_link=self.defects.broken_link,
            missing_anchor=self.defects.missing_anchor,
        )
        self.started_at = time.time()

    # -- helpers -----------------------------------------------------------------------------------------
    def _cacheable(self, response: Response) -> Response:
        response.headers["Cache-Control"] = f"public, max-age={self.settings.cache_max_age_seconds}"
        return response

    @staticmethod
    def _private(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        return response

    async def _body(self, request: Request, model: type[BaseModel]) -> Any:
        try:
            return model.model_validate_json(await request.body())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            return error(400, f"invalid request body: {where}: {first['msg']}")

    async def _session(self, request: Request) -> Session | JSONResponse:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return error(
                401, "missing bearer token", "log in at POST /api/login", {"WWW-Authenticate": "Bearer"}
            )
        session = await asyncio.to_thread(self.db.session, token)
        if session is None:
            return error(
                401, "unknown token", "log in again", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        if time.time() >= session.expires_at and not self.defects.token_no_expiry:
            return error(
                401,
                "token expired",
                "refresh at POST /api/refresh",
                {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'},
            )
        return session

    def _token_body(self, session: Session) -> dict[str, Any]:
        return {
            "token": session.token,
            "token_type": "bearer",
            "refresh_token": session.refresh_token,
            "expires_at": session.expires_at,
            "expires_in": self.settings.token_ttl_seconds,
        }

    # -- operations --------------------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        products = await asyncio.to_thread(self.db.products)
        return self._private(
            JSONResponse(
                {
                    "status": "ok",
                    "instance": self.settings.name,
                    "zone": self.settings.zone,
                    "revision": self.settings.revision,
                    "products": len(products),
                }
            )
        )

    async def version(self, request: Request) -> Response:
        return self._private(
            JSONResponse(
                {
                    "revision": self.settings.revision,
                    "instance": self.settings.name,
                    "zone": self.settings.zone,
                    "started_at": self.started_at,
                }
            )
        )

    async def home(self, request: Request) -> Response:
        products = await asyncio.to_thread(self.db.products)
        return self._cacheable(HTMLResponse(pages.home(self.ctx, products[:3])))

    async def catalog_page(self, request: Request) -> Response:
        products = await asyncio.to_thread(self.db.products)
        return self._cacheable(HTMLResponse(pages.catalog(self.ctx, products)))

    async def product_page(self, request: Request) -> Response:
        item = await asyncio.to_thread(self.db.product, request.path_params["product_id"])
        if item is None:
            return await self.not_found(request)
        return self._cacheable(HTMLResponse(pages.product(self.ctx, item)))

    async def about(self, request: Request) -> Response:
        return self._cacheable(HTMLResponse(pages.about(self.ctx)))

    async def login_page(self, request: Request) -> Response:
        return self._cacheable(HTMLResponse(pages.login(self.ctx)))

    async def cart_page(self, request: Request) -> Response:
        return self._private(HTMLResponse(pages.cart(self.ctx)))

    async def stylesheet(self, request: Request) -> Response:
        css = resources.files("livesite.demo").joinpath("static/shop.css").read_text()
        return self._cacheable(Response(css, media_type="text/css"))

    async def not_found(self, request: Request) -> Response:
        if request.url.path.startswith("/api/"):
            return error(404, f"no such resource: {request.url.path}")
        return HTMLResponse(pages.not_found(self.ctx, request.url.path), status_code=404)

    async def products(self, request: Request) -> Response:
        products = await asyncio.to_thread(self.db.products)
        return self._cacheable(JSONResponse([p.model_dump() for p in products]))

    async def product(self, request: Request) -> Response:
        item = await asyncio.to_thread(self.db.product, request.path_params["product_id"])
        if item is None:
            return error(404, f"no product {request.path_params['product_id']}", "see GET /api/products")
        return self._cacheable(JSONResponse(item.model_dump()))

    async def register(self, request: Request) -> Response:
        body = await self._body(request, Credentials)
        if isinstance(body, Response):
            return body
        user_id = await asyncio.to_thread(self.db.register, body.email, body.password, time.time())
        if user_id is None:
            return error(409, f"{body.email} is already registered", "log in at POST /api/login")
        return self._private(JSONResponse({"user_id": user_id, "email": body.email}, status_code=201))

    async def login(self, request: Request) -> Response:
        body = await self._body(request, Credentials)
        if isinstance(body, Response):
            return body
        user_id = await asyncio.to_thread(self.db.check_password, body.email, body.password)
        if user_id is None:
            return error(401, "wrong email or password")
        session = await asyncio.to_thread(
            self.db.open_session,
            user_id,
            time.time(),
            self.settings.token_ttl_seconds,
            self.settings.refresh_ttl_seconds,
        )
        return self._private(JSONResponse(self._token_body(session)))

    async def refresh(self, request: Request) -> Response:
        body = await self._body(request, RefreshRequest)
        if isinstance(body, Response):
            return body
        session = await asyncio.to_thread(
            self.db.refresh,
            body.refresh_token,
            time.time(),
            self.settings.token_ttl_seconds,
            self.settings.refresh_ttl_seconds,
        )
        if session is None:
            return error(401, "unknown or expired refresh token", "log in again at POST /api/login")
        return self._private(JSONResponse(self._token_body(session)))

    async def logout(self, request: Request) -> Response:
        session = await self._session(request)
        if isinstance(session, Response):
            return session
        await asyncio.to_thread(self.db.close_session, session.token)
        return self._private(Response(status_code=204))

    async def me(self, request: Request) -> Response:
        session = await self._session(request)
        if isinstance(session, Response):
            return session
        email = await asyncio.to_thread(self.db.email, session.user_id)
        return self._private(
            JSONResponse({"user_id": session.user_id, "email": email, "expires_at": session.expires_at})
        )

    async def cart(self, request: Request) -> Response:
        session = await self._session(request)
        if isinstance(session, Response):
            return session
        if request.method == "POST":
            body = await self._body(request, CartAdd)
            if isinstance(body, Response):
                return body
            if await asyncio.to_thread(self.db.product, body.product_id) is None:
                return error(404, f"no product {body.product_id}", "see GET /api/products")
            await asyncio.to_thread(self.db.add_to_cart, session.user_id, body.product_id, body.quantity)
        lines = await asyncio.to_thread(self.db.cart, session.user_id)
        total = sum(line.product.price_cents * line.quantity for line in lines)
        return self._private(
            JSONResponse({"items": [line.model_dump() for line in lines], "total_cents": total})
        )

    async def checkout(self, request: Request) -> Response:
        session = await self._session(request)
        if isinstance(session, Response):
            return session
        lines = await asyncio.to_thread(self.db.cart, session.user_id)
        if not lines:
            return error(400, "the cart is empty", "add items with POST /api/cart")
        if self.rng.random() < self.defects.checkout_error_rate:
            return error(500, "checkout failed")
        total = sum(line.product.price_cents * line.quantity for line in lines)
        assert self.http is not None
        try:
            paid = await self.http.post(
                f"{self.settings.partner_url}/api/payments",
                json={"amount_cents": total, "currency": "EUR", "reference": f"user-{session.user_id}"},
                timeout=3.0,
            )
        except httpx.HTTPError as exc:
            return error(502, f"payment provider unreachable: {type(exc).__name__}", "retry later")
        if paid.status_code != 201:
            return error(502, f"payment provider answered {paid.status_code}", "retry later")
        order = await asyncio.to_thread(
            self.db.place_order,
            session.user_id,
            lines,
            str(paid.json().get("payment_id", "")),
            time.time(),
            self.settings.name,
            self.settings.revision,
        )
        return self._private(JSONResponse(order.model_dump(), status_code=201))

    async def orders(self, request: Request) -> Response:
        session = await self._session(request)
        if isinstance(session, Response):
            return session
        orders = await asyncio.to_thread(self.db.orders, session.user_id)
        return self._private(JSONResponse([o.model_dump() for o in orders]))

    async def _purge(self, paths: list[str]) -> dict[str, str]:
        """Fan a purge out to every zone's edge (the `stale-purge-zone-b` defect skips zone-b)."""
        assert self.http is not None
        outcome: dict[str, str] = {}
        for zone, edge_url in self.settings.edge_purge_urls.items():
            if zone == "zone-b" and self.defects.stale_purge_zone_b:
                outcome[zone] = "skipped"
                continue
            try:
                reply = await self.http.post(
                    f"{edge_url}/-/purge",
                    json={"paths": paths},
                    headers=admin_headers(self.settings.admin_token),
                    timeout=2.0,
                )
                outcome[zone] = f"purged {reply.json().get('purged', 0)}" if reply.is_success else "failed"
            except httpx.HTTPError:
                outcome[zone] = "unreachable"
        return outcome

    async def set_price(self, request: Request) -> Response:
        body = await self._body(request, PriceChange)
        if isinstance(body, Response):
            return body
        product_id = request.path_params["product_id"]
        if not await asyncio.to_thread(self.db.set_price, product_id, body.price_cents):
            return error(404, f"no product {product_id}", "see GET /api/products")
        paths = [*CATALOG_PATHS, f"/products/{product_id}", f"/api/products/{product_id}"]
        item = await asyncio.to_thread(self.db.product, product_id)
        purge = await self._purge(paths)
        return self._private(JSONResponse({"product": item.model_dump() if item else None, "purge": purge}))

    async def purge(self, request: Request) -> Response:
        body = await self._body(request, PurgeRequest)
        if isinstance(body, Response):
            return body
        return self._private(JSONResponse({"purge": await self._purge(body.paths)}))


def create_app(settings: ShopSettings) -> ASGIApp:
    """The shop instance described by `settings`, as an ASGI app."""
    shop = Shop(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as client:
            shop.http = client
            yield

    routes = [
        Route("/health", shop.health),
        Route("/version", shop.version),
        Route("/", shop.home),
        Route("/products", shop.catalog_page),
        Route("/products/{product_id:int}", shop.product_page),
        Route("/about", shop.about),
        Route("/cart", shop.cart_page),
        Route("/login", shop.login_page),
        Route("/static/shop.css", shop.stylesheet),
        Route("/api/products", shop.products),
        Route("/api/products/{product_id:int}", shop.product),
        Route("/api/register", shop.register, methods=["POST"]),
        Route("/api/login", shop.login, methods=["POST"]),
        Route("/api/refresh", shop.refresh, methods=["POST"]),
        Route("/api/logout", shop.logout, methods=["POST"]),
        Route("/api/me", shop.me),
        Route("/api/cart", shop.cart, methods=["GET", "POST"]),
        Route("/api/checkout", shop.checkout, methods=["POST"]),
        Route("/api/orders", shop.orders),
        # Reachable through the public zone URL, like a real shop's admin API: the token guards them.
        Route(
            "/api/admin/products/{product_id:int}",
            admin_only(settings.admin_token, shop.set_price),
            methods=["PUT"],
        ),
        Route("/api/admin/purge", admin_only(settings.admin_token, shop.purge), methods=["POST"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return await shop.not_found(request)

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: not_found})
    stamp = {"X-Version": settings.revision, "X-Zone": settings.zone or "", "X-Instance": settings.name}
    return Stamp(app, stamp, delay_ms=shop.defects.extra_latency_ms)


def main() -> None:
    settings, fd = load(ShopSettings)
    serve(create_app(settings), fd)


if __name__ == "__main__":
    main()
