"""``glmops registry ...``: the registry from the command line (a thin shell over Registry).

The registry comes from ``GLMOPS_REGISTRY_URL`` / ``GLMOPS_ARTIFACT_ROOT``,
else ``--config`` or ``./glmops.yaml`` (its ``registry:`` section and each
model's ``gates:``), else the embedded defaults
(:func:`glmops.cli._common.open_registry`); a disagreement is warned about.
Errors and exit codes follow :mod:`glmops.cli._common` (a promotion blocked
by its gates exits 3).

Who acts: the CLI talks to the database directly and cannot authenticate
anyone. Whoever holds the database URL may write anything its database user
may, roles or not; the roles (``registry.roles``) guard against mistakes. In
single-user mode (no roles) the actor is ``GLMOPS_ACTOR`` or the OS user, a
label; with roles, writes run as the OS user only
(:func:`glmops.cli._common.check_cli_actor`). A shared registry gives people
the HTTP API (tokens) and keeps the database URL for operators.

HTTP mode: ``glmops registry --server https://host:8080 <command>`` (or
``GLMOPS_SERVER``) sends each command to the serving app's registry routes
with the bearer token of ``GLMOPS_TOKEN`` (:mod:`glmops.cli.remote`): the
server checks the token's roles and records the token's actor. The output
is the same; ``gc`` and ``migrate`` have no route and refuse.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape

from glmops.cli._common import (
    EXIT_FAILURE,
    check_cli_actor,
    check_remote_options,
    cli_errors,
    console,
    load_project_config,
    open_registry,
    out,
)
from glmops.errors import InvalidInputError

if TYPE_CHECKING:
    from glmops.cli.remote import RemoteRegistry
    from glmops.registry import Registry

__all__ = ["registry_app"]

registry_app = typer.Typer(
    help=(
        "Versions, aliases, promotion gates, rollback and the audit log.\n\n"
        "The CLI writes to the registry database directly: whoever holds its URL may "
        "change anything the database user may, whatever registry.roles say (roles "
        "guard against mistakes, not against the URL's holder). With roles configured, "
        "writes run as the OS user and GLMOPS_ACTOR naming anyone else is refused; "
        "give a shared registry's users the HTTP API and its tokens instead.\n\n"
        "Location: GLMOPS_REGISTRY_URL / GLMOPS_ARTIFACT_ROOT > the config's registry "
        "section > ./glmops.db (a disagreement is warned about).\n\n"
        "HTTP mode: --server https://host:8080 (or GLMOPS_SERVER) sends every command "
        "to the serving app's registry routes with the bearer token in GLMOPS_TOKEN "
        "(never a flag: it would show in ps and shell history); the server checks the "
        "token's roles and records its actor. gc and migrate need the database."
    ),
    no_args_is_help=True,
)
alias_app = typer.Typer(help="Set or remove aliases (challenger, shadow, canary, ...).")
registry_app.add_typer(alias_app, name="alias")
T = TypeVar("T")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="glmops.yaml with a registry section.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@registry_app.callback()
def _mode(
    ctx: typer.Context,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="GLMOPS_SERVER",
            help="Go through this glmops server's HTTP API (https://host:8080) with the "
            "bearer token in GLMOPS_TOKEN, instead of the registry database.",
        ),
    ] = None,
) -> None:
    ctx.obj = {"server": server or None}


def _server(ctx: typer.Context) -> str | None:
    """Return the ``--server`` of this invocation (None: the database mode)."""
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    server: str | None = obj.get("server")
    return server


def _run(
    ctx: typer.Context,
    config: Path | None,
    action: Callable[[Registry | RemoteRegistry], T],
    *,
    write: bool = True,
) -> T:
    """Run ``action`` on the registry of this invocation: over HTTP or on the database."""
    server = _server(ctx)
    if server is None:
        return _run_local(config, action, write=write)
    from glmops.cli.remote import open_remote

    with cli_errors():
        check_remote_options(config)
        with open_remote(server) as remote:
            return action(remote)


def _run_local(config: Path | None, action: Callable[[Registry], T], *, write: bool = True) -> T:
    """Open the registry database, run ``action`` on it, close it; errors under the one policy.

    A ``write`` (the default, so a forgotten flag refuses rather than
    bypasses) first passes :func:`~glmops.cli._common.check_cli_actor`.
    """
    with cli_errors(), open_registry(config) as registry:
        if write:
            check_cli_actor(registry)
        return action(registry)


def _refuse_remote(ctx: typer.Context, command: str, why: str) -> None:
    """Refuse ``command`` in HTTP mode: it has no route, for the reason ``why``."""
    if _server(ctx) is not None:
        with cli_errors():
            raise InvalidInputError(
                f"glmops registry {command} has no HTTP route ({why}); run it without "
                "--server / GLMOPS_SERVER where the registry database is reachable.",
                field="--server",
                expected=f"no --server for {command}",
                got="a server",
            )


def _print_version(info: Any, json_output: bool) -> None:
    """Print one version as one line (or its JSON), the same in both modes."""
    if json_output:
        out.print_json(json.dumps(info.to_dict(), default=str))
        return
    aliases = f" [{', '.join(info.aliases)}]" if info.aliases else ""
    out.print(
        f"{info.ref}{aliases}  {info.status}  digest {info.digest[:16]}  "
        f"by {info.created_by} at {info.created_at:%Y-%m-%d %H:%M:%S}",
        highlight=False,
        markup=False,  # "[champion]" is text, not a rich tag
    )


@registry_app.command()
def register(
    ctx: typer.Context,
    name: str,
    artifact: Path,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Register an artifact as the next version of NAME."""
    info = _run(ctx, config, lambda r: r.register(name, artifact))
    _print_version(info, json_output)


@registry_app.command("list")
def list_models(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="List this model's versions.")] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """List models, or the versions of one model."""
    from rich.table import Table

    if name is None:
        models = _run(ctx, config, lambda r: r.list_models(), write=False)
        if json_output:
            out.print_json(json.dumps(models, default=str))
            return
        table = Table(title="models")
        for col in ("name", "task", "versions", "aliases"):
            table.add_column(col)
        for m in models:
            aliases = ", ".join(f"{a}->{v}" for a, v in m["aliases"].items())
            table.add_row(m["name"], m["task"], str(m["versions"]), aliases)
        out.print(table)
        return
    versions = _run(ctx, config, lambda r: r.list_versions(name), write=False)
    if json_output:
        out.print_json(json.dumps([v.to_dict() for v in versions], default=str))
        return
    table = Table(title=f"versions of {name}")
    for col in ("version", "aliases", "status", "digest", "created", "by", "roc_auc/rmse"):
        table.add_column(col)
    for v in versions:
        headline = v.metrics.get("roc_auc", v.metrics.get("roc_auc_macro", v.metrics.get("rmse")))
        table.add_row(
            str(v.version),
            ", ".join(v.aliases),
            v.status,
            v.digest[:12],
            f"{v.created_at:%Y-%m-%d %H:%M}",
            v.created_by,
            f"{headline:.4f}" if isinstance(headline, float) else "-",
        )
    out.print(table)


@registry_app.command()
def show(
    ctx: typer.Context, ref: str, config: ConfigOption = None, json_output: JsonOption = False
) -> None:
    """Show one version (name@champion, name@3, name@latest)."""
    info = _run(ctx, config, lambda r: r.resolve(ref), write=False)
    if json_output:
        _print_version(info, True)
        return
    _print_version(info, False)
    for key, value in sorted(info.params.items()):
        out.print(f"  {key}: {value}", highlight=False, markup=False)
    metrics = {k: v for k, v in info.metrics.items() if isinstance(v, int | float)}
    out.print("  holdout: " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items())))


@registry_app.command()
def diff(
    ctx: typer.Context,
    ref_a: str,
    ref_b: str,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Compare two versions: params, metrics, features, coefficients."""
    from rich.table import Table

    result = _run(ctx, config, lambda r: r.diff(ref_a, ref_b), write=False)
    if json_output:
        out.print_json(json.dumps(result, default=str))
        return
    out.print(f"{result['a']['ref']} -> {result['b']['ref']}", highlight=False)
    for key, v in result["params"].items():
        out.print(f"  param {key}: {v['a']} -> {v['b']}", highlight=False, markup=False)
    for key, v in result["metrics"].items():
        out.print(f"  {key}: {v['a']:.4g} -> {v['b']:.4g} ({v['change']:+.4g})", highlight=False)
    feats = result["features"]
    if feats["added"] or feats["removed"]:
        out.print(f"  features added {feats['added']}, removed {feats['removed']}", markup=False)
    table = Table(title="largest coefficient changes")
    for col in ("feature", "a", "b", "change"):
        table.add_column(col)
    for c in result["coefficients"][:10]:
        table.add_row(c["name"], f"{c['a']:.4g}", f"{c['b']:.4g}", f"{c['change']:+.4g}")
    out.print(table)


@alias_app.command("set")
def alias_set(
    ctx: typer.Context,
    name: str,
    alias: str,
    version: int,
    weight: Annotated[float | None, typer.Option(help="Traffic share (canary).")] = None,
    reason: Annotated[str, typer.Option(help="Why (audited).")] = "",
    config: ConfigOption = None,
) -> None:
    """Point NAME@ALIAS at VERSION (champion or a canary with --weight > 0: as promote)."""
    info = _run(
        ctx, config, lambda r: r.set_alias(name, alias, version, weight=weight, reason=reason)
    )
    _print_version(info, False)


@alias_app.command("unset")
def alias_unset(
    ctx: typer.Context,
    name: str,
    alias: str,
    reason: Annotated[str, typer.Option(help="Why (audited).")] = "",
    config: ConfigOption = None,
) -> None:
    """Remove NAME@ALIAS."""
    _run(ctx, config, lambda r: r.unset_alias(name, alias, reason=reason))
    out.print(f"removed {name}@{alias}", highlight=False)


@registry_app.command()
def promote(
    ctx: typer.Context,
    name: str,
    version: int,
    alias: Annotated[str, typer.Option(help="Alias to move.")] = "champion",
    weight: Annotated[
        float | None, typer.Option(help="Traffic share in [0, 1] (with --alias canary).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Labelled data both versions are gated on.")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            help="Override failing gates (breakglass role and --reason; audited as forced). "
            "Never overrides a missing approval."
        ),
    ] = False,
    reason: Annotated[str, typer.Option(help="Why (audited).")] = "",
    config: ConfigOption = None,
) -> None:
    """Promote VERSION to champion (or --alias) if it passes the gates and approval."""
    info = _run(
        ctx,
        config,
        lambda r: r.promote(
            name,
            version,
            alias=alias,
            weight=weight,
            force=force,
            reason=reason,
            evaluation_data=data,
        ),
    )
    _print_version(info, False)


@registry_app.command()
def rollback(
    ctx: typer.Context,
    name: str,
    alias: Annotated[str, typer.Option(help="Alias to roll back.")] = "champion",
    reason: Annotated[str, typer.Option(help="Why (audited).")] = "",
    config: ConfigOption = None,
) -> None:
    """Point NAME@champion back at the previous champion."""
    info = _run(ctx, config, lambda r: r.rollback(name, alias=alias, reason=reason))
    _print_version(info, False)


@registry_app.command()
def approve(
    ctx: typer.Context,
    name: str,
    version: int,
    reason: Annotated[str, typer.Option(help="Why (audited).")] = "",
    config: ConfigOption = None,
) -> None:
    """Approve VERSION (by an approver who did not register it)."""
    _print_version(_run(ctx, config, lambda r: r.approve(name, version, reason=reason)), False)


@registry_app.command()
def archive(
    ctx: typer.Context,
    name: str,
    version: int,
    reason: Annotated[str, typer.Option(help="Why (audited).")] = "",
    config: ConfigOption = None,
) -> None:
    """Archive VERSION (it must hold no alias)."""
    _print_version(_run(ctx, config, lambda r: r.archive(name, version, reason=reason)), False)


@registry_app.command()
def history(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    limit: Annotated[int, typer.Option(help="Newest N events.")] = 50,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print the audit log, newest first."""
    from rich.table import Table

    events = _run(ctx, config, lambda r: r.history(name, limit=limit), write=False)
    if json_output:
        out.print_json(json.dumps(events, default=str))
        return
    table = Table(title="audit log")
    for col in ("time", "actor", "action", "subject", "change", "reason"):
        table.add_column(col)
    for e in events:
        subject = e["model"] + (f"@{e['version']}" if e["version"] is not None else "")
        if e["alias"]:
            subject += f" ({e['alias']})"
        change = ""
        if e["before"] or e["after"]:
            b = e["before"].get("version", e["before"].get("status", ""))
            a = e["after"].get("version", e["after"].get("status", ""))
            change = f"{b if b != '' else '-'} -> {a}"
            if e["after"].get("forced"):
                change += " (forced)"
        table.add_row(e["time"][:19], e["actor"], e["action"], subject, change, e["reason"])
    out.print(table)


@registry_app.command()
def verify(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Check every registered artifact's files and digest."""
    problems = _run(ctx, config, lambda r: r.verify(), write=False)
    if problems:
        for problem in problems:
            console.print(f"[red]{escape(problem)}[/]")
        raise typer.Exit(code=EXIT_FAILURE)
    out.print("registry verified: every artifact intact")


@registry_app.command()
def gc(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option(help="Only list what would be removed.")] = False,
    config: ConfigOption = None,
) -> None:
    """Remove stored artifacts that no version references."""
    _refuse_remote(ctx, "gc", "it deletes files from the server's artifact store")
    removed = _run_local(config, lambda r: r.gc(dry_run=dry_run))
    verb = "would remove" if dry_run else "removed"
    out.print(f"{verb} {len(removed)} unreferenced artifact(s)")


@registry_app.command()
def migrate(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Apply pending schema migrations (a SQLite file is backed up first).

    Never automatic: a migration may rewrite data, so the registry refuses an
    old schema until this runs (or registry.migrate: true is set).
    """
    _refuse_remote(ctx, "migrate", "a schema migration runs on the database itself")
    from glmops.config import registry_env_overrides
    from glmops.registry.registry import migrate_database

    with cli_errors():
        cfg = load_project_config(config)
        url = None
        if cfg is not None:
            where, warnings = registry_env_overrides(cfg)
            for warning in warnings:
                console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
            url = where["url"]
        done = migrate_database(url)
    if done.backup is not None:
        out.print(f"backed up the registry to {done.backup}", highlight=False)
    if done.from_revision == done.to_revision:
        out.print(f"registry schema already at revision {done.to_revision}", highlight=False)
        return
    source = done.from_revision or "empty"
    out.print(f"registry schema migrated from {source} to {done.to_revision}", highlight=False)
