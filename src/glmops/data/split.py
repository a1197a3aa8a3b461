"""The holdout split and the CV folds: random, stratified, time-ordered or grouped.

Training and the benchmark cut data the same way: the holdout first, then
folds of the training part (forward-chaining for time, grouped for groups),
every shuffle seeded so the same config gives the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from glmops._typing import FloatArray, IntArray
from glmops.errors import InvalidInputError

__all__ = ["Split", "make_split"]


@dataclass
class Split:
    """Row indices of a split; ``folds`` index into ``train``."""

    train: IntArray
    holdout: IntArray
    folds: list[tuple[IntArray, IntArray]]


def make_split(
    table: pa.Table,
    y: np.ndarray,
    *,
    task: str,
    method: str | None = None,
    test_size: float = 0.2,
    n_folds: int = 5,
    seed: int = 0,
    weights: FloatArray | None = None,
    time_column: str | None = None,
    group_column: str | None = None,
) -> Split:
    """Cut the holdout, then the CV folds of the training part.

    Parameters
    ----------
    table : pyarrow.Table
        All rows (needed for the time and group columns).
    y : ndarray of shape (n_rows,)
        Target (labels for classification).
    task : {"regression", "binary", "multinomial"}
        Stratification and fold type follow the task.
    method : {"random", "stratified", "time", "group"}, optional
        Default: stratified for classification, random for regression.
    test_size : float, default=0.2
        Holdout share.
    n_folds : int, default=5
        CV folds of the training part.
    seed : int, default=0
        Seed of every shuffle.
    weights : ndarray, optional
        Row weights; every fold needs positive total weight.
    time_column, group_column : str, optional
        The column ordering rows in time / grouping rows (methods time, group).

    Returns
    -------
    Split
        Row indices: ``train``, ``holdout`` and ``folds`` (indices into ``train``).
    """
    from sklearn.model_selection import (
        GroupKFold,
        GroupShuffleSplit,
        KFold,
        StratifiedKFold,
        TimeSeriesSplit,
        train_test_split,
    )

    n = table.num_rows
    rows = np.arange(n)
    method = method or ("random" if task == "regression" else "stratified")
    size = test_size
    w = weights
    groups = None
    if method == "time":
        if time_column is None:
            raise InvalidInputError(
                "A time split needs a time column.",
                field="split.time_column",
                expected="a column name",
                got=None,
            )
        order = _sort_order(table, time_column)
        n_test = max(1, round(size * n))
        # training rows stay in time order: the forward-chaining CV folds rely on it
        train, holdout = order[: n - n_test], np.sort(order[n - n_test :])
    elif method == "group":
        if group_column is None:
            raise InvalidInputError(
                "A group split needs a group column.",
                field="split.group_column",
                expected="a column name",
                got=None,
            )
        groups = _column_as_keys(table, group_column)
        gss = GroupShuffleSplit(n_splits=1, test_size=size, random_state=seed)
        train, holdout = next(gss.split(rows, groups=groups))
    else:
        stratify = y if method == "stratified" else None
        try:
            train, holdout = train_test_split(
                rows, test_size=size, random_state=seed, stratify=stratify
            )
        except ValueError as exc:
            raise InvalidInputError(
                f"Cannot make a {method} holdout split: {exc}",
                field="split",
                expected="enough rows of every class for the holdout",
                got=str(exc),
            ) from exc
        train, holdout = np.sort(train), np.sort(holdout)
    k = n_folds
    y_train = y[train]
    if method == "time":
        splitter: Any = TimeSeriesSplit(n_splits=k)
        folds = list(splitter.split(train))
    elif method == "group":
        assert groups is not None
        folds = list(GroupKFold(n_splits=k).split(train, groups=groups[train]))
    elif task == "regression":
        folds = list(KFold(n_splits=k, shuffle=True, random_state=seed).split(train))
    else:
        counts = {c: int((y_train == c).sum()) for c in set(y_train.tolist())}
        if min(counts.values()) < k:
            raise InvalidInputError(
                f"The training split has a class with {min(counts.values())} row(s), fewer "
                f"than cv.n_folds={k}: {counts}.",
                field="cv.n_folds",
                expected=f"at most {min(counts.values())} folds, or more rows of each class",
                got=k,
            )
        skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        folds = list(skf.split(train, y_train.astype(str)))
    if w is not None:
        for f, (_, test) in enumerate(folds):
            if not w[train][test].sum() > 0:
                raise InvalidInputError(
                    f"CV fold {f} has zero total weight.",
                    field="data.weight",
                    expected="positive weight in every fold",
                    got=0.0,
                )
    folds = [(np.asarray(a, np.intp), np.asarray(b, np.intp)) for a, b in folds]
    return Split(np.asarray(train, np.intp), np.asarray(holdout, np.intp), folds)


def _sort_order(table: pa.Table, column: str) -> IntArray:
    if column not in table.column_names:
        raise InvalidInputError(
            f"The time column {column!r} is not in the data.",
            field="split.time_column",
            expected="an existing column",
            got=column,
        )
    indices = pc.sort_indices(table.select([column]), sort_keys=[(column, "ascending")])
    return np.asarray(indices.to_numpy(), dtype=np.intp)


def _column_as_keys(table: pa.Table, column: str) -> np.ndarray:
    if column not in table.column_names:
        raise InvalidInputError(
            f"The group column {column!r} is not in the data.",
            field="split.group_column",
            expected="an existing column",
            got=column,
        )
    return np.asarray([str(v) for v in table.column(column).to_pylist()])
