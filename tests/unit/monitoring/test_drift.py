"""Drift statistics against injected shifts of known size, a no-shift control and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from glmops.data.profile import OTHER, _edges, bin_shares
from glmops.monitoring.drift import (
    PSI_FLOOR,
    adjust_pvalues,
    binned_ks,
    categorical_drift,
    js_distance,
    missing_rate_pvalue,
    numeric_drift,
    psi,
)

N = 20_000


def _numeric_profile(x: np.ndarray, n_bins: int = 10) -> dict:
    """The reference entry build_profile stores for a numeric column."""
    present = x[~np.isnan(x)]
    edges = _edges(present, None, n_bins)
    return {
        "kind": "numeric",
        "edges": edges.tolist(),
        "shares": bin_shares(x, edges).tolist(),
        "missing_rate": float(np.isnan(x).mean()),
        "mean": float(present.mean()),
        "std": float(present.std()),
    }


@pytest.fixture(scope="module")
def reference() -> tuple[np.ndarray, dict]:
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 2.0, N)
    x[rng.uniform(size=N) < 0.05] = np.nan
    return x, _numeric_profile(x)


def _window(seed: int, *, loc=10.0, scale=2.0, missing=0.05, n=N) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(loc, scale, n)
    x[rng.uniform(size=n) < missing] = np.nan
    return x


def test_psi_of_known_shares():
    r = np.array([0.5, 0.5])
    w = np.array([0.25, 0.75])
    expected = (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5)
    assert psi(r, w) == pytest.approx(expected, rel=1e-12)
    assert psi(r, r) == 0.0
    assert psi(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(
        2 * (1 - PSI_FLOOR) * np.log((1 - PSI_FLOOR) / PSI_FLOOR) / (1 + PSI_FLOOR), rel=1e-3
    )


def test_no_shift_is_quiet(reference):
    _, profile = reference
    for seed in range(1, 6):
        d = numeric_drift("x", profile, _window(seed), n_reference=N)
        assert d.status == "ok" and d.psi < 0.01
        assert d.p_value > 1e-3 and d.missing_p_value > 1e-3


@pytest.mark.parametrize(
    ("shift", "expected"),
    [
        ({"loc": 12.0}, "alert"),
        ({"loc": 11.0}, "warn"),
        ({"scale": 3.0}, "warn"),
        ({"loc": 10.3}, "ok"),
    ],
    ids=["mean+1sd", "mean+0.5sd", "scale*1.5", "mean+0.15sd"],
)
def test_numeric_shifts_of_known_size(reference, shift, expected):
    _, profile = reference
    d = numeric_drift("x", profile, _window(7, **shift), n_reference=N)
    assert d.status == expected or (expected == "warn" and d.status == "alert")
    assert d.p_value < 1e-6  # even the small shift is significant at this size
    assert d.missing_p_value > 1e-3


def test_missing_rate_shift_is_detected_where_values_look_alike(reference):
    _, profile = reference
    d = numeric_drift("x", profile, _window(8, missing=0.20), n_reference=N)
    assert d.psi < PSI_FLOOR * 100  # the present values did not move ...
    assert d.missing_rate_window == pytest.approx(0.20, abs=0.01)
    assert d.missing_p_value < 1e-12  # ... the missing rate did


def test_binned_ks_is_within_its_bound_of_the_exact_statistic(reference):
    raw, profile = reference
    window = _window(9, loc=10.8, scale=2.4)
    d = numeric_drift("x", profile, window, n_reference=N)
    exact = stats.ks_2samp(raw[~np.isnan(raw)], window[~np.isnan(window)]).statistic
    assert d.statistic <= exact + 1e-12
    assert exact - d.statistic <= d.ks_bound


def test_binned_ks_p_value_is_conservative():
    r = np.full(10, 0.1)
    d, p, _ = binned_ks(r, r, 1000, 1000)
    assert d == 0.0 and p == pytest.approx(1.0)
    w = np.array([0.2] + [0.8 / 9] * 9)
    d, p, _ = binned_ks(r, w, 1000, 1000)
    assert d == pytest.approx(0.1) and p == pytest.approx(stats.kstwo.sf(0.1, 500))


def test_wasserstein_is_in_reference_sigmas(reference):
    _, profile = reference
    moved = numeric_drift("x", profile, _window(10, loc=12.0), n_reference=N)
    # a one-sigma mean shift moves the mass by about one sigma (binning blurs the tails)
    assert 0.7 < moved.wasserstein < 1.3
    still = numeric_drift("x", profile, _window(11), n_reference=N)
    assert still.wasserstein < 0.05


def _categorical_profile() -> dict:
    return {
        "kind": "categorical",
        "categories": ["a", "b", "c", OTHER],
        "shares": [0.5, 0.3, 0.15, 0.05],
        "missing_rate": 0.0,
    }


def _labels(shares: dict, n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    keys = list(shares)
    return list(rng.choice(np.array(keys, dtype=object), size=n, p=list(shares.values())))


def test_categorical_no_shift_and_pooled_rare_categories():
    profile = _categorical_profile()
    # "d" and "e" were pooled under OTHER in training: they are not unseen
    labels = _labels({"a": 0.5, "b": 0.3, "c": 0.15, "d": 0.03, "e": 0.02}, N, 1)
    d = categorical_drift("c", profile, labels, n_reference=N)
    assert d.status == "ok" and d.psi < 0.01 and d.p_value > 1e-3
    assert d.unseen_share == 0.0


def test_categorical_share_change_and_unseen_category():
    profile = _categorical_profile()
    moved = categorical_drift(
        "c", profile, _labels({"a": 0.3, "b": 0.5, "c": 0.2}, N, 2), n_reference=N
    )
    assert moved.status in ("warn", "alert") and moved.p_value < 1e-12
    # a profile that pooled nothing: a category it does not list is new
    listed = {"kind": "categorical", "categories": ["a", "b", "c"], "shares": [0.5, 0.3, 0.2]}
    fresh = _labels({"a": 0.5, "b": 0.3, "c": 0.2}, N, 3)
    fresh = ["z" if i % 20 == 0 else v for i, v in enumerate(fresh)]  # 5% never seen
    unseen = categorical_drift("c", listed, fresh, n_reference=N)
    assert unseen.unseen_share == pytest.approx(0.05, abs=1e-9)
    assert unseen.p_value < 1e-12 and unseen.status != "ok"


def test_categorical_missing_rate():
    profile = _categorical_profile()
    labels = _labels({"a": 0.5, "b": 0.3, "c": 0.2}, 2000, 4)
    labels[:200] = [None] * 200
    d = categorical_drift("c", profile, labels, n_reference=N)
    assert d.missing_rate_window == pytest.approx(0.1)
    assert d.missing_p_value < 1e-12  # the reference never had a missing value


def test_missing_rate_pvalue_is_a_two_sample_test():
    assert missing_rate_pvalue(0.05, 2000, 70, 1000) == pytest.approx(
        stats.fisher_exact([[100, 1900], [70, 930]]).pvalue
    )
    assert missing_rate_pvalue(0.0, 100, 0, 100) == 1.0
    assert missing_rate_pvalue(0.3, 100, 0, 0) == 1.0


def test_js_distance_bounds():
    r = np.array([0.5, 0.5, 0.0])
    assert js_distance(r, r) == 0.0
    assert js_distance(r, np.array([0.0, 0.0, 1.0])) == pytest.approx(1.0)


def test_benjamini_hochberg_matches_scipy():
    p = [0.01, 0.04, 0.03, 0.5, 0.002]
    np.testing.assert_allclose(adjust_pvalues(p), stats.false_discovery_control(p))
    assert adjust_pvalues([]) == []


def test_empty_window_is_not_drift(reference):
    _, profile = reference
    d = numeric_drift("x", profile, np.array([]), n_reference=N)
    assert d.psi == 0.0 and d.p_value == 1.0 and d.status == "ok"
    c = categorical_drift("c", _categorical_profile(), [], n_reference=N)
    assert c.psi == 0.0 and c.p_value == 1.0
