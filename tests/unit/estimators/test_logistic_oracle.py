"""Oracle tests: the logistic estimators against scikit-learn and glum, on the same objective.

    P(b0, B) = 1/W sum_i w_i logloss_i + alpha * (l1_ratio |B|_1 + (1 - l1_ratio)/2 |B|_2^2)

scikit-learn minimises ``C sum_i w_i logloss_i + l1_ratio |B|_1 + (1 - l1_ratio)/2 |B|^2``,
the same problem for ``C = 1 / (alpha W)``; glum's binomial GLM minimises ``P``
itself. Assertions are about the optimisation problem: glmops' objective may
exceed the reference's by at most a relative ``1e-8`` (it is usually below it),
and the KKT conditions, computed here in NumPy, must hold within what the
reported duality gap allows.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from glum import GeneralizedLinearRegressor
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import glmops

TIGHT = 1e-12
LASSO_TOL = 1e-8  # the lasso certificate floors near 1e-9 (rescaled dual)
REL_EXCESS = 1e-8
FORMATS = {"dense": np.asarray, "csr": sp.csr_matrix, "csc": sp.csc_matrix}


def _tol(l1_ratio: float) -> float:
    return LASSO_TOL if l1_ratio == 1 else TIGHT


def _data(logit, n_classes, *, n=60, p=8, seed=0, weights=None):
    X, y = logit.make_problem(n, p, n_classes, seed=seed)
    if weights == "random":  # with exact zeros
        w = logit.random_weights(n, seed=seed + 1)
    elif weights == "mild":  # no zeros: saga's step size depends on the largest weight
        w = np.random.default_rng(seed + 2).uniform(0.5, 2.0, n)
    else:
        w = None
    return X, y, w


def _sklearn_fit(X, y, w, *, alpha, l1_ratio, fit_intercept):
    """scikit-learn's solution: lbfgs for pure L2, saga for L1 / elastic net."""
    W = X.shape[0] if w is None else float(np.sum(w))
    ref = SkLogisticRegression(
        C=1.0 / (alpha * W),
        l1_ratio=l1_ratio,
        solver="lbfgs" if l1_ratio == 0 else "saga",
        tol=TIGHT,
        max_iter=100_000,
        fit_intercept=fit_intercept,
    )
    with warnings.catch_warnings():
        # a reference that stops early only makes "ours <= theirs" easier; the
        # KKT check below judges glmops on its own
        warnings.simplefilter("ignore", SkConvergenceWarning)
        ref.fit(X, y, sample_weight=w)
    b0 = ref.intercept_ if fit_intercept else np.zeros(ref.coef_.shape[0])
    return b0, ref.coef_


def _check_certified(logit, est, X, y, w, alpha, l1_ratio, n_classes, scale=None):
    """KKT within the gap's bound, and the gap within the target."""
    fit_intercept = est.fit_intercept
    p_ours = logit.objective(X, y, w, est.intercept_, est.coef_, alpha, l1_ratio, scale)
    kkt = logit.kkt_residual(
        X, y, w, est.intercept_, est.coef_, alpha, l1_ratio, scale, fit_intercept=fit_intercept
    )
    bound = logit.kkt_bound(X, w, est.dual_gap_, p_ours, alpha, l1_ratio, n_classes, scale)
    assert kkt <= bound
    assert bound <= 1e-3 * logit.grad_scale(X, y, w, n_classes)
    # the target: tol times the objective, floored at the loss's rounding level
    floor = 16 * np.finfo(np.float64).eps * logit.null_loss(y, w, n_classes)
    assert 0.0 <= est.dual_gap_ <= max(est.tol * p_ours, floor) * (1 + 1e-9)
    if not fit_intercept:
        np.testing.assert_array_equal(est.intercept_, 0.0)
    return p_ours


def _rel_excess(p_ours: float, p_ref: float) -> float:
    return (p_ours - p_ref) / abs(p_ref)


# --------------------------------------------------------------------------
# scikit-learn
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weights", [None, "random"])
@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_ridge_matches_sklearn_lbfgs(logit, n_classes, weights, fit_intercept, fmt):
    X, y, w = _data(logit, n_classes, seed=n_classes, weights=weights)
    alpha = 0.05 * logit.grad_scale(X, y, w, n_classes)
    est = glmops.LogisticRegression(
        alpha, l1_ratio=0.0, fit_intercept=fit_intercept, tol=TIGHT, max_iter=1000
    ).fit(FORMATS[fmt](X), y, sample_weight=w)
    rows = 1 if n_classes == 2 else n_classes
    assert est.coef_.shape == (rows, X.shape[1])
    assert est.intercept_.shape == (rows,)
    b0, B = _sklearn_fit(X, y, w, alpha=alpha, l1_ratio=0.0, fit_intercept=fit_intercept)
    p_ours = _check_certified(logit, est, X, y, w, alpha, 0.0, n_classes)
    p_ref = logit.objective(X, y, w, b0, B, alpha, 0.0)
    assert _rel_excess(p_ours, p_ref) <= REL_EXCESS
    # ridge is strongly convex: the probabilities are the reference's too
    np.testing.assert_allclose(
        est.predict_proba(X), logit.probabilities(X, b0, B), rtol=1e-5, atol=1e-7
    )


def _saga_params():
    out = []
    for n_classes in (2, 3):
        for l1_ratio in (1.0, 0.5):
            for weights in (None, "mild"):
                for fit_intercept in (True, False):
                    key = (n_classes, l1_ratio, weights, fit_intercept)
                    out.append(
                        pytest.param(
                            *key,
                            marks=[],
                            id=f"K{n_classes}-l1_{l1_ratio}-{weights}-icpt{int(fit_intercept)}",
                        )
                    )
    return out


@pytest.mark.parametrize(("n_classes", "l1_ratio", "weights", "fit_intercept"), _saga_params())
def test_l1_and_elastic_net_match_sklearn_saga(logit, n_classes, l1_ratio, weights, fit_intercept):
    X, y, w = _data(logit, n_classes, n=50, p=10, seed=10 + n_classes, weights=weights)
    alpha = 0.2 * logit.grad_scale(X, y, w, n_classes) / l1_ratio
    est = glmops.LogisticRegression(
        alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=_tol(l1_ratio), max_iter=1000
    ).fit(X, y, sample_weight=w)
    b0, B = _sklearn_fit(X, y, w, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept)
    p_ours = _check_certified(logit, est, X, y, w, alpha, l1_ratio, n_classes)
    p_ref = logit.objective(X, y, w, b0, B, alpha, l1_ratio)
    assert _rel_excess(p_ours, p_ref) <= REL_EXCESS
    assert np.count_nonzero(est.coef_) >= 1  # not vacuous
    assert np.count_nonzero(est.coef_ == 0) >= 1  # the L1 part selects


@pytest.mark.parametrize(
    ("n_classes", "l1_ratio"),
    [
        (2, 1.0),
        (2, 0.5),
        (2, 0.0),
        pytest.param(3, 1.0),
        (3, 0.5),
        (3, 0.0),
    ],
)
def test_sparse_and_dense_agree(logit, n_classes, l1_ratio):
    X, y, w = _data(logit, n_classes, seed=21, weights="random")
    X[np.abs(X) < 0.6] = 0.0
    alpha = 0.05 * logit.grad_scale(X, y, w, n_classes) / max(l1_ratio, 0.5)
    tol = _tol(l1_ratio)
    objectives, gaps = [], []
    for fmt in FORMATS.values():
        est = glmops.LogisticRegression(alpha, l1_ratio=l1_ratio, tol=tol, max_iter=1000)
        est.fit(fmt(X), y, sample_weight=w)
        objectives.append(_check_certified(logit, est, X, y, w, alpha, l1_ratio, n_classes))
        gaps.append(est.dual_gap_)
        np.testing.assert_allclose(
            est.predict_proba(fmt(X)),
            logit.probabilities(X, est.intercept_, est.coef_),
            rtol=1e-12,
            atol=1e-15,
        )
    assert max(objectives) - min(objectives) <= 2 * max(gaps) + 1e-14 * objectives[0]


def test_gap_with_a_lone_positive_sample(logit):
    X = np.random.default_rng(23640).standard_normal((30, 4))
    y = np.zeros(30, dtype=np.int64)
    y[11] = 1  # a single positive: it and many negatives saturate
    alpha, l1_ratio = 1e-3, 0.5
    est = glmops.LogisticRegression(alpha, l1_ratio=l1_ratio, tol=1e-8, max_iter=1000).fit(X, y)
    b0, B = _sklearn_fit(X, y, None, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=True)
    assert logit.kkt_residual(X, y, None, b0, B, alpha, l1_ratio) <= 1e-10  # a sharp reference
    p_ours = logit.objective(X, y, None, est.intercept_, est.coef_, alpha, l1_ratio)
    p_ref = logit.objective(X, y, None, b0, B, alpha, l1_ratio)
    # weak duality: the certified gap bounds the suboptimality
    assert p_ours - p_ref <= est.dual_gap_ + 1e-14 * p_ref


# --------------------------------------------------------------------------
# glum (binomial GLM: the same objective, P1/P2 carry standardisation)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.0])
def test_binary_matches_glum(logit, l1_ratio, standardize):
    X, y, w = _data(logit, 2, n=80, p=8, seed=31, weights="random")
    X = X * np.geomspace(0.1, 10.0, X.shape[1])  # unequal scales: standardize matters
    scale = logit.column_scale(X, w, True) if standardize else None
    alpha = 0.02
    est = glmops.LogisticRegression(
        alpha, l1_ratio=l1_ratio, standardize=standardize, tol=_tol(l1_ratio), max_iter=1000
    ).fit(X, y, sample_weight=w)
    ref = GeneralizedLinearRegressor(
        family="binomial",
        alpha=alpha,
        l1_ratio=l1_ratio,
        P1=scale if standardize else "identity",
        P2=scale**2 if standardize else "identity",
        gradient_tol=1e-12,
        max_iter=1000,
    ).fit(X, y.astype(np.float64), sample_weight=w)
    p_ours = _check_certified(logit, est, X, y, w, alpha, l1_ratio, 2, scale)
    p_ref = logit.objective(X, y, w, ref.intercept_, ref.coef_, alpha, l1_ratio, scale)
    assert _rel_excess(p_ours, p_ref) <= REL_EXCESS


# --------------------------------------------------------------------------
# standardize=True: the penalty of weighted-standardised columns
# --------------------------------------------------------------------------


def _standardize_params():
    out = []
    for n_classes in (2, 3):
        for l1_ratio in (1.0, 0.5, 0.0):
            for fit_intercept in (True, False):
                for fmt in ("dense", "csc"):
                    out.append(
                        pytest.param(
                            n_classes,
                            l1_ratio,
                            fit_intercept,
                            fmt,
                            marks=[],
                            id=f"K{n_classes}-l1_{l1_ratio}-icpt{int(fit_intercept)}-{fmt}",
                        )
                    )
    return out


@pytest.mark.parametrize(("n_classes", "l1_ratio", "fit_intercept", "fmt"), _standardize_params())
def test_standardize_is_the_scaled_penalty(logit, n_classes, l1_ratio, fit_intercept, fmt):
    X, y, w = _data(logit, n_classes, seed=41, weights="random")
    X = X * np.geomspace(1e-3, 1e3, X.shape[1])
    # s_j: weighted standard deviation, divisor W (centred only with an intercept)
    scale = logit.column_scale(X, w, fit_intercept)
    alpha = 0.05 * logit.grad_scale(X / scale, y, w, n_classes) / max(l1_ratio, 0.5)
    tol = _tol(l1_ratio)
    kwargs = {"l1_ratio": l1_ratio, "fit_intercept": fit_intercept, "tol": tol, "max_iter": 1000}
    est = glmops.LogisticRegression(alpha, standardize=True, **kwargs)
    est.fit(FORMATS[fmt](X), y, sample_weight=w)
    p_std = _check_certified(logit, est, X, y, w, alpha, l1_ratio, n_classes, scale)
    # the same problem: unit penalty on pre-scaled columns, coefficients divided by s
    plain = glmops.LogisticRegression(alpha, **kwargs).fit(X / scale, y, sample_weight=w)
    p_plain = logit.objective(
        X, y, w, plain.intercept_, plain.coef_ / scale, alpha, l1_ratio, scale
    )
    assert abs(p_std - p_plain) <= est.dual_gap_ + plain.dual_gap_ + 1e-14 * p_std
    np.testing.assert_allclose(est.predict_proba(X), plain.predict_proba(X / scale), atol=1e-4)


# --------------------------------------------------------------------------
# Weights: class weights, integer weights, unit weights
# --------------------------------------------------------------------------


def _same_problem(logit, a, b, X, y, w, alpha, l1_ratio):
    """Two certified fits of one objective (weights ``w``) agree within their gaps."""
    p_a = logit.objective(X, y, w, a.intercept_, a.coef_, alpha, l1_ratio)
    p_b = logit.objective(X, y, w, b.intercept_, b.coef_, alpha, l1_ratio)
    assert abs(p_a - p_b) <= a.dual_gap_ + b.dual_gap_ + 1e-13 * abs(p_a)
    mu = alpha * (1 - l1_ratio)  # strong convexity in B
    radius = sum(np.sqrt(2 * (g + 1e-14 * abs(p_a)) / mu) for g in (a.dual_gap_, b.dual_gap_))
    assert np.linalg.norm(a.coef_ - b.coef_) <= radius


@pytest.mark.parametrize("with_sample_weight", [False, True])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_balanced_class_weight_equals_explicit_weights(logit, n_classes, with_sample_weight):
    X, y, sw = _data(logit, n_classes, seed=51, weights="random" if with_sample_weight else None)
    counts = np.bincount(y)
    explicit = (len(y) / (n_classes * counts))[y]
    if sw is not None:
        explicit = explicit * sw
    alpha, l1_ratio = 0.02, 0.5
    balanced = glmops.LogisticRegression(
        alpha, l1_ratio=l1_ratio, class_weight="balanced", tol=1e-10
    ).fit(X, y, sample_weight=sw)
    weighted = glmops.LogisticRegression(alpha, l1_ratio=l1_ratio, tol=1e-10).fit(
        X, y, sample_weight=explicit
    )
    _same_problem(logit, balanced, weighted, X, y, explicit, alpha, l1_ratio)
    _check_certified(logit, balanced, X, y, explicit, alpha, l1_ratio, n_classes)


@pytest.mark.parametrize("labels", ["int", "str"])
def test_dict_class_weight_equals_explicit_weights(logit, labels):
    X, y, _ = _data(logit, 3, seed=53)
    names = np.array(["ant", "bee", "cat"]) if labels == "str" else np.array([0, 1, 2])
    cw = {names[0]: 3.0, names[2]: 0.25}  # unnamed classes weigh 1
    explicit = np.array([3.0, 1.0, 0.25])[y]
    alpha, l1_ratio = 0.02, 0.5
    a = glmops.LogisticRegression(alpha, l1_ratio=l1_ratio, class_weight=cw, tol=1e-10)
    a.fit(X, names[y])
    b = glmops.LogisticRegression(alpha, l1_ratio=l1_ratio, tol=1e-10)
    b.fit(X, names[y], sample_weight=explicit)
    _same_problem(logit, a, b, X, y, explicit, alpha, l1_ratio)


@pytest.mark.parametrize("l1_ratio", [0.5, 0.0])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_integer_weights_equal_repeated_rows(logit, n_classes, l1_ratio):
    X, y, _ = _data(logit, n_classes, n=40, seed=55)
    reps = np.random.default_rng(0).integers(0, 4, len(y))
    reps[: n_classes + 1] = 1  # keep every class
    idx = np.repeat(np.arange(len(y)), reps)
    alpha = 0.02
    kwargs = {"l1_ratio": l1_ratio, "tol": 1e-10}
    weighted = glmops.LogisticRegression(alpha, **kwargs).fit(X, y, sample_weight=reps)
    repeated = glmops.LogisticRegression(alpha, **kwargs).fit(X[idx], y[idx])
    _same_problem(logit, weighted, repeated, X, y, reps.astype(float), alpha, l1_ratio)


def test_unit_weights_equal_no_weights():
    X, y = np.random.default_rng(0).standard_normal((40, 4)), np.arange(40) % 3
    a = glmops.LogisticRegression(0.01).fit(X, y)
    for c in (1.0, 2.5):
        b = glmops.LogisticRegression(0.01).fit(X, y, sample_weight=np.full(40, c))
        np.testing.assert_array_equal(a.coef_, b.coef_)
        np.testing.assert_array_equal(a.intercept_, b.intercept_)


# --------------------------------------------------------------------------
# Labels of any type
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names",
    [
        np.array(["no", "yes"]),
        np.array([False, True]),
        np.array([-1, 1]),
        np.array(["low", "mid", "high"]),  # sorted: high, low, mid
        np.array([2.0, 7.0, 10.0]),  # integral floats (2.5 would be 'continuous')
    ],
    ids=["str", "bool", "pm1", "str3", "float3"],
)
def test_label_types(logit, names):
    n_classes = names.shape[0]
    X, y, _ = _data(logit, n_classes, seed=57)
    ints = glmops.LogisticRegression(0.02, tol=1e-10).fit(X, y)
    # class c gets the c-th name in sorted order (classes_ order): the same model
    order = np.argsort(names)
    typed_y = names[order][y]
    typed = glmops.LogisticRegression(0.02, tol=1e-10).fit(X, typed_y)
    np.testing.assert_array_equal(typed.classes_, np.sort(names))
    assert typed.classes_.dtype == names.dtype
    np.testing.assert_allclose(typed.predict_proba(X), ints.predict_proba(X), rtol=1e-12)
    pred = typed.predict(X)
    assert pred.dtype == names.dtype
    np.testing.assert_array_equal(pred, names[order][ints.predict(X)])
    assert typed.score(X, typed_y) == ints.score(X, y)
