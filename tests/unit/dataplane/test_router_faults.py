"""The fault hook's core: the share is exact, faults expire at their TTL, matches are precise."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from livesite.dataplane.router.faults import Faults, FaultSpec
from livesite.testing import FakeClock


def _faults(clock: FakeClock) -> Faults:
    return Faults(clock.monotonic, clock.time)


def test_a_fault_hits_exactly_its_share_of_matching_requests() -> None:
    faults = _faults(FakeClock())
    faults.add(FaultSpec(action="status", share=0.25, ttl_seconds=60))
    hits = sum(faults.pick("/", {}, "canary") is not None for _ in range(100))
    assert hits == 25


def test_a_fault_expires_by_itself_at_its_ttl() -> None:
    clock = FakeClock()
    faults = _faults(clock)
    fault = faults.add(FaultSpec(id="f1", action="abort", ttl_seconds=10))
    assert fault.view().expires_at == clock.time() + 10
    clock.advance(9.9)
    assert faults.pick("/", {}, "b1") is not None
    clock.advance(0.2)
    assert faults.pick("/", {}, "b1") is None
    assert faults.views() == []


def test_every_condition_of_a_match_must_hold() -> None:
    faults = _faults(FakeClock())
    faults.add(
        FaultSpec.model_validate(
            {
                "action": "status",
                "ttl_seconds": 60,
                "match": {"path_prefix": "/checkout", "header": {"X-User": "*"}, "backend": "canary"},
            }
        )
    )
    assert faults.pick("/checkout/pay", {"x-user": "u1"}, "canary") is not None
    assert faults.pick("/cart", {"x-user": "u1"}, "canary") is None
    assert faults.pick("/checkout", {}, "canary") is None
    assert faults.pick("/checkout", {"x-user": "u1"}, "stable") is None


def test_a_header_match_with_a_value_needs_that_value() -> None:
    faults = _faults(FakeClock())
    faults.add(
        FaultSpec.model_validate({"action": "abort", "ttl_seconds": 5, "match": {"header": {"X-T": "yes"}}})
    )
    assert faults.pick("/", {"x-t": "no"}, "b1") is None
    assert faults.pick("/", {"x-t": "yes"}, "b1") is not None


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ({"action": "status"}, "ttl_seconds"),
        ({"action": "status", "ttl_seconds": 0}, "greater than 0"),
        ({"action": "delay", "ttl_seconds": 5}, "delay_ms"),
        ({"action": "explode", "ttl_seconds": 5}, "action"),
        ({"action": "status", "ttl_seconds": 5, "share": 1.5}, "share"),
        ({"action": "status", "ttl_seconds": 5, "status": 99}, "status"),
        ({"action": "status", "ttl_seconds": 5, "colour": "red"}, "colour"),
        ({"action": "status", "ttl_seconds": 10**9}, "ttl_seconds"),
    ],
)
def test_a_bad_fault_is_refused_with_its_reason(doc: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        FaultSpec.model_validate(doc)


def test_a_fault_given_the_same_id_replaces_the_old_one() -> None:
    faults = _faults(FakeClock())
    faults.add(FaultSpec(id="x", action="status", status=500, ttl_seconds=5))
    faults.add(FaultSpec(id="x", action="status", status=503, ttl_seconds=5))
    assert [f.status for f in faults.views()] == [503]
    assert faults.remove("x")
    assert not faults.remove("x")
