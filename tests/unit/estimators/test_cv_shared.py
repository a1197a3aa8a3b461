"""ElasticNetCV and LogisticRegressionCV share one grid, one choice, one report."""

from __future__ import annotations

import re

import numpy as np
import pytest

import glmops
from glmops.errors import InvalidInputError
from glmops.estimators._cv import alpha_grids, check_alphas, check_l1_ratios, cv_results, select


def _regression(n=80, p=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    return X, X @ rng.normal(size=p) + rng.standard_normal(n)


def _classification(n=120, p=4, seed=0):
    X, y = _regression(n, p, seed)
    return X, (y > 0).astype(int)


CV_FITS = {
    "ElasticNetCV": lambda **kw: glmops.ElasticNetCV(cv=3, n_alphas=5, **kw).fit(*_regression()),
    "LogisticRegressionCV": lambda **kw: glmops.LogisticRegressionCV(cv=3, n_alphas=5, **kw).fit(
        *_classification()
    ),
}


@pytest.mark.parametrize("name", CV_FITS)
@pytest.mark.parametrize("l1_ratio", [[0.5, 1.5], [-0.1], [], [[0.5]], [np.nan], ["a"]])
def test_l1_ratio_list_is_refused_in_one_wording(name, l1_ratio):
    expected = (
        f"The 'l1_ratio' parameter of {name} must be a float in [0, 1] or a list of them. "
        f"Got {l1_ratio!r} instead."
    )
    with pytest.raises(InvalidInputError, match=re.escape(expected)) as info:
        CV_FITS[name](l1_ratio=l1_ratio)
    assert info.value.field == "l1_ratio"


def test_check_l1_ratios_returns_a_vector():
    np.testing.assert_array_equal(check_l1_ratios(0.5, "X"), [0.5])
    np.testing.assert_array_equal(check_l1_ratios([0, 1], "X"), [0.0, 1.0])


@pytest.mark.parametrize("name", CV_FITS)
def test_both_estimators_report_the_same_keys(name):
    est = CV_FITS[name](l1_ratio=[0.5, 1.0])
    res = est.cv_results_
    assert set(res) == {
        "param_alpha",
        "param_l1_ratio",
        "params",
        "mean_test_score",
        "std_test_score",
        "rank_test_score",
        *(f"split{k}_test_score" for k in range(3)),
    }
    best = int(np.flatnonzero(res["rank_test_score"] == 1)[0])
    assert res["params"][best] == {"alpha": est.alpha_, "l1_ratio": est.l1_ratio_}
    assert res["mean_test_score"][best] == res["mean_test_score"].max()
    assert np.all(res["mean_test_score"] <= 0)  # neg MSE, neg log loss


def test_cv_results_layout_and_ranks():
    scores = np.array([[[-3.0, -5.0], [-1.0, -1.0]], [[-2.0, -2.0], [-1.0, -1.0]]])
    grids = np.array([[2.0, 1.0], [4.0, 3.0]])
    res = cv_results(scores, grids, np.array([0.5, 1.0]))
    np.testing.assert_array_equal(res["param_alpha"], [2.0, 1.0, 4.0, 3.0])
    np.testing.assert_array_equal(res["param_l1_ratio"], [0.5, 0.5, 1.0, 1.0])
    np.testing.assert_array_equal(res["mean_test_score"], [-4.0, -1.0, -2.0, -1.0])
    np.testing.assert_array_equal(res["std_test_score"], [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(res["split1_test_score"], [-5.0, -1.0, -2.0, -1.0])
    # ties ranked in grid order: greater is better
    np.testing.assert_array_equal(res["rank_test_score"], [4, 1, 3, 2])
    assert res["params"][2] == {"alpha": 4.0, "l1_ratio": 1.0}


def test_select_best_and_one_standard_error():
    # one l1_ratio, alphas descending; fold scores (greater is better)
    grids = np.array([[8.0, 4.0, 2.0, 1.0]])
    scores = np.array([[[-9.0, -9.0], [-2.2, -2.0], [-1.0, -3.0], [-5.0, -5.0]]])
    assert select(scores, grids, "min") == (0, 2)  # mean -2.0 beats -2.1
    # se of the best: std([-1, -3], ddof=1) / sqrt(2) = 1.0; -2.1 >= -3.0
    assert select(scores, grids, "1se") == (0, 1)


def test_select_keeps_the_best_l1_ratio_under_1se():
    grids = np.array([[2.0, 1.0], [2.0, 1.0]])
    scores = np.array([[[-1.0, -1.0], [-5.0, -5.0]], [[-9.0, -9.0], [-0.5, -0.5]]])
    assert select(scores, grids, "min") == (1, 1)
    assert select(scores, grids, "1se") == (1, 1)


def test_alpha_grids():
    ratios = np.array([0.5, 1.0])
    explicit = alpha_grids([0.1, 1.0], ratios, n_alphas=9, eps=1e-2, alpha_max=lambda r: 1.0)
    np.testing.assert_array_equal(explicit, [[1.0, 0.1], [1.0, 0.1]])
    generated = alpha_grids(None, ratios, n_alphas=3, eps=1e-2, alpha_max=lambda r: 1.0 / r)
    np.testing.assert_allclose(generated, [[2.0, 0.2, 0.02], [1.0, 0.1, 0.01]])
    assert alpha_grids(4, ratios, n_alphas=9, eps=1e-2, alpha_max=lambda r: 1.0).shape == (2, 4)


@pytest.mark.parametrize(("alphas", "positive"), [([0.0], True), ([-1.0], False), ([], False)])
def test_check_alphas_refuses(alphas, positive):
    with pytest.raises(InvalidInputError, match="alphas must be a non-empty array") as info:
        check_alphas(alphas, positive=positive)
    assert info.value.field == "alphas"
    assert check_alphas([0.0, 1.0]).tolist() == [0.0, 1.0]
