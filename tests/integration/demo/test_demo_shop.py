"""The shop through its public zone URLs: pages, catalog, accounts, cart, checkout, headers, shared state."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from livesite.demo import DemoState

pytestmark = pytest.mark.integration


def _email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.test"


async def _login(client: httpx.AsyncClient, base: str, email: str, password: str = "secret-pw") -> str:
    reply = await client.post(f"{base}/api/login", json={"email": email, "password": password})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["token"])


async def test_every_response_names_its_revision_zone_and_instance(demo: DemoState) -> None:
    async with httpx.AsyncClient() as client:
        for zone in demo.options.zones:
            for path in ("/health", "/version", "/", "/no/such/page", "/api/nope"):
                reply = await client.get(demo.zone_url(zone) + path)
                assert reply.headers["x-version"] == "v1"
                assert reply.headers["x-zone"] == zone
                assert reply.headers["x-instance"].startswith(f"shop-{zone[-1]}")


async def test_health_and_version_are_json(demo: DemoState) -> None:
    async with httpx.AsyncClient() as client:
        health = await client.get(demo.zone_url("zone-b") + "/health")
        version = await client.get(demo.zone_url("zone-b") + "/version")
    assert health.json()["status"] == "ok"
    assert version.json()["revision"] == "v1"
    assert version.json()["zone"] == "zone-b"


async def test_pages_have_internal_links_anchors_and_tracked_referrals(demo: DemoState) -> None:
    async with httpx.AsyncClient() as client:
        page = (await client.get(demo.zone_url("zone-a") + "/products/1")).text
        hrefs = re.findall(r'href="([^"]+)"', page)
        assert 'href="#reviews"' in page and 'id="reviews"' in page
        referral = next(h for h in hrefs if h.startswith(demo.partner_url))
        assert "ref=livesite-shop" in referral and "utm_source=shop" in referral
        assert f'src="{demo.partner_url}/widget.js"' in page
        for href in {h for h in hrefs if h.startswith("/")}:
            reply = await client.get(demo.zone_url("zone-a") + href.split("#")[0])
            assert reply.status_code == 200, href
        landing = await client.get(referral.replace("&amp;", "&"))
        assert landing.status_code == 200


async def test_catalog_is_json_and_html(demo: DemoState) -> None:
    async with httpx.AsyncClient() as client:
        products = (await client.get(demo.zone_url("zone-a") + "/api/products")).json()
        one = await client.get(demo.zone_url("zone-a") + "/api/products/1")
        missing = await client.get(demo.zone_url("zone-a") + "/api/products/999")
        html = await client.get(demo.zone_url("zone-a") + "/products")
    assert len(products) >= 5 and {"id", "name", "price_cents"} <= products[0].keys()
    assert one.json()["id"] == 1 and "public, max-age=" in one.headers["cache-control"]
    assert missing.status_code == 404
    assert html.headers["content-type"].startswith("text/html") and "/products/2" in html.text


async def test_a_user_registered_in_one_zone_shops_and_pays_in_the_other(demo: DemoState) -> None:
    email = _email()
    a, b = demo.zone_url("zone-a"), demo.zone_url("zone-b")
    async with httpx.AsyncClient() as client:
        created = await client.post(f"{a}/api/register", json={"email": email, "password": "secret-pw"})
        assert created.status_code == 201
        again = await client.post(f"{b}/api/register", json={"email": email, "password": "secret-pw"})
        assert again.status_code == 409
        token = await _login(client, b, email)
        auth = {"Authorization": f"Bearer {token}"}
        assert (
            await client.post(f"{a}/api/cart", json={"product_id": 2, "quantity": 2}, headers=auth)
        ).is_success
        cart = (await client.get(f"{b}/api/cart", headers=auth)).json()
        assert cart["items"][0]["quantity"] == 2
        order = await client.post(f"{b}/api/checkout", headers=auth)
        assert order.status_code == 201, order.text
        payment = await client.get(f"{demo.partner_url}/api/payments/{order.json()['payment_id']}")
        assert payment.json()["amount_cents"] == order.json()["total_cents"]
        assert (await client.get(f"{a}/api/orders", headers=auth)).json()[0]["id"] == order.json()["id"]
        empty = await client.post(f"{a}/api/checkout", headers=auth)
        assert empty.status_code == 400


async def test_wrong_password_and_missing_token_are_401(demo: DemoState) -> None:
    email = _email()
    base = demo.zone_url("zone-a")
    async with httpx.AsyncClient() as client:
        await client.post(f"{base}/api/register", json={"email": email, "password": "secret-pw"})
        wrong = await client.post(f"{base}/api/login", json={"email": email, "password": "not-it!"})
        anonymous = await client.get(f"{base}/api/me")
        bad_body = await client.post(f"{base}/api/register", json={"email": "nope"})
    assert wrong.status_code == 401
    assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous.headers
    assert bad_body.status_code == 400 and "email" in bad_body.json()["error"]


async def test_logout_ends_the_session_and_refresh_issues_a_new_token(demo: DemoState) -> None:
    email = _email()
    base = demo.zone_url("zone-b")
    async with httpx.AsyncClient() as client:
        await client.post(f"{base}/api/register", json={"email": email, "password": "secret-pw"})
        login = (
            await client.post(f"{base}/api/login", json={"email": email, "password": "secret-pw"})
        ).json()
        refreshed = await client.post(f"{base}/api/refresh", json={"refresh_token": login["refresh_token"]})
        assert refreshed.status_code == 200
        new = refreshed.json()["token"]
        assert new != login["token"]
        reused = await client.post(f"{base}/api/refresh", json={"refresh_token": login["refresh_token"]})
        assert reused.status_code == 401
        auth = {"Authorization": f"Bearer {new}"}
        assert (await client.get(f"{base}/api/me", headers=auth)).json()["email"] == email
        assert (await client.post(f"{base}/api/logout", headers=auth)).status_code == 204
        assert (await client.get(f"{base}/api/me", headers=auth)).status_code == 401
