"""The token kind: a login token's whole life, in every zone.

One run logs in (as the leased fake user, ``${user.username}`` / ``${user.password}``, or with a
body given in the spec), reads the access and refresh tokens at their JSON paths, learns the
token's lifetime (the JWT ``exp`` claim when the token is a JWT, else ``expires_in`` in the login
answer, else the configured ``ttl``) and then holds the site to it:

1. the fresh token is accepted in every zone (``probe``, e.g. ``GET /api/me``);
2. with a second login, so the first token stays untouched: ``refresh`` gives a token that is
   accepted, and ``logout`` revokes it in every zone;
3. after the first token's expiry plus ``skew``, it is refused (401 or 403) in every zone.

The wait for expiry is an ``await`` on the run's clock: other checks go on meanwhile. The check's
timeout must cover the longest lifetime it will wait for (``max_lifetime``): left out, it is derived;
given and too short, it is a config error. A token that lives longer than ``max_lifetime`` fails
the run before it waits. Tokens are secrets of the run: the frame masks them in the Result.

Planned once, in the first zone it visits (see ``ACROSS_ZONES``); its Result carries that zone.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from livesite.assertions import Observation
from livesite.checks.context import RunContext
from livesite.checks.kind import Kind, Metric, Sample, Seen
from livesite.checks.requests import (
    RequestSpec,
    as_text,
    check_references,
    excerpt,
    json_path,
    new_nonce,
    prepare,
    read_json,
    request_secrets,
    run_values,
    send,
    target_of,
    visited_zones,
)
from livesite.checks.session import Exchange, Session, step_of
from livesite.config.models import CheckBase
from livesite.config.types import MAX_TIMEOUT_SECONDS, Seconds, Timeout, format_duration, header_name
from livesite.net.errors import ProbeError
from livesite.results import Failure, FailureKind, Result, StepResult, TokenObservation

ACCESS = "steps.login.access_token"
REFRESH = "steps.login.refresh_token"
DEFAULT_MAX_LIFETIME_SECONDS = 15 * 60.0
# Requests of one run besides the wait: two logins, a refresh, a logout and three probes per zone,
# with room for a few zones; each may take its request_timeout.
_REQUESTS_BUDGET = 10


class TokenCheck(CheckBase):
    ACROSS_ZONES: ClassVar[bool] = True

    kind: Literal["token"] = "token"
    login: RequestSpec
    access_token: str = "json.access_token"
    refresh_token: str | None = "json.refresh_token"
    expires_in: str | None = Field("json.expires_in", description="JSON path of the lifetime in seconds")
    ttl: Seconds | None = Field(None, description="the lifetime when the token says nothing of it")
    max_lifetime: Seconds | None = Field(None, description="the longest expiry a run waits for")
    skew: Seconds = Field(2.0, description="waited past expiry, for clocks that differ")
    probe: RequestSpec = Field(description="a request the token must unlock, e.g. GET /api/me")
    refresh: RequestSpec | None = None
    logout: RequestSpec | None = None
    expiry: bool = Field(True, description="wait for the expiry and check that it is refused")
    refused: list[Annotated[int, Field(ge=100, le=599)]] = Field(
        default_factory=lambda: [401, 403], min_length=1
    )
    token_header: str = "Authorization"
    token_prefix: str = "Bearer "
    request_timeout: Timeout = 10.0

    @field_validator("access_token", "refresh_token", "expires_in")
    @classmethod
    def _paths(cls, v: str | None) -> str | None:
        return None if v is None else json_path(v, "a token path")

    @field_validator("token_header")
    @classmethod
    def _header(cls, v: str) -> str:
        return header_name(v, "token_header")

    @model_validator(mode="after")
    def _consistent(self) -> TokenCheck:
        check_references("login", [self.login], ())
        for key in ("probe", "refresh", "logout"):
            check_references(key, [getattr(self, key)], (ACCESS, REFRESH))
        if self.refresh is not None and self.refresh_token is None:
            raise ValueError("refresh: needs refresh_token, the JSON path of the refresh token")
        longest = self.longest_wait()
        needed = longest + _REQUESTS_BUDGET * self.request_timeout
        if needed > MAX_TIMEOUT_SECONDS:
            key = "max_lifetime" if self.max_lifetime is not None else "ttl"
            raise ValueError(
                f"{key}: a run cannot wait {format_duration(longest)} for a token to expire "
                f"(a check's timeout is at most {format_duration(MAX_TIMEOUT_SECONDS)}) "
                "(hint: lower it, or set expiry: false and check expiry with a shorter-lived token)"
            )
        if self.timeout is None:
            object.__setattr__(self, "timeout", needed)
        elif self.timeout < longest + 2 * self.request_timeout:
            raise ValueError(
                f"timeout: {format_duration(self.timeout)} cannot cover a token lifetime of up to "
                f"{format_duration(longest - self.skew)} plus the {format_duration(self.skew)} skew "
                f"(hint: leave timeout out to derive it ({format_duration(needed)}), lower "
                "max_lifetime, or set expiry: false)"
            )
        if self.interval is None and self.expiry:
            # A run lasts about a token's lifetime: scheduled more often, most ticks would be skipped
            # (and counted as a monitor that cannot keep up).
            object.__setattr__(self, "interval", self.timeout)
        return self

    def longest_wait(self) -> float:
        """Seconds a run may wait for expiry: the longest lifetime it accepts plus the skew."""
        if not self.expiry:
            return 0.0
        lifetime = self.max_lifetime or self.ttl or DEFAULT_MAX_LIFETIME_SECONDS
        return lifetime + self.skew

    def secrets(self) -> list[str]:
        return request_secrets(self, [self.login, self.probe, self.refresh, self.logout])


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (unix seconds) of a JWT, read without verifying it; None if not a JWT."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    if isinstance(exp, int | float) and not isinstance(exp, bool) and math.isfinite(exp):
        return float(exp)
    return None


def lifetime(spec: TokenCheck, token: str, body: bytes, now: float) -> tuple[float, str] | None:
    """(expiry as unix seconds, where it was learnt) of a token issued at ``now``."""
    exp = jwt_expiry(token)
    if exp is not None:
        return exp, "jwt"
    if spec.expires_in is not None:
        value = read_json(body, spec.expires_in)
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value >= 0
        ):
            return now + float(value), "expires_in"
    if spec.ttl is not None:
        return now + spec.ttl, "ttl"
    return None


@dataclass(slots=True)
class _Run:
    spec: TokenCheck
    ctx: RunContext
    session: Session
    zones: list[str]
    values: dict[str, str]
    steps: list[StepResult] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    observation: TokenObservation = field(default_factory=TokenObservation)

    def fail(self, step: str, message: str, kind: FailureKind = FailureKind.script) -> None:
        self.failures.append(Failure(kind=kind, message=message, step=step))

    async def call(
        self, name: str, request: RequestSpec, zone: str, token: str | None = None
    ) -> Exchange | None:
        """One request as one step; None when no answer came (the failure is noted)."""
        extra = []
        if token is not None and self.spec.token_header.lower() not in {k.lower() for k in request.headers}:
            extra.append((self.spec.token_header, f"{self.spec.token_prefix}{token}"))
        started = self.session.offset()
        target = target_of(request, self.values, self.session.zone(zone))
        try:
            prepared = prepare(request, self.values)  # a ${user.*} this run's user lacks stops here
            seen = await send(
                self.session,
                prepared,
                zone=zone,
                timeout_seconds=self.spec.request_timeout,
                extra_headers=extra,
            )
        except ProbeError as e:
            failure = Failure(kind=e.kind, message=e.message)
            self.steps.append(
                step_of(
                    name,
                    [],
                    None,
                    failure=failure,
                    started_offset_seconds=started,
                    duration_seconds=self.session.offset() - started,
                    target=target,
                )
            )
            self.failures.append(Failure(kind=e.kind, message=f"{name}: {e.message}", step=name))
            return None
        return seen

    def judged(self, name: str, seen: Exchange, message: str | None) -> None:
        """Keep a step; ``message`` says why it failed (None: it passed)."""
        failure = None if message is None else Failure(kind=FailureKind.script, message=message, step=name)
        self.steps.append(
            step_of(
                name,
                [],
                seen,
                failure=failure,
                started_offset_seconds=seen.started_offset_seconds,
                duration_seconds=seen.duration_seconds,
                target=seen.url,
            )
            if failure is not None
            else step_of(name, [], seen)
        )
        if failure is not None:
            self.failures.append(failure)

    async def log_in(self, name: str) -> tuple[str, str, Exchange] | None:
        spec = self.spec
        seen = await self.call(name, spec.login, self.zones[0])
        if seen is None:
            return None
        if not spec.login.ok(seen.status):
            self.judged(name, seen, f"login answered {seen.status}{excerpt(seen)}")
            return None
        token = as_text(read_json(seen.body, spec.access_token))
        refresh = as_text(read_json(seen.body, spec.refresh_token)) if spec.refresh_token else ""
        self.secrets += [t for t in (token, refresh) if t]
        if not token:
            self.judged(name, seen, f"the login answer has no token at {spec.access_token}")
            return None
        self.judged(name, seen, None)
        return token, refresh, seen

    async def probe_all(self, what: str, token: str, accepted: bool, note: str) -> list[str]:
        """Probe ``token`` in every zone; the zones that did not do as expected."""
        spec = self.spec

        async def one(zone: str) -> tuple[str, Exchange | None]:
            return zone, await self.call(f"{what}@{zone}", spec.probe, zone, token)

        wrong = []
        for zone, seen in await asyncio.gather(*(one(z) for z in self.zones)):
            if seen is None:
                continue
            ok = spec.probe.ok(seen.status) if accepted else seen.status in spec.refused
            message = None
            if not ok:
                wrong.append(zone)
                verdict = "refused" if accepted else "accepted"
                message = f"{zone} {verdict} the token {note} ({seen.status})"
            self.judged(f"{what}@{zone}", seen, message)
        return wrong

    async def refresh_and_logout(self) -> None:
        spec = self.spec
        second = await self.log_in("login-again")
        if second is None:
            return
        token, refresh, _ = second
        self.values[ACCESS], self.values[REFRESH] = token, refresh
        if spec.refresh is not None:
            seen = await self.call("refresh", spec.refresh, self.zones[0])
            if seen is None:
                return
            fresh = as_text(read_json(seen.body, spec.access_token))
            if not spec.refresh.ok(seen.status) or not fresh:
                why = f"answered {seen.status}" if not spec.refresh.ok(seen.status) else "gave no token"
                why += excerpt(seen)
                self.judged("refresh", seen, f"refresh before expiry {why}")
                return
            renewed = as_text(read_json(seen.body, spec.refresh_token)) if spec.refresh_token else ""
            self.secrets += [t for t in (fresh, renewed) if t]
            self.judged("refresh", seen, None)
            token = self.values[ACCESS] = fresh
            self.values[REFRESH] = renewed or refresh
            probe = await self.call(f"refreshed@{self.zones[0]}", spec.probe, self.zones[0], token)
            if probe is not None:
                bad = (
                    None
                    if spec.probe.ok(probe.status)
                    else f"the refreshed token was refused ({probe.status})"
                )
                self.judged(f"refreshed@{self.zones[0]}", probe, bad)
        if spec.logout is not None:
            seen = await self.call("logout", spec.logout, self.zones[0], token)
            if seen is None:
                return
            if not spec.logout.ok(seen.status):
                self.judged("logout", seen, f"logout answered {seen.status}{excerpt(seen)}")
                return
            self.judged("logout", seen, None)
            wrong = await self.probe_all("revoked", token, accepted=False, note="after logout")
            self.observation = self.observation.model_copy(update={"accepted_after_logout": wrong})


async def run(spec: CheckBase, ctx: RunContext) -> Seen:
    assert isinstance(spec, TokenCheck)
    started = ctx.clock.monotonic()
    zones = [z.name for z in visited_zones(spec, ctx)]
    values = run_values(ctx, new_nonce())
    async with Session(ctx) as session:
        r = _Run(spec, ctx, session, zones, values)
        ctx.target = target_of(spec.login, values, session.zone(zones[0]))
        await _lifecycle(r, started)
    failure = None
    if r.failures:
        first = r.failures[0]
        message = "; ".join(f.message for f in r.failures)
        failure = Failure(kind=first.kind, message=message, step=first.step)
    return Seen(
        view=Observation(), observation=r.observation, failure=failure, steps=r.steps, secrets=r.secrets
    )


async def _lifecycle(r: _Run, started: float) -> None:
    spec, clock = r.spec, r.ctx.clock
    first = await r.log_in("login")
    if first is None:
        return
    token, _, answer = first
    r.values[ACCESS], r.values[REFRESH] = token, first[1]
    learnt = lifetime(spec, token, answer.body, clock.time())
    if learnt is None:
        r.fail(
            "login",
            "the token's lifetime is unknown: not a JWT with exp, no expires_in in the answer "
            "(hint: set ttl)",
        )
        return
    expires_at, source = learnt
    lives = expires_at - clock.time()
    r.observation = TokenObservation(lifetime_seconds=round(lives, 3), lifetime_source=source)
    if lives <= 0:
        r.fail(
            "login", f"the login gave a token that expired {format_duration(round(-lives, 3))} ago ({source})"
        )
        return
    if spec.expiry and lives + spec.skew > spec.longest_wait():
        r.fail(
            "login",
            f"the token lives {format_duration(round(lives))} ({source}), longer than this check waits "
            f"({format_duration(spec.longest_wait() - spec.skew)}) (hint: raise max_lifetime, or set expiry: false)",
        )
        return
    if await r.probe_all("accepted", token, accepted=True, note="before its expiry"):
        return  # a fresh token refused: nothing after this says more
    if spec.refresh is not None or spec.logout is not None:
        await r.refresh_and_logout()
    if not spec.expiry:
        return
    left = (spec.timeout or 0) - (clock.monotonic() - started)
    wait = expires_at + spec.skew - clock.time()
    if wait + 2 * spec.request_timeout > left:
        r.fail(
            "expired",
            f"the check's timeout leaves {left:.0f}s, too little to wait {wait:.0f}s for the expiry",
        )
        return
    await clock.sleep(max(0.0, wait))
    wrong = await r.probe_all(
        "expired", token, accepted=False, note=f"after its expiry plus {format_duration(spec.skew)} skew"
    )
    r.observation = r.observation.model_copy(update={"accepted_after_expiry": wrong})


METRICS = (
    Metric("probe_token_lifetime_seconds", "gauge", "The lifetime of the token the last login gave"),
    Metric("probe_token_accepted_after_expiry", "gauge", "Zones that accepted the token after its expiry"),
    Metric("probe_token_accepted_after_logout", "gauge", "Zones that accepted the token after logout"),
)


def samples(result: Result) -> Iterable[Sample]:
    obs = result.observation
    if isinstance(obs, TokenObservation):
        if obs.lifetime_seconds is not None:
            yield "probe_token_lifetime_seconds", "", obs.lifetime_seconds
        yield "probe_token_accepted_after_expiry", "", len(obs.accepted_after_expiry)
        yield "probe_token_accepted_after_logout", "", len(obs.accepted_after_logout)


KIND = Kind(spec=TokenCheck, run=run, metrics=METRICS, samples=samples)
