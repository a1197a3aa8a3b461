"""A self-contained HTML report of one fitted model.

:func:`render_html_report` turns a :class:`ReportData` into one HTML page:
inline CSS, figures as base64 PNG, no script and no external reference, so
it opens offline and can be archived next to the model. A section appears
only when its data is given. The same input renders to the same bytes: the
PNGs carry no timestamp or software tag and subsamples use a fixed seed.

Figures are drawn with matplotlib's Agg canvas on :class:`matplotlib.figure.Figure`
objects (no pyplot, no global backend switch); matplotlib is imported only
when a figure is drawn.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from glmops._extras import require
from glmops._validation import check_sample_weight
from glmops.errors import InvalidInputError
from glmops.evaluation._checks import as_float_vector, class_indices, json_label
from glmops.evaluation.metrics import (
    _binary_auc,
    _check_classes,
    _check_proba,
    _positive_index,
    calibration_table,
    expected_calibration_error,
    score_distribution,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CVData",
    "CoefData",
    "PathData",
    "ReportData",
    "render_html_report",
    "write_report",
]

logger = logging.getLogger(__name__)

TASKS = ("regression", "binary", "multinomial")
_DPI = 100
_MAX_SCATTER = 5000
_TOP_PATH = 10
_TOP_BARS = 30
_MAX_PANELS = 12
_LABEL_CHARS = 40
Float64Array = npt.NDArray[np.float64]


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PathData:
    """Coefficients along the regularisation path.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,)
        Penalty strengths, positive.
    coefs : array-like of shape (n_alphas, n_features) or (n_alphas, K, n_features)
        Coefficients at each alpha (one row per class for multinomial).
    feature_names : sequence of str of length n_features
        Feature names.
    chosen_alpha : float or None, default=None
        The selected alpha, drawn as a vertical line.
    class_names : sequence of str or None, default=None
        Panel titles for 3-d ``coefs``; the report's classes when None.
    """

    alphas: npt.ArrayLike
    coefs: npt.ArrayLike
    feature_names: Sequence[str]
    chosen_alpha: float | None = None
    class_names: Sequence[str] | None = None


@dataclass(frozen=True)
class CVData:
    """Cross-validated score over the (l1_ratio, alpha) grid.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,) or (n_l1, n_alphas)
        Penalty strengths, positive: one grid shared by every l1_ratio, or
        one grid per l1_ratio (as scikit-learn's ``ElasticNetCV.alphas_``).
    l1_ratios : array-like of shape (n_l1,)
        L1 shares of the penalty.
    mean : array-like of shape (n_l1, n_alphas)
        Mean score over the folds.
    std_error : array-like of shape (n_l1, n_alphas)
        Standard error of the mean score.
    score_name : str, default="score"
        Name of the score (axis label).
    greater_is_better : bool, default=False
        Whether larger scores are better.
    chosen_alpha : float or None, default=None
        The selected alpha.
    chosen_l1_ratio : float or None, default=None
        The selected l1_ratio.
    alpha_1se : float or None, default=None
        The largest alpha within one standard error of the best.
    """

    alphas: npt.ArrayLike
    l1_ratios: npt.ArrayLike
    mean: npt.ArrayLike
    std_error: npt.ArrayLike
    score_name: str = "score"
    greater_is_better: bool = False
    chosen_alpha: float | None = None
    chosen_l1_ratio: float | None = None
    alpha_1se: float | None = None


@dataclass(frozen=True)
class CoefData:
    """Fitted coefficients on the original feature scale, with their stability.

    Parameters
    ----------
    feature_names : sequence of str of length n_features
        Feature names.
    values : array-like of shape (n_features,) or (K, n_features)
        Coefficients (one row per class for multinomial).
    selection_frequency : array-like of the shape of ``values``, or None
        Share of bootstrap resamples selecting each coefficient.
    sign_flips : array-like of the shape of ``values``, or None
        Share of resamples where the coefficient's sign flips.
    class_names : sequence of str or None, default=None
        Names of the rows of 2-d ``values``; the report's classes when None.
    """

    feature_names: Sequence[str]
    values: npt.ArrayLike
    selection_frequency: npt.ArrayLike | None = None
    sign_flips: npt.ArrayLike | None = None
    class_names: Sequence[str] | None = None


@dataclass
class ReportData:
    """Everything a model report shows; each optional part adds its section.

    Parameters
    ----------
    title : str
        Page title.
    task : {"regression", "binary", "multinomial"}
        The model's task.
    model_name : str, default=""
        Model name shown under the title.
    created : str, default=""
        Free text, e.g. the training date.
    summary : dict, default={}
        Key facts (alpha, l1_ratio, n_features, rows...) shown in a table.
    metrics : dict, default={}
        ``{split: metrics_dict}`` from :func:`~glmops.evaluation.regression_metrics`
        or :func:`~glmops.evaluation.classification_metrics`; scalars go in one
        table with a column per split, confusion matrices and per-class
        metrics in their own tables.
    path : PathData or None, default=None
        Coefficient paths.
    cv : CVData or None, default=None
        Cross-validation curves.
    coefficients : CoefData or None, default=None
        Final coefficients and their bootstrap stability.
    y_true : array-like of shape (n,) or None, default=None
        Holdout labels (classification) or targets (regression).
    proba : array-like of shape (n, K) or None, default=None
        Holdout class probabilities, columns in the order of ``classes``.
    classes : sequence or None, default=None
        Class labels of the columns of ``proba``.
    positive_class : label or None, default=None
        Binary positive class; ``classes[1]`` when None.
    threshold : float, default=0.5
        Binary decision threshold (positive when the probability exceeds it).
    y_pred : array-like of shape (n,) or None, default=None
        Holdout predictions (regression).
    sample_weight : array-like of shape (n,) or None, default=None
        Holdout row weights for the holdout figures.
    model_card_markdown : str or None, default=None
        Model card, rendered at the end.
    notes : list of str, default=[]
        Warnings shown at the top (e.g. leakage).
    """

    title: str
    task: str
    model_name: str = ""
    created: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: PathData | None = None
    cv: CVData | None = None
    coefficients: CoefData | None = None
    y_true: npt.ArrayLike | None = None
    proba: npt.ArrayLike | None = None
    classes: Sequence[Any] | None = None
    positive_class: Any = None
    threshold: float = 0.5
    y_pred: npt.ArrayLike | None = None
    sample_weight: npt.ArrayLike | None = None
    model_card_markdown: str | None = None
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------
# HTML helpers
# --------------------------------------------------------------------------

_SCHEME = re.compile(r"(?i)\b(https?|ftp|file|javascript|data|mailto|ws|wss)(:)")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0 auto;max-width:1100px;padding:1.5rem;color:#1f2328;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
.meta{color:#57606a;margin-top:0}
.notes{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:.5rem 1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}
thead th{background:#f6f8fa}
figure{margin:1rem 0}figure img{max-width:100%;height:auto}
figcaption{color:#57606a;font-size:.85rem}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto}
.card{border:1px solid #d0d7de;border-radius:6px;padding:0 1rem}
"""


def _esc(value: Any) -> str:
    """Return ``value`` as HTML-escaped text; URL schemes are defanged (``http&#58;``)."""
    return _SCHEME.sub(r"\1&#58;", html.escape(str(value), quote=True))


def _fmt(value: Any) -> str:
    """Return a table cell's text for a scalar (floats to 4 significant digits)."""
    if value is None:
        return "&mdash;"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        return "NaN" if math.isnan(v) else _esc(f"{v:.4g}")
    return _esc(value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | np.generic)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], table_id: str = "") -> str:
    """Return an HTML table; cells are already-escaped HTML."""
    attr = f' id="{_esc(table_id)}"' if table_id else ""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return the scalars of ``mapping`` and of its dicts of scalars as ``key.sub``."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if _is_scalar(value):
            out[name] = value
        elif isinstance(value, Mapping) and all(_is_scalar(v) for v in value.values()):
            out.update(_flatten(value, prefix=f"{name}."))
    return out


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="section-{section_id}"><h2>{_esc(title)}</h2>\n{body}\n</section>'


# --------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------


@contextmanager
def _quiet_glyphs() -> Iterator[None]:
    """Silence matplotlib's missing-glyph warnings (feature names in other scripts)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from", category=UserWarning)
        yield


def _new_figure(width: float = 7.0, height: float = 4.0) -> Figure:
    """Return a Figure on an Agg canvas (no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _figure_html(fig: Figure, fig_id: str, alt: str, caption: str) -> str:
    """Return ``fig`` as a ``<figure>`` with an inline PNG (no timestamp, no software tag)."""
    buf = io.BytesIO()
    with _quiet_glyphs():
        fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        f'<figure><img id="fig-{fig_id}" src="data:image/png;base64,{data}" alt="{_esc(alt)}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _mpl_text(text: Any) -> str:
    """Return a label safe for matplotlib: short, and ``$`` not read as mathtext."""
    s = str(text)
    if len(s) > _LABEL_CHARS:
        s = s[: _LABEL_CHARS - 1] + "…"
    return s.replace("$", r"\$")


def _grid(
    n_panels: int, width: float = 7.0, panel_height: float = 2.6
) -> tuple[Figure, list[Axes]]:
    """Return a figure with ``n_panels`` axes in up to 3 columns."""
    ncols = min(n_panels, 3)
    nrows = math.ceil(n_panels / ncols)
    fig = _new_figure(width, max(3.0, panel_height * nrows + 0.6))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def _nearest(values: Float64Array, target: float) -> int:
    if np.all(values > 0) and target > 0:
        return int(np.argmin(np.abs(np.log(values) - math.log(target))))
    return int(np.argmin(np.abs(values - target)))


def _path_figure(path: PathData, class_names: Sequence[Any] | None) -> str:
    from matplotlib.collections import LineCollection

    alphas = as_float_vector(path.alphas, "path.alphas")
    coefs = np.asarray(path.coefs, dtype=np.float64)
    names = [str(f) for f in path.feature_names]
    if coefs.ndim not in (2, 3) or coefs.shape[0] != alphas.shape[0]:
        raise InvalidInputError(
            f"path.coefs must have shape ({alphas.shape[0]}, [K,] n_features); got {coefs.shape}.",
            field="path.coefs",
            expected=f"({alphas.shape[0]}, [K,] n_features)",
            got=coefs.shape,
        )
    if coefs.shape[-1] != len(names):
        raise InvalidInputError(
            f"path.feature_names has {len(names)} names for {coefs.shape[-1]} features.",
            field="path.feature_names",
            expected=f"{coefs.shape[-1]} names",
            got=len(names),
        )
    panels = [coefs] if coefs.ndim == 2 else [coefs[:, k, :] for k in range(coefs.shape[1])]
    titles: list[str] = []
    if coefs.ndim == 3:
        given = path.class_names if path.class_names is not None else class_names
        given_list = list(given) if given is not None else []
        titles = [
            str(given_list[k]) if k < len(given_list) else f"class {k}"
            for k in range(coefs.shape[1])
        ]
    panels = panels[:_MAX_PANELS]
    log_x = bool(np.all(alphas > 0))
    at = (
        _nearest(alphas, float(path.chosen_alpha))
        if path.chosen_alpha is not None
        else int(np.argmin(alphas))
    )
    if len(panels) == 1:
        fig = _new_figure()
        axes = [fig.add_subplot()]
    else:
        fig, axes = _grid(len(panels))
    for k, (ax, C) in enumerate(zip(axes, panels, strict=True)):
        peak = np.max(np.abs(C), axis=0)
        order = np.lexsort((-peak, -np.abs(C[at])))
        top = [int(j) for j in order[:_TOP_PATH] if peak[j] > 0]
        rest = np.setdiff1d(np.arange(C.shape[1]), top)
        if rest.size:
            segments = np.stack([np.broadcast_to(alphas, C[:, rest].T.shape), C[:, rest].T], -1)
            ax.add_collection(LineCollection(list(segments), colors="0.75", linewidths=0.6))
        for i, j in enumerate(top):
            ax.plot(alphas, C[:, j], color=f"C{i % 10}", lw=1.3, label=_mpl_text(names[j]))
        if path.chosen_alpha is not None:
            ax.axvline(float(path.chosen_alpha), color="k", ls="--", lw=0.9)
        if log_x:
            ax.set_xscale("log")
        ax.set_xlim(float(alphas.min()), float(alphas.max()))
        lo, hi = float(C.min()), float(C.max())
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        ax.set_ylim(lo - pad, hi + pad)
        ax.axhline(0.0, color="0.4", lw=0.6)
        ax.set_xlabel("alpha (log scale)" if log_x else "alpha")
        if titles:
            ax.set_title(_mpl_text(titles[k]), fontsize=9)
        else:
            ax.set_ylabel("coefficient")
        if top:
            ax.legend(loc="upper right", fontsize=6 if titles else 7, frameon=False)
    caption = (
        "Coefficient paths against alpha; the 10 largest coefficients at the chosen alpha "
        "are labelled, the others grey. Dashed line: chosen alpha."
    )
    if coefs.ndim == 3 and coefs.shape[1] > _MAX_PANELS:
        caption += f" First {_MAX_PANELS} of {coefs.shape[1]} classes shown."
    return _figure_html(fig, "path", "Coefficient paths", caption)


def _cv_figure(cv: CVData) -> str:
    l1 = np.atleast_1d(np.asarray(cv.l1_ratios, dtype=np.float64))
    mean = np.atleast_2d(np.asarray(cv.mean, dtype=np.float64))
    se = np.atleast_2d(np.asarray(cv.std_error, dtype=np.float64))
    grid = np.asarray(cv.alphas, dtype=np.float64)
    if grid.ndim == 1:
        grid = np.broadcast_to(grid, (l1.shape[0], grid.shape[0]))
    shape = (l1.shape[0], mean.shape[-1])
    if not np.all(np.isfinite(grid)):
        raise InvalidInputError(
            "cv.alphas must be finite.", field="cv.alphas", expected="finite values", got="NaN/inf"
        )
    for name, arr in (("cv.alphas", grid), ("cv.mean", mean), ("cv.std_error", se)):
        if arr.shape != shape:
            raise InvalidInputError(
                f"{name} must have shape {shape}; got {arr.shape}.",
                field=name,
                expected=f"shape {shape}",
                got=arr.shape,
            )
    fig = _new_figure()
    ax = fig.add_subplot()
    for i, ratio in enumerate(l1):
        color = f"C{i % 10}"
        x = grid[i]
        ax.plot(x, mean[i], color=color, lw=1.3, label=f"l1_ratio = {ratio:g}")
        ax.fill_between(x, mean[i] - se[i], mean[i] + se[i], color=color, alpha=0.2, lw=0)
    if cv.chosen_alpha is not None:
        ax.axvline(float(cv.chosen_alpha), color="k", ls="-", lw=0.9, label="chosen alpha")
        if cv.chosen_l1_ratio is not None:
            row = int(np.argmin(np.abs(l1 - float(cv.chosen_l1_ratio))))
            col = _nearest(grid[row], float(cv.chosen_alpha))
            ax.plot([grid[row, col]], [mean[row, col]], "o", color="k", ms=5)
    if cv.alpha_1se is not None:
        ax.axvline(float(cv.alpha_1se), color="0.35", ls="--", lw=0.9, label="1-SE alpha")
    if np.all(grid > 0):
        ax.set_xscale("log")
        ax.set_xlabel("alpha (log scale)")
    else:
        ax.set_xlabel("alpha")
    better = "higher" if cv.greater_is_better else "lower"
    ax.set_ylabel(_mpl_text(f"{cv.score_name} ({better} is better)"))
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    return _figure_html(
        fig,
        "cv",
        "Cross-validation curves",
        "Mean cross-validated score per l1_ratio with a band of ±1 standard error; "
        "solid line: chosen alpha, dashed: largest alpha within one standard error.",
    )


def _coef_arrays(
    coef: CoefData,
) -> tuple[Float64Array, Float64Array | None, Float64Array | None, list[str]]:
    """Return values, frequencies and flips as (K, p) arrays, plus feature names."""
    values = np.asarray(coef.values, dtype=np.float64)
    names = [str(f) for f in coef.feature_names]
    if values.ndim not in (1, 2) or values.shape[-1] != len(names):
        raise InvalidInputError(
            f"coefficients.values must have shape ({len(names)},) or (K, {len(names)}); "
            f"got {values.shape}.",
            field="coefficients.values",
            expected=f"({len(names)},) or (K, {len(names)})",
            got=values.shape,
        )
    extras: list[Float64Array | None] = []
    for name, given in (
        ("selection_frequency", coef.selection_frequency),
        ("sign_flips", coef.sign_flips),
    ):
        if given is None:
            extras.append(None)
            continue
        arr = np.asarray(given, dtype=np.float64)
        if arr.shape != values.shape:
            raise InvalidInputError(
                f"coefficients.{name} must have shape {values.shape}; got {arr.shape}.",
                field=f"coefficients.{name}",
                expected=f"shape {values.shape}",
                got=arr.shape,
            )
        extras.append(np.atleast_2d(arr))
    return np.atleast_2d(values), extras[0], extras[1], names


def _coefficient_section(coef: CoefData, class_names: Sequence[Any] | None) -> str:
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    values, freq, flips, names = _coef_arrays(coef)
    n_rows = values.shape[0]
    multi = np.asarray(coef.values).ndim == 2
    given = coef.class_names if coef.class_names is not None else class_names
    given_list = list(given) if given is not None else []
    row_names = [str(given_list[k]) if k < len(given_list) else f"class {k}" for k in range(n_rows)]
    size = np.max(np.abs(values), axis=0)
    nonzero = np.flatnonzero(size > 0)
    order = nonzero[np.argsort(-size[nonzero], kind="stable")]
    if order.size == 0:
        return _section("coefficients", "Coefficients", "<p>All coefficients are zero.</p>")
    top = order[:_TOP_BARS][::-1]  # largest at the top of the chart
    fig = _new_figure(7.0, max(3.0, 0.24 * top.size * (1 + 0.3 * (n_rows - 1)) + 1.0))
    ax = fig.add_subplot()
    cmap = colormaps["viridis"]
    height = 0.8 / n_rows
    for k in range(n_rows):
        pos = np.arange(top.size) + (k - (n_rows - 1) / 2) * height
        if freq is not None and not multi:
            colors: Any = cmap(freq[0, top])
        else:
            colors = f"C{k % 10}"
        bars = ax.barh(
            pos, values[k, top], height=height, color=colors, label=_mpl_text(row_names[k])
        )
        if freq is not None and multi:
            for bar, f in zip(bars, freq[k, top], strict=True):
                bar.set_alpha(0.3 + 0.7 * float(f))
    labels = []
    for j in top:
        flipped = flips is not None and bool(np.any(flips[:, j] > 0))
        labels.append(_mpl_text(names[j]) + (" *" if flipped else ""))
    ax.set_yticks(np.arange(top.size), labels, fontsize=7)
    ax.axvline(0.0, color="0.4", lw=0.6)
    ax.set_xlabel("coefficient (original feature scale)")
    if freq is not None and not multi:
        fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), cmap), ax=ax, label="selection frequency")
    if multi:
        ax.legend(loc="lower right", fontsize=7, frameon=False)
    caption = f"The {top.size} largest of {order.size} nonzero coefficients by absolute value."
    if freq is not None:
        caption += (
            " Colour: bootstrap selection frequency."
            if not multi
            else " Opacity: bootstrap selection frequency."
        )
    if flips is not None:
        caption += " *: the sign flips in some resamples."
    figure = _figure_html(fig, "coefficients", "Largest coefficients", caption)

    header = ["#", "feature"]
    header += [f"coef ({_esc(r)})" for r in row_names] if multi else ["coef"]
    if freq is not None:
        header += [f"selected ({_esc(r)})" for r in row_names] if multi else ["selected"]
    if flips is not None:
        header += [f"sign flips ({_esc(r)})" for r in row_names] if multi else ["sign flips"]
    rows = []
    for rank, j in enumerate(order, start=1):
        row = [str(rank), _esc(names[j])]
        row += [_fmt(float(v)) for v in values[:, j]]
        if freq is not None:
            row += [_fmt(float(v)) for v in freq[:, j]]
        if flips is not None:
            row += [_fmt(float(v)) for v in flips[:, j]]
        rows.append(row)
    body = figure + f"<h3>Nonzero coefficients ({order.size})</h3>"
    return _section(
        "coefficients", "Coefficients", body + _table(header, rows, "table-coefficients")
    )


@dataclass(frozen=True)
class _Holdout:
    """Validated classification holdout: class indices, probabilities, weights."""

    y_idx: npt.NDArray[np.intp]
    P: Float64Array
    labels: list[Any]
    w: Float64Array | None
    pos: int
    threshold: float

    @property
    def unit(self) -> Float64Array:
        return np.ones(self.y_idx.shape[0]) if self.w is None else self.w

    def one_vs_rest(self) -> list[tuple[str, npt.NDArray[np.int64], Float64Array]]:
        """Return (name, 0/1 labels, scores) per curve: one for binary, K for multinomial."""
        if len(self.labels) == 2:
            y = (self.y_idx == self.pos).astype(np.int64)
            return [(str(json_label(self.labels[self.pos])), y, self.P[:, self.pos])]
        return [
            (str(json_label(c)), (self.y_idx == k).astype(np.int64), self.P[:, k])
            for k, c in enumerate(self.labels)
        ][:_MAX_PANELS]


def _operating_point(
    y: npt.NDArray[np.int64], p: Float64Array, w: Float64Array, t: float
) -> tuple[float, float, float]:
    """Return (fpr, tpr, precision) when predicting positive for ``p > t``."""
    pred = p > t
    tp = float(w[pred & (y == 1)].sum())
    fp = float(w[pred & (y == 0)].sum())
    pos = float(w[y == 1].sum())
    neg = float(w[y == 0].sum())
    fpr = fp / neg if neg > 0 else math.nan
    tpr = tp / pos if pos > 0 else math.nan
    precision = tp / (tp + fp) if tp + fp > 0 else math.nan
    return fpr, tpr, precision


def _calibration_figure(h: _Holdout) -> str:
    fig = _new_figure(7.0, 5.0)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], ls="--", color="0.5", lw=0.9, label="perfect")
    edges = np.linspace(0.0, 1.0, 31)
    curves = h.one_vs_rest()
    for i, (name, y, p) in enumerate(curves):
        table = calibration_table(y, p, n_bins=10, sample_weight=h.w)
        ece = expected_calibration_error(y, p, n_bins=10, sample_weight=h.w)
        color = f"C{i % 10}"
        top.plot(
            table["mean_predicted"],
            table["fraction_positive"],
            "o-",
            color=color,
            ms=4,
            lw=1.2,
            label=_mpl_text(f"{name} (ECE {ece:.3f})"),
        )
        hist, _ = np.histogram(p, bins=edges, weights=h.unit)
        bottom.stairs(hist, edges, color=color, lw=1.0)
    top.set_xlim(0.0, 1.0)
    top.set_ylim(0.0, 1.0)
    top.set_ylabel("observed fraction positive")
    top.legend(loc="upper left", fontsize=7, frameon=False)
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("rows" if h.w is None else "weight")
    what = "the positive class" if len(h.labels) == 2 else "each class against the rest"
    return _figure_html(
        fig,
        "calibration",
        "Calibration curve",
        f"Calibration of {what} on 10 equal-mass bins (each holds about the same weight), "
        "with the diagonal of perfect calibration; below, the histogram of predictions.",
    )


def _roc_figure(h: _Holdout) -> str:
    from sklearn.metrics import roc_curve

    fig = _new_figure(5.5, 4.5)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=0.9)
    binary = len(h.labels) == 2
    drawn = 0
    for i, (name, y, p) in enumerate(h.one_vs_rest()):
        auc, _ = _binary_auc(y, p, h.w)
        if math.isnan(auc):
            continue
        fpr, tpr, _ = roc_curve(y, p, sample_weight=h.w)
        ax.plot(fpr, tpr, color=f"C{i % 10}", lw=1.3, label=_mpl_text(f"{name} (AUC {auc:.3f})"))
        drawn += 1
        if binary:
            op_fpr, op_tpr, _ = _operating_point(y, p, h.unit, h.threshold)
            ax.plot([op_fpr], [op_tpr], "o", color="k", ms=6, label=f"threshold {h.threshold:g}")
    if not drawn:
        ax.text(0.5, 0.5, "undefined: a class is missing", ha="center", va="center")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    if drawn:
        ax.legend(loc="lower right", fontsize=7, frameon=False)
    caption = (
        f"ROC curve; the dot is the operating point at threshold {h.threshold:g}."
        if binary
        else "One-vs-rest ROC curve per class."
    )
    return _figure_html(fig, "roc", "ROC curve", caption)


def _pr_figure(h: _Holdout) -> str:
    from sklearn.metrics import precision_recall_curve

    fig = _new_figure(5.5, 4.5)
    ax = fig.add_subplot()
    binary = len(h.labels) == 2
    drawn = 0
    for i, (name, y, p) in enumerate(h.one_vs_rest()):
        _, ap = _binary_auc(y, p, h.w)
        if math.isnan(ap):
            continue
        precision, recall, _ = precision_recall_curve(y, p, sample_weight=h.w)
        color = f"C{i % 10}"
        ax.step(
            recall,
            precision,
            where="post",
            color=color,
            lw=1.3,
            label=_mpl_text(f"{name} (AP {ap:.3f})"),
        )
        drawn += 1
        if binary:
            prevalence = float(h.unit[y == 1].sum() / h.unit.sum())
            ax.axhline(prevalence, ls="--", color="0.5", lw=0.9, label="prevalence")
            _, op_recall, op_precision = _operating_point(y, p, h.unit, h.threshold)
            if not math.isnan(op_precision):
                ax.plot(
                    [op_recall],
                    [op_precision],
                    "o",
                    color="k",
                    ms=6,
                    label=f"threshold {h.threshold:g}",
                )
    if not drawn:
        ax.text(0.5, 0.5, "undefined: no positive rows", ha="center", va="center")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    if drawn:
        ax.legend(loc="lower left", fontsize=7, frameon=False)
    caption = (
        f"Precision-recall curve (AP: average precision); the dot is the operating point at "
        f"threshold {h.threshold:g}."
        if binary
        else "One-vs-rest precision-recall curve per class."
    )
    return _figure_html(fig, "pr", "Precision-recall curve", caption)


def _score_figure(h: _Holdout) -> str:
    if len(h.labels) == 2:
        fig = _new_figure()
        ax = fig.add_subplot()
        dist = score_distribution(
            h.y_idx, h.P[:, h.pos], list(range(2)), n_bins=30, sample_weight=h.w
        )
        for k in range(2):
            if not math.isnan(dist["shares"][k][0]):
                label = _mpl_text(f"true {json_label(h.labels[k])}")
                ax.stairs(dist["shares"][k], dist["edges"], color=f"C{k}", lw=1.3, label=label)
        ax.axvline(h.threshold, color="k", ls="--", lw=0.9)
        ax.set_xlabel(_mpl_text(f"P({json_label(h.labels[h.pos])})"))
        ax.set_ylabel("share of class")
        ax.legend(loc="upper center", fontsize=7, frameon=False)
        caption = (
            "Distribution of the positive class's probability per true class "
            "(each histogram sums to 1); dashed: the threshold."
        )
    else:
        curves = h.one_vs_rest()
        fig, axes = _grid(len(curves))
        for ax, (name, y, p) in zip(axes, curves, strict=True):
            dist = score_distribution(y, p, [0, 1], n_bins=30, sample_weight=h.w)
            for k, label in ((0, "rest"), (1, _mpl_text(name))):
                if not math.isnan(dist["shares"][k][0]):
                    ax.stairs(dist["shares"][k], dist["edges"], color=f"C{k}", lw=1.1, label=label)
            ax.set_title(_mpl_text(f"P({name})"), fontsize=9)
            ax.legend(loc="upper center", fontsize=6, frameon=False)
        caption = (
            "Per class: distribution of its probability for rows of that class and for "
            "the rest (each histogram sums to 1)."
        )
    return _figure_html(fig, "score-distribution", "Score distribution by class", caption)


def _classification_section(data: ReportData) -> str:
    labels = _check_classes(data.classes if data.classes is not None else [])
    y_idx = class_indices(data.y_true, labels)
    if (data.task == "binary") != (len(labels) == 2):
        raise InvalidInputError(
            f"task {data.task!r} does not match {len(labels)} classes.",
            field="classes",
            expected="2 classes for binary, 3 or more for multinomial",
            got=len(labels),
        )
    h = _Holdout(
        y_idx=y_idx,
        P=_check_proba(data.proba if data.proba is not None else [], y_idx.shape[0], len(labels)),
        labels=labels,
        w=check_sample_weight(data.sample_weight, y_idx.shape[0]),
        pos=_positive_index(labels, data.positive_class) if len(labels) == 2 else 0,
        threshold=float(data.threshold),
    )
    body = "\n".join([_calibration_figure(h), _roc_figure(h), _pr_figure(h), _score_figure(h)])
    return _section("holdout", "Holdout diagnostics", body)


def _regression_section(data: ReportData) -> str:
    y = as_float_vector(data.y_true, "y_true")
    p = as_float_vector(data.y_pred, "y_pred", y.shape[0])
    w = check_sample_weight(data.sample_weight, y.shape[0])
    resid = y - p
    n = y.shape[0]
    rows = np.arange(n)
    if n > _MAX_SCATTER:
        rows = np.sort(np.random.default_rng(0).choice(n, _MAX_SCATTER, replace=False))
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.scatter(p[rows], resid[rows], s=6, alpha=0.4, color="C0", linewidths=0)
    ax.axhline(0.0, color="k", lw=0.9)
    ax.set_xlabel("fitted value")
    ax.set_ylabel("residual (observed - fitted)")
    shown = (
        f"{rows.size} of {n} rows, drawn at random with a fixed seed"
        if n > rows.size
        else f"all {n} rows"
    )
    scatter = _figure_html(
        fig,
        "residuals",
        "Residuals against fitted values",
        f"Residuals against fitted values ({shown}).",
    )
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.hist(resid, bins=50, weights=w, color="C0", alpha=0.8)
    ax.axvline(0.0, color="k", lw=0.9)
    ax.set_xlabel("residual (observed - fitted)")
    ax.set_ylabel("rows" if w is None else "weight")
    hist = _figure_html(
        fig, "residual-histogram", "Residual histogram", "Histogram of the holdout residuals."
    )
    return _section("holdout", "Holdout diagnostics", scatter + "\n" + hist)


# --------------------------------------------------------------------------
# Tables and text
# --------------------------------------------------------------------------


def _summary_section(summary: Mapping[str, Any]) -> str:
    rows = []
    for key, value in summary.items():
        if _is_scalar(value):
            rows.append([_esc(key), _fmt(value)])
        elif isinstance(value, Mapping):
            rows += [[_esc(f"{key}.{k}"), _fmt(v)] for k, v in _flatten(value).items()]
        elif isinstance(value, list | tuple) and all(_is_scalar(v) for v in value):
            rows.append([_esc(key), ", ".join(_fmt(v) for v in value)])
    return _section("summary", "Summary", _table(["", "value"], rows, "table-summary"))


def _metrics_section(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    splits = list(metrics)
    flat = {split: _flatten(values) for split, values in metrics.items()}
    keys: list[str] = []
    for flat_values in flat.values():
        keys += [k for k in flat_values if k not in keys]
    rows = [[_esc(k)] + [_fmt(flat[s].get(k)) for s in splits] for k in keys]
    parts = [_table(["metric", *(_esc(s) for s in splits)], rows, "table-metrics")]
    for split, values in metrics.items():
        for key, value in values.items():
            if not isinstance(value, Mapping):
                continue
            if "labels" in value and "matrix" in value:
                labels = [_esc(json_label(v)) for v in value["labels"]]
                header = ["true \\ predicted", *labels]
                cm_rows = [
                    [label] + [_fmt(v) for v in row]
                    for label, row in zip(labels, value["matrix"], strict=True)
                ]
                parts.append(f"<h3>{_esc(key.replace('_', ' ').capitalize())} ({_esc(split)})</h3>")
                parts.append(_table(header, cm_rows, f"table-{key}-{split}"))
            elif value and all(isinstance(v, Mapping) for v in value.values()):
                cols: list[str] = []
                for inner in value.values():
                    cols += [c for c in inner if c not in cols and _is_scalar(inner[c])]
                table_rows = [
                    [_esc(name)] + [_fmt(inner.get(c)) for c in cols]
                    for name, inner in value.items()
                ]
                parts.append(f"<h3>{_esc(key.replace('_', ' ').capitalize())} ({_esc(split)})</h3>")
                parts.append(
                    _table(["", *(_esc(c) for c in cols)], table_rows, f"table-{key}-{split}")
                )
    return _section("metrics", "Metrics", "\n".join(parts))


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")


def _inline_md(text: str) -> str:
    """Return escaped text with ``code`` and **bold** spans."""
    out = _esc(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)


def _markdown_to_html(text: str) -> str:
    """Return minimal HTML for Markdown: headings, lists, paragraphs, code, pipe tables.

    Everything is escaped; links are not rendered (their text shows as is).
    Headings move down two levels to nest under the report's section.
    """
    out: list[str] = []
    para: list[str] = []
    table: list[str] = []
    stack: list[tuple[int, str]] = []
    code: list[str] | None = None

    def flush() -> None:
        if para:
            out.append("<p>" + " ".join(_inline_md(line) for line in para) + "</p>")
            para.clear()
        if table:
            cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in table]
            body = [r for r in cells[1:] if not all(re.fullmatch(r":?-+:?", c) for c in r)]
            width = len(cells[0])
            rows = [[_inline_md(c) for c in (r + [""] * width)[:width]] for r in body]
            out.append(_table([_inline_md(c) for c in cells[0]], rows))
            table.clear()
        while stack:
            out.append(f"</li></{stack.pop()[1]}>")

    for line in text.splitlines():
        if code is not None:
            if line.strip().startswith("```"):
                out.append("<pre><code>" + _esc("\n".join(code)) + "</code></pre>")
                code = None
            else:
                code.append(line)
            continue
        stripped = line.strip()
        heading = _HEADING.match(stripped)
        item = _ITEM.match(line)
        if stripped.startswith("```"):
            flush()
            code = []
        elif not stripped:
            flush()
        elif heading:
            flush()
            level = min(len(heading.group(1)) + 2, 6)
            out.append(f"<h{level}>{_inline_md(heading.group(2))}</h{level}>")
        elif stripped.startswith("|"):
            if para or stack:
                flush()
            table.append(stripped)
        elif item:
            if para or table:
                flush()
            indent, tag = len(item.group(1)), "ol" if item.group(2)[0].isdigit() else "ul"
            while stack and indent < stack[-1][0]:
                out.append(f"</li></{stack.pop()[1]}>")
            if stack and indent == stack[-1][0] and tag == stack[-1][1]:
                out.append("</li>")
            else:
                if stack and indent == stack[-1][0]:
                    out.append(f"</li></{stack.pop()[1]}>")
                out.append(f"<{tag}>")
                stack.append((indent, tag))
            out.append(f"<li>{_inline_md(item.group(3))}")
        elif stack:
            out.append(" " + _inline_md(stripped))
        else:
            if table:
                flush()
            para.append(stripped)
    if code is not None:
        out.append("<pre><code>" + _esc("\n".join(code)) + "</code></pre>")
    flush()
    return "\n".join(out)


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def render_html_report(data: ReportData) -> str:
    """Return the model report as one self-contained HTML page.

    Sections, each only when its data is present: notes, summary, metrics,
    coefficient paths (``fig-path``), CV curves (``fig-cv``), coefficients
    (``fig-coefficients`` and a table), holdout diagnostics (classification:
    ``fig-calibration``, ``fig-roc``, ``fig-pr``, ``fig-score-distribution``;
    regression: ``fig-residuals``, ``fig-residual-histogram``) and the model
    card. All user text is escaped and URL schemes in it are defanged, so
    the page holds no external reference.

    Parameters
    ----------
    data : ReportData
        What to show.

    Returns
    -------
    str
        The HTML page; the same data gives the same string.

    Raises
    ------
    MissingExtraError
        When matplotlib (the ``report`` extra) is not installed.
    """
    require("report", "the HTML model report")
    if data.task not in TASKS:
        raise InvalidInputError(
            f"task must be one of {list(TASKS)}; got {data.task!r}.",
            field="task",
            expected=" | ".join(TASKS),
            got=data.task,
        )
    meta = " · ".join(_esc(v) for v in (data.model_name, data.task, data.created) if v)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(data.title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<header><h1>{_esc(data.title)}</h1><p class="meta">{meta}</p></header>',
    ]
    if data.notes:
        items = "".join(f"<li>{_esc(note)}</li>" for note in data.notes)
        parts.append(
            f'<section id="section-notes" class="notes"><h2>Warnings</h2><ul>{items}</ul></section>'
        )
    if data.summary:
        parts.append(_summary_section(data.summary))
    if data.metrics:
        parts.append(_metrics_section(data.metrics))
    with _quiet_glyphs():
        if data.path is not None:
            parts.append(
                _section("path", "Regularisation path", _path_figure(data.path, data.classes))
            )
        if data.cv is not None:
            parts.append(_section("cv", "Cross-validation", _cv_figure(data.cv)))
        if data.coefficients is not None:
            parts.append(_coefficient_section(data.coefficients, data.classes))
        if data.task == "regression":
            if data.y_true is not None and data.y_pred is not None:
                parts.append(_regression_section(data))
        elif data.y_true is not None and data.proba is not None and data.classes is not None:
            parts.append(_classification_section(data))
    if data.model_card_markdown is not None:
        card = f'<div class="card">{_markdown_to_html(data.model_card_markdown)}</div>'
        parts.append(_section("model-card", "Model card", card))
    parts.append("</body></html>")
    logger.debug("rendered report %r", data.title)
    return "\n".join(parts) + "\n"


def write_report(data: ReportData, path: str | Path) -> Path:
    """Render the report and write it as UTF-8 to ``path``.

    Parameters
    ----------
    data : ReportData
        What to show.
    path : str or Path
        Output file; missing parent folders are created.

    Returns
    -------
    Path
        The file written.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html_report(data), encoding="utf-8")
    logger.info("wrote report to %s", out)
    return out
