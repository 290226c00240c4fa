"""The Prometheus source against a real Prometheus (Debian's `prometheus`), scraping a tiny target
whose canary is slower and fails 3% of its requests."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from livesite.analysis import RankSpec, judge, judge_sides
from livesite.analysis.sources import (
    ContinuousSides,
    CountSides,
    PromContinuous,
    PromCounts,
    PromSource,
    SourceError,
    SourceUnavailable,
)
from prom_plugin import Prometheus, free_port


class _Target(BaseHTTPRequestHandler):
    scrapes = 0
    rng = random.Random(7)
    lock = threading.Lock()

    def do_GET(self) -> None:
        with _Target.lock:
            _Target.scrapes += 1
            n = _Target.scrapes
            v1 = 0.100 * (1 + _Target.rng.gauss(0, 0.03))
            v2 = 0.150 * (1 + _Target.rng.gauss(0, 0.03))
        body = (
            "# TYPE app_requests_total counter\n"
            f'app_requests_total{{revision="v1"}} {n * 100}\n'
            f'app_requests_total{{revision="v2"}} {n * 100}\n'
            "# TYPE app_errors_total counter\n"
            'app_errors_total{revision="v1"} 0\n'
            f'app_errors_total{{revision="v2"}} {n * 3}\n'
            "# TYPE app_latency_seconds gauge\n"
            f'app_latency_seconds{{revision="v1"}} {v1}\n'
            f'app_latency_seconds{{revision="v2"}} {v2}\n'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Target)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def scraped(prometheus_for: Callable[[str], Prometheus], target: str) -> tuple[Prometheus, datetime]:
    start = datetime.now(tz=UTC)
    prom = prometheus_for(target)
    # Wait (polling, with a deadline) until Prometheus holds a dozen scrapes of each side.
    prom.wait_for('count_over_time(app_latency_seconds{revision="v2"}[5m]) >= 12', timeout_seconds=60)
    return prom, start


async def test_a_slower_failing_canary_fails_on_prometheus_data(scraped: tuple[Prometheus, datetime]) -> None:
    prom, start = scraped
    end = datetime.now(tz=UTC)
    source = PromSource(
        url=prom.url,
        start=start,
        end=end,
        step_seconds=1,
        continuous=PromContinuous(
            baseline='app_latency_seconds{revision="v1"}', canary='app_latency_seconds{revision="v2"}'
        ),
        counts=PromCounts(
            baseline_events='sum(increase(app_errors_total{revision="v1"}[2s]))',
            baseline_trials='sum(increase(app_requests_total{revision="v1"}[2s]))',
            canary_events='sum(increase(app_errors_total{revision="v2"}[2s]))',
            canary_trials='sum(increase(app_requests_total{revision="v2"}[2s]))',
        ),
    )
    latency = await source.fetch("continuous")
    counts = await source.fetch("counts")
    assert isinstance(latency, ContinuousSides) and isinstance(counts, CountSides)
    assert len(latency.baseline) >= 10 and len(latency.canary) >= 10
    assert all(0.05 < v < 0.2 for v in latency.baseline)
    # A range query with a 1 s step repeats a 1 s scrape's value at most twice: still in time order.
    verdict = judge(latency.baseline, latency.canary, spec=RankSpec(min_effective_samples=3))
    assert verdict.outcome == "fail", verdict.explain()
    assert verdict.effect is not None and 0.3 < verdict.effect.estimate < 0.7
    assert sum(t for _, t in counts.canary) >= 1000
    assert all(e == 0 for e, _ in counts.baseline)
    errors = judge(counts.baseline, counts.canary, "counts")
    assert errors.outcome == "fail", errors.explain()


@pytest.fixture
def up(prometheus_for: Callable[[str], Prometheus], target: str) -> tuple[Prometheus, datetime]:
    start = datetime.now(tz=UTC)
    prom = prometheus_for(target)
    # Three scrapes: the range's steps start at `start`, so the latest scrape may fall after the last step.
    prom.wait_for('count_over_time(app_latency_seconds{revision="v2"}[5m]) >= 3', timeout_seconds=60)
    return prom, start


async def test_queries_a_judge_cannot_use_are_refused_in_prometheus_own_words(
    up: tuple[Prometheus, datetime],
) -> None:
    prom, start = up

    def source(baseline: str, canary: str, client: httpx.AsyncClient | None = None) -> PromSource:
        return PromSource(
            url=prom.url,
            start=start,
            end=datetime.now(tz=UTC),
            step_seconds=1,
            continuous=PromContinuous(baseline=baseline, canary=canary),
            client=client,
        )

    with pytest.raises(SourceError, match="gives 2 series") as raised:
        await source("app_latency_seconds", "up").fetch("continuous")
    assert raised.value.hint is not None and "sum" in raised.value.hint
    with pytest.raises(SourceError, match="no count queries"):
        await source("up", "up").fetch("counts")
    with pytest.raises(SourceError, match="Prometheus refused the query 'sum\\(': bad_data"):
        await source("sum(", "up").fetch("continuous")
    # A series that does not exist is no data, and no data is never a pass.
    async with httpx.AsyncClient() as client:
        sides = await source(
            'app_latency_seconds{revision="v1"}', 'app_latency_seconds{revision="v9"}', client
        ).fetch("continuous")
    assert sides.canary == () and len(sides.baseline) >= 1
    assert judge_sides(sides).outcome == "inconclusive"


async def test_nobody_listening_is_unavailable_not_a_crash() -> None:
    now = datetime.now(tz=UTC)
    source = PromSource(
        url=f"http://127.0.0.1:{free_port()}",
        start=now - timedelta(minutes=5),
        end=now,
        continuous=PromContinuous(baseline="up", canary="up"),
        timeout_seconds=2,
    )
    with pytest.raises(SourceUnavailable, match="cannot be reached") as raised:
        await asyncio.wait_for(source.fetch("continuous"), 10)
    assert raised.value.exit_code == 4
