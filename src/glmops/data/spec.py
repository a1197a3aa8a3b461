"""What the user asks of each feature: its manifest overrides and its preprocessing.

These pydantic models are the ``features:`` and ``preprocessing:`` parts of
``glmops.yaml``. They are declared here, next to the code that fits them, so
the config and the Python API share one definition.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CategoricalDefaults",
    "FeatureSpec",
    "NumericDefaults",
    "PreprocessingDefaults",
    "ResolvedFeature",
    "resolve_feature",
]

ImputeStrategy = Literal["median", "mean", "most_frequent", "constant", "none"]
Encoding = Literal["onehot", "target", "hash"]
Quantile = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumericDefaults(_Strict):
    """Defaults for numeric and boolean features."""

    impute: ImputeStrategy = "median"
    missing_indicator: bool | Literal["auto"] = "auto"
    clip: tuple[Quantile, Quantile] | None = None
    log1p: bool = False
    standardize: bool = True


class CategoricalDefaults(_Strict):
    """Defaults for categorical features."""

    encoding: Encoding = "onehot"
    min_frequency: Annotated[float, Field(ge=0.0)] = 5.0
    max_categories: Annotated[int, Field(ge=1)] | None = None
    smoothing: Literal["auto"] | Annotated[float, Field(ge=0.0)] = "auto"
    n_buckets: Annotated[int, Field(ge=1, le=1 << 20)] = 32
    standardize: bool = False
    high_cardinality: Annotated[int, Field(ge=2)] = 200


class PreprocessingDefaults(_Strict):
    """The ``preprocessing:`` section: what every feature gets unless it says otherwise."""

    numeric: NumericDefaults = NumericDefaults()
    categorical: CategoricalDefaults = CategoricalDefaults()


class FeatureSpec(_Strict):
    """One entry of ``features:``; every field is optional (None = default / inferred)."""

    kind: Literal["numeric", "categorical", "boolean"] | None = None
    nullable: bool | None = None
    categories: list[str] | None = None
    range: tuple[float, float] | None = None
    impute: ImputeStrategy | None = None
    fill_value: float | str | bool | None = None
    missing_indicator: bool | Literal["auto"] | None = None
    clip: tuple[Quantile, Quantile] | None = None
    log1p: bool | None = None
    standardize: bool | None = None
    encoding: Encoding | None = None
    min_frequency: Annotated[float, Field(ge=0.0)] | None = None
    max_categories: Annotated[int, Field(ge=1)] | None = None
    smoothing: Literal["auto"] | Annotated[float, Field(ge=0.0)] | None = None
    n_buckets: Annotated[int, Field(ge=1, le=1 << 20)] | None = None

    @model_validator(mode="after")
    def _check_pairs(self) -> FeatureSpec:
        if self.clip is not None and not self.clip[0] < self.clip[1]:
            raise ValueError(f"clip must be [low, high] quantiles with low < high; got {self.clip}")
        if self.range is not None and not self.range[0] <= self.range[1]:
            raise ValueError(f"range must be [min, max] with min <= max; got {self.range}")
        if self.impute == "constant" and self.fill_value is None:
            raise ValueError("impute: constant needs a fill_value")
        return self


class ResolvedFeature(_Strict):
    """A feature's preprocessing with every default filled in."""

    name: str
    kind: Literal["numeric", "categorical", "boolean"]
    impute: ImputeStrategy
    fill_value: float | str | bool | None
    missing_indicator: bool | Literal["auto"]
    clip: tuple[float, float] | None
    log1p: bool
    standardize: bool
    encoding: Encoding
    min_frequency: float
    max_categories: int | None
    smoothing: Literal["auto"] | float
    n_buckets: int


def resolve_feature(
    name: str,
    kind: Literal["numeric", "categorical", "boolean"],
    spec: FeatureSpec | None,
    defaults: PreprocessingDefaults,
    *,
    n_categories: int | None = None,
) -> ResolvedFeature:
    """Fill ``spec``'s unset fields from ``defaults`` for a feature of this ``kind``.

    A categorical feature with more than ``high_cardinality`` categories gets
    feature hashing unless it names an encoding.
    """
    spec = spec or FeatureSpec()
    num, cat = defaults.numeric, defaults.categorical

    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    encoding = spec.encoding
    if encoding is None:
        too_many = n_categories is not None and n_categories > cat.high_cardinality
        encoding = "hash" if too_many else cat.encoding
    default_impute = "most_frequent" if kind == "boolean" else num.impute
    impute = pick(spec.impute, default_impute if kind != "categorical" else "none")
    if spec.nullable is False:
        impute = "none"
    return ResolvedFeature(
        name=name,
        kind=kind,
        impute=impute,
        fill_value=spec.fill_value,
        missing_indicator=pick(spec.missing_indicator, num.missing_indicator),
        clip=pick(spec.clip, num.clip if kind == "numeric" else None),
        log1p=pick(spec.log1p, num.log1p if kind == "numeric" else False),
        standardize=pick(
            spec.standardize, cat.standardize if kind == "categorical" else num.standardize
        ),
        encoding=encoding,
        min_frequency=pick(spec.min_frequency, cat.min_frequency),
        max_categories=pick(spec.max_categories, cat.max_categories),
        smoothing=pick(spec.smoothing, cat.smoothing),
        n_buckets=pick(spec.n_buckets, cat.n_buckets),
    )
