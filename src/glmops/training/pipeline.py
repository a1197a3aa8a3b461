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

from glmops._typing import FloatArray, IntArray
from glmops.artifact import ArtifactInfo
from glmops.config import GlmopsConfig, ModelConfig, config_hash, load_config
from glmops.data.fingerprint import table_fingerprint
from glmops.data.fitting import fit_preprocessor
from glmops.data.profile import build_profile, score_profile
from glmops.data.readers import read_table
from glmops.data.schema import CoercedTable, Schema, coerce_table, infer_schema, kind_of_type
from glmops.data.spec import FeatureSpec, ResolvedFeature, resolve_feature
from glmops.data.split import make_split
from glmops.errors import ConfigError, DataLeakageWarning, InvalidInputError
from glmops.model import Model
from glmops.training.diagnostics import (
    cv_summary,
    evaluate_splits,
    fold_coefficients,
    n_jobs,
    original_scale,
    regularization_path,
    stability,
    training_scores,
)

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


# -- fitting ------------------------------------------------------------------------------


def _estimator(
    model: ModelConfig, folds: list[tuple[IntArray, IntArray]], class_weight: Any
) -> Any:
    from glmops.estimators.elastic_net import ElasticNetCV
    from glmops.estimators.logistic import LogisticRegressionCV

    cv = model.cv
    common: dict[str, Any] = {
        "alphas": cv.alphas,
        "n_alphas": cv.n_alphas,
        "eps": cv.eps,
        "l1_ratio": list(cv.l1_ratio),
        "cv": folds,
        "selection": cv.selection,
        "tol": cv.tol,
        "n_jobs": n_jobs(model),
    }
    if model.task == "regression":
        return ElasticNetCV(**common)
    threshold: Any = 0.5
    target = None
    if model.task == "binary":
        policy = model.threshold.policy
        threshold = model.threshold.value if policy == "fixed" else policy
        target = model.threshold.target
    return LogisticRegressionCV(
        **common,
        scoring=cv.scoring or "neg_log_loss",
        class_weight=class_weight,
        threshold=threshold,
        threshold_target=target,
        calibration=model.calibration,
        max_iter=200,
    )


def _labels_for_fit(y: np.ndarray, model: ModelConfig, positive: Any) -> np.ndarray:
    if model.task == "binary":
        return np.asarray(y == positive, dtype=np.int64)
    return y


def _fit_class_weight(model: ModelConfig, classes: list[Any] | None) -> Any:
    cw = model.class_weight
    if cw is None or cw == "balanced":
        return cw
    assert classes is not None
    mapping = {str(c): c for c in classes}
    unknown = [k for k in cw if k not in mapping]
    if unknown:
        raise ConfigError(
            f"class_weight names unknown class(es) {unknown}; classes: {classes}.",
            path="class_weight",
        )
    if model.task == "binary":
        return {int(mapping[k] == classes[1]): float(v) for k, v in cw.items()}
    return {mapping[k]: float(v) for k, v in cw.items()}


def redact_url(url: str) -> str:
    """Return a database URL with its password replaced by ``***``."""
    try:
        from sqlalchemy.engine import make_url

        return str(make_url(url).render_as_string(hide_password=True))
    except Exception:  # not a URL SQLAlchemy knows: drop anything before '@'
        return url.split("@")[-1]


def _redacted_config(spec: ModelConfig) -> dict[str, Any]:
    """Return the config as JSON for the lineage, without database credentials."""
    dumped = spec.model_dump(mode="json")
    if dumped["data"].get("url"):
        dumped["data"]["url"] = redact_url(dumped["data"]["url"])
    return dumped


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
    report = progress or _noop
    timer = _Timer()
    notes: list[str] = []
    started = _dt.datetime.now(_dt.UTC)

    with timer.stage("read"):
        report("read", 0, 1)
        if data is not None:
            table = read_table(data)
        elif spec.data.path is not None:
            path = Path(spec.data.path).expanduser()
            table = read_table(path if path.is_absolute() else (base_dir / path).resolve())
        else:
            assert spec.data.url is not None
            table = read_table(spec.data.url, query=spec.data.query)
        report("read", 1, 1)

    with timer.stage("validate"):
        report("validate", 0, 1)
        y_all, has_target = _target_values(table, spec)
        n_dropped = int((~has_target).sum())
        if n_dropped:
            notes.append(f"{n_dropped} row(s) without a target value were left out.")
            table = table.filter(pa.array(has_target))
            y_all = y_all[has_target]
        if table.num_rows < 2 * spec.cv.n_folds:
            raise InvalidInputError(
                f"Only {table.num_rows} row(s) with a target; need at least "
                f"{2 * spec.cv.n_folds} for {spec.cv.n_folds}-fold CV and a holdout.",
                field="data",
                expected=f">= {2 * spec.cv.n_folds} rows",
                got=table.num_rows,
            )
        classes, positive = _check_target(y_all, spec)
        w_all = _weights(table, spec)
        names = _feature_names(table, spec)
        split = make_split(
            table,
            y_all,
            task=spec.task,
            method=spec.split.method,
            test_size=spec.split.test_size,
            n_folds=spec.cv.n_folds,
            seed=spec.seed,
            weights=w_all,
            time_column=spec.split.time_column,
            group_column=spec.split.group_column,
        )
        train_table = table.take(pa.array(split.train))
        w_train = None if w_all is None else w_all[split.train]
        schema = _schema(train_table, names, spec, spec.target, w_train)
        data_all = coerce_table(table.select(names), schema)
        data_all.raise_for(("missing_column", "wrong_type"))
        train_data = _subset(data_all, split.train)
        holdout_data = _subset(data_all, split.holdout)
        y_train, y_holdout = y_all[split.train], y_all[split.holdout]
        leaks = _leakage_warnings(train_data, y_train, spec)
        notes.extend(leaks)
        lineage_columns = [
            c
            for c in (spec.data.weight, spec.split.time_column, spec.split.group_column)
            if c is not None and c not in names
        ]
        fingerprint = table_fingerprint(table.select([*names, spec.target, *lineage_columns]))
        report("validate", 1, 1)

    with timer.stage("preprocess"):
        report("preprocess", 0, 1)
        features = _resolved(schema, spec)
        pre, X_train = fit_preprocessor(
            train_data,
            schema,
            features,
            y=y_train,
            target_kind=spec.task,
            classes=classes,
            positive=positive,
            sample_weight=w_train,
            folds=split.folds,
        )
        report("preprocess", 1, 1)

    y_fit = _labels_for_fit(y_train, spec, positive)
    class_weight = _fit_class_weight(spec, classes)
    with timer.stage("cv"):
        estimator = _estimator(spec, split.folds, class_weight)
        estimator.fit(
            X_train, y_fit, sample_weight=w_train, progress=lambda d, t: report("cv", d, t)
        )

    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64))
    trained = Model(
        name=name,
        task=spec.task,
        preprocessor=pre,
        coef=coef,
        intercept=intercept,
        target=spec.target,
        classes=classes,
        threshold=float(estimator.threshold_) if spec.task == "binary" else None,
        calibration=getattr(estimator, "calibration_", None),
    )

    with timer.stage("evaluate"):
        report("evaluate", 0, 1)
        evaluation = evaluate_splits(
            trained, train_data, holdout_data, y_train, y_holdout, w_all, split
        )
        report("evaluate", 1, 1)

    with timer.stage("stability"):
        fold_coefs = fold_coefficients(
            X_train,
            y_fit,
            w_train,
            split.folds,
            spec,
            float(estimator.alpha_),
            float(estimator.l1_ratio_),
            class_weight,
        )
        report("stability", 1, 2)
        stability_info = stability(trained, fold_coefs, X_train, y_fit, w_train, spec, estimator)
        report("stability", 2, 2)

    path_data = regularization_path(trained, X_train, y_fit, w_train, spec, estimator, class_weight)
    original = original_scale(pre, coef, intercept)
    cv_info = cv_summary(estimator, spec)
    train_scores = training_scores(trained, train_data)
    lineage = {
        "data_fingerprint": fingerprint,
        "data_source": spec.data.path or redact_url(spec.data.url or ""),
        "n_rows": {
            "read": table.num_rows + n_dropped,
            "used": table.num_rows,
            "train": len(split.train),
            "holdout": len(split.holdout),
            "dropped_no_target": n_dropped,
        },
        "config": _redacted_config(spec),
        "config_hash": config_hash(spec),
        "packages": _package_versions(),
        "git": _git_revision(base_dir),
        "seed": spec.seed,
    }
    metadata = _json_ready(
        {
            "hyperparameters": {
                "alpha": float(estimator.alpha_),
                "l1_ratio": float(estimator.l1_ratio_),
                "threshold": trained.threshold,
                "calibration": spec.calibration,
                "class_weight": spec.class_weight,
            },
            "positive_class": positive,
            "cv": cv_info,
            "metrics": evaluation["metrics"],
            "health": evaluation["health"],
            "stability": stability_info,
            "coefficients": {
                "names": trained.feature_names_out,
                "standardized": coef,
                "original": original["coef"],
                "intercept_original": original["intercept"],
            },
            "profile": {
                **build_profile(train_data, schema, sample_weight=w_train),
                "score": score_profile(train_scores, sample_weight=w_train),
            },
            "schema_violations_in_training_data": [
                v.to_dict()
                for v in data_all.violations
                if v.kind not in ("missing_column", "wrong_type")
            ],
            "lineage": lineage,
            "notes": notes,
            "description": spec.description,
            "intended_use": spec.intended_use,
        }
    )
    trained.metadata = metadata
    finished = _dt.datetime.now(_dt.UTC)

    artifact_info = None
    artifact_path = None
    report_path = None
    warned: list[str] = []
    with timer.stage("save"):
        if output_dir is not None:
            report("save", 0, 1)
            extra: dict[str, bytes] = {}
            card = None
            skipped = _report_skipped() if write_report else None
            html_report = write_report and skipped is None
            if skipped:
                warned.append(skipped)
            if write_report:
                from glmops.evaluation.model_report import model_card_for, report_for

                trained.digest = trained.content_digest()  # quoted by the report and card

                card = model_card_for(trained)
                extra["MODEL_CARD.md"] = card.encode()
            if html_report:
                html = report_for(
                    trained,
                    evaluation=evaluation,
                    path=path_data,
                    estimator=estimator,
                    fold_coefs=fold_coefs,
                    model_card=card,
                    created=started.strftime("%Y-%m-%d %H:%M UTC"),
                )
                extra["report.html"] = html.encode()
            run = {
                "started_at": started.isoformat(),
                "finished_at": finished.isoformat(),
                "timings_s": timer.timings,
                "host": platform.node(),
                "user": _user(),
            }
            extra["run.json"] = json.dumps(run, indent=2, sort_keys=True).encode()
            artifact_path = output_dir / (f"{name}.zip" if zip_artifact else name)
            output_dir.mkdir(parents=True, exist_ok=True)
            artifact_info = trained.save(
                artifact_path, extra_files=extra, overwrite=True, encrypt=encrypt
            )
            if html_report and not zip_artifact and not encrypt:
                report_path = artifact_path / "report.html"
            report("save", 1, 1)
    return TrainResult(
        name=name,
        model=trained,
        artifact=artifact_info,
        artifact_path=artifact_path,
        report_path=report_path,
        metrics=metadata["metrics"],
        timings=timer.timings,
        warnings=[*notes, *warned],
    )


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
