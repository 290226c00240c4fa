"""The contract of a check kind: one module, one :class:`Kind` value, listed once in the registry.

Like blackbox_exporter's prober functions, a kind only *observes*: its ``run`` connects, asks and
returns what it :class:`Seen`. The shared frame (``checks/frame.py``) owns the deadline, the timing,
the assertions, building the Result and redacting it. A kind also says which assertion subjects it
can observe (so an impossible assertion is a config error at load) and which metrics it exports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from livesite.assertions import Observation
from livesite.config.models import CheckBase
from livesite.results import Artifact, Failure, KindObservation, Result, StepResult

if TYPE_CHECKING:
    from livesite.checks.context import RunContext


@dataclass(slots=True)
class Seen:
    """What one run of a kind observed."""

    view: Observation  # what assertions read
    observation: KindObservation | None = None  # what the Result keeps (and metrics export)
    revision: str = ""
    # An answer came, but the kind already knows it is unusable (a redirect loop, a wrong greeting):
    # assertions are not evaluated.
    failure: Failure | None = None
    steps: list[StepResult] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    # Values learnt while running that must never be shown: tokens a login answered with, session
    # cookies the site set. The frame masks them wherever they appear in the Result.
    secrets: list[str] = field(default_factory=list)


Runner = Callable[[CheckBase, "RunContext"], Awaitable[Seen]]


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric a kind exports: Prometheus name, type and help."""

    name: str
    type: str  # gauge | counter
    help: str


# One exported value: (metric name, extra labels such as 'phase="connect"' or "", value).
Sample = tuple[str, str, float]


def _no_samples(result: Result) -> Iterable[Sample]:
    return ()


@dataclass(frozen=True, slots=True)
class Kind:
    """A check kind: its spec model (whose ``SUBJECTS`` it observes), its run, its metrics."""

    spec: type[CheckBase]
    run: Runner
    metrics: Sequence[Metric] = ()
    samples: Callable[[Result], Iterable[Sample]] = _no_samples

    @property
    def name(self) -> str:
        return self.spec.kind_name()

    @property
    def subjects(self) -> frozenset[str]:
        return self.spec.SUBJECTS


# Metrics more than one kind exports.
IP_PROTOCOL = Metric("probe_ip_protocol", "gauge", "IP protocol of the connection: 4 or 6")
FAILED_DUE_TO_REGEX = Metric(
    "probe_failed_due_to_regex", "gauge", "Whether a regular expression assertion failed"
)
