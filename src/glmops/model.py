"""A trained glmops model: the fitted pipeline plus the linear model, saved safely.

:class:`Model` is what ``glmops train`` produces, the registry stores and the
server and the batch scorer load. Everything it predicts goes through its
one :class:`~glmops.data.preprocessing.Preprocessor`. It is saved as a
checksummed artifact (:mod:`glmops.artifact`) with no pickle anywhere, and
:func:`load_model` verifies every hash before reading anything.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from glmops._typing import BoolArray, FloatArray, IntArray
from glmops.artifact import ArtifactInfo, read_artifact, write_artifact
from glmops.calibration import CalibrationMap
from glmops.data.preprocessing import Preprocessor
from glmops.data.readers import as_table
from glmops.data.schema import CoercedTable, Violation, coerce_table
from glmops.errors import (
    ArtifactError,
    InvalidInputError,
    ScoreOverflowError,
    UnsupportedFormatVersion,
)

if TYPE_CHECKING:
    import pyarrow as pa
else:
    from glmops._arrow import pa

__all__ = ["MODEL_FORMAT_VERSION", "OVERFLOW_EXPECTED", "Model", "ScoredTable", "load_model"]

logger = logging.getLogger(__name__)

MODEL_FORMAT_VERSION = 1
Task = Literal["regression", "binary", "multinomial"]
Records = Mapping[str, Any] | Sequence[Mapping[str, Any]]
_FEW_SCORES = 8  # check_scores: up to this many scores are checked as floats
OVERFLOW_EXPECTED = "values whose linear score is finite (these are far outside the training range)"


def _json_label(value: Any) -> Any:
    """Return a class label as a plain JSON value."""
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class ScoredTable:
    """A table checked against the feature manifest, and its linear scores.

    ``decision`` (shape (n, K)) is None when a violation in ``blocking``
    stops the table from being scored; rows whose score overflowed are
    still in it (:meth:`Model.check_scores` finds them).
    """

    data: CoercedTable
    blocking: list[Violation]
    decision: FloatArray | None = None

    @property
    def counted(self) -> list[Violation]:
        """Return the violations that do not block (encoded as in training, counted)."""
        return [v for v in self.data.violations if v not in self.blocking]


@dataclass
class Model:
    """A fitted pipeline and linear model, ready to predict, explain and validate.

    Binary models predict ``classes[1]`` (the positive class) when its
    probability is strictly above ``threshold``. ``data`` arguments take one
    record (a dict), a list of records, a pandas/polars DataFrame or an Arrow
    table; columns are matched by name.

    Parameters
    ----------
    name : str
        Model name.
    task : {"regression", "binary", "multinomial"}
        What the model predicts.
    preprocessor : Preprocessor
        The fitted feature pipeline (schema included).
    coef : ndarray of shape (K, n_features_out)
        Coefficients on the preprocessed features; K is 1 for regression and
        binary, the number of classes for multinomial.
    intercept : ndarray of shape (K,)
        Intercepts.
    target : str, default=""
        Name of the target column.
    classes : list, optional
        Class labels; binary: ``[negative, positive]``.
    threshold : float, optional
        Binary decision threshold on the positive class's probability.
    calibration : CalibrationMap, optional
        Maps decision values to calibrated probabilities.
    metadata : dict, optional
        Hyperparameters, CV summary, metrics, lineage, reference profile.
    arrays : dict of ndarray, optional
        Extra arrays stored with the model.
    digest : str, optional
        The artifact's model digest (set by :meth:`save` and :func:`load_model`).
    """

    name: str
    task: Task
    preprocessor: Preprocessor
    coef: FloatArray
    intercept: FloatArray
    target: str = ""
    classes: list[Any] | None = None
    threshold: float | None = None
    calibration: CalibrationMap | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, FloatArray] = field(default_factory=dict)
    digest: str | None = None

    @property
    def feature_names(self) -> list[str]:
        """Return the input feature names (the manifest's columns)."""
        return self.preprocessor.schema.names

    @property
    def feature_names_out(self) -> list[str]:
        """Return the design-matrix column names."""
        return self.preprocessor.feature_names_out

    # -- inputs --------------------------------------------------------------------

    def _is_records(self, data: Any) -> bool:
        if isinstance(data, Mapping):
            return not all(isinstance(v, list | tuple | np.ndarray) for v in data.values()) or (
                len(data) == 0
            )
        return isinstance(data, list | tuple) and all(isinstance(r, Mapping) for r in data)

    def _records(self, data: Any) -> list[Mapping[str, Any]]:
        return [data] if isinstance(data, Mapping) else list(data)

    def _record_matrix(self, data: Any) -> FloatArray:
        records = self._records(data)
        X = np.empty((len(records), self.preprocessor.n_features_out))
        for i, record in enumerate(records):
            try:
                X[i], _ = self.preprocessor.transform_record(record)
            except InvalidInputError as exc:
                exc.args = (f"Record {i}: {exc.args[0]}",)
                exc.field = f"[{i}].{exc.field}"
                raise
        return X

    def _table(self, data: Any) -> pa.Table | CoercedTable:
        if isinstance(data, CoercedTable):
            return data
        return as_table(data)

    # -- predictions ---------------------------------------------------------------

    def transform(self, data: Any) -> FloatArray:
        """Return the design matrix of records or a frame (the model's input features).

        Parameters
        ----------
        data : dict, list of dict, DataFrame or pyarrow.Table
            Rows to transform.

        Returns
        -------
        ndarray of shape (n_rows, n_features_out)
        """
        if self._is_records(data):
            return self._record_matrix(data)
        return self.preprocessor.transform(self._table(data))

    def decision_function(self, data: Any) -> FloatArray:
        """Return the linear score: (n,) for regression/binary, (n, K) for multinomial.

        Parameters
        ----------
        data : dict, list of dict, DataFrame or pyarrow.Table
            Rows to score.

        Returns
        -------
        ndarray
        """
        eta: FloatArray
        if isinstance(data, Mapping) and self._is_records(data):
            # one record: the serving hot path, no matrix
            x, _ = self.preprocessor.transform_record(data)
            eta = (self.coef @ x + self.intercept)[None, :]
        elif self._is_records(data):
            eta = self._record_matrix(data) @ self.coef.T + self.intercept
        else:
            eta = self.preprocessor.linear_predictor(self._table(data), self.coef, self.intercept)
        return eta[:, 0] if self.task != "multinomial" else eta

    def predict_proba(self, data: Any) -> FloatArray:
        """Return class probabilities of shape (n, K) (calibrated when the model is).

        Parameters
        ----------
        data : dict, list of dict, DataFrame or pyarrow.Table
            Rows to score.

        Returns
        -------
        ndarray of shape (n_rows, n_classes)
        """
        if self.task == "regression":
            raise InvalidInputError(
                "predict_proba is for classifiers; this model does regression.",
                field="task",
                expected="binary or multinomial",
                got=self.task,
            )
        return self.proba_from_decision(self.decision_function(data))

    def score_table(self, table: pa.Table, *, refuse: Collection[str] = ()) -> ScoredTable:
        """Check ``table`` against the feature manifest, then score it unless a row is blocked.

        The one "validate, then score a table" of the server's batch path and
        of batch scoring: what blocks is the pipeline's own rule (missing
        column, wrong type, a null it does not impute) plus the violation
        kinds in ``refuse``; everything else is encoded as in training and
        left in :attr:`ScoredTable.counted`. Scores are computed with
        overflow ignored: callers refuse those rows through
        :meth:`check_scores`.

        Parameters
        ----------
        table : pyarrow.Table
            Rows to score; columns are matched by name.
        refuse : collection of str, default=()
            Further violation kinds that block: ``"unexpected_column"`` (then a
            column the manifest does not name is one), ``"out_of_range"``.

        Returns
        -------
        ScoredTable
        """
        pre = self.preprocessor
        data = coerce_table(table, pre.schema, allow_extra="unexpected_column" not in refuse)
        blocking = pre.blocking_violations(data)
        if refuse:
            blocking += [v for v in data.violations if v.kind in refuse]
        if blocking:
            return ScoredTable(data, blocking)
        with np.errstate(over="ignore", invalid="ignore"):
            decision = pre.linear_predictor(data, self.coef, self.intercept)
        return ScoredTable(data, blocking, decision)

    @staticmethod
    def check_scores(
        decision: FloatArray,
        *,
        scored: BoolArray | None = None,
        first_row: int = 0,
        source: str = "the input",
    ) -> None:
        """Raise :class:`~glmops.errors.ScoreOverflowError` if a row's linear score is not finite.

        A finite input far outside the training range (1e308 times a
        coefficient) overflows the score; such a row is refused, never
        answered with inf or NaN.

        Parameters
        ----------
        decision : ndarray of shape (n,) or (n, K)
            Linear scores.
        scored : ndarray of bool of shape (n,), optional
            The rows that were scored (default: all); the others are not checked.
        first_row : int, default=0
            Number of the first row (in the file, across chunks), for the error.
        source : str, default="the input"
            What the rows come from, for the message.
        """
        if decision.size <= _FEW_SCORES and all(map(math.isfinite, decision.flat)):
            return  # a request's few scores: plain floats beat three numpy calls
        finite: BoolArray = np.isfinite(decision)
        if finite.ndim == 2:
            finite = np.all(finite, axis=1)
        if scored is not None:
            finite |= ~scored
        if finite.all():
            return
        rows = (np.flatnonzero(~finite) + first_row).tolist()
        raise ScoreOverflowError(
            f"{len(rows)} row(s) of {source} cannot be scored, the first at row {rows[0]}: "
            "their linear score overflows (values far outside the training range).",
            violations=[
                {
                    "column": "(row)",
                    "kind": "out_of_range",
                    "expected": OVERFLOW_EXPECTED,
                    "n_rows": len(rows),
                    "example": rows[0],
                }
            ],
            rows=rows,
        )

    def proba_from_decision(self, decision: FloatArray) -> FloatArray:
        """Map decision values to probabilities (calibration map, sigmoid or softmax).

        ``decision`` is as :meth:`decision_function` returns it, or of shape
        (n, 1) for a binary model (the (n, K) scores of the serving paths).
        """
        if decision.ndim == 2 and decision.shape[1] == 1:
            decision = decision[:, 0]
        if self.calibration is not None:
            return self.calibration.predict_proba(decision)
        if decision.ndim == 1 and decision.shape[0] == 1:  # one row: plain floats, same values
            d = float(decision[0])
            one = 0.0 if d < -709.0 else 1.0 / (1.0 + math.exp(-d))
            return np.array([[1.0 - one, one]])
        if decision.ndim == 1:
            with np.errstate(over="ignore"):  # exp(-x) -> inf gives p = 0, as scipy's expit
                p1 = 1.0 / (1.0 + np.exp(-decision))
            return np.column_stack([1.0 - p1, p1])
        # softmax without scipy (whose import costs ~0.5 s on a serving process's start)
        shifted = np.exp(decision - decision.max(axis=1, keepdims=True))
        return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))

    def predict(self, data: Any) -> np.ndarray:
        """Return predicted values (regression) or labels (at the model's threshold).

        Parameters
        ----------
        data : dict, list of dict, DataFrame or pyarrow.Table
            Rows to score.

        Returns
        -------
        ndarray of shape (n_rows,)
        """
        decision = self.decision_function(data)
        if self.task == "regression":
            return decision
        return self.labels_from_proba(self.proba_from_decision(decision))

    @functools.cached_property
    def _class_array(self) -> np.ndarray:
        assert self.classes is not None
        return np.asarray(self.classes, dtype=object)

    def label_indices(self, proba: FloatArray) -> IntArray:
        """Return each row's index into ``classes``: the one owner of threshold -> label.

        Binary: the positive class when its probability is strictly above
        ``threshold`` (0.5 when unset); multinomial: the most probable class.
        """
        if self.task == "binary":
            cut = 0.5 if self.threshold is None else self.threshold
            return (proba[:, 1] > cut).astype(np.intp)
        return np.asarray(np.argmax(proba, axis=1), dtype=np.intp)

    def labels_from_proba(self, proba: FloatArray) -> np.ndarray:
        """Return the labels of class probabilities (see :meth:`label_indices`)."""
        return np.asarray(self._class_array[self.label_indices(proba)])

    def explain(self, data: Any) -> dict[str, Any]:
        """Return each input feature's contribution to the linear score.

        The contribution of a feature is the sum over its design-matrix
        columns of ``coef * x`` (standardized features: the contribution
        relative to the training mean). Contributions plus ``base`` (the
        intercept) equal the decision value exactly up to rounding.

        Parameters
        ----------
        data : dict, list of dict, DataFrame or pyarrow.Table
            Rows to explain.

        Returns
        -------
        dict
            ``features`` (input names), ``base`` (shape (K,)), ``contributions``
            (shape (n, n_features) or (n, K, n_features) for multinomial) and
            ``decision`` (as :meth:`decision_function`).
        """
        X = self.transform(data)
        steps = self.preprocessor.steps
        n, K = X.shape[0], self.coef.shape[0]
        contrib = np.zeros((n, K, len(steps)))
        j = 0
        for s, step in enumerate(steps):
            width = len(step.outputs)
            contrib[:, :, s] = X[:, j : j + width] @ self.coef[:, j : j + width].T
            j += width
        decision = contrib.sum(axis=2) + self.intercept
        single = self.task != "multinomial"
        return {
            "features": self.feature_names,
            "base": self.intercept.copy(),
            "contributions": contrib[:, 0, :] if single else contrib,
            "decision": decision[:, 0] if single else decision,
        }

    def validate(self, data: Any, *, allow_extra: bool = False) -> list[Violation]:
        """Return every violation of the feature manifest in ``data`` (empty when clean).

        Parameters
        ----------
        data : dict, list of dict, DataFrame or pyarrow.Table
            Rows to check.
        allow_extra : bool, default=False
            Whether columns the manifest does not name are allowed.

        Returns
        -------
        list of Violation
        """
        if self._is_records(data):
            data = as_table(_records_to_columns(self._records(data)))
        return self.preprocessor.schema.validate(as_table(data), allow_extra=allow_extra)

    # -- persistence ---------------------------------------------------------------

    def to_artifact(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Return (model.json content, arrays) describing this model."""
        arrays: dict[str, np.ndarray] = {
            "coef": np.ascontiguousarray(self.coef, dtype=np.float64),
            "intercept": np.ascontiguousarray(self.intercept, dtype=np.float64),
        }
        calibration = None
        if self.calibration is not None:
            calibration = {
                "method": self.calibration.method,
                "n_classes": self.calibration.n_classes,
                "n_params": len(self.calibration.params),
            }
            for i, param in enumerate(self.calibration.params):
                arrays[f"calibration_{i}"] = np.ascontiguousarray(param, dtype=np.float64)
        for key, value in self.arrays.items():
            arrays[f"extra_{key}"] = np.ascontiguousarray(value)
        model = {
            "format": "glmops-model",
            "format_version": MODEL_FORMAT_VERSION,
            "name": self.name,
            "task": self.task,
            "target": self.target,
            "classes": [_json_label(c) for c in self.classes] if self.classes else None,
            "threshold": self.threshold,
            "calibration": calibration,
            "feature_names_out": self.feature_names_out,
            "preprocessor": self.preprocessor.to_dict(),
            "metadata": self.metadata,
        }
        return model, arrays

    def content_digest(self) -> str:
        """Return the model digest this model's artifact has (computed, not written)."""
        from glmops.artifact import content_digest

        model, arrays = self.to_artifact()
        return content_digest(model, arrays)

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        extra_files: Mapping[str, bytes] | None = None,
        encrypt: bool = False,
        key: bytes | str | None = None,
        overwrite: bool = False,
    ) -> ArtifactInfo:
        """Write the model as a checksummed artifact directory (or ``.zip``).

        ``extra_files`` (report, model card, ``run.json`` with timings) are
        checksummed too; ``run.json`` and ``report.html`` are volatile: they do
        not change the model digest, so the same data and config give the
        same digest.

        Parameters
        ----------
        path : str or PathLike
            Target directory, or a file name ending in ``.zip``.
        extra_files : mapping of str to bytes, optional
            Further files to store (checksummed).
        encrypt : bool, default=False
            Encrypt with AES-256-GCM (key from ``key`` or ``GLMOPS_ARTIFACT_KEY``).
        key : bytes or str, optional
            The encryption key.
        overwrite : bool, default=False
            Replace an existing artifact at ``path`` (atomically).

        Returns
        -------
        ArtifactInfo
        """
        model, arrays = self.to_artifact()
        info = write_artifact(
            path,
            model,
            arrays,
            extra_files,
            volatile=("run.json", "report.html", "MODEL_CARD.md"),
            encrypt=encrypt,
            key=key,
            overwrite=overwrite,
        )
        self.digest = info.digest
        return info

    @classmethod
    def from_artifact(
        cls, model: Mapping[str, Any], arrays: Mapping[str, np.ndarray], *, source: str = ""
    ) -> Model:
        """Rebuild a model from :meth:`to_artifact` output."""
        if model.get("format") != "glmops-model":
            raise ArtifactError(
                f"{source}model.json is not a glmops model (format {model.get('format')!r}).",
                path="model.json",
            )
        version = model.get("format_version")
        if version != MODEL_FORMAT_VERSION:
            raise UnsupportedFormatVersion(
                f"{source}model.json has model format version {version!r}; this glmops reads "
                f"version {MODEL_FORMAT_VERSION}.",
                path="model.json",
            )
        calibration = None
        if model.get("calibration"):
            cal = model["calibration"]
            calibration = CalibrationMap(
                method=cal["method"],
                params=tuple(arrays[f"calibration_{i}"] for i in range(int(cal["n_params"]))),
                n_classes=int(cal["n_classes"]),
            )
        extras = {k[len("extra_") :]: v for k, v in arrays.items() if k.startswith("extra_")}
        return cls(
            name=model["name"],
            task=model["task"],
            preprocessor=Preprocessor.from_dict(model["preprocessor"]),
            coef=np.asarray(arrays["coef"], dtype=np.float64),
            intercept=np.asarray(arrays["intercept"], dtype=np.float64),
            target=model.get("target", ""),
            classes=model.get("classes"),
            threshold=model.get("threshold"),
            calibration=calibration,
            metadata=dict(model.get("metadata", {})),
            arrays=extras,
        )


def _records_to_columns(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    return {name: [r.get(name) for r in records] for name in names}


def load_model(path: str | os.PathLike[str], *, key: bytes | str | None = None) -> Model:
    """Load a model artifact after verifying every file's SHA-256.

    Refuses (with an error naming the file) a tampered, truncated or
    unknown-version artifact; never unpickles or executes anything.

    Parameters
    ----------
    path : str or PathLike
        Artifact directory or ``.zip``.
    key : bytes or str, optional
        Decryption key for encrypted artifacts (default: ``GLMOPS_ARTIFACT_KEY``).

    Returns
    -------
    Model
    """
    loaded = read_artifact(path, key=key)
    model = Model.from_artifact(loaded.model, loaded.arrays, source=f"{Path(path)}: ")
    model.digest = loaded.digest
    return model
