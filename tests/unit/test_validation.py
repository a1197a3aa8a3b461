"""One sample_weight check: estimators and metrics accept and refuse alike."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import glmops
from glmops._validation import check_sample_weight
from glmops.errors import InvalidInputError
from glmops.evaluation.metrics import classification_metrics, regression_metrics

N = 20


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, 3))
    y = X @ np.array([1.0, -1.0, 0.5]) + 0.1 * rng.standard_normal(N)
    return X, y


def _estimator_path(w):
    X, y = _data()
    glmops.ElasticNet(alpha=0.01).fit(X, y, sample_weight=w)
    glmops.LogisticRegression().fit(X, (y > 0).astype(int), sample_weight=w)


def _metric_path(w):
    _, y = _data()
    regression_metrics(y, y + 0.1, sample_weight=w)
    p = np.linspace(0.05, 0.95, N)
    classification_metrics(np.arange(N) % 2, np.column_stack([1 - p, p]), [0, 1], sample_weight=w)


ACCEPTED = {
    "none": lambda: None,
    "ones": lambda: np.ones(N),
    "positive": lambda: np.linspace(0.5, 2.0, N),
    "some-zero": lambda: np.r_[np.zeros(4), np.ones(N - 4)],
    "ints-list": lambda: [1, 2] * (N // 2),
    "float32": lambda: np.ones(N, dtype=np.float32),
    "scalar": lambda: 2.0,
}
REFUSED = {
    "nan": lambda: np.r_[np.nan, np.ones(N - 1)],
    "inf": lambda: np.r_[np.inf, np.ones(N - 1)],
    "negative": lambda: np.r_[-1.0, np.ones(N - 1)],
    "all-zero": lambda: np.zeros(N),
    "short": lambda: np.ones(N - 1),
    "long": lambda: np.ones(N + 1),
    "2d": lambda: np.ones((N, 1)),
    "strings": lambda: np.array(["a"] * N),
    "sparse": lambda: sp.csr_matrix(np.ones((1, N))),
    "negative-scalar": lambda: -1.0,
    "zero-scalar": lambda: 0.0,
}


@pytest.mark.parametrize("make_w", ACCEPTED.values(), ids=ACCEPTED.keys())
@pytest.mark.parametrize("path", [_estimator_path, _metric_path], ids=["estimator", "metric"])
def test_both_paths_accept(path, make_w):
    path(make_w())


@pytest.mark.parametrize("make_w", REFUSED.values(), ids=REFUSED.keys())
def test_both_paths_refuse_with_one_message(make_w):
    messages = []
    for path in (_estimator_path, _metric_path):
        with pytest.raises(InvalidInputError) as info:
            path(make_w())
        assert info.value.field == "sample_weight"
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_equal_weights_collapse_only_when_asked():
    assert check_sample_weight(np.full(4, 3.0), 4, equal_as_none=True) is None
    np.testing.assert_array_equal(check_sample_weight(np.full(4, 3.0), 4), np.full(4, 3.0))
    np.testing.assert_array_equal(check_sample_weight(2.0, 3), [2.0, 2.0, 2.0])
    w = check_sample_weight([1, 2], 2, equal_as_none=True)
    assert w is not None
    assert w.dtype == np.float64
    assert check_sample_weight(None, 3) is None
