"""The lifecycle demo behind ``make demo``.

Step 1 (:mod:`glmops.demo_pipeline`) is the main job: a real credit table
with categorical columns and missing values goes through ``glmops init`` and
``glmops train`` to a checksummed artifact with its HTML report, which is
then loaded to score and explain new applications.
Step 2 (:mod:`glmops.demo_registry`) registers that model, promotes it through
the gates, registers a retrained challenger, compares, promotes, rolls back
and prints the audit log.
Step 3 runs :class:`glmops.ElasticNetCV` on the diabetes data that ships with
scikit-learn (442 patients, 10 baseline variables, disease progression after
one year), then writes the regularisation path and the CV curve as PNGs.
Step 4 (:mod:`glmops.demo_classifiers`) fits a calibrated binary classifier
(breast cancer) and a multinomial one (wine) and judges them on a holdout.
Later steps (register, serve, monitor) extend this same demo.

``run_demo`` returns a :class:`DemoReport` (data only); ``main`` prints it.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import KFold

from glmops._typing import FloatArray
from glmops.demo_classifiers import ClassifierReport, run_classifier_demo
from glmops.demo_pipeline import PipelineReport, run_pipeline_demo
from glmops.demo_registry import RegistryReport, run_registry_demo
from glmops.demo_serving import ServingReport, run_serving_demo
from glmops.estimators.elastic_net import ElasticNetCV, enet_path

__all__ = ["DemoReport", "main", "run_demo"]

L1_RATIOS = (0.1, 0.5, 0.9, 1.0)


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
    model = ElasticNetCV(l1_ratio=list(L1_RATIOS), cv=folds, standardize=True, tol=1e-8)
    model.fit(X, y)
    fit_seconds = time.perf_counter() - start
    one_se = ElasticNetCV(
        l1_ratio=list(L1_RATIOS), cv=folds, standardize=True, tol=1e-8, selection="1se"
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
        X, y, l1_ratio=model.l1_ratio_, fit_intercept=True, standardize=True, tol=1e-8
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


def main(argv: list[str] | None = None) -> int:
    """Run the demo and print its report."""
    parser = argparse.ArgumentParser(prog="python -m glmops.demo", description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("demo-output"))
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    args = parser.parse_args(argv)
    print("glmops demo, step 1: from a table to a trusted model (data/credit_data.csv)")
    print(f"  glmops init --data data/credit_data.csv --target Status -> {args.output}/glmops.yaml")
    print("  glmops train --config glmops.yaml")
    pipeline = run_pipeline_demo(args.output, quiet=args.quiet)
    _print_pipeline(pipeline)
    print()
    print("glmops demo, step 2: the registry (gates, challenger, diff, promote, rollback, audit)")
    registry_report = run_registry_demo(args.output, pipeline.artifact_path)
    _print_registry(registry_report)
    print()
    print("glmops demo, step 3: serving (HTTP, validation, canary, shadow, batch scoring)")
    _print_serving(run_serving_demo(args.output, registry_report.db_url))
    print()
    report = run_demo(args.output)
    print("glmops demo, step 4: model choice by cross-validation (diabetes, n=442, p=10)")
    print(f"  ElasticNetCV over l1_ratio {list(L1_RATIOS)} x 100 alphas, 5 folds,")
    print(f"  standardize=True: {report.fit_seconds:.2f} s")
    print(f"  chosen alpha     = {report.alpha:.5g}   l1_ratio = {report.l1_ratio:g}")
    print(f"  CV MSE           = {report.cv_mse:.1f} +/- {report.cv_mse_se:.1f} (1 SE)")
    print(f"  1-SE rule alpha  = {report.alpha_1se:.5g}")
    print(f"  selected ({len(report.selected)}):")
    for name, coef in sorted(report.selected.items(), key=lambda kv: -abs(kv[1])):
        print(f"    {name:>4s} {coef:+10.2f}")
    print(f"  dropped: {', '.join(report.dropped) or 'none'}")
    print(f"  wrote {report.path_plot}")
    print(f"  wrote {report.cv_plot}")
    classifiers, calibration_plot = run_classifier_demo(args.output)
    print()
    print("glmops demo, step 5: classifiers (75% train / 25% holdout, stratified)")
    for c in classifiers:
        _print_classifier(c)
    print(f"  wrote {calibration_plot}")
    return 0


def _print_registry(r: RegistryReport) -> None:
    print(f"  registry {r.db_url}")
    print(
        f"  registered {r.first.ref} (digest {r.first.digest[:12]}) -> champion through the gates"
    )
    print(f"  trained and registered {r.second.ref} (log1p money columns, isotonic) -> challenger")
    d = r.diff
    for key, v in d["metrics"].items():
        if key in ("roc_auc", "pr_auc", "log_loss", "brier", "ece"):
            print(f"    {key:<9s} {v['a']:.4f} -> {v['b']:.4f} ({v['change']:+.4f})")
    top = ", ".join(f"{c['name']} {c['change']:+.3f}" for c in d["coefficients"][:4])
    print(f"    largest coefficient changes: {top}")
    print("  gates, challenger vs champion:")
    for line in r.gate_table.splitlines():
        print(f"    {line}")
    if r.blocked:
        print(f"  promotion blocked: {r.blocked}")
        print("  promoted anyway with --force and a reason (audited)")
    print(f"  champion -> version {r.after_promote}; rollback -> version {r.after_rollback}")
    print("  audit log (newest first):")
    for e in r.history:
        subject = f"@{e['version']}" if e["version"] is not None else ""
        alias = f" {e['alias']}" if e["alias"] else ""
        forced = " (forced)" if e["after"].get("forced") else ""
        reason = f'  "{e["reason"]}"' if e["reason"] else ""
        action = f"{e['action']:<12s}{subject}{alias}{forced}"
        print(f"    {e['time'][11:19]} {e['actor']:<13s} {action}{reason}")


def _print_serving(r: ServingReport) -> None:
    print(f"  glmops serve on {r.url} (bearer token, prediction log and /metrics on)")
    print(f"  without a token: HTTP {r.unauthenticated}")
    s = r.single
    (pred,) = s["predictions"]
    probabilities = ", ".join(f"{k} {v:.3f}" for k, v in pred["probabilities"].items())
    print(
        f"  one record -> {s['model']}@{s['version']} ({s['route']}): {pred['label']} "
        f"({probabilities}) in {r.single_ms:.1f} ms, request id {s['request_id'][:8]}..."
    )
    print(f"  a columnar batch of {r.batch_rows} rows in {r.batch_ms:.1f} ms")
    print("  an invalid record is refused (422), one entry per field:")
    for e in r.invalid["errors"]:
        got = f", got {e['got']!r}" if "got" in e else ""
        print(f"    {e['field']}: {e['kind']} (expected {e['expected']}{got})")
    split = ", ".join(f"v{v}: {n}" for v, n in sorted(r.canary_split.items()))
    sticky = "sticky" if r.canary_sticky else "NOT sticky"
    print(f"  canary credit@2 at weight 0.2 over 500 entities -> {split} ({sticky} by entity key)")
    unchanged = "unchanged" if r.answers_unchanged else "CHANGED"
    print(
        f"  shadow credit@2: answers {unchanged}; {r.shadow_pairs} shadowed predictions, "
        f"labels agree {r.shadow_agree:.1%}, mean |dP(bad)| {r.shadow_mean_abs_diff:.3f}"
    )
    print(f"  prediction log: {r.log_rows} rows ({r.answered} answered + shadow copies)")
    print("  /metrics (a few lines):")
    for line in r.metrics:
        print(f"    {line}")
    print(f"  server stopped cleanly: {r.stopped}")
    print(
        f"  glmops score: {r.scored_rows:,} rows of credit_data.csv in batch "
        f"({r.scored_rows_per_s:,.0f} rows/s) -> {r.scored_path}"
    )


def _print_pipeline(p: PipelineReport) -> None:
    h = p.holdout
    print(f"  artifact {p.artifact_path} (model digest {p.digest[:16]}...)")
    print(f"  report   {p.report_path}")
    print(
        f"  holdout: ROC AUC {h['roc_auc']:.3f}   PR AUC {h['pr_auc']:.3f}   "
        f"log loss {h['log_loss']:.3f}   Brier {h['brier']:.3f}   ECE {h['ece']:.3f}"
    )
    print(f"           at the max-F1 threshold: precision {h['precision']:.3f}", end="")
    print(f"   recall {h['recall']:.3f}")
    print("  new applications, scored by the loaded artifact (checksums verified):")
    for i, s in enumerate(p.scored):
        top = ", ".join(f"{name} {value:+.2f}" for name, value in s["top"])
        print(f"    #{i + 1}: P(bad) = {s['p_bad']:.3f} -> {s['label']:<4s}  top effects: {top}")
        for note in s["notes"]:
            print(f"         counted, not refused: {note}")
    print(f"  a record with text in a numeric field is refused:\n    {p.refused.splitlines()[-1]}")
    print(f"  glmops validate on {len(p.violations)} problem(s) in new_applications.csv:")
    for v in p.violations:
        where = f" in {v['n_rows']} row(s), e.g. {v['example']!r}" if v["n_rows"] else ""
        print(f"    {v['column']!r}: {v['kind'].replace('_', ' ')}{where}")


def _print_classifier(c: ClassifierReport) -> None:
    kind = "binary" if c.n_classes == 2 else f"multinomial, {c.n_classes} classes"
    print(f"  {c.dataset} ({kind}; n={c.n_train}+{c.n_test}, p={c.n_features}):")
    print(f"    LogisticRegressionCV 5-fold, standardize=True: {c.fit_seconds:.2f} s")
    print(f"    chosen alpha = {c.alpha:.4g}   l1_ratio = {c.l1_ratio:g}   ", end="")
    print(f"features used: {c.n_selected}/{c.n_features}")
    print(f"    holdout log loss = {c.log_loss:.4f}   ROC AUC = {c.roc_auc:.4f}   ", end="")
    print(f"Brier = {c.brier:.4f}   accuracy = {c.accuracy:.3f}")
    if c.threshold is not None:
        print(
            f"    threshold (max F1 on out-of-fold, Platt-calibrated) = {c.threshold:.3f}: ", end=""
        )
        print(f"precision = {c.precision:.3f}   recall = {c.recall:.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
