"""The reference profile of training data, stored in the artifact for drift checks.

Numeric columns keep quantile bin edges and the share of training rows in
each bin; categorical columns keep category shares; both keep their missing
rate. Later windows of live traffic are binned on the same edges, which is
what PSI, chi-square and Jensen-Shannon compare.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow.compute as pc

from glmops._typing import FloatArray
from glmops.data.schema import CoercedTable, Schema

__all__ = ["OTHER", "bin_shares", "build_profile", "score_profile"]

OTHER = "__other__"


def _edges(values: FloatArray, weights: FloatArray | None, n_bins: int) -> FloatArray:
    """Return the distinct interior quantile edges of ``values`` (up to n_bins - 1)."""
    levels = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    if weights is None:
        q = np.quantile(values, levels, method="inverted_cdf")
    else:
        q = np.quantile(values, levels, weights=weights, method="inverted_cdf")
    return np.unique(q)


def _weighted_std(values: FloatArray, weights: FloatArray | None) -> float:
    if values.size == 0:
        return 0.0
    mean = np.average(values, weights=weights)
    return float(np.sqrt(np.average((values - mean) ** 2, weights=weights)))


def bin_shares(
    values: FloatArray, edges: FloatArray, weights: FloatArray | None = None
) -> FloatArray:
    """Return the (weighted) share of non-missing ``values`` in each bin of ``edges``.

    Bins are ``(-inf, e0], (e0, e1], ..., (e_last, inf)``: len(edges) + 1 of them.
    """
    present = ~np.isnan(values)
    idx = np.searchsorted(edges, values[present], side="left")
    w = weights[present] if weights is not None else None
    counts = np.bincount(idx, weights=w, minlength=len(edges) + 1).astype(np.float64)
    total = counts.sum()
    return counts / total if total > 0 else counts


def build_profile(
    data: CoercedTable,
    schema: Schema,
    *,
    sample_weight: FloatArray | None = None,
    n_bins: int = 10,
    max_categories: int = 50,
) -> dict[str, Any]:
    """Return the reference profile of the training rows (plain JSON values)."""
    features: dict[str, Any] = {}
    w = sample_weight
    w_total = float(w.sum()) if w is not None else float(data.n_rows)
    for col in schema.columns:
        if col.name in data.numeric:
            x = data.numeric[col.name]
            missing = np.isnan(x)
            present = x[~missing]
            pw = w[~missing] if w is not None else None
            edges = _edges(present, pw, n_bins) if present.size else np.zeros(0)
            miss_w = float(w[missing].sum()) if w is not None else float(missing.sum())
            features[col.name] = {
                "kind": col.kind,
                "edges": edges.tolist(),
                "shares": bin_shares(x, edges, w).tolist(),
                "missing_rate": miss_w / w_total if w_total > 0 else 0.0,
                "mean": float(np.average(present, weights=pw)) if present.size else 0.0,
                "std": _weighted_std(present, pw),
            }
        else:
            strings = data.categorical[col.name]
            is_null = np.asarray(pc.is_null(strings).to_numpy(zero_copy_only=False))
            encoded = pc.dictionary_encode(pc.drop_null(strings))
            values = [str(v) for v in encoded.dictionary.to_pylist()]
            codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.intp)
            pw = w[~is_null] if w is not None else None
            counts = np.bincount(codes, weights=pw, minlength=len(values)).astype(np.float64)
            order = sorted(range(len(values)), key=lambda i: (-counts[i], values[i]))
            kept = order[:max_categories]
            shares = {values[i]: counts[i] for i in kept}
            rest = float(sum(counts[i] for i in order[max_categories:]))
            if rest > 0:
                shares[OTHER] = rest
            total = float(counts.sum())
            miss_w = float(w[is_null].sum()) if w is not None else float(is_null.sum())
            features[col.name] = {
                "kind": "categorical",
                "categories": list(shares),
                "shares": [v / total if total > 0 else 0.0 for v in shares.values()],
                "missing_rate": miss_w / w_total if w_total > 0 else 0.0,
            }
    return {"n_rows": data.n_rows, "n_bins": n_bins, "features": features}


def score_profile(
    scores: FloatArray, *, sample_weight: FloatArray | None = None, n_bins: int = 10
) -> dict[str, Any]:
    """Return bin edges and shares of training scores (a probability or prediction)."""
    scores = np.asarray(scores, dtype=np.float64)
    edges = _edges(scores, sample_weight, n_bins)
    return {
        "edges": edges.tolist(),
        "shares": bin_shares(scores, edges, sample_weight).tolist(),
        "mean": float(np.average(scores, weights=sample_weight)),
    }
