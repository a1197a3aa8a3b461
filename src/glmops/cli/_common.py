"""What every ``glmops`` command shares: one error policy, one config lookup, one registry.

Exit codes (the same for every command, also printed by ``glmops --help``):

====  =====================================================================
0     success
1     unexpected failure (any other error, an OS error such as a permission
      refused), or a check that ran and found problems (``glmops validate``,
      ``glmops registry verify``)
2     the request cannot be done as given: bad input or config, a missing
      file, a broken artifact, a registry refusal, a missing extra — any
      :class:`~glmops.errors.GlmopsError`, ``ValueError``,
      ``FileNotFoundError`` or ``FileExistsError``; the message names the
      field, file or extra at fault
3     a promotion blocked by its gates (:class:`~glmops.errors.GateFailed`)
====  =====================================================================

``glmops registry --server`` (HTTP mode, :mod:`glmops.cli.remote`) maps the
server's answers to the same codes: 400, 401, 403, 404, 413 and 422 exit 2, a
409 with gate results exits 3, a server fault (5xx) or an unreachable server
exits 1, each with the server's message (never the token).

Errors are printed on stderr as one line, ``error: <message>`` (``promotion
blocked: <message>`` for exit code 3), the message verbatim. Results go to
stdout (:data:`out`), progress and notes to stderr (:data:`console`).

The config is ``--config`` when given, else ``./glmops.yaml`` when it exists,
else none. The registry's location: ``GLMOPS_REGISTRY_URL`` /
``GLMOPS_ARTIFACT_ROOT`` > the config's ``registry:`` section > the embedded
defaults; when the environment and the config disagree the environment wins
and a warning is printed (:func:`glmops.config.registry_env_overrides`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from glmops.errors import GateFailed, GlmopsError, InvalidInputError, PermissionDenied

if TYPE_CHECKING:
    from glmops.config import GlmopsConfig
    from glmops.registry import Registry

__all__ = [
    "DEFAULT_CONFIG",
    "EXIT_BAD_INPUT",
    "EXIT_CODES_HELP",
    "EXIT_FAILURE",
    "EXIT_GATES",
    "EXIT_OK",
    "check_cli_actor",
    "check_remote_options",
    "cli_errors",
    "console",
    "exit_code",
    "fail",
    "find_config",
    "load_project_config",
    "open_registry",
    "out",
    "registry_for",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_GATES = 3

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 unexpected failure, or a check that found problems "
    "(validate, registry verify); 2 bad input, config, file, artifact, registry refusal "
    "or missing extra (the message names it); 3 promotion blocked by its gates."
)

DEFAULT_CONFIG = Path("glmops.yaml")

console = Console(stderr=True)  # progress, notes and errors
out = Console()  # results

# what the user can fix from the message alone
_BAD_INPUT: tuple[type[BaseException], ...] = (
    GlmopsError,
    ValueError,
    FileNotFoundError,
    FileExistsError,
)
# what the policy catches and prints as one line; anything else keeps its traceback
_HANDLED: tuple[type[BaseException], ...] = (*_BAD_INPUT, OSError)


def exit_code(exc: BaseException) -> int:
    """Return the exit code of ``exc`` under the CLI's one policy (module docstring)."""
    if isinstance(exc, GateFailed):
        return EXIT_GATES
    if isinstance(exc, _BAD_INPUT):
        return EXIT_BAD_INPUT
    return EXIT_FAILURE


def fail(exc: BaseException) -> NoReturn:
    """Print ``exc`` as one line on stderr and exit with its code."""
    code = exit_code(exc)
    prefix = "promotion blocked:" if code == EXIT_GATES else "error:"
    console.print(f"[bold red]{prefix}[/] {escape(str(exc))}", highlight=False)
    raise typer.Exit(code=code) from None


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn the errors a user can act on into :func:`fail`; let the rest propagate."""
    try:
        yield
    except _HANDLED as exc:
        fail(exc)


def find_config(config: Path | None) -> Path | None:
    """Return ``config``, else ``./glmops.yaml`` when it exists, else None."""
    if config is None and DEFAULT_CONFIG.is_file():
        return DEFAULT_CONFIG
    return config


def load_project_config(config: Path | None) -> GlmopsConfig | None:
    """Load and validate the config :func:`find_config` finds; None when there is none."""
    from glmops.config import load_config

    path = find_config(config)
    return None if path is None else load_config(path)


def registry_for(cfg: GlmopsConfig | None) -> Registry:
    """Open the registry of a loaded config (its ``registry:`` section and gates).

    Without a config: ``GLMOPS_REGISTRY_URL`` / ``GLMOPS_ARTIFACT_ROOT``, else
    the embedded defaults.
    """
    if cfg is None:
        from glmops.registry import Registry

        return Registry()
    from glmops.config import open_registry as open_configured
    from glmops.config import registry_env_overrides

    for warning in registry_env_overrides(cfg)[1]:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    return open_configured(cfg)


def open_registry(config: Path | None) -> Registry:
    """Open the registry for ``--config`` (see :func:`find_config`)."""
    return registry_for(load_project_config(config))


def check_cli_actor(registry: Registry, environ: Mapping[str, str] | None = None) -> None:
    """Refuse to write as anyone but the OS user when the registry has roles.

    The CLI cannot authenticate: whoever holds the database URL may write
    anything the database user may. With ``registry.roles`` configured the
    roles still guard against mistakes, so the actor must not be a claim
    anyone can type: ``GLMOPS_ACTOR`` naming someone other than the process's
    OS account (read from its uid) is refused; without roles (single-user)
    it stays a free label.
    """
    import os

    from glmops.registry.registry import os_user

    if registry.policy.is_single_user:
        return
    claimed = (os.environ if environ is None else environ).get("GLMOPS_ACTOR")
    account = os_user()
    if claimed and claimed != account:
        raise PermissionDenied(
            f"GLMOPS_ACTOR={claimed!r} but this process runs as {account!r}: with "
            "registry.roles configured the CLI writes only as the OS user. Unset "
            "GLMOPS_ACTOR (or run as that account), or use the HTTP API with the "
            "actor's token."
        )
    registry.actor = account


def check_remote_options(config: Path | None, environ: Mapping[str, str] | None = None) -> None:
    """Refuse the database mode's options in HTTP mode; warn that ``GLMOPS_ACTOR`` is ignored.

    With ``--server`` the server's own configuration (registry, gates, roles)
    applies and the audit log records the token's actor: a ``--config`` would
    silently do nothing, and ``GLMOPS_ACTOR`` cannot claim anyone.
    """
    import os

    if config is not None:
        raise InvalidInputError(
            "The '--config' option applies to the database mode; with --server the "
            "server's configuration (registry, gates, roles) applies. Leave '--config' out.",
            field="--config",
            expected="no --config with --server",
            got=str(config)[:80],
        )
    if (os.environ if environ is None else environ).get("GLMOPS_ACTOR"):
        console.print(
            "[yellow]warning:[/] GLMOPS_ACTOR is ignored with --server: the server records "
            "the actor of the token in GLMOPS_TOKEN.",
            highlight=False,
        )
