"""Each fitted transformer of ``glmops.data.preprocessing`` against scikit-learn.

SimpleImputer / StandardScaler for numeric columns, OneHotEncoder with
infrequent categories, TargetEncoder with the same cross-fitting folds, and
FeatureHasher, all on the same data, compared to about 1e-12.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.feature_extraction import FeatureHasher
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder

from glmops.data import FeatureSpec, PreprocessingDefaults, infer_schema, resolve_feature
from glmops.data.fitting import fit_preprocessor
from glmops.data.preprocessing import MISSING, RARE, Preprocessor
from glmops.data.schema import Schema

RTOL = 1e-12
ATOL = 1e-12


def _fit(
    table: pa.Table, specs: Mapping[str, FeatureSpec], **kwargs: Any
) -> tuple[Preprocessor, np.ndarray, Schema]:
    """Infer the manifest of ``table`` and fit the pipeline with these per-feature specs."""
    schema = infer_schema(table, features=list(specs))
    features = {
        col.name: resolve_feature(col.name, col.kind, specs[col.name], PreprocessingDefaults())
        for col in schema.columns
    }
    pre, X = fit_preprocessor(table, schema, features, **kwargs)
    return pre, X, schema


def _close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)


# ----------------------------------------------------------------------------------
# numeric: imputation, missing indicator, standardization
# ----------------------------------------------------------------------------------


def _numeric_data(seed: int = 0, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, n).astype(np.float64)  # repeated values: most_frequent has ties
    y = rng.normal(3.0, 2.0, n)
    x[rng.choice(n, 7, replace=False)] = np.nan
    y[rng.choice(n, 4, replace=False)] = np.nan
    return pd.DataFrame({"x": x, "y": y})


def _table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def _sk_columns(pre: Preprocessor) -> list[str]:
    """glmops output names in SimpleImputer(add_indicator=True)'s vocabulary."""
    out = []
    for name in pre.feature_names_out:
        base, _, suffix = name.partition("__")
        out.append(f"missingindicator_{base}" if suffix == "missing" else name)
    return out


def _reorder(sk: np.ndarray, sk_names: Any, wanted: list[str]) -> np.ndarray:
    index = {str(n): i for i, n in enumerate(sk_names)}
    assert sorted(index) == sorted(wanted), (list(index), wanted)
    return sk[:, [index[n] for n in wanted]]


IMPUTE_CASES = [
    ("median", None),
    ("mean", None),
    ("most_frequent", None),
    ("constant", -7.5),
]


@pytest.mark.parametrize(("strategy", "fill_value"), IMPUTE_CASES)
def test_impute_matches_simple_imputer(strategy: str, fill_value: float | None) -> None:
    train, new = _numeric_data(0), _numeric_data(1, n=25)
    spec = FeatureSpec(
        impute=strategy, fill_value=fill_value, missing_indicator=False, standardize=False
    )
    pre, X, _ = _fit(_table(train), {"x": spec, "y": spec})
    kw = {"fill_value": fill_value} if strategy == "constant" else {}
    imp = SimpleImputer(strategy=strategy, **kw).fit(train)
    assert pre.feature_names_out == ["x", "y"]
    _close(X, imp.transform(train))
    _close(pre.transform(_table(new)), imp.transform(new))


@pytest.mark.parametrize(("strategy", "fill_value"), IMPUTE_CASES)
def test_impute_auto_indicator_matches_add_indicator(
    strategy: str, fill_value: float | None
) -> None:
    train, new = _numeric_data(2), _numeric_data(3, n=25)
    spec = FeatureSpec(impute=strategy, fill_value=fill_value, standardize=False)
    pre, X, _ = _fit(_table(train), {"x": spec, "y": spec})
    assert pre.feature_names_out == ["x", "x__missing", "y", "y__missing"]
    kw = {"fill_value": fill_value} if strategy == "constant" else {}
    imp = SimpleImputer(strategy=strategy, add_indicator=True, **kw).fit(train)
    names = imp.get_feature_names_out()
    _close(X, _reorder(imp.transform(train), names, _sk_columns(pre)))
    _close(pre.transform(_table(new)), _reorder(imp.transform(new), names, _sk_columns(pre)))


def test_auto_indicator_absent_when_training_has_no_nulls() -> None:
    # SimpleImputer's indicator is "missing-only" too: no column for a complete feature
    train = _numeric_data(4).fillna(1.0)
    new = _numeric_data(5, n=20)
    spec = FeatureSpec(impute="median", standardize=False)
    pre, X, _ = _fit(_table(train), {"x": spec, "y": spec})
    imp = SimpleImputer(strategy="median", add_indicator=True).fit(train)
    assert list(imp.get_feature_names_out()) == ["x", "y"]
    assert pre.feature_names_out == ["x", "y"]
    _close(X, imp.transform(train))
    _close(pre.transform(_table(new)), imp.transform(new))


@pytest.mark.parametrize(("strategy", "fill_value"), IMPUTE_CASES)
@pytest.mark.parametrize("indicator", [False, "auto"])
def test_impute_then_standardize_matches_pipeline(
    strategy: str, fill_value: float | None, indicator: bool | str
) -> None:
    train, new = _numeric_data(6), _numeric_data(7, n=25)
    spec = FeatureSpec(
        impute=strategy, fill_value=fill_value, missing_indicator=indicator, standardize=True
    )
    pre, X, _ = _fit(_table(train), {"x": spec, "y": spec})
    kw = {"fill_value": fill_value} if strategy == "constant" else {}
    pipe = Pipeline(
        [
            ("impute", SimpleImputer(strategy=strategy, add_indicator=bool(indicator), **kw)),
            ("scale", StandardScaler()),
        ]
    ).fit(train)
    names = pipe.get_feature_names_out()
    _close(X, _reorder(pipe.transform(train), names, _sk_columns(pre)))
    _close(pre.transform(_table(new)), _reorder(pipe.transform(new), names, _sk_columns(pre)))


def test_weighted_standardization_matches_standard_scaler() -> None:
    rng = np.random.default_rng(8)
    n = 50
    train = pd.DataFrame({"x": rng.normal(10.0, 3.0, n), "y": rng.exponential(2.0, n)})
    new = pd.DataFrame({"x": rng.normal(10.0, 3.0, 9), "y": rng.exponential(2.0, 9)})
    w = rng.uniform(0.1, 4.0, n)
    w[[3, 11]] = 0.0
    spec = FeatureSpec(standardize=True)
    pre, X, _ = _fit(_table(train), {"x": spec, "y": spec}, sample_weight=w)
    scaler = StandardScaler().fit(train.to_numpy(), sample_weight=w)
    _close(X, scaler.transform(train.to_numpy()))
    _close(pre.transform(_table(new)), scaler.transform(new.to_numpy()))


def test_weighted_standardization_with_indicator_matches_standard_scaler() -> None:
    # constant imputation does not depend on the weights, so SimpleImputer applies
    train, new = _numeric_data(9), _numeric_data(10, n=20)
    w = np.random.default_rng(11).uniform(0.2, 3.0, len(train))
    spec = FeatureSpec(impute="constant", fill_value=0.5, standardize=True)
    pre, X, _ = _fit(_table(train), {"x": spec, "y": spec}, sample_weight=w)
    imp = SimpleImputer(strategy="constant", fill_value=0.5, add_indicator=True).fit(train)
    Z = imp.transform(train)
    scaler = StandardScaler().fit(Z, sample_weight=w)
    names = imp.get_feature_names_out()
    _close(X, _reorder(scaler.transform(Z), names, _sk_columns(pre)))
    expected_new = scaler.transform(imp.transform(new))
    _close(pre.transform(_table(new)), _reorder(expected_new, names, _sk_columns(pre)))


WEIGHT_SPECS = [
    pytest.param(FeatureSpec(impute="mean", standardize=True), id="mean"),
    pytest.param(FeatureSpec(impute="most_frequent", standardize=True), id="most_frequent"),
    pytest.param(FeatureSpec(impute="constant", fill_value=2.0, standardize=True), id="constant"),
    pytest.param(
        FeatureSpec(impute="median", standardize=True),
        id="median",
    ),
    pytest.param(
        FeatureSpec(impute="mean", clip=(0.1, 0.9), standardize=True),
        id="clip",
    ),
]


@pytest.mark.parametrize("spec", WEIGHT_SPECS)
def test_unit_weights_equal_no_weights(spec: FeatureSpec) -> None:
    train = _numeric_data(12)
    _, X_plain, _ = _fit(_table(train), {"x": spec, "y": spec})
    _, X_ones, _ = _fit(_table(train), {"x": spec, "y": spec}, sample_weight=np.ones(len(train)))
    _close(X_ones, X_plain)


@pytest.mark.parametrize("spec", WEIGHT_SPECS)
def test_integer_weights_equal_repeated_rows(spec: FeatureSpec) -> None:
    train = _numeric_data(28, n=30)
    reps = np.random.default_rng(29).integers(1, 4, len(train))
    repeated = train.loc[train.index.repeat(reps)].reset_index(drop=True)
    pre_w, _, _ = _fit(_table(train), {"x": spec, "y": spec}, sample_weight=reps.astype(float))
    pre_r, _, _ = _fit(_table(repeated), {"x": spec, "y": spec})
    new = _table(_numeric_data(15, n=20))
    _close(pre_w.transform(new), pre_r.transform(new))


# ----------------------------------------------------------------------------------
# categorical: one-hot with infrequent categories
# ----------------------------------------------------------------------------------

# a:9 b:6 c:6 d:4 e:3 f:2 g:1 None:4 -- ties between b/c, so the tie rule matters
_CAT_COUNTS = {"a": 9, "b": 6, "c": 6, "d": 4, "e": 3, "f": 2, "g": 1, None: 4}


def _categorical_values(seed: int = 0) -> list[str | None]:
    values = [v for v, k in _CAT_COUNTS.items() for _ in range(k)]
    rng = np.random.default_rng(seed)
    return [values[i] for i in rng.permutation(len(values))]


_NEW_VALUES = ["a", "g", "zz", None, "c", "unseen", "f", "b", "e", "d"]


def _sk_onehot_names(pre: Preprocessor) -> list[str]:
    """glmops ``col=value`` names in OneHotEncoder's ``col_value`` vocabulary."""
    out = []
    for name in pre.feature_names_out:
        col, _, value = name.partition("=")
        if value == RARE:
            value = "infrequent_sklearn"
        elif value == MISSING:
            value = "None"
        out.append(f"{col}_{value}")
    return out


ONEHOT_CASES = [
    (1, None),
    (2, None),
    (4, None),
    (5, None),
    (7, None),
    (0.1, None),
    (0.2, None),
    (1, 1),
    (1, 2),
    (1, 3),
    (1, 4),
    (3, 3),
    (0.1, 5),
    (2, 20),
]


@pytest.mark.parametrize(("min_frequency", "max_categories"), ONEHOT_CASES)
def test_onehot_matches_one_hot_encoder(min_frequency: float, max_categories: int | None) -> None:
    train = _categorical_values(0)
    spec = FeatureSpec(
        encoding="onehot",
        min_frequency=min_frequency,
        max_categories=max_categories,
        standardize=False,
    )
    pre, X, _ = _fit(pa.table({"c": pa.array(train, pa.string())}), {"c": spec})
    enc = OneHotEncoder(
        handle_unknown="infrequent_if_exist",
        min_frequency=min_frequency,
        max_categories=max_categories,
        sparse_output=False,
    ).fit(np.array(train, dtype=object).reshape(-1, 1))
    names = enc.get_feature_names_out(["c"])
    wanted = _sk_onehot_names(pre)
    sk_train = enc.transform(np.array(train, dtype=object).reshape(-1, 1))
    _close(X, _reorder(sk_train, names, wanted))
    sk_new = enc.transform(np.array(_NEW_VALUES, dtype=object).reshape(-1, 1))
    got = pre.transform(pa.table({"c": pa.array(_NEW_VALUES, pa.string())}))
    _close(got, _reorder(sk_new, names, wanted))


def test_onehot_without_nulls_in_training_encodes_null_as_unknown() -> None:
    train = [v for v in _categorical_values(1) if v is not None]
    spec = FeatureSpec(encoding="onehot", min_frequency=1, standardize=False)
    pre, _, _ = _fit(pa.table({"c": pa.array(train, pa.string())}), {"c": spec})
    enc = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=1)
    enc.set_params(sparse_output=False).fit(np.array(train, dtype=object).reshape(-1, 1))
    new = ["a", None, "zz"]
    sk = enc.transform(np.array(new, dtype=object).reshape(-1, 1))
    got = pre.transform(pa.table({"c": pa.array(new, pa.string())}))
    names = enc.get_feature_names_out(["c"])
    _close(got, _reorder(sk, names, _sk_onehot_names(pre)))
    np.testing.assert_array_equal(got[1], np.zeros(got.shape[1]))


def test_onehot_standardize_matches_standard_scaler_on_one_hot() -> None:
    train = _categorical_values(2)
    w = np.random.default_rng(3).uniform(0.5, 2.0, len(train))
    spec = FeatureSpec(encoding="onehot", min_frequency=3, standardize=True)
    pre, X, _ = _fit(pa.table({"c": pa.array(train, pa.string())}), {"c": spec}, sample_weight=w)
    enc = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=3)
    enc.set_params(sparse_output=False).fit(np.array(train, dtype=object).reshape(-1, 1))
    names = enc.get_feature_names_out(["c"])
    wanted = _sk_onehot_names(pre)
    Z = _reorder(enc.transform(np.array(train, dtype=object).reshape(-1, 1)), names, wanted)
    scaler = StandardScaler().fit(Z, sample_weight=w)
    _close(X, scaler.transform(Z))
    Z_new = _reorder(
        enc.transform(np.array(_NEW_VALUES, dtype=object).reshape(-1, 1)), names, wanted
    )
    got = pre.transform(pa.table({"c": pa.array(_NEW_VALUES, pa.string())}))
    _close(got, scaler.transform(Z_new))


# ----------------------------------------------------------------------------------
# categorical: out-of-fold target encoding
# ----------------------------------------------------------------------------------


def _te_data(seed: int, n: int = 160) -> tuple[list[str | None], np.ndarray]:
    rng = np.random.default_rng(seed)
    cats = np.array(["a", "b", "c", "d", "e", "f"])
    values: list[str | None] = list(rng.choice(cats, n, p=[0.3, 0.25, 0.2, 0.15, 0.07, 0.03]))
    for i in rng.choice(n, 12, replace=False):
        values[i] = None
    values[5] = "solo"  # once: unseen in the training part of one fold
    values[17] = "pair"
    values[90] = "pair"
    effect = {"a": 0.0, "b": 1.0, "c": -1.0, "d": 2.0, "e": 0.5, "f": -2.0}
    mu = np.array([effect.get(str(v), 0.3) for v in values])
    return [str(v) if v is not None else None for v in values], mu + rng.normal(0, 1.0, n)


_TE_NEW = ["a", "b", None, "zz", "solo", "f", "pair", "never", "c", "d", "e"]


def _te_case(target: str, y_cont: np.ndarray) -> tuple[np.ndarray, dict[str, Any], Any]:
    """Return (y, glmops target kwargs, the splitter) for a target type."""
    if target == "continuous":
        return y_cont, {"target_kind": "regression"}, KFold(5, shuffle=True, random_state=0)
    strat = StratifiedKFold(5, shuffle=True, random_state=0)
    if target == "binary":
        y = np.where(y_cont > 0.4, "yes", "no").astype(object)
        return y, {"target_kind": "binary", "positive": "yes"}, strat
    y = np.digitize(y_cont, [-0.3, 0.8])
    labels = np.array(["low", "mid", "top"], dtype=object)[y]
    return labels, {"target_kind": "multinomial", "classes": ["low", "mid", "top"]}, strat


@pytest.mark.parametrize("smooth", ["auto", 0.0, 3.5])
@pytest.mark.parametrize("target", ["continuous", "binary", "multiclass"])
def test_target_encoding_matches_target_encoder(target: str, smooth: str | float) -> None:
    values, y_cont = _te_data(0)
    y, kw, splitter = _te_case(target, y_cont)
    Xo = np.array(values, dtype=object).reshape(-1, 1)
    folds = list(splitter.split(Xo, y))
    spec = FeatureSpec(encoding="target", smoothing=smooth, standardize=False)
    table = pa.table({"c": pa.array(values, pa.string())})
    pre, X, _ = _fit(table, {"c": spec}, y=y, folds=folds, **kw)

    sk_target = {"continuous": "continuous", "binary": "binary", "multiclass": "multiclass"}
    enc = TargetEncoder(smooth=smooth, cv=splitter, target_type=sk_target[target])
    sk_train = enc.fit_transform(Xo, y)
    if target == "binary":
        assert enc.classes_[1] == "yes"
    if target == "multiclass":
        assert list(enc.classes_) == kw["classes"]
        assert pre.feature_names_out == ["c__te[low]", "c__te[mid]", "c__te[top]"]
    else:
        assert pre.feature_names_out == ["c__te"]
    _close(X, sk_train)
    new = np.array(_TE_NEW, dtype=object).reshape(-1, 1)
    got = pre.transform(pa.table({"c": pa.array(_TE_NEW, pa.string())}))
    _close(got, enc.transform(new))


def test_target_encoding_without_folds_is_the_full_data_encoding() -> None:
    values, y = _te_data(1)
    spec = FeatureSpec(encoding="target", smoothing="auto", standardize=False)
    table = pa.table({"c": pa.array(values, pa.string())})
    pre, X, _ = _fit(table, {"c": spec}, y=y)
    enc = TargetEncoder(smooth="auto", target_type="continuous")
    enc.fit(np.array(values, dtype=object).reshape(-1, 1), y)
    _close(X, enc.transform(np.array(values, dtype=object).reshape(-1, 1)))
    np.testing.assert_array_equal(X, pre.transform(table))


def test_target_encoding_standardized_uses_oof_statistics() -> None:
    values, y = _te_data(2)
    Xo = np.array(values, dtype=object).reshape(-1, 1)
    splitter = KFold(5, shuffle=True, random_state=0)
    spec = FeatureSpec(encoding="target", smoothing="auto", standardize=True)
    table = pa.table({"c": pa.array(values, pa.string())})
    pre, X, _ = _fit(table, {"c": spec}, y=y, folds=list(splitter.split(Xo, y)))
    enc = TargetEncoder(smooth="auto", cv=splitter, target_type="continuous")
    oof = enc.fit_transform(Xo, y)
    scaler = StandardScaler().fit(oof)
    _close(X, scaler.transform(oof))
    new = np.array(_TE_NEW, dtype=object).reshape(-1, 1)
    got = pre.transform(pa.table({"c": pa.array(_TE_NEW, pa.string())}))
    _close(got, scaler.transform(enc.transform(new)))


# ----------------------------------------------------------------------------------
# categorical: feature hashing
# ----------------------------------------------------------------------------------

_HASH_TRAIN = ["a", "b", "c", "dog", "cat", "é", "日本", "a b", "x=y", "", "b", "a", None]
_HASH_NEW = ["a", "never-seen", None, "日本", "", "zzz", "cat", "Q"]


def _hasher_rows(col: str, values: list[str | None], n: int) -> np.ndarray:
    hasher = FeatureHasher(n_features=n, input_type="dict", alternate_sign=True)
    tokens = [{col: MISSING if v is None else v} for v in values]
    return np.asarray(hasher.transform(tokens).toarray())


@pytest.mark.parametrize("n_buckets", [1, 2, 7, 32, 1024])
def test_hashing_matches_feature_hasher(n_buckets: int) -> None:
    spec = FeatureSpec(encoding="hash", n_buckets=n_buckets, standardize=False)
    pre, X, _ = _fit(pa.table({"c": pa.array(_HASH_TRAIN, pa.string())}), {"c": spec})
    assert pre.feature_names_out == [f"c#{i}" for i in range(n_buckets)]
    _close(X, _hasher_rows("c", _HASH_TRAIN, n_buckets))
    got = pre.transform(pa.table({"c": pa.array(_HASH_NEW, pa.string())}))
    _close(got, _hasher_rows("c", _HASH_NEW, n_buckets))


def test_hashing_standardized_matches_standard_scaler() -> None:
    spec = FeatureSpec(encoding="hash", n_buckets=16, standardize=True)
    w = np.linspace(0.5, 2.0, len(_HASH_TRAIN))
    table = pa.table({"c": pa.array(_HASH_TRAIN, pa.string())})
    pre, X, _ = _fit(table, {"c": spec}, sample_weight=w)
    Z = _hasher_rows("c", _HASH_TRAIN, 16)
    scaler = StandardScaler().fit(Z, sample_weight=w)
    _close(X, scaler.transform(Z))
    got = pre.transform(pa.table({"c": pa.array(_HASH_NEW, pa.string())}))
    _close(got, scaler.transform(_hasher_rows("c", _HASH_NEW, 16)))
