"""Bad input is refused with a message naming the problem; good input is never changed.

Errors glmops raises itself are :class:`glmops.InvalidInputError` (a
``ValueError``) carrying ``.field``; the ones scikit-learn's validation raises
for us are plain ``ValueError``/``InvalidParameterError`` with its messages.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning
from sklearn.model_selection import KFold
from sklearn.utils._param_validation import InvalidParameterError

import glmops
from glmops import InvalidInputError


def _data(n=20, p=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X @ np.arange(1.0, p + 1) + rng.standard_normal(n)
    return X, y


def _fitters():
    """Every public entry point as ``fit(X, y, sample_weight)``."""
    return {
        "ElasticNet": lambda X, y, w=None: glmops.ElasticNet(0.1).fit(X, y, sample_weight=w),
        "Lasso": lambda X, y, w=None: glmops.Lasso(0.1).fit(X, y, sample_weight=w),
        "ElasticNetCV": lambda X, y, w=None: glmops.ElasticNetCV(cv=3, n_alphas=4).fit(
            X, y, sample_weight=w
        ),
        "LassoCV": lambda X, y, w=None: glmops.LassoCV(cv=3, n_alphas=4).fit(X, y, sample_weight=w),
        "enet_path": lambda X, y, w=None: glmops.enet_path(X, y, n_alphas=4, sample_weight=w),
    }


FITTERS = _fitters()
ENTRY_POINTS = list(FITTERS)


def _with(X, i, j, value):
    X = np.array(X, dtype=np.float64)
    X[i, j] = value
    return X


# --------------------------------------------------------------------------
# X
# --------------------------------------------------------------------------


def _non_finite_params():
    out = []
    for entry in ENTRY_POINTS:
        for value, pattern in [(np.nan, "NaN"), (np.inf, "infinity")]:
            for row in (0, 19):  # in CV: the first and the last test fold
                out.append(pytest.param(entry, value, pattern, row))
    return out


@pytest.mark.parametrize("fmt", ["dense", "csc", "csr"])
@pytest.mark.parametrize(("entry", "value", "pattern", "row"), _non_finite_params())
def test_non_finite_x(entry, value, pattern, row, fmt):
    X, y = _data()
    X = _with(X, row, 1, value)
    if fmt != "dense":
        X = getattr(sp, f"{fmt}_matrix")(X)
    with pytest.raises(ValueError, match=f"Input X contains {pattern}"):
        FITTERS[entry](X, y)


@pytest.mark.parametrize("fmt", ["dense", "csc"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("cls", [glmops.ElasticNetCV, glmops.LassoCV])
def test_non_finite_x_cv_refit_folds(cls, value, fmt):
    """solver='naive' CV refits fold by fold: it checks X first, wherever the value is."""
    X, y = _data()
    X = _with(X, 0, 1, value)
    if fmt != "dense":
        X = sp.csc_matrix(X)
    with pytest.raises(ValueError, match="Input X contains"):
        cls(cv=3, n_alphas=4, solver="naive").fit(X, y)


@pytest.mark.parametrize("solver", ["covariance", "naive"])
@pytest.mark.parametrize("entry", ["ElasticNet", "enet_path"])
def test_non_finite_x_in_a_zero_weight_row(entry, solver):
    """A NaN must be refused even where its row carries no weight."""
    X, y = _data()
    X = _with(X, 0, 2, np.nan)
    w = np.ones(20)
    w[0] = 0.0
    with pytest.raises(ValueError, match="Input X contains NaN"):
        if entry == "ElasticNet":
            glmops.ElasticNet(0.1, solver=solver).fit(X, y, sample_weight=w)
        else:
            glmops.enet_path(X, y, sample_weight=w, solver=solver, n_alphas=3)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_x_whose_squares_overflow(entry, fit_intercept):
    X, y = _data()
    X[:, 1] *= 1e200
    fit = {
        "ElasticNet": lambda: glmops.ElasticNet(0.1, fit_intercept=fit_intercept).fit(X, y),
        "Lasso": lambda: glmops.Lasso(0.1, fit_intercept=fit_intercept).fit(X, y),
        "ElasticNetCV": lambda: glmops.ElasticNetCV(
            cv=3, n_alphas=4, fit_intercept=fit_intercept
        ).fit(X, y),
        "LassoCV": lambda: glmops.LassoCV(cv=3, n_alphas=4, fit_intercept=fit_intercept).fit(X, y),
        "enet_path": lambda: glmops.enet_path(X, y, n_alphas=4, fit_intercept=fit_intercept),
    }[entry]
    with pytest.raises(InvalidInputError, match="overflow") as info:
        fit()
    assert info.value.field == "X"


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_zero_samples(entry):
    X, y = _data()
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        FITTERS[entry](X[:0], y[:0])


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_zero_features(entry):
    X, y = _data()
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        FITTERS[entry](X[:, :0], y)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_three_dimensional_x(entry):
    X, y = _data()
    with pytest.raises(ValueError, match="dim 3"):
        FITTERS[entry](X.reshape(20, 3, 1), y)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_string_x(entry):
    _, y = _data()
    X = np.array([["a", "b"]] * 20)
    with pytest.raises(ValueError, match="could not convert string to float"):
        FITTERS[entry](X, y)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_complex_x(entry):
    X, y = _data()
    with pytest.raises(ValueError, match="Complex data not supported"):
        FITTERS[entry](X + 1j, y)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_object_x(entry):
    _, y = _data()
    X = np.array([[object(), 1.0]] * 20, dtype=object)
    # scikit-learn's check_array lets numpy's TypeError through; it names the problem
    with pytest.raises((TypeError, ValueError), match="float"):
        FITTERS[entry](X, y)


# --------------------------------------------------------------------------
# y
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "pattern"), [(np.nan, "NaN"), (-np.inf, "infinity")])
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_non_finite_y(entry, value, pattern):
    X, y = _data()
    y[3] = value
    with pytest.raises(ValueError, match=f"Input y contains {pattern}"):
        FITTERS[entry](X, y)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_mismatched_lengths(entry):
    X, y = _data()
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[20, 19\]"):
        FITTERS[entry](X, y[:-1])


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_y_with_two_columns(entry):
    X, y = _data()
    with pytest.raises(
        ValueError, match=r"y should be a 1d array, got an array of shape \(20, 2\)"
    ):
        FITTERS[entry](X, np.c_[y, y])


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_y_column_vector_is_accepted_with_a_warning(entry):
    X, y = _data()
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        FITTERS[entry](X, y[:, None])


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_non_numeric_y(entry):
    X, _ = _data()
    with pytest.raises(ValueError, match="could not convert string to float"):
        FITTERS[entry](X, np.array(["a", "b"] * 10))


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_scalar_y(entry):
    X, _ = _data()
    with pytest.raises(ValueError, match="y should be a 1d array"):
        FITTERS[entry](X, 1.0)


@pytest.mark.parametrize("entry", ["ElasticNet", "ElasticNetCV"])
def test_y_whose_squares_overflow(entry):
    X, y = _data()
    with pytest.raises(ValueError, match="y"):
        FITTERS[entry](X, y * 1e200)


# --------------------------------------------------------------------------
# sample_weight
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_w", "pattern"),
    [
        (lambda: np.r_[np.nan, np.ones(19)], "sample_weight must be finite; got nan at index 0"),
        (lambda: np.r_[np.ones(5), np.inf, np.ones(14)], "must be finite; got inf at index 5"),
        (lambda: np.r_[np.ones(7), -0.5, np.ones(12)], "must be non-negative; got -0.5 at index 7"),
        (lambda: np.zeros(20), "sample_weight must have a positive sum"),
        (lambda: np.ones(19), r"sample_weight.shape == \(19,\), expected \(20,\)"),
        (lambda: np.ones(21), r"sample_weight.shape == \(21,\), expected \(20,\)"),
        (lambda: np.ones((20, 1)), r"sample_weight.shape == \(20, 1\)"),
        (lambda: np.array(["a"] * 20), "sample_weight must be numeric"),
        (lambda: sp.csr_matrix(np.ones((1, 20))), "sample_weight must be a dense 1-d array"),
        (lambda: -1.0, "sample_weight must be non-negative"),
    ],
    ids=[
        "nan",
        "inf",
        "negative",
        "all-zero",
        "short",
        "long",
        "2d",
        "strings",
        "sparse",
        "neg-scalar",
    ],
)
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_bad_sample_weight(entry, make_w, pattern):
    X, y = _data()
    with pytest.raises(InvalidInputError, match=pattern) as info:
        FITTERS[entry](X, y, make_w())
    assert info.value.field == "sample_weight"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("fold", [0, 1])
@pytest.mark.parametrize("solver", ["covariance", "naive"])
def test_cv_fold_whose_test_weights_are_all_zero(solver, fold):
    """Explicitly refused (naming the weights) or handled; never a silent NaN choice."""
    X, y = _data(n=50)
    w = np.ones(50)
    w[10 * fold : 10 * fold + 10] = 0.0  # KFold(5)'s test fold `fold` carries no weight
    with pytest.raises(ValueError, match="sample_weight"):
        glmops.ElasticNetCV(cv=KFold(5), solver=solver, n_alphas=5).fit(X, y, sample_weight=w)


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [-1.0, -1e-12])
@pytest.mark.parametrize("cls", [glmops.ElasticNet, glmops.Lasso])
def test_negative_alpha(cls, alpha):
    X, y = _data()
    with pytest.raises(InvalidParameterError, match="'alpha' parameter"):
        cls(alpha=alpha).fit(X, y)
    assert issubclass(InvalidParameterError, ValueError)


@pytest.mark.parametrize("l1_ratio", [1.5, -0.1])
def test_l1_ratio_out_of_range(l1_ratio):
    X, y = _data()
    with pytest.raises(ValueError, match="'l1_ratio' parameter of ElasticNet"):
        glmops.ElasticNet(l1_ratio=l1_ratio).fit(X, y)
    with pytest.raises(ValueError, match="'l1_ratio' parameter"):
        glmops.enet_path(X, y, l1_ratio=l1_ratio)
    with pytest.raises(ValueError, match="'l1_ratio' parameter of ElasticNetCV"):
        glmops.ElasticNetCV(l1_ratio=l1_ratio).fit(X, y)


@pytest.mark.parametrize("l1_ratio", [[0.5, 1.5], [-0.1, 0.5], [], [[0.5]]])
def test_l1_ratio_list_out_of_range(l1_ratio):
    X, y = _data()
    with pytest.raises(InvalidInputError, match="'l1_ratio' parameter of ElasticNetCV") as info:
        glmops.ElasticNetCV(l1_ratio=l1_ratio, cv=3).fit(X, y)
    assert info.value.field == "l1_ratio"


@pytest.mark.parametrize("alphas", [[0.1, -1.0], [np.nan], [], [np.inf]])
def test_bad_explicit_alphas(alphas):
    X, y = _data()
    with pytest.raises(InvalidInputError, match="alphas must be a non-empty array") as info:
        glmops.enet_path(X, y, alphas=alphas)
    assert info.value.field == "alphas"
    with pytest.raises(InvalidInputError, match="alphas must be a non-empty array"):
        glmops.ElasticNetCV(alphas=alphas, cv=3).fit(X, y)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"tol": -1.0}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"solver": "cholesky"}, "solver"),
        ({"fit_intercept": "yes"}, "fit_intercept"),
        ({"standardize": 1.5}, "standardize"),
        ({"positive": None}, "positive"),
    ],
)
@pytest.mark.parametrize("cls", [glmops.ElasticNet, glmops.ElasticNetCV])
def test_bad_common_parameters(cls, params, name):
    X, y = _data()
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of {cls.__name__}"):
        cls(**params).fit(X, y)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"eps": 0.0}, "eps"),
        ({"eps": -1.0}, "eps"),
        ({"n_alphas": 0}, "n_alphas"),
        ({"alphas": 0}, "alphas"),
        ({"cv": 1}, "cv"),
        ({"selection": "median"}, "selection"),
        ({"n_jobs": 1.5}, "n_jobs"),
    ],
)
def test_bad_cv_parameters(params, name):
    X, y = _data()
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of ElasticNetCV"):
        glmops.ElasticNetCV(**params).fit(X, y)


@pytest.mark.parametrize(
    ("params", "name"),
    [({"eps": -1.0}, "eps"), ({"eps": 0.0}, "eps"), ({"n_alphas": 0}, "n_alphas")],
)
def test_bad_enet_path_grid_parameters(params, name):
    X, y = _data()
    with pytest.raises(ValueError, match=name):
        glmops.enet_path(X, y, **params)


def test_predict_checks_its_input():
    X, y = _data()
    est = glmops.ElasticNet(0.1).fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features, but ElasticNet is expecting 3"):
        est.predict(X[:, :2])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.predict(_with(X, 0, 0, np.nan))


# --------------------------------------------------------------------------
# Inputs are never modified
# --------------------------------------------------------------------------


def _csc_unsorted(X):
    """A valid CSC matrix with each column's row indices in reverse order."""
    A = sp.csc_matrix(X)
    for j in range(A.shape[1]):
        lo, hi = A.indptr[j], A.indptr[j + 1]
        A.indices[lo:hi] = A.indices[lo:hi][::-1].copy()
        A.data[lo:hi] = A.data[lo:hi][::-1].copy()
    A.has_sorted_indices = False
    return A


LAYOUTS = {
    "dense-C": lambda X: np.ascontiguousarray(X),
    "dense-F": lambda X: np.asfortranarray(X),
    "float32-C": lambda X: np.ascontiguousarray(X, dtype=np.float32),
    "float32-F": lambda X: np.asfortranarray(X, dtype=np.float32),
    "csc": sp.csc_matrix,
    "csr": sp.csr_matrix,
    "coo": sp.coo_matrix,
    "csc-float32": lambda X: sp.csc_matrix(X, dtype=np.float32),
    "csc-array": sp.csc_array,
    "csc-unsorted-indices": _csc_unsorted,
}


def _snapshot(A):
    if sp.issparse(A):
        parts = {
            k: getattr(A, k) for k in ("data", "indices", "indptr", "row", "col") if hasattr(A, k)
        }
        return {k: np.array(v, copy=True) for k, v in parts.items()}, A.format, A.dtype
    return np.array(A, copy=True), A.flags.f_contiguous, A.dtype


def _assert_unchanged(A, snap):
    if sp.issparse(A):
        parts, fmt, dtype = snap
        assert A.format == fmt
        assert A.dtype == dtype
        for k, v in parts.items():
            np.testing.assert_array_equal(getattr(A, k), v, err_msg=k)
    else:
        arr, f_order, dtype = snap
        np.testing.assert_array_equal(A, arr)
        assert A.flags.f_contiguous == f_order
        assert A.dtype == dtype


def _layout_params():
    out = []
    for name in LAYOUTS:
        for solver in ("covariance", "naive"):
            out.append((name, solver))
    return out


@pytest.mark.parametrize(("layout", "solver"), _layout_params())
@pytest.mark.parametrize("entry", ["ElasticNet", "ElasticNetCV", "enet_path"])
def test_inputs_are_not_modified(entry, layout, solver):
    X0, y = _data(n=30, p=4)
    X0[np.abs(X0) < 0.5] = 0.0
    X = LAYOUTS[layout](X0)
    w = np.linspace(0.0, 2.0, 30)
    snaps = (_snapshot(X), y.copy(), w.copy())
    kwargs = {"solver": solver, "standardize": True}
    if entry == "ElasticNet":
        est = glmops.ElasticNet(0.05, **kwargs).fit(X, y, sample_weight=w)
        assert not np.shares_memory(est.coef_, y)
        if not sp.issparse(X):
            assert not np.shares_memory(est.coef_, X)
    elif entry == "ElasticNetCV":
        glmops.ElasticNetCV(cv=3, n_alphas=4, **kwargs).fit(X, y, sample_weight=w)
    else:
        glmops.enet_path(X, y, n_alphas=4, sample_weight=w, fit_intercept=True, **kwargs)
    _assert_unchanged(X, snaps[0])
    np.testing.assert_array_equal(y, snaps[1])
    np.testing.assert_array_equal(w, snaps[2])


@pytest.mark.parametrize("layout", ["dense-C", "float32-F", "csr"])
def test_float32_and_int_targets_are_not_modified(layout):
    X0, y = _data(n=30, p=4)
    X = LAYOUTS[layout](X0)
    for target in (y.astype(np.float32), np.round(y * 10).astype(np.int64)):
        before = target.copy()
        glmops.ElasticNet(0.05).fit(X, target)
        np.testing.assert_array_equal(target, before)
        assert target.dtype == before.dtype
