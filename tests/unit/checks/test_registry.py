"""A check kind is one module registered in one place: config, runs and metrics all follow the registry."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import ClassVar, Literal

import pytest

from livesite.assertions import Observation
from livesite.checks import KINDS, Kind, Metric, RunContext, Sample, Seen, run_check
from livesite.config import CheckBase, Zone, loads
from livesite.errors import ConfigError
from livesite.monitor.metrics import Snapshot, render
from livesite.results import Result, Status


def test_every_kind_is_its_own_module_with_an_async_run_of_spec_and_context() -> None:
    assert set(KINDS) == {
        "http",
        "tcp",
        "tls",
        "dns",
        "links",
        "cache",
        "token",
        "consistency",
        "browser",
        "journey",
    }
    for name, kind in KINDS.items():
        assert kind.name == name
        assert inspect.iscoroutinefunction(kind.run), name
        assert list(inspect.signature(kind.run).parameters) == ["spec", "ctx"], name
        assert kind.run.__module__ == f"livesite.checks.{name}", "the file name is the kind name"
        assert kind.spec.__module__ == f"livesite.checks.{name}", "the spec lives with its kind"
        assert "latency" in kind.subjects


def test_the_unknown_kind_message_lists_the_registered_kinds() -> None:
    with pytest.raises(ConfigError) as e:
        loads("checks:\n  - {name: x, kind: smtp, url: /}\n", file="c.yaml")
    assert "c.yaml:2" in str(e.value)
    assert "dns, http, tcp, tls" in str(e.value) or all(k in str(e.value) for k in KINDS)


@pytest.mark.parametrize(
    ("check", "subject"),
    [
        ("{name: x, url: 'http://a/', assert: ['rcode == NOERROR']}", "rcode"),
        ("{name: x, kind: dns, query: a.example, assert: ['json.ok == true']}", "json"),
        ("{name: x, kind: tls, address: 'a:443', assert: ['status == 200']}", "status"),
        ("{name: x, kind: tcp, address: 'a:1', budget: ['answers contains x']}", "answers"),
    ],
)
def test_an_assertion_on_a_subject_the_kind_cannot_observe_is_a_config_error(
    check: str, subject: str
) -> None:
    with pytest.raises(ConfigError) as e:
        loads(f"checks:\n  - {check}\n", file="c.yaml")
    message = str(e.value)
    assert "c.yaml:2" in message
    assert f"cannot observe {subject!r}" in message


class EchoCheck(CheckBase):
    """A kind that only a test knows: it 'observes' the text it was given."""

    SUBJECTS: ClassVar[frozenset[str]] = frozenset({"latency", "body"})
    kind: Literal["echo"]
    text: str


async def run_echo(spec: CheckBase, ctx: RunContext) -> Seen:
    assert isinstance(spec, EchoCheck)
    ctx.target = f"echo:{spec.text}"
    return Seen(view=Observation(body=spec.text.encode()))


def echo_samples(result: Result) -> Iterable[Sample]:
    yield "echo_runs", "", 1


ECHO = Kind(
    spec=EchoCheck, run=run_echo, metrics=(Metric("echo_runs", "gauge", "Echo runs"),), samples=echo_samples
)


async def test_a_new_kind_is_added_through_the_registry_alone() -> None:
    kinds = {**KINDS, "echo": ECHO}
    config = loads(
        "checks:\n  - {name: hello, kind: echo, text: hi there, assert: ['body contains hi']}\n",
        kinds={name: kind.spec for name, kind in kinds.items()},
    )
    [spec] = config.checks
    assert isinstance(spec, EchoCheck)
    result = await run_check(spec, RunContext(zone=Zone(name="local")), kinds)
    assert result.status is Status.ok and result.kind == "echo" and result.target == "echo:hi there"
    exposition = render(
        Snapshot([result], [], [], [0] * 13, 0.0, 0, 0, 0),
        kinds,
    )
    assert "# TYPE echo_runs gauge" in exposition
    assert 'echo_runs{check="hello",zone="local",cohort="",revision=""} 1' in exposition
    with pytest.raises(ConfigError):  # without the registry entry, the kind does not exist
        loads("checks:\n  - {name: hello, kind: echo, text: hi}\n")
