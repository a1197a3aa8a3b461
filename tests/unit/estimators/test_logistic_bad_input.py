"""Bad input to the logistic estimators is refused with a message naming the problem.

Errors glmops raises itself are :class:`glmops.InvalidInputError` (a
``ValueError``) carrying ``.field``; parameter constraints are checked by
scikit-learn's ``InvalidParameterError`` (also a ``ValueError``) and data
checks by its ``validate_data``, with their messages.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils._param_validation import InvalidParameterError

import glmops
from glmops import InvalidInputError, LogisticRegression, LogisticRegressionCV, logistic_path


def _data(n=30, p=3, n_classes=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = (np.arange(n) + rng.integers(0, 2, n)) % n_classes
    return X, y


def _fitters():
    """Every public entry point as ``fit(X, y, sample_weight, **params)``."""
    return {
        "LogisticRegression": lambda X, y, w=None, **kw: LogisticRegression(**kw).fit(
            X, y, sample_weight=w
        ),
        "LogisticRegressionCV": lambda X, y, w=None, **kw: LogisticRegressionCV(
            cv=3, n_alphas=3, **kw
        ).fit(X, y, sample_weight=w),
        "logistic_path": lambda X, y, w=None, **kw: logistic_path(
            X, y, n_alphas=3, sample_weight=w, **kw
        ),
    }


FITTERS = _fitters()
ENTRY_POINTS = list(FITTERS)


# --------------------------------------------------------------------------
# y
# --------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("label", [0, "spam", True])
def test_single_class_is_refused(entry, label):
    X, _ = _data()
    y = np.full(30, label)
    with pytest.raises(InvalidInputError, match="1 class") as info:
        FITTERS[entry](X, y)
    assert info.value.field == "y"
    assert str(label) in str(info.value)  # the message names the class


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_continuous_y_is_refused(entry):
    X, _ = _data()
    y = np.random.default_rng(0).standard_normal(30)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        FITTERS[entry](X, y)


def test_two_dimensional_y_is_refused():
    X, y = _data()
    with pytest.raises(ValueError, match="1d array"):
        LogisticRegression().fit(X, np.column_stack([y, y]))


@pytest.mark.parametrize("entry", ["LogisticRegression", "LogisticRegressionCV"])
def test_weights_leaving_one_class(entry):
    X, y = _data()
    w = (y == 1).astype(np.float64)  # class 0 has no weight
    try:
        est = FITTERS[entry](X, y, w)
    except InvalidInputError as exc:  # refusing is fine, with a message naming classes
        assert "class" in str(exc)
    else:  # fitting is fine too, if it predicts the only class that counts
        np.testing.assert_array_equal(est.predict(X), 1)


# --------------------------------------------------------------------------
# X
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [np.asarray, sp.csr_matrix], ids=["dense", "csr"])
@pytest.mark.parametrize(("value", "pattern"), [(np.nan, "NaN"), (np.inf, "infinity")])
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_non_finite_x_is_refused(entry, value, pattern, fmt):
    X, y = _data()
    X[7, 1] = value
    with pytest.raises(ValueError, match=f"Input X contains {pattern}"):
        FITTERS[entry](fmt(X), y)


@pytest.mark.parametrize(("value", "pattern"), [(np.nan, "NaN"), (-np.inf, "infinity")])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function"])
def test_non_finite_x_at_predict_is_refused(method, value, pattern):
    X, y = _data()
    est = LogisticRegression().fit(X, y)
    X_bad = X.copy()
    X_bad[0, 0] = value
    with pytest.raises(ValueError, match=f"Input X contains {pattern}"):
        getattr(est, method)(X_bad)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba", "score"])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(
    "make", [lambda: LogisticRegression(), lambda: LogisticRegressionCV(cv=3, n_alphas=3)]
)
def test_wrong_number_of_features_at_predict(make, n_classes, method):
    X, y = _data(n_classes=n_classes)
    est = make().fit(X, y)
    args = (X[:, :2], y) if method == "score" else (X[:, :2],)
    with pytest.raises(ValueError, match=r"X has 2 features, but \w+ is expecting 3 features"):
        getattr(est, method)(*args)


def test_empty_and_one_dimensional_x_are_refused():
    X, y = _data()
    with pytest.raises(ValueError, match="0 sample"):
        LogisticRegression().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="Expected 2D array"):
        LogisticRegression().fit(X[:, 0], y)


# --------------------------------------------------------------------------
# sample_weight and class_weight
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "pattern"),
    [
        (lambda w: np.where(np.arange(30) == 4, -1.0, w), "non-negative; got -1.0 at index 4"),
        (lambda w: np.where(np.arange(30) == 0, np.nan, w), "finite; got nan at index 0"),
        (lambda w: np.zeros(30), "positive sum"),
        (lambda w: w[:29], r"shape == \(29,\), expected \(30,\)"),
    ],
    ids=["negative", "nan", "all-zero", "wrong-length"],
)
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_bad_sample_weight_is_refused(entry, weights, pattern):
    X, y = _data()
    with pytest.raises(InvalidInputError, match=pattern) as info:
        FITTERS[entry](X, y, weights(np.ones(30)))
    assert info.value.field == "sample_weight"


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(
    ("labels", "class_weight", "unknown"),
    [
        (np.array([0, 1]), {5: 2.0}, "[5]"),
        (np.array(["ham", "spam"]), {"ham": 1.0, "eggs": 2.0}, "['eggs']"),
    ],
    ids=["int", "str"],
)
def test_class_weight_naming_an_unknown_class(entry, labels, class_weight, unknown):
    X, y = _data()
    with pytest.raises(InvalidInputError, match="class_weight names classes not in y") as info:
        FITTERS[entry](X, labels[y], class_weight=class_weight)
    assert info.value.field == "class_weight"
    assert unknown in str(info.value)
    assert repr(labels.tolist()) in str(info.value)  # and it lists the real ones


def test_class_weight_bad_string():
    X, y = _data()
    with pytest.raises(InvalidParameterError, match="'class_weight' parameter"):
        LogisticRegression(class_weight="balance").fit(X, y)


def test_class_weights_that_zero_every_sample():
    X, y = _data()
    with pytest.raises(InvalidInputError, match="sums to zero") as info:
        LogisticRegression(class_weight={0: 0.0, 1: 0.0}).fit(X, y)
    assert info.value.field == "class_weight"


# --------------------------------------------------------------------------
# Penalty parameters
# --------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, -1.0])
def test_alpha_must_be_positive(alpha):
    X, y = _data()
    with pytest.raises(InvalidParameterError, match=r"'alpha' parameter .* range \(0.0, inf\)"):
        LogisticRegression(alpha=alpha).fit(X, y)


@pytest.mark.parametrize("alphas", [[1.0, 0.0], [-0.5], [], [1.0, np.inf]])
@pytest.mark.parametrize("entry", ["LogisticRegressionCV", "logistic_path"])
def test_alphas_must_be_positive_and_finite(entry, alphas):
    X, y = _data()
    with pytest.raises(
        InvalidInputError, match="alphas must be a non-empty array of finite values > 0"
    ) as info:
        FITTERS[entry](X, y, alphas=alphas)
    assert info.value.field == "alphas"


@pytest.mark.parametrize("l1_ratio", [-0.1, 1.5])
@pytest.mark.parametrize("entry", ["LogisticRegression", "logistic_path"])
def test_l1_ratio_out_of_range(entry, l1_ratio):
    X, y = _data()
    with pytest.raises(InvalidParameterError, match=r"'l1_ratio' parameter .* \[0.0, 1.0\]"):
        FITTERS[entry](X, y, l1_ratio=l1_ratio)


@pytest.mark.parametrize("l1_ratio", [1.2, [0.5, 1.2], [-0.1]])
def test_cv_l1_ratio_out_of_range(l1_ratio):
    X, y = _data()
    with pytest.raises((InvalidInputError, InvalidParameterError), match="l1_ratio"):
        LogisticRegressionCV(l1_ratio=l1_ratio, cv=3).fit(X, y)


@pytest.mark.parametrize(("name", "value"), [("tol", 0.0), ("max_iter", 0)])
def test_solver_parameters(name, value):
    X, y = _data()
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        LogisticRegression(**{name: value}).fit(X, y)


# --------------------------------------------------------------------------
# Threshold and calibration
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [LogisticRegression, lambda **kw: LogisticRegressionCV(cv=3, **kw)]
)
def test_threshold_policy_on_multiclass_is_refused(make):
    X, y = _data(n_classes=3)
    with pytest.raises(InvalidInputError, match="applies to binary targets only; y has 3") as info:
        make(threshold="max_f1").fit(X, y)
    assert info.value.field == "threshold"


def test_a_numeric_threshold_on_multiclass_is_harmless():
    X, y = _data(n_classes=3)
    est = LogisticRegression(threshold=0.3).fit(X, y)
    np.testing.assert_array_equal(
        est.predict(X), est.classes_[np.argmax(est.predict_proba(X), axis=1)]
    )


@pytest.mark.parametrize("threshold", ["best", "f1", 1.5, 0.0, 1.0])
def test_unknown_threshold_policy_or_value(threshold):
    X, y = _data()
    with pytest.raises(InvalidParameterError, match=r"'threshold' parameter .* among"):
        LogisticRegression(threshold=threshold).fit(X, y)


def test_select_threshold_unknown_policy():
    with pytest.raises(InvalidInputError, match="threshold policy must be one of") as info:
        glmops.select_threshold([0, 1, 1], [0.2, 0.6, 0.9], "best")
    assert info.value.field == "threshold"


@pytest.mark.parametrize(
    ("policy", "target", "interval"),
    [
        ("target_precision", None, r"\(0, 1\]"),
        ("target_recall", None, r"\(0, 1\]"),
        ("target_recall", 1.5, r"\(0, 1\]"),
        ("min_cost", None, r"\(0, inf\)"),
    ],
)
@pytest.mark.parametrize(
    "make", [LogisticRegression, lambda **kw: LogisticRegressionCV(cv=3, n_alphas=3, **kw)]
)
def test_policy_missing_its_target(make, policy, target, interval):
    X, y = _data()
    with pytest.raises(InvalidInputError, match=f"{policy}' needs threshold_target in {interval}"):
        make(threshold=policy, threshold_target=target).fit(X, y)
    with pytest.raises(InvalidInputError, match="needs threshold_target") as info:
        glmops.select_threshold(y, np.linspace(0, 1, 30), policy, target=target)
    assert info.value.field == "threshold_target"


def test_threshold_target_must_be_positive():
    X, y = _data()
    with pytest.raises(InvalidParameterError, match="'threshold_target' parameter"):
        LogisticRegression(threshold="min_cost", threshold_target=-1.0).fit(X, y)


def test_unknown_calibration_method():
    X, y = _data()
    with pytest.raises(
        InvalidParameterError,
        match="'calibration' parameter of LogisticRegression must be a str among",
    ):
        LogisticRegression(calibration="beta").fit(X, y)


# --------------------------------------------------------------------------
# Labels unseen in training
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 3])
def test_score_with_unseen_labels_is_plain_accuracy(n_classes):
    X, y = _data(n_classes=n_classes)
    est = LogisticRegression().fit(X, y)
    y_new = np.where(y == 1, 7, y)  # label 1 renamed: never predicted
    pred = est.predict(X)
    assert est.score(X, y_new) == pytest.approx(np.mean(pred == y_new))
    assert est.score(X, y_new) < est.score(X, y)
