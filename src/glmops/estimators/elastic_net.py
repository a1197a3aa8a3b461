"""scikit-learn compatible elastic-net estimators over the glmops engine.

All estimators minimise, for weights ``w`` with sum ``W``::

    1/(2W) * sum_i w_i (y_i - b0 - x_i.b)^2
        + alpha * (l1_ratio * |b|_1 + (1 - l1_ratio)/2 * |b|_2^2)

exactly scikit-learn's parametrisation, so results compare 1:1. ``tol``
certifies the fit: the solver stops when the duality gap (which bounds how
far the objective is above its minimum) is at most ``tol`` times the
objective, so the default ``tol=1e-7`` returns an objective within 1e-7
(relative) of the optimum; ``dual_gap_`` reports the gap reached, in
objective units. (scikit-learn's ``tol`` multiplies the variance of y
instead, a looser bound for the same number.)

``standardize=True`` solves glmnet-style on weighted-standardised columns
(standard deviation with divisor ``W``) and reports coefficients on the
original scale; constant columns get a zero coefficient.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import assert_all_finite, validate_data

from glmops._typing import FloatArray
from glmops._validation import check_sample_weight, check_target
from glmops.core.path import (
    SOLVERS,
    Backend,
    GramBackend,
    PathResult,
    alpha_grid,
    choose_solver,
    compute_alpha_max,
    make_backend,
    predict_support,
    solve_path,
)
from glmops.core.stats import SufficientStats
from glmops.engines.base import Engine, FoldStatistics, Split
from glmops.engines.local import LocalEngine, check_fold_weights
from glmops.errors import InvalidInputError
from glmops.estimators._base import (
    SparseInputEstimator,
    canonical_csc,
    check_predict_input,
    warn_if_not_converged,
)
from glmops.estimators._cv import alpha_grids, check_alphas, check_l1_ratios, cv_results, select

__all__ = ["ElasticNet", "ElasticNetCV", "Lasso", "LassoCV", "enet_path"]

_warn_if_not_converged = functools.partial(
    warn_if_not_converged,
    scale="the objective",
    advice=(
        "Increase max_iter (it counts CD epochs per alpha, an active-set Newton step as "
        "one), set standardize=True if features have very different scales, or raise tol "
        "if this precision is not needed."
    ),
)

_COMMON_CONSTRAINTS: dict[str, list[Any]] = {
    "fit_intercept": ["boolean"],
    "standardize": ["boolean"],
    "positive": ["boolean"],
    "solver": [StrOptions(set(SOLVERS))],
    "tol": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
}


def _validate_xy(
    estimator: BaseEstimator, X: Any, y: Any, sample_weight: Any
) -> tuple[FloatArray | sp.spmatrix, FloatArray, FloatArray | None]:
    """Return validated ``(X, y, sample_weight)``; nothing is copied needlessly."""
    # X's finiteness is checked after the first pass over it (see
    # _check_finite_stats): a NaN/inf entry makes its column's second moment
    # non-finite, so the separate scan costs nothing when data are clean.
    X, y = validate_data(
        estimator,
        X,
        y,
        accept_sparse=["csc", "csr", "coo"],
        dtype=[np.float64, np.float32],
        y_numeric=True,
        multi_output=False,
        ensure_all_finite=False,
    )
    if sp.issparse(X):
        X = canonical_csc(X)
    y_arr = check_target(y, X.shape[0])
    sw = check_sample_weight(sample_weight, X.shape[0], equal_as_none=True)
    return X, y_arr, sw


def _check_finite_stats(
    X: FloatArray | sp.spmatrix, norms: FloatArray, c: FloatArray, yy: float
) -> None:
    """Raise if X held NaN/inf, detected from statistics its first pass made.

    A non-finite entry makes its column's second moment non-finite; only then
    is X scanned, for scikit-learn's exact message. Finite values whose
    squares overflow float64 get their own message, for X and for y.
    """
    if not np.isfinite(yy):
        raise InvalidInputError(
            "y has values so large that their squares overflow float64; rescale the target.",
            field="y",
            expected="finite values with finite squares (|y| < 1e154)",
            got="overflow",
        )
    if np.all(np.isfinite(norms)) and np.all(np.isfinite(c)):
        return
    assert_all_finite(X.data if sp.issparse(X) else X, input_name="X")
    raise InvalidInputError(
        "X has values so large that their squares overflow float64; rescale the features.",
        field="X",
        expected="finite values with finite squares (|x| < 1e154)",
        got="overflow",
    )


def _finite_stats_check(X: FloatArray | sp.spmatrix) -> Callable[[SufficientStats], None]:
    """Return a check of one block's statistics: X's NaN/inf shows in the first ones."""

    def check(stats: SufficientStats) -> None:
        _check_finite_stats(X, np.diag(stats.sxx), stats.sxy, stats.syy)

    return check


def _penalty_scale(norms: FloatArray, standardize: bool) -> FloatArray:
    """Per-feature penalty scale: weighted std when standardising, else 1 (0: dead)."""
    if standardize:
        return np.sqrt(norms)
    return np.where(norms > 0, 1.0, 0.0)


def _fit_path(
    X: FloatArray | sp.spmatrix,
    y: FloatArray,
    sample_weight: FloatArray | None,
    alphas: FloatArray | None,
    *,
    l1_ratio: float,
    n_alphas: int,
    eps: float,
    fit_intercept: bool,
    standardize: bool,
    positive: bool,
    solver: str,
    tol: float,
    max_iter: int,
) -> PathResult:
    """Fit the path on in-memory data (a single alpha is a path of one)."""
    resolved = choose_solver(X.shape[0], X.shape[1], solver)
    single = alphas is not None and len(alphas) == 1
    backend = make_backend(
        X, y, sample_weight, fit_intercept=fit_intercept, solver=resolved, lazy_gram=single
    )
    _check_finite_stats(X, backend.norms, backend.c, backend.yy)
    scale = _penalty_scale(backend.norms, standardize)
    alpha_max = compute_alpha_max(backend.c, scale, l1_ratio)
    if alphas is None:
        alphas = alpha_grid(alpha_max, n_alphas, eps)
    support = None
    if single and resolved == "covariance":
        support = predict_support(
            X,
            y,
            sample_weight,
            float(alphas[0]),
            l1_ratio=l1_ratio,
            penalty_scale=scale,
            positive=positive,
            fit_intercept=fit_intercept,
        )
    return solve_path(
        backend,
        alphas,
        l1_ratio=l1_ratio,
        penalty_scale=scale,
        positive=positive,
        tol=tol,
        max_iter=max_iter,
        alpha_start=alpha_max,
        initial_working_set=support,
    )


class _LinearRegressor(RegressorMixin, SparseInputEstimator):  # type: ignore[misc]
    """Prediction from ``coef_`` and ``intercept_``, shared by the regressors."""

    coef_: FloatArray
    intercept_: float

    def predict(self, X: Any) -> FloatArray:
        """Return the predicted targets, ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples with the training features, in the same order.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted targets.
        """
        X = check_predict_input(self, X)
        return np.asarray(safe_sparse_dot(X, self.coef_) + self.intercept_)


class ElasticNet(_LinearRegressor):
    """Linear regression with combined L1 and L2 priors, certified by duality gap.

    Minimises ``1/(2W) sum_i w_i (y_i - b0 - x_i.b)^2 + alpha*(l1_ratio*|b|_1
    + (1-l1_ratio)/2*|b|_2^2)``; a drop-in replacement for
    ``sklearn.linear_model.ElasticNet`` (same objective; ``tol`` here bounds
    the objective's relative distance to the optimum).

    Parameters
    ----------
    alpha : float, default=1.0
        Penalty strength, >= 0.
    l1_ratio : float, default=0.5
        L1 share of the penalty, in [0, 1] (1 lasso, 0 ridge).
    fit_intercept : bool, default=True
        Fit an unpenalised intercept (data centred implicitly, never copied).
    standardize : bool, default=False
        Solve on weighted-standardised columns (glmnet), report original scale.
    positive : bool, default=False
        Constrain coefficients to be non-negative.
    solver : {"auto", "covariance", "naive"}, default="auto"
        Covariance updates on a lazily filled Gram matrix (tall data) or
        residual updates (wide data; CSC kernel for sparse input).
    tol : float, default=1e-7
        Stop when the duality gap, a proven bound on how far the objective is
        above its minimum, is <= ``tol`` times the objective: the default
        certifies the objective to within 1e-7 (relative) of the optimum.
    max_iter : int, default=1000
        Maximum passes at one alpha: coordinate-descent epochs over the working
        set, an active-set Newton step counting as one (every solver alike).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int
        Epochs run.
    dual_gap_ : float
        Certified duality gap, in objective units.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Present when X had string column names.
    """

    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        **_COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        l1_ratio: float = 0.5,
        fit_intercept: bool = True,
        standardize: bool = False,
        positive: bool = False,
        solver: str = "auto",
        tol: float = 1e-7,
        max_iter: int = 1000,
    ) -> None:
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.positive = positive
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ElasticNet:
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 stays float32 (solved in float64 arithmetic).
        y : array-like of shape (n_samples,)
            Target.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights with a positive sum.

        Returns
        -------
        self : ElasticNet
            The fitted estimator.
        """
        self._validate_params()
        X, y, sw = _validate_xy(self, X, y, sample_weight)
        if self.alpha == 0:
            warnings.warn(
                "With alpha=0 the problem is ordinary least squares, whose duality gap "
                "never certifies convergence; use sklearn.linear_model.LinearRegression.",
                UserWarning,
                stacklevel=2,
            )
        result = _fit_path(
            X,
            y,
            sw,
            np.array([float(self.alpha)]),
            l1_ratio=float(self.l1_ratio),
            n_alphas=1,
            eps=1.0,
            fit_intercept=self.fit_intercept,
            standardize=self.standardize,
            positive=self.positive,
            solver=self.solver,
            tol=float(self.tol),
            max_iter=int(self.max_iter),
        )
        _warn_if_not_converged(result, self.tol, type(self).__name__)
        self.coef_ = result.coefs[0].astype(X.dtype, copy=False)
        self.intercept_ = float(result.intercepts[0])
        self.n_iter_ = int(result.n_iters[0])
        self.dual_gap_ = float(result.dual_gaps[0])
        return self


class Lasso(ElasticNet):
    """Linear regression with an L1 penalty: :class:`ElasticNet` with ``l1_ratio=1``.

    Minimises ``1/(2W) sum_i w_i (y_i - b0 - x_i.b)^2 + alpha*|b|_1``.

    Parameters
    ----------
    alpha : float, default=1.0
        Penalty strength, >= 0.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept.
    standardize : bool, default=False
        Solve on weighted-standardised columns (glmnet), report original scale.
    positive : bool, default=False
        Constrain coefficients to be non-negative.
    solver : {"auto", "covariance", "naive"}, default="auto"
        Kernel choice, as in :class:`ElasticNet`.
    tol : float, default=1e-7
        Certified relative precision (as in :class:`ElasticNet`).
    max_iter : int, default=1000
        Maximum coordinate-descent epochs.
    """

    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012
        "alpha": [Interval(Real, 0, None, closed="left")],
        **_COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        fit_intercept: bool = True,
        standardize: bool = False,
        positive: bool = False,
        solver: str = "auto",
        tol: float = 1e-7,
        max_iter: int = 1000,
    ) -> None:
        super().__init__(
            alpha=alpha,
            l1_ratio=1.0,
            fit_intercept=fit_intercept,
            standardize=standardize,
            positive=positive,
            solver=solver,
            tol=tol,
            max_iter=max_iter,
        )


def enet_path(
    X: Any,
    y: Any,
    *,
    l1_ratio: float = 0.5,
    eps: float = 1e-3,
    n_alphas: int = 100,
    alphas: Any = None,
    sample_weight: Any = None,
    fit_intercept: bool = False,
    standardize: bool = False,
    positive: bool = False,
    solver: str = "auto",
    tol: float = 1e-7,
    max_iter: int = 1000,
    return_n_iter: bool = False,
    return_intercept: bool = False,
) -> tuple[FloatArray, ...]:
    """Compute the elastic-net path with warm starts and strong-rule screening.

    Same call and return convention as ``sklearn.linear_model.enet_path``
    (``fit_intercept=False`` by default there too); every point is certified
    by its duality gap.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data.
    y : array-like of shape (n_samples,)
        Target.
    l1_ratio : float, default=0.5
        L1 share of the penalty, in [0, 1].
    eps : float, default=1e-3
        ``alpha_min / alpha_max`` of the generated grid.
    n_alphas : int, default=100
        Length of the generated grid.
    alphas : array-like or None, default=None
        Explicit alphas (solved in descending order; returned as given).
    sample_weight : array-like of shape (n_samples,) or None
        Non-negative weights.
    fit_intercept : bool, default=False
        Fit an unpenalised intercept (implicit centring).
    standardize : bool, default=False
        Solve on weighted-standardised columns, report original scale.
    positive : bool, default=False
        Non-negative coefficients.
    solver : {"auto", "covariance", "naive"}, default="auto"
        Kernel choice.
    tol : float, default=1e-7
        Certified relative precision (as in :class:`ElasticNet`).
    max_iter : int, default=1000
        Maximum epochs per alpha.
    return_n_iter : bool, default=False
        Also return the epochs per alpha.
    return_intercept : bool, default=False
        Also return the intercepts (after ``n_iters`` when both are asked).

    Returns
    -------
    alphas : ndarray of shape (n_alphas,)
    coefs : ndarray of shape (n_features, n_alphas)
    dual_gaps : ndarray of shape (n_alphas,)
    n_iters : ndarray of shape (n_alphas,), if ``return_n_iter``
    intercepts : ndarray of shape (n_alphas,), if ``return_intercept``
    """
    est = ElasticNet(
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
        standardize=standardize,
        positive=positive,
        solver=solver,
        tol=tol,
        max_iter=max_iter,
    )
    est._validate_params()
    Xv, yv, sw = _validate_xy(est, X, y, sample_weight)
    alpha_arr = None if alphas is None else check_alphas(alphas)
    _check_grid(eps, n_alphas)
    result = _fit_path(
        Xv,
        yv,
        sw,
        alpha_arr,
        l1_ratio=float(l1_ratio),
        n_alphas=int(n_alphas),
        eps=float(eps),
        fit_intercept=fit_intercept,
        standardize=standardize,
        positive=positive,
        solver=solver,
        tol=float(tol),
        max_iter=int(max_iter),
    )
    _warn_if_not_converged(result, tol, "enet_path")
    out: tuple[FloatArray, ...] = (result.alphas, result.coefs.T.copy(), result.dual_gaps)
    if return_n_iter:
        out += (result.n_iters,)
    if return_intercept:
        out += (result.intercepts,)
    return out


def _check_grid(eps: Any, n_alphas: Any) -> None:
    """Validate the generated-grid parameters of :func:`enet_path`."""
    if not isinstance(eps, Real) or not float(eps) > 0 or not np.isfinite(float(eps)):
        raise InvalidInputError(
            f"The 'eps' parameter of enet_path must be a float > 0. Got {eps!r} instead.",
            field="eps",
            expected="float > 0",
            got=eps,
        )
    if isinstance(n_alphas, bool) or not isinstance(n_alphas, Integral) or n_alphas < 1:
        raise InvalidInputError(
            f"The 'n_alphas' parameter of enet_path must be an int >= 1. Got {n_alphas!r} instead.",
            field="n_alphas",
            expected="int >= 1",
            got=n_alphas,
        )


class ElasticNetCV(_LinearRegressor):
    """Elastic net with the penalty chosen by K-fold cross-validation.

    For tall data the folds cost ONE pass over X: per-fold sufficient
    statistics ``S_k`` are accumulated once, fold k is trained on
    ``S_total - S_k`` and scored on ``S_k`` exactly; folds and l1_ratios run
    in parallel threads. Wide or sparse data fall back to per-fold coordinate
    descent with warm starts. Same objective and ``tol`` as :class:`ElasticNet`.

    Parameters
    ----------
    l1_ratio : float or list of float, default=0.5
        L1 share(s) to try, each in [0, 1].
    eps : float, default=1e-3
        ``alpha_min / alpha_max`` of each generated grid.
    n_alphas : int, default=100
        Length of each generated grid.
    alphas : array-like, int or None, default=None
        Explicit alphas shared by every l1_ratio; an int is a grid length
        (scikit-learn >= 1.7 spelling).
    fit_intercept : bool, default=True
        Fit an unpenalised intercept.
    standardize : bool, default=False
        Standardise columns inside each training fold (glmnet style).
    positive : bool, default=False
        Non-negative coefficients.
    solver : {"auto", "covariance", "naive"}, default="auto"
        Kernel choice; "covariance" enables the one-pass statistics CV.
    tol : float, default=1e-7
        Certified relative precision of every fit (as in :class:`ElasticNet`).
    max_iter : int, default=1000
        Maximum epochs per alpha.
    cv : int, cross-validation generator or iterable, default=None
        Folds, as scikit-learn's ``check_cv`` (None: 5-fold KFold).
    n_jobs : int or None, default=None
        Threads for (fold, l1_ratio) fits; None means 1, -1 all cores.
    selection : {"min", "1se"}, default="min"
        "1se" picks, within the best l1_ratio, the largest alpha whose mean
        CV error is within one standard error of the minimum.

    Attributes
    ----------
    alpha_, l1_ratio_ : float
        The chosen penalty.
    alphas_ : ndarray of shape (n_l1_ratio, n_alphas) or (n_alphas,)
    mse_path_ : ndarray of shape (n_l1_ratio, n_alphas, n_folds) or (n_alphas, n_folds)
        Held-out (weighted) mean squared error, as scikit-learn.
    cv_results_ : dict
        scikit-learn's ``GridSearchCV`` keys over the flattened grid:
        ``param_alpha``, ``param_l1_ratio``, ``params``, ``mean_test_score``,
        ``std_test_score``, ``rank_test_score``, ``split{k}_test_score``; the
        score is the negative held-out MSE (``neg_mean_squared_error``).
    coef_, intercept_, n_iter_, dual_gap_
        Of the refit on all data at the chosen point.
    """

    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), "array-like"],
        "eps": [Interval(Real, 0, None, closed="neither")],
        "n_alphas": [Interval(Integral, 1, None, closed="left")],
        "alphas": [Interval(Integral, 1, None, closed="left"), "array-like", None],
        "cv": ["cv_object"],
        "n_jobs": [Integral, None],
        "selection": [StrOptions({"min", "1se"})],
        **_COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        l1_ratio: float | list[float] = 0.5,
        eps: float = 1e-3,
        n_alphas: int = 100,
        alphas: Any = None,
        fit_intercept: bool = True,
        standardize: bool = False,
        positive: bool = False,
        solver: str = "auto",
        tol: float = 1e-7,
        max_iter: int = 1000,
        cv: Any = None,
        n_jobs: int | None = None,
        selection: str = "min",
    ) -> None:
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.n_alphas = n_alphas
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.positive = positive
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.cv = cv
        self.n_jobs = n_jobs
        self.selection = selection

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> ElasticNetCV:
        """Choose the penalty by cross-validation, then refit on all data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Target.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; held-out errors are weighted means.
        progress : callable, default=None
            Called as ``progress(done, total)`` after each fold's paths.

        Returns
        -------
        self : ElasticNetCV
            The fitted estimator.
        """
        self._validate_params()
        X, y, sw = _validate_xy(self, X, y, sample_weight)
        ratios = check_l1_ratios(self.l1_ratio, type(self).__name__)
        n, p = X.shape
        splits: list[Split] = list(check_cv(self.cv).split(X, y))
        check_fold_weights(sw, splits)
        engine: Engine = LocalEngine(X, y, sw, n_jobs=self.n_jobs)
        solver = choose_solver(n, p, self.solver)
        folds: FoldStatistics | None = None
        if solver == "covariance":
            folds = engine.fold_statistics(
                splits, fit_intercept=self.fit_intercept, check=_finite_stats_check(X)
            )
            refit_backend: Backend = GramBackend(folds.full)
        else:
            refit_backend = make_backend(
                X, y, sw, fit_intercept=self.fit_intercept, solver=solver, lazy_gram=False
            )
            _check_finite_stats(X, refit_backend.norms, refit_backend.c, refit_backend.yy)
        scale = _penalty_scale(refit_backend.norms, self.standardize)
        grids = alpha_grids(
            self.alphas,
            ratios,
            n_alphas=int(self.n_alphas),
            eps=self.eps,
            alpha_max=lambda r: compute_alpha_max(refit_backend.c, scale, r),
        )
        if folds is not None:
            fold_fn = self._statistics_folds(folds, ratios, grids)
        else:
            fold_fn = self._refit_folds(X, y, sw, splits, ratios, grids, solver)
        # one task per fold, each walking every l1_ratio's path on one backend
        mse = np.stack(engine.map(fold_fn, range(len(splits)), progress), axis=2)
        # greater is better, as scikit-learn's neg_mean_squared_error
        scores = -mse
        best_i, best_j = select(scores, grids, self.selection)
        self.l1_ratio_ = float(ratios[best_i])
        self.alpha_ = float(grids[best_i, best_j])
        scalar = np.ndim(self.l1_ratio) == 0
        self.alphas_ = grids[0] if scalar else grids
        self.mse_path_ = mse[0] if scalar else mse
        self.cv_results_ = cv_results(scores, grids, ratios)
        # refit on all data, warm-started down the chosen grid; the covariance
        # route reuses S_total, so the refit costs no pass over X
        refit = solve_path(
            refit_backend,
            grids[best_i, : best_j + 1],
            l1_ratio=self.l1_ratio_,
            penalty_scale=scale,
            positive=self.positive,
            tol=float(self.tol),
            max_iter=int(self.max_iter),
        )
        _warn_if_not_converged(refit, self.tol, type(self).__name__)
        self.coef_ = refit.coefs[-1].astype(X.dtype, copy=False)
        self.intercept_ = float(refit.intercepts[-1])
        self.n_iter_ = int(refit.n_iters[-1])
        self.dual_gap_ = float(refit.dual_gaps[-1])
        return self

    def _statistics_folds(
        self, folds: FoldStatistics, ratios: FloatArray, grids: FloatArray
    ) -> Callable[[int], FloatArray]:
        """Return a fold -> mse (n_l1_ratio, n_alphas) function over fold statistics."""

        def fold_mse(k: int) -> FloatArray:
            problem = folds.train[k].centered(self.fit_intercept)
            backend = GramBackend(problem)
            held_out = folds.test[k]
            out = np.empty(grids.shape)
            for i, ratio in enumerate(ratios):
                result = self._fold_path(backend, grids[i], float(ratio), k)
                sse = held_out.weighted_sse_path(result.intercepts, result.coefs)
                out[i] = sse / held_out.w_sum
            return out

        return fold_mse

    def _fold_path(self, backend: Backend, alphas: FloatArray, ratio: float, k: int) -> PathResult:
        result = solve_path(
            backend,
            alphas,
            l1_ratio=ratio,
            penalty_scale=_penalty_scale(backend.norms, self.standardize),
            positive=self.positive,
            tol=float(self.tol),
            max_iter=int(self.max_iter),
        )
        _warn_if_not_converged(result, self.tol, f"{type(self).__name__} fold {k}")
        return result

    def _refit_folds(
        self,
        X: FloatArray | sp.spmatrix,
        y: FloatArray,
        sw: FloatArray | None,
        splits: list[Split],
        ratios: FloatArray,
        grids: FloatArray,
        solver: str,
    ) -> Callable[[int], FloatArray]:
        """Return a fold -> mse (n_l1_ratio, n_alphas) function refitting the fold."""

        def fold_mse(k: int) -> FloatArray:
            train, test = splits[k]
            backend = make_backend(
                X[train],
                y[train],
                None if sw is None else sw[train],
                fit_intercept=self.fit_intercept,
                solver=solver,
                lazy_gram=False,
            )
            X_test, y_test = X[test], y[test]
            w_test = None if sw is None else sw[test]
            out = np.empty(grids.shape)
            for i, ratio in enumerate(ratios):
                result = self._fold_path(backend, grids[i], float(ratio), k)
                pred = np.asarray(safe_sparse_dot(X_test, result.coefs.T)) + result.intercepts
                out[i] = np.average((y_test[:, None] - pred) ** 2, axis=0, weights=w_test)
            return out

        return fold_mse


class LassoCV(ElasticNetCV):
    """Lasso with alpha chosen by cross-validation (:class:`ElasticNetCV`, ``l1_ratio=1``).

    Parameters
    ----------
    eps : float, default=1e-3
        ``alpha_min / alpha_max`` of the generated grid.
    n_alphas : int, default=100
        Length of the generated grid.
    alphas : array-like, int or None, default=None
        Explicit alphas, or a grid length.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept.
    standardize : bool, default=False
        Standardise columns inside each training fold.
    positive : bool, default=False
        Non-negative coefficients.
    solver : {"auto", "covariance", "naive"}, default="auto"
        Kernel choice.
    tol : float, default=1e-7
        Certified relative precision (as in :class:`ElasticNet`).
    max_iter : int, default=1000
        Maximum epochs per alpha.
    cv : int, cross-validation generator or iterable, default=None
        Folds (None: 5-fold).
    n_jobs : int or None, default=None
        Threads for the fold fits.
    selection : {"min", "1se"}, default="min"
        Selection rule.
    """

    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012
        k: v for k, v in ElasticNetCV._parameter_constraints.items() if k != "l1_ratio"
    }

    def __init__(
        self,
        *,
        eps: float = 1e-3,
        n_alphas: int = 100,
        alphas: Any = None,
        fit_intercept: bool = True,
        standardize: bool = False,
        positive: bool = False,
        solver: str = "auto",
        tol: float = 1e-7,
        max_iter: int = 1000,
        cv: Any = None,
        n_jobs: int | None = None,
        selection: str = "min",
    ) -> None:
        super().__init__(
            l1_ratio=1.0,
            eps=eps,
            n_alphas=n_alphas,
            alphas=alphas,
            fit_intercept=fit_intercept,
            standardize=standardize,
            positive=positive,
            solver=solver,
            tol=tol,
            max_iter=max_iter,
            cv=cv,
            n_jobs=n_jobs,
            selection=selection,
        )
