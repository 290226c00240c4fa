"""A chaos experiment, as written in YAML: the steady state, the method of faults, the limits.

Loaded with :func:`livesite.config.load_document`, so a malformed experiment is refused with
file:line before anything is touched. The shape follows Chaos Toolkit's (a steady-state hypothesis,
a method, rollbacks) with livesite's checks as the probes and typed faults as the actions.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, JsonValue, field_validator, model_validator

from livesite.config.models import Model, Name
from livesite.config.types import HttpUrl, Seconds

MAX_TTL_SECONDS = 24 * 3600.0


class Select(Model):
    """Which processes a process fault may touch: every given condition must hold."""

    pid_file: Path | None = None
    pattern: str | None = Field(None, description="a regular expression the command line must match")
    port: int | None = Field(None, ge=1, le=65535, description="the process listens on this TCP port")
    demo: Path | None = Field(None, description="a demo's state file: its components are the candidates")
    component: str | None = Field(None, description="with demo: a name pattern such as shop-a*")

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"pattern {v!r} is not a regular expression: {e}") from None
        return v

    @model_validator(mode="after")
    def _something(self) -> Select:
        if not (self.pid_file or self.pattern or self.port or self.demo):
            raise ValueError(
                "select names no process (hint: give pid_file, pattern, port or demo); "
                "a fault never picks from every process"
            )
        if self.component and not self.demo:
            raise ValueError("component selects among a demo's components (hint: add demo: STATE_FILE)")
        return self


class ProcessFault(Model):
    type: Literal["process"]
    action: Literal["kill", "pause"] = "kill"
    signal: Literal["SIGTERM", "SIGKILL", "SIGINT"] = "SIGKILL"
    select: Select
    count: int = Field(1, ge=1, le=100, description="how many of the matching processes")

    @property
    def signum(self) -> int:
        return int(getattr(signal, self.signal))


class StressFault(Model):
    type: Literal["stress"]
    resource: Literal["cpu", "memory", "disk"]
    cores: float = Field(1.0, gt=0, le=64, description="cpu: how many cores to keep busy")
    megabytes: int = Field(100, ge=1, le=64 * 1024, description="memory or disk: how much")
    directory: Path | None = Field(None, description="disk: where the file goes")
    keep_free_megabytes: int = Field(512, ge=0, description="disk: never fill past this much free space")

    @model_validator(mode="after")
    def _disk_needs_a_place(self) -> StressFault:
        if self.resource == "disk" and self.directory is None:
            raise ValueError("a disk fault fills a file in a directory (hint: directory: /var/tmp/chaos)")
        return self


class Toxic(Model):
    type: Literal["latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data"]
    stream: Literal["upstream", "downstream"] = "downstream"
    toxicity: float = Field(1.0, ge=0, le=1)
    attributes: dict[str, int | float] = Field(default_factory=dict)


class ProxyFault(Model):
    """A toxic (or the proxy down) on a Toxiproxy-compatible API: ours (`livesite chaos proxy`) or Toxiproxy."""

    type: Literal["proxy"]
    api: HttpUrl = Field("http://127.0.0.1:8474", description="the proxy's REST API")
    proxy: str = Field(description="the proxy's name")
    toxic: Toxic | None = None
    down: bool = Field(False, description="disable the proxy instead (connections refused)")

    @model_validator(mode="after")
    def _one(self) -> ProxyFault:
        if (self.toxic is not None) != self.down:
            return self
        raise ValueError(
            "a proxy fault adds a toxic or takes the proxy down (hint: toxic: {...} or down: true)"
        )


class HttpFault(Model):
    """A fault in livesite's router: answer with a status, abort or delay a share of matching requests."""

    type: Literal["http"]
    router: HttpUrl = Field(description="the router's URL (its /-/faults admin API)")
    token: str = Field("", repr=False)
    action: Literal["status", "abort", "delay"] = "status"
    status: int = Field(503, ge=200, le=599)
    delay_ms: int = Field(0, ge=0, le=600_000)
    share: float = Field(1.0, ge=0, le=1)
    match: dict[str, JsonValue] = Field(default_factory=dict, description="path_prefix, header, backend")


class NetworkFault(Model):
    """Drop packets to a loopback TCP port (nftables; root only)."""

    type: Literal["network"]
    port: int = Field(ge=1, le=65535)


FaultSpec = Annotated[
    ProcessFault | StressFault | ProxyFault | HttpFault | NetworkFault, Field(discriminator="type")
]


class Action(Model):
    """One step of the method: a fault held for a duration, or a pause."""

    fault: FaultSpec | None = None
    duration: Seconds = Field(10.0, gt=0, le=MAX_TTL_SECONDS)
    ttl: Seconds | None = Field(
        None, gt=0, le=MAX_TTL_SECONDS, description="the lease's TTL: the fault expires by itself after it"
    )
    pause: Seconds | None = Field(None, ge=0, le=MAX_TTL_SECONDS)

    @model_validator(mode="after")
    def _one(self) -> Action:
        if (self.fault is None) == (self.pause is None):
            raise ValueError("a method step is a fault (fault: {...}, duration:) or a pause (pause: 5s)")
        if self.ttl is not None and self.ttl < self.duration:
            raise ValueError(f"ttl {self.ttl:g}s is shorter than the duration {self.duration:g}s")
        return self

    @property
    def lease_seconds(self) -> float:
        return self.ttl if self.ttl is not None else self.duration + 60.0


class Tolerance(Model):
    pass_rate: float = Field(1.0, ge=0, le=1, description="share of runs that must pass")
    p95: Seconds | None = Field(None, gt=0, description="95th percentile of run duration")


class SteadyState(Model):
    checks: list[str] = Field(min_length=1, description="checks of the config that must hold")
    zones: list[str] | None = None
    interval: Seconds = Field(1.0, ge=0.1, le=3600)
    window: int = Field(5, ge=1, le=1000, description="probe rounds judged before and after the method")
    tolerance: Tolerance = Field(default_factory=Tolerance)


class BlastRadius(Model):
    max_targets: int = Field(1, ge=1, le=1000, description="most processes or endpoints one fault touches")
    max_percent: float = Field(50.0, gt=0, le=100, description="most share of a selection one fault touches")


class Experiment(Model):
    name: Name
    description: str = ""
    config: Path | None = Field(None, description="the livesite config whose checks are the steady state")
    steady_state: SteadyState | None = None
    method: list[Action] = Field(min_length=1)
    rollbacks: list[Action] = Field(default_factory=list, description="faults reverted anyway; extra steps")
    abort_on_violation: bool = Field(True, description="stop the method when the steady state breaks")
    blast_radius: BlastRadius = Field(default_factory=BlastRadius)

    @model_validator(mode="after")
    def _config_for_checks(self) -> Experiment:
        if self.steady_state is not None and self.config is None:
            raise ValueError("a steady state names checks of a config (hint: config: checks.yaml)")
        return self


class ExperimentFile(Model):
    experiments: list[Experiment] = Field(min_length=1)

    def get(self, name: str | None) -> Experiment | None:
        if name is None:
            return self.experiments[0] if len(self.experiments) == 1 else None
        return next((e for e in self.experiments if e.name == name), None)
