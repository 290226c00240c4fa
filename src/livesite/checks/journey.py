"""The journey kind: a fake user's task end to end, as ordered steps (run by ``journey_run.py``).

What a journey says in YAML: ordered steps (requests with assertions, values extracted for later
steps, waits), cleanup steps, or a Python script. Everything a run needs is checked at load: a step
that uses a variable no earlier step extracts, a journey with no steps, a script that does not import.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar, Literal

from pydantic import Field, JsonValue, PrivateAttr, field_validator, model_validator

from livesite.assertions import Assertion, parse
from livesite.checks.context import RunContext
from livesite.checks.journey_run import run_journey
from livesite.checks.journey_script import JourneySession, StepFailed
from livesite.checks.kind import Kind, Metric, Sample, Seen
from livesite.checks.variables import reference_problem, references
from livesite.config.models import CheckBase, Model, Name, TlsSettings
from livesite.config.types import AssertionRule, Seconds, Timeout, header_name
from livesite.config.users import ATTRIBUTES
from livesite.results import Result, Status

_SUBJECTS = frozenset({"status", "latency", "header", "body", "json", "size", "redirects"})
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STATUS_2XX = parse("status in 200..299")
MAX_SLEEP_SECONDS = 3600.0
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


def json_path(text: str) -> tuple[str | int, ...]:
    """``a.b[0].c`` → ("a", "b", 0, "c")."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        if text[pos] == ".":
            pos += 1
            continue
        m = _PATH_PART.match(text, pos)
        if m is None:
            raise ValueError(f"cannot read the JSON path {text!r} at {text[pos : pos + 10]!r}")
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not parts:
        raise ValueError("an empty JSON path (hint: json.token, json.items[0].id)")
    return tuple(parts)


class Extract(Model):
    """Where a variable's value comes from: ``json.PATH``, ``header.NAME``, ``cookie.NAME`` or
    ``regex:PATTERN`` (its first group, else the whole match) — written as that text, or as
    ``{from: ..., secret: true}``. A value is a secret (masked in the Result) when its variable or
    its source is named like a credential (token, session, password, key...), when it came from a
    cookie, or when ``secret: true`` says so."""

    source: Literal["json", "header", "cookie", "regex"]
    arg: str
    secret: bool | None = None
    _path: tuple[str | int, ...] = PrivateAttr(default=())
    _pattern: re.Pattern[str] | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _text(cls, data: object) -> object:
        if isinstance(data, dict) and "from" in data:
            data = {**_split(str(data["from"])), **{k: v for k, v in data.items() if k != "from"}}
        elif isinstance(data, str):
            data = _split(data)
        return data

    @model_validator(mode="after")
    def _compile(self) -> Extract:
        if self.source == "json":
            self._path = json_path(self.arg)
        elif self.source == "regex":
            try:
                self._pattern = re.compile(self.arg)
            except re.error as e:
                raise ValueError(f"regex {self.arg!r} does not compile: {e}") from None
        elif self.source == "header":
            header_name(self.arg, "header")
        return self

    @property
    def path(self) -> tuple[str | int, ...]:
        return self._path

    @property
    def pattern(self) -> re.Pattern[str] | None:
        return self._pattern


def _split(text: str) -> dict[str, str]:
    if text.startswith("regex:"):
        return {"source": "regex", "arg": text[len("regex:") :]}
    source, dot, arg = text.partition(".")
    if not dot or source not in ("json", "header", "cookie") or not arg:
        raise ValueError(
            f"cannot read extract {text[:60]!r} (hint: json.token, header.location, cookie.sid or regex:id=(\\d+))"
        )
    return {"source": source, "arg": arg}


class Step(Model):
    """One step: a request with assertions (and values to extract), or a wait (``sleep: 5s``)."""

    name: Name
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    url: str | None = Field(None, description="a path is relative to the zone's base_url")
    zone: Name | None = Field(None, description="another zone of the config for this step")
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: JsonValue | None = Field(None, alias="json")
    form: dict[str, str] | None = None
    body: str | None = None
    follow_redirects: bool = True
    assertions: list[AssertionRule] = Field(default_factory=list, alias="assert")
    extract: dict[str, Extract] = Field(default_factory=dict)
    sleep: Seconds | None = Field(None, description="a wait, without a request; does not block other checks")
    partner: Name | None = Field(None, description="the third party this step speaks to (docs/partners.md)")
    _rules: list[Assertion] | None = PrivateAttr(default=None)

    @field_validator("sleep")
    @classmethod
    def _bounded_wait(cls, v: float | None) -> float | None:
        if v is not None and not 0 < v <= MAX_SLEEP_SECONDS:
            raise ValueError(
                "sleep must be more than 0 and at most 1h (hint: a longer wait belongs in the check's "
                "interval, not inside one run)"
            )
        return v

    @model_validator(mode="after")
    def _request_or_wait(self) -> Step:
        if (self.url is None) == (self.sleep is None):
            raise ValueError(f"step {self.name!r} takes a url (a request) or sleep (a wait), one of them")
        if self.sleep is not None and (self.assertions or self.extract or self.headers):
            raise ValueError(
                f"step {self.name!r} sleeps: it sends nothing, so it has nothing to assert or extract"
            )
        bodies = [
            k
            for k, v in (("json", self.json_body), ("form", self.form), ("body", self.body))
            if v is not None
        ]
        if len(bodies) > 1:
            raise ValueError(f"step {self.name!r}: give one request body, not {' and '.join(bodies)}")
        for rule in self.assertions:
            if rule.subject.name not in _SUBJECTS:
                raise ValueError(
                    f"step {self.name!r}: {rule.expr!r} cannot be observed by a request "
                    f"(hint: a step observes {', '.join(sorted(_SUBJECTS))})"
                )
        for name in self.extract:
            if not _VAR_NAME.match(name):
                raise ValueError(
                    f"step {self.name!r}: {name!r} is not a variable name (hint: letters, digits, _)"
                )
        return self

    def rules(self) -> list[Assertion]:
        """The step's assertions; without one on status, a 2xx is expected (as an http check does)."""
        if self._rules is None:
            implied = [] if any(r.subject.name == "status" for r in self.assertions) else [_STATUS_2XX]
            self._rules = [*self.assertions, *implied]
        return self._rules

    def templates(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Every text of the step that may hold ``${...}`` run-time references, with where it is
        (assertions that name one are parsed again, filled, when the step runs)."""
        if self.url is not None:
            yield ("url",), self.url
        for key, value in self.headers.items():
            yield ("headers", key), value
        if self.json_body is not None:
            yield ("json",), json.dumps(self.json_body)
        for key, value in (self.form or {}).items():
            yield ("form", key), value
        if self.body is not None:
            yield ("body",), self.body
        for i, rule in enumerate(self.assertions):
            if "${" in rule.expr:
                yield ("assert", i), rule.expr

    def defines(self) -> list[str]:
        return [f"steps.{self.name}.{var}" for var in self.extract]


def load_script(target: str) -> Callable[..., object]:
    """``package.module:function`` → the async function. Raises ValueError saying why not."""
    module_name, colon, function = target.partition(":")
    if not colon or not module_name or not function:
        raise ValueError(f"script {target!r} must read package.module:function")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # any import-time error of the user's module is a config error
        raise ValueError(
            f"script {target!r} does not import: {type(e).__name__}: {e} "
            "(hint: the module must be importable where livesite runs: installed, or on PYTHONPATH)"
        ) from None
    found = getattr(module, function, None)
    if found is None or not inspect.iscoroutinefunction(found):
        raise ValueError(f"script {target!r}: {module_name} has no async function {function!r}")
    return found  # type: ignore[no-any-return]


class JourneyCheck(CheckBase):
    SUBJECTS: ClassVar[frozenset[str]] = frozenset({"latency"})

    kind: Literal["journey"] = "journey"
    steps: list[Step] = Field(default_factory=list)
    cleanup: list[Step] = Field(default_factory=list, description="run after the steps, even after a failure")
    script: str | None = Field(None, description="package.module:function, an async function given a session")
    cleanup_timeout: Timeout = Field(10.0, description="the most cleanup may take, after a timeout too")
    tls: TlsSettings = Field(default_factory=TlsSettings)
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=0)
    revision_header: str | None = None
    _script: Callable[..., object] | None = PrivateAttr(default=None)

    @field_validator("script")
    @classmethod
    def _imports(cls, v: str | None) -> str | None:
        if v is not None:
            load_script(v)
        return v

    @model_validator(mode="after")
    def _runnable(self) -> JourneyCheck:
        if not self.steps and self.script is None:
            raise ValueError(
                f"steps: journey {self.name!r} has no steps (hint: list steps: [...], or script: package.module:function)"
            )
        if self.steps and self.script is not None:
            raise ValueError("give steps or script, not both")
        names = [s.name for s in (*self.steps, *self.cleanup)]
        twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if twice is not None:
            raise ValueError(
                f"step {twice!r} is named twice (hint: ${{steps.NAME.VAR}} needs one step per name)"
            )
        for step in self.cleanup:
            if step.extract:
                raise ValueError(f"cleanup step {step.name!r} extracts: nothing runs after cleanup to use it")
        if self.script is not None:
            self._script = load_script(self.script)
        return self

    def partners(self) -> set[str]:
        return super().partners() | {s.partner for s in (*self.steps, *self.cleanup) if s.partner}

    def problems(self) -> Iterator[tuple[tuple[str | int, ...], str, str | None]]:
        """Each ``${...}`` a step uses that has no value when it runs: (where, message, hint)."""
        defined: list[str] = []
        for part, steps in (("steps", self.steps), ("cleanup", self.cleanup)):
            for j, step in enumerate(steps):
                for where, text in step.templates():
                    for name in references(text):
                        problem = reference_problem(name, defined, ATTRIBUTES)
                        if problem is not None:
                            known = ", ".join(defined) or "none yet"
                            yield (
                                (part, j, *where),
                                f"step {step.name!r}: {problem}",
                                f"extracted before it: {known}",
                            )
                if part == "steps":
                    defined += step.defines()

    def script_function(self) -> Callable[..., object] | None:
        return self._script

    def wait_seconds(self) -> float:
        """Time a run spends not waiting on the site: its sleeps, and cleanup's own budget. The frame
        adds it to the timeout, so ``timeout:`` bounds the requests alone."""
        sleeps = sum(s.sleep or 0.0 for s in (*self.steps, *self.cleanup))
        return sleeps + (self.cleanup_timeout if self.cleanup or self.script else 0.0)

    def secrets(self) -> list[str]:
        found = [
            v
            for s in (*self.steps, *self.cleanup)
            for k, v in s.headers.items()
            if k.lower() in _SECRET_HEADERS
        ]
        if self._substituted:
            sent = [t for s in (*self.steps, *self.cleanup) for _, t in s.templates()]
            found += [v for v in self._substituted if any(v in t for t in sent)]
        return found


_SECRET_HEADERS = frozenset({"authorization", "cookie", "x-api-key", "proxy-authorization"})


async def run(spec: CheckBase, ctx: RunContext) -> Seen:
    assert isinstance(spec, JourneyCheck)
    seen, _ = await run_journey(spec, ctx)
    return seen


METRICS = (
    Metric(
        "livesite_journey_step_duration_seconds", "gauge", "Duration of each step of the last journey run"
    ),
    Metric("livesite_journey_step_success", "gauge", "Whether each step of the last journey run passed"),
)


def samples(result: Result) -> Iterable[Sample]:
    for step in result.steps:
        # A script names its steps freely: escaped as the exposition format wants label values.
        name = step.name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        label = f'step="{name}"'
        yield "livesite_journey_step_duration_seconds", label, step.duration_seconds
        yield "livesite_journey_step_success", label, float(step.status in (Status.ok, Status.degraded))


KIND = Kind(spec=JourneyCheck, run=run, metrics=METRICS, samples=samples)

__all__ = ["KIND", "Extract", "JourneyCheck", "JourneySession", "Step", "StepFailed", "run", "run_journey"]
