"""Script journeys the tests name as ``script: journey_scripts:<function>``."""

from __future__ import annotations

import json

from livesite.checks.journey import JourneySession


async def login_then_me(s: JourneySession) -> None:
    login = await s.request("login", "GET", "/login", assertions=["status == 200"])
    token = json.loads(login.body)["token"]
    s.secret(token)
    me = await s.request("me", "GET", "/echo", headers=[("Authorization", f"Bearer {token}")])
    if s.user.encode() not in me.body:
        s.fail("me", "the server did not see who we are")


async def fails_for_a_business_reason(s: JourneySession) -> None:
    await s.request("login", "GET", "/login")
    s.fail("basket", "the basket is empty after adding an item")


not_async = "a string"
