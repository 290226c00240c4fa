"""Running a browser journey's steps on one page: each timed, each failing with a reason that names it.

A :class:`Watch` listens to the page for what a failed run saves (console errors, uncaught
exceptions, failed requests and answers of 400 and up) and for the main document of each
navigation (its status and revision header). :func:`run_steps` runs the steps in order until one
fails; every step's wait is bounded by its timeout and by the time the run has left.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from livesite.checks.browsing.steps import BrowserStep, load_script
from livesite.checks.variables import UndefinedVariable, render
from livesite.results import Failure, FailureKind, HttpObservation, Phases, Status, StepResult, status_for

if TYPE_CHECKING:
    from playwright.async_api import ConsoleMessage, Page, Request, Response

MAX_EVENTS = 200  # console errors and failed requests kept per run: a page in a loop logs forever
_TEXT_SHOWN = 160  # characters of what the page shows, quoted when an expected text is missing
_NET_ERRORS = (
    ("ERR_NAME_NOT_RESOLVED", FailureKind.dns),
    ("ERR_NAME_RESOLUTION_FAILED", FailureKind.dns),
    ("ERR_CONNECTION_REFUSED", FailureKind.connect),
    ("ERR_CONNECTION_RESET", FailureKind.connect),
    ("ERR_CONNECTION_CLOSED", FailureKind.connect),
    ("ERR_ADDRESS_UNREACHABLE", FailureKind.connect),
    ("ERR_CERT_", FailureKind.tls),
    ("ERR_SSL_", FailureKind.tls),
    ("ERR_TIMED_OUT", FailureKind.timeout),
)


@dataclass(slots=True)
class Navigation:
    url: str
    status: int  # 0: no answer (``error`` says why)
    revision: str
    error: str = ""
    request: Request | None = None  # its timing is complete once the step is over


@dataclass(slots=True)
class Watch:
    """What the page did while the steps ran."""

    revision_header: str
    console: list[dict[str, str]] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    navigations: list[Navigation] = field(default_factory=list)
    dropped: int = 0

    def attach(self, page: Page) -> None:
        # Closures, not bound methods: Playwright tags each handler with an attribute, and a slotted
        # instance's methods take none.
        page.on("console", lambda message: self._console(message))
        page.on(
            "pageerror", lambda error: self._keep(self.console, {"type": "pageerror", "text": str(error)})
        )
        page.on("requestfailed", lambda request: self._failed(page, request))
        page.on("response", lambda response: self._response(page, response))

    def _keep(self, events: list[dict[str, str]], event: dict[str, str]) -> None:
        if len(events) < MAX_EVENTS:
            events.append(event)
        else:
            self.dropped += 1

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            location = message.location
            where = f"{location.get('url', '')}:{location.get('lineNumber', 0)}" if location else ""
            self._keep(self.console, {"type": "console.error", "text": message.text, "location": where})

    def _failed(self, page: Page, request: Request) -> None:
        failure = request.failure or "failed"
        event = {"method": request.method, "url": request.url, "failure": failure}
        self._keep(self.requests, event)
        # A link to a site that does not answer: the click succeeds and Chromium shows its error page.
        # (ERR_ABORTED is a navigation replaced by another, not a failure.)
        if _main_document(page, request) and "ERR_ABORTED" not in failure:
            self.navigations.append(Navigation(request.url, 0, "", failure))

    def _response(self, page: Page, response: Response) -> None:
        request = response.request
        if response.status >= 400:
            self._keep(
                self.requests, {"method": request.method, "url": response.url, "status": str(response.status)}
            )
        if _main_document(page, request):
            revision = response.headers.get(self.revision_header.lower(), "")
            self.navigations.append(Navigation(response.url, response.status, revision, request=request))


def _main_document(page: Page, request: Request) -> bool:
    try:
        return request.is_navigation_request() and request.frame == page.main_frame
    except Exception:  # a service worker's request has no frame, and says so by raising
        return False


# A failure's message does not repeat the step: ``Failure.step`` names it, and Result.reason() reads
# "assertion at step 'open the sale': the page .../sale answered HTTP 404".
class StepFailed(Exception):
    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(slots=True)
class Run:
    """One run's steps on one page: its variables, its deadline, its watch."""

    page: Page
    steps: Sequence[BrowserStep]
    values: Mapping[str, str]
    watch: Watch
    deadline: float  # time.perf_counter() by which the last step must have ended
    step_timeout_seconds: float
    base_url: str | None
    results: list[StepResult] = field(default_factory=list)

    async def go(self, started: float) -> Failure | None:
        """Run the steps in order; the first failure ends the run and is returned (None: all passed)."""
        for index, step in enumerate(self.steps):
            failure = await self._one(index, step, started)
            if failure is not None:
                return failure
        return None

    async def _one(self, index: int, step: BrowserStep, started: float) -> Failure | None:
        title = step.title(index)
        t0 = time.perf_counter()
        seen = len(self.watch.navigations)
        failure = None
        try:
            await self._act(step, self._timeout(step))
        except StepFailed as e:
            failure = Failure(kind=e.kind, message=e.message, step=title)
        except UndefinedVariable as e:
            failure = Failure(kind=FailureKind.script, message=str(e), step=title)
        except Exception as e:  # Playwright's errors: say what the step acted on, its call log is long
            doing = f"{step.action} {step.argument!r}"
            failure = Failure(kind=_kind_of(e), message=f"{doing}: {_message(e)}", step=title)
        duration = time.perf_counter() - t0
        navigation = self.watch.navigations[-1] if len(self.watch.navigations) > seen else None
        if failure is None and navigation is not None and navigation.status == 0:
            failure = Failure(
                kind=_kind_of(Exception(navigation.error)),
                message=f"the page {navigation.url} did not load: {navigation.error}",
                step=title,
            )
        elif failure is None and navigation is not None and navigation.status >= 400:
            failure = Failure(
                kind=FailureKind.http,
                message=f"the page {navigation.url} answered HTTP {navigation.status}",
                step=title,
            )
        phases = (
            phases_of(navigation.request.timing)
            if navigation is not None and navigation.request is not None
            else None
        )
        self.results.append(
            StepResult(
                name=title,
                status=Status.ok if failure is None else status_for(failure),
                started_offset_seconds=t0 - started,
                duration_seconds=duration,
                failure=failure,
                phases=phases,
                target=navigation.url if navigation is not None else self._url(),
                revision=navigation.revision if navigation is not None else "",
                observation=HttpObservation(status_code=navigation.status)
                if navigation is not None
                else None,
            )
        )
        return failure

    def _url(self) -> str:
        try:
            return self.page.url
        except Exception:
            return ""

    def _timeout(self, step: BrowserStep) -> float:
        left = self.deadline - time.perf_counter()
        if left <= 0:
            raise StepFailed(FailureKind.timeout, "no time left in the check's timeout")
        return min(step.timeout or self.step_timeout_seconds, left)

    async def _act(self, step: BrowserStep, timeout: float) -> None:
        page, ms = self.page, timeout * 1000
        action, text = step.action, ""
        if action not in ("wait", "script"):
            text = render(step.argument, self.values)
        if action == "goto":
            url = (
                text
                if self.base_url is None or re.match(r"^[a-z][a-z0-9+.-]*:", text, re.I)
                else self.base_url.rstrip("/") + "/" + text.lstrip("/")
            )
            if not re.match(r"^https?://", url, re.I):
                why = (
                    "is not an http(s) URL" if self.base_url else "is relative, and the zone has no base_url"
                )
                raise StepFailed(FailureKind.script, f"goto {text!r} {why}")
            await page.goto(url, timeout=ms, wait_until="load")
        elif action == "click":
            await page.click(text, timeout=ms)
            await page.wait_for_load_state(
                "load", timeout=max(1.0, self.deadline - time.perf_counter()) * 1000
            )
        elif action == "fill":
            await page.fill(text, render(step.value or "", self.values), timeout=ms)
        elif action == "select":
            await page.select_option(text, render(step.value or "", self.values), timeout=ms)
        elif action == "expect_text":
            await self._expect_text(render(step.selector or "body", self.values), text, timeout)
        elif action == "expect_url":
            await self._expect_url(text, timeout)
        elif action == "wait":
            pause = step.wait or 0.0
            if pause > self.deadline - time.perf_counter():
                raise StepFailed(FailureKind.timeout, f"a pause of {pause:g}s is longer than the time left")
            await asyncio.sleep(pause)
        elif action == "wait_for":
            await page.wait_for_selector(text, state="visible", timeout=ms)
        else:
            script = load_script(step.script or "")
            try:
                async with asyncio.timeout(timeout):
                    await script(page, dict(self.values))
            except TimeoutError:
                raise StepFailed(
                    FailureKind.timeout, f"script {step.script} did not end within {timeout:g}s"
                ) from None
            except AssertionError as e:
                raise StepFailed(
                    FailureKind.assertion, str(e) or f"script {step.script} failed an assertion"
                ) from None
            except Exception as e:
                if _is_playwright(e):
                    raise
                raise StepFailed(
                    FailureKind.script, f"script {step.script} raised {type(e).__name__}: {e}"
                ) from None

    async def _expect_text(self, selector: str, text: str, timeout: float) -> None:
        locator = self.page.locator(selector).first
        deadline = time.perf_counter() + timeout
        shown = ""
        while True:
            try:
                shown = await locator.inner_text(timeout=max(0.05, deadline - time.perf_counter()) * 1000)
            except Exception as e:
                if not _is_timeout(e):
                    raise
                raise StepFailed(FailureKind.assertion, f"no element matches {selector!r}") from None
            if text in shown:
                return
            if time.perf_counter() >= deadline:
                break
            await asyncio.sleep(
                0.1
            )  # polling the page for a text that may be rendered late, like expect() does
        where = "the page" if selector == "body" else repr(selector)
        raise StepFailed(
            FailureKind.assertion, f"expected text {text!r} in {where}, it shows {_shown(shown)!r}"
        )

    async def _expect_url(self, text: str, timeout: float) -> None:
        try:
            await self.page.wait_for_url(lambda url: text in url, timeout=timeout * 1000)
        except Exception as e:
            if not _is_timeout(e):
                raise
            raise StepFailed(
                FailureKind.assertion, f"expected the URL to contain {text!r}, it is {self._url()!r}"
            ) from None


def phases_of(timing: Mapping[str, object]) -> Phases:
    """Chromium's timing of a request (ms from its start, -1 where it did not happen, as Playwright
    gives it) as blackbox's phases: a kept-alive connection has no resolve, connect or tls."""

    def span(start: str, end: str) -> float:
        a, b = timing.get(start, -1.0), timing.get(end, -1.0)
        if not (isinstance(a, int | float) and isinstance(b, int | float)) or a < 0 or b < 0:
            return 0.0
        return max(0.0, (b - a) / 1000)

    tls = span("secureConnectionStart", "connectEnd")
    return Phases(
        resolve=span("domainLookupStart", "domainLookupEnd"),
        connect=max(0.0, span("connectStart", "connectEnd") - tls),
        tls=tls,
        processing=span("requestStart", "responseStart"),
        transfer=span("responseStart", "responseEnd"),
    )


def _shown(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _TEXT_SHOWN else flat[: _TEXT_SHOWN - 1] + "…"


def _is_playwright(e: BaseException) -> bool:
    return type(e).__module__.startswith("playwright.")


def _is_timeout(e: BaseException) -> bool:
    return _is_playwright(e) and type(e).__name__ == "TimeoutError"


def _kind_of(e: BaseException) -> FailureKind:
    text = str(e)
    for marker, kind in _NET_ERRORS:
        if marker in text:
            return kind
    if _is_timeout(e):
        # Waiting for a selector that never shows is the page's answer, not a slow network.
        return (
            FailureKind.timeout
            if "navigat" in text.lower() or "goto" in text.lower()
            else FailureKind.assertion
        )
    if "has been closed" in text or "crashed" in text.lower():
        return FailureKind.internal
    return FailureKind.script


def _message(e: BaseException) -> str:
    """Playwright's error on one line, without its call log."""
    text = str(e).split("Call log:")[0].strip()
    first = " ".join(text.split())
    for prefix in ("Page.", "Locator.", "Frame."):
        if first.startswith(prefix):
            first = first.split(": ", 1)[-1]
    return first[:300]
