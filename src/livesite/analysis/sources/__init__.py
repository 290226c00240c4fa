"""Sources: where a judge's samples come from. I/O lives here and only here.

- :class:`StoreSource`: livesite's own Results, split by revision or cohort;
- :class:`RouterSource`: router statistics, as :class:`BackendSample` snapshots the adapters produce;
- :class:`PromSource`: Prometheus range queries.

Each gives :class:`ContinuousSides` or :class:`CountSides` for ``judge``.
"""

from livesite.analysis.sources.base import (
    ContinuousSides,
    CountSides,
    Sides,
    Source,
    SourceError,
    SourceUnavailable,
)
from livesite.analysis.sources.prometheus import PromContinuous, PromCounts, PromSource
from livesite.analysis.sources.router import BackendSample, LatencyBucket, RouterSource, router_sides
from livesite.analysis.sources.store import StoreSource, sides_from_samples

__all__ = [
    "BackendSample",
    "ContinuousSides",
    "CountSides",
    "LatencyBucket",
    "PromContinuous",
    "PromCounts",
    "PromSource",
    "RouterSource",
    "Sides",
    "Source",
    "SourceError",
    "SourceUnavailable",
    "StoreSource",
    "router_sides",
    "sides_from_samples",
]


def _every_source_is_a_source(
    store: StoreSource, router: RouterSource, prometheus: PromSource
) -> list[Source]:
    """Never called: mypy checks here that each source keeps to the :class:`Source` Protocol."""
    return [store, router, prometheus]
