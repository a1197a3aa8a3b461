"""scikit-learn compatible logistic regression over the glmops IRLS engine.

All estimators minimise, for weights ``w`` with sum ``W`` (sample weights
times class weights),

    1/W * sum_i w_i * logloss_i + alpha * (l1_ratio*|B|_1 + (1-l1_ratio)/2*|B|_2^2)

with one coefficient row (binary, sigmoid) or one row per class (K >= 3,
true softmax, no reference class; the penalty covers the whole matrix).
Intercepts are never penalised. The penalty is ``alpha``/``l1_ratio`` as in
:class:`glmops.ElasticNet`, not scikit-learn's ``C``: for the pure L2 or L1
penalty ``C = 1 / (alpha * n_samples)`` (unit weights) gives the same model.

``tol`` certifies the fit: the solver stops when the duality gap (which
bounds how far the objective is above its minimum) is at most ``tol`` times
the objective, so the default ``tol=1e-7`` returns an objective within 1e-7
(relative) of the optimum; ``dual_gap_`` reports the gap reached, in
objective units. (scikit-learn's ``tol`` bounds the change of the
coefficients or the gradient between iterations instead, not the distance
to the optimum.)
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv, cross_val_predict
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from glmops._typing import FloatArray
from glmops._validation import check_sample_weight
from glmops.calibration import CALIBRATION_METHODS, CalibrationMap, fit_calibration
from glmops.core.irls import (
    LogisticPathResult,
    LogisticProblem,
    binomial_loss,
    logistic_alpha_max,
    make_logistic_problem,
    multinomial_loss,
    solve_logistic_path,
)
from glmops.core.path import SOLVERS, alpha_grid, choose_solver
from glmops.engines.base import Engine, Split
from glmops.engines.local import LocalEngine
from glmops.errors import ConvergenceWarning, InvalidInputError
from glmops.estimators._base import (
    SparseInputEstimator,
    canonical_csc,
    check_predict_input,
    warn_if_not_converged,
)
from glmops.estimators._cv import alpha_grids, check_alphas, check_l1_ratios, cv_results, select
from glmops.estimators.threshold import (
    THRESHOLD_POLICIES,
    check_threshold_policy,
    select_threshold,
)

__all__ = ["LogisticRegression", "LogisticRegressionCV", "logistic_path"]

_warn_if_not_converged = functools.partial(
    warn_if_not_converged,
    scale="the objective",
    advice="Increase max_iter or tol, or check for badly scaled features (standardize=True).",
)

# share of saturated samples that signals quasi-complete separation
_QUASI_SEPARATION_SHARE = 0.01
_SEPARATION_FEATURES_SHOWN = 5

_COMMON_CONSTRAINTS: dict[str, list[Any]] = {
    "fit_intercept": ["boolean"],
    "standardize": ["boolean"],
    "class_weight": [dict, StrOptions({"balanced"}), None],
    "threshold": [Interval(Real, 0, 1, closed="neither"), StrOptions(set(THRESHOLD_POLICIES))],
    "threshold_target": [Interval(Real, 0, None, closed="neither"), None],
    "calibration": [StrOptions(set(CALIBRATION_METHODS)), None],
    "solver": [StrOptions(set(SOLVERS))],
    "tol": [Interval(Real, 0, None, closed="neither")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "n_jobs": [Integral, None],
}


# --------------------------------------------------------------------------
# Shared fitting pieces
# --------------------------------------------------------------------------


def _validate_xy(
    estimator: BaseEstimator, X: Any, y: Any, sample_weight: Any
) -> tuple[FloatArray | sp.spmatrix, np.ndarray, FloatArray | None]:
    """Return validated ``(X, y, sample_weight)``; y keeps its labels."""
    X, y = validate_data(
        estimator,
        X,
        y,
        accept_sparse=["csc", "csr", "coo"],
        dtype=[np.float64, np.float32],
        multi_output=False,
    )
    check_classification_targets(y)
    if sp.issparse(X):
        X = canonical_csc(X)
    sw = check_sample_weight(sample_weight, X.shape[0], equal_as_none=True)
    return X, np.asarray(y), sw


def _encode_labels(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(classes, indices)``; refuse a target with a single class."""
    classes, indices = np.unique(y, return_inverse=True)
    if classes.shape[0] < 2:
        raise InvalidInputError(
            f"y has 1 class ({classes[0]!r}); a classifier needs samples of at least 2 classes.",
            field="y",
            expected="at least 2 classes",
            got=f"1 class: {classes[0]!r}",
        )
    return classes, indices.astype(np.intp)


def _check_weighted_classes(
    classes: np.ndarray, labels: np.ndarray, weights: FloatArray | None
) -> None:
    """Refuse weights that leave fewer than 2 classes with positive weight."""
    if weights is None:
        return
    total = np.bincount(labels, weights=weights, minlength=classes.shape[0])
    kept = classes[total > 0]
    if kept.shape[0] < 2:
        raise InvalidInputError(
            f"sample_weight (times class_weight) leaves 1 class with positive weight "
            f"({kept.tolist()!r}); a classifier needs at least 2 classes.",
            field="sample_weight",
            expected="positive weight on at least 2 classes",
            got=f"classes with weight: {kept.tolist()!r}",
        )


def _combined_weights(
    class_weight: Any,
    classes: np.ndarray,
    y: np.ndarray,
    labels: np.ndarray,
    sw: FloatArray | None,
) -> FloatArray | None:
    """Multiply sample weights by class weights (``"balanced"`` from counts).

    Refuses weights that leave fewer than 2 classes with positive weight.
    """
    weights = _class_weighted(class_weight, classes, y, sw)
    _check_weighted_classes(classes, labels, weights)
    return weights


def _class_weighted(
    class_weight: Any, classes: np.ndarray, y: np.ndarray, sw: FloatArray | None
) -> FloatArray | None:
    if class_weight is None:
        return sw
    if isinstance(class_weight, dict):
        unknown = [c for c in class_weight if c not in set(classes.tolist())]
        if unknown:
            raise InvalidInputError(
                f"class_weight names classes not in y: {unknown!r}; classes are "
                f"{classes.tolist()!r}.",
                field="class_weight",
                expected=f"keys among {classes.tolist()!r}",
                got=unknown,
            )
    per_class = compute_class_weight(class_weight, classes=classes, y=y)
    factor = per_class[np.searchsorted(classes, y)]
    weights = factor if sw is None else factor * sw
    if not weights.sum() > 0:
        raise InvalidInputError(
            "class_weight times sample_weight sums to zero; no sample would count.",
            field="class_weight",
            expected="a positive total weight",
            got=0.0,
        )
    return np.asarray(weights, dtype=np.float64)


def _penalty_scale(problem: LogisticProblem, standardize: bool) -> FloatArray:
    if standardize:
        return np.sqrt(problem.norms_w)
    return np.where(problem.norms_w > 0, 1.0, 0.0)


def _warn_if_separated(
    result: LogisticPathResult,
    k: int,
    alpha: float,
    scale: FloatArray,
    names: np.ndarray | None,
) -> None:
    """Warn on (quasi-)complete separation at path point ``k``.

    Perfect separation (every training sample classified correctly) with
    saturated probabilities, or at least 1% of the samples saturated (a
    subset separated: quasi-complete), means the coefficients are held
    finite only by the penalty and the probabilities are overconfident.
    """
    share = float(result.saturated_share[k])
    separated = bool(result.separated[k])
    if not ((separated and share > 0) or share >= _QUASI_SEPARATION_SHARE):
        return
    coef = result.coefs[k]
    strength = np.max(np.abs(coef), axis=0) * np.where(scale > 0, scale, 1.0)
    top = np.argsort(-strength)[:_SEPARATION_FEATURES_SHOWN]
    top = top[strength[top] > 0]
    labels = [str(names[j]) if names is not None else f"x{j}" for j in top]
    kind = "Complete" if separated else "Quasi-complete"
    warnings.warn(
        f"{kind} separation: {share:.1%} of the training samples get a probability "
        f"within 1e-13 of 0 or 1; the coefficients are held finite only by the penalty "
        f"(alpha={alpha:.3g}). Features with the largest effect: "
        f"{', '.join(labels) or 'none'}. Increase alpha, or check these features for "
        "leakage of the target.",
        UserWarning,
        stacklevel=3,
    )


def _problem_and_scale(
    X: FloatArray | sp.spmatrix,
    labels: np.ndarray,
    n_classes: int,
    weights: FloatArray | None,
    *,
    fit_intercept: bool,
    standardize: bool,
    solver: str,
) -> tuple[LogisticProblem, FloatArray]:
    """Resolve the solver, build the problem and its per-feature penalty scale."""
    resolved = choose_solver(X.shape[0], X.shape[1], solver)
    problem = make_logistic_problem(
        X, labels, n_classes, weights, fit_intercept=fit_intercept, solver=resolved
    )
    return problem, _penalty_scale(problem, standardize)


def _fit_logistic(
    X: FloatArray | sp.spmatrix,
    labels: np.ndarray,
    n_classes: int,
    weights: FloatArray | None,
    alphas: FloatArray,
    *,
    l1_ratio: float,
    fit_intercept: bool,
    standardize: bool,
    solver: str,
    tol: float,
    max_iter: int,
) -> tuple[LogisticPathResult, FloatArray]:
    """Solve the path at ``alphas``; return it and the penalty scale."""
    problem, scale = _problem_and_scale(
        X,
        labels,
        n_classes,
        weights,
        fit_intercept=fit_intercept,
        standardize=standardize,
        solver=solver,
    )
    result = solve_logistic_path(
        problem, alphas, l1_ratio=l1_ratio, penalty_scale=scale, tol=tol, max_iter=max_iter
    )
    return result, scale


def _decision(X: Any, coef: FloatArray, intercept: FloatArray) -> FloatArray:
    """``X @ coef.T + intercept``: (n,) for one row, (n, K) otherwise."""
    scores = np.asarray(safe_sparse_dot(X, coef.T)) + intercept
    return scores[:, 0] if coef.shape[0] == 1 else scores


class _LogisticPredictMixin:
    """Prediction from ``coef_``, ``intercept_``, ``classes_``, ``threshold_``, ``calibration_``."""

    coef_: FloatArray
    intercept_: FloatArray
    classes_: np.ndarray
    threshold_: float
    calibration_: CalibrationMap | None

    def _validated(self, X: Any) -> Any:
        return check_predict_input(self, X)

    def decision_function(self, X: Any) -> FloatArray:
        """Return the linear predictor (log-odds of ``classes_[1]`` for binary).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) for binary, (n_samples, n_classes) otherwise
        """
        return _decision(self._validated(X), self.coef_, self.intercept_)

    def _proba_from_decision(self, decision: FloatArray) -> FloatArray:
        if self.calibration_ is not None:
            return self.calibration_.predict_proba(decision)
        if decision.ndim == 1:
            p1 = expit(decision)
            return np.column_stack([1.0 - p1, p1])
        return np.asarray(softmax(decision, axis=1))

    def predict_proba(self, X: Any) -> FloatArray:
        """Return class probabilities (calibrated when the model was).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return self._proba_from_decision(self.decision_function(X))

    def predict_log_proba(self, X: Any) -> FloatArray:
        """Return the log of :meth:`predict_proba` (computed stably when uncalibrated).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        decision = self.decision_function(X)
        if self.calibration_ is None:
            full = np.column_stack([np.zeros_like(decision), decision])
            full = full if decision.ndim == 1 else decision
            return np.asarray(log_softmax(full, axis=1))
        with np.errstate(divide="ignore"):
            return np.log(self._proba_from_decision(decision))

    def predict(self, X: Any) -> np.ndarray:
        """Predict class labels; binary uses the fitted ``threshold_``.

        Binary: ``classes_[1]`` when its probability is above ``threshold_``.
        Multiclass: the most probable class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        decision = self.decision_function(X)
        if decision.ndim == 1:
            if self.calibration_ is None:
                # p > t  <=>  logit(p) > logit(t): exact at the default t = 0.5
                cut = float(np.log(self.threshold_) - np.log1p(-self.threshold_))
                return np.asarray(self.classes_[(decision > cut).astype(np.intp)])
            proba = self._proba_from_decision(decision)[:, 1]
            return np.asarray(self.classes_[(proba > self.threshold_).astype(np.intp)])
        return np.asarray(self.classes_[np.argmax(self._proba_from_decision(decision), axis=1)])


def _threshold_from_policy(
    policy: Any, target: float | None, labels: np.ndarray, proba: FloatArray, w: Any
) -> float:
    """Resolve ``threshold`` (a number or a policy) against held-out probabilities."""
    if not isinstance(policy, str):
        return float(policy)
    chosen = select_threshold(labels, proba, policy, target=target, sample_weight=w)
    # select_threshold counts proba >= t as positive; predict uses proba > t
    return float(np.clip(np.nextafter(chosen, -np.inf), 0.0, 1.0))


def _check_threshold_use(estimator: Any, n_classes: int) -> None:
    """Refuse a threshold policy that cannot apply, before any fitting."""
    policy = estimator.threshold
    if not isinstance(policy, str):
        return
    check_threshold_policy(policy, estimator.threshold_target)
    if n_classes != 2:
        raise InvalidInputError(
            f"threshold={policy!r} applies to binary targets only; y has {n_classes} classes.",
            field="threshold",
            expected="a number, or a policy with a binary target",
            got=policy,
        )


# --------------------------------------------------------------------------
# LogisticRegression
# --------------------------------------------------------------------------


class LogisticRegression(_LogisticPredictMixin, ClassifierMixin, SparseInputEstimator):  # type: ignore[misc]
    """Elastic-net logistic regression (binary or multinomial), certified by duality gap.

    Minimises ``1/W sum_i w_i logloss_i + alpha*(l1_ratio*|B|_1 +
    (1-l1_ratio)/2*|B|_2^2)``. Binary targets get one coefficient row; three
    or more classes a true softmax with one row per class. Proximal Newton
    (IRLS) with coordinate-descent inner solves; see :mod:`glmops.core.irls`.

    Parameters
    ----------
    alpha : float, default=0.01
        Penalty strength, > 0. ``C = 1/(alpha * n_samples)`` in scikit-learn's
        terms (pure L1 or L2, unit weights). For an (almost) unpenalised fit
        use a tiny alpha: with separable data no unpenalised fit exists.
    l1_ratio : float, default=0.5
        L1 share of the penalty, in [0, 1].
    fit_intercept : bool, default=True
        Fit unpenalised intercepts.
    standardize : bool, default=False
        Penalise coefficients of weighted-standardised columns (glmnet),
        report them on the original scale.
    class_weight : dict, "balanced" or None, default=None
        Per-class weight multiplying ``sample_weight``; ``"balanced"`` uses
        ``n_samples / (n_classes * count)``.
    threshold : float or {"max_f1", "target_precision", "target_recall", "min_cost"}, default=0.5
        Binary decision threshold on the (calibrated) probability of
        ``classes_[1]``, or a policy picking it from out-of-fold probabilities
        (``calibration_cv`` folds); see :func:`glmops.select_threshold`.
    threshold_target : float or None, default=None
        The policy's target precision/recall, or its false-positive cost ratio.
    calibration : {"platt", "isotonic"} or None, default=None
        Calibrate probabilities with scikit-learn's ``CalibratedClassifierCV``
        (``ensemble=False``: out-of-fold decision values, one map); the map is
        stored as arrays in ``calibration_``.
    calibration_cv : int or cross-validation generator, default=5
        Folds for calibration and threshold policies.
    solver : {"auto", "covariance", "naive"}, default="auto"
        Inner kernel: weighted Gram of the working set (tall dense data) or
        residual updates (wide or sparse data).
    tol : float, default=1e-7
        Stop when the duality gap, a proven bound on how far the objective is
        above its minimum, is <= ``tol`` times the objective: the default
        certifies the objective to within 1e-7 (relative) of the optimum.
    max_iter : int, default=100
        Maximum Newton iterations (class sweeps for multinomial).
    n_jobs : int or None, default=None
        Threads for the calibration/threshold folds.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for binary, (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    n_iter_ : ndarray of shape (1,)
        Newton iterations run.
    dual_gap_ : float
        Certified duality gap, in objective units.
    threshold_ : float
        Binary decision threshold in use.
    calibration_ : CalibrationMap or None
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Present when X had string column names.
    """

    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "calibration_cv": ["cv_object"],
        **_COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        alpha: float = 0.01,
        *,
        l1_ratio: float = 0.5,
        fit_intercept: bool = True,
        standardize: bool = False,
        class_weight: Any = None,
        threshold: Any = 0.5,
        threshold_target: float | None = None,
        calibration: str | None = None,
        calibration_cv: Any = 5,
        solver: str = "auto",
        tol: float = 1e-7,
        max_iter: int = 100,
        n_jobs: int | None = None,
    ) -> None:
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.class_weight = class_weight
        self.threshold = threshold
        self.threshold_target = threshold_target
        self.calibration = calibration
        self.calibration_cv = calibration_cv
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LogisticRegression:
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels of any type (ints, strings, bools); at least 2 classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights with a positive sum.

        Returns
        -------
        self : LogisticRegression
            The fitted estimator.
        """
        self._validate_params()
        X, y, sw = _validate_xy(self, X, y, sample_weight)
        self.classes_, labels = _encode_labels(y)
        n_classes = self.classes_.shape[0]
        _check_threshold_use(self, n_classes)
        weights = _combined_weights(self.class_weight, self.classes_, y, labels, sw)
        result, scale = _fit_logistic(
            X,
            labels,
            n_classes,
            weights,
            np.array([float(self.alpha)]),
            l1_ratio=float(self.l1_ratio),
            fit_intercept=self.fit_intercept,
            standardize=self.standardize,
            solver=self.solver,
            tol=float(self.tol),
            max_iter=int(self.max_iter),
        )
        _warn_if_not_converged(result, self.tol, type(self).__name__)
        _warn_if_separated(
            result, 0, float(self.alpha), scale, getattr(self, "feature_names_in_", None)
        )
        self.coef_ = result.coefs[0].copy()
        self.intercept_ = result.intercepts[0].copy()
        self.n_iter_ = np.array([int(result.n_iters[0])])
        self.dual_gap_ = float(result.dual_gaps[0])
        self.calibration_ = None
        self.threshold_ = 0.5
        if self.calibration is not None or isinstance(self.threshold, str):
            self._fit_held_out_maps(X, y, sample_weight)
        else:
            self.threshold_ = float(self.threshold)
        return self

    def _fit_held_out_maps(self, X: Any, y: np.ndarray, sample_weight: Any) -> None:
        """Calibrate and/or pick the threshold from out-of-fold decision values."""
        base = clone(self).set_params(calibration=None, threshold=0.5)
        cv = check_cv(self.calibration_cv, y, classifier=True)
        params = {} if sample_weight is None else {"sample_weight": sample_weight}
        with warnings.catch_warnings():
            # fold fits repeat the full fit's warnings, which were already shown
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)
            decision = cross_val_predict(
                base,
                X,
                y,
                cv=cv,
                method="decision_function",
                params=params,
                n_jobs=self.n_jobs,
            )
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if self.calibration is not None:
            self.calibration_ = fit_calibration(
                np.asarray(decision), y, self.classes_, self.calibration, sw
            )
        if isinstance(self.threshold, str):
            proba = self._proba_from_decision(np.asarray(decision))[:, 1]
            self.threshold_ = _threshold_from_policy(
                self.threshold,
                self.threshold_target,
                (y == self.classes_[1]).astype(np.int64),
                proba,
                sw,
            )
        else:
            self.threshold_ = float(self.threshold)


# --------------------------------------------------------------------------
# logistic_path
# --------------------------------------------------------------------------


def logistic_path(
    X: Any,
    y: Any,
    *,
    l1_ratio: float = 0.5,
    eps: float = 1e-3,
    n_alphas: int = 50,
    alphas: Any = None,
    sample_weight: Any = None,
    class_weight: Any = None,
    fit_intercept: bool = True,
    standardize: bool = False,
    solver: str = "auto",
    tol: float = 1e-7,
    max_iter: int = 100,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Compute the logistic elastic-net path with warm starts and strong rules.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Class labels (at least 2 classes).
    l1_ratio : float, default=0.5
    eps : float, default=1e-3
        ``alpha_min / alpha_max`` of the generated grid.
    n_alphas : int, default=50
    alphas : array-like or None, default=None
        Explicit penalty levels (> 0); overrides the grid.
    sample_weight : array-like of shape (n_samples,) or None
    class_weight : dict, "balanced" or None
    fit_intercept : bool, default=True
    standardize : bool, default=False
    solver : {"auto", "covariance", "naive"}, default="auto"
    tol : float, default=1e-7
        Certified relative precision of every solution (as in
        :class:`LogisticRegression`).
    max_iter : int, default=100
        Maximum Newton iterations per alpha.

    Returns
    -------
    alphas : ndarray of shape (n_alphas,)
    coefs : ndarray of shape (n_rows, n_features, n_alphas)
        ``n_rows`` is 1 for binary and n_classes otherwise.
    intercepts : ndarray of shape (n_rows, n_alphas)
    dual_gaps : ndarray of shape (n_alphas,)
    """
    est = LogisticRegression(
        l1_ratio=l1_ratio,
        class_weight=class_weight,
        fit_intercept=fit_intercept,
        standardize=standardize,
        solver=solver,
        tol=tol,
        max_iter=max_iter,
    )
    est._validate_params()
    Xv, yv, sw = _validate_xy(est, X, y, sample_weight)
    classes, labels = _encode_labels(yv)
    weights = _combined_weights(class_weight, classes, yv, labels, sw)
    problem, scale = _problem_and_scale(
        Xv,
        labels,
        classes.shape[0],
        weights,
        fit_intercept=fit_intercept,
        standardize=standardize,
        solver=solver,
    )
    if alphas is None:
        alpha_max = logistic_alpha_max(problem, scale, float(l1_ratio))
        alpha_arr = alpha_grid(alpha_max, int(n_alphas), float(eps))
    else:
        alpha_arr = check_alphas(alphas, positive=True)
    result = solve_logistic_path(
        problem,
        alpha_arr,
        l1_ratio=float(l1_ratio),
        penalty_scale=scale,
        tol=tol,
        max_iter=max_iter,
    )
    _warn_if_not_converged(result, tol, "logistic_path")
    coefs = np.transpose(result.coefs, (1, 2, 0)).copy()
    return result.alphas, coefs, result.intercepts.T.copy(), result.dual_gaps


def _held_out_log_loss(
    X: Any,
    labels: np.ndarray,
    sample_weight: FloatArray | None,
    coefs: FloatArray,
    intercepts: FloatArray,
) -> FloatArray:
    """Weighted mean log loss of each path point (coefs (n_alphas, rows, p)) on X."""
    n = X.shape[0]
    w = np.ones(n) if sample_weight is None else sample_weight
    wn = w / w.sum()
    out = np.empty(coefs.shape[0])
    for a in range(coefs.shape[0]):
        eta = np.asarray(safe_sparse_dot(X, coefs[a].T)).T + intercepts[a][:, None]
        if coefs.shape[1] == 1:
            out[a] = binomial_loss(eta[0], (labels == 1).astype(np.float64), wn)
        else:
            out[a] = multinomial_loss(np.ascontiguousarray(eta), labels, wn)
    return out


# --------------------------------------------------------------------------
# LogisticRegressionCV
# --------------------------------------------------------------------------


class _PathModel(_LogisticPredictMixin, ClassifierMixin, SparseInputEstimator):  # type: ignore[misc]
    """A fitted model at one point of a fold path, for scikit-learn scorers."""

    def __init__(self) -> None:
        pass

    def _validated(self, X: Any) -> Any:
        return X


class LogisticRegressionCV(_LogisticPredictMixin, ClassifierMixin, SparseInputEstimator):  # type: ignore[misc]
    """Logistic elastic net with the penalty chosen by cross-validation.

    Each (fold, l1_ratio) pair fits one warm-started path over the alpha
    grid (threads in parallel) and scores every point on its held-out rows
    with a scikit-learn scorer; the best mean score (or the one-standard-
    error rule) picks ``(alpha_, l1_ratio_)``, refitted on all data. The
    out-of-fold decision values at the chosen point feed calibration and
    threshold policies, so neither is fitted on the rows it is judged on.

    Parameters
    ----------
    alphas : array-like or None, default=None
        Penalty levels (> 0), shared by every l1_ratio; default: a grid per
        l1_ratio from its alpha_max down to ``eps * alpha_max``.
    n_alphas : int, default=50
    eps : float, default=1e-3
    l1_ratio : float or list of float, default=0.5
    cv : int, cross-validation generator or iterable, default=5
        Stratified K-fold for an int.
    scoring : str or callable, default="neg_log_loss"
        Any scikit-learn scorer (higher is better), e.g. ``"roc_auc"``.
    selection : {"min", "1se"}, default="min"
        ``"1se"``: the largest alpha whose mean score is within one standard
        error of the best.
    fit_intercept, standardize, class_weight, solver, max_iter
        As in :class:`LogisticRegression`.
    tol : float, default=1e-7
        Certified relative precision of every fit, fold paths and refit (as
        in :class:`LogisticRegression`).
    threshold : float or policy name, default=0.5
        As in :class:`LogisticRegression`; a policy uses the out-of-fold
        probabilities at the chosen point.
    threshold_target : float or None, default=None
    calibration : {"platt", "isotonic"} or None, default=None
        Calibration map fitted on the out-of-fold decision values.
    n_jobs : int or None, default=None
        Threads over (fold, l1_ratio) pairs; -1 uses every core.

    Attributes
    ----------
    alpha_ : float
    l1_ratio_ : float
    alphas_ : ndarray of shape (n_l1_ratio, n_alphas)
    scores_ : ndarray of shape (n_l1_ratio, n_alphas, n_folds)
        Held-out score of each fold at each grid point.
    cv_results_ : dict
        scikit-learn's ``GridSearchCV`` keys over the flattened grid:
        ``param_alpha``, ``param_l1_ratio``, ``params``, ``mean_test_score``,
        ``std_test_score``, ``rank_test_score``, ``split{k}_test_score``; the
        score is ``scoring``'s (greater is better).
    classes_, coef_, intercept_, n_iter_, dual_gap_, threshold_, calibration_
        Of the refitted model (see :class:`LogisticRegression`).
    """

    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012
        "alphas": ["array-like", None],
        "n_alphas": [Interval(Integral, 1, None, closed="left")],
        "eps": [Interval(Real, 0, 1, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), "array-like"],
        "cv": ["cv_object"],
        "scoring": [str, callable],
        "selection": [StrOptions({"min", "1se"})],
        **_COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        alphas: Any = None,
        n_alphas: int = 50,
        eps: float = 1e-3,
        l1_ratio: Any = 0.5,
        cv: Any = 5,
        scoring: Any = "neg_log_loss",
        selection: str = "min",
        fit_intercept: bool = True,
        standardize: bool = False,
        class_weight: Any = None,
        threshold: Any = 0.5,
        threshold_target: float | None = None,
        calibration: str | None = None,
        solver: str = "auto",
        tol: float = 1e-7,
        max_iter: int = 100,
        n_jobs: int | None = None,
    ) -> None:
        self.alphas = alphas
        self.n_alphas = n_alphas
        self.eps = eps
        self.l1_ratio = l1_ratio
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.class_weight = class_weight
        self.threshold = threshold
        self.threshold_target = threshold_target
        self.calibration = calibration
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.n_jobs = n_jobs

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> LogisticRegressionCV:
        """Cross-validate the grid, then refit at the chosen point.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (at least 2 classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Used in fitting and passed to the scorer.
        progress : callable, default=None
            Called as ``progress(done, total)`` after each (l1_ratio, fold)
            path, from the fitting threads.

        Returns
        -------
        self : LogisticRegressionCV
            The fitted estimator.
        """
        self._validate_params()
        ratios = check_l1_ratios(self.l1_ratio, type(self).__name__)
        X, y, sw = _validate_xy(self, X, y, sample_weight)
        self.classes_, labels = _encode_labels(y)
        n_classes = self.classes_.shape[0]
        _check_threshold_use(self, n_classes)
        weights = _combined_weights(self.class_weight, self.classes_, y, labels, sw)
        full, scale = _problem_and_scale(
            X,
            labels,
            n_classes,
            weights,
            fit_intercept=self.fit_intercept,
            standardize=self.standardize,
            solver=self.solver,
        )
        grids = alpha_grids(
            self.alphas,
            ratios,
            n_alphas=int(self.n_alphas),
            eps=self.eps,
            alpha_max=lambda r: logistic_alpha_max(full, scale, r),
            positive=True,
        )
        cv = check_cv(self.cv, y, classifier=True)
        splits: list[Split] = list(cv.split(X, y))
        engine: Engine = LocalEngine(X, labels, weights, n_jobs=self.n_jobs)
        scorer = check_scoring(self, scoring=self.scoring)
        # the default scorer, computed from the path directly (same value as
        # scikit-learn's, without its per-call validation)
        fast_log_loss = self.scoring == "neg_log_loss"
        tasks = [(i, k) for i in range(ratios.size) for k in range(len(splits))]
        n_alphas = grids.shape[1]
        scores = np.zeros((ratios.size, n_alphas, len(splits)))
        fold_paths: dict[tuple[int, int], LogisticPathResult] = {}

        def run(task: tuple[int, int]) -> None:
            i, k = task
            train, test = splits[k]
            problem = engine.logistic_problem(
                train, n_classes, fit_intercept=self.fit_intercept, solver=full.solver
            )
            result = solve_logistic_path(
                problem,
                grids[i],
                l1_ratio=float(ratios[i]),
                penalty_scale=_penalty_scale(problem, self.standardize),
                tol=float(self.tol),
                max_iter=int(self.max_iter),
                diagnostics=False,
            )
            fold_paths[task] = result
            X_test, y_test = X[test], y[test]
            w_test = None if sw is None else sw[test]
            if fast_log_loss:
                scores[i, :, k] = -_held_out_log_loss(
                    X_test, labels[test], w_test, result.coefs, result.intercepts
                )
                return
            for a in range(n_alphas):
                model = self._point_model(result.coefs[a], result.intercepts[a])
                kwargs = {} if w_test is None else {"sample_weight": w_test}
                scores[i, a, k] = scorer(model, X_test, y_test, **kwargs)

        with warnings.catch_warnings():
            # the fold paths run to eps * alpha_max; their warnings would be noise
            warnings.simplefilter("ignore", ConvergenceWarning)
            engine.map(run, tasks, progress)
        i_best, a_best = select(scores, grids, self.selection)
        self.alphas_ = grids
        self.scores_ = scores
        self.alpha_ = float(grids[i_best, a_best])
        self.l1_ratio_ = float(ratios[i_best])
        self.cv_results_ = cv_results(scores, grids, ratios)
        # refit at the chosen point, warm-started from the folds' mean solution
        # (close to it: a few Newton steps instead of a path)
        chosen = [fold_paths[(i_best, k)] for k in range(len(splits))]
        result = solve_logistic_path(
            full,
            np.array([self.alpha_]),
            l1_ratio=self.l1_ratio_,
            penalty_scale=scale,
            tol=float(self.tol),
            max_iter=int(self.max_iter),
            coef_init=np.mean([r.coefs[a_best] for r in chosen], axis=0),
            intercept_init=np.mean([r.intercepts[a_best] for r in chosen], axis=0),
        )
        result_last = 0
        _warn_if_not_converged(result, self.tol, type(self).__name__)
        _warn_if_separated(
            result, result_last, self.alpha_, scale, getattr(self, "feature_names_in_", None)
        )
        self.coef_ = result.coefs[result_last].copy()
        self.intercept_ = result.intercepts[result_last].copy()
        self.n_iter_ = np.array([int(result.n_iters[result_last])])
        self.dual_gap_ = float(result.dual_gaps[result_last])
        self.calibration_ = None
        self.threshold_ = 0.5 if isinstance(self.threshold, str) else float(self.threshold)
        if self.calibration is not None or isinstance(self.threshold, str):
            decision = np.zeros((X.shape[0],) if full.n_rows == 1 else (X.shape[0], n_classes))
            for k, (_, test) in enumerate(splits):
                path = fold_paths[(i_best, k)]
                decision[test] = _decision(X[test], path.coefs[a_best], path.intercepts[a_best])
            if self.calibration is not None:
                self.calibration_ = fit_calibration(
                    decision, y, self.classes_, self.calibration, sw
                )
            if isinstance(self.threshold, str):
                proba = self._proba_from_decision(decision)[:, 1]
                self.threshold_ = _threshold_from_policy(
                    self.threshold,
                    self.threshold_target,
                    (y == self.classes_[1]).astype(np.int64),
                    proba,
                    sw,
                )
        return self

    def _point_model(self, coef: FloatArray, intercept: FloatArray) -> _PathModel:
        model = _PathModel()
        model.classes_ = self.classes_
        model.coef_ = coef
        model.intercept_ = intercept
        model.threshold_ = 0.5
        model.calibration_ = None
        return model
