"""--backend words and the router's settings: good ones read, bad ones refused with the reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from livesite.dataplane.router import BackendError, RouterSettings, parse_backend, parse_backends
from livesite.dataplane.router.stats import BackendStats


def test_a_backend_reads_as_url_equals_weight_with_a_default_name() -> None:
    b = parse_backend("http://127.0.0.1:8001=90", "b1")
    assert (b.name, b.host, b.port, b.weight, b.url) == ("b1", "127.0.0.1", 8001, 90, "http://127.0.0.1:8001")


def test_a_backend_may_carry_its_own_name() -> None:
    b = parse_backend("canary=http://localhost:8002/=10", "b2")
    assert (b.name, b.host, b.port, b.weight) == ("canary", "localhost", 8002, 10)


def test_name_backends_names_them_in_order() -> None:
    specs = parse_backends(["http://a:1=9", "http://b:2=1"], ["stable", "canary"])
    assert [s.name for s in specs] == ["stable", "canary"]


@pytest.mark.parametrize(
    ("word", "words"),
    [
        ("http://127.0.0.1:8001", "no weight"),
        ("http://127.0.0.1:8001=ten", "not a whole number"),
        ("http://127.0.0.1:8001=-1", "0 or more"),
        ("https://127.0.0.1:8001=1", "http://"),
        ("http://127.0.0.1:8001/app=1", "without a path"),
        ("http://127.0.0.1:99999=1", "port"),
        ("bad name=http://127.0.0.1:1=1", "letters, digits"),
    ],
)
def test_a_bad_backend_word_says_what_is_wrong(word: str, words: str) -> None:
    with pytest.raises(BackendError, match=words):
        parse_backend(word, "b1")


def test_names_must_match_the_backends_in_number() -> None:
    with pytest.raises(BackendError, match="2 names for 1 backends"):
        parse_backends(["http://a:1=1"], ["x", "y"])


def test_settings_refuse_duplicate_names_all_zero_weights_and_routes_to_nowhere() -> None:
    a = parse_backend("a=http://h:1=0", "b1")
    with pytest.raises(ValidationError, match="unique"):
        RouterSettings(backends=(a, a))
    with pytest.raises(ValidationError, match="weight above 0"):
        RouterSettings(backends=(a,))
    b = parse_backend("b=http://h:2=1", "b2")
    with pytest.raises(ValidationError, match="unknown backends: ghost"):
        RouterSettings.model_validate(
            {"backends": [b.model_dump()], "routes": [{"header": "X", "value": "1", "backend": "ghost"}]}
        )


def test_stats_count_status_classes_errors_and_a_cumulative_histogram() -> None:
    stats = BackendStats()
    for status, seconds in [(200, 0.0004), (204, 0.003), (503, 0.2), (0, 12.0)]:
        stats.record(status, seconds)
    view = stats.view()
    assert view.status == {"1xx": 0, "2xx": 2, "3xx": 0, "4xx": 0, "5xx": 1}
    assert view.errors == 2  # the 503 and the request nobody answered
    assert view.latency.count == 4
    buckets = dict(view.latency.buckets)
    assert (buckets[0.0005], buckets[0.005], buckets[0.25], buckets[10.0]) == (1, 2, 3, 3)
    assert view.latency_seconds_sum == pytest.approx(12.2034)
