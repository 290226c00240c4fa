"""The HTML scanner: links and anchors out of real pages and out of garbage, never a crash, never slow."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from livesite.checks.crawl.html import extract


def test_links_of_every_linking_tag_are_found_in_document_order() -> None:
    found = extract(
        b"""<!doctype html><html><head>
        <link rel="stylesheet" href="/s.css"><link rel="preconnect" href="https://cdn.example">
        <script src='/app.js'></script></head>
        <body><a href=/plain>x</a><img src="/i.png" alt=""><iframe src="/frame"></iframe>
        <area href="/map"><source src="/v.mp4"></body></html>"""
    )
    assert found.links == [
        ("link", "/s.css"),
        ("script", "/app.js"),
        ("a", "/plain"),
        ("img", "/i.png"),
        ("iframe", "/frame"),
        ("area", "/map"),
        ("source", "/v.mp4"),
    ]


def test_anchors_are_ids_of_any_element_and_names_of_a_elements_only() -> None:
    found = extract(
        b'<section id="reviews"></section><a name="old-style"></a><div name="not-an-anchor"></div>'
    )
    assert found.anchors == {"reviews", "old-style"}


def test_attribute_values_are_unescaped_and_names_are_case_insensitive() -> None:
    found = extract(b'<A HREF="/search?a=1&amp;b=2">x</A><DIV ID=Top></DIV>')
    assert found.links == [("a", "/search?a=1&b=2")]
    assert found.anchors == {"Top"}


def test_comments_and_script_text_hold_no_links() -> None:
    found = extract(
        b"""<!-- <a href="/commented"> --><script>document.write('<a href="/in-js">')</script>
        <style>a { background: url(/bg.png) }</style><a href="/real">r</a><!-- unclosed <a href="/after">"""
    )
    assert found.links == [("a", "/real")]


def test_the_first_base_href_is_kept() -> None:
    assert extract(b'<base href="/docs/"><base href="/other/"><a href="x">').base == "/docs/"


def test_an_unclosed_script_hides_the_rest_as_browsers_do() -> None:
    assert extract(b'<a href="/a"><script>var x = "<a href=/b>"').links == [("a", "/a")]


def test_invalid_utf8_and_nul_bytes_are_read_not_raised() -> None:
    found = extract(b'\xff\xfe<a href="/\x00caf\xe9">\x00<p id="\xc3(">')
    assert len(found.links) == 1
    assert len(found.anchors) == 1


def test_hostile_pages_cost_time_linear_in_their_size() -> None:
    # Each of these is quadratic for a naive regex scanner: tags without '>', comments without end,
    # quotes without end. A megabyte of each must take well under a second (a generous bound: no timing
    # comparison, only a guard against going quadratic, which would take minutes).
    for piece in (b"<a", b"<!--", b'<a href="', b"<a x=", b"<script>", b"<<<<", b"id=id=", b"<a id='"):
        page = piece * (1_000_000 // len(piece))
        t0 = time.process_time()
        extract(page)
        assert time.process_time() - t0 < 5, piece


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_are_scanned_without_an_exception(data: bytes) -> None:
    found = extract(data)
    assert all(isinstance(href, str) for _, href in found.links)


_TAGS = st.sampled_from(["a", "img", "script", "div", "base", "link", "!--", "style", "A", "iframe"])
_ATTRS = st.sampled_from(["href", "src", "id", "name", "rel", "HREF", "x"])
_VALUES = st.text(alphabet="ab/#?&;<>\"' =\n-", max_size=12)


@st.composite
def _html_like(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 30))):
        tag = draw(_TAGS)
        attrs = " ".join(f'{draw(_ATTRS)}="{draw(_VALUES)}"' for _ in range(draw(st.integers(0, 3))))
        parts.append(draw(st.sampled_from([f"<{tag} {attrs}>", f"</{tag}>", draw(_VALUES)])))
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(_html_like())
def test_html_like_garbage_yields_only_links_that_were_written(page: str) -> None:
    found = extract(page)
    for _, href in found.links:
        assert href in page or "&" in page  # unescaping may change the text, nothing else does
    for anchor in found.anchors:
        assert anchor in page or "&" in page


def test_a_well_formed_link_survives_any_garbage_before_it_that_closes_its_tags() -> None:
    for garbage in ("<<>>", "<a <b c='>", '<div id="x>', "</>", "<!>", "<?xml?>"):
        assert ("a", "/ok") in extract(f'{garbage}<p>text</p><a href="/ok">ok</a>').links, garbage
