"""Property tests for the logistic estimators: awkward data, honest fits.

Hypothesis draws separable data, classes with a single sample, ten classes,
duplicated and constant columns, column scales from 1e-6 to 1e6 and extreme
class imbalance. For each, glmops must return finite numbers and proper
probabilities, warn about separation exactly when probabilities saturate,
and respect the problem's structure (a duplicated column shares its
coefficient, a constant one gets none, standardisation is scale-free).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import glmops

PROPERTY_SETTINGS = settings(
    max_examples=20,
    deadline=None,  # the first example pays numba's compilation
    suppress_health_check=[HealthCheck.too_slow],
)
SATURATED_MARGIN = 30.0  # probability within ~1e-13 of 0 or 1 (glmops.core.irls)

finite = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False, width=64)
seeds = st.integers(0, 2**32 - 1)


def _fit(est, X, y, sample_weight=None):
    """Fit, returning the warnings raised (they are data for these properties).

    A ConvergenceWarning is allowed: the properties hold for any certified
    point, and comparisons below allow for the reported gaps (convergence
    itself is tested in the oracle tests and core/test_irls.py).
    """
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        est.fit(X, y, sample_weight=sample_weight)
    return est, record


def _messages(record, category):
    return [str(r.message) for r in record if issubclass(r.category, category)]


def _converged(record):
    return not _messages(record, glmops.ConvergenceWarning)


def _is_separation(r):
    return r.category is UserWarning and "separation" in str(r.message)


def _assert_no_warnings(record, *, separation=False):
    """No warnings but ConvergenceWarning (and the separation warning, if allowed)."""
    unexpected = [
        f"{r.category.__name__}: {r.message}"
        for r in record
        if not issubclass(r.category, glmops.ConvergenceWarning)
        and not (separation and _is_separation(r))
    ]
    assert not unexpected, unexpected


def _assert_proper_probabilities(est, X):
    proba = est.predict_proba(X)
    assert proba.shape == (X.shape[0], est.classes_.shape[0])
    assert np.all(np.isfinite(proba))
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    return proba


def _margins(est, X, labels):
    """True class's predictor minus the best other one (binary: signed log-odds)."""
    d = est.decision_function(X)
    if d.ndim == 1:
        return np.where(labels == 1, d, -d)
    rows = np.arange(d.shape[0])
    other = d.copy()
    other[rows, labels] = -np.inf
    return d[rows, labels] - other.max(axis=1)


# --------------------------------------------------------------------------
# Separation
# --------------------------------------------------------------------------


@st.composite
def separable(draw):
    """Linearly separable data: labels from a (hidden) linear rule, with a margin."""
    rng = np.random.default_rng(draw(seeds))
    n = draw(st.integers(6, 60))
    p = draw(st.integers(1, 6))
    n_classes = draw(st.sampled_from([2, 2, 3]))
    X = rng.standard_normal((n, p)) * 10.0 ** rng.uniform(-1, 1, p)
    V = rng.standard_normal((p, n_classes))
    labels = np.argmax(X @ V, axis=1)
    assume(np.unique(labels).size == n_classes)
    alpha = 10.0 ** draw(st.floats(-6, -1))
    l1_ratio = draw(st.sampled_from([0.0, 0.5, 1.0]))
    return X, labels, alpha, l1_ratio


@PROPERTY_SETTINGS
@given(data=separable())
def test_separable_data_gives_finite_fits_and_a_separation_warning(data):
    X, labels, alpha, l1_ratio = data
    est, record = _fit(
        glmops.LogisticRegression(alpha, l1_ratio=l1_ratio, tol=1e-6, max_iter=1000), X, labels
    )
    assert np.all(np.isfinite(est.coef_))
    assert np.all(np.isfinite(est.intercept_))
    _assert_proper_probabilities(est, X)
    margin = _margins(est, X, labels)
    assume(np.all(np.abs(margin - SATURATED_MARGIN) > 1e-6))  # no rounding ties
    share = float(np.mean(margin > SATURATED_MARGIN))
    separated = bool(np.all(margin > 0))
    separation = _messages(record, UserWarning)
    separation = [m for m in separation if "separation" in m]
    if (separated and share > 0) or share >= 0.01:
        assert separation, "probabilities saturate but no separation warning"
        assert f"alpha={alpha:.3g}" in separation[0]
        if separated:
            assert separation[0].startswith("Complete separation")
    if share == 0:
        assert not separation
    _assert_no_warnings(record, separation=True)


def test_separation_warning_names_the_features():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.standard_normal((40, 3)), columns=["noise", "leak", "other"])
    y = (X["leak"] > 0).astype(int)
    with pytest.warns(UserWarning, match=r"(?s)Complete separation.*leak") as record:
        glmops.LogisticRegression(1e-6, l1_ratio=1.0, tol=1e-6, max_iter=1000).fit(X, y)
    assert len(record) == 1


# --------------------------------------------------------------------------
# Rare and many classes
# --------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(
    seed=seeds,
    n_classes=st.sampled_from([2, 3, 4]),
    alpha=st.floats(1e-3, 1e-1),
    l1_ratio=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_a_class_with_one_sample(logit, seed, n_classes, alpha, l1_ratio):
    rng = np.random.default_rng(seed)
    n, p = 30, 4
    X = rng.standard_normal((n, p))
    labels = rng.integers(0, n_classes - 1, n)
    labels[: n_classes - 1] = np.arange(n_classes - 1)  # the common classes
    rare = int(rng.integers(0, n_classes))  # relabel so the single sample is class `rare`
    labels = np.where(labels >= rare, labels + 1, labels)
    lone = int(rng.integers(0, n))
    labels[lone] = rare
    assume(np.unique(labels).size == n_classes)
    est, record = _fit(
        glmops.LogisticRegression(alpha, l1_ratio=l1_ratio, tol=1e-8, max_iter=1000), X, labels
    )
    _assert_no_warnings(record, separation=True)
    proba = _assert_proper_probabilities(est, X)
    assert proba[lone, rare] > 0
    # its intercept is finite, and with an intercept the class's mean probability
    # matches its share (the intercept's optimality condition)
    assert np.all(np.isfinite(est.intercept_))
    assert proba[:, rare].mean() == pytest.approx(1.0 / n, rel=1e-5)
    kkt = logit.kkt_residual(X, labels, None, est.intercept_, est.coef_, alpha, l1_ratio)
    p_est = logit.objective(X, labels, None, est.intercept_, est.coef_, alpha, l1_ratio)
    # judged at the tolerance, not the reported gap: with a lone sample the reported
    # gap can be 0 (see test_logistic_oracle.py::test_gap_with_a_lone_positive_sample)
    gap = max(est.dual_gap_, 1e-8 * p_est)
    assert kkt <= logit.kkt_bound(X, None, gap, p_est, alpha, l1_ratio, n_classes)


@settings(PROPERTY_SETTINGS, max_examples=8)
@given(seed=seeds, l1_ratio=st.sampled_from([0.0, 0.5, 1.0]), sparse=st.booleans())
def test_ten_classes(logit, seed, l1_ratio, sparse):
    # sparse input with the pure lasso: test_ten_classes_sparse_lasso (a known bug)
    assume(not (sparse and l1_ratio == 1))
    X, labels = logit.make_problem(150, 6, 10, seed=seed % 1000)
    alpha = 0.02
    data = sp.csr_matrix(X) if sparse else X
    tol = 1e-6 if l1_ratio == 1 else 1e-8
    est, record = _fit(
        glmops.LogisticRegression(alpha, l1_ratio=l1_ratio, tol=tol, max_iter=1000), data, labels
    )
    _assert_no_warnings(record)
    assert est.coef_.shape == (10, 6)
    assert est.intercept_.shape == (10,)
    assert abs(est.intercept_.sum()) <= 1e-10 * np.abs(est.intercept_).max()
    _assert_proper_probabilities(est, data)
    np.testing.assert_array_equal(est.classes_, np.arange(10))
    kkt = logit.kkt_residual(X, labels, None, est.intercept_, est.coef_, alpha, l1_ratio)
    p_est = logit.objective(X, labels, None, est.intercept_, est.coef_, alpha, l1_ratio)
    assert kkt <= logit.kkt_bound(X, None, est.dual_gap_, p_est, alpha, l1_ratio, 10)


def test_ten_classes_sparse_lasso(logit):
    X, labels = logit.make_problem(150, 6, 10, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", glmops.ConvergenceWarning)
        glmops.LogisticRegression(0.02, l1_ratio=1.0, tol=1e-6, max_iter=1000).fit(
            sp.csr_matrix(X), labels
        )


# --------------------------------------------------------------------------
# Column structure
# --------------------------------------------------------------------------


@st.composite
def classification(draw, max_n=40, max_p=6):
    """Random features (hypothesis arrays) and noisy linear labels with both classes."""
    n = draw(st.integers(8, max_n))
    p = draw(st.integers(1, max_p))
    X = draw(arrays(np.float64, (n, p), elements=finite))
    assume(np.all(np.ptp(X, axis=0) > 0.1))
    rng = np.random.default_rng(draw(seeds))
    n_classes = draw(st.sampled_from([2, 3]))
    eta = X @ rng.standard_normal((p, n_classes)) + rng.standard_normal((n, n_classes))
    labels = np.argmax(eta, axis=1)
    assume(np.all(np.bincount(labels, minlength=n_classes) >= 2))
    return X, labels, n_classes


@PROPERTY_SETTINGS
@given(data=classification(), l1_ratio=st.sampled_from([0.0, 0.5, 1.0]), where=st.integers(0, 99))
def test_a_duplicated_column_shares_its_coefficient(logit, data, l1_ratio, where):
    X, labels, n_classes = data
    j = where % X.shape[1]
    X_dup = np.column_stack([X, X[:, j]])
    alpha = 0.05
    tol = 1e-8
    kwargs = {"l1_ratio": l1_ratio, "tol": tol, "max_iter": 1000}
    plain, rec_plain = _fit(glmops.LogisticRegression(alpha, **kwargs), X, labels)
    dup, rec_dup = _fit(glmops.LogisticRegression(alpha, **kwargs), X_dup, labels)
    # separated problems have no (finite) unpenalised answer to compare with
    assume(not any(_is_separation(r) for r in rec_plain + rec_dup))
    _assert_no_warnings(rec_plain + rec_dup)
    p_plain = logit.objective(X, labels, None, plain.intercept_, plain.coef_, alpha, l1_ratio)
    p_dup = logit.objective(X_dup, labels, None, dup.intercept_, dup.coef_, alpha, l1_ratio)
    slack = plain.dual_gap_ + dup.dual_gap_ + 1e-13 * p_plain
    b_j, b_dup = dup.coef_[:, j], dup.coef_[:, -1]
    # merging the pair is feasible for the plain problem, so with the L1 part
    # only the objectives coincide; a ridge part prefers an even split
    assert p_dup <= p_plain + slack
    if l1_ratio == 1:
        assert abs(p_dup - p_plain) <= slack
        assert np.all(b_j * b_dup >= 0)
    else:
        mu = alpha * (1 - l1_ratio)
        radius = 2 * np.sqrt(2 * (dup.dual_gap_ + 1e-14 * p_dup) / mu)
        assert np.max(np.abs(b_j - b_dup)) <= radius
    kkt = logit.kkt_residual(X_dup, labels, None, dup.intercept_, dup.coef_, alpha, l1_ratio)
    assert kkt <= logit.kkt_bound(X_dup, None, dup.dual_gap_, p_dup, alpha, l1_ratio, n_classes)


@PROPERTY_SETTINGS
@given(
    data=classification(),
    value=st.sampled_from([0.0, 1.0, -3.5, 1e4]),
    l1_ratio=st.sampled_from([0.0, 0.5, 1.0]),
    standardize=st.booleans(),
    sparse=st.booleans(),
)
def test_a_constant_column_gets_zero(data, value, l1_ratio, standardize, sparse):
    X, labels, _ = data
    X_const = np.column_stack([X[:, :1], np.full(X.shape[0], value), X[:, 1:]])
    data_in = sp.csc_matrix(X_const) if sparse else X_const
    est, record = _fit(
        glmops.LogisticRegression(
            0.05, l1_ratio=l1_ratio, standardize=standardize, tol=1e-8, max_iter=1000
        ),
        data_in,
        labels,
    )
    _assert_no_warnings(record, separation=True)
    assert np.all(np.isfinite(est.coef_))
    if sparse:  # exact zero: see test_a_sparse_constant_column_gets_exactly_zero
        assert np.max(np.abs(est.coef_[:, 1])) <= 1e-10
    else:
        np.testing.assert_array_equal(est.coef_[:, 1], 0.0)


@pytest.mark.parametrize("standardize", [False, True])
def test_a_sparse_constant_column_gets_exactly_zero(standardize):
    X = np.column_stack([np.r_[0.0, np.ones(18)], np.ones(19)])
    y = np.array([0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1])
    dense = glmops.LogisticRegression(0.05, l1_ratio=0.0, standardize=standardize).fit(X, y)
    assert dense.coef_[0, 1] == 0.0
    est = glmops.LogisticRegression(0.05, l1_ratio=0.0, standardize=standardize)
    est.fit(sp.csc_matrix(X), y)
    assert est.coef_[0, 1] == 0.0


def test_an_all_zero_column_gets_zero_without_intercept():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.standard_normal((30, 2)), np.zeros(30)])
    y = (X[:, 0] + rng.standard_normal(30) > 0).astype(int)
    for standardize in (False, True):
        est = glmops.LogisticRegression(
            0.05, fit_intercept=False, standardize=standardize, tol=1e-8
        ).fit(X, y)
        assert est.coef_[0, 2] == 0.0
        assert np.count_nonzero(est.coef_) >= 1


@PROPERTY_SETTINGS
@given(
    seed=seeds,
    exponents=arrays(np.int64, 4, elements=st.sampled_from([-6, -3, 0, 3, 6])),
    l1_ratio=st.sampled_from([0.0, 0.5, 1.0]),
    n_classes=st.sampled_from([2, 3]),
)
def test_standardize_makes_the_fit_scale_free(logit, seed, exponents, l1_ratio, n_classes):
    X, labels = logit.make_problem(80, 4, n_classes, seed=seed % 1000)
    factors = 10.0 ** exponents.astype(np.float64)
    tol = 1e-8
    kwargs = {"l1_ratio": l1_ratio, "standardize": True, "tol": tol, "max_iter": 1000}
    unit, rec_unit = _fit(glmops.LogisticRegression(0.02, **kwargs), X, labels)
    scaled, rec_scaled = _fit(glmops.LogisticRegression(0.02, **kwargs), X * factors, labels)
    _assert_no_warnings(rec_unit)
    _assert_no_warnings(rec_scaled)
    # the same problem in other units: coefficients scale by 1/factor
    s = logit.column_scale(X, None, True)
    p_unit = logit.objective(X, labels, None, unit.intercept_, unit.coef_, 0.02, l1_ratio, s)
    p_scaled = logit.objective(
        X, labels, None, scaled.intercept_, scaled.coef_ * factors, 0.02, l1_ratio, s
    )
    assert abs(p_unit - p_scaled) <= unit.dual_gap_ + scaled.dual_gap_ + 1e-12 * p_unit
    if _converged(rec_unit) and _converged(rec_scaled):
        np.testing.assert_allclose(
            scaled.predict_proba(X * factors), unit.predict_proba(X), rtol=0, atol=1e-4
        )


# --------------------------------------------------------------------------
# Extreme imbalance
# --------------------------------------------------------------------------


@settings(PROPERTY_SETTINGS, max_examples=5)
@given(seed=seeds, share=st.sampled_from([0.5, 0.9]), l1_ratio=st.sampled_from([0.5, 1.0]))
def test_extreme_imbalance_predicts_the_base_rate(seed, share, l1_ratio):
    rng = np.random.default_rng(seed)
    n, p = 5000, 5
    X = rng.standard_normal((n, p))
    y = np.zeros(n, dtype=np.int64)
    y[rng.choice(n, 5, replace=False)] = 1  # 0.1% positives
    base = y.mean()
    Xc = X - X.mean(axis=0)
    alpha_max = float(np.max(np.abs(Xc.T @ (y - base)))) / n / l1_ratio
    kwargs = {"l1_ratio": l1_ratio, "tol": 1e-8, "max_iter": 1000}
    null, record = _fit(glmops.LogisticRegression(1.01 * alpha_max, **kwargs), X, y)
    _assert_no_warnings(record)
    assert _converged(record)
    np.testing.assert_array_equal(null.coef_, 0.0)
    np.testing.assert_allclose(null.predict_proba(X)[:, 1], base, rtol=1e-9)
    np.testing.assert_array_equal(null.predict(X), 0)
    est, record = _fit(glmops.LogisticRegression(share * alpha_max, **kwargs), X, y)
    _assert_no_warnings(record)
    proba = est.predict_proba(X)[:, 1]
    # the intercept's condition: the mean probability is the base rate
    assert proba.mean() == pytest.approx(base, rel=1e-5)
    # no row far above it (liblinear agrees: seed 854 has one row at 21.7x the base rate)
    assert np.all(proba < 30 * base)


@PROPERTY_SETTINGS
@given(data=classification(), seed=seeds, l1_ratio=st.sampled_from([0.0, 0.5, 1.0]))
def test_row_order_does_not_matter(logit, data, seed, l1_ratio):
    X, labels, _ = data
    perm = np.random.default_rng(seed).permutation(X.shape[0])
    kwargs = {"l1_ratio": l1_ratio, "tol": 1e-8, "max_iter": 1000}
    a, rec_a = _fit(glmops.LogisticRegression(0.05, **kwargs), X, labels)
    b, rec_b = _fit(glmops.LogisticRegression(0.05, **kwargs), X[perm], labels[perm])
    assume(not any(_is_separation(r) for r in rec_a + rec_b))
    _assert_no_warnings(rec_a + rec_b)
    p_a = logit.objective(X, labels, None, a.intercept_, a.coef_, 0.05, l1_ratio)
    p_b = logit.objective(X, labels, None, b.intercept_, b.coef_, 0.05, l1_ratio)
    assert abs(p_a - p_b) <= a.dual_gap_ + b.dual_gap_ + 1e-13 * p_a
