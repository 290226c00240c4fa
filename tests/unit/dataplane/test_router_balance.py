"""Choosing a backend: exact weighted shares, nothing for weight 0, sticky cohorts that never flip back."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from livesite.dataplane.router.balance import BUCKETS, RoundRobin, bucket, cohort_backend

ORDER = ["stable", "canary"]


def test_round_robin_gives_exactly_the_weighted_share_spread_evenly() -> None:
    rr = RoundRobin({"stable": 90, "canary": 10})
    picks = [rr.pick() for _ in range(100)]
    assert Counter(picks) == {"stable": 90, "canary": 10}
    # smooth: the canary's 10 picks are spread, one in every 10
    assert all(picks[i : i + 10].count("canary") == 1 for i in range(0, 100, 10))


def test_a_backend_with_weight_0_gets_nothing() -> None:
    rr = RoundRobin({"stable": 5, "canary": 0})
    assert {rr.pick() for _ in range(50)} == {"stable"}


def test_round_robin_skips_backends_that_are_not_eligible() -> None:
    rr = RoundRobin({"a": 1, "b": 1, "c": 1})
    assert {rr.pick({"a", "c"}) for _ in range(30)} == {"a", "c"}
    assert rr.pick(set()) is None


def test_new_weights_apply_from_the_next_pick() -> None:
    rr = RoundRobin({"stable": 1, "canary": 1})
    rr.set({"canary": 0})
    assert {rr.pick() for _ in range(10)} == {"stable"}


def test_a_key_always_falls_in_the_same_bucket() -> None:
    assert bucket("user-42") == bucket("user-42")
    assert 0 <= bucket("") < BUCKETS


def test_cohorts_share_users_in_proportion_to_the_weights() -> None:
    seen = Counter(
        cohort_backend(bucket(f"user-{i}"), ORDER, {"stable": 80, "canary": 20}) for i in range(20_000)
    )
    assert 0.18 < seen["canary"] / 20_000 < 0.22


def test_no_cohort_when_every_weight_is_0() -> None:
    assert cohort_backend(5, ORDER, {"stable": 0, "canary": 0}) is None


@settings(max_examples=300, deadline=None)
@given(
    keys=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=40),
    steps=st.lists(st.integers(min_value=0, max_value=100), min_size=2, max_size=12),
)
def test_a_user_never_flips_back_to_stable_while_the_canary_weight_only_grows(
    keys: list[str], steps: list[int]
) -> None:
    for key in keys:
        point = bucket(key)
        path = [cohort_backend(point, ORDER, {"stable": 100 - w, "canary": w}) for w in sorted(steps)]
        once_canary = False
        for backend in path:
            if backend == "canary":
                once_canary = True
            elif once_canary:
                raise AssertionError(f"{key!r} went back to {backend} along {sorted(steps)}: {path}")


@given(point=st.integers(min_value=0, max_value=BUCKETS - 1), weight=st.integers(min_value=0, max_value=100))
def test_the_canary_owns_exactly_the_buckets_below_its_share(point: int, weight: int) -> None:
    got = cohort_backend(point, ORDER, {"stable": 100 - weight, "canary": weight})
    assert got == ("canary" if point < weight * BUCKETS // 100 else "stable")
