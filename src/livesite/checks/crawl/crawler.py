"""The crawl: a frontier of URLs, workers that fetch each URL once, and a verdict on every link.

Each distinct URL (without its fragment) is fetched once, however many pages and fragments point at
it; a page's anchors are kept so that every ``#fragment`` link to it is judged from that one fetch.
Pages in scope are fetched with GET and, while under ``max_depth`` and ``max_pages``, their links
followed; other URLs are only checked (HEAD, then GET when HEAD is refused). Whether a link is broken
is decided at the end, from data, by :func:`verdicts` (pure).

Nothing a site does can stall or crash a crawl: every request has a deadline, redirects are counted
and loops named, bodies are capped, the HTML scanner is linear, and the crawl as a whole stops at its
own deadline with what it found so far (``stopped`` says so).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urljoin, urlsplit

from livesite.checks.crawl import html, robots, urls
from livesite.checks.crawl.fetch import Answer, Fetcher
from livesite.net.errors import ProbeError
from livesite.results import BrokenLink, FailureKind

log = logging.getLogger(__name__)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True, slots=True)
class Referral:
    """Links whose URL matches ``match`` must, after their redirects, land on a URL starting with
    ``lands_on`` that still carries the query parameters named in ``keep``, with the same values."""

    match: re.Pattern[str]
    lands_on: str
    keep: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    start: tuple[str, ...]
    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    max_depth: int = 5
    max_pages: int = 1000
    concurrency: int = 8
    robots: bool = True
    external: bool = True
    referrals: tuple[Referral, ...] = ()
    max_redirects: int = 10
    user_agent: str = "livesite/0.1"
    deadline_seconds: float | None = None  # the whole crawl; None: no limit but each request's


@dataclass(slots=True)
class Crawl:
    """What a crawl found. ``broken`` is sorted by page, then link."""

    pages: int = 0  # pages in scope fetched and scanned for links
    links_checked: int = 0  # links judged (each distinct link of each page once)
    urls_fetched: int = 0  # distinct URLs asked for
    broken: list[BrokenLink] = field(default_factory=list)
    skipped: int = 0  # links not judged: robots.txt, max_pages, or the crawl's deadline
    stopped: str = ""  # why the crawl ended early ("" when it ran to the end)
    seconds: float = 0.0
    # Set when no start URL gave a usable answer for a network reason (dns, connect, tls, timeout):
    # the site is unreachable, which is not the same as a site with broken links.
    unreachable: FailureKind | None = None


@dataclass(slots=True)
class _Target:
    """One distinct URL and what fetching it showed."""

    url: str
    depth: int
    crawled: bool  # in scope: fetched with GET and, under the limits, its links followed
    problem: str | None = None  # why links to it are broken; None: it answered fine
    no_answer: FailureKind | None = None  # the layer that failed when no usable answer came
    done: bool = False
    skipped: str = ""  # why it was not fetched
    anchors: frozenset[str] | None = None  # None: not an HTML page we scanned
    too_big: bool = False
    landed: str = ""  # where its redirects ended


@dataclass(frozen=True, slots=True)
class _Occurrence:
    page: str
    link: urls.Link


class _Crawler:
    def __init__(self, settings: CrawlSettings, fetcher: Fetcher) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.scope = urls.Scope.of(settings.start, settings.include, settings.exclude)
        self.targets: dict[str, _Target] = {}
        self.occurrences: list[_Occurrence] = []
        self.queue: asyncio.Queue[_Target] = asyncio.Queue()
        self.pages = 0
        self.pages_planned = 0
        self.robots: dict[str, asyncio.Task[robots.Robots]] = {}
        self.scanned: set[str] = set()  # final URLs of pages already scanned (two URLs may redirect to one)

    def add(self, url: str, depth: int) -> _Target | None:
        target = self.targets.get(url)
        if target is not None:
            return target
        if self.scope.ignored(url):
            return None
        crawled = depth == 0 or self.scope.crawled(url)  # a start URL is crawled whatever include says
        target = _Target(url, depth, crawled)
        self.targets[url] = target
        if not crawled and not self.settings.external and not self._referral(url):
            target.done, target.skipped = True, "external links are not checked"
        elif crawled and self.pages_planned >= self.settings.max_pages:
            target.done, target.skipped = True, f"past max_pages ({self.settings.max_pages})"
        else:
            self.pages_planned += crawled
            self.queue.put_nowait(target)
        return target

    def _referral(self, url: str) -> Referral | None:
        return next((r for r in self.settings.referrals if r.match.search(url)), None)

    async def worker(self) -> None:
        while True:
            target = await self.queue.get()
            try:
                await self.visit(target)
            finally:
                self.queue.task_done()

    async def visit(self, target: _Target) -> None:
        try:
            if target.crawled and self.settings.robots and not await self._allowed(target.url):
                target.skipped = "disallowed by robots.txt"
                return
            referral = self._referral(target.url)
            method = "GET" if target.crawled else "HEAD"
            landed, answer = await self._follow(target.url, method)
            if not target.crawled and answer.status >= 400 and method == "HEAD":
                landed, answer = await self._follow(target.url, "GET")  # some servers refuse HEAD
            target.landed = landed
            if answer.status >= 400:
                target.problem = f"HTTP {answer.status}"
            elif referral is not None:
                target.problem = _referral_problem(referral, target.url, landed)
            if target.crawled and target.problem is None:
                self._scan(target, landed, answer)
        except ProbeError as e:
            target.problem = f"{e.kind}: {e.message}"
            target.no_answer = e.kind
        except Exception as e:  # a bug must cost one link's verdict, not a worker (the crawl would stall)
            log.exception("links: checking %s crashed", target.url)
            target.problem = f"internal: {type(e).__name__}: {e} (a livesite bug; please report)"
        # Not in a finally: a visit cancelled by the crawl's deadline has not judged its URL.
        target.done = True

    async def _follow(self, url: str, method: str) -> tuple[str, Answer]:
        chain = [url]
        while True:
            answer = await self.fetcher.fetch(url, method)
            location = answer.headers.get("location")
            if answer.status not in _REDIRECTS or not location:
                return url, answer
            try:
                next_url = urls.normalise(urljoin(url, location.strip()))
            except ValueError:
                next_url = None  # "http://[::1" and the like: no URL at all
            if next_url is None:
                raise ProbeError(
                    FailureKind.http, f"redirect to something that is not an http(s) URL: {location[:200]}"
                )
            if next_url in chain:
                raise ProbeError(FailureKind.http, f"redirect loop: {' → '.join([*chain, next_url][-6:])}")
            if len(chain) > self.settings.max_redirects:
                raise ProbeError(FailureKind.http, f"more than {self.settings.max_redirects} redirects")
            chain.append(next_url)
            url = next_url

    def _scan(self, target: _Target, landed: str, answer: Answer) -> None:
        kind = answer.headers.get("content-type", "text/html").lower()
        if not kind.startswith(_HTML_TYPES):
            return
        target.too_big = answer.too_big  # scanned as far as it was read
        found = html.extract(answer.body)
        target.anchors = frozenset(found.anchors)
        if target.depth > self.settings.max_depth:
            return  # linked from the last level: it must answer (and hold its anchors), not be followed
        if landed in self.scanned or (landed != target.url and not self.scope.crawled(landed)):
            return  # a page scanned already (two URLs redirect to it), or redirected out of scope
        self.scanned.add(landed)
        self.pages += 1
        base = landed
        if found.base is not None:
            base = urls.normalise(urljoin(landed, found.base)) or landed
        seen: set[str] = set()
        distinct: set[tuple[str, str | None]] = set()
        for _, href in found.links:
            if href in seen:
                continue  # the same href twice on a page (a nav bar and a footer) is one link
            seen.add(href)
            link = urls.resolve(base, href)
            if link is None:
                continue
            key = (link.url, link.fragment)
            if key in distinct:
                continue  # two spellings of one link ("a" and "/dir/a")
            distinct.add(key)
            if link.url == target.url or link.url == landed:
                # A fragment of this very page, judged against the target that holds its anchors.
                self.occurrences.append(_Occurrence(landed, urls.Link(target.url, link.fragment)))
                continue
            added = self.add(link.url, target.depth + 1)
            if added is not None:
                self.occurrences.append(_Occurrence(landed, link))

    async def _allowed(self, url: str) -> bool:
        site = urls.origin(url)
        task = self.robots.get(site)
        if task is None:
            task = self.robots[site] = asyncio.ensure_future(self._robots(site))
        rules = await asyncio.shield(task)
        return rules.allowed(url, self.settings.user_agent)

    async def _robots(self, site: str) -> robots.Robots:
        try:
            answer = await self.fetcher.fetch(site + "/robots.txt")
        except ProbeError:
            return robots.ALLOW_ALL
        return robots.from_answer(answer.status, answer.body)


def _referral_problem(referral: Referral, url: str, landed: str) -> str | None:
    """Why a referral link did not arrive where it should, with what it should carry; None: it did."""
    if not landed.startswith(referral.lands_on):
        return f"referral landed on {landed}, not on {referral.lands_on}"
    sent = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    arrived = dict(parse_qsl(urlsplit(landed).query, keep_blank_values=True))
    lost = [k for k in referral.keep if k not in arrived]
    if lost:
        return f"referral landed on {landed} without {', '.join(lost)}"
    changed = [k for k in referral.keep if k in sent and arrived[k] != sent[k]]
    if changed:
        return f"referral landed on {landed} with {', '.join(changed)} changed"
    return None


def verdicts(
    targets: dict[str, _Target], occurrences: Sequence[_Occurrence]
) -> tuple[list[BrokenLink], int, int]:
    """(broken links, links judged, links not judged) from what the crawl fetched. Pure."""
    broken: list[BrokenLink] = []
    judged = skipped = 0
    for occurrence in occurrences:
        link = occurrence.link
        target = targets[link.url]
        if target.skipped or not target.done:
            skipped += 1
            continue
        judged += 1
        reason = target.problem
        if reason is None and link.fragment is not None and target.crawled:
            reason = _fragment_problem(target, link.fragment)
        if reason is not None:
            broken.append(BrokenLink(page=occurrence.page, link=link.shown, reason=reason))
    broken.sort(key=lambda b: (b.page, b.link))
    return broken, judged, skipped


def _fragment_problem(target: _Target, fragment: str) -> str | None:
    if urls.top_of_page(fragment):
        return None
    if target.anchors is None:
        return None  # not an HTML page (an image, a PDF): fragments mean something else there
    if any(name in target.anchors for name in urls.fragment_names(fragment)):
        return None
    if target.too_big:
        return f"no element with id or name {fragment!r} in the part of the page read (it is too large)"
    return f"no element with id or name {fragment!r} on the page"


async def crawl(settings: CrawlSettings, fetcher: Fetcher) -> Crawl:
    """Crawl from ``settings.start`` and judge every link found. Never raises for what a site does."""
    t0 = time.perf_counter()
    crawler = _Crawler(settings, fetcher)
    for url in settings.start:
        crawler.add(url, 0)
    workers = [asyncio.ensure_future(crawler.worker()) for _ in range(settings.concurrency)]
    stopped = ""
    try:
        async with asyncio.timeout(settings.deadline_seconds):
            await crawler.queue.join()
    except TimeoutError:
        stopped = f"the crawl's deadline ({settings.deadline_seconds:g}s) passed"
    finally:
        for task in [*workers, *crawler.robots.values()]:
            task.cancel()
        await asyncio.gather(*workers, *crawler.robots.values(), return_exceptions=True)
    broken, judged, skipped = verdicts(crawler.targets, crawler.occurrences)
    start_problems = [
        BrokenLink(page="", link=url, reason=t.problem)
        for url in settings.start
        if (t := crawler.targets.get(url)) is not None and t.problem is not None
    ]
    starts = [crawler.targets[url] for url in settings.start if url in crawler.targets]
    kinds = [t.no_answer for t in starts]
    unreachable = kinds[0] if kinds and all(k is not None and k.is_network for k in kinds) else None
    return Crawl(
        unreachable=unreachable,
        pages=crawler.pages,
        links_checked=judged,
        urls_fetched=fetcher.requests,
        broken=start_problems + broken,
        skipped=skipped,
        stopped=stopped,
        seconds=time.perf_counter() - t0,
    )
