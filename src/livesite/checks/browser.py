"""The browser kind: a journey through the site in a real Chromium, as one of its users would take it.

Steps (``goto``, ``click``, ``fill``, ``select``, ``expect_text``, ``expect_url``, ``wait``,
``wait_for``, ``script``) run in order in a fresh browser context of a shared Chromium
(``checks/browsing/pool.py``), as the run's identity: its headers (the synthetic-user marker among
them) and route go with every request, its cookies are set before the first step. Each step is a
StepResult with its duration, the page it ended on, the main document's status, revision and
Navigation Timing phases. A failed run saves a screenshot, its console errors and its failed
requests as artifacts of the Result.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from livesite.assertions import Observation
from livesite.checks.browsing import artifacts, identity
from livesite.checks.browsing.journey import Run, Watch
from livesite.checks.browsing.pool import DEFAULT_EXECUTABLE, Browsers, BrowserStartError, find_executable
from livesite.checks.browsing.steps import BrowserStep
from livesite.checks.context import RunContext
from livesite.checks.kind import Kind, Metric, Sample, Seen
from livesite.checks.redact import Redactor, secret_name
from livesite.checks.sockets import time_left
from livesite.checks.variables import references, user_values
from livesite.config.models import CheckBase
from livesite.config.types import Timeout
from livesite.ids import new_id
from livesite.net.errors import ProbeError
from livesite.results import Artifact, Failure, FailureKind, Result, StepResult

if TYPE_CHECKING:
    from playwright.async_api import Page

# Kept back from the check's timeout for saving a failed run's screenshot, so that a step that waits
# until the end still leaves evidence (the frame's deadline stays the hard stop).
_RESERVE_SECONDS = 3.0
_SCREENSHOT_SECONDS = 3.0
MAX_STEPS = 100


class BrowserCheck(CheckBase):
    kind: Literal["browser"]
    url: str | None = Field(None, description="the page opened first; relative to the zone's base_url")
    steps: list[BrowserStep] = Field(default_factory=list, max_length=MAX_STEPS)
    executable: str = Field(DEFAULT_EXECUTABLE, description="the Chromium to drive (Debian's by default)")
    step_timeout: Timeout = Field(
        5.0, description="how long a step may wait for a page, a selector or a text"
    )
    artifacts_dir: Path = Field(
        Path(".livesite/artifacts"),
        description="where failed runs leave screenshots (relative to the config)",
    )
    keep_artifacts: int = Field(20, ge=1, le=10_000, description="failed runs' folders kept per check")

    SUBJECTS: ClassVar[frozenset[str]] = frozenset({"latency"})

    @field_validator("executable")
    @classmethod
    def _executable(cls, v: str) -> str:
        if find_executable(v) is None:
            raise ValueError(
                f"browser executable {v!r} not found or not executable "
                "(hint: apt-get install chromium, or give the path of a Chromium)"
            )
        return v

    @model_validator(mode="after")
    def _something_to_do(self) -> BrowserCheck:
        if not self.steps and self.url is None:
            raise ValueError(
                f"browser check {self.name!r} has no steps "
                "(hint: steps: [{goto: /}, {expect_text: Welcome}], or give url: to just open a page)"
            )
        return self

    def secrets(self) -> list[str]:
        # ${VAR} values typed into a page (fill, select) are credentials more often than not.
        typed = " ".join(s.value or "" for s in self.steps)
        return [v for v in self._substituted if v and v in typed]


async def run(spec: CheckBase, ctx: RunContext) -> Seen:
    assert isinstance(spec, BrowserCheck)
    started = time.perf_counter()
    hard_deadline = started + time_left(ctx, spec)  # where the frame cancels the run
    deadline = hard_deadline - min(_RESERVE_SECONDS, 0.3 * (hard_deadline - started))
    base_url = ctx.zone.base_url
    steps = spec.steps if spec.url is None else [BrowserStep(goto=spec.url), *spec.steps]
    ctx.target = _target(spec, base_url)
    values = _values(ctx)
    learnt = [v for k, v in values.items() if k == "user.totp"]
    browsers = ctx.resources.shared("browsers", Browsers)
    ctx.progress.phase = "starting a browser"
    try:
        pool = await browsers.pool(spec.executable, ctx.zone.resolve)
    except BrowserStartError as e:
        raise ProbeError(FailureKind.internal, str(e)) from None
    watch = Watch(revision_header=ctx.defaults.revision_header)
    saved: list[Artifact] = []
    results: list[StepResult] = []
    failure: Failure | None = None
    ctx.progress.phase = "waiting for a browser"
    try:
        async with pool.context() as context:
            ctx.progress.phase = "processing"
            origins = identity.site_origins(steps, base_url)
            await identity.apply(context, _headers(ctx), ctx.identity.cookies, origins)
            page = await context.new_page()
            watch.attach(page)
            journey = Run(page, steps, values, watch, deadline, spec.step_timeout, base_url, results)
            failure = await journey.go(started)
            learnt += _cookie_secrets(await context.cookies())
            if failure is not None:
                redactor = Redactor.for_check(spec, (*ctx.identity.secrets, *learnt))
                saved = await _evidence(spec, ctx, page, watch, redactor, _masked(steps), hard_deadline)
    except BrowserStartError as e:
        raise ProbeError(FailureKind.internal, str(e)) from None
    except Exception as e:
        # Outside a step (opening the context or the page): the browser's fault, not the site's.
        if not type(e).__module__.startswith("playwright."):
            raise
        first = (str(e).strip().splitlines() or ["unknown error"])[0][:300]
        raise ProbeError(FailureKind.internal, f"the browser {pool.executable} failed: {first}") from None
    return Seen(
        view=Observation(total_seconds=time.perf_counter() - started),
        failure=failure,
        steps=results,
        artifacts=saved,
        secrets=[v for v in learnt if v],
    )


def _cookie_secrets(cookies: Iterable[Mapping[str, object]]) -> list[str]:
    """Cookie values the site set that a Result must not show: those named like credentials, and
    any long enough to be a session id. A short consent cookie ("yes", "en-GB") would otherwise mask
    every "yes" in the Result."""
    out = []
    for cookie in cookies:
        name, value = str(cookie.get("name", "")), str(cookie.get("value", ""))
        if value and (secret_name(name) or len(value) >= 12):
            out.append(value)
    return out


def _headers(ctx: RunContext) -> list[tuple[str, str]]:
    headers = list(ctx.identity.headers)
    if ctx.identity.route:
        headers.append((ctx.defaults.route_header, ctx.identity.route))
    return headers


def _values(ctx: RunContext) -> dict[str, str]:
    now = ctx.clock.time()
    values = user_values(ctx.identity, now)
    values.update({"run.id": new_id(), "run.zone": ctx.zone.name, "run.nonce": secrets.token_hex(8)})
    values["run.now"] = str(int(now))
    return values


def _target(spec: BrowserCheck, base_url: str | None) -> str:
    first = _first_url(spec.steps) if spec.url is None else spec.url
    if first and base_url and not first.startswith(("http://", "https://")):
        return base_url.rstrip("/") + "/" + first.lstrip("/")
    return first or base_url or ""


def _first_url(steps: Iterable[BrowserStep]) -> str:
    return next((s.goto for s in steps if s.goto is not None and "${" not in s.goto), "")


def _masked(steps: Iterable[BrowserStep]) -> list[str]:
    """Inputs a screenshot must not show: password fields, and every field typed a user's secret into."""
    secret_fields = ("user.password", "user.totp")
    out = ["input[type=password]"]
    for step in steps:
        typed = references(step.value) if step.fill is not None and step.value is not None else []
        if step.fill is not None and "${" not in step.fill and any(r in secret_fields for r in typed):
            out.append(step.fill)
    return out


async def _evidence(
    spec: BrowserCheck,
    ctx: RunContext,
    page: Page,
    watch: Watch,
    redactor: Redactor,
    masked: list[str],
    hard_deadline: float,
) -> list[Artifact]:
    # What is left before the frame's deadline, less the time to write the files.
    budget = min(_SCREENSHOT_SECONDS, (hard_deadline - time.perf_counter()) * 0.5)
    shot = await _screenshot(page, masked, budget) if budget > 0.05 else None
    root = (
        spec.artifacts_dir
        if spec.artifacts_dir.is_absolute()
        else ctx.resources.base_dir / spec.artifacts_dir
    )
    folder = artifacts.run_folder(root, spec.name, ctx.now(), secrets.token_hex(3))
    console = list(watch.console)
    if watch.dropped:
        console.append({"type": "livesite", "text": f"{watch.dropped} more events were not kept"})
    return await artifacts.save(folder, shot, console, watch.requests, redactor, spec.keep_artifacts)


async def _screenshot(page: Page, masked: list[str], budget: float) -> bytes | None:
    """The page as it is, secret inputs masked; None when even that cannot be had in ``budget``."""
    try:
        async with asyncio.timeout(budget):
            # A page whose navigation hangs keeps a screenshot waiting: stop loading first, and take
            # the picture of what is shown.
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("Page.stopLoading")
            return await page.screenshot(
                full_page=True, mask=[page.locator(s) for s in masked], timeout=budget * 1000
            )
    except Exception:  # a crashed page leaves no picture; its console and requests still tell
        return None


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def samples(result: Result) -> Iterable[Sample]:
    for step in result.steps:
        yield "livesite_browser_step_duration_seconds", f'step="{_label(step.name)}"', step.duration_seconds
    yield "livesite_browser_steps", "", len(result.steps)


METRICS = (
    Metric("livesite_browser_step_duration_seconds", "gauge", "Seconds each step of a browser journey took"),
    Metric("livesite_browser_steps", "gauge", "Steps a browser journey ran (up to the one that failed)"),
)

KIND = Kind(spec=BrowserCheck, run=run, metrics=METRICS, samples=samples)
