"""Coefficient stability on hand-built stacks, bootstrap reproducibility, model health."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.sparse as sp

from glmops.errors import InvalidInputError
from glmops.evaluation import bootstrap_coefficients, coefficient_stability, model_health

# 5 resamples x 4 features
STACK = np.array(
    [
        [1.0, 0.0, 2.0, -1.0],
        [1.0, 0.0, -2.0, 0.0],
        [2.0, 0.05, 2.0, 0.0],
        [1.0, 0.0, 2.0, 0.0],
        [1.0, 0.0, 2.0, 1.0],
    ]
)
NAMES = ["a", "b", "c", "d"]


def test_selection_and_sign_flips_against_majority():
    out = coefficient_stability(STACK, NAMES)
    assert out["features"] == NAMES
    assert out["n_resamples"] == 5
    np.testing.assert_allclose(out["selection_frequency"], [1.0, 0.2, 1.0, 0.4])
    # c: one negative among five; d: -1 vs +1 ties to "+", so the -1 flips
    np.testing.assert_allclose(out["sign_flips"], [0.0, 0.0, 0.2, 0.2])
    np.testing.assert_allclose(out["mean"], STACK.mean(axis=0))
    np.testing.assert_allclose(out["std"], STACK.std(axis=0))
    cv = out["cv"]
    assert cv[0] == pytest.approx(STACK[:, 0].std() / 1.2)
    assert math.isnan(cv[3])  # mean 0
    # b (20%, the edge counts), c (flips) and d (40%) are unstable; a is not
    assert out["summary"]["n_unstable"] == 3
    assert out["summary"]["unstable_features"] == ["b", "c", "d"]
    assert out["summary"]["mean_selection_frequency"] == pytest.approx(0.65)
    json.dumps(out, allow_nan=True)


def test_sign_flips_against_reference_and_tol():
    out = coefficient_stability(STACK, NAMES, reference=[1.0, 0.0, -2.0, -1.0], tol=0.1)
    # b is never selected above tol
    np.testing.assert_allclose(out["selection_frequency"], [1.0, 0.0, 1.0, 0.4])
    # c: reference negative, four positives flip; d: the +1 flips; b: reference 0 -> majority
    np.testing.assert_allclose(out["sign_flips"], [0.0, 0.0, 0.8, 0.2])
    assert out["summary"]["unstable_features"] == ["c", "d"]


def test_three_dimensional_stack_nests_per_class():
    stack = np.stack([STACK, -STACK * (np.arange(4) != 0)], axis=1)  # (5, 2, 4)
    out = coefficient_stability(stack, NAMES, reference=np.stack([STACK[0], -STACK[0]]))
    freq = np.asarray(out["selection_frequency"])
    assert freq.shape == (2, 4)
    np.testing.assert_allclose(freq[0], [1.0, 0.2, 1.0, 0.4])
    np.testing.assert_allclose(freq[1], [0.0, 0.2, 1.0, 0.4])
    flips = np.asarray(out["sign_flips"])
    np.testing.assert_allclose(flips[1], [0.0, 0.0, 0.2, 0.2])
    assert np.asarray(out["mean"]).shape == (2, 4)
    # a feature counts once even when unstable for both classes
    assert out["summary"]["n_unstable"] == 3


def test_stability_rejects_bad_shapes():
    with pytest.raises(InvalidInputError, match="feature_names"):
        coefficient_stability(STACK, NAMES[:3])
    with pytest.raises(InvalidInputError, match="reference"):
        coefficient_stability(STACK, NAMES, reference=[1.0, 2.0])
    with pytest.raises(InvalidInputError, match="coefs"):
        coefficient_stability(STACK[0], NAMES)


def _lstsq_fit(X, y, sample_weight):
    Xd = X.toarray() if sp.issparse(X) else X
    w = np.ones(Xd.shape[0]) if sample_weight is None else sample_weight
    sw = np.sqrt(w)
    return np.linalg.lstsq(Xd * sw[:, None], y * sw, rcond=None)[0]


def _problem(n=60, p=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=n)
    return X, y


def test_bootstrap_is_reproducible_and_reports_progress():
    X, y = _problem()
    calls = []
    first = bootstrap_coefficients(
        _lstsq_fit, X, y, n_resamples=7, random_state=3, progress=lambda d, t: calls.append((d, t))
    )
    assert first.shape == (7, 3)
    assert calls == [(i, 7) for i in range(1, 8)]
    again = bootstrap_coefficients(_lstsq_fit, X, y, n_resamples=7, random_state=3)
    np.testing.assert_array_equal(first, again)
    other = bootstrap_coefficients(_lstsq_fit, X, y, n_resamples=7, random_state=4)
    assert not np.allclose(first, other)
    # resamples differ from each other and scatter around the full fit
    assert np.unique(first, axis=0).shape[0] == 7
    np.testing.assert_allclose(first.mean(axis=0), _lstsq_fit(X, y, None), atol=0.3)


def test_bootstrap_takes_sparse_rows_and_resamples_weights():
    X, y = _problem()
    w = np.random.default_rng(1).uniform(0.5, 2.0, 60)
    seen = []

    def fit(Xb, yb, wb):
        seen.append(wb)
        return _lstsq_fit(Xb, yb, wb)

    dense = bootstrap_coefficients(fit, X, y, w, n_resamples=3, random_state=0)
    sparse = bootstrap_coefficients(_lstsq_fit, sp.csc_matrix(X), y, w, n_resamples=3)
    np.testing.assert_allclose(dense, sparse, rtol=1e-10)
    assert all(s is not None and s.shape == (60,) for s in seen)
    assert set(np.round(seen[0], 12)) <= set(np.round(w, 12))
    # 3-d stacks for multinomial coefficient matrices
    stacked = bootstrap_coefficients(
        lambda Xb, yb, wb: np.ones((2, 3)), X, y, n_resamples=2, random_state=0
    )
    assert stacked.shape == (2, 2, 3)


def test_bootstrap_rejects_bad_input():
    X, y = _problem()
    with pytest.raises(InvalidInputError, match="n_resamples"):
        bootstrap_coefficients(_lstsq_fit, X, y, n_resamples=0)
    with pytest.raises(InvalidInputError, match="y has"):
        bootstrap_coefficients(_lstsq_fit, X, y[:10])


def test_model_health_regression_and_classification():
    health = model_health(
        {"rmse": 1.0, "r2": 0.8}, {"rmse": 1.5, "r2": 0.6}, [0.0, 1.0, 0.0, -2.0], task="regression"
    )
    assert health["gaps"]["rmse"] == {
        "train": 1.0,
        "holdout": 1.5,
        "difference": 0.5,
        "relative_difference": 0.5,
    }
    assert health["gaps"]["r2"]["difference"] == pytest.approx(-0.2)
    assert health["gaps"]["r2"]["relative_difference"] == pytest.approx(-0.25)
    assert (health["n_features"], health["n_nonzero"], health["share_nonzero"]) == (4, 2, 0.5)

    coef = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    multi = model_health(
        {"log_loss": 0.5, "roc_auc_macro": 0.9},
        {"log_loss": 0.6, "roc_auc_macro": 0.85},
        coef,
        task="classification",
    )
    assert set(multi["gaps"]) == {"log_loss", "roc_auc_macro"}
    assert (multi["n_features"], multi["n_nonzero"]) == (3, 2)
    binary = model_health({"log_loss": 0.0}, {"log_loss": 0.1}, [1.0], task="binary")
    assert math.isnan(binary["gaps"]["log_loss"]["relative_difference"])
    assert math.isnan(binary["gaps"]["roc_auc"]["difference"])  # missing metric
    json.dumps(binary, allow_nan=True)
    with pytest.raises(InvalidInputError, match="task"):
        model_health({}, {}, [1.0], task="ranking")
