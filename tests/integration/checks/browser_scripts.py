"""``script:`` steps the browser tests name (importable: pytest puts this folder on sys.path)."""

from __future__ import annotations

from collections.abc import Mapping

from playwright.async_api import Page


async def title_names_the_shop(page: Page, variables: Mapping[str, str]) -> None:
    title = await page.title()
    assert "livesite shop" in title, f"the title is {title!r}"
    # The run's variables are given too; writing into them changes nothing for later steps.
    assert len(variables["run.nonce"]) == 16


async def cart_is_empty(page: Page, variables: Mapping[str, str]) -> None:
    shown = await page.inner_text("#cart-status")
    assert shown == "", f"the cart says {shown!r}"
