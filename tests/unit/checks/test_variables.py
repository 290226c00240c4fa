from __future__ import annotations

import pytest

from livesite.checks import Credentials, Identity
from livesite.checks.variables import (
    UndefinedVariable,
    reference_problem,
    references,
    render,
    totp,
    user_values,
)
from livesite.config.interpolate import interpolate


def test_rfc6238_test_vector() -> None:
    # RFC 6238 appendix B, SHA1, secret "12345678901234567890" (base32 below), 8 digits.
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert totp(secret, 59, digits=8) == "94287082"
    assert totp(secret, 1111111109, digits=8) == "07081804"
    assert totp(secret, 2000000000, digits=8) == "69279037"


def test_render_fills_and_refuses_what_it_lacks() -> None:
    values = {"steps.login.token": "t0k", "run.nonce": "n1"}
    assert render("Bearer ${steps.login.token} ${run.nonce}", values) == "Bearer t0k n1"
    with pytest.raises(UndefinedVariable) as e:
        render("${steps.cart.id}", values)
    assert "steps.cart.id" in str(e.value)
    assert references("a ${steps.a.b} ${user.plan} ${HOME}") == ["steps.a.b", "user.plan"]


def test_load_time_interpolation_leaves_runtime_references() -> None:
    found: list[str] = []
    out = interpolate("${HOME_X:-h} ${steps.login.token} ${user.password}", {}, None, found)
    assert out == "h ${steps.login.token} ${user.password}"
    assert found == ["h"]


def test_reference_problems_say_what_exists() -> None:
    assert reference_problem("steps.login.token", ["steps.login.token"]) is None
    assert "earlier step" in (reference_problem("steps.cart.id", ["steps.login.token"]) or "")
    assert reference_problem("user.plan", [], ["plan"]) is None
    assert "password" in (reference_problem("user.shoe", []) or "")
    assert reference_problem("run.nonce", []) is None


def test_user_values_and_secrets() -> None:
    who = Identity(
        user="u1",
        cohort="pro-eu",
        credentials=Credentials("ann", "s3cret", "GEZDGNBVGY3TQOJQ", (("plan", "pro"),)),
    )
    values = user_values(who, 59)
    assert values["user.username"] == "ann" and values["user.plan"] == "pro"
    assert len(values["user.totp"]) == 6
    assert "s3cret" in who.secrets and "GEZDGNBVGY3TQOJQ" in who.secrets
