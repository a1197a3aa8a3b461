"""``glmops serve`` and ``glmops score``: thin shells over serving/.

``score`` runs :func:`glmops.serving.batch.score_file` (core install);
``serve`` needs the ``serve`` extra and says so when it is missing. Errors and
exit codes follow :mod:`glmops.cli._common`.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from glmops.cli._common import (
    cli_errors,
    console,
    load_project_config,
    open_registry,
    out,
    registry_for,
)

if TYPE_CHECKING:
    from glmops.config import ServingConfig
    from glmops.model import Model
    from glmops.registry import Registry

__all__ = ["load_scoring_model", "register_commands", "serving_settings"]

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="glmops.yaml (registry and serving).")
]


def load_scoring_model(ref: str, config: Path | None) -> tuple[Model, str, int | None]:
    """Return (model, reference, version) for a path or a ``name@alias`` registry ref."""
    if Path(ref).exists():
        from glmops.model import load_model

        return load_model(ref), ref, None
    with open_registry(config) as registry:
        info = registry.resolve(ref)
        return registry.load(info.ref), f"{ref} -> {info.ref}", info.version


def score(
    model: Annotated[
        str, typer.Option("--model", "-m", help="Artifact path, or NAME@ALIAS / NAME@VERSION.")
    ],
    input_path: Annotated[Path, typer.Option("--input", "-i", help="CSV/TSV/Parquet to score.")],
    output: Annotated[Path, typer.Option("--output", "-o", help=".parquet or .csv to write.")],
    keep: Annotated[
        list[str] | None, typer.Option("--keep", help="Input column to copy (repeatable).")
    ] = None,
    on_error: Annotated[
        str, typer.Option(help="fail: stop at an unscorable row; skip: write it with _error.")
    ] = "fail",
    chunk_rows: Annotated[int, typer.Option(help="Rows per chunk.")] = 262_144,
    config: ConfigOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Score a file in chunks through the model's pipeline; write Parquet or CSV."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from glmops.serving.batch import score_file

    with cli_errors():
        loaded, ref, version = load_scoring_model(model, config)
        with Progress(
            TextColumn("[bold]Scoring"),
            BarColumn(),
            TextColumn("{task.completed:,.0f} rows"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=json_output or not console.is_terminal,
        ) as bar:
            task = bar.add_task("score", total=None, rate="")
            started = [0.0]

            def progress(done: int, total: int | None) -> None:
                import time

                now = time.perf_counter()
                if not started[0]:
                    started[0] = now
                rate = f"{done / max(now - started[0], 1e-9):,.0f} rows/s" if done else ""
                bar.update(task, completed=done, total=total, rate=rate)

            summary = score_file(
                loaded,
                input_path,
                output,
                keep=keep or [],
                chunk_rows=chunk_rows,
                on_error=on_error,  # type: ignore[arg-type]
                model_ref=loaded.name,
                version=version,
                progress=progress,
            )
    if json_output:
        out.print_json(json.dumps(summary.to_dict()))
        return
    out.print(
        f"scored [bold]{summary.rows:,}[/] rows with {escape(ref)} in {summary.seconds:.2f} s "
        f"({summary.rows_per_s:,.0f} rows/s) -> {escape(str(output))}"
    )
    if summary.skipped:
        out.print(f"[yellow]{summary.skipped:,} rows could not be scored (see _error)[/]")
    if summary.violations:
        table = Table(title="Schema violations (counted)")
        for col in ("column", "kind", "rows", "example", "expected"):
            table.add_column(col)
        for v in summary.violations.values():
            table.add_row(
                v["column"], v["kind"], f"{v['rows']:,}", repr(v["example"]), v["expected"]
            )
        out.print(table)


def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default from config).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from config).")] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Model to serve (repeatable).")
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve without bearer tokens (loopback only).")
    ] = False,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Allow auth disabled beyond loopback (something in front authenticates).",
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the registry's models over HTTP (champion, canary, shadow; hot reload).

    Auth is on unless the config says ``serving.auth: disabled`` (or ``--no-auth``),
    and then only on a loopback address unless ``--insecure``.
    """
    from glmops._extras import require

    with cli_errors():
        require("serve", "glmops serve")
        serving, registry = serving_settings(
            config, host=host, port=port, models=model, no_auth=no_auth
        )
        from glmops.serving import create_app

        app = create_app(serving, registry=registry, insecure=insecure)
    import uvicorn

    from glmops.serving.logs import configure_json_logs

    configure_json_logs(log_level)
    # background threads (prediction log, shadow, reload) hand the GIL back to the
    # request loop within 1 ms instead of Python's default 5 ms: a tighter p99
    sys.setswitchinterval(0.001)
    console.print(
        f"serving on http://{serving.host}:{serving.port} "
        f"(auth {'off' if serving.auth == 'disabled' else 'on'}; docs at /docs)"
    )
    uvicorn.run(
        app,
        host=serving.host,
        port=serving.port,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http="httptools",
        access_log=False,
        log_config=None,
        log_level=log_level,
        timeout_graceful_shutdown=10,
    )


def serving_settings(
    config: Path | None,
    *,
    host: str | None = None,
    port: int | None = None,
    models: list[str] | None = None,
    no_auth: bool = False,
) -> tuple[ServingConfig, Registry]:
    """Return the validated serving settings and the registry ``glmops serve`` would use.

    The config's ``serving:`` section (or, without a config, the defaults) with
    the command-line options on top; ``no_auth`` turns auth off and drops tokens.
    A config without a serving section needs tokens (refused with a message)
    unless ``no_auth`` says otherwise.
    """
    from glmops.config import ServingConfig

    cfg = load_project_config(config)
    if cfg is not None and cfg.serving is None and no_auth:
        cfg = cfg.model_copy(update={"serving": ServingConfig(auth="disabled")})
    if cfg is not None:
        base = cfg.serving_config().model_dump()
    else:
        base = {"auth": "disabled"} if no_auth else {}
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if models:
        overrides["models"] = models
    if no_auth:
        overrides["auth"] = "disabled"
        overrides["tokens"] = []
    serving = ServingConfig.model_validate({**base, **overrides})
    return serving, registry_for(cfg)


def register_commands(app: typer.Typer) -> None:
    """Add ``serve`` and ``score`` to the main CLI."""
    app.command()(serve)
    app.command()(score)


logging.getLogger("glmops").addHandler(logging.NullHandler())
