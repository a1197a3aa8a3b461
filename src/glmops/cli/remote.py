"""``glmops registry --server``: the registry's HTTP routes behind the CLI's registry calls.

The database mode cannot authenticate anyone (whoever holds the database URL
acts as anyone); this mode sends every command to the serving app's
``/v1/registry`` routes (:mod:`glmops.serving.registry_routes`) with the bearer
token from ``GLMOPS_TOKEN``, so the server checks the token's roles and the
audit log records the token's actor. The token is read from the environment
only: a command-line flag would show in ``ps`` and in shell history.

:class:`RemoteRegistry` answers the calls the CLI makes on a
:class:`~glmops.registry.Registry` with the same values, and turns the
service's one error shape ``{error, errors: [{field, kind, expected, got}],
request_id}`` back into the error tree, so the CLI's exit codes hold: 401,
403, 404, 400, 413 and 422 exit 2, a 409 carrying gate results exits 3, a
server fault or an unreachable server exits 1 (:class:`ConnectionError`).
No message ever holds the token.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from glmops._redact import MASK, redact_text, redact_url
from glmops.errors import (
    AliasConflict,
    GateFailed,
    InvalidInputError,
    ModelNotFound,
    PermissionDenied,
    RegistryError,
)
from glmops.registry.registry import VersionInfo, parse_ref

if TYPE_CHECKING:
    import httpx

__all__ = [
    "API_PREFIX",
    "SERVER_ENV",
    "TOKEN_ENV",
    "RemoteRegistry",
    "error_of",
    "open_remote",
    "read_token",
    "registry_url",
    "version_from_dict",
    "zipped_artifact",
]

API_PREFIX = "/v1/registry"
SERVER_ENV = "GLMOPS_SERVER"
TOKEN_ENV = "GLMOPS_TOKEN"
TIMEOUT_S = 120.0  # a register verifies the whole artifact before it answers
_FEATURE = "glmops registry --server"


def registry_url(server: str) -> str:
    """Return the registry routes' base URL of ``server`` (``https://host:8080``).

    Plain ``http://`` is accepted for loopback hosts only: elsewhere the
    bearer token would cross the network in clear text. A user or password in
    the URL is refused (the token belongs in ``GLMOPS_TOKEN``).
    """
    parts = urlsplit(server.strip())
    expected = "an https:// URL such as https://glmops.example.com:8080"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad_server(f"The '--server' option must be {expected}.", expected, server)
    if parts.username or parts.password or parts.query or parts.fragment:
        raise _bad_server(
            "The '--server' URL must hold no user, password, query or fragment; the token "
            f"goes in {TOKEN_ENV}.",
            expected,
            server,
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise _bad_server(
            f"The '--server' URL must use https:// for {parts.hostname!r}: over http:// the "
            "bearer token would travel in clear text (http:// is accepted for localhost only).",
            expected,
            server,
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{API_PREFIX}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bad_server(message: str, expected: str, server: str) -> InvalidInputError:
    return InvalidInputError(message, field="--server", expected=expected, got=redact_url(server))


def read_token(environ: Mapping[str, str] | None = None) -> str:
    """Return the bearer token from ``GLMOPS_TOKEN``; refuse a missing or malformed one.

    Checked before any request, and never echoed: a header with a newline or
    a space would otherwise fail inside the HTTP library with the value in
    its message.
    """
    token = (os.environ if environ is None else environ).get(TOKEN_ENV, "")
    expected = "a bearer token in the environment"
    if not token:
        raise InvalidInputError(
            f"{_FEATURE} needs the bearer token in the {TOKEN_ENV} environment variable "
            "(never a command-line flag: it would show in ps and in shell history).",
            field=TOKEN_ENV,
            expected=expected,
            got="nothing",
        )
    if not all(33 <= ord(c) <= 126 for c in token):
        raise InvalidInputError(
            f"The {TOKEN_ENV} environment variable holds spaces, control or non-ASCII "
            "characters (a trailing newline?); set it to the token alone.",
            field=TOKEN_ENV,
            expected="printable ASCII without spaces",
            got=MASK,
        )
    return token


def open_remote(server: str, environ: Mapping[str, str] | None = None) -> RemoteRegistry:
    """Return a :class:`RemoteRegistry` for ``server`` with the token of ``GLMOPS_TOKEN``."""
    base = registry_url(server)
    token = read_token(environ)
    return RemoteRegistry(base, token)


class RemoteRegistry:
    """The registry calls the CLI makes, answered by the serving app's registry routes.

    Parameters
    ----------
    base_url : str
        The routes' base URL (:func:`registry_url`).
    token : str
        The bearer token (:func:`read_token`).
    transport : httpx.BaseTransport, optional
        For tests: answer requests without a network.
    """

    def __init__(
        self, base_url: str, token: str, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        from glmops._extras import require

        require("serve", _FEATURE)
        import httpx

        self.base_url = base_url
        self._token = token
        self._client = httpx.Client(
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=TIMEOUT_S,
            follow_redirects=False,  # a redirect must not carry the token elsewhere
            transport=transport,
        )

    def __enter__(self) -> RemoteRegistry:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    # -- reads ----------------------------------------------------------------------------

    def list_models(self) -> list[dict[str, Any]]:
        """Return every model with its version count and aliases."""
        models: list[dict[str, Any]] = self._call("GET", "/models")
        return models

    def list_versions(self, name: str) -> list[VersionInfo]:
        """Return the versions of ``name``, oldest first."""
        answer = self._call("GET", f"/models/{_segment(name, 'name')}")
        return [version_from_dict(v) for v in answer["versions"]]

    def resolve(self, ref: str) -> VersionInfo:
        """Return the version ``ref`` names (``name@champion``, ``name@3``, ``name@latest``)."""
        name, selector = parse_ref(ref)
        path = f"/models/{_segment(name, 'name')}/versions/{_segment(selector, 'selector')}"
        return version_from_dict(self._call("GET", path))

    def history(self, name: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
        """Return ``name``'s audit log, newest first (the HTTP API serves one model's)."""
        if name is None:
            raise InvalidInputError(
                f"{_FEATURE} history needs a model name: the HTTP API serves one model's "
                "audit log at a time.",
                field="name",
                expected="a model name",
                got="nothing",
            )
        path = f"/models/{_segment(name, 'name')}/history"
        events: list[dict[str, Any]] = self._call("GET", path, params={"limit": str(limit)})
        return events

    def diff(self, ref_a: str, ref_b: str) -> dict[str, Any]:
        """Compare two versions: params, metrics, features, coefficients."""
        result: dict[str, Any] = self._call("GET", "/diff", params={"a": ref_a, "b": ref_b})
        return result

    def verify(self) -> list[str]:
        """Return the problems the server found in its stored artifacts (none: intact)."""
        problems: list[str] = self._call("GET", "/verify")["problems"]
        return problems

    # -- writes ---------------------------------------------------------------------------

    def register(self, name: str, artifact: str | os.PathLike[str]) -> VersionInfo:
        """Upload the artifact (a directory is zipped first) as the next version of ``name``."""
        path = f"/models/{_segment(name, 'name')}/versions"
        with zipped_artifact(Path(artifact)) as body:
            answer = self._call(
                "POST", path, content=body, headers={"Content-Type": "application/zip"}
            )
        return version_from_dict(answer)

    def set_alias(
        self, name: str, alias: str, version: int, *, weight: float | None = None, reason: str = ""
    ) -> VersionInfo:
        """Point ``name@alias`` at ``version`` (live aliases pass gates and approval)."""
        path = f"/models/{_segment(name, 'name')}/aliases/{_segment(alias, 'alias')}"
        body = {"version": version, "weight": weight, "reason": reason}
        return version_from_dict(self._call("POST", path, json=body))

    def unset_alias(self, name: str, alias: str, *, reason: str = "") -> None:
        """Remove ``name@alias``."""
        path = f"/models/{_segment(name, 'name')}/aliases/{_segment(alias, 'alias')}"
        self._call("DELETE", path, params={"reason": reason})

    def promote(
        self,
        name: str,
        version: int,
        *,
        alias: str = "champion",
        weight: float | None = None,
        force: bool = False,
        reason: str = "",
        evaluation_data: str | os.PathLike[str] | None = None,
    ) -> VersionInfo:
        """Promote ``version`` through the server's gates (and approval, when required)."""
        if evaluation_data is not None:
            raise InvalidInputError(
                f"The '--data' option does not apply to {_FEATURE}: the server gates on the "
                "metrics and evaluation data it holds; leave '--data' out.",
                field="--data",
                expected="no evaluation data with --server",
                got=str(evaluation_data)[:80],
            )
        body = {
            "version": version,
            "alias": alias,
            "weight": weight,
            "force": force,
            "reason": reason,
        }
        return version_from_dict(
            self._call("POST", f"/models/{_segment(name, 'name')}/promote", json=body)
        )

    def rollback(self, name: str, *, alias: str = "champion", reason: str = "") -> VersionInfo:
        """Point ``name@alias`` back at the version it held before."""
        body = {"alias": alias, "reason": reason}
        path = f"/models/{_segment(name, 'name')}/rollback"
        return version_from_dict(self._call("POST", path, json=body))

    def approve(self, name: str, version: int, *, reason: str = "") -> VersionInfo:
        """Approve ``version`` (by an approver who did not register it)."""
        return self._on_version(name, version, "approve", reason)

    def archive(self, name: str, version: int, *, reason: str = "") -> VersionInfo:
        """Archive ``version`` (it must hold no alias)."""
        return self._on_version(name, version, "archive", reason)

    def _on_version(self, name: str, version: int, action: str, reason: str) -> VersionInfo:
        path = f"/models/{_segment(name, 'name')}/versions/{int(version)}/{action}"
        return version_from_dict(self._call("POST", path, json={"reason": reason}))

    # -- the one exchange -----------------------------------------------------------------

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        """Send one request; return its JSON, or raise what its error body says."""
        import httpx

        try:
            response = self._client.request(method, self.base_url + path, **kw)
        except httpx.HTTPError as exc:  # refused, timed out, TLS ...
            raise ConnectionError(
                self._scrub(
                    f"Cannot reach the registry at {redact_url(self.base_url)}: "
                    f"{type(exc).__name__}: {exc}"
                )
            ) from None
        if response.is_success:
            try:
                return response.json()
            except ValueError:
                raise ConnectionError(
                    f"The server answered {response.status_code} without JSON; is "
                    f"{redact_url(self.base_url)} a glmops server?"
                ) from None
        raise error_of(response.status_code, _json_or_none(response), self._token)

    def _scrub(self, text: str) -> str:
        return redact_text(text).replace(self._token, MASK)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def error_of(status: int, body: Any, token: str = "") -> Exception:
    """Return the error an HTTP error answer maps to (the CLI's exit code follows from it).

    ``body`` is the service's one error shape (anything else is tolerated:
    a proxy's page). 401/403 -> :class:`PermissionDenied`, 404 ->
    :class:`ModelNotFound`, 409 with gate results -> :class:`GateFailed`,
    other 409 -> :class:`AliasConflict`, 400/413/422 ->
    :class:`InvalidInputError` naming the first field, other 4xx ->
    :class:`RegistryError`, anything else -> :class:`ConnectionError` (a
    server fault, with the request id to quote).
    """
    shape = body if isinstance(body, dict) else {}
    entries = [e for e in shape.get("errors") or [] if isinstance(e, dict)]
    message = redact_text(str(shape.get("error") or f"The server answered HTTP {status}."))
    if token:
        message = message.replace(token, MASK)
    if status == 401:
        return PermissionDenied(f"{message} (the token in {TOKEN_ENV} was not accepted)")
    if status == 403:
        return PermissionDenied(message)
    if status == 404:
        return ModelNotFound(message)
    if status == 409:
        gates = [e for e in entries if e.get("kind") == "gate_failed"]
        if gates:
            results = [
                {"rule": e.get("expected"), "candidate": e.get("got"), "passed": False}
                for e in gates
            ]
            return GateFailed(message, results=results)
        return AliasConflict(message)
    if status in (400, 413, 422):
        first = entries[0] if entries else {}
        return InvalidInputError(
            message,
            field=str(first.get("field", "body")),
            expected=str(first.get("expected", "")),
            got=first.get("got"),
        )
    if 400 <= status < 500:
        return RegistryError(message)
    rid = shape.get("request_id")
    where = f" (request id {rid})" if isinstance(rid, str) else ""
    return ConnectionError(f"The server failed (HTTP {status}): {message}{where}")


def _segment(text: str, field: str) -> str:
    """Return ``text`` as one URL path segment (``/`` and ``..`` cannot change the route)."""
    if text in ("", ".", ".."):
        raise InvalidInputError(
            f"The {field!r} parameter must be a name; got {text!r}.",
            field=field,
            expected="a name",
            got=text,
        )
    return quote(text, safe="")


def version_from_dict(info: dict[str, Any]) -> VersionInfo:
    """Return the :class:`VersionInfo` of a route's answer (``VersionInfo.to_dict``)."""
    return VersionInfo(
        model=info["model"],
        version=int(info["version"]),
        digest=info["digest"],
        task=info["task"],
        status=info["status"],
        created_by=info["created_by"],
        created_at=dt.datetime.fromisoformat(info["created_at"]),
        aliases=tuple(info.get("aliases") or ()),
        metrics=dict(info.get("metrics") or {}),
        params=dict(info.get("params") or {}),
        data_fingerprint=info.get("data_fingerprint", ""),
        approved_by=info.get("approved_by"),
        artifact_uri=info.get("artifact_uri", ""),
    )


@contextmanager
def zipped_artifact(path: Path) -> Iterator[IO[bytes]]:
    """Yield the artifact at ``path`` as an open ``.zip`` (a directory is zipped first).

    A directory is written to an anonymous temporary file, files at the
    archive's root as the upload route expects. Only regular files go in: a
    symbolic link could upload a file from outside the artifact.
    """
    if path.is_file() and zipfile.is_zipfile(path):
        with path.open("rb") as handle:
            yield handle
        return
    if not path.is_dir():
        if not path.exists():
            raise FileNotFoundError(f"No artifact at {path}.")
        raise InvalidInputError(
            f"The artifact {path} is neither a directory nor a .zip file.",
            field="artifact",
            expected="an artifact directory or .zip",
            got=path.name,
        )
    with tempfile.TemporaryFile(prefix="glmops-upload-", suffix=".zip") as handle:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for member in sorted(path.rglob("*")):
                if member.is_symlink():
                    raise InvalidInputError(
                        f"The artifact holds a symbolic link, {member.relative_to(path)}: "
                        "refused, it could upload a file from outside the artifact.",
                        field="artifact",
                        expected="regular files only",
                        got=str(member.relative_to(path)),
                    )
                if member.is_file():
                    archive.write(member, member.relative_to(path).as_posix())
        handle.seek(0)
        yield handle
