"""URL normalisation, link resolution, fragments and scope: one key per resource, nothing else followed."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livesite.checks.crawl.urls import Link, Scope, fragment_names, normalise, origin, resolve, top_of_page


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM", "http://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a?b=1", "https://example.com/a?b=1"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com/a/./b/../c#frag", "http://example.com/a/c"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("  http://example.com/x  ", "http://example.com/x"),
        ("ftp://example.com/", None),
        ("mailto:a@example.com", None),
        ("http://example.com:99999/", None),
        ("http://[::1/", None),
        ("http:///nohost", None),
    ],
)
def test_normalise_gives_one_key_per_resource(url: str, expected: str | None) -> None:
    assert normalise(url) == expected


BASE = "http://shop.test/products/1"


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("/about", Link("http://shop.test/about", None)),
        ("2", Link("http://shop.test/products/2", None)),
        ("../x/./y", Link("http://shop.test/x/y", None)),
        ("#reviews", Link(BASE, "reviews")),
        ("", Link(BASE, None)),
        ("#", Link(BASE, "")),
        ("/products/1#reviews", Link(BASE, "reviews")),
        ("//cdn.test/a.js", Link("http://cdn.test/a.js", None)),
        ("HTTPS://Partner.test/?ref=x#top", Link("https://partner.test/?ref=x", "top")),
        ("mailto:someone@shop.test", None),
        ("javascript:void(0)", None),
        ("tel:+331234", None),
        ("data:text/plain,hi", None),
        ("http://[broken/", None),
        ("/a\tb\n", Link("http://shop.test/ab", None)),
        ("caf\u00e9 menu?q=a b", Link("http://shop.test/products/caf%C3%A9%20menu?q=a%20b", None)),
        ('/x"<y>', Link("http://shop.test/x%22%3Cy%3E", None)),
    ],
)
def test_links_resolve_against_the_page_like_a_browser(href: str, expected: Link | None) -> None:
    assert resolve(BASE, href) == expected


def test_origin_is_scheme_host_and_port() -> None:
    assert origin("https://shop.test:8443/a/b?c") == "https://shop.test:8443"
    assert origin("http://shop.test/") == "http://shop.test"


def test_fragments_are_tried_as_written_and_percent_decoded() -> None:
    assert fragment_names("caf%C3%A9") == ("caf%C3%A9", "café")
    assert fragment_names("plain") == ("plain",)
    assert top_of_page("") and top_of_page("TOP") and not top_of_page("topics")


def test_scope_is_the_start_origins_unless_include_patterns_say_otherwise() -> None:
    scope = Scope.of(["http://shop.test/"], exclude=[re.compile(r"/logout")])
    assert scope.crawled("http://shop.test/a")
    assert not scope.crawled("http://partner.test/")
    assert not scope.crawled("https://shop.test/a")  # another scheme is another origin
    assert scope.ignored("http://shop.test/logout?x") and not scope.ignored("http://shop.test/a")
    docs = Scope.of(["http://shop.test/"], include=[re.compile(r"^http://shop\.test/docs/")])
    assert docs.crawled("http://shop.test/docs/a") and not docs.crawled("http://shop.test/a")


@given(st.text(max_size=200))
def test_any_href_resolves_to_a_normalised_url_or_none(href: str) -> None:
    link = resolve(BASE, href)
    if link is not None:
        assert link.url.startswith(("http://", "https://"))
        assert "#" not in link.url
        assert normalise(link.url) is not None
        assert not any(c in link.url for c in ' "<>\t\n') and link.url.isascii()  # sendable as is
