"""A rollout, as written in YAML: which router, which backends, the strategy, the analysis, the gates.

Loaded with :func:`livesite.config.load_document`, so a malformed spec is refused with file:line
before any traffic moves. Names follow Argo Rollouts and Flagger where users know them
(``set_weight``, ``pause``, ``analysis``, ``failure_limit``, the webhook phases).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from livesite.analysis import Threshold
from livesite.config.models import Model, Name, _secret_from_file
from livesite.config.types import HttpUrl, Seconds
from livesite.rollout import routers
from livesite.rollout.routers import BuiltinSettings, HaproxyLayout, NginxLayout, Router


class BuiltinRouter(BuiltinSettings):
    """livesite's own router (``livesite router``) or the demo's fronts, through the admin API."""

    type: Literal["builtin"]
    url: HttpUrl = Field(description="the router's base URL, http://HOST:PORT")
    token: str = Field("", repr=False, description="or token_file: the admin token")

    @model_validator(mode="before")
    @classmethod
    def _file(cls, data: object, info: ValidationInfo) -> object:
        return _secret_from_file(data, info, "token")


class HaproxyRouter(HaproxyLayout):
    """HAProxy through its Runtime API (``stats socket ... level admin``); docs/routers.md."""

    type: Literal["haproxy"]


class NginxRouter(NginxLayout):
    """nginx with a generated upstream include and a reload; docs/routers.md."""

    type: Literal["nginx"]


def router_of(spec: RouterSpec) -> Router:
    """The router a spec names."""
    data = spec.model_dump(exclude={"type"})
    if isinstance(spec, BuiltinRouter):
        return routers.BuiltinRouter(BuiltinSettings(**data))
    if isinstance(spec, HaproxyRouter):
        return routers.HaproxyRouter(HaproxyLayout(**data))
    return routers.NginxRouter(NginxLayout(**data))


RouterSpec = Annotated[BuiltinRouter | HaproxyRouter | NginxRouter, Field(discriminator="type")]


class Route(Model):
    """Requests that carry this header (or cookie) value go to ``backend`` whatever the weights."""

    header: str | None = None
    cookie: str | None = None
    value: str
    backend: str | None = None  # default: the canary

    @model_validator(mode="after")
    def _one(self) -> Route:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("a route matches a header or a cookie (hint: give one of header:, cookie:)")
        return self


class SetWeight(Model):
    set_weight: int = Field(ge=0, le=100, description="the canary's share of traffic, in percent")


class Pause(Model):
    pause: Seconds | Literal["until-promoted"]


class AnalysisStep(Model):
    class Window(Model):
        window: Seconds = Field(60.0, gt=0, description="judge the last this long")

    analysis: Window


class Pin(Model):
    """Pin matching requests (fake users with ``X-Livesite-Route: canary``) to the canary first."""

    pin: Route


class Unpin(Model):
    unpin: Literal[True]


Step = SetWeight | Pause | AnalysisStep | Pin | Unpin


class Canary(Model):
    steps: list[Step] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _weights_grow(cls, steps: list[Step]) -> list[Step]:
        weights = [s.set_weight for s in steps if isinstance(s, SetWeight)]
        if any(b < a for a, b in itertools.pairwise(weights)):
            raise ValueError(
                f"set_weight goes down ({' → '.join(map(str, weights))}); a canary's weight only grows, "
                "so that sticky users never flip back (hint: abort or roll back instead)"
            )
        return steps


class BlueGreen(Model):
    preview: Route = Field(description="how checks reach green before the switch (e.g. a route header)")
    preview_window: Seconds = Field(60.0, gt=0, description="how long green is judged before the switch")
    switch_back_window: Seconds = Field(300.0, ge=0, description="blue stays warm this long after")
    auto_promote: bool = True


class Metric(Model):
    """One signal the judge compares between stable and canary."""

    name: Name
    source: Literal["results", "router", "prometheus"]
    measure: Literal["errors", "latency"] = "errors"
    check: str | None = Field(None, description="results: the check whose Results are split by revision")
    query: str | None = Field(
        None, description="prometheus, latency: PromQL with {backend} where the backend's name goes"
    )
    events: str | None = Field(None, description="prometheus, errors: PromQL of errors per {backend}")
    trials: str | None = Field(None, description="prometheus, errors: PromQL of requests per {backend}")
    prometheus: str | None = Field(None, description="prometheus: its base URL")
    direction: Literal["increase", "decrease", "either"] = "increase"
    threshold: str | None = Field(None, description='also judge the canary alone, e.g. "error_rate < 1%"')
    critical: bool = True

    @model_validator(mode="after")
    def _source_needs(self) -> Metric:
        if self.source == "results" and not self.check:
            raise ValueError("a results metric names its check (hint: check: checkout)")
        if self.source == "prometheus":
            if not self.prometheus:
                raise ValueError("a prometheus metric needs prometheus: (its URL)")
            if self.measure == "latency" and not self.query:
                raise ValueError("a prometheus latency metric needs query: (PromQL with {backend})")
            if self.measure == "errors" and not (self.events and self.trials):
                raise ValueError(
                    "a prometheus errors metric needs events: and trials: (PromQL with {backend})"
                )
        if self.threshold is not None:
            try:
                Threshold.parse(self.threshold)
            except ValueError as e:
                raise ValueError(f"threshold: {e}") from None
        return self


class Analysis(Model):
    interval: Seconds = Field(10.0, ge=0.1, description="how often the judge runs while traffic moves")
    window: Seconds = Field(60.0, gt=0, description="the judge looks back this long")
    failure_limit: int = Field(0, ge=0, description="failed analyses tolerated (Argo's default: 0)")
    inconclusive_limit: int = Field(
        3, ge=0, description="inconclusive analyses in a row before no_data applies"
    )
    no_data: Literal["pause", "fail"] = Field("pause", description="never 'pass': what no data does")
    metrics: list[Metric] = Field(default_factory=list)


Phase = Literal[
    "confirm-rollout", "pre-rollout", "rollout", "confirm-promotion", "post-rollout", "rollback", "event"
]


class Webhook(Model):
    """Flagger's gates: POST {name, namespace, phase, checksum, metadata}; any 2xx lets it proceed."""

    name: Name
    phase: Phase
    url: HttpUrl
    timeout: Seconds = Field(10.0, gt=0, le=300)
    metadata: dict[str, str] = Field(default_factory=dict)


class Strategy(Model):
    canary: Canary | None = None
    blue_green: BlueGreen | None = None

    @model_validator(mode="after")
    def _one(self) -> Strategy:
        if (self.canary is None) == (self.blue_green is None):
            raise ValueError("give one strategy (hint: canary: {steps: [...]} or blue_green: {...})")
        return self


class Backends(Model):
    """The router's two backends (for blue-green: blue is stable, green is canary)."""

    stable: str = "stable"
    canary: str = "canary"

    @model_validator(mode="after")
    def _two(self) -> Backends:
        if self.stable == self.canary:
            raise ValueError(f"stable and canary are both {self.stable!r} (hint: two backends of the router)")
        return self


class RolloutSpec(Model):
    """One rollout. Results metrics compare the Results of two revisions (fake users pinned to the
    canary against the rest): name them, or the check's Results carry no side to compare."""

    name: Name
    router: RouterSpec
    backends: Backends = Field(default_factory=Backends)
    stable_revision: str | None = Field(None, description="split Results by these; default: as seen")
    canary_revision: str | None = None
    config: Path | None = Field(None, description="the livesite config whose checks feed results metrics")
    strategy: Strategy
    analysis: Analysis = Field(default_factory=Analysis)
    on_failure: Literal["rollback", "freeze"] = "rollback"
    webhooks: list[Webhook] = Field(default_factory=list)

    @model_validator(mode="after")
    def _revisions_for_results(self) -> RolloutSpec:
        if any(m.source == "results" for m in self.analysis.metrics) and not (
            self.stable_revision and self.canary_revision
        ):
            raise ValueError(
                "results metrics compare two revisions (hint: stable_revision: v1, canary_revision: v2)"
            )
        return self


class RolloutFile(Model):
    """A rollout document: ``rollouts:`` with one or more rollouts."""

    rollouts: list[RolloutSpec] = Field(min_length=1)

    def get(self, name: str) -> RolloutSpec | None:
        return next((r for r in self.rollouts if r.name == name), None)
