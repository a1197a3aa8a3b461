"""``make demo`` step 4: model choice by cross-validation (diabetes, n=442, p=10).

:class:`glmops.ElasticNetCV` over four l1_ratios x 100 alphas on the diabetes
data that ships with scikit-learn (442 patients, 10 baseline variables,
disease progression after one year), with the minimum-CV-error and the
one-standard-error choices; the regularisation path and the CV curve are
written as PNGs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.datasets import load_diabetes
from sklearn.model_selection import KFold

from glmops import ElasticNetCV, enet_path

__all__ = ["L1_RATIOS", "DemoReport", "run_demo"]

L1_RATIOS = (0.1, 0.5, 0.9, 1.0)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DemoReport:
    """What the demo found and where it wrote its plots."""

    alpha: float
    l1_ratio: float
    cv_mse: float
    cv_mse_se: float
    alpha_1se: float
    selected: dict[str, float]
    dropped: list[str]
    fit_seconds: float
    path_plot: Path
    cv_plot: Path


def run_demo(output_dir: Path) -> DemoReport:
    """Fit ElasticNetCV on the diabetes data and write the two plots."""
    data = load_diabetes()
    X, y = data.data, data.target
    names = list(data.feature_names)
    folds = KFold(5, shuffle=True, random_state=0)
    start = time.perf_counter()
    model = ElasticNetCV(l1_ratio=list(L1_RATIOS), cv=folds, standardize=True)
    model.fit(X, y)
    fit_seconds = time.perf_counter() - start
    one_se = ElasticNetCV(
        l1_ratio=list(L1_RATIOS), cv=folds, standardize=True, selection="1se"
    ).fit(X, y)
    best = int(np.flatnonzero(np.isclose(L1_RATIOS, model.l1_ratio_))[0])
    j = int(np.argmin(np.abs(model.alphas_[best] - model.alpha_)))
    fold_mse = model.mse_path_[best, j]
    output_dir.mkdir(parents=True, exist_ok=True)
    path_plot = _plot_path(X, y, names, model, output_dir / "regularization_path.png")
    cv_plot = _plot_cv(model, one_se.alpha_, output_dir / "cv_curve.png")
    coef = model.coef_
    return DemoReport(
        alpha=model.alpha_,
        l1_ratio=model.l1_ratio_,
        cv_mse=float(fold_mse.mean()),
        cv_mse_se=float(fold_mse.std(ddof=1) / np.sqrt(fold_mse.size)),
        alpha_1se=float(one_se.alpha_),
        selected={n: float(c) for n, c in zip(names, coef, strict=True) if c != 0},
        dropped=[n for n, c in zip(names, coef, strict=True) if c == 0],
        fit_seconds=fit_seconds,
        path_plot=path_plot,
        cv_plot=cv_plot,
    )


def _plot_path(
    X: FloatArray, y: FloatArray, names: list[str], model: ElasticNetCV, out: Path
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    alphas, coefs, _ = enet_path(
        X, y, l1_ratio=model.l1_ratio_, fit_intercept=True, standardize=True
    )
    scale = X.std(axis=0)
    fig, ax = plt.subplots(figsize=(8, 5))
    for k, name in enumerate(names):
        ax.plot(alphas, coefs[k] * scale[k], label=name)
    ax.axvline(model.alpha_, color="k", linestyle="--", linewidth=1, label="CV choice")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("alpha (log scale, decreasing)")
    ax.set_ylabel("coefficient x feature std")
    ax.set_title(f"Elastic-net path, l1_ratio={model.l1_ratio_:g} (diabetes)")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _plot_cv(model: ElasticNetCV, alpha_1se: float, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    n_folds = model.mse_path_.shape[2]
    for i, ratio in enumerate(L1_RATIOS):
        mean = model.mse_path_[i].mean(axis=1)
        se = model.mse_path_[i].std(axis=1, ddof=1) / np.sqrt(n_folds)
        (line,) = ax.plot(model.alphas_[i], mean, label=f"l1_ratio={ratio:g}")
        ax.fill_between(model.alphas_[i], mean - se, mean + se, alpha=0.15, color=line.get_color())
    ax.axvline(model.alpha_, color="k", linestyle="--", linewidth=1, label="min CV error")
    ax.axvline(alpha_1se, color="grey", linestyle=":", linewidth=1, label="1-SE rule")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("alpha (log scale, decreasing)")
    ax.set_ylabel(f"held-out MSE ({n_folds}-fold mean +/- 1 SE)")
    ax.set_title("Cross-validation curve (diabetes)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
