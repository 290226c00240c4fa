from __future__ import annotations

import pytest

from livesite.config import loads
from livesite.errors import ConfigErrors

BASE = """
zones: [{name: z, base_url: "http://127.0.0.1:1"}]
"""


def test_partner_key_is_the_partner_tag() -> None:
    config = loads(BASE + "checks:\n  - {name: pay, url: /p, partner: payments}\n")
    check = config.checks[0]
    assert check.tags == {"partner": "payments"} and check.partners() == {"payments"}
    assert config.partner_names() == ["payments"]
    assert config.partner("payments").open_after == 3


def test_partner_and_tag_that_disagree_are_refused() -> None:
    with pytest.raises(ConfigErrors) as e:
        loads(BASE + "checks:\n  - {name: pay, url: /p, partner: payments, tags: {partner: maps}}\n")
    assert "disagree" in str(e.value)


def test_a_partner_not_declared_is_named_at_its_line() -> None:
    text = (
        BASE
        + "partners:\n  - {name: payments, contact: ops@pay.test}\n"
        + "checks:\n  - {name: pay, url: /p, partner: paymnets}\n"
    )
    with pytest.raises(ConfigErrors) as e:
        loads(text, "c.yaml")
    message = str(e.value)
    assert "c.yaml:6" in message and "did you mean 'payments'" in message


def test_a_partner_declared_twice_is_named_at_its_second_line() -> None:
    text = BASE + "partners:\n  - {name: payments}\n  - {name: payments}\n"
    with pytest.raises(ConfigErrors) as e:
        loads(text, "c.yaml")
    assert "c.yaml:5" in str(e.value) and "partner 'payments' is defined twice" in str(e.value)
    assert "first defined at c.yaml:4" in str(e.value)
