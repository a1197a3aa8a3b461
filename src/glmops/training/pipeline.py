"""``glmops train``: from a config to a validated, evaluated, reproducible artifact.

read -> validate -> split -> fit preprocessing on the training rows -> CV
over alpha x l1_ratio -> refit -> holdout evaluation (through the saved
pipeline, exactly as serving will score) -> stability -> artifact + report.
The same config and data give the same model digest: every random choice is
seeded from the config, and timings live in ``run.json``, outside the digest.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import logging
import platform
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from glmops._redact import redact, redact_url
from glmops._typing import FloatArray, IntArray
from glmops.artifact import ArtifactInfo
from glmops.config import GlmopsConfig, ModelConfig, config_hash, load_config
from glmops.data.fingerprint import table_fingerprint
from glmops.data.fitting import fit_preprocessor
from glmops.data.preprocessing import Preprocessor
from glmops.data.profile import build_profile, score_profile
from glmops.data.readers import read_table
from glmops.data.schema import CoercedTable, Schema, coerce_table, infer_schema, kind_of_type
from glmops.data.spec import FeatureSpec, ResolvedFeature, resolve_feature
from glmops.data.split import Split, make_split
from glmops.errors import DataLeakageWarning, InvalidInputError
from glmops.evaluation.evaluate import Evaluation, evaluate
from glmops.evaluation.stability import model_health
from glmops.model import Model
from glmops.training.diagnostics import (
    cv_summary,
    fold_coefficients,
    original_scale,
    regularization_path,
    stability,
    training_scores,
)
from glmops.training.estimator import FitData, estimator_for, fit_labels

__all__ = ["TrainProgress", "TrainResult", "train", "train_model"]

logger = logging.getLogger(__name__)

#: ``progress(stage, done, total)``; stages: read, validate, preprocess, cv,
#: evaluate, stability, save.
TrainProgress = Callable[[str, int, int], None]


@dataclass
class TrainResult:
    """What a training run produced."""

    name: str
    model: Model
    artifact: ArtifactInfo | None
    artifact_path: Path | None
    report_path: Path | None
    metrics: dict[str, Any]
    timings: dict[str, float]
    warnings: list[str] = field(default_factory=list)


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - start, 4)


def _noop(stage: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class _RunInputs:
    """What one training run is given; fixed for all its stages."""

    name: str
    spec: ModelConfig
    base_dir: Path
    output_dir: Path | None
    report: TrainProgress
    write_report: bool
    zip_artifact: bool
    encrypt: bool
    started: _dt.datetime


@dataclass(frozen=True)
class _Prepared:
    """The validate stage's output: the rows with a target, checked and split."""

    table: pa.Table  # rows with a target value
    n_dropped: int  # rows left out for having none
    y: np.ndarray  # target of ``table``'s rows
    weights: FloatArray | None  # of ``table``'s rows
    classes: list[Any] | None
    positive: Any
    names: list[str]  # input features
    split: Split
    schema: Schema
    data: CoercedTable  # ``table``'s features in canonical form
    train_data: CoercedTable
    fingerprint: str
    notes: tuple[str, ...]

    @property
    def y_train(self) -> np.ndarray:
        """Return the training rows' target."""
        return self.y[self.split.train]

    @property
    def w_train(self) -> FloatArray | None:
        """Return the training rows' weights."""
        return None if self.weights is None else self.weights[self.split.train]


@dataclass(frozen=True)
class _Scores:
    """The evaluate stage's output: metrics on both sides of the split."""

    train: Evaluation
    holdout: Evaluation
    health: dict[str, Any]

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        """Return ``{"train": ..., "holdout": ...}`` as the artifact records it."""
        return {"train": self.train.metrics, "holdout": self.holdout.metrics}


@dataclass(frozen=True)
class _Saved:
    """The save stage's output (all None when nothing was written)."""

    info: ArtifactInfo | None
    path: Path | None
    report_path: Path | None


# -- target ----------------------------------------------------------------------------


def _target_values(table: pa.Table, model: ModelConfig) -> tuple[np.ndarray, np.ndarray]:
    """Return (y as numpy, mask of rows with a target); errors name the target column."""
    if model.target not in table.column_names:
        raise InvalidInputError(
            f"The data has no target column {model.target!r}; columns: {table.column_names}.",
            field="target",
            expected="an existing column",
            got=model.target,
        )
    column = table.column(model.target).combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    present = np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False))
    if model.task == "regression":
        kind = kind_of_type(column.type)
        if kind not in ("numeric", "boolean"):
            raise InvalidInputError(
                f"Target {model.target!r} has type {column.type}; regression needs numbers.",
                field="target",
                expected="a numeric column",
                got=str(column.type),
            )
        y = np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), float)
        present &= ~np.isnan(y)
    else:
        y = np.asarray(column.to_pylist(), dtype=object)
    return y, present


def _check_target(y: np.ndarray, model: ModelConfig) -> tuple[list[Any] | None, Any]:
    """Return (classes, positive class) and refuse targets the task cannot learn."""
    if model.task == "regression":
        if np.ptp(y) == 0:
            raise InvalidInputError(
                f"Target {model.target!r} is constant ({float(y[0])!r}); there is nothing to "
                "learn.",
                field="target",
                expected="a target with at least two distinct values",
                got=float(y[0]),
            )
        return None, None
    classes = sorted(set(y.tolist()), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise InvalidInputError(
            f"Target {model.target!r} has one class only ({classes[0]!r}); a classifier "
            "needs at least two.",
            field="target",
            expected="at least two classes",
            got=classes,
        )
    if model.task == "binary":
        if len(classes) > 2:
            raise InvalidInputError(
                f"Target {model.target!r} has {len(classes)} classes; task 'binary' needs "
                "exactly two (use task: multinomial).",
                field="task",
                expected="two classes",
                got=classes[:10],
            )
        positive = model.positive_class
        if positive is None:
            positive = classes[1]
        else:
            match = [c for c in classes if str(c) == str(positive)]
            if not match:
                raise InvalidInputError(
                    f"positive_class {positive!r} is not a class of {model.target!r}; "
                    f"classes: {classes}.",
                    field="positive_class",
                    expected=f"one of {classes}",
                    got=positive,
                )
            positive = match[0]
        negative = next(c for c in classes if c != positive)
        return [negative, positive], positive
    if len(classes) == 2:
        raise InvalidInputError(
            f"Target {model.target!r} has two classes; use task: binary.",
            field="task",
            expected="three or more classes for multinomial",
            got=classes,
        )
    return classes, None


# -- features ----------------------------------------------------------------------------


def _feature_names(table: pa.Table, model: ModelConfig) -> list[str]:
    if model.features:
        missing = [f for f in model.features if f not in table.column_names]
        if missing:
            raise InvalidInputError(
                f"Feature column(s) {missing} are not in the data; it has {table.column_names}.",
                field=f"features.{missing[0]}",
                expected="a column of the data",
                got=None,
            )
        return list(model.features)
    reserved = {model.target, model.data.weight, model.split.time_column, model.split.group_column}
    return [c for c in table.column_names if c not in reserved and c not in set(model.exclude)]


def _weights(table: pa.Table, model: ModelConfig) -> FloatArray | None:
    name = model.data.weight
    if name is None:
        return None
    if name not in table.column_names:
        raise InvalidInputError(
            f"The weight column {name!r} is not in the data.",
            field="data.weight",
            expected="an existing numeric column",
            got=name,
        )
    w = np.asarray(
        pc.cast(table.column(name), pa.float64()).to_numpy(zero_copy_only=False), dtype=float
    )
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"Weight column {name!r} has {int(bad.sum())} null, negative or infinite value(s) "
            f"(row {i}: {float(w[i])!r}).",
            field="data.weight",
            expected="finite non-negative weights",
            got=float(w[i]),
        )
    return w


def _leakage_warnings(data: CoercedTable, y: np.ndarray, model: ModelConfig) -> list[str]:
    """Warn about features that reproduce the target (identical or perfectly correlated)."""
    messages = []
    y_text = np.asarray([str(v) for v in y]) if y.dtype == object else None
    for name, x in data.numeric.items():
        ok = ~np.isnan(x)
        if ok.sum() < 3:
            continue
        target = (y[ok] == y[ok][0]).astype(float) if y.dtype == object else y[ok].astype(float)
        xs = x[ok]
        if np.ptp(xs) == 0 or np.ptp(target) == 0:
            continue
        r = float(np.corrcoef(xs, target)[0, 1])
        if abs(r) > 0.999:
            messages.append(
                f"Feature {name!r} is almost perfectly correlated with the target "
                f"{model.target!r} (r = {r:.4f}): probably a leak of the label."
            )
    if y_text is not None:
        for name, strings in data.categorical.items():
            values = np.asarray(strings.to_pylist(), dtype=object)
            if np.array_equal(values.astype(str), y_text):
                messages.append(
                    f"Feature {name!r} is identical to the target {model.target!r}: "
                    "a leak of the label."
                )
    for message in messages:
        warnings.warn(message, DataLeakageWarning, stacklevel=3)
    return messages


def _schema(
    table: pa.Table, names: list[str], model: ModelConfig, target: str, w: FloatArray | None
) -> Schema:
    specs = model.features or {}
    kinds = {n: s.kind for n, s in specs.items() if s.kind is not None}
    overrides: dict[str, dict[str, Any]] = {}
    for n, s in specs.items():
        fixed: dict[str, Any] = {}
        if s.nullable is not None:
            fixed["nullable"] = s.nullable
        if s.categories is not None:
            fixed["categories"] = s.categories
        if s.range is not None:
            fixed["minimum"], fixed["maximum"] = float(s.range[0]), float(s.range[1])
        if fixed:
            overrides[n] = fixed
    return infer_schema(
        table, target=target, features=names, kinds=kinds, overrides=overrides, sample_weight=w
    )


def _resolved(schema: Schema, model: ModelConfig) -> dict[str, ResolvedFeature]:
    specs = model.features or {}
    out = {}
    for col in schema.columns:
        spec = specs.get(col.name) or FeatureSpec()
        if not col.nullable:
            spec = spec.model_copy(update={"nullable": False})
        out[col.name] = resolve_feature(
            col.name,
            col.kind,
            spec,
            model.preprocessing,
            n_categories=len(col.categories) if col.categories is not None else None,
        )
    return out


# -- split --------------------------------------------------------------------------------


def _subset(data: CoercedTable, rows: IntArray) -> CoercedTable:
    index = pa.array(rows)
    return CoercedTable(
        n_rows=len(rows),
        numeric={k: v[rows] for k, v in data.numeric.items()},
        categorical={k: v.take(index) for k, v in data.categorical.items()},
        violations=[],
    )


# -- lineage ------------------------------------------------------------------------------


def _redacted_config(spec: ModelConfig) -> dict[str, Any]:
    """Return the config as JSON for the lineage, without credentials of any kind."""
    redacted: dict[str, Any] = redact(spec.model_dump(mode="json"))
    return redacted


def _package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("glmops", "numpy", "scipy", "numba", "scikit-learn", "pyarrow", "pydantic"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out


def _git_revision(where: Path) -> dict[str, Any] | None:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return {"revision": rev.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def _json_ready(value: Any) -> Any:
    """Return ``value`` with numpy types as Python ones and NaN/inf as None."""
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# -- the run -------------------------------------------------------------------------------


def train(
    config: GlmopsConfig | str | Path,
    *,
    model: str | None = None,
    output_dir: str | Path | None = None,
    progress: TrainProgress | None = None,
    write_report: bool = True,
    zip_artifact: bool = False,
    encrypt: bool = False,
) -> TrainResult:
    """Train the model named ``model`` from ``config`` (a :class:`GlmopsConfig` or a path).

    Parameters
    ----------
    config : GlmopsConfig, str or Path
        The config, or the path of ``glmops.yaml``.
    model : str, optional
        Which model of the config; required when it defines several.
    output_dir : str or Path, optional
        Where the artifact directory goes (default: the config's
        ``output_dir``); the artifact is ``<output_dir>/<model name>``.
    progress : callable, optional
        ``progress(stage, done, total)``.
    write_report : bool, default=True
        Also write ``report.html`` and ``MODEL_CARD.md`` into the artifact.
    zip_artifact : bool, default=False
        Write ``<output_dir>/<name>.zip`` instead of a directory.
    encrypt : bool, default=False
        Encrypt the artifact's files (AES-256-GCM, key from ``GLMOPS_ARTIFACT_KEY``).

    Returns
    -------
    TrainResult
    """
    cfg = load_config(config) if isinstance(config, str | Path) else config
    name, spec = cfg.model(model)
    out = Path(output_dir) if output_dir is not None else cfg.resolve(cfg.output_dir)
    return train_model(
        name,
        spec,
        base_dir=cfg.base_dir,
        output_dir=out,
        progress=progress,
        write_report=write_report,
        zip_artifact=zip_artifact,
        encrypt=encrypt,
    )


def train_model(
    name: str,
    spec: ModelConfig,
    *,
    base_dir: Path,
    output_dir: Path | None,
    progress: TrainProgress | None = None,
    write_report: bool = True,
    data: Any = None,
    zip_artifact: bool = False,
    encrypt: bool = False,
) -> TrainResult:
    """Train one model config; see :func:`train`. ``data`` overrides the config's source."""
    run = _RunInputs(
        name=name,
        spec=spec,
        base_dir=base_dir,
        output_dir=output_dir,
        report=progress or _noop,
        write_report=write_report,
        zip_artifact=zip_artifact,
        encrypt=encrypt,
        started=_dt.datetime.now(_dt.UTC),
    )
    timer = _Timer()
    with timer.stage("read"):
        table = _read(run, data)
    with timer.stage("validate"):
        prep = _validate(run, table)
    with timer.stage("preprocess"):
        pre, X_train = _preprocess(run, prep)
    with timer.stage("cv"):
        estimator, fit = _cross_validate(run, prep, X_train)
    trained = _trained_model(run, prep, pre, estimator)
    with timer.stage("evaluate"):
        scores = _evaluate(run, trained, prep)
    with timer.stage("stability"):
        stability_info = _stability(run, trained, fit, estimator)
    trained.metadata = _metadata(run, prep, trained, estimator, scores, stability_info)
    finished = _dt.datetime.now(_dt.UTC)
    saved = _Saved(None, None, None)
    skipped = _report_skipped() if write_report and output_dir is not None else None
    with timer.stage("save"):
        if output_dir is not None:
            run.report("save", 0, 1)
            pages = (
                _report_files(run, trained, scores, fit, estimator, html=skipped is None)
                if write_report
                else {}
            )
            saved = _save(run, trained, pages, timer.timings, finished)
    return TrainResult(
        name=name,
        model=trained,
        artifact=saved.info,
        artifact_path=saved.path,
        report_path=saved.report_path,
        metrics=trained.metadata["metrics"],
        timings=timer.timings,
        warnings=[*prep.notes, *([skipped] if skipped else [])],
    )


def _read(run: _RunInputs, data: Any) -> pa.Table:
    """Return the rows: ``data`` when given, else the config's file or query."""
    run.report("read", 0, 1)
    source = run.spec.data
    if data is not None:
        table = read_table(data)
    elif source.path is not None:
        path = Path(source.path).expanduser()
        table = read_table(path if path.is_absolute() else (run.base_dir / path).resolve())
    else:
        assert source.url is not None  # the config requires a path or a url
        table = read_table(source.url, query=source.query)
    run.report("read", 1, 1)
    return table


def _validate(run: _RunInputs, table: pa.Table) -> _Prepared:
    """Check the target, weights and features, split the rows and infer the schema."""
    run.report("validate", 0, 1)
    spec = run.spec
    table, y, n_dropped = _rows_with_target(table, spec)
    classes, positive = _check_target(y, spec)
    weights = _weights(table, spec)
    names = _feature_names(table, spec)
    split = make_split(
        table,
        y,
        task=spec.task,
        method=spec.split.method,
        test_size=spec.split.test_size,
        n_folds=spec.cv.n_folds,
        seed=spec.seed,
        weights=weights,
        time_column=spec.split.time_column,
        group_column=spec.split.group_column,
    )
    w_train = None if weights is None else weights[split.train]
    schema = _schema(table.take(pa.array(split.train)), names, spec, spec.target, w_train)
    data = coerce_table(table.select(names), schema)
    data.raise_for(("missing_column", "wrong_type"))
    train_data = _subset(data, split.train)
    notes = [f"{n_dropped} row(s) without a target value were left out."] if n_dropped else []
    notes.extend(_leakage_warnings(train_data, y[split.train], spec))
    run.report("validate", 1, 1)
    return _Prepared(
        table=table,
        n_dropped=n_dropped,
        y=y,
        weights=weights,
        classes=classes,
        positive=positive,
        names=names,
        split=split,
        schema=schema,
        data=data,
        train_data=train_data,
        fingerprint=_fingerprint(table, names, spec),
        notes=tuple(notes),
    )


def _rows_with_target(table: pa.Table, spec: ModelConfig) -> tuple[pa.Table, np.ndarray, int]:
    """Return (rows with a target, their target, rows left out); refuse too few rows."""
    y, has_target = _target_values(table, spec)
    n_dropped = int((~has_target).sum())
    if n_dropped:
        table = table.filter(pa.array(has_target))
        y = y[has_target]
    n_folds = spec.cv.n_folds
    if table.num_rows < 2 * n_folds:
        raise InvalidInputError(
            f"Only {table.num_rows} row(s) with a target; need at least "
            f"{2 * n_folds} for {n_folds}-fold CV and a holdout.",
            field="data",
            expected=f">= {2 * n_folds} rows",
            got=table.num_rows,
        )
    return table, y, n_dropped


def _fingerprint(table: pa.Table, names: list[str], spec: ModelConfig) -> str:
    """Return the fingerprint of the columns training read (features, target, lineage)."""
    lineage_columns = [
        c
        for c in (spec.data.weight, spec.split.time_column, spec.split.group_column)
        if c is not None and c not in names
    ]
    return table_fingerprint(table.select([*names, spec.target, *lineage_columns]))


def _preprocess(run: _RunInputs, prep: _Prepared) -> tuple[Preprocessor, FloatArray]:
    """Fit the preprocessing on the training rows; return it and their design matrix."""
    run.report("preprocess", 0, 1)
    pre, X_train = fit_preprocessor(
        prep.train_data,
        prep.schema,
        _resolved(prep.schema, run.spec),
        y=prep.y_train,
        target_kind=run.spec.task,
        classes=prep.classes,
        positive=prep.positive,
        sample_weight=prep.w_train,
        folds=prep.split.folds,
    )
    run.report("preprocess", 1, 1)
    return pre, X_train


def _cross_validate(run: _RunInputs, prep: _Prepared, X: FloatArray) -> tuple[Any, FitData]:
    """Cross-validate the config's grid and refit at the chosen point."""
    fit = FitData(
        X=X,
        y=fit_labels(prep.y_train, run.spec, prep.positive),
        sample_weight=prep.w_train,
        folds=prep.split.folds,
        classes=prep.classes,
    )
    estimator = estimator_for(run.spec, fit.classes, cv=fit.folds)
    estimator.fit(
        fit.X, fit.y, sample_weight=fit.sample_weight, progress=lambda d, t: run.report("cv", d, t)
    )
    return estimator, fit


def _trained_model(run: _RunInputs, prep: _Prepared, pre: Preprocessor, estimator: Any) -> Model:
    """Return the fitted pipeline and coefficients as a :class:`Model` (no metadata yet)."""
    task = run.spec.task
    return Model(
        name=run.name,
        task=task,
        preprocessor=pre,
        coef=np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64)),
        intercept=np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64)),
        target=run.spec.target,
        classes=prep.classes,
        threshold=float(estimator.threshold_) if task == "binary" else None,
        calibration=getattr(estimator, "calibration_", None),
    )


def _evaluate(run: _RunInputs, model: Model, prep: _Prepared) -> _Scores:
    """Score both sides of the split through the model's pipeline, as serving will."""
    run.report("evaluate", 0, 1)
    weight = run.spec.data.weight
    sides = [
        evaluate(model, prep.table.take(pa.array(rows)), weight=weight)
        for rows in (prep.split.train, prep.split.holdout)
    ]
    health = model_health(sides[0].metrics, sides[1].metrics, model.coef, task=model.task)
    run.report("evaluate", 1, 1)
    return _Scores(train=sides[0], holdout=sides[1], health=health)


def _stability(run: _RunInputs, model: Model, fit: FitData, estimator: Any) -> dict[str, Any]:
    """Refit on each fold (and bootstrap resample) at the chosen penalty."""
    alpha, l1_ratio = float(estimator.alpha_), float(estimator.l1_ratio_)
    fold_coefs = fold_coefficients(fit, run.spec, alpha, l1_ratio)
    run.report("stability", 1, 2)
    info = stability(model, fold_coefs, fit, run.spec, estimator)
    run.report("stability", 2, 2)
    return info


def _lineage(run: _RunInputs, prep: _Prepared) -> dict[str, Any]:
    """Return where the model came from: data, config, packages, code revision, seed."""
    spec = run.spec
    return {
        "data_fingerprint": prep.fingerprint,
        "data_source": spec.data.path or redact_url(spec.data.url or ""),
        "n_rows": {
            "read": prep.table.num_rows + prep.n_dropped,
            "used": prep.table.num_rows,
            "train": len(prep.split.train),
            "holdout": len(prep.split.holdout),
            "dropped_no_target": prep.n_dropped,
        },
        "config": _redacted_config(spec),
        "config_hash": config_hash(spec),
        "packages": _package_versions(),
        "git": _git_revision(run.base_dir),
        "seed": spec.seed,
    }


def _metadata(
    run: _RunInputs,
    prep: _Prepared,
    model: Model,
    estimator: Any,
    scores: _Scores,
    stability_info: dict[str, Any],
) -> dict[str, Any]:
    """Return the model's metadata (part of its digest), JSON-ready."""
    spec = run.spec
    original = original_scale(model.preprocessor, model.coef, model.intercept)
    train_scores = training_scores(model, prep.train_data)
    blocking = ("missing_column", "wrong_type")
    metadata: dict[str, Any] = _json_ready(
        {
            "hyperparameters": {
                "alpha": float(estimator.alpha_),
                "l1_ratio": float(estimator.l1_ratio_),
                "threshold": model.threshold,
                "calibration": spec.calibration,
                "class_weight": spec.class_weight,
            },
            "positive_class": prep.positive,
            "cv": cv_summary(estimator, spec),
            "metrics": scores.metrics,
            "health": scores.health,
            "stability": stability_info,
            "coefficients": {
                "names": model.feature_names_out,
                "standardized": model.coef,
                "original": original["coef"],
                "intercept_original": original["intercept"],
            },
            "profile": {
                **build_profile(prep.train_data, prep.schema, sample_weight=prep.w_train),
                "score": score_profile(train_scores, sample_weight=prep.w_train),
            },
            "schema_violations_in_training_data": [
                v.to_dict() for v in prep.data.violations if v.kind not in blocking
            ],
            "lineage": _lineage(run, prep),
            "notes": list(prep.notes),
            "description": spec.description,
            "intended_use": spec.intended_use,
        }
    )
    return metadata


def _save(
    run: _RunInputs,
    model: Model,
    pages: dict[str, bytes],
    timings: dict[str, float],
    finished: _dt.datetime,
) -> _Saved:
    """Write the artifact, with ``pages`` and ``run.json``, under ``output_dir``."""
    assert run.output_dir is not None  # the caller saves only when there is a place
    extra = dict(pages)
    record = {
        "started_at": run.started.isoformat(),
        "finished_at": finished.isoformat(),
        "timings_s": timings,
        "host": platform.node(),
        "user": _user(),
    }
    extra["run.json"] = json.dumps(record, indent=2, sort_keys=True).encode()
    path = run.output_dir / (f"{run.name}.zip" if run.zip_artifact else run.name)
    run.output_dir.mkdir(parents=True, exist_ok=True)
    info = model.save(path, extra_files=extra, overwrite=True, encrypt=run.encrypt)
    has_page = "report.html" in pages and not run.zip_artifact and not run.encrypt
    run.report("save", 1, 1)
    return _Saved(info, path, path / "report.html" if has_page else None)


def _report_files(
    run: _RunInputs,
    model: Model,
    scores: _Scores,
    fit: FitData,
    estimator: Any,
    *,
    html: bool = True,
) -> dict[str, bytes]:
    """Return ``MODEL_CARD.md`` and (``html``: the report extra is installed) ``report.html``."""
    from glmops.evaluation.model_report import model_card_for, report_for

    if not html:
        model.digest = model.content_digest()  # quoted by the card
        return {"MODEL_CARD.md": model_card_for(model).encode()}
    path_data = regularization_path(model, fit, run.spec, estimator)
    model.digest = model.content_digest()  # quoted by the report and card
    card = model_card_for(model)
    page = report_for(
        model,
        metrics=scores.metrics,
        scored=scores.holdout,
        path=path_data,
        model_card=card,
        created=run.started.strftime("%Y-%m-%d %H:%M UTC"),
    )
    return {"MODEL_CARD.md": card.encode(), "report.html": page.encode()}


def _report_skipped() -> str | None:
    """Return why report.html cannot be drawn here, or None when it can.

    Training writes report.html by default; on a lean install (no ``report``
    extra, so no matplotlib) the model is still trained and saved with its
    MODEL_CARD.md, and the skipped report is logged and returned as a warning
    (never written into the artifact, whose digest must not depend on extras).
    """
    from glmops._extras import has_extra

    if has_extra("report"):
        return None
    note = (
        "report.html skipped: the HTML report needs the 'report' extra: "
        "pip install 'glmops[report]'"
    )
    logger.warning(note)
    return note


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
