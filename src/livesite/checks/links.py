"""The links kind: crawl a site from its start URLs and report every broken link with the page it is on.

Broken means: the link's URL does not answer, answers 4xx/5xx, redirects in a loop or too often; its
``#fragment`` names no element (``id``, or ``<a name>``) on the page; or, for a link matching a
``referrals`` pattern, its redirects do not end at the partner with the tracking parameters kept.
Each URL is fetched once however many links point at it (see ``livesite.checks.crawl``).

A run with broken links is ``failed`` and its failure lists the first few; the Result's
:class:`~livesite.results.LinksObservation` keeps up to ``keep_broken`` (100) of them and the counts.
A start URL that gives no usable answer (dns, connect, tls, timeout) makes the run an ``error`` of that
kind, retried like any network failure, rather than a list of broken links. A crawl still going at the
check's deadline stops (at nine tenths of it, so the report is kept) and the run is an ``error`` of
kind ``timeout`` that says how far it got.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from livesite.assertions import Observation
from livesite.checks.context import RunContext
from livesite.checks.crawl import Crawl, CrawlSettings, Referral, crawl
from livesite.checks.crawl.fetch import Fetcher, RateLimit
from livesite.checks.crawl.urls import normalise, origin
from livesite.checks.http import resolve_url
from livesite.checks.kind import Kind, Metric, Sample, Seen
from livesite.checks.sockets import time_left
from livesite.config.models import CheckBase, Model, TlsSettings
from livesite.config.types import Timeout, header_name, header_value, http_url_problem
from livesite.net.errors import ProbeError
from livesite.results import BrokenLink, Failure, FailureKind, LinksObservation, Result

BROKEN_KEPT = 100  # broken links a Result keeps (the count is always whole)
_SHOWN_IN_MESSAGE = 5


def _pattern(v: str, what: str) -> str:
    try:
        re.compile(v)
    except re.error as e:
        raise ValueError(f"{what} {v[:80]!r} is not a regular expression: {e}") from None
    return v


class ReferralSpec(Model):
    """Links matching ``match`` must end, after their redirects, at ``lands_on`` with ``keep`` kept."""

    match: str = Field(description="regular expression searched in the link's URL")
    lands_on: str = Field(
        description="URL prefix where the redirects must end, e.g. https://partner.example/"
    )
    keep: list[str] = Field(default_factory=list, description="query parameters that must arrive unchanged")

    @field_validator("match")
    @classmethod
    def _match(cls, v: str) -> str:
        return _pattern(v, "match")

    @field_validator("lands_on")
    @classmethod
    def _lands_on(cls, v: str) -> str:
        problem = http_url_problem(v)
        if problem:
            raise ValueError(f"lands_on {v[:100]!r} {problem[0]} (hint: {problem[1]})")
        return normalise(v) or v


class LinksCheck(CheckBase):
    SUBJECTS: ClassVar[frozenset[str]] = frozenset({"latency"})

    kind: Literal["links"]
    start: list[str] = Field(
        min_length=1, description="start URLs; a path is relative to the zone's base_url"
    )
    include: list[str] = Field(
        default_factory=list, description="regexes of URLs to crawl; default: the start URLs' origins"
    )
    exclude: list[str] = Field(
        default_factory=list, description="regexes of URLs neither crawled nor checked"
    )
    max_depth: int = Field(5, ge=0, le=1000)
    max_pages: int = Field(1000, ge=1, le=1_000_000)
    concurrency: int = Field(8, ge=1, le=256)
    rate_per_second: float | None = Field(None, gt=0, le=100_000, description="request starts a second")
    robots: bool = Field(True, description="honour robots.txt for pages in scope")
    external: bool = Field(True, description="check links that leave the scope (HEAD, then GET)")
    referrals: list[ReferralSpec] = Field(default_factory=list)
    request_timeout: Timeout = 5.0
    max_page_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="bytes of a page read, at most")
    max_redirects: int = Field(10, ge=0, le=50)
    keep_broken: int = Field(BROKEN_KEPT, ge=1, le=1_000_000, description="broken links a Result lists")
    headers: dict[str, str] = Field(default_factory=dict)
    tls: TlsSettings = Field(default_factory=TlsSettings)

    @field_validator("start")
    @classmethod
    def _start(cls, v: list[str]) -> list[str]:
        for url in v:
            if url.startswith("/"):
                continue
            problem = http_url_problem(url)
            if problem:
                raise ValueError(f"start URL {url[:100]!r} {problem[0]} (hint: {problem[1]})")
        return v

    @field_validator("include", "exclude")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        return [_pattern(p, "pattern") for p in v]

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        return {header_name(k, "headers"): header_value(value, f"header {k}") for k, value in v.items()}

    def secrets(self) -> list[str]:
        found = [v for k, v in self.headers.items() if k.lower() in ("authorization", "cookie", "x-api-key")]
        # ${VAR} values sent in a header are secrets too, as for the http kind.
        return found + [v for v in self._substituted if any(v in h for h in self.headers.values())]


def settings_of(
    spec: LinksCheck, start: Iterable[str], deadline_seconds: float | None, user_agent: str
) -> CrawlSettings:
    return CrawlSettings(
        start=tuple(start),
        include=tuple(re.compile(p) for p in spec.include),
        exclude=tuple(re.compile(p) for p in spec.exclude),
        max_depth=spec.max_depth,
        max_pages=spec.max_pages,
        concurrency=spec.concurrency,
        robots=spec.robots,
        external=spec.external,
        referrals=tuple(Referral(re.compile(r.match), r.lands_on, tuple(r.keep)) for r in spec.referrals),
        max_redirects=spec.max_redirects,
        user_agent=user_agent,
        deadline_seconds=deadline_seconds,
    )


def observation_of(found: Crawl, keep_broken: int = BROKEN_KEPT) -> LinksObservation:
    return LinksObservation(
        pages=found.pages,
        links_checked=found.links_checked,
        broken_total=len(found.broken),
        broken=found.broken[:keep_broken],
        skipped=found.skipped,
        stopped=found.stopped,
    )


def _short(url: str, site: str) -> str:
    """``url`` as a path when it is on ``site`` (an origin): messages name many links of one site."""
    return url[len(site) :] or "/" if site and url.startswith(site + "/") else url


def failure_message(broken: Sequence[BrokenLink]) -> str:
    """``N broken links: LINK on PAGE (reason); ...``: one entry per distinct link and reason (a link
    broken on forty pages is named once, with one of them), links that do not answer before
    fragments, at most five entries."""
    groups: dict[tuple[str, str], list[str]] = {}
    for b in broken:
        groups.setdefault((b.link, b.reason), []).append(b.page)
    ordered = sorted(groups.items(), key=lambda g: ("#" in g[0][0] and "no element" in g[0][1], g[0][0]))
    shown = []
    for (link, reason), pages in ordered[:_SHOWN_IN_MESSAGE]:
        page = pages[0]
        site = origin(page) if page else ""
        where = f" on {_short(page, site)}" if page else ""
        others = f" and {len(pages) - 1} other page{'s' if len(pages) > 2 else ''}" if len(pages) > 1 else ""
        shown.append(f"{_short(link, site)}{where}{others} ({reason})")
    more = f"; and {len(ordered) - _SHOWN_IN_MESSAGE} more links" if len(ordered) > _SHOWN_IN_MESSAGE else ""
    count = f"{len(broken)} broken link{'s' if len(broken) != 1 else ''}"
    return f"{count}: {'; '.join(shown)}{more}"


def failure_of(found: Crawl) -> Failure | None:
    """The run's failure: broken links (failed), or a crawl cut short by its deadline (error)."""
    if found.broken:
        return Failure(kind=FailureKind.http, message=failure_message(found.broken))
    if found.stopped:
        return Failure(
            kind=FailureKind.timeout,
            message=f"{found.stopped} after {found.pages} pages and {found.links_checked} links; none broken so far",
        )
    return None


async def run(spec: CheckBase, ctx: RunContext) -> Seen:
    assert isinstance(spec, LinksCheck)
    start = []
    for url in spec.start:
        absolute = normalise(resolve_url(url, ctx.zone))
        if absolute is None:
            raise ProbeError(
                FailureKind.http, f"start URL {url!r} is relative and zone {ctx.zone.name} has no base_url"
            )
        start.append(absolute)
    ctx.target = start[0]
    headers = [
        *spec.headers.items(),
        *ctx.identity.request_headers(ctx.defaults.route_header),
    ]
    given = {k.lower() for k, _ in headers}
    if "user-agent" not in given:
        headers.append(("User-Agent", ctx.defaults.user_agent))
    if "accept" not in given:
        headers.append(("Accept", "text/html,*/*;q=0.8"))
    fetcher = Fetcher(
        headers=headers,
        timeout_seconds=spec.request_timeout,
        max_body_bytes=spec.max_page_bytes,
        ssl_context=ctx.resources.ssl_context(spec.tls),
        overrides=ctx.zone.resolve,
        resolver=ctx.resources.resolver,
        rate=RateLimit(spec.rate_per_second) if spec.rate_per_second else None,
        max_idle_per_origin=spec.concurrency,
    )
    left = time_left(ctx, spec)
    # Stop short of the frame's deadline, so that what the crawl found is reported, not lost.
    deadline = max(0.05, left * 0.9) if left != float("inf") else None
    try:
        found = await crawl(settings_of(spec, start, deadline, ctx.defaults.user_agent), fetcher)
    finally:
        fetcher.close()
    observation = observation_of(found, spec.keep_broken)
    if found.unreachable is not None:
        # No start URL answered: an error (retried like any network failure), not broken links.
        ctx.observation = observation
        raise ProbeError(found.unreachable, f"the start URL did not answer: {found.broken[0].reason}")
    return Seen(view=Observation(), observation=observation, failure=failure_of(found))


METRICS = (
    Metric("probe_links_pages", "gauge", "Pages crawled (fetched and scanned for links) by the last run"),
    Metric("probe_links_checked", "gauge", "Links judged by the last run"),
    Metric("probe_links_broken", "gauge", "Broken links found by the last run"),
    Metric("probe_links_skipped", "gauge", "Links not judged: robots.txt, max_pages or the deadline"),
)


def samples(result: Result) -> Iterable[Sample]:
    obs = result.observation
    if not isinstance(obs, LinksObservation):
        obs = LinksObservation()
    yield "probe_links_pages", "", obs.pages
    yield "probe_links_checked", "", obs.links_checked
    yield "probe_links_broken", "", obs.broken_total
    yield "probe_links_skipped", "", obs.skipped


KIND = Kind(spec=LinksCheck, run=run, metrics=METRICS, samples=samples)
