"""Running a journey (its spec is ``checks/journey.py``): ordered requests, each judged by its assertions.

Steps run in order on one :class:`~livesite.checks.session.Session` (cookies kept, one connection per
origin). A step's ``extract:`` puts values into variables for later steps (``${steps.login.token}``);
``sleep:`` waits on the event loop, so other checks run meanwhile. The first failing step stops the
journey and the Result fails naming it; ``cleanup:`` steps run afterwards whatever happened — after a
failure, after the journey ran out of time, after a cancellation — each within ``cleanup_timeout``.

Time: ``timeout`` (the check's or the defaults') bounds the steps' requests; the frame adds the
sleeps and the cleanup budget on top (``JourneyCheck.wait_seconds``), and the journey stops its steps
itself at ``timeout`` + sleeps, so there is always time left for cleanup and the steps that ran are
kept in the Result.

``script: package.module:function`` runs an async function given a session instead
(``checks/journey_script.py``).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import JsonValue

from livesite.assertions import AssertionSyntaxError, Observation, parse
from livesite.checks.context import RunContext
from livesite.checks.journey_script import run_script
from livesite.checks.kind import Seen
from livesite.checks.redact import secret_name
from livesite.checks.session import Exchange, Session, step_of
from livesite.checks.variables import UndefinedVariable, render, user_values
from livesite.net.errors import ProbeError
from livesite.results import Failure, FailureKind, Status, StepResult

if TYPE_CHECKING:  # journey.py (the spec) imports this module to run it
    from livesite.checks.journey import Extract, JourneyCheck, Step


def run_values(ctx: RunContext) -> dict[str, str]:
    """``run.*`` and ``user.*`` values of one run."""
    now = ctx.clock.time()
    return {
        **user_values(ctx.identity, now),
        "run.id": uuid.uuid4().hex[:16],
        "run.zone": ctx.zone.name,
        "run.nonce": uuid.uuid4().hex,
        "run.now": str(int(now)),
    }


async def run_journey(spec: JourneyCheck, ctx: RunContext) -> tuple[Seen, dict[str, str]]:
    """Run a journey; also gives the variables it ended with (registration keeps what it learnt)."""
    values = run_values(ctx)
    secrets: list[str] = []
    steps: list[StepResult] = []
    failure: Failure | None = None
    base = spec.timeout if spec.timeout is not None else ctx.defaults.timeout
    budget = base + sum(s.sleep or 0.0 for s in spec.steps)
    t0 = time.perf_counter()
    session = Session(
        ctx, tls=spec.tls, max_body_bytes=spec.max_body_bytes, revision_header=spec.revision_header
    )
    try:
        try:
            async with asyncio.timeout(budget if math.isfinite(budget) else None):
                if spec.script_function() is not None:
                    failure = await run_script(spec, ctx, session, values, secrets, steps)
                else:
                    for step in spec.steps:
                        result = await _step(step, session, values, secrets)
                        steps.append(result)
                        if result.failure is not None and result.status in (Status.failed, Status.error):
                            failure = result.failure
                            break
        except TimeoutError:
            where = ctx.progress.phase
            name = _next_step_name(spec, steps)
            failure = Failure(
                kind=FailureKind.timeout,
                message=f"no answer within the journey's {budget:g}s (stopped during {where})",
                step=name,
            )
            steps.append(
                StepResult(
                    name=name,
                    status=Status.error,
                    started_offset_seconds=steps[-1].started_offset_seconds + steps[-1].duration_seconds
                    if steps
                    else 0.0,
                    duration_seconds=session.offset(),
                    failure=failure,
                )
            )
    finally:
        if spec.cleanup:
            # Shielded: a second cancellation (a monitor shutting down) must not cut cleanup short;
            # its own timeout bounds it.
            cleanup = asyncio.ensure_future(_cleanup(spec, session, values, secrets))
            try:
                done = await asyncio.shield(cleanup)
            except asyncio.CancelledError:
                cleanup.add_done_callback(lambda _: session.close())
                raise
            steps += done
            if failure is None:
                failure = next(
                    (s.failure for s in done if s.failure is not None and s.status is not Status.ok), None
                )
        session.close()
    secrets += session.cookies.values()
    view = Observation(total_seconds=time.perf_counter() - t0)
    revision = next((s.revision for s in reversed(steps) if s.revision), "")
    return Seen(view=view, revision=revision, failure=failure, steps=steps, secrets=secrets), values


def _next_step_name(spec: JourneyCheck, steps: list[StepResult]) -> str:
    if spec.script is not None:
        return f"after {steps[-1].name}" if steps else "script"
    return spec.steps[len(steps)].name if len(steps) < len(spec.steps) else spec.steps[-1].name


async def _cleanup(
    spec: JourneyCheck, session: Session, values: dict[str, str], secrets: list[str]
) -> list[StepResult]:
    done: list[StepResult] = []
    try:
        async with asyncio.timeout(spec.cleanup_timeout):
            for step in spec.cleanup:
                done.append(await _step(step, session, values, secrets, skip_undefined=True))
    except TimeoutError:
        name = spec.cleanup[len(done)].name if len(done) < len(spec.cleanup) else spec.cleanup[-1].name
        done.append(
            StepResult(
                name=name,
                status=Status.error,
                duration_seconds=spec.cleanup_timeout,
                failure=Failure(
                    kind=FailureKind.timeout,
                    message=f"cleanup ran out of its {spec.cleanup_timeout:g}s",
                    step=name,
                ),
            )
        )
    return done


async def _step(
    step: Step, session: Session, values: dict[str, str], secrets: list[str], *, skip_undefined: bool = False
) -> StepResult:
    result = await _run_step(step, session, values, secrets, skip_undefined=skip_undefined)
    # A partner's step is evidence about that partner alone (livesite.incidents).
    return result.model_copy(update={"partner": step.partner}) if step.partner else result


async def _run_step(
    step: Step, session: Session, values: dict[str, str], secrets: list[str], *, skip_undefined: bool = False
) -> StepResult:
    started = session.offset()
    if step.sleep is not None:
        await session.ctx.clock.sleep(step.sleep)
        return StepResult(
            name=step.name,
            status=Status.ok,
            started_offset_seconds=started,
            duration_seconds=session.offset() - started,
        )
    assert step.url is not None
    try:
        url = render(step.url, _QuotedForUrl(values))
        headers = [(k, render(v, values)) for k, v in step.headers.items()]
        body: bytes | None = None
        if step.json_body is not None:
            body = json.dumps(_render_json(step.json_body, values), separators=(",", ":")).encode()
        elif step.form is not None:
            from urllib.parse import urlencode

            body = urlencode({k: render(v, values) for k, v in step.form.items()}).encode()
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        elif step.body is not None:
            body = render(step.body, values).encode()
    except UndefinedVariable as e:
        # Only cleanup can get here (load refuses a reference no earlier step defines): the step
        # that would have defined it never ran, so there is nothing of it to clean up.
        status = Status.ok if skip_undefined else Status.error
        return StepResult(
            name=step.name,
            status=status,
            started_offset_seconds=started,
            duration_seconds=0.0,
            failure=None
            if skip_undefined
            else Failure(kind=FailureKind.internal, message=f"{e}", step=step.name),
            target="skipped: " + str(e) if skip_undefined else "",
        )
    try:
        seen = await session.request(
            step.method,
            url,
            zone=step.zone,
            headers=headers,
            body=body,
            follow_redirects=step.follow_redirects,
        )
    except ProbeError as e:
        return step_of(
            step.name,
            step.rules(),
            None,
            failure=Failure(kind=e.kind, message=e.message),
            started_offset_seconds=started,
            duration_seconds=session.offset() - started,
            target=url,
        )
    rules = step.rules()
    if any("${" in r.expr for r in rules):
        try:
            rules = [parse(render(r.expr, values), budget=r.budget) if "${" in r.expr else r for r in rules]
        except (UndefinedVariable, AssertionSyntaxError) as e:
            return step_of(
                step.name,
                (),
                seen,
                failure=Failure(kind=FailureKind.script, message=f"cannot fill an assertion: {e}"),
            )
    result = step_of(step.name, rules, seen)
    if rules is not step.rules():
        # Keep the expression as written: filled, it would carry the values of its variables.
        written = step.rules()
        result = result.model_copy(
            update={
                "assertions": [
                    o.model_copy(update={"expr": w.expr}) if o.expr != w.expr else o
                    for o, w in zip(result.assertions, written, strict=True)
                ]
            }
        )
    if result.status in (Status.failed, Status.error):
        return result
    for var, rule in step.extract.items():
        value = _extracted(rule, seen, session)
        if value is None:
            return result.model_copy(
                update={
                    "status": Status.failed,
                    "failure": Failure(
                        kind=FailureKind.assertion,
                        message=f"extract {var}: {rule.source}.{rule.arg} is not in the answer",
                        step=step.name,
                    ),
                }
            )
        values[f"steps.{step.name}.{var}"] = value
        if _is_secret(var, rule):
            secrets.append(value)
    return result


class _QuotedForUrl(Mapping[str, str]):
    """Values as they go into a URL: percent-encoded, so an extracted ``a b&c=d`` or a line break
    stays one value and can never split the request line or add a query parameter."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> str:
        return quote(self._values[key], safe="-._~:@!$'()*+,;")

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _render_json(value: JsonValue, values: dict[str, str]) -> JsonValue:
    if isinstance(value, str):
        return render(value, values)
    if isinstance(value, list):
        return [_render_json(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _render_json(v, values) for k, v in value.items()}
    return value


def _is_secret(var: str, rule: Extract) -> bool:
    if rule.secret is not None:
        return rule.secret
    return rule.source == "cookie" or secret_name(var) or secret_name(rule.arg)


def _extracted(rule: Extract, seen: Exchange, session: Session) -> str | None:
    if rule.source == "header":
        return seen.headers.get(rule.arg.lower())
    if rule.source == "cookie":
        from urllib.parse import urlsplit

        return session.cookies.get(urlsplit(seen.url).hostname or "", rule.arg)
    text = seen.body.decode("utf-8", "replace")
    if rule.source == "regex":
        assert rule.pattern is not None
        m = rule.pattern.search(text)
        if m is None:
            return None
        return m.group(1) if m.re.groups else m.group(0)
    try:
        doc: object = json.loads(text)
    except ValueError:
        return None
    for key in rule.path:
        if isinstance(key, int) and isinstance(doc, list) and -len(doc) <= key < len(doc):  # noqa: SIM114
            doc = doc[key]
        elif isinstance(key, str) and isinstance(doc, dict) and key in doc:
            doc = doc[key]
        else:
            return None
    if doc is None:
        return None
    return doc if isinstance(doc, str) else json.dumps(doc)
