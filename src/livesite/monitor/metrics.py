"""Prometheus text exposition of the monitor, with blackbox_exporter's names where meanings match.

Per (check, zone): the latest result's ``probe_*`` gauges, labelled check, zone, cohort, revision.
Our own series are ``livesite_*``: result counters, states, schedule lag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from livesite.checks import KINDS, Kind, Metric
from livesite.monitor.service import Monitor
from livesite.probe import LAG_BUCKETS
from livesite.results import Result
from livesite.states import CheckState

_COMMON = (
    Metric("probe_success", "gauge", "Whether the last run of the check passed (ok or degraded)"),
    Metric("probe_duration_seconds", "gauge", "How long the last run took, in seconds"),
    Metric("probe_dns_lookup_time_seconds", "gauge", "Seconds spent resolving the target's name"),
    Metric("livesite_check_degraded", "gauge", "Whether the last run passed but broke a budget"),
)
_OWN = (
    Metric(
        "livesite_check_state",
        "gauge",
        "State of the check in the zone after flap damping (1 for the current state)",
    ),
    Metric("livesite_check_results_total", "counter", "Results by status"),
    Metric("livesite_schedule_lag_seconds", "histogram", "How late runs started against their schedule"),
    Metric("livesite_checks_in_flight", "gauge", "Runs in progress"),
    Metric(
        "livesite_schedule_skipped_total", "counter", "Ticks skipped because the previous run was still going"
    ),
)


def _help(kinds: Mapping[str, Kind]) -> dict[str, Metric]:
    """Every metric name once, in a stable order: the shared ones, each kind's, then our own."""
    out: dict[str, Metric] = {}
    for metric in (*_COMMON, *(m for kind in kinds.values() for m in kind.metrics), *_OWN):
        out.setdefault(metric.name, metric)
    return out


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(result: Result) -> str:
    return (
        f'check="{_esc(result.check)}",zone="{_esc(result.zone)}",'
        f'cohort="{_esc(result.cohort)}",revision="{_esc(result.revision)}"'
    )


def _value(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6f}"


def _probe_lines(result: Result, kinds: Mapping[str, Kind]) -> Iterable[tuple[str, str]]:
    labels = _labels(result)
    yield "probe_success", f"probe_success{{{labels}}} {1 if result.passed else 0}"
    yield "probe_duration_seconds", f"probe_duration_seconds{{{labels}}} {result.duration_seconds:.6f}"
    yield (
        "probe_dns_lookup_time_seconds",
        f"probe_dns_lookup_time_seconds{{{labels}}} {result.phases.resolve:.6f}",
    )
    yield (
        "livesite_check_degraded",
        f"livesite_check_degraded{{{labels}}} {int(result.status.value == 'degraded')}",
    )
    kind = kinds.get(result.kind)
    if kind is None:
        return
    for name, extra, value in kind.samples(result):
        yield name, f"{name}{{{labels}{',' + extra if extra else ''}}} {_value(value)}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What /metrics shows, copied on the event loop so rendering can happen on another thread."""

    results: list[Result]
    states: list[tuple[tuple[str, str, str], CheckState]]  # (check, zone, cohort)
    totals: list[tuple[tuple[str, str, str], int]]
    lag_counts: list[int]
    lag_total: float
    lag_n: int
    in_flight: int
    skipped: int


def snapshot(monitor: Monitor) -> Snapshot:
    """Cheap copies of the monitor's live data (Results are immutable, so sharing them is safe)."""
    lag = monitor.scheduler.lag
    return Snapshot(
        results=list(monitor.last.values()),
        # A check run per cohort has a state per cohort: the cohort label keeps their series apart.
        states=[
            ((key[0], key[1], monitor.jobs[key].identity.cohort), track.state)
            for key, track in monitor.tracks.items()
        ],
        totals=list(monitor.totals.items()),
        lag_counts=list(lag.counts),
        lag_total=lag.total,
        lag_n=lag.n,
        in_flight=monitor.scheduler.in_flight,
        skipped=monitor.scheduler.skipped,
    )


def render(snap: Snapshot, kinds: Mapping[str, Kind] = KINDS) -> str:
    """The whole exposition, grouped by metric name as the format requires. Pure: safe off the loop."""
    metrics = _help(kinds)
    groups: dict[str, list[str]] = {name: [] for name in metrics}
    for result in snap.results:
        for name, line in _probe_lines(result, kinds):
            groups[name].append(line)
    for key, current in snap.states:
        check, zone = _esc(key[0]), _esc(key[1])
        cohort = f',cohort="{_esc(key[2])}"' if key[2] else ""
        for state in CheckState:
            groups["livesite_check_state"].append(
                f'livesite_check_state{{check="{check}",zone="{zone}"{cohort},state="{state.value}"}} '
                f"{int(current is state)}"
            )
    for (check, zone, status), count in snap.totals:
        groups["livesite_check_results_total"].append(
            f'livesite_check_results_total{{check="{_esc(check)}",zone="{_esc(zone)}",status="{status}"}} {count}'
        )
    cumulative = 0
    for bound, count in zip((*LAG_BUCKETS, float("inf")), snap.lag_counts, strict=True):
        cumulative += count
        le = "+Inf" if bound == float("inf") else repr(bound)
        groups["livesite_schedule_lag_seconds"].append(
            f'livesite_schedule_lag_seconds_bucket{{le="{le}"}} {cumulative}'
        )
    groups["livesite_schedule_lag_seconds"].append(f"livesite_schedule_lag_seconds_sum {snap.lag_total:.6f}")
    groups["livesite_schedule_lag_seconds"].append(f"livesite_schedule_lag_seconds_count {snap.lag_n}")
    groups["livesite_checks_in_flight"].append(f"livesite_checks_in_flight {snap.in_flight}")
    groups["livesite_schedule_skipped_total"].append(f"livesite_schedule_skipped_total {snap.skipped}")
    out: list[str] = []
    for name, lines in groups.items():
        if not lines:
            continue
        metric = metrics[name]
        out.append(f"# HELP {name} {metric.help}")
        out.append(f"# TYPE {name} {metric.type}")
        out.extend(lines)
    return "\n".join(out) + "\n"
