"""Hold-out metrics against scikit-learn, hand-computed values and invariances."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    classification_report,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.preprocessing import label_binarize

from glmops.errors import InvalidInputError
from glmops.evaluation import (
    calibration_table,
    classification_metrics,
    expected_calibration_error,
    regression_metrics,
    score_distribution,
    weighted_quantile,
)

WEIGHTINGS = ["unweighted", "weighted"]


def _weights(kind: str, n: int, seed: int = 1) -> np.ndarray | None:
    if kind == "unweighted":
        return None
    w = np.random.default_rng(seed).uniform(0.2, 3.0, n)
    w[:3] = 0.0
    return w


def _binary_data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.99, n)
    y = (rng.uniform(size=n) < p).astype(np.int64)
    return y, p


def _multiclass_data(
    n: int = 500, n_classes: int = 4, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    eta = rng.normal(size=(n, n_classes)) * 1.5
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(axis=1)
    return np.minimum(y, n_classes - 1), P


def _assert_plain_json(value: Any) -> None:
    """Fail on numpy scalars or arrays anywhere in a nested result."""
    if isinstance(value, dict):
        for key, inner in value.items():
            assert isinstance(key, str)
            _assert_plain_json(inner)
    elif isinstance(value, list):
        for inner in value:
            _assert_plain_json(inner)
    else:
        assert value is None or type(value) in (str, int, float, bool), type(value)


# --------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------


@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_regression_metrics_match_sklearn(weighting):
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    pred = y + rng.normal(scale=0.5, size=300)
    w = _weights(weighting, 300)
    out = regression_metrics(y, pred, sample_weight=w)
    assert out["rmse"] == pytest.approx(root_mean_squared_error(y, pred, sample_weight=w))
    assert out["mae"] == pytest.approx(mean_absolute_error(y, pred, sample_weight=w))
    assert out["r2"] == pytest.approx(r2_score(y, pred, sample_weight=w))
    assert out["n_samples"] == 300
    resid = y - pred
    unit = np.ones(300) if w is None else w
    mean = np.average(resid, weights=unit)
    assert out["residuals"]["mean"] == pytest.approx(mean)
    assert out["residuals"]["std"] == pytest.approx(
        math.sqrt(np.average((resid - mean) ** 2, weights=unit))
    )
    for key, q in (("q01", 0.01), ("q25", 0.25), ("q50", 0.5), ("q99", 0.99)):
        expected = np.quantile(resid, q, weights=unit, method="inverted_cdf")
        assert out["residuals"][key] == pytest.approx(expected)
    assert out["residuals"]["min"] == pytest.approx(resid[unit > 0].min())
    assert out["residuals"]["max"] == pytest.approx(resid[unit > 0].max())
    _assert_plain_json(out)


def test_regression_r2_is_nan_for_one_row():
    out = regression_metrics([1.0], [0.5])
    assert math.isnan(out["r2"])
    assert out["rmse"] == pytest.approx(0.5)


def test_weighted_quantile_definitions():
    rng = np.random.default_rng(3)
    x = rng.normal(size=57)
    qs = [0.0, 0.01, 0.1, 0.5, 0.77, 1.0]
    # unit weights: NumPy's unweighted inverted CDF
    np.testing.assert_array_equal(
        weighted_quantile(x, qs), np.quantile(x, qs, method="inverted_cdf")
    )
    # integer weights: repeated rows
    counts = rng.integers(1, 4, size=57)
    np.testing.assert_array_equal(
        weighted_quantile(x, qs, counts),
        np.quantile(np.repeat(x, counts), qs, method="inverted_cdf"),
    )
    # zero weights: the row never is a quantile
    w = np.ones(57)
    w[np.argmin(x)] = 0.0
    assert weighted_quantile(x, [0.0], w)[0] > x.min()
    # hand-computed: F(1) = 1/7, F(2) = 2/7, F(3) = 1
    np.testing.assert_array_equal(
        weighted_quantile([3.0, 1.0, 2.0], [0.1, 0.2, 0.3, 0.99], [5.0, 1.0, 1.0]),
        [1.0, 2.0, 3.0, 3.0],
    )


# --------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------


def test_ece_hand_computed():
    y = [0, 0, 1, 1]
    p = [0.1, 0.2, 0.3, 0.4]
    # bins {0.1, 0.2} and {0.3, 0.4}: |0 - 0.15| / 2 + |1 - 0.35| / 2
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.4)
    # weights 1, 3, 1, 1: weight midpoints 0.5, 2.5, 4.5, 5.5 of 6 -> bins 0, 0, 1, 1
    w = [1.0, 3.0, 1.0, 1.0]
    table = calibration_table(y, p, n_bins=2, sample_weight=w)
    assert table["weight"] == [4.0, 2.0]
    assert table["mean_predicted"] == pytest.approx([0.175, 0.35])
    assert table["fraction_positive"] == [0.0, 1.0]
    assert table["lower"] == [0.1, 0.3]
    assert table["upper"] == [0.2, 0.4]
    assert expected_calibration_error(y, p, n_bins=2, sample_weight=w) == pytest.approx(
        4 / 6 * 0.175 + 2 / 6 * 0.65
    )


def test_calibration_ties_stay_in_one_bin():
    # the tied run holds 3 of 4 rows; its weight midpoint 1.5/4 falls in bin 0
    table = calibration_table([0, 1, 0, 1], [0.2, 0.2, 0.2, 0.8], n_bins=2)
    assert table["count"] == [3, 1]
    assert table["mean_predicted"] == pytest.approx([0.2, 0.8])
    # all tied: one bin, whatever n_bins
    table = calibration_table([0, 1, 1], [0.5, 0.5, 0.5], n_bins=10)
    assert table["count"] == [3]
    assert table["fraction_positive"] == pytest.approx([2 / 3])


@pytest.mark.parametrize("n", [103, 1000, 7])
def test_calibration_bins_hold_equal_mass(n):
    y, p = _binary_data(n, seed=n)
    table = calibration_table(y, p, n_bins=10)
    assert sum(table["count"]) == n
    assert max(table["count"]) - min(table["count"]) <= 1
    assert len(table["count"]) == min(n, 10)
    # bins are ordered and do not overlap
    assert all(u < lo for u, lo in zip(table["upper"][:-1], table["lower"][1:], strict=True))


def test_ece_is_small_for_calibrated_probabilities():
    y, p = _binary_data(100_000, seed=7)
    ece = expected_calibration_error(y, p, n_bins=10)
    # each bin holds 10k rows: the sampling noise of its share is about 0.005
    assert 0.0 <= ece < 0.015


def test_ece_lies_in_unit_interval():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = int(rng.integers(1, 60))
        y = rng.integers(0, 2, n)
        p = rng.uniform(size=n)
        assert 0.0 <= expected_calibration_error(y, p, n_bins=int(rng.integers(1, 12))) <= 1.0
    # maximally wrong
    assert expected_calibration_error([0, 1], [1.0, 0.0]) == pytest.approx(1.0)


def test_ece_weight_invariances():
    y, p = _binary_data(200, seed=11)
    base = expected_calibration_error(y, p, n_bins=7)
    assert expected_calibration_error(y, p, n_bins=7, sample_weight=np.ones(200)) == pytest.approx(
        base
    )
    counts = np.random.default_rng(2).integers(1, 4, 200)
    assert expected_calibration_error(
        y, p, n_bins=7, sample_weight=counts.astype(float)
    ) == pytest.approx(
        expected_calibration_error(np.repeat(y, counts), np.repeat(p, counts), n_bins=7)
    )


def test_ece_rejects_bad_labels():
    with pytest.raises(InvalidInputError, match="y_true"):
        expected_calibration_error([0, 2], [0.1, 0.2])
    with pytest.raises(InvalidInputError, match="proba"):
        expected_calibration_error([0, 1], [0.1, 1.2])
    with pytest.raises(InvalidInputError, match="n_bins"):
        expected_calibration_error([0, 1], [0.1, 0.2], n_bins=0)


# --------------------------------------------------------------------------
# Binary classification
# --------------------------------------------------------------------------


@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_binary_metrics_match_sklearn(weighting):
    y, p = _binary_data()
    w = _weights(weighting, y.shape[0])
    P = np.column_stack([1 - p, p])
    out = classification_metrics(y, P, [0, 1], threshold=0.4, sample_weight=w)
    pred = (p > 0.4).astype(int)
    assert out["log_loss"] == pytest.approx(log_loss(y, P, sample_weight=w))
    assert out["roc_auc"] == pytest.approx(roc_auc_score(y, p, sample_weight=w))
    assert out["pr_auc"] == pytest.approx(average_precision_score(y, p, sample_weight=w))
    assert out["brier"] == pytest.approx(brier_score_loss(y, p, sample_weight=w))
    assert out["ece"] == pytest.approx(expected_calibration_error(y, p, sample_weight=w))
    assert out["accuracy"] == pytest.approx(accuracy_score(y, pred, sample_weight=w))
    assert out["precision"] == pytest.approx(precision_score(y, pred, sample_weight=w))
    assert out["recall"] == pytest.approx(recall_score(y, pred, sample_weight=w))
    assert out["f1"] == pytest.approx(f1_score(y, pred, sample_weight=w))
    cm = confusion_matrix(y, pred, sample_weight=w)
    np.testing.assert_allclose(out["confusion_matrix"]["matrix"], cm)
    assert out["confusion_matrix"]["labels"] == [0, 1]
    (tn, fp), (fn, tp) = cm
    assert out["fpr"] == pytest.approx(fp / (fp + tn))
    assert out["fnr"] == pytest.approx(fn / (fn + tp))
    assert out["prevalence"] == pytest.approx(np.average(y, weights=w))
    assert out["threshold"] == 0.4
    assert out["n_samples"] == y.shape[0]
    if w is None:
        assert all(type(v) is int for row in out["confusion_matrix"]["matrix"] for v in row)
    _assert_plain_json(out)
    json.dumps(out, allow_nan=True)


def test_binary_threshold_is_strict():
    y = np.array([0, 1, 1, 0])
    p = np.array([0.5, 0.5, 0.7, 0.2])
    out = classification_metrics(y, np.column_stack([1 - p, p]), [0, 1], threshold=0.5)
    # only the 0.7 row is predicted positive
    assert out["confusion_matrix"]["matrix"] == [[2, 0], [1, 1]]
    assert out["precision"] == 1.0
    assert out["recall"] == 0.5


def test_string_labels_and_first_class_positive():
    y, p_yes = _binary_data(300, seed=4)
    labels = np.where(y == 1, "yes", "no")
    classes = ["yes", "no"]  # column 0 is "yes"
    P = np.column_stack([p_yes, 1 - p_yes])
    out = classification_metrics(labels, P, classes, positive_class="yes", threshold=0.3)
    pred = np.where(p_yes > 0.3, "yes", "no")
    assert out["positive_class"] == "yes"
    assert out["confusion_matrix"]["labels"] == ["no", "yes"]
    assert out["roc_auc"] == pytest.approx(roc_auc_score(labels == "yes", p_yes))
    assert out["pr_auc"] == pytest.approx(average_precision_score(labels == "yes", p_yes))
    assert out["precision"] == pytest.approx(precision_score(labels, pred, pos_label="yes"))
    assert out["recall"] == pytest.approx(recall_score(labels, pred, pos_label="yes"))
    np.testing.assert_array_equal(
        out["confusion_matrix"]["matrix"], confusion_matrix(labels, pred, labels=["no", "yes"])
    )
    assert out["log_loss"] == pytest.approx(log_loss(labels == "yes", p_yes))
    # the default positive class is classes[1] = "no"
    default = classification_metrics(labels, P, classes, threshold=0.3)
    assert default["positive_class"] == "no"
    assert default["roc_auc"] == pytest.approx(roc_auc_score(labels == "no", 1 - p_yes))


@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_precision_recall_at_k_hand_computed(weighting):
    #              0    1    2    3    4    5    6    7    8    9
    p = np.array([0.5, 0.9, 0.8, 0.8, 0.1, 0.2, 0.3, 0.4, 0.6, 0.05])
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0, 1, 0])
    w = None if weighting == "unweighted" else np.array([1, 2, 3, 1, 1, 1, 1, 1, 4, 1.0])
    out = classification_metrics(
        y, np.column_stack([1 - p, p]), [0, 1], k=(0.1, 0.2, 0.25), sample_weight=w
    )
    # k=0.1: row 1; k=0.2: rows 1, 2 (row 2 before its tie row 3); k=0.25: ceil(2.5) = 3 rows
    if w is None:
        assert out["precision_at_k"] == {"0.1": 1.0, "0.2": 0.5, "0.25": pytest.approx(2 / 3)}
        assert out["recall_at_k"] == {"0.1": 0.2, "0.2": 0.2, "0.25": 0.4}
    else:
        positives = 1 + 2 + 1 + 1 + 4
        assert out["precision_at_k"] == {"0.1": 1.0, "0.2": 0.4, "0.25": pytest.approx(3 / 6)}
        assert out["recall_at_k"] == pytest.approx(
            {"0.1": 2 / positives, "0.2": 2 / positives, "0.25": 3 / positives}
        )


def test_single_class_gives_nan_auc_without_warning():
    p = np.array([0.2, 0.4, 0.9])
    P = np.column_stack([1 - p, p])
    out = classification_metrics([0, 0, 0], P, [0, 1])
    assert math.isnan(out["roc_auc"])
    assert math.isnan(out["pr_auc"])
    assert math.isnan(out["recall"])
    assert math.isnan(out["fnr"])
    assert math.isnan(out["recall_at_k"]["0.01"])
    assert out["fpr"] == pytest.approx(1 / 3)
    json.dumps(out, allow_nan=True)
    only_positive = classification_metrics([1, 1, 1], P, [0, 1], threshold=0.95)
    assert math.isnan(only_positive["roc_auc"])
    assert only_positive["pr_auc"] == 1.0
    assert math.isnan(only_positive["precision"])  # nothing predicted positive
    # a class present only with zero weight counts as absent
    weighted = classification_metrics([0, 1, 0], P, [0, 1], sample_weight=[1.0, 0.0, 1.0])
    assert math.isnan(weighted["roc_auc"])


def test_classification_rejects_bad_input():
    P = np.array([[0.3, 0.7], [0.6, 0.4]])
    with pytest.raises(InvalidInputError, match="not in classes"):
        classification_metrics(["a", "c"], P, ["a", "b"])
    with pytest.raises(InvalidInputError, match="sum to 1"):
        classification_metrics([0, 1], P * 0.9, [0, 1])
    with pytest.raises(InvalidInputError, match="shape"):
        classification_metrics([0, 1], P, [0, 1, 2])
    with pytest.raises(InvalidInputError, match="positive_class"):
        classification_metrics([0, 1], P, [0, 1], positive_class=2)
    with pytest.raises(InvalidInputError, match="k must"):
        classification_metrics([0, 1], P, [0, 1], k=(0.0,))
    with pytest.raises(InvalidInputError, match="at least 2"):
        classification_metrics([0, 0], P[:, :1] / P[:, :1], [0])


# --------------------------------------------------------------------------
# Multinomial
# --------------------------------------------------------------------------


@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_multinomial_metrics_match_sklearn(weighting):
    y, P = _multiclass_data()
    classes = ["a", "b", "c", "d"]
    labels = np.asarray(classes)[y]
    w = _weights(weighting, y.shape[0])
    out = classification_metrics(labels, P, classes, sample_weight=w)
    pred = np.asarray(classes)[P.argmax(axis=1)]
    Y = label_binarize(y, classes=[0, 1, 2, 3])
    unit = np.ones(y.shape[0]) if w is None else w
    assert out["log_loss"] == pytest.approx(log_loss(y, P, sample_weight=w))
    assert out["accuracy"] == pytest.approx(accuracy_score(labels, pred, sample_weight=w))
    assert out["brier"] == pytest.approx(np.average(((P - Y) ** 2).sum(axis=1), weights=unit))
    assert out["roc_auc_macro"] == pytest.approx(
        roc_auc_score(y, P, multi_class="ovr", average="macro", sample_weight=w)
    )
    assert out["pr_auc_macro"] == pytest.approx(
        average_precision_score(Y, P, average="macro", sample_weight=w)
    )
    assert out["ece_macro"] == pytest.approx(
        np.mean([expected_calibration_error(Y[:, k], P[:, k], sample_weight=w) for k in range(4)])
    )
    report = classification_report(labels, pred, sample_weight=w, output_dict=True)
    for name in classes:
        got = out["per_class"][name]
        assert got["precision"] == pytest.approx(report[name]["precision"])
        assert got["recall"] == pytest.approx(report[name]["recall"])
        assert got["f1"] == pytest.approx(report[name]["f1-score"])
        assert got["support"] == pytest.approx(report[name]["support"])
        k = classes.index(name)
        assert got["roc_auc"] == pytest.approx(roc_auc_score(Y[:, k], P[:, k], sample_weight=w))
        assert got["pr_auc"] == pytest.approx(
            average_precision_score(Y[:, k], P[:, k], sample_weight=w)
        )
    for key, sk_key in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
        assert out["macro"][key] == pytest.approx(report["macro avg"][sk_key])
    np.testing.assert_allclose(
        out["confusion_matrix"]["matrix"],
        confusion_matrix(labels, pred, labels=classes, sample_weight=w),
    )
    assert out["confusion_matrix"]["labels"] == classes
    _assert_plain_json(out)
    json.dumps(out, allow_nan=True)


def test_multinomial_absent_class_gives_nan_without_warning():
    y, P = _multiclass_data(n=200, n_classes=3, seed=2)
    y[y == 2] = 0  # class 2 never occurs
    out = classification_metrics(y, P, [0, 1, 2])
    assert math.isnan(out["roc_auc_macro"])
    assert math.isnan(out["pr_auc_macro"])
    assert math.isnan(out["per_class"]["2"]["roc_auc"])
    assert math.isnan(out["per_class"]["2"]["recall"])
    assert out["per_class"]["2"]["support"] == 0
    assert not math.isnan(out["per_class"]["0"]["roc_auc"])
    assert 0.0 <= out["ece_macro"] <= 1.0
    json.dumps(out, allow_nan=True)


def test_numpy_labels_become_plain_json():
    y, P = _multiclass_data(n=60, n_classes=3, seed=8)
    out = classification_metrics(y.astype(np.int32), P, np.array([0, 1, 2], dtype=np.int32))
    assert out["confusion_matrix"]["labels"] == [0, 1, 2]
    _assert_plain_json(out)


# --------------------------------------------------------------------------
# Score distribution
# --------------------------------------------------------------------------


def test_score_distribution_shares_bins_across_classes():
    y, p = _binary_data(300, seed=9)
    labels = np.where(y == 1, "pos", "neg")
    out = score_distribution(labels, p, ["neg", "pos"], n_bins=20)
    assert out["edges"][0] == 0.0
    assert out["edges"][-1] == 1.0
    assert len(out["edges"]) == 21
    assert out["classes"] == ["neg", "pos"]
    assert sum(out["counts"][0]) == np.sum(y == 0)
    assert sum(out["counts"][1]) == np.sum(y == 1)
    assert sum(out["shares"][1]) == pytest.approx(1.0)
    # scores outside [0, 1]: the bins span their range; an absent class has NaN shares
    wide = score_distribution([0, 0, 0], [-2.0, 0.5, 3.0], [0, 1], n_bins=5)
    assert wide["edges"][0] == -2.0
    assert wide["edges"][-1] == 3.0
    assert all(math.isnan(s) for s in wide["shares"][1])
    _assert_plain_json(out)
