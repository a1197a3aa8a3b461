"""``make demo`` step 5: classifiers with probabilities, judged on a holdout.

Two datasets that ship with scikit-learn:

* breast cancer (569 tumours, 30 features, malignant vs benign): binary
  :class:`glmops.LogisticRegressionCV` with Platt calibration and a decision
  threshold picked by max F1 on out-of-fold probabilities;
* wine (178 wines, 13 features, 3 cultivars): multinomial
  :class:`glmops.LogisticRegressionCV`.

Each is trained on 75% of the rows (stratified) and judged on the other
25%: log loss, ROC AUC, Brier score; the calibration (reliability) plot of
the binary model is written as a PNG.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.special import expit
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.metrics import (
    brier_score_loss,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold, train_test_split

from glmops import LogisticRegressionCV

__all__ = ["ClassifierReport", "run_classifier_demo"]

BINARY_L1_RATIOS = (0.5, 0.9, 1.0)
MULTI_L1_RATIOS = (0.5, 1.0)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ClassifierReport:
    """Holdout figures of one demo classifier."""

    dataset: str
    n_train: int
    n_test: int
    n_classes: int
    alpha: float
    l1_ratio: float
    n_selected: int
    n_features: int
    log_loss: float
    roc_auc: float
    brier: float
    accuracy: float
    fit_seconds: float
    threshold: float | None = None
    precision: float | None = None
    recall: float | None = None


def _split(X: FloatArray, y: np.ndarray) -> tuple[FloatArray, FloatArray, np.ndarray, np.ndarray]:
    parts = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    return parts[0], parts[1], parts[2], parts[3]


def _folds() -> StratifiedKFold:
    return StratifiedKFold(5, shuffle=True, random_state=0)


def run_binary(output_dir: Path) -> tuple[ClassifierReport, Path]:
    """Breast cancer: calibrated binary model, threshold by max F1, calibration plot."""
    data = load_breast_cancer()
    # malignant is the class a screening model looks for: make it the positive one
    labels = np.where(data.target == 0, "malignant", "benign")
    X_train, X_test, y_train, y_test = _split(data.data, labels)
    start = time.perf_counter()
    model = LogisticRegressionCV(
        l1_ratio=list(BINARY_L1_RATIOS),
        cv=_folds(),
        standardize=True,
        calibration="platt",
        threshold="max_f1",
        n_jobs=2,
    ).fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    positive = model.classes_[1]
    proba = np.asarray(model.predict_proba(X_test)[:, 1], dtype=np.float64)
    y_pos = (y_test == positive).astype(int)
    pred = model.predict(X_test)
    raw = np.asarray(expit(model.decision_function(X_test)), dtype=np.float64)
    plot = _plot_calibration(y_pos, raw, proba, positive, output_dir / "calibration.png")
    report = ClassifierReport(
        dataset="breast cancer",
        n_train=X_train.shape[0],
        n_test=X_test.shape[0],
        n_classes=2,
        alpha=model.alpha_,
        l1_ratio=model.l1_ratio_,
        n_selected=int(np.count_nonzero(model.coef_)),
        n_features=X_train.shape[1],
        log_loss=float(log_loss(y_pos, proba)),
        roc_auc=float(roc_auc_score(y_pos, proba)),
        brier=float(brier_score_loss(y_pos, proba)),
        accuracy=float(np.mean(pred == y_test)),
        fit_seconds=fit_seconds,
        threshold=model.threshold_,
        precision=float(precision_score(y_test, pred, pos_label=positive)),
        recall=float(recall_score(y_test, pred, pos_label=positive)),
    )
    return report, plot


def run_multinomial() -> ClassifierReport:
    """Wine: multinomial model over three cultivars."""
    data = load_wine()
    labels = np.array(["cultivar_1", "cultivar_2", "cultivar_3"])[data.target]
    X_train, X_test, y_train, y_test = _split(data.data, labels)
    start = time.perf_counter()
    model = LogisticRegressionCV(
        l1_ratio=list(MULTI_L1_RATIOS), cv=_folds(), standardize=True, n_jobs=2
    ).fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    proba = model.predict_proba(X_test)
    onehot = (y_test[:, None] == model.classes_[None, :]).astype(float)
    return ClassifierReport(
        dataset="wine",
        n_train=X_train.shape[0],
        n_test=X_test.shape[0],
        n_classes=len(model.classes_),
        alpha=model.alpha_,
        l1_ratio=model.l1_ratio_,
        n_selected=int(np.count_nonzero(np.any(model.coef_ != 0, axis=0))),
        n_features=X_train.shape[1],
        log_loss=float(log_loss(y_test, proba, labels=model.classes_)),
        roc_auc=float(roc_auc_score(y_test, proba, multi_class="ovr", labels=model.classes_)),
        # multi-class Brier score: mean squared distance to the one-hot label
        brier=float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
        accuracy=float(np.mean(model.predict(X_test) == y_test)),
        fit_seconds=fit_seconds,
    )


def run_classifier_demo(output_dir: Path) -> tuple[list[ClassifierReport], Path]:
    """Run both classifiers; return their reports and the calibration plot."""
    output_dir.mkdir(parents=True, exist_ok=True)
    binary, plot = run_binary(output_dir)
    return [binary, run_multinomial()], plot


def _plot_calibration(
    y: np.ndarray, raw: FloatArray, calibrated: FloatArray, positive: str, out: Path
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, hist) = plt.subplots(
        2, 1, figsize=(7, 7), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for name, proba in (("logistic (raw)", raw), ("Platt-calibrated", calibrated)):
        frac, mean = calibration_curve(y, proba, n_bins=8, strategy="quantile")
        ax.plot(mean, frac, marker="o", label=name)
        hist.hist(proba, bins=20, range=(0, 1), alpha=0.5, label=name)
    ax.set_ylabel(f"observed share {positive}")
    ax.set_title("Calibration on the 25% holdout (breast cancer, equal-mass bins)")
    ax.legend(fontsize=8)
    hist.set_xlabel(f"predicted probability of {positive}")
    hist.set_ylabel("count")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
