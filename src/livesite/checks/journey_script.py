"""Script journeys: a Python async function given a :class:`JourneySession`, for what YAML cannot say.

``script: package.module:function`` names it (see ``JourneyCheck``); each request it makes through the session is recorded
as a step, judged by the assertions it gives, and a failing step (or ``fail``) ends the journey.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from pydantic import JsonValue

from livesite.assertions import parse
from livesite.checks.context import Credentials, RunContext
from livesite.checks.session import Exchange, Session, step_of
from livesite.net.errors import ProbeError
from livesite.results import Failure, FailureKind, Status, StepResult

if TYPE_CHECKING:
    from livesite.checks.journey import JourneyCheck


class StepFailed(Exception):
    """Raised inside a script journey when a step fails; the journey stops there."""

    def __init__(self, step: StepResult) -> None:
        super().__init__(step.failure.message if step.failure else step.name)
        self.step = step


class JourneySession:
    """What a script journey is given: the user, variables, and requests recorded as steps.

    ``await s.request("login", "POST", "/api/login", json={...}, assertions=["status == 200"])``
    sends one request as the run's user and records it as a step; a failing step raises and ends
    the journey (the Result fails naming it). ``s.fail("cart", "empty")`` fails for a business reason.
    """

    def __init__(
        self,
        session: Session,
        ctx: RunContext,
        values: dict[str, str],
        secrets: list[str],
        steps: list[StepResult] | None = None,
    ) -> None:
        self._session = session
        self.ctx = ctx
        self.variables = values
        self._secrets = secrets
        self.steps: list[StepResult] = [] if steps is None else steps

    @property
    def user(self) -> str:
        return self.ctx.identity.user

    @property
    def cohort(self) -> str:
        return self.ctx.identity.cohort

    @property
    def credentials(self) -> Credentials:
        return self.ctx.identity.credentials or Credentials()

    def secret(self, value: str) -> None:
        """Mask ``value`` wherever it would appear in the Result (a token the script learnt)."""
        if value:
            self._secrets.append(value)

    async def request(
        self,
        name: str,
        method: str,
        url: str,
        *,
        zone: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
        json_body: JsonValue | None = None,
        body: bytes | None = None,
        assertions: Sequence[str] = (),
    ) -> Exchange:
        rules = [parse(a) for a in assertions]
        if not any(r.subject.name == "status" for r in rules):
            rules.append(parse("status in 200..299"))
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":")).encode()
        started = self._session.offset()
        try:
            seen = await self._session.request(method, url, zone=zone, headers=headers, body=body)
        except ProbeError as e:
            failure = Failure(kind=e.kind, message=e.message)
            self._record(
                step_of(
                    name,
                    rules,
                    None,
                    failure=failure,
                    started_offset_seconds=started,
                    duration_seconds=self._session.offset() - started,
                    target=url,
                )
            )
        self._secrets.extend(self._session.cookies.values())
        self._record(step_of(name, rules, seen))
        return seen

    def fail(self, name: str, message: str) -> NoReturn:
        """Fail the journey at step ``name`` for a business reason (Locust's ``failure``)."""
        now = self._session.offset()
        self._record(
            StepResult(
                name=name,
                status=Status.failed,
                started_offset_seconds=now,
                duration_seconds=0.0,
                failure=Failure(kind=FailureKind.script, message=message, step=name),
            )
        )
        raise AssertionError("unreachable: a failed step raises")  # _record raised StepFailed

    async def sleep(self, seconds: float) -> None:
        await self.ctx.clock.sleep(seconds)

    def _record(self, step: StepResult) -> None:
        self.steps.append(step)
        if step.status in (Status.failed, Status.error):
            raise StepFailed(step)


async def run_script(
    spec: JourneyCheck,
    ctx: RunContext,
    session: Session,
    values: dict[str, str],
    secrets: list[str],
    steps: list[StepResult],
) -> Failure | None:
    function = spec.script_function()
    assert function is not None
    journey = JourneySession(session, ctx, values, secrets, steps)
    try:
        await function(journey)  # type: ignore[misc]
    except StepFailed as e:
        return e.step.failure
    except (ProbeError, AssertionError) as e:
        message = e.message if isinstance(e, ProbeError) else (str(e) or "assertion failed")
        name = f"after {journey.steps[-1].name}" if journey.steps else "script"
        return Failure(kind=FailureKind.script, message=message, step=name)
    return None
