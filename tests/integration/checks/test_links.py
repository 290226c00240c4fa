"""The links kind and its crawler against real servers: a generated site on nginx with planted broken
links and fragments, redirect loops and endless chains, a 50 MB page, robots.txt, referral links, and
pages that never finish (TargetServer). The crawl must find exactly what was planted and never stall."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from livesite.checks import KINDS, RunContext, run_check
from livesite.checks.context import Resources
from livesite.checks.crawl import CrawlSettings, Referral, crawl
from livesite.checks.crawl.fetch import Fetcher
from livesite.checks.links import LinksCheck
from livesite.config.models import Zone
from livesite.results import BrokenLink, LinksObservation, Status
from livesite.testing import Nginx, TargetServer
from livesite.testing.servers import MissingBinary
from livesite.testing.sites import Site, generate

SITE = generate(40, broken_links=5, broken_fragments=4, seed=7)
BIG_BYTES = 50 * 1024 * 1024

LOCATIONS = """
location / { root WWW; }
location = /loop-a { return 302 /loop-b; }
location = /loop-b { return 302 /loop-a; }
location ~ ^/endless/(.*)$ { return 302 /endless/$1x; }
location = /go/keeps { return 302 /landing$is_args$args; }
location = /go/drops { return 302 /landing?ref=$arg_ref; }
location = /landing { return 200 "<p>landed</p>"; }
location = /moved { return 301 /page-1.html; }
"""

# Links the generated site does not have, added on a page of their own, with what each must yield.
EXTRA = """<!doctype html><title>Hostile</title>
<a href="/loop-a">loop</a> <a href="/endless/x">endless</a> <a href="/moved">moved</a>
<a href="/big.html#deep">a fragment of a huge page</a> <a href="/big.html">the huge page itself</a>
<a href="/private/secret.html">disallowed</a>
<a href="/go/keeps?ref=shop&utm_source=mail">referral ok</a>
<a href="/go/drops?ref=shop&utm_source=mail">referral that loses a parameter</a>
<a href="mailto:x@example.com">mail</a> <a href="javascript:void(0)">js</a>
<a href="/hostile.html">this page, a cycle</a> <a href="/hostile.html#top">top</a>
"""
EXPECTED_EXTRA = {
    ("/hostile.html", "/loop-a", "http: redirect loop"),
    ("/hostile.html", "/endless/x", "http: more than 10 redirects"),
    ("/hostile.html", "/big.html#deep", "no element with id or name 'deep' in the part of the page read"),
    ("/hostile.html", "/go/drops?ref=shop&utm_source=mail", "referral landed on"),
}
EXPECTED_ON_THE_BIG_PAGE = ("/big.html", "/missing-early.html", "HTTP 404")


def _files(site: Site) -> dict[str, bytes]:
    files = dict(site.files)
    files["index.html"] = files["index.html"].replace(b"</ul>", b'</ul><a href="/hostile.html">hostile</a>')
    files["hostile.html"] = EXTRA.encode()
    files["robots.txt"] = b"User-agent: *\nDisallow: /private/\n"
    # 50 MB of HTML: its first link is followed, its last lies past any sane cap and is never seen.
    files["big.html"] = (
        b'<a href="/missing-early.html">x</a><p>' + b"x" * BIG_BYTES + b'<a href="/past-the-cap.html">x</a>'
    )
    return files


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    try:
        server = Nginx(tmp_path_factory.mktemp("links-site"), locations=LOCATIONS, files=_files(SITE))
    except MissingBinary as e:
        pytest.skip(str(e))
    with server:
        yield server


def _paths(broken: list[BrokenLink], origin: str) -> set[tuple[str, str, str]]:
    def path(url: str) -> str:
        return url.removeprefix(origin) if url.startswith(origin) else url

    return {(path(b.page), path(b.link), b.reason) for b in broken}


def _settings(site: Nginx, **changes: object) -> CrawlSettings:
    origin = site.url("").rstrip("/")
    values: dict[str, object] = {
        "start": (site.url("/index.html"),),
        "concurrency": 8,
        "referrals": (Referral(re.compile(r"/go/"), origin + "/landing", ("ref", "utm_source")),),
        **changes,
    }
    return CrawlSettings(**values)  # type: ignore[arg-type]


def _fetcher(**changes: object) -> Fetcher:
    values: dict[str, object] = {
        "headers": [("User-Agent", "livesite-test")],
        "timeout_seconds": 2.0,
        "max_body_bytes": 1024 * 1024,
        **changes,
    }
    return Fetcher(**values)  # type: ignore[arg-type]


async def test_the_crawl_finds_exactly_the_planted_broken_links_and_fragments(site: Nginx) -> None:
    fetcher = _fetcher()
    try:
        found = await crawl(_settings(site), fetcher)
    finally:
        fetcher.close()
    origin = site.url("").rstrip("/")
    seen = _paths(found.broken, origin)
    planted = {(page, link) for page, link in SITE.planted}
    assert EXPECTED_ON_THE_BIG_PAGE in seen
    generated = {(page, link) for page, link, _ in seen if page not in ("/hostile.html", "/big.html")}
    assert generated == planted
    for page, link, reason in seen:
        if (page, link) in planted:
            expected = (
                "HTTP 404" if "missing" in link else f"no element with id or name {link.split('#')[1]!r}"
            )
            assert reason.startswith(expected), (link, reason)
    hostile = {(p, link, r) for p, link, r in seen if p == "/hostile.html"}
    assert len(hostile) == len(EXPECTED_EXTRA)
    for page, link, prefix in EXPECTED_EXTRA:
        assert any(p == page and lk == link and r.startswith(prefix) for p, lk, r in hostile), (link, hostile)
    assert found.pages == SITE.pages + 2  # the site with its index, hostile.html, big.html (its first MB)
    assert not found.stopped
    assert found.skipped == 1  # /private/secret.html: disallowed by robots.txt, so not judged


async def test_each_url_is_fetched_once_however_many_pages_and_fragments_point_at_it(site: Nginx) -> None:
    fetcher = _fetcher()
    try:
        found = await crawl(_settings(site, start=(site.url("/index.html"),)), fetcher)
    finally:
        fetcher.close()
    distinct_urls = SITE.pages + len(SITE.files) - SITE.pages  # every file once …
    # … plus robots.txt, the hostile links' URLs and their redirect hops, less what is never asked for.
    assert found.urls_fetched < distinct_urls + 40
    assert found.links_checked > 10 * SITE.pages  # while every page holds a dozen links or more


async def test_max_depth_and_max_pages_bound_the_crawl(site: Nginx) -> None:
    fetcher = _fetcher()
    try:
        shallow = await crawl(_settings(site, max_depth=0), fetcher)
        few = await crawl(_settings(site, max_pages=5), fetcher)
    finally:
        fetcher.close()
    assert shallow.pages == 1  # the index: its links are checked, the pages they lead to not scanned
    assert not shallow.broken  # every link of the index leads to a page that answers
    assert few.pages <= 5
    assert few.skipped > 0


async def test_pages_that_never_answer_or_never_finish_cost_one_request_deadline(site: Nginx) -> None:
    async with TargetServer() as target:
        page = site.url("/index.html")
        slow = target.url("/drip?chunks=100000&ms=50")
        hanging = target.hang_url("/never")
        target.respond(
            "/start",
            body=f'<a href="{slow}">slow</a><a href="{hanging}">hangs</a><a href="{page}">site</a>',
            headers={"Content-Type": "text/html"},
        )
        settings = CrawlSettings(
            start=(target.url("/start"),),
            include=(re.compile(re.escape(target.url("/"))),),
            max_depth=1,
        )
        fetcher = _fetcher(timeout_seconds=0.5)
        try:
            found = await crawl(settings, fetcher)
        finally:
            fetcher.close()
    reasons = {b.link: b.reason for b in found.broken}
    assert reasons[slow].startswith("timeout: no answer within 0.5s")
    assert reasons[hanging].startswith("timeout: no answer within 0.5s")
    assert page not in reasons  # checked (HEAD), answered, not crawled: another origin


async def test_the_crawl_stops_at_its_own_deadline_with_what_it_found(site: Nginx) -> None:
    async with TargetServer() as target:
        target.respond(
            "/start",
            body=f'<a href="/sale">x</a><a href="{target.hang_url("/never")}">never</a>',
            headers={"Content-Type": "text/html"},
        )
        target.respond("/sale", status=404)
        fetcher = _fetcher(timeout_seconds=60)
        try:
            found = await crawl(CrawlSettings(start=(target.url("/start"),), deadline_seconds=0.5), fetcher)
        finally:
            fetcher.close()
    assert found.stopped == "the crawl's deadline (0.5s) passed"
    assert [(urlsplit(b.link).path, b.reason) for b in found.broken] == [("/sale", "HTTP 404")]
    assert found.skipped == 1


async def test_the_links_kind_makes_a_failed_redacted_result_with_the_broken_links(site: Nginx) -> None:
    spec = LinksCheck.model_validate(
        {
            "kind": "links",
            "name": "site-links",
            "start": ["/index.html"],
            "timeout": "20s",
            "headers": {"Authorization": "Bearer hush-hush-secret"},
            "max_page_bytes": 1024 * 1024,
        }
    )
    resources = Resources()
    try:
        result = await run_check(
            spec, RunContext(zone=Zone(name="z", base_url=site.url("")), resources=resources)
        )
    finally:
        resources.close()
    assert result.status is Status.failed
    obs = result.observation
    assert isinstance(obs, LinksObservation)
    assert obs.broken_total == len(SITE.planted) + len(EXPECTED_EXTRA)  # no referral rule; big.html's link
    assert result.failure is not None
    assert result.failure.message.startswith(f"{obs.broken_total} broken links: ")
    samples = {name: value for name, _, value in KINDS["links"].samples(result)}
    assert samples["probe_links_broken"] == obs.broken_total
    assert samples["probe_links_pages"] == obs.pages > SITE.pages
    assert "hush-hush-secret" not in result.model_dump_json()


async def test_a_secret_in_a_broken_links_query_is_masked_in_the_result() -> None:
    async with TargetServer() as target:
        target.respond(
            "/start", body='<a href="/gone?token=abc123secret">x</a>', headers={"Content-Type": "text/html"}
        )
        spec = LinksCheck.model_validate({"kind": "links", "name": "l", "start": [target.url("/start")]})
        result = await run_check(spec, RunContext(zone=Zone(name="z")))
    assert result.status is Status.failed
    assert "abc123secret" not in result.model_dump_json()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start": []}, "at least 1 item"),
        ({"start": ["ftp://x/"]}, "not an absolute http(s) URL"),
        ({"start": ["/"], "include": ["("]}, "is not a regular expression"),
        ({"start": ["/"], "referrals": [{"match": "x", "lands_on": "nowhere"}]}, "lands_on"),
        ({"start": ["/"], "concurrency": 0}, "greater than or equal to 1"),
        ({"start": ["/"], "assert": ["status == 200"]}, "a links check cannot observe 'status'"),
    ],
)
def test_bad_links_specs_are_config_errors_that_say_why(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        LinksCheck.model_validate({"kind": "links", "name": "l", **fields})


HOSTILE_ROUTES = [
    "/garbage",
    "/close-mid",
    "/header-flood",
    "/endless-value",
    "/long-status",
    "/early-hints",
    "/bad-chunk",
    "/chunk-line",
    "/content-length?value=-1",
    "/gzip-bomb",
    "/endless-body",
    "/slowloris?ms=100",
    "/trickle?ms=100",
    "/status/302?h=Location:http://[::1",
    "/status/302?h=Location:mailto:x@example.com",
]


async def test_hostile_servers_are_broken_links_with_a_reason_never_a_crash_or_a_stall() -> None:
    async with TargetServer() as target:
        links = "".join(f'<a href="{path}">x</a>' for path in HOSTILE_ROUTES)
        target.respond("/start", body=links, headers={"Content-Type": "text/html"})
        fetcher = _fetcher(timeout_seconds=1.0)
        try:
            found = await crawl(CrawlSettings(start=(target.url("/start"),), concurrency=16), fetcher)
        finally:
            fetcher.close()
    reasons = {urlsplit(b.link).path: b.reason for b in found.broken}
    # Every one is judged; those whose status arrived before the body went wrong answered 200 and are
    # fine as links (a body that never ends is cut at max_body_bytes, not waited for).
    assert found.links_checked == len(HOSTILE_ROUTES)
    assert not found.stopped
    for path in ("/garbage", "/header-flood", "/endless-value", "/long-status", "/early-hints"):
        assert path in reasons, path
    assert reasons["/status/302"].startswith("http: redirect to something that is not an http(s) URL")
    assert all(r.split(":")[0] in {"protocol", "timeout", "http"} for r in reasons.values()), reasons


async def test_a_page_is_fetched_once_however_many_fragments_and_pages_point_at_it_over_kept_connections() -> (
    None
):
    async with TargetServer() as target:
        html = {"Content-Type": "text/html"}
        target.respond(
            "/start",
            body='<a href="/a#x">x</a><a href="/a#y">y</a><a href="/a">a</a><a href="/b">b</a><a href="/a#gone">g</a>',
            headers=html,
        )
        target.respond("/a", body='<p id="x"></p><a name="y"></a><a href="/b#top">b</a>', headers=html)
        target.respond("/b", body='<a href="/a#x">a</a><a href="/start">cycle</a>', headers=html)
        fetcher = _fetcher()
        try:
            found = await crawl(CrawlSettings(start=(target.url("/start"),), concurrency=2), fetcher)
        finally:
            fetcher.close()
        paths = [r.path for r in target.received]
        connections = {r.connection for r in target.received}
    assert sorted(paths) == ["/a", "/b", "/robots.txt", "/start"]
    assert len(connections) <= 2  # keep-alive: one connection per worker at most
    assert [(urlsplit(b.link).path, urlsplit(b.link).fragment) for b in found.broken] == [("/a", "gone")]
    assert found.links_checked == 5 + 1 + 2


async def test_an_unreachable_site_is_an_error_of_the_network_kind_not_broken_links() -> None:
    spec = LinksCheck.model_validate(
        {"kind": "links", "name": "l", "start": ["http://127.0.0.1:1/"], "request_timeout": "2s"}
    )
    result = await run_check(spec, RunContext(zone=Zone(name="z")))
    assert result.status is Status.error
    assert result.failure is not None and result.failure.kind.value == "connect"
    assert result.failure.message.startswith("the start URL did not answer: connect: cannot connect")
    assert isinstance(result.observation, LinksObservation) and result.observation.broken_total == 1
