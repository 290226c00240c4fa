"""Defect names are parsed and validated before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from livesite.demo import DEFECTS, DefectError, DemoOptions, parse_defects
from livesite.demo.defects import canonical, parse_defect


def test_every_required_defect_is_registered() -> None:
    assert {
        "checkout-errors",
        "slow",
        "broken-link",
        "stale-purge-zone-b",
        "token-no-expiry",
        "stale-zone",
    } <= set(DEFECTS)


def test_parameters_and_defaults_are_parsed_into_typed_fields() -> None:
    defects = parse_defects(["checkout-errors:0.3", "slow", "broken-link", "stale-zone"])
    assert defects.checkout_error_rate == 0.3
    assert defects.extra_latency_ms == 300
    assert defects.broken_link and not defects.token_no_expiry
    assert defects.stale_zone == "zone-b"


def test_unknown_defect_lists_the_valid_ones() -> None:
    with pytest.raises(DefectError, match="unknown defect 'gremlins'") as caught:
        parse_defect("gremlins")
    assert caught.value.hint is not None and "checkout-errors[:RATE]" in caught.value.hint
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("checkout-errors:1.5", "RATE must be a number between 0 and 1"),
        ("checkout-errors:lots", "RATE must be a number between 0 and 1"),
        ("slow:-1", "MS must be whole milliseconds"),
        ("broken-link:yes", "takes no parameter"),
        ("stale-zone:Zone B", "ZONE must be a zone name"),
    ],
)
def test_malformed_parameters_say_what_is_expected(text: str, message: str) -> None:
    with pytest.raises(DefectError, match=message):
        parse_defect(text)


def test_a_defect_given_twice_is_an_error() -> None:
    with pytest.raises(DefectError, match="given twice"):
        parse_defects(["slow:100", "slow:200"])


def test_canonical_spells_out_defaults() -> None:
    assert canonical(["slow", "checkout-errors:1", "token-no-expiry"]) == [
        "slow:300",
        "checkout-errors:1.0",
        "token-no-expiry",
    ]


def test_options_reject_unknown_defects_with_the_demo_error() -> None:
    with pytest.raises(DefectError):
        DemoOptions(state_dir=Path("/tmp/x"), defects=["nope"])
