"""Data in: readers, the feature manifest (schema), preprocessing, the reference profile.

Training, batch scoring and serving all go through this package, so the
feature logic exists once (train/serve parity). Names are imported on first
use: loading a model needs the fitted pipeline, not the fitting code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glmops.data.fitting import fit_preprocessor
    from glmops.data.preprocessing import Preprocessor
    from glmops.data.profile import build_profile, score_profile
    from glmops.data.readers import as_table, iter_batches, read_table
    from glmops.data.schema import ColumnSchema, Schema, Violation, coerce_table, infer_schema
    from glmops.data.spec import FeatureSpec, PreprocessingDefaults, resolve_feature

_WHERE = {
    "ColumnSchema": "schema",
    "FeatureSpec": "spec",
    "Preprocessor": "preprocessing",
    "PreprocessingDefaults": "spec",
    "Schema": "schema",
    "Violation": "schema",
    "as_table": "readers",
    "build_profile": "profile",
    "coerce_table": "schema",
    "fit_preprocessor": "fitting",
    "infer_schema": "schema",
    "iter_batches": "readers",
    "read_table": "readers",
    "resolve_feature": "spec",
    "score_profile": "profile",
}

__all__ = [
    "ColumnSchema",
    "FeatureSpec",
    "PreprocessingDefaults",
    "Preprocessor",
    "Schema",
    "Violation",
    "as_table",
    "build_profile",
    "coerce_table",
    "fit_preprocessor",
    "infer_schema",
    "iter_batches",
    "read_table",
    "resolve_feature",
    "score_profile",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'glmops.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"glmops.data.{module}"), name)
