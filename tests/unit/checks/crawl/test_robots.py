"""robots.txt: the rules of the user agent's group, and what an unreadable file means for a link checker."""

from __future__ import annotations

from livesite.checks.crawl.robots import from_answer, parse

ROBOTS = """
# comments are ignored
User-agent: livesite
Disallow: /private/
Allow: /private/open

User-agent: *
Disallow: /
"""


def test_the_group_of_our_user_agent_applies_and_allow_overrides() -> None:
    rules = parse(ROBOTS)
    assert rules.allowed("http://shop.test/products", "livesite/0.1")
    assert not rules.allowed("http://shop.test/private/x", "livesite/0.1")
    assert rules.allowed("http://shop.test/private/open", "livesite/0.1")
    assert not rules.allowed("http://shop.test/products", "somebot")


def test_an_answer_that_is_not_2xx_means_no_rules() -> None:
    for status in (0, 404, 500, 503):
        assert from_answer(status, b"User-agent: *\nDisallow: /").allowed("http://shop.test/x", "livesite")
    assert not from_answer(200, b"User-agent: *\nDisallow: /").allowed("http://shop.test/x", "livesite")


def test_garbage_is_no_rules_rather_than_an_error() -> None:
    rules = from_answer(200, b"\xff\xfe\x00<html>not robots</html>\nDisallow /nocolon")
    assert rules.allowed("http://shop.test/anything", "livesite")


def test_wildcards_and_end_anchors_match_as_rfc_9309_says() -> None:
    rules = parse("User-agent: *\nDisallow: /*.pdf$\nDisallow: /tmp*/x\nAllow: /tmp1/x")
    assert not rules.allowed("http://shop.test/docs/a.pdf", "livesite")
    assert rules.allowed("http://shop.test/docs/a.pdf?download=1", "livesite")
    assert not rules.allowed("http://shop.test/tmp2/x", "livesite")
    assert rules.allowed("http://shop.test/tmp1/x", "livesite")  # a tie: Allow wins


def test_groups_naming_the_same_agent_are_merged_and_robots_txt_itself_is_always_allowed() -> None:
    rules = parse(
        "User-agent: LiveSite\nDisallow: /a\n\nUser-agent: other\nUser-agent: livesite\nDisallow: /b\n"
    )
    assert not rules.allowed("http://shop.test/a", "livesite/0.1")
    assert not rules.allowed("http://shop.test/b", "livesite/0.1")
    assert parse("User-agent: *\nDisallow: /").allowed("http://shop.test/robots.txt", "x")


def test_a_hostile_pattern_full_of_stars_is_matched_in_polynomial_time() -> None:
    rules = parse("User-agent: *\nDisallow: /" + "*a" * 200 + "b$")
    assert rules.allowed("http://shop.test/" + "a" * 2000, "livesite")
