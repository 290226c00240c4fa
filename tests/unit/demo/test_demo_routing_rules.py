"""Pure rules of the front (smooth weighted round-robin) and the edge (what may be cached, what a purge hits)."""

from __future__ import annotations

from collections import Counter

from livesite.demo.edge import cache_ttl, matches
from livesite.demo.front import Balancer
from livesite.demo.proxy import Upstream


def test_weights_90_10_give_exactly_9_of_10_requests() -> None:
    balancer = Balancer({"shop-a1": 90, "shop-a2": 10})
    assert Counter(balancer.pick() for _ in range(100)) == {"shop-a1": 90, "shop-a2": 10}


def test_smooth_round_robin_interleaves_equal_weights() -> None:
    balancer = Balancer({"a": 50, "b": 50})
    assert [balancer.pick() for _ in range(4)] == ["a", "b", "a", "b"]


def test_zero_weight_and_excluded_backends_are_skipped() -> None:
    balancer = Balancer({"a": 0, "b": 1, "c": 1})
    assert {balancer.pick(exclude={"c"}) for _ in range(5)} == {"b"}
    assert balancer.pick(exclude={"b", "c"}) is None


def _upstream(status: int = 200, cache_control: str = "public, max-age=30", **extra: str) -> Upstream:
    headers = [("cache-control", cache_control), *extra.items()]
    return Upstream(status=status, headers=headers, body=b"")


def test_public_max_age_is_cached_for_at_most_the_edge_ttl() -> None:
    assert cache_ttl(_upstream(), request_has_auth=False, edge_ttl_seconds=10) == 10
    assert cache_ttl(_upstream(cache_control="public, max-age=5"), False, 10) == 5


def test_private_errors_cookies_and_authorised_requests_are_not_cached() -> None:
    assert cache_ttl(_upstream(cache_control="no-store"), False, 10) == 0
    assert cache_ttl(_upstream(cache_control="private, max-age=60"), False, 10) == 0
    assert cache_ttl(_upstream(status=500), False, 10) == 0
    assert cache_ttl(_upstream(**{"set-cookie": "a=b"}), False, 10) == 0
    assert cache_ttl(_upstream(), request_has_auth=True, edge_ttl_seconds=10) == 0


def test_purge_patterns_match_exact_paths_or_prefixes() -> None:
    assert matches("/api/products/1", ["/api/products/1"])
    assert not matches("/api/products/10", ["/api/products/1"])
    assert matches("/api/products/10", ["/api/products*"])
