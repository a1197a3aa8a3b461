"""Fit the feature pipeline on training rows (see :mod:`glmops.data.preprocessing`).

Statistics are weighted where the row weights matter (imputation values,
standardization, clip quantiles); target encoding is out-of-fold, with
scikit-learn's TargetEncoder formula; one-hot follows scikit-learn's
min_frequency / max_categories rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from glmops._typing import FloatArray, IntArray
from glmops.data.preprocessing import (
    MISSING,
    RARE,
    CategoricalStep,
    NumericStep,
    Preprocessor,
    Step,
    TargetKind,
    _fill_token,
    hash_bucket,
    weighted_quantile,
)
from glmops.data.schema import CoercedTable, Schema, coerce_table
from glmops.data.spec import ResolvedFeature
from glmops.errors import InvalidInputError

__all__ = ["fit_preprocessor"]


def _weighted_mean_std(x: FloatArray, w: FloatArray | None) -> tuple[float, float]:
    """Return the weighted mean and population standard deviation (1.0 if constant)."""
    mean = float(np.average(x, weights=w))
    var = float(np.average((x - mean) ** 2, weights=w))
    std = math.sqrt(var)
    if not std > 10 * np.finfo(np.float64).eps * max(1.0, abs(mean)):
        std = 1.0
    return mean, std


def _column_standardization(X: FloatArray, w: FloatArray | None) -> tuple[FloatArray, FloatArray]:
    """Return the weighted mean and standard deviation of each column of ``X``."""
    stats = [_weighted_mean_std(X[:, k], w) for k in range(X.shape[1])]
    return np.array([c for c, _ in stats]), np.array([s for _, s in stats])


def _impute_value(
    x: FloatArray, w: FloatArray | None, strategy: str, fill_value: Any, name: str
) -> float | None:
    present = ~np.isnan(x)
    values = x[present]
    weights = w[present] if w is not None else None
    if strategy == "none":
        return None
    if strategy == "constant":
        try:
            return float(fill_value)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"fill_value for numeric feature {name!r} must be a number; got {fill_value!r}.",
                field=f"features.{name}.fill_value",
                expected="a number",
                got=fill_value,
            ) from exc
    if strategy == "median":
        return float(weighted_quantile(values, 0.5, weights)[0])
    if strategy == "mean":
        return float(np.average(values, weights=weights))
    # most_frequent: the smallest of the (weighted) most frequent values, as SimpleImputer
    uniq, inverse = np.unique(values, return_inverse=True)
    counts = np.bincount(inverse, weights=weights)
    return float(uniq[int(np.argmax(counts))])


def _fit_numeric(
    feature: ResolvedFeature, x: FloatArray, w: FloatArray | None
) -> tuple[NumericStep, FloatArray]:
    name = feature.name
    missing = np.isnan(x)
    if missing.all():
        raise InvalidInputError(
            f"Feature {name!r} has no values in the training rows.",
            field=name,
            expected="at least one non-null value",
            got="all null",
        )
    impute_value = _impute_value(x, w, feature.impute, feature.fill_value, name)
    indicator = (
        bool(missing.any())
        if feature.missing_indicator == "auto"
        else bool(feature.missing_indicator)
    )
    if impute_value is None and missing.any():
        raise InvalidInputError(
            f"Feature {name!r} has {int(missing.sum())} null value(s) but is not imputed "
            "(impute: none or nullable: false).",
            field=name,
            expected="no nulls, or an impute strategy",
            got=int(missing.sum()),
        )
    clip_low = clip_high = None
    if feature.clip is not None and feature.kind == "numeric":
        present = x[~missing]
        pw = w[~missing] if w is not None else None
        lo, hi = weighted_quantile(present, feature.clip, pw)
        clip_low, clip_high = float(lo), float(hi)
    log_floor = 0.0
    if feature.log1p:
        base = np.where(missing, impute_value if impute_value is not None else 0.0, x)
        if clip_low is not None:
            base = np.maximum(base, clip_low)
        lowest = float(base.min())
        if not lowest > -1.0:
            raise InvalidInputError(
                f"Feature {name!r} has values <= -1 ({lowest:g}); log1p needs values > -1.",
                field=f"features.{name}.log1p",
                expected="values > -1",
                got=lowest,
            )
        log_floor = lowest
    step = NumericStep(
        name=name,
        kind="boolean" if feature.kind == "boolean" else "numeric",
        impute_value=impute_value,
        indicator=indicator,
        clip_low=clip_low,
        clip_high=clip_high,
        log1p=feature.log1p,
        log_floor=log_floor,
        center=0.0,
        scale=1.0,
    )
    raw = step.apply(x)
    ind = missing.astype(np.float64)
    ind_center, ind_scale = 0.0, 1.0
    if feature.standardize:
        center, scale = _weighted_mean_std(raw, w)
        if indicator:
            ind_center, ind_scale = _weighted_mean_std(ind, w)
        step = replace(
            step,
            center=center,
            scale=scale,
            indicator_center=ind_center,
            indicator_scale=ind_scale,
        )
    cols = [step.apply(x)]
    if indicator:
        cols.append((ind - ind_center) / ind_scale)
    return step, np.column_stack(cols)


def _category_counts(
    strings: pa.Array, fill_value: str | None
) -> tuple[list[str], IntArray, IntArray]:
    """Return sorted categories (MISSING last), their row counts, and each row's code."""
    filled = pc.fill_null(strings, _fill_token(fill_value)) if strings.null_count else strings
    encoded = pc.dictionary_encode(filled)
    values = [str(v) for v in encoded.dictionary.to_pylist()]
    order = sorted(range(len(values)), key=lambda i: (values[i] == MISSING, values[i]))
    rank = np.empty(len(values), dtype=np.intp)
    rank[order] = np.arange(len(values))
    codes = rank[np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.intp)]
    counts = np.bincount(codes, minlength=len(values))
    return [values[i] for i in order], counts, codes


def _most_frequent_category(strings: pa.Array) -> str:
    present = pc.drop_null(strings)
    counts = pc.value_counts(present)
    vals = counts.field("values").to_pylist()
    freq = counts.field("counts").to_numpy()
    best = max(freq)
    return str(min(v for v, f in zip(vals, freq, strict=True) if f == best))


def _target_matrix(
    y: Any, target_kind: TargetKind, classes: Sequence[Any] | None, positive: Any
) -> FloatArray:
    y_arr = np.asarray(y)
    if target_kind not in ("regression", "binary", "multinomial"):
        raise InvalidInputError(
            f"target_kind must be 'regression', 'binary' or 'multinomial'; got {target_kind!r}.",
            field="target_kind",
            expected="regression, binary or multinomial",
            got=target_kind,
        )
    if target_kind == "regression":
        return np.asarray(y_arr, dtype=np.float64).reshape(-1, 1)
    if target_kind == "binary":
        return np.asarray(y_arr == positive, dtype=np.float64).reshape(-1, 1)
    if classes is None:
        raise InvalidInputError(
            "Multinomial target encoding needs the class labels.",
            field="classes",
            expected="the class labels",
            got=None,
        )
    hits = y_arr.reshape(-1, 1) == np.asarray(classes).reshape(1, -1)
    return np.asarray(hits, dtype=np.float64)


def _target_encodings(
    codes: IntArray, Y: FloatArray, n_categories: int, smoothing: str | float
) -> tuple[FloatArray, FloatArray]:
    """Return (encodings of shape (n_categories, n_out), prior of shape (n_out,)).

    The formula of scikit-learn's TargetEncoder (Micci-Barreca 2001): a
    category's mean target shrunk to the prior, by ``smoothing`` pseudo-rows
    or, for "auto", by the empirical-Bayes weight
    ``lambda = n var(y) / (n var(y) + var_within)``.
    """
    prior = Y.mean(axis=0)
    enc = np.empty((n_categories, Y.shape[1]))
    counts = np.bincount(codes, minlength=n_categories).astype(np.float64)
    for k in range(Y.shape[1]):
        yk = Y[:, k]
        sums = np.bincount(codes, weights=yk, minlength=n_categories)
        if smoothing == "auto":
            with np.errstate(invalid="ignore", divide="ignore"):
                means = sums / counts
                ssd = np.bincount(codes, weights=(yk - means[codes]) ** 2, minlength=n_categories)
                var_y = float(np.var(yk))
                lam = var_y * counts / (var_y * counts + ssd / counts)
                col = lam * means + (1 - lam) * prior[k]
            col[np.isnan(lam)] = prior[k]
        else:
            m = float(smoothing)
            with np.errstate(invalid="ignore", divide="ignore"):
                col = (sums + m * prior[k]) / (counts + m)
            col[counts + m == 0] = prior[k]
        enc[:, k] = col
    return enc, prior


def _fit_categorical(
    feature: ResolvedFeature,
    strings: pa.Array,
    w: FloatArray | None,
    *,
    Y: FloatArray | None,
    target_names: Sequence[str],
    folds: Sequence[tuple[IntArray, IntArray]] | None,
) -> tuple[CategoricalStep, FloatArray]:
    name = feature.name
    fill_value: str | None = None
    if strings.null_count and feature.impute == "most_frequent":
        fill_value = _most_frequent_category(strings)
    elif feature.impute == "constant":
        fill_value = str(feature.fill_value)
    categories, counts, codes = _category_counts(strings, fill_value)
    if MISSING in categories and strings.null_count < int(counts[categories.index(MISSING)]):
        raise InvalidInputError(
            f"Feature {name!r} has the value {MISSING!r}, which glmops reserves for nulls.",
            field=name,
            expected=f"no value spelled {MISSING!r}",
            got=MISSING,
        )
    n = len(codes)
    n_cat = len(categories)
    unknown = n_cat
    if feature.encoding == "hash":
        step = CategoricalStep(
            name=name,
            encoding="hash",
            categories=(),
            table=np.zeros((1, feature.n_buckets)),
            output_names=tuple(f"{name}#{i}" for i in range(feature.n_buckets)),
            fill_value=fill_value,
            n_buckets=feature.n_buckets,
            center=np.zeros(feature.n_buckets),
            scale=np.ones(feature.n_buckets),
        )
        hashed = np.zeros((n_cat, feature.n_buckets))
        for i, cat in enumerate(categories):
            bucket, sign = hash_bucket(f"{name}={cat}", feature.n_buckets)
            hashed[i, bucket] = sign
        X = hashed[codes]
        if feature.standardize:
            center, scale = _column_standardization(X, w)
            step = replace(step, center=center, scale=scale)
            X = (X - step.center) / step.scale
        return step, X
    if feature.encoding == "onehot":
        threshold = (
            feature.min_frequency * n if 0 < feature.min_frequency < 1 else feature.min_frequency
        )
        rare_mask = counts < threshold
        n_current = n_cat - int(rare_mask.sum()) + 1
        if feature.max_categories is not None and feature.max_categories < n_current:
            # scikit-learn's rule: the rare bucket counts as one of max_categories
            n_frequent = feature.max_categories - 1
            if n_frequent == 0:
                rare_mask[:] = True
            else:
                rare_mask[np.argsort(counts, kind="mergesort")[:-n_frequent]] = True
        frequent = ~rare_mask
        kept = [c for c, f in zip(categories, frequent, strict=True) if f]
        rare = tuple(c for c, f in zip(categories, frequent, strict=True) if not f)
        outputs = [f"{name}={c}" for c in kept] + ([f"{name}={RARE}"] if rare else [])
        table = np.zeros((n_cat + 1, len(outputs)))
        col_of = {c: i for i, c in enumerate(kept)}
        for i, cat in enumerate(categories):
            table[i, col_of.get(cat, len(kept))] = 1.0
        if rare:
            table[unknown, len(kept)] = 1.0
        X = table[codes]
        center, scale = np.zeros(len(outputs)), np.ones(len(outputs))
        if feature.standardize:
            center, scale = _column_standardization(X, w)
            table = (table - center) / scale
            X = table[codes]
        step = CategoricalStep(
            name=name,
            encoding="onehot",
            categories=tuple(categories),
            table=table,
            output_names=tuple(outputs),
            fill_value=fill_value,
            rare=rare,
            center=center,
            scale=scale,
        )
        return step, X
    # target encoding: the table holds full-data encodings (used at scoring time);
    # the training matrix uses out-of-fold encodings so no row sees its own label.
    if Y is None:
        raise InvalidInputError(
            f"Feature {name!r} uses target encoding, which needs the target.",
            field=f"features.{name}.encoding",
            expected="a target",
            got=None,
        )
    enc, prior = _target_encodings(codes, Y, n_cat, feature.smoothing)
    table = np.vstack([enc, prior])
    outputs = [f"{name}__te"] if Y.shape[1] == 1 else [f"{name}__te[{t}]" for t in target_names]
    # rows in no test part (forward-chaining time folds) get the prior: no label of theirs used
    X = np.tile(prior, (n, 1))
    for train_idx, test_idx in folds or []:
        enc_f, prior_f = _target_encodings(codes[train_idx], Y[train_idx], n_cat, feature.smoothing)
        seen = np.bincount(codes[train_idx], minlength=n_cat) > 0
        enc_f[~seen] = prior_f
        X[test_idx] = enc_f[codes[test_idx]]
    if not folds:
        X = table[codes]
    center, scale = np.zeros(len(outputs)), np.ones(len(outputs))
    if feature.standardize:
        center, scale = _column_standardization(X, w)
        table = (table - center) / scale
        X = (X - center) / scale
    step = CategoricalStep(
        name=name,
        encoding="target",
        categories=tuple(categories),
        table=table,
        output_names=tuple(outputs),
        fill_value=fill_value,
        center=center,
        scale=scale,
    )
    return step, X


def fit_preprocessor(
    table: pa.Table | CoercedTable,
    schema: Schema,
    features: Mapping[str, ResolvedFeature],
    *,
    y: Any = None,
    target_kind: TargetKind = "regression",
    classes: Sequence[Any] | None = None,
    positive: Any = None,
    sample_weight: FloatArray | None = None,
    folds: Sequence[tuple[IntArray, IntArray]] | None = None,
) -> tuple[Preprocessor, FloatArray]:
    """Fit the pipeline on training rows; return it and the training design matrix.

    Parameters
    ----------
    table : pyarrow.Table or CoercedTable
        Training rows (features by name; other columns are ignored).
    schema : Schema
        The manifest of the feature columns, in output order.
    features : mapping of str to ResolvedFeature
        Each feature's preprocessing.
    y : array-like, optional
        The target; needed only by target encoding.
    target_kind : {"regression", "binary", "multinomial"}
        How target encoding reads ``y``.
    classes, positive : optional
        Class labels (multinomial) and the positive label (binary).
    sample_weight : ndarray, optional
        Row weights for imputation statistics and standardization.
    folds : sequence of (train_idx, test_idx), optional
        Out-of-fold split for target encoding; every row in exactly one
        test part. Without it, target encodings are in-sample.

    Returns
    -------
    (Preprocessor, ndarray of shape (n_rows, n_features_out))
    """
    data = table if isinstance(table, CoercedTable) else coerce_table(table, schema)
    data.raise_for(("missing_column", "wrong_type"))
    Y = _target_matrix(y, target_kind, classes, positive) if y is not None else None
    target_names = [str(c) for c in classes] if classes is not None else []
    steps: list[Step] = []
    blocks: list[FloatArray] = []
    for col in schema.columns:
        feature = features[col.name]
        step: Step
        if col.kind == "categorical":
            step, X = _fit_categorical(
                feature,
                data.categorical[col.name],
                sample_weight,
                Y=Y,
                target_names=target_names,
                folds=folds,
            )
        else:
            step, X = _fit_numeric(feature, data.numeric[col.name], sample_weight)
        steps.append(step)
        blocks.append(X)
    matrix = np.asfortranarray(np.hstack(blocks)) if blocks else np.empty((data.n_rows, 0))
    return Preprocessor(schema=schema, steps=tuple(steps)), matrix
