"""Decision thresholds, probability calibration and LogisticRegressionCV.

``select_threshold`` is checked against a brute-force search over every
candidate threshold (predictions positive when ``proba >= t``); the fitted
``threshold_`` must be the one ``predict`` uses and the one the policy picks
on out-of-fold probabilities. Calibration maps must agree with scikit-learn's
``CalibratedClassifierCV`` fitted on the same out-of-fold decision values.
``LogisticRegressionCV`` must report its grid honestly and refit the model it
chose.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

import glmops
from glmops import LogisticRegression, LogisticRegressionCV, select_threshold

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _binary(n=120, p=4, seed=0, n_classes=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    eta = X @ rng.uniform(-1.5, 1.5, (p, n_classes)) + rng.standard_normal((n, n_classes))
    y = np.argmax(eta, axis=1)
    return X, y


# --------------------------------------------------------------------------
# select_threshold against brute force
# --------------------------------------------------------------------------


def _confusion(y, p, w, t):
    pos = p >= t
    tp = float(np.sum(w * (pos & (y == 1))))
    fp = float(np.sum(w * (pos & (y == 0))))
    fn = float(np.sum(w * (~pos & (y == 1))))
    return tp, fp, fn


def _precision(y, p, w, t):
    tp, fp, _ = _confusion(y, p, w, t)
    return tp / (tp + fp) if tp + fp > 0 else np.nan


def _recall(y, p, w, t):
    tp, _, fn = _confusion(y, p, w, t)
    return tp / (tp + fn)


def _f1(y, p, w, t):
    tp, fp, fn = _confusion(y, p, w, t)
    return 2 * tp / (2 * tp + fp + fn)


@st.composite
def scored_labels(draw, top=20):
    """Labels with both classes, probabilities with ties, optional positive weights."""
    n = draw(st.integers(2, 40))
    y = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    assume(0 < y.sum() < n)
    # probabilities on a grid of 21 values (up to top/20): plenty of ties
    p = draw(arrays(np.float64, n, elements=st.integers(0, top).map(lambda k: k / 20)))
    w = draw(st.none() | arrays(np.float64, n, elements=st.sampled_from([0.5, 1.0, 2.0, 3.5])))
    return y, p, w


@PROPERTY_SETTINGS
@given(data=scored_labels())
def test_max_f1_is_the_best_f1(data):
    y, p, w = data
    ww = np.ones_like(p) if w is None else w
    t = select_threshold(y, p, "max_f1", sample_weight=w)
    assert t in set(p.tolist())
    best = max(_f1(y, p, ww, c) for c in np.unique(p))
    assert _f1(y, p, ww, t) == pytest.approx(best, rel=1e-12)


@PROPERTY_SETTINGS
@given(data=scored_labels(), target=st.sampled_from([0.3, 0.5, 0.75, 0.9, 1.0]))
def test_target_precision_gives_the_most_recall(data, target):
    y, p, w = data
    ww = np.ones_like(p) if w is None else w
    t = select_threshold(y, p, "target_precision", target=target, sample_weight=w)
    feasible = [c for c in np.unique(p) if _precision(y, p, ww, c) >= target - 1e-12]
    if not feasible:
        assert t == 1.0
        return
    assert _precision(y, p, ww, t) >= target - 1e-12
    assert _recall(y, p, ww, t) == pytest.approx(max(_recall(y, p, ww, c) for c in feasible))


@PROPERTY_SETTINGS
@given(data=scored_labels(), target=st.sampled_from([0.1, 0.5, 0.8, 1.0]))
def test_target_recall_is_the_highest_threshold_reaching_it(data, target):
    y, p, w = data
    ww = np.ones_like(p) if w is None else w
    t = select_threshold(y, p, "target_recall", target=target, sample_weight=w)
    feasible = [c for c in np.unique(p) if _recall(y, p, ww, c) >= target - 1e-12]
    assert t == max(feasible)


@PROPERTY_SETTINGS
# probabilities below 1: see test_min_cost_when_the_top_score_is_one
@given(data=scored_labels(top=19), cost_fp=st.sampled_from([0.1, 0.5, 1.0, 3.0, 20.0]))
def test_min_cost_is_the_cheapest_cut(data, cost_fp):
    y, p, w = data
    ww = np.ones_like(p) if w is None else w

    def cost(t):
        _, fp, fn = _confusion(y, p, ww, t)
        return cost_fp * fp + fn

    t = select_threshold(y, p, "min_cost", target=cost_fp, sample_weight=w)
    assert 0.0 <= t <= 1.0 or t == np.nextafter(1.0, 2.0)
    candidates = [*np.unique(p), np.inf]  # inf: predict nothing positive
    assert cost(t) == pytest.approx(min(cost(c) for c in candidates), rel=1e-12, abs=1e-12)


def test_min_cost_when_the_top_score_is_one():
    y, p = np.array([1, 0, 0]), np.array([0.0, 0.0, 1.0])
    t = select_threshold(y, p, "min_cost", target=0.5)
    fp = np.sum((p >= t) & (y == 0))
    fn = np.sum((p < t) & (y == 1))
    assert 0.5 * fp + fn == 1.0  # nothing positive (or everything): cost 1


def test_min_cost_bayes_threshold_on_calibrated_scores():
    # calibrated probabilities: the optimal cut is near target/(1 + target)
    rng = np.random.default_rng(0)
    p = rng.random(200_000)
    y = (rng.random(200_000) < p).astype(int)
    for cost_fp in (0.25, 1.0, 4.0):
        t = select_threshold(y, p, "min_cost", target=cost_fp)
        assert t == pytest.approx(cost_fp / (1 + cost_fp), abs=0.03)


# --------------------------------------------------------------------------
# The fitted threshold is the one predict uses
# --------------------------------------------------------------------------


def _oof_decision(est, X, y, sample_weight=None, cv=5):
    """Out-of-fold decision values as the estimator computes them (its calibration_cv)."""
    base = clone(est).set_params(calibration=None, threshold=0.5)
    params = {} if sample_weight is None else {"sample_weight": sample_weight}
    return cross_val_predict(
        base, X, y, cv=StratifiedKFold(cv), method="decision_function", params=params
    )


@pytest.mark.parametrize("calibration", [None, "platt", "isotonic"])
@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.8])
def test_numeric_threshold_is_used_by_predict(threshold, calibration):
    X, y = _binary()
    est = LogisticRegression(0.01, threshold=threshold, calibration=calibration).fit(X, y)
    assert est.threshold_ == threshold
    proba = est.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(est.predict(X), est.classes_[(proba > threshold).astype(int)])
    if calibration is None and threshold != 0.5:  # the threshold changes decisions
        assert np.any(est.predict(X) != LogisticRegression(0.01).fit(X, y).predict(X))


@pytest.mark.parametrize(
    ("policy", "target"),
    [("max_f1", None), ("target_precision", 0.8), ("target_recall", 0.9), ("min_cost", 3.0)],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_policy_threshold_is_picked_out_of_fold_and_used(policy, target, weighted):
    X, y = _binary(seed=1)
    labels = np.array(["neg", "pos"])[y]
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(y)) if weighted else None
    est = LogisticRegression(0.01, threshold=policy, threshold_target=target)
    est.fit(X, labels, sample_weight=w)
    # the policy on the out-of-fold probabilities (never the training fit's own)
    proba_oof = expit(_oof_decision(est, X, labels, w))
    chosen = select_threshold(y, proba_oof, policy, target=target, sample_weight=w)
    # predict counts proba > threshold_: threshold_ sits one ulp below the choice
    assert est.threshold_ == np.nextafter(chosen, -np.inf)
    proba = est.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(est.predict(X), est.classes_[(proba >= chosen).astype(int)])
    np.testing.assert_array_equal(
        est.predict(X), est.classes_[(proba > est.threshold_).astype(int)]
    )


def test_policy_threshold_with_calibration_uses_calibrated_probabilities():
    X, y = _binary(seed=3)
    est = LogisticRegression(0.01, threshold="max_f1", calibration="isotonic").fit(X, y)
    oof = _oof_decision(est, X, y)
    proba_oof = est.calibration_.predict_proba(oof)[:, 1]
    chosen = select_threshold(y, proba_oof, "max_f1")
    assert est.threshold_ == np.nextafter(chosen, -np.inf)
    proba = est.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(est.predict(X), (proba > est.threshold_).astype(int))


def test_cv_policy_threshold_is_used_by_predict():
    X, y = _binary(seed=4)
    est = LogisticRegressionCV(cv=3, n_alphas=5, threshold="target_recall", threshold_target=0.9)
    est.fit(X, y)
    assert 0.0 <= est.threshold_ <= 1.0
    proba = est.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(est.predict(X), (proba > est.threshold_).astype(int))
    assert np.mean(est.predict(X)[y == 1]) >= 0.8  # a recall target shows in training recall


# --------------------------------------------------------------------------
# Calibration maps against scikit-learn
# --------------------------------------------------------------------------


class _Passthrough(ClassifierMixin, BaseEstimator):
    """A prefitted classifier whose decision values are its input columns."""

    def __init__(self, classes=None):
        self.classes = classes

    def fit(self, X, y):
        self.classes_ = np.asarray(self.classes)
        return self

    def decision_function(self, X):
        X = np.asarray(X, dtype=np.float64)
        return X[:, 0] if X.shape[1] == 1 else X

    def predict(self, X):
        d = self.decision_function(X)
        return self.classes_[(d > 0).astype(int) if d.ndim == 1 else np.argmax(d, axis=1)]


# scikit-learn warns that a FrozenEstimator ignores sample_weight: intended here, the
# weights are for the calibration map only (see test_weighted_calibration_is_silent)
FROZEN_WEIGHTS_WARNING = "Since FrozenEstimator does not appear to accept sample_weight"


def _sklearn_calibrated(decision, y, classes, method, sample_weight=None):
    scores = decision.reshape(-1, 1) if decision.ndim == 1 else decision
    base = _Passthrough(classes).fit(scores, y)
    method = {"platt": "sigmoid", "isotonic": "isotonic"}[method]
    ref = CalibratedClassifierCV(FrozenEstimator(base), method=method)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=FROZEN_WEIGHTS_WARNING, category=UserWarning)
        ref.fit(scores, y, sample_weight=sample_weight)
    return ref, scores


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("method", ["platt", "isotonic"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_calibration_matches_sklearn_on_out_of_fold_scores(n_classes, method, weighted):
    X, y = _binary(n=150, seed=5, n_classes=n_classes)
    w = np.random.default_rng(6).uniform(0.5, 2.0, len(y)) if weighted else None
    est = LogisticRegression(0.01, calibration=method)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=FROZEN_WEIGHTS_WARNING, category=UserWarning)
        est.fit(X, y, sample_weight=w)
    assert est.calibration_.method == method
    assert est.calibration_.n_classes == n_classes
    oof = _oof_decision(est, X, y, w)
    ref, oof_scores = _sklearn_calibrated(oof, y, est.classes_, method, w)
    np.testing.assert_allclose(
        est.calibration_.predict_proba(oof), ref.predict_proba(oof_scores), rtol=1e-9, atol=1e-12
    )
    # new points, beyond the fitted range too (isotonic clips at its ends)
    d = est.decision_function(np.vstack([X, 10 * X[:5]]))
    d_scores = d.reshape(-1, 1) if d.ndim == 1 else d
    np.testing.assert_allclose(
        est.predict_proba(np.vstack([X, 10 * X[:5]])),
        ref.predict_proba(d_scores),
        rtol=1e-9,
        atol=1e-12,
    )


@pytest.mark.parametrize("method", ["platt", "isotonic"])
@pytest.mark.parametrize("n_classes", [2, 3, 4])
@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: LogisticRegression(0.01, **kw),
        lambda **kw: LogisticRegressionCV(cv=3, n_alphas=4, **kw),
    ],
    ids=["LogisticRegression", "LogisticRegressionCV"],
)
def test_calibrated_probabilities_are_proper(make, n_classes, method):
    X, y = _binary(n=150, seed=7, n_classes=n_classes)
    est = make(calibration=method).fit(X, y)
    proba = est.predict_proba(X)
    assert proba.shape == (150, n_classes)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(
        proba, est.calibration_.predict_proba(est.decision_function(X)), rtol=1e-15
    )
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(est.predict_log_proba(X), np.log(proba), rtol=1e-12)
    if n_classes > 2:
        np.testing.assert_array_equal(est.predict(X), est.classes_[np.argmax(proba, axis=1)])
    # calibration is fitted out of fold: it must not make the fit look worse than
    # chance on its own training data
    assert log_loss(y, np.clip(proba, 1e-15, 1)) < np.log(n_classes)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LogisticRegression(0.01, calibration="platt"),
        lambda: LogisticRegressionCV(cv=3, n_alphas=3, calibration="isotonic"),
    ],
    ids=["LogisticRegression", "LogisticRegressionCV"],
)
def test_weighted_calibration_is_silent(make):
    X, y = _binary(seed=15)
    w = np.random.default_rng(16).uniform(0.5, 2.0, len(y))
    make().fit(X, y, sample_weight=w)  # filterwarnings=error: any warning fails


def test_platt_map_is_the_sigmoid_of_its_parameters():
    X, y = _binary(seed=8)
    est = LogisticRegression(0.01, calibration="platt").fit(X, y)
    (ab,) = est.calibration_.params
    assert ab.shape == (1, 2)
    d = est.decision_function(X)
    np.testing.assert_allclose(est.predict_proba(X)[:, 1], expit(-(ab[0, 0] * d + ab[0, 1])))
    assert ab[0, 0] < 0  # a higher decision value means a higher probability


# --------------------------------------------------------------------------
# LogisticRegressionCV
# --------------------------------------------------------------------------


def test_cv_grid_reports():
    X, y = _binary(seed=9, n_classes=3)
    ratios = [0.5, 1.0]
    est = LogisticRegressionCV(cv=3, n_alphas=5, l1_ratio=ratios).fit(X, y)
    assert est.alphas_.shape == (2, 5)
    assert est.scores_.shape == (2, 5, 3)
    assert np.all(np.diff(est.alphas_, axis=1) < 0)  # each grid descending
    keys = {
        "param_alpha",
        "param_l1_ratio",
        "mean_test_score",
        "std_test_score",
        "rank_test_score",
        *(f"split{k}_test_score" for k in range(3)),
    }
    assert set(est.cv_results_) == keys | {"params"}
    res = est.cv_results_
    assert all(res[key].shape == (10,) for key in keys)
    assert [p["alpha"] for p in res["params"]] == list(res["param_alpha"])
    np.testing.assert_array_equal(res["param_alpha"], est.alphas_.ravel())
    np.testing.assert_array_equal(res["param_l1_ratio"], np.repeat(ratios, 5))
    np.testing.assert_allclose(res["mean_test_score"], est.scores_.mean(axis=2).ravel())
    np.testing.assert_allclose(res["split1_test_score"], est.scores_[:, :, 1].ravel())
    best = int(np.argmax(res["mean_test_score"]))
    assert res["rank_test_score"][best] == 1
    assert sorted(res["rank_test_score"]) == list(range(1, 11))
    i = ratios.index(est.l1_ratio_)
    assert est.alpha_ in est.alphas_[i]
    assert est.alpha_ == res["param_alpha"][best]
    assert est.l1_ratio_ == res["param_l1_ratio"][best]
    assert np.all(est.scores_ <= 0)  # neg_log_loss


def test_cv_scores_are_held_out_scores_of_the_fold_paths():
    X, y = _binary(n=90, seed=10)
    est = LogisticRegressionCV(cv=3, n_alphas=4, scoring="roc_auc", l1_ratio=0.5).fit(X, y)
    assert np.all((est.scores_ >= 0) & (est.scores_ <= 1))
    for k, (train, test) in enumerate(StratifiedKFold(3).split(X, y)):
        _, coefs, intercepts, _ = glmops.logistic_path(
            X[train], y[train], l1_ratio=0.5, alphas=est.alphas_[0]
        )
        for a in range(4):
            decision = X[test] @ coefs[0, :, a] + intercepts[0, a]
            assert est.scores_[0, a, k] == pytest.approx(roc_auc_score(y[test], decision))


@pytest.mark.parametrize("l1_ratio", [0.5, [0.0, 1.0]])
def test_one_standard_error_rule_picks_a_larger_alpha(l1_ratio):
    X, y = _binary(n=150, seed=11)
    kwargs = {"cv": 5, "n_alphas": 8, "l1_ratio": l1_ratio}
    best = LogisticRegressionCV(selection="min", **kwargs).fit(X, y)
    onese = LogisticRegressionCV(selection="1se", **kwargs).fit(X, y)
    np.testing.assert_array_equal(best.scores_, onese.scores_)  # same folds, same fits
    assert onese.l1_ratio_ == best.l1_ratio_
    assert onese.alpha_ >= best.alpha_
    i = int(np.flatnonzero(np.atleast_1d(l1_ratio) == best.l1_ratio_)[0])
    mean = best.scores_[i].mean(axis=1)
    a_best = int(np.flatnonzero(best.alphas_[i] == best.alpha_)[0])
    se = best.scores_[i, a_best].std() / np.sqrt(5)
    within = best.alphas_[i][mean >= mean[a_best] - se]
    assert onese.alpha_ == within.max()


@pytest.mark.parametrize("scoring", ["roc_auc", "accuracy", "neg_brier_score"])
def test_cv_scoring_names(scoring):
    X, y = _binary(n=90, seed=12)
    est = LogisticRegressionCV(cv=3, n_alphas=4, scoring=scoring).fit(X, y)
    assert np.all(np.isfinite(est.scores_))
    mean = est.scores_.mean(axis=2)
    assert mean.max() == est.cv_results_["mean_test_score"].max()


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_cv_refit_equals_logistic_regression_at_the_chosen_point(logit, n_classes, weighted):
    X, y = _binary(n=120, seed=13, n_classes=n_classes)
    w = np.random.default_rng(14).uniform(0.5, 2.0, len(y)) if weighted else None
    cv = LogisticRegressionCV(cv=3, n_alphas=6, l1_ratio=[0.5, 0.0], tol=1e-8)
    cv.fit(X, y, sample_weight=w)
    single = LogisticRegression(cv.alpha_, l1_ratio=cv.l1_ratio_, tol=1e-8).fit(
        X, y, sample_weight=w
    )
    alpha, l1_ratio = cv.alpha_, cv.l1_ratio_
    p_cv = logit.objective(X, y, w, cv.intercept_, cv.coef_, alpha, l1_ratio)
    p_single = logit.objective(X, y, w, single.intercept_, single.coef_, alpha, l1_ratio)
    assert abs(p_cv - p_single) <= cv.dual_gap_ + single.dual_gap_ + 1e-13 * p_cv
    mu = alpha * (1 - l1_ratio)
    radius = sum(np.sqrt(2 * (g + 1e-14 * p_cv) / mu) for g in (cv.dual_gap_, single.dual_gap_))
    assert np.linalg.norm(cv.coef_ - single.coef_) <= radius
    np.testing.assert_array_equal(cv.classes_, single.classes_)
    assert cv.coef_.shape == single.coef_.shape
