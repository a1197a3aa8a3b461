"""The lifecycle demo behind ``make demo``: ``python -m examples.demo --output demo-output``.

Step 1 (:mod:`.step1_pipeline`) is the main job: a real credit table with
categorical columns and missing values goes through ``glmops init`` and
``glmops train`` to a checksummed artifact with its HTML report, which is
then loaded to score and explain new applications.
Step 2 (:mod:`.step2_registry`) registers that model, promotes it through the
gates, registers a retrained challenger, compares, promotes, rolls back and
prints the audit log.
Step 3 (:mod:`.step3_serving`) serves the registry over real HTTP: auth,
validation, canary, shadow, the prediction log, ``/metrics``, batch scoring.
Step 4 (:mod:`.step4_cross_validation`) chooses an elastic net by
cross-validation on the diabetes data and plots its path and CV curve.
Step 5 (:mod:`.step5_classifiers`) fits a calibrated binary classifier
(breast cancer) and a multinomial one (wine) and judges them on a holdout.

Each step returns a report (data only); :func:`story` prints them.
Needs ``pip install 'glmops[serve,report]' httpx`` (``make demo`` does it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from examples.demo.step1_pipeline import PipelineReport, run_pipeline_demo
from examples.demo.step2_registry import RegistryReport, run_registry_demo
from examples.demo.step3_serving import ServingReport, run_serving_demo
from examples.demo.step4_cross_validation import L1_RATIOS, run_demo
from examples.demo.step5_classifiers import ClassifierReport, run_classifier_demo

__all__ = ["main", "story"]


def story(
    output: Annotated[Path, typer.Option(help="Where the demo writes.")] = Path("demo-output"),
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
) -> None:
    """Run the five steps of the glmops lifecycle demo and print what each found."""
    print("glmops demo, step 1: from a table to a trusted model (data/credit_data.csv)")
    print(f"  glmops init --data data/credit_data.csv --target Status -> {output}/glmops.yaml")
    print("  glmops train --config glmops.yaml")
    pipeline = run_pipeline_demo(output, quiet=quiet)
    _print_pipeline(pipeline)
    print()
    print("glmops demo, step 2: the registry (gates, challenger, diff, promote, rollback, audit)")
    registry_report = run_registry_demo(output, pipeline.artifact_path)
    _print_registry(registry_report)
    print()
    print("glmops demo, step 3: serving (HTTP, validation, canary, shadow, batch scoring)")
    _print_serving(run_serving_demo(output, registry_report.db_url))
    print()
    report = run_demo(output)
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
    classifiers, calibration_plot = run_classifier_demo(output)
    print()
    print("glmops demo, step 5: classifiers (75% train / 25% holdout, stratified)")
    for c in classifiers:
        _print_classifier(c)
    print(f"  wrote {calibration_plot}")


def main(argv: list[str] | None = None) -> int:
    """Run the demo from the command line (``python -m examples.demo``); return 0."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(story)
    app(argv, prog_name="python -m examples.demo", standalone_mode=False)
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
