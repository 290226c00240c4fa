"""Special functions against scipy.special / scipy.stats values (scipy 1.17, written down)."""

from __future__ import annotations

import pytest

from livesite.analysis.numeric import (
    beta_quantile,
    beta_regularized,
    binomial_cdf,
    binomial_sf,
    chi2_sf_approx,
    normal_sf,
    quantile,
)


def test_the_incomplete_beta_matches_scipy() -> None:
    assert beta_regularized(2.5, 3.5, 0.3) == pytest.approx(0.29675298929566646, rel=1e-10)
    assert beta_regularized(50, 60, 0.47) == pytest.approx(0.6293226828954606, rel=1e-10)
    assert beta_quantile(0.025, 7, 24) == pytest.approx(0.09933786495801974, rel=1e-9)


def test_binomial_tails_match_scipys_binomtest() -> None:
    assert binomial_sf(18, 18, 0.5454545454545454) == pytest.approx(1.8266450909613488e-05, rel=1e-10)
    assert binomial_sf(7, 30, 0.1) == pytest.approx(0.025826788661909898, rel=1e-10)
    assert binomial_cdf(1, 30, 0.2) == pytest.approx(0.010522490333925749, rel=1e-10)
    assert binomial_sf(0, 10, 0.3) == 1.0
    assert binomial_sf(11, 10, 0.3) == 0.0


def test_the_normal_tail_is_accurate_far_out() -> None:
    assert normal_sf(0.0) == 0.5
    assert normal_sf(10.0) == pytest.approx(7.619853024160527e-24, rel=1e-9)


def test_quantiles_interpolate_like_numpy() -> None:
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([5.0], 0.99) == 5.0
    assert quantile(list(range(101)), 0.99) == pytest.approx(99.0)


def test_the_chi_square_tail_is_close_enough_to_decide_dispersion() -> None:
    # chi2.sf(30, 20) = 0.06985 and chi2.sf(60, 40) = 0.02187
    assert chi2_sf_approx(30, 20) == pytest.approx(0.06985, abs=0.003)
    assert chi2_sf_approx(60, 40) == pytest.approx(0.02187, abs=0.002)
