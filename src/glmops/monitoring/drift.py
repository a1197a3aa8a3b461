"""Drift of one feature (or of the score) between the reference profile and a window.

The reference is the profile stored in the artifact (:mod:`glmops.data.profile`):
numeric columns keep interior quantile edges, the share of training rows in
each bin, the missing rate, mean and standard deviation; categorical columns
keep category shares (rare ones pooled under ``OTHER``) and the missing rate.
The raw training data are never needed: a window is binned on the same edges
and compared bin by bin.

Statistics (numeric / categorical):

* PSI, ``sum (w - r) ln(w / r)`` with both shares floored at ``PSI_FLOOR``
  (an empty bin would make it infinite); 0.1 warn and 0.25 alert by default.
* Jensen-Shannon distance (base 2, in [0, 1]) of the binned distributions.
* KS from the binned CDFs: ``D_b = max_k |F_ref(e_k) - F_win(e_k)|`` over the
  reference edges. The reference keeps only its quantiles, so this is the
  exact KS statistic evaluated at the edges: ``D_b <= D`` and
  ``D - D_b <= max_k max(r_k, w_k)`` (the CDFs move by at most a bin's share
  inside it). Its p-value uses the two-sample Kolmogorov distribution with
  ``n_ref * n_win / (n_ref + n_win)`` rows, so it is conservative.
* Wasserstein-1 of the binned distributions, each bin's mass at its midpoint
  (the two outer bins at one bin width beyond the last edge), divided by the
  reference standard deviation: "how many reference sigmas the mass moved".
* Chi-square test of homogeneity of the window's category counts and the
  reference's (shares times its rows: the reference is a sample too;
  categories the profile does not list go to its pooled ``OTHER`` bin, or to
  one extra "unseen" bin whose share is reported), and PSI over the same bins.
* Missing-rate drift for every feature: the window's missing count against
  the reference's, by Fisher's exact test.

p-values of many features are corrected together by Benjamini-Hochberg
(:func:`adjust_pvalues`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

from glmops._typing import FloatArray
from glmops.data.profile import OTHER, bin_shares

__all__ = [
    "PSI_ALERT",
    "PSI_FLOOR",
    "PSI_WARN",
    "FeatureDrift",
    "adjust_pvalues",
    "binned_ks",
    "binned_wasserstein",
    "categorical_drift",
    "js_distance",
    "missing_rate_pvalue",
    "numeric_drift",
    "psi",
    "psi_status",
]

#: a share below this counts as this in PSI (an empty bin would be infinite)
PSI_FLOOR = 1e-4
#: default PSI thresholds (the industry convention)
PSI_WARN = 0.1
PSI_ALERT = 0.25

Status = Literal["ok", "warn", "alert"]


@dataclass(frozen=True)
class FeatureDrift:
    """Drift statistics of one feature (or the score) in one window.

    ``p_value`` is the feature's distribution test (KS numeric, chi-square
    categorical) before any multiple-testing correction; ``missing_p_value``
    tests its missing rate. ``status`` comes from PSI alone (see
    :func:`psi_status`); callers combine it with corrected p-values.
    """

    feature: str
    kind: str
    n_window: int
    psi: float
    js_distance: float
    statistic: float
    p_value: float
    missing_rate_reference: float
    missing_rate_window: float
    missing_p_value: float
    status: Status
    wasserstein: float | None = None
    ks_bound: float | None = None
    unseen_share: float | None = None
    shares_reference: list[float] = field(default_factory=list)
    shares_window: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def psi(reference: FloatArray, window: FloatArray, floor: float = PSI_FLOOR) -> float:
    """Return the population stability index of two share vectors over the same bins."""
    r = np.maximum(np.asarray(reference, dtype=np.float64), floor)
    w = np.maximum(np.asarray(window, dtype=np.float64), floor)
    r, w = r / r.sum(), w / w.sum()
    return float(np.sum((w - r) * np.log(w / r)))


def psi_status(value: float, warn: float = PSI_WARN, alert: float = PSI_ALERT) -> Status:
    """Classify a PSI value against the warn and alert thresholds."""
    if value >= alert:
        return "alert"
    return "warn" if value >= warn else "ok"


def js_distance(reference: FloatArray, window: FloatArray) -> float:
    """Return the Jensen-Shannon distance (base 2, in [0, 1]) of two share vectors."""
    r = np.asarray(reference, dtype=np.float64)
    w = np.asarray(window, dtype=np.float64)
    if r.sum() <= 0 or w.sum() <= 0:
        return 0.0
    return float(jensenshannon(r, w, base=2.0))


def binned_ks(
    reference: FloatArray, window: FloatArray, n_reference: int, n_window: int
) -> tuple[float, float, float]:
    """Return ``(D_b, p_value, bound)``: KS at the reference edges (see the module docstring).

    ``bound`` is how far the exact statistic may exceed ``D_b``.
    """
    r = np.asarray(reference, dtype=np.float64)
    w = np.asarray(window, dtype=np.float64)
    d = float(np.max(np.abs(np.cumsum(r)[:-1] - np.cumsum(w)[:-1]), initial=0.0))
    bound = float(np.max(np.maximum(r, w), initial=0.0))
    if n_reference <= 0 or n_window <= 0:
        return d, 1.0, bound
    n_eff = max(1, round(n_reference * n_window / (n_reference + n_window)))
    return d, float(stats.kstwo.sf(d, n_eff)), bound


def binned_wasserstein(
    edges: FloatArray, reference: FloatArray, window: FloatArray, scale: float
) -> float:
    """Return W1 between binned distributions, in units of ``scale`` (the reference std)."""
    e = np.asarray(edges, dtype=np.float64)
    if e.size == 0 or not scale > 0:
        return 0.0
    width = float(np.diff(e).mean()) if e.size > 1 else scale
    points = np.concatenate([[e[0] - width], e, [e[-1] + width]])
    mids = 0.5 * (points[:-1] + points[1:])
    r = np.asarray(reference, dtype=np.float64)
    w = np.asarray(window, dtype=np.float64)
    if r.sum() <= 0 or w.sum() <= 0:
        return 0.0
    return float(stats.wasserstein_distance(mids, mids, r, w) / scale)


def missing_rate_pvalue(reference_rate: float, n_reference: int, n_missing: int, n: int) -> float:
    """Fisher's exact test: the window's missing count against the reference's.

    The reference rate is itself a sample of ``n_reference`` rows, so the two
    are compared as two samples (a one-sample test against the rate as if it
    were exact flags unshifted windows far too often).
    """
    if n <= 0 or n_reference <= 0:
        return 1.0
    ref_missing = round(min(max(reference_rate, 0.0), 1.0) * n_reference)
    table = [[ref_missing, n_reference - ref_missing], [n_missing, n - n_missing]]
    return float(stats.fisher_exact(table).pvalue)


def numeric_drift(
    feature: str,
    reference: Mapping[str, Any],
    values: FloatArray,
    *,
    n_reference: int,
    psi_warn: float = PSI_WARN,
    psi_alert: float = PSI_ALERT,
) -> FeatureDrift:
    """Compare a window of numeric values (NaN = missing) with the feature's profile."""
    x = np.asarray(values, dtype=np.float64)
    edges = np.asarray(reference["edges"], dtype=np.float64)
    ref_shares = np.asarray(reference["shares"], dtype=np.float64)
    missing = np.isnan(x)
    n_present = int(x.size - missing.sum())
    win_shares = bin_shares(x, edges) if n_present else np.zeros_like(ref_shares)
    ref_missing = float(reference.get("missing_rate", 0.0))
    n_ref_present = round(n_reference * (1.0 - ref_missing))
    value = psi(ref_shares, win_shares) if n_present else 0.0
    d, p_value, bound = binned_ks(ref_shares, win_shares, n_ref_present, n_present)
    return FeatureDrift(
        feature=feature,
        kind=str(reference.get("kind", "numeric")),
        n_window=int(x.size),
        psi=value,
        js_distance=js_distance(ref_shares, win_shares),
        statistic=d,
        p_value=p_value,
        missing_rate_reference=ref_missing,
        missing_rate_window=float(missing.mean()) if x.size else 0.0,
        missing_p_value=missing_rate_pvalue(
            ref_missing, n_reference, int(missing.sum()), int(x.size)
        ),
        status=psi_status(value, psi_warn, psi_alert),
        wasserstein=binned_wasserstein(
            edges, ref_shares, win_shares, float(reference.get("std", 0.0))
        ),
        ks_bound=bound,
        shares_reference=ref_shares.tolist(),
        shares_window=win_shares.tolist(),
    )


def categorical_drift(
    feature: str,
    reference: Mapping[str, Any],
    values: Sequence[str | None],
    *,
    n_reference: int,
    psi_warn: float = PSI_WARN,
    psi_alert: float = PSI_ALERT,
) -> FeatureDrift:
    """Compare a window of category labels (None = missing) with the feature's profile.

    A category the reference does not list goes to its ``OTHER`` bin when
    the reference pooled rare categories there (the profile cannot tell a
    rare one from a new one), else to one extra "unseen" bin absent from the
    reference, so a new category is drift in both PSI and chi-square.
    """
    categories = [str(c) for c in reference["categories"]]
    index = {c: i for i, c in enumerate(categories)}
    pooled = index.get(OTHER)
    counts = np.zeros(len(categories) + 1)
    n_missing = 0
    for label in values:
        if label is None:
            n_missing += 1
            continue
        i = index.get(str(label))
        if i is None:
            i = len(categories) if pooled is None else pooled
        counts[i] += 1
    n = len(values)
    n_present = n - n_missing
    ref_shares = np.append(np.asarray(reference["shares"], dtype=np.float64), 0.0)
    win_shares = counts / n_present if n_present else np.zeros_like(counts)
    ref_missing = float(reference.get("missing_rate", 0.0))
    n_ref_present = round(n_reference * (1.0 - ref_missing))
    if n_present and n_ref_present:
        # homogeneity of two samples (the reference shares are a sample too)
        table = np.vstack([ref_shares * n_ref_present, counts])
        table = table[:, table.sum(axis=0) > 0]
        chi2, p_value = stats.chi2_contingency(table, correction=False)[:2]
        value = psi(ref_shares, win_shares)
    else:
        chi2, p_value, value = 0.0, 1.0, 0.0
    return FeatureDrift(
        feature=feature,
        kind="categorical",
        n_window=n,
        psi=value,
        js_distance=js_distance(ref_shares, win_shares),
        statistic=float(chi2),
        p_value=float(p_value),
        missing_rate_reference=ref_missing,
        missing_rate_window=n_missing / n if n else 0.0,
        missing_p_value=missing_rate_pvalue(ref_missing, n_reference, n_missing, n),
        status=psi_status(value, psi_warn, psi_alert),
        unseen_share=float(win_shares[-1]),
        shares_reference=ref_shares.tolist(),
        shares_window=win_shares.tolist(),
    )


def adjust_pvalues(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the same order."""
    if not p_values:
        return []
    p = np.clip(np.asarray(p_values, dtype=np.float64), 0.0, 1.0)
    adjusted: FloatArray = stats.false_discovery_control(p, method="bh")
    return [float(v) if math.isfinite(v) else 1.0 for v in adjusted]
