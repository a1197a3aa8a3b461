"""The ``glmops`` command line: a thin shell over the modules (only cli/ prints).

``init``, ``train``, ``evaluate`` and ``validate`` live here; ``registry ...``
in :mod:`glmops.cli.registry`, ``serve`` and ``score`` in
:mod:`glmops.cli.serving`. Every command follows the one error policy and
exit codes of :mod:`glmops.cli._common`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from glmops.cli._common import EXIT_CODES_HELP, EXIT_FAILURE, cli_errors, console, fail, out
from glmops.errors import GlmopsError

if TYPE_CHECKING:
    from glmops.training.pipeline import TrainResult

__all__ = ["app", "main", "train_summary"]

app = typer.Typer(
    name="glmops",
    help="Regularized linear models from data to production.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_STAGES = {
    "read": "Reading data",
    "validate": "Validating and splitting",
    "preprocess": "Fitting preprocessing",
    "cv": "Cross-validating alpha x l1_ratio",
    "evaluate": "Evaluating on the holdout",
    "stability": "Coefficient stability",
    "save": "Writing artifact and report",
}


def _version(value: bool) -> None:
    if value:
        from glmops import __version__

        out.print(f"glmops {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Regularized linear models from data to production."""


@app.command()
def init(
    data: Annotated[Path, typer.Option("--data", help="CSV or Parquet file to learn from.")],
    target: Annotated[str, typer.Option("--target", help="Column to predict.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Config file to write.")] = Path(
        "glmops.yaml"
    ),
    task: Annotated[
        str | None, typer.Option(help="regression, binary or multinomial (default: inferred).")
    ] = None,
    name: Annotated[str, typer.Option(help="Model name in the config.")] = "model",
    force: Annotated[bool, typer.Option(help="Overwrite an existing config.")] = False,
) -> None:
    """Write a commented starter glmops.yaml inferred from a data file."""
    from glmops.training.scaffold import starter_config

    if output.exists() and not force:
        fail(FileExistsError(f"{output} exists; pass --force to overwrite it."))
    with cli_errors():
        text = starter_config(data, target, task=task, name=name, config_dir=output.parent)
    output.write_text(text, encoding="utf-8")
    console.print(f"Wrote [bold]{output}[/]; edit it, then run: glmops train --config {output}")


@app.command()
def train(
    config: Annotated[Path, typer.Option("--config", "-c", help="glmops.yaml")] = Path(
        "glmops.yaml"
    ),
    model: Annotated[
        str | None, typer.Option(help="Model to train (needed when the config has several).")
    ] = None,
    output_dir: Annotated[
        Path | None, typer.Option(help="Where the artifact goes (default: the config's).")
    ] = None,
    report: Annotated[bool, typer.Option(help="Write report.html and MODEL_CARD.md.")] = True,
    zip_artifact: Annotated[
        bool, typer.Option("--zip", help="Write the artifact as one .zip file.")
    ] = False,
    encrypt: Annotated[
        bool, typer.Option(help="Encrypt the artifact (key from GLMOPS_ARTIFACT_KEY).")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Train, evaluate and save a model from glmops.yaml."""
    from glmops.training.pipeline import train as run_training

    # the bar stops (leaving the finished stages on screen) before an error is printed
    with cli_errors(), _stage_progress() as progress:
        result = run_training(
            config,
            model=model,
            output_dir=output_dir,
            progress=progress,
            write_report=report,
            zip_artifact=zip_artifact,
            encrypt=encrypt,
        )
    summary = train_summary(result)
    if json_output:
        out.print_json(json.dumps(summary, default=str))
        return
    _print_summary(summary)


@contextmanager
def _stage_progress() -> Iterator[Callable[[str, int, int], None]]:
    """Yield a ``progress(stage, done, total)`` callback drawing one bar per stage."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(_STAGES.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield progress


def train_summary(result: TrainResult) -> dict[str, Any]:
    """Return what ``glmops train`` prints (and ``--json`` emits) for one training run."""
    meta = result.model.metadata
    return {
        "model": result.name,
        "artifact": str(result.artifact_path),
        "digest": result.artifact.digest if result.artifact else None,
        "report": str(result.report_path) if result.report_path else None,
        "alpha": meta["hyperparameters"]["alpha"],
        "l1_ratio": meta["hyperparameters"]["l1_ratio"],
        "holdout": _headline(result.metrics.get("holdout", {})),
        "timings_s": result.timings,
        "warnings": result.warnings,
    }


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    from glmops.evaluation.model_report import headline_metrics

    return headline_metrics(metrics)


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"glmops train: {summary['model']}", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    table.add_row("artifact", summary["artifact"])
    table.add_row("model digest", str(summary["digest"]))
    if summary["report"]:
        table.add_row("report", summary["report"])
    table.add_row("alpha / l1_ratio", f"{summary['alpha']:.4g} / {summary['l1_ratio']:g}")
    for k, v in summary["holdout"].items():
        table.add_row(f"holdout {k}", f"{v:.4f}" if isinstance(v, float) else str(v))
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in summary["timings_s"].items())
    table.add_row("timings", timings)
    out.print(table)
    for warning in summary["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}")


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model artifact (dir or .zip).")],
    data: Annotated[Path, typer.Option("--data", help="CSV/Parquet with the target column.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write an HTML report here.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print metrics as JSON.")] = False,
) -> None:
    """Evaluate a saved model on labelled data, through its own pipeline."""
    from rich.table import Table

    from glmops.evaluation.evaluate import evaluate
    from glmops.evaluation.model_report import model_card_for, report_for
    from glmops.model import load_model

    try:
        loaded = load_model(model)
        result = evaluate(loaded, data)
    except (GlmopsError, ValueError) as exc:
        fail(exc)
    metrics = result.metrics
    violations = [v.to_dict() for v in result.violations]
    if output is not None:
        html = report_for(
            loaded, metrics={"data": metrics}, scored=result, model_card=model_card_for(loaded)
        )
        output.write_text(html, encoding="utf-8")
    if json_output:
        out.print_json(json.dumps({"metrics": metrics, "violations": violations}, default=str))
        return
    table = Table(title=f"glmops evaluate: {loaded.name} on {data.name}", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value")
    for k, v in _headline(metrics).items():
        table.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    table.add_row("rows", str(metrics.get("n_samples")))
    out.print(table)
    for v in violations:
        console.print(
            f"[yellow]schema:[/] {v['column']!r} {v['kind']} in {v['n_rows']} row(s) "
            f"(e.g. {v['example']!r}); expected {v['expected']}"
        )
    if output is not None:
        console.print(f"Report: {output}")


@app.command()
def validate(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model artifact (dir or .zip).")],
    data: Annotated[Path, typer.Option("--data", help="CSV/Parquet to check.")],
) -> None:
    """Check a data file against a model's feature manifest; list every violation."""
    from rich.table import Table

    from glmops.data.readers import read_table
    from glmops.model import load_model

    with cli_errors():
        loaded = load_model(model)
        table = read_table(data)
        if loaded.target in table.column_names:
            table = table.drop_columns([loaded.target])
        violations = loaded.validate(table)
    if not violations:
        out.print(f"{data}: matches the manifest of {loaded.name} ({table.num_rows} rows).")
        return
    table_out = Table(title=f"{len(violations)} violation(s)")
    for col in ("column", "problem", "rows", "example", "expected"):
        table_out.add_column(col)
    for v in violations:
        table_out.add_row(v.column, v.kind, str(v.n_rows), repr(v.example), v.expected)
    out.print(table_out)
    raise typer.Exit(code=EXIT_FAILURE)


def _add_registry() -> None:
    from glmops.cli.registry import registry_app
    from glmops.cli.serving import register_commands

    app.add_typer(registry_app, name="registry")
    register_commands(app)


_add_registry()


def main() -> None:
    """Run the CLI (the ``glmops`` console script)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app(prog_name="glmops")


if __name__ == "__main__":  # pragma: no cover
    main()
