"""scikit-learn LogisticRegression with solver="saga" (binary and multinomial).

Mapping: scikit-learn minimises C * sum_i logloss_i + l1_ratio*|B|_1 +
(1-l1_ratio)/2*|B|_2^2 (saga scales it to the mean loss internally). Dividing
by C*n gives the benchmark objective with ``alpha = 1/(C*n)``, i.e.
``C = 1/(alpha*n)``; scikit-learn's ``l1_ratio`` is ours. The intercept is
unpenalized (saga fits it as an unpenalized coordinate; ``intercept_scaling``
only concerns liblinear). Multinomial (K >= 3) is the full softmax with K
rows and no reference class, penalty over the whole matrix, as ours.
``random_state=0`` fixes saga's sampling order. ``tol`` bounds the largest
relative change of the coefficients over one epoch (not an optimality
measure); ``max_iter`` (epochs) is raised from 100 so tight tolerances are not
cut short.

Layout and centring: LogisticRegression.fit copies X to C order (dense) or
CSR (sparse) on every call, and never centres X. Inside the timed region the
adapter converts X ONCE: dense X is centred into a C-ordered copy (one copy,
the conversion fit would make anyway) and b0 = c - B xbar afterwards, as the
Gaussian adapters do for scikit-learn's estimators; sparse X goes to CSR
without centring. On logit_path's generator (non-zero column means) saga on
the centred copy was 3-5x faster at the same precision (5,000 x 100, 20
alphas: 5.3 s vs 24 s at tol=1e-6), so we time the faster, equivalent
formulation. The path then loops ``fit`` with ``warm_start=True`` over C
(decreasing alpha).

CV: ``LogisticRegressionCV(Cs, l1_ratios, cv, scoring="neg_log_loss")``.
Each fold's C applies to n_train samples, so ``Cs = 1/(alphas*n_train)``
makes every fold problem the one the other peers solve at the same alpha
(exact for equal-sized folds, as KFold(5) gives on every problem here).
scikit-learn's own refit (``refit=True``) would reuse the chosen C on all n
samples, i.e. refit at alpha*n_train/n, not at the chosen alpha. So the
adapter runs ``refit=False`` and then does exactly what ``refit=True`` does
(sum of fold scores, argmax over (C, l1_ratio) in scikit-learn's order,
warm start from the mean of the fold coefficients at that point), except
that the refit uses ``C = 1/(alpha*n)``. Both steps are timed.

Not used: ``liblinear`` (binary only; pure L1 or L2, no elastic net; it
penalizes the intercept through ``intercept_scaling``) and ``lbfgs`` (pure L2
only): none of the logistic problems is pure L2, and the only pure-L1 point
(logit_cv's l1_ratio=1.0) shares its run with l1_ratio=0.5.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

from bench.peers import CVFit, FloatArray, PathFit
from bench.peers._common import center_columns, uncenter_intercepts
from bench.problems import Matrix

MAX_ITER = 100_000  # epochs; saga's default 100 stops tight tolerances early
RANDOM_STATE = 0


def _model(C: float, l1_ratio: float, tol: float, *, warm_start: bool) -> LogisticRegression:
    return LogisticRegression(
        C=C,
        l1_ratio=l1_ratio,
        solver="saga",
        tol=tol,
        max_iter=MAX_ITER,
        warm_start=warm_start,
        random_state=RANDOM_STATE,
    )


def _c_layout(X: Matrix) -> tuple[Matrix, FloatArray | None]:
    """Return (X for saga, column means or None): centred C-ordered dense, or CSR."""
    if sp.issparse(X):
        return X.tocsr(), None
    return center_columns(X, order="C")


def _rows(coef: FloatArray, intercept: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Binary (1, p), (1,) -> (p,), scalar; multinomial stays (K, p), (K,)."""
    if coef.shape[0] == 1:
        return coef[0], intercept[0]
    return coef, intercept


def fit_path(
    X: Matrix, y: FloatArray, *, alphas: FloatArray, l1_ratio: float, tol: float
) -> PathFit:
    n = X.shape[0]
    Xc, x_mean = _c_layout(X)
    model = _model(1.0, l1_ratio, tol, warm_start=True)
    coefs, intercepts = [], []
    for alpha in np.asarray(alphas):
        model.set_params(C=1.0 / (alpha * n))
        model.fit(Xc, y)
        c, b = _rows(np.array(model.coef_), np.array(model.intercept_))
        coefs.append(c)
        intercepts.append(b)
    return _uncenter(np.stack(coefs, axis=-1), np.stack(intercepts, axis=-1), x_mean)


def _uncenter(coefs: FloatArray, intercepts: FloatArray, x_mean: FloatArray | None) -> PathFit:
    if x_mean is None:
        return PathFit(coefs, intercepts)
    return PathFit(coefs, uncenter_intercepts(coefs, intercepts, x_mean))


def fit_single(X: Matrix, y: FloatArray, *, alpha: float, l1_ratio: float, tol: float) -> PathFit:
    Xc, x_mean = _c_layout(X)
    model = _model(1.0 / (alpha * X.shape[0]), l1_ratio, tol, warm_start=False).fit(Xc, y)
    c, b = _rows(np.asarray(model.coef_), np.asarray(model.intercept_))
    return _uncenter(c[..., None], np.asarray(b)[..., None], x_mean)


def fit_cv(
    X: Matrix,
    y: FloatArray,
    *,
    l1_ratios: tuple[float, ...],
    alphas: FloatArray,
    cv: object,
    tol: float,
) -> CVFit:
    n = X.shape[0]
    alphas = np.asarray(alphas)
    splits = list(cv.split(X, y))  # type: ignore[attr-defined]
    n_train = float(np.mean([len(train) for train, _ in splits]))
    # centring with the full-data means changes only the intercepts, in every fold
    Xc, x_mean = _c_layout(X)
    cvm = LogisticRegressionCV(
        Cs=list(1.0 / (alphas * n_train)),
        # an ndarray: with refit=False, scikit-learn 1.9.1 indexes l1_ratios with an
        # integer array (TypeError on a list)
        l1_ratios=np.asarray(l1_ratios, dtype=np.float64),
        cv=splits,
        scoring="neg_log_loss",
        solver="saga",
        tol=tol,
        max_iter=MAX_ITER,
        refit=False,
        random_state=RANDOM_STATE,
        use_legacy_attributes=False,
    ).fit(Xc, y)
    scores = np.asarray(cvm.scores_)  # (n_folds, n_l1, n_cs)
    paths = np.asarray(cvm.coefs_paths_)  # (n_folds, n_l1, n_cs, n_rows, p + 1)
    # refit=True's choice: argmax of the fold sum over (n_cs, n_l1), C-major
    summed = scores.sum(axis=0).T
    i_c, i_l1 = np.unravel_index(int(np.argmax(summed)), summed.shape)
    init = paths[:, i_l1, i_c].mean(axis=0)  # (n_rows, p + 1)
    alpha, l1_ratio = float(alphas[i_c]), float(l1_ratios[i_l1])
    model = _model(1.0 / (alpha * n), l1_ratio, tol, warm_start=True)
    model.coef_ = init[:, :-1].copy()
    model.intercept_ = init[:, -1].copy()
    model.fit(Xc, y)
    coef, intercept = _rows(np.asarray(model.coef_), np.asarray(model.intercept_))
    if x_mean is not None:
        intercept = intercept - coef @ x_mean
    return CVFit(
        alpha=alpha,
        l1_ratio=l1_ratio,
        coef=coef,
        intercept=float(intercept) if np.ndim(intercept) == 0 else intercept,
        alphas=np.tile(alphas, (len(l1_ratios), 1)),
        mse_mean=-scores.mean(axis=0),
    )
