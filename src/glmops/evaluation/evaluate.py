"""Evaluate a model on labelled rows: the one owner of "how good is it on this data".

Training's train and holdout metrics, ``glmops evaluate``, the registry's
promotion gates and monitoring's online quality (a window of the prediction
log joined with its labels) all call :func:`evaluate`. The rows go through the
model's own pipeline, exactly as serving scores them; the metrics come from
:mod:`glmops.evaluation.metrics`; weights are honoured. This module imports
neither the HTML report nor matplotlib, so the registry can import it.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from glmops._typing import FloatArray
from glmops.data.readers import read_table
from glmops.data.schema import Violation
from glmops.errors import InvalidInputError
from glmops.evaluation.metrics import classification_metrics, regression_metrics

if TYPE_CHECKING:
    from glmops.model import Model

__all__ = ["MODEL_WEIGHT", "Evaluation", "evaluate", "model_weight_column"]

logger = logging.getLogger(__name__)


class _Default(enum.Enum):
    MODEL_WEIGHT = "the model's weight column"


#: ``weight=`` default: the weight column the model was trained with, when
#: the model recorded one and the data holds it.
MODEL_WEIGHT = _Default.MODEL_WEIGHT


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` found: metrics and the arrays they were computed from.

    Attributes
    ----------
    metrics : dict
        From :func:`~glmops.evaluation.metrics.regression_metrics` or
        :func:`~glmops.evaluation.metrics.classification_metrics`.
    y_true : ndarray of shape (n_rows,)
        The target of the rows with one (float, or the model's class labels).
    y_pred : ndarray of shape (n_rows,) or None
        Predictions (regression).
    proba : ndarray of shape (n_rows, n_classes) or None
        Class probabilities (classifiers).
    sample_weight : ndarray of shape (n_rows,) or None
        The weights the metrics used.
    weight_column : str or None
        The column ``sample_weight`` came from.
    violations : list of Violation
        How the rows break the model's feature manifest.
    n_dropped : int
        Rows left out for having no target value.
    """

    metrics: dict[str, Any]
    y_true: np.ndarray
    y_pred: FloatArray | None
    proba: FloatArray | None
    sample_weight: FloatArray | None
    weight_column: str | None
    violations: list[Violation]
    n_dropped: int = 0


def model_weight_column(model: Model) -> str | None:
    """Return the weight column the model's training config named, if any."""
    config = model.metadata.get("lineage", {}).get("config", {})
    weight = config.get("data", {}).get("weight")
    return str(weight) if weight else None


def evaluate(
    model: Model,
    data: Any,
    *,
    target: str | None = None,
    weight: str | _Default | None = MODEL_WEIGHT,
) -> Evaluation:
    """Score labelled rows through the model's pipeline and return their metrics.

    Parameters
    ----------
    model : Model
        The model to judge.
    data : path, DataFrame, pyarrow.Table or mapping
        Rows with the features and the target (anything
        :func:`~glmops.data.readers.read_table` takes).
    target : str, optional
        The target column (default: the model's).
    weight : str or None, default=MODEL_WEIGHT
        The weight column; None for unweighted metrics. The default uses
        the column the model was trained with when the model recorded one
        and ``data`` holds it, else no weights.

    Returns
    -------
    Evaluation
    """
    table = read_table(data)
    column = target or model.target
    table, n_dropped = _rows_with_target(table, column)
    weight_column = _weight_column(model, table, weight)
    w = None if weight_column is None else _column_floats(table, weight_column)
    features = table.drop_columns([c for c in (column, weight_column) if c is not None])
    # one coercion gives both the manifest check and the rows to score
    coerced = model.preprocessor.coerce(features, allow_extra=False)
    violations = list(coerced.violations)
    decision = model.decision_function(coerced)
    if model.task == "regression":
        y = _column_floats(table, column)
        metrics = regression_metrics(y, decision, sample_weight=w)
        return Evaluation(metrics, y, decision, None, w, weight_column, violations, n_dropped)
    y = _class_labels(table.column(column), model, column)
    proba = model.proba_from_decision(decision)
    assert model.classes is not None  # a classifier has classes
    metrics = classification_metrics(
        y,
        proba,
        model.classes,
        threshold=model.threshold if model.threshold is not None else 0.5,
        positive_class=model.classes[1] if model.task == "binary" else None,
        sample_weight=w,
    )
    return Evaluation(metrics, y, None, proba, w, weight_column, violations, n_dropped)


def _rows_with_target(table: pa.Table, column: str) -> tuple[pa.Table, int]:
    """Return the rows whose target is not null, and how many were left out."""
    if column not in table.column_names:
        raise InvalidInputError(
            f"The evaluation data has no target column {column!r}.",
            field=column,
            expected="the model's target column",
            got=table.column_names,
        )
    keep = pc.is_valid(table.column(column))
    kept = table.filter(keep)
    return kept, table.num_rows - kept.num_rows


def _weight_column(model: Model, table: pa.Table, weight: str | _Default | None) -> str | None:
    """Return the weight column to use; an explicitly named one must exist."""
    if weight is None:
        return None
    if isinstance(weight, _Default):
        name = model_weight_column(model)
        if name is not None and name not in table.column_names:
            logger.info("Evaluating %s without weights: no %r column.", model.name, name)
            return None
        return name
    if weight not in table.column_names:
        raise InvalidInputError(
            f"The evaluation data has no weight column {weight!r}.",
            field="weight",
            expected="an existing numeric column",
            got=weight,
        )
    return weight


def _column_floats(table: pa.Table, column: str) -> FloatArray:
    """Return a numeric column as float64 (nulls as NaN, which the metrics refuse)."""
    values = pc.cast(table.column(column), pa.float64())
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def _class_labels(column: pa.ChunkedArray, model: Model, name: str) -> np.ndarray:
    """Return the target as the model's class labels, matched by their text."""
    assert model.classes is not None  # a classifier has classes
    by_text = {str(c): c for c in model.classes}
    # map each distinct value once (a window can hold millions of rows, few classes)
    values = column.combine_chunks()
    if pa.types.is_dictionary(values.type):  # count only the values the rows hold
        values = values.dictionary_decode()
    encoded = pc.dictionary_encode(values)
    distinct = [str(v) for v in encoded.dictionary.to_pylist()]
    unknown = sorted(set(distinct) - set(by_text))
    if unknown:
        raise InvalidInputError(
            f"The evaluation target has classes the model does not know: {unknown[:10]}.",
            field=name,
            expected=f"one of {list(by_text)}",
            got=unknown[:10],
        )
    labels = np.empty(len(distinct), dtype=object)
    labels[:] = [by_text[v] for v in distinct]
    return np.asarray(labels[encoded.indices.to_numpy(zero_copy_only=False)])
