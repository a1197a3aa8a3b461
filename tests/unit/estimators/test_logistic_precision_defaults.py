"""Logistic precision at the defaults: a drop-in must reach the optimum without any parameter set.

Every glmops fit below uses the default ``tol`` and ``max_iter``. The stopping
rule ("the duality gap, a proven bound on how far the objective is above its
minimum, is at most ``tol`` times the objective", default ``tol=1e-7``)
certifies the objective to within 1e-7 (relative) of the optimum; these tests
check that against an independent tight reference, binary and multinomial,
on real public data (breast cancer, digits 3-vs-rest, wine and iris with 3
classes) and generated hard cases (separable, a rare class, collinear with
condition number ~1e6).

The reference is the best of glmops at a tiny ``tol`` (cold start: no path,
no warm start, no subsample start shared with the fit under test) and
scikit-learn's ``LogisticRegression`` (saga, ``tol=1e-12``) mapped to the
same objective (``C = 1 / (alpha * n_samples)``, see
``test_logistic_oracle.py``), and must itself pass the KKT conditions
computed here in NumPy, so a loose reference cannot make a test pass.
Separable data get moderate penalties: the optimum always exists with
``alpha > 0``, but a tiny one would only measure saturated probabilities.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.model_selection import StratifiedKFold

import glmops

from .precision_cases import CLASSIFICATION_CASES, Case

DEFAULT_PRECISION = 1e-7
# the reference must satisfy the KKT conditions to this share of max|g(0)|
REFERENCE_KKT = 1e-6
# the reference solves: glmops to its rounding floor, scikit-learn's saga with
# an epoch budget that keeps the suite fast (the KKT check judges the winner)
REFERENCE_TOL = 1e-13
SAGA_MAX_ITER = 300
# penalties as shares of alpha_max; the separable case stays moderate
SHARES = {"separable": (0.1, 0.03)}
DEFAULT_SHARES = (0.1, 0.01)


def _data(case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Return ``(X, y, labels, n_classes)``; ``labels`` index ``np.unique(y)``."""
    X, y, w = case.build()
    assert w is None  # the classification cases are unweighted
    classes, labels = np.unique(y, return_inverse=True)
    return np.asarray(X, dtype=np.float64), np.asarray(y), labels, int(classes.shape[0])


def _alpha_max(logit, X, labels, n_classes, l1_ratio):
    # max |x_j' wn (Y - P0)| at the intercept-only model, over l1_ratio
    return logit.grad_scale(X, labels, None, n_classes) / max(l1_ratio, 1e-3)


def _reference(logit, X, y, labels, n_classes, alpha, l1_ratio):
    """Return the lowest objective of the tight solves, checked by KKT."""
    fits = []
    with warnings.catch_warnings():
        # a reference that stops early is caught by the KKT check below
        warnings.simplefilter("ignore", SkConvergenceWarning)
        warnings.simplefilter("ignore", glmops.ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # separation: expected here
        ours = glmops.LogisticRegression(
            alpha, l1_ratio=l1_ratio, tol=REFERENCE_TOL, max_iter=1000
        ).fit(X, y)
        fits.append((ours.intercept_, ours.coef_))
        sk = SkLogisticRegression(
            C=1.0 / (alpha * X.shape[0]),
            l1_ratio=l1_ratio,
            solver="saga",
            tol=1e-12,
            max_iter=SAGA_MAX_ITER,
        ).fit(X, y)
        fits.append((sk.intercept_, sk.coef_))
    values = [logit.objective(X, labels, None, b0, B, alpha, l1_ratio) for b0, B in fits]
    b0, B = fits[int(np.argmin(values))]
    kkt = logit.kkt_residual(X, labels, None, b0, B, alpha, l1_ratio)
    scale = logit.grad_scale(X, labels, None, n_classes)
    assert kkt <= REFERENCE_KKT * scale, "reference not optimal"
    return min(values)


def _check_fit(logit, X, labels, model, alpha, l1_ratio, p_ref):
    p_ours = logit.objective(X, labels, None, model.intercept_, model.coef_, alpha, l1_ratio)
    assert p_ours - p_ref <= DEFAULT_PRECISION * p_ref
    # the certificate is honest and within the documented rule
    assert p_ours - p_ref <= model.dual_gap_ + 1e-13 * p_ref
    assert model.dual_gap_ <= DEFAULT_PRECISION * p_ours * (1 + 1e-9)


def _single_params():
    out = []
    for case in CLASSIFICATION_CASES:
        for l1_ratio in (0.5, 1.0):
            for share in SHARES.get(case.name, DEFAULT_SHARES):
                out.append(
                    pytest.param(case, l1_ratio, share, id=f"{case.name}-{l1_ratio}-{share}")
                )
    return out


@pytest.mark.parametrize(("case", "l1_ratio", "share"), _single_params())
def test_single_fit_at_defaults_is_within_1e7_of_the_optimum(logit, case, l1_ratio, share):
    X, y, labels, n_classes = _data(case)
    alpha = share * _alpha_max(logit, X, labels, n_classes, l1_ratio)
    with warnings.catch_warnings():
        # the solver certified its fit: no convergence warning may escape
        warnings.simplefilter("error", glmops.ConvergenceWarning)
        model = glmops.LogisticRegression(alpha, l1_ratio=l1_ratio).fit(X, y)
    p_ref = _reference(logit, X, y, labels, n_classes, alpha, l1_ratio)
    _check_fit(logit, X, labels, model, alpha, l1_ratio, p_ref)


PATH_ALPHAS = 6
PATH_EPS = {"separable": 0.03}


@pytest.mark.parametrize("case", CLASSIFICATION_CASES, ids=lambda c: c.name)
def test_path_at_defaults_is_within_1e7_of_the_optimum(logit, case):
    X, y, labels, n_classes = _data(case)
    alphas, coefs, intercepts, gaps = glmops.logistic_path(
        X, y, l1_ratio=0.5, n_alphas=PATH_ALPHAS, eps=PATH_EPS.get(case.name, 1e-2)
    )
    for k, alpha in enumerate(alphas):
        p_ref = _reference(logit, X, y, labels, n_classes, alpha, 0.5)
        p_ours = logit.objective(X, labels, None, intercepts[:, k], coefs[:, :, k], alpha, 0.5)
        assert p_ours - p_ref <= DEFAULT_PRECISION * p_ref, f"alpha index {k}"
        assert gaps[k] <= DEFAULT_PRECISION * p_ours * (1 + 1e-9), f"alpha index {k}"


CV_CASES = [c for c in CLASSIFICATION_CASES if c.name in {"cancer", "wine-3-classes", "collinear"}]


@pytest.mark.parametrize("case", CV_CASES, ids=lambda c: c.name)
def test_cv_at_defaults_refits_at_the_optimum_and_scores_exactly(logit, case):
    X, y, labels, n_classes = _data(case)
    folds = StratifiedKFold(3)
    cv = glmops.LogisticRegressionCV(l1_ratio=[0.5, 1.0], n_alphas=6, eps=1e-2, cv=folds).fit(X, y)
    p_ref = _reference(logit, X, y, labels, n_classes, cv.alpha_, cv.l1_ratio_)
    _check_fit(logit, X, labels, cv, cv.alpha_, cv.l1_ratio_, p_ref)
    # scores_ are the held-out log losses of the fold fits, within 1e-4 of those
    # of exact fits: an objective within 1e-7 leaves the coefficients within
    # ~sqrt(1e-7) of the optimum, far less on well-conditioned data
    i = [0.5, 1.0].index(cv.l1_ratio_)
    for k, (train, test) in enumerate(folds.split(X, y)):
        for j, alpha in enumerate(cv.alphas_[i]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", glmops.ConvergenceWarning)
                exact = glmops.LogisticRegression(
                    alpha, l1_ratio=cv.l1_ratio_, tol=REFERENCE_TOL, max_iter=1000
                ).fit(X[train], y[train])
            proba = exact.predict_proba(X[test])
            log_loss = -float(np.mean(np.log(proba[np.arange(test.size), labels[test]])))
            assert -cv.scores_[i, j, k] == pytest.approx(log_loss, rel=1e-4), (j, k)
