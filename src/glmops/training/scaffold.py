"""``glmops init``: look at a table and write a commented starter ``glmops.yaml``.

The starter names every column with what was inferred about it (kind, type,
range or categories, missing share) so the user edits facts, not syntax.
Columns that look like identifiers are excluded, with the reason.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from glmops.data.readers import read_table
from glmops.data.schema import infer_column, kind_of_type
from glmops.data.spec import CategoricalDefaults
from glmops.errors import InvalidInputError

__all__ = ["infer_task", "starter_config"]


def infer_task(column: pa.ChunkedArray | pa.Array) -> str:
    """Guess the task from the target column: regression, binary or multinomial."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    values = pc.drop_null(arr)
    n_unique = len(pc.unique(values))
    if n_unique < 2:
        raise InvalidInputError(
            f"The target has {n_unique} distinct value(s); there is nothing to learn.",
            field="target",
            expected="at least two distinct values",
            got=n_unique,
        )
    kind = kind_of_type(arr.type)
    if n_unique == 2:
        return "binary"
    if kind == "numeric" and (
        pa.types.is_floating(arr.type) or n_unique > 20 or n_unique > 0.05 * len(values)
    ):
        return "regression"
    return "multinomial"


def _looks_like_id(name: str, column: pa.ChunkedArray, n_rows: int) -> bool:
    arr = pc.drop_null(column)
    if len(arr) < 20:
        return False
    n_unique = len(pc.unique(arr))
    if n_unique < 0.95 * n_rows:
        return False
    kind = kind_of_type(column.type)
    return kind == "categorical" or (
        pa.types.is_integer(column.type) and name.lower().rstrip("_").endswith("id")
    )


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "?"
    return f"{value:.6g}"


# words YAML 1.1 reads as booleans or null when unquoted
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"})


def _quote(text: str) -> str:
    plain = text.replace("_", "").replace("-", "").replace(".", "").isalnum()
    if plain and text[0].isalpha() and text.lower() not in _YAML_WORDS:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def starter_config(
    data: str | Path,
    target: str,
    *,
    task: str | None = None,
    name: str = "model",
    positive_class: Any = None,
    config_dir: str | Path | None = None,
) -> str:
    """Return the text of a commented starter ``glmops.yaml`` for ``data``.

    Parameters
    ----------
    data : str or Path
        CSV or Parquet file; written into the config as given.
    target : str
        Target column.
    task : {"regression", "binary", "multinomial"}, optional
        Inferred from the target when not given.
    name : str, default="model"
        The model's name in the config.
    positive_class : optional
        For binary tasks; default the less frequent class.
    config_dir : str or Path, optional
        Directory the config will live in; the data path is written relative
        to it (configs resolve relative paths against their own directory).

    Returns
    -------
    str
    """
    table = read_table(data)
    data_ref = str(data)
    if config_dir is not None:
        data_ref = os.path.relpath(Path(data).resolve(), Path(config_dir).resolve())
    if target not in table.column_names:
        raise InvalidInputError(
            f"The data has no column {target!r}; columns: {table.column_names}.",
            field="target",
            expected="a column of the data",
            got=target,
        )
    column = table.column(target)
    task = task or infer_task(column)
    lines = [
        "# glmops.yaml: written by `glmops init`; edit freely, then run `glmops train`.",
        "# Every key is validated; unknown keys are errors. GLMOPS_* environment variables",
        "# override values (nested keys joined by __, e.g. GLMOPS_MODELS__"
        f"{name.upper()}__SEED=7).",
        "version: 1",
        "output_dir: artifacts          # the artifact goes to <output_dir>/<model name>",
        "models:",
        f"  {name}:",
        f"    data: {{path: {_quote(data_ref)}}}   # or: {{url: postgresql+psycopg://..., "
        "query: SELECT ...}",
        f"    target: {_quote(target)}",
        f"    task: {task}                 # regression | binary | multinomial",
    ]
    if task == "binary":
        counts = pc.value_counts(pc.drop_null(column.combine_chunks()))
        values = counts.field("values").to_pylist()
        freq = counts.field("counts").to_pylist()
        if positive_class is None:
            positive_class = values[int(np.argmin(freq))]
        shares = ", ".join(f"{v}: {c}" for v, c in zip(values, freq, strict=True))
        lines.append(
            f"    positive_class: {_quote(str(positive_class))}   # the class to detect ({shares})"
        )
    lines.append("    features:                     # name: {options}; {} = defaults")
    excluded = []
    high_card = CategoricalDefaults().high_cardinality
    for col in table.column_names:
        if col == target:
            continue
        arr = table.column(col)
        if _looks_like_id(col, arr, table.num_rows):
            excluded.append((col, "unique per row: looks like an identifier"))
            continue
        if arr.null_count == len(arr):
            excluded.append((col, "entirely null"))
            continue
        if kind_of_type(arr.type) is None:
            excluded.append((col, f"type {arr.type} cannot be a feature"))
            continue
        try:
            info = infer_column(col, arr)
        except InvalidInputError as exc:
            excluded.append((col, str(exc).split(";")[0]))
            continue
        missing = f"{100 * info.missing_rate:.1f}% missing"
        if info.kind == "categorical":
            cats = info.categories or ()
            shown = ", ".join(cats[:6]) + (", ..." if len(cats) > 6 else "")
            opts = "{}"
            if len(cats) > high_card:
                opts = "{encoding: hash, n_buckets: 64}"
            comment = f"categorical, {len(cats)} categories ({shown}), {missing}"
        else:
            opts = "{}"
            comment = (
                f"{info.kind}, {info.dtype}, range [{_fmt(info.minimum)}, {_fmt(info.maximum)}], "
                f"{missing}"
            )
        lines.append(f"      {_quote(col)}: {opts}".ljust(34) + f"  # {comment}")
    if excluded:
        lines.append("    exclude:                      # columns never used as features")
        lines.extend(f"      - {_quote(c)}".ljust(34) + f"  # {why}" for c, why in excluded)
    lines += [
        "    preprocessing:                # defaults for every feature (override per feature)",
        "      numeric: {impute: median, missing_indicator: auto, standardize: true}",
        "      categorical: {encoding: onehot, min_frequency: 5}   # onehot | target | hash",
        "    split: {test_size: 0.2}       # method: random | stratified | time | group",
        "    cv: {n_folds: 5, l1_ratio: [0.1, 0.5, 0.9, 1.0], n_alphas: 50, selection: min}",
    ]
    if task != "regression":
        lines.append("    class_weight: null            # null | balanced | {class: weight}")
    if task == "binary":
        lines.append(
            "    threshold: {policy: max_f1}   # fixed | max_f1 | target_precision | "
            "target_recall | min_cost"
        )
        lines.append("    calibration: platt            # null | platt | isotonic")
    lines.append("    bootstrap: 0                  # resamples for coefficient stability")
    lines.append("    seed: 0")
    return "\n".join(lines) + "\n"
