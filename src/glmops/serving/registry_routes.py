"""The registry over HTTP: module-level handlers the serving app mounts under ``/v1/registry``.

Reads (models, versions, aliases, history, diff, verify) and every audited
write: register (the artifact uploaded as one ``.zip`` body, streamed to a
temporary file under ``serving.max_upload_bytes``, verified before anything is
recorded), aliases, promote, rollback, approve, archive.

Every handler runs the same steps in the same order, so nothing is read for a
caller who may not ask: authenticate the bearer token and check its roles
against :data:`glmops.registry.auth.OPERATIONS` (401/403), read the body
under a byte cap (413 before parsing), validate it with pydantic (422, one
entry per field), then call the registry with the token's actor (whose own
``registry.roles``, when configured, are a second check and the audit log's
record). Setting ``champion``, or a ``canary`` with a weight above 0, takes
live traffic and needs ``promote``; ``force`` needs ``force``. Errors answer
in the service's one shape (:mod:`glmops.serving.errors`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from glmops.errors import ArtifactError
from glmops.serving.auth import Caller, authorize
from glmops.serving.errors import (
    error_answer,
    json_response,
    read_capped,
    request_id,
    validation_refusal,
)
from glmops.serving.inference import Refusal

if TYPE_CHECKING:
    from glmops.serving.app import ServingState

__all__ = [
    "JSON_MAX_BYTES",
    "ROUTES",
    "AliasBody",
    "PromoteBody",
    "ReasonBody",
    "RegistryRoute",
    "install_registry_routes",
]

JSON_MAX_BYTES = 64 * 1024  # a registry write's JSON body; uploads have their own cap
_MAX_TEXT = 2_000  # reasons and descriptions
_LIVE_ALIASES = ("champion",)
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\s'\"\\/]+)+[\\/]")  # the directories of a path


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AliasBody(_Body):
    """Body of ``POST .../aliases/{alias}``."""

    version: int = Field(ge=1, le=999_999_999)
    weight: float | None = Field(None, ge=0.0, le=1.0)
    reason: str = Field("", max_length=_MAX_TEXT)


class PromoteBody(_Body):
    """Body of ``POST .../promote``."""

    version: int = Field(ge=1, le=999_999_999)
    alias: str = Field("champion", max_length=64)
    weight: float | None = Field(None, ge=0.0, le=1.0)  # a canary's share of traffic
    force: bool = False
    reason: str = Field("", max_length=_MAX_TEXT)


class ReasonBody(_Body):
    """Body carrying a reason (rollback, approve, archive; rollback also its alias)."""

    reason: str = Field("", max_length=_MAX_TEXT)
    alias: str = Field("champion", max_length=64)


@dataclasses.dataclass(frozen=True, slots=True)
class _Call:
    """One authorized registry request: who asked, under which id, with which body."""

    request: Request
    state: ServingState
    caller: Caller
    rid: str
    body: Any = None

    @property
    def name(self) -> str:
        return str(self.request.path_params.get("name", ""))

    @property
    def actor(self) -> str:
        return self.caller.actor

    def param(self, key: str, default: str = "") -> str:
        """Return query parameter ``key`` (422 beyond the text cap)."""
        value = self.request.query_params.get(key, default)
        if len(value) > _MAX_TEXT:
            raise _invalid(key, f"at most {_MAX_TEXT} characters", f"{len(value)} characters")
        return value

    def require(self, operation: str) -> None:
        """Refuse (403) unless the token may also perform ``operation``."""
        authorize(self.state.tokens, self.request.headers.get("authorization"), operation)


def _invalid(field: str, expected: str, got: Any) -> Refusal:
    entry = {"field": field, "kind": "invalid", "expected": expected, "got": got}
    return Refusal(422, f"The {field!r} parameter must be {expected}.", [entry])


def _state(request: Request) -> ServingState:
    state: ServingState = request.app.state.glmops
    return state


async def _run(
    request: Request,
    operation: str,
    action: Callable[[_Call], Any],
    body: type[BaseModel] | None = None,
) -> Response:
    """Authorize, read and validate the body, run ``action`` off the loop: the one exit."""
    state, rid = _state(request), request_id(request)
    try:
        caller = authorize(state.tokens, request.headers.get("authorization"), operation)
        parsed = await _parsed(request, body) if body is not None else None
        result = await run_in_threadpool(action, _Call(request, state, caller, rid, parsed))
        response = json_response(200, result, rid)
    except Exception as exc:  # every failure answers in the one shape, counted by model
        response = _failed(state, request, exc, rid)
    return response


def _failed(state: ServingState, request: Request, exc: Exception, rid: str) -> Response:
    state.count_refused(str(request.path_params.get("name", "")), exc)
    return error_answer(exc, rid)


async def _parsed(request: Request, body: type[BaseModel]) -> BaseModel:
    """Return the JSON body as ``body``: 413 over the cap, 400 malformed, 422 invalid."""
    raw = await read_capped(request, JSON_MAX_BYTES)
    try:
        payload = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise Refusal(
            400,
            "The body is not valid JSON.",
            [{"field": "body", "kind": "malformed", "expected": "a JSON object"}],
            reason="malformed",
        ) from exc
    if not isinstance(payload, dict):
        raise _invalid("body", "a JSON object", type(payload).__name__)
    try:
        return body.model_validate(payload)
    except ValidationError as exc:
        raise validation_refusal(exc) from exc


def _version(call: _Call) -> int:
    """Return the ``{version}`` path segment as a version number (422 otherwise)."""
    text = str(call.request.path_params.get("version", ""))
    if not text.isdigit() or len(text) > 9 or int(text) < 1:
        raise _invalid("version", "a version number (1, 2, ...)", text[:40])
    return int(text)


def _readable(call: _Call) -> None:
    """The registry's own roles, when configured, are a second check on reads."""
    call.state.registry.policy.check(call.actor, "read")


# -- reads ------------------------------------------------------------------------------


def _list_models(call: _Call) -> Any:
    _readable(call)
    return call.state.registry.list_models()


async def list_registered(request: Request) -> Response:
    """List the registered models."""
    return await _run(request, "read", _list_models)


def _list_versions(call: _Call) -> Any:
    _readable(call)
    versions = call.state.registry.list_versions(call.name)
    aliases = {a: v.version for v in versions for a in v.aliases}
    return {"name": call.name, "aliases": aliases, "versions": [v.to_dict() for v in versions]}


async def list_versions(request: Request) -> Response:
    """List a model's versions and aliases."""
    return await _run(request, "read", _list_versions)


def _show(call: _Call) -> Any:
    _readable(call)
    selector = str(call.request.path_params["selector"])
    return call.state.registry.resolve(f"{call.name}@{selector}").to_dict()


async def show_version(request: Request) -> Response:
    """Show one version, by number or alias."""
    return await _run(request, "read", _show)


def _history(call: _Call) -> Any:
    _readable(call)
    text = call.param("limit", "100")
    if not text.isdigit() or not 1 <= int(text) <= 10_000:
        raise _invalid("limit", "an integer in [1, 10000]", text[:40])
    return call.state.registry.history(call.name, limit=int(text))


async def history(request: Request) -> Response:
    """Show a model's audit log, newest first."""
    return await _run(request, "read", _history)


def _diff(call: _Call) -> Any:
    _readable(call)
    a, b = call.param("a"), call.param("b")
    for key, value in (("a", a), ("b", b)):
        if not value:
            raise _invalid(key, "a reference such as churn@2", "nothing")
    return call.state.registry.diff(a, b)


async def diff(request: Request) -> Response:
    """Compare two versions (metrics, features, config)."""
    return await _run(request, "read", _diff)


def _verify(call: _Call) -> Any:
    _readable(call)
    problems = call.state.registry.verify()
    return {"ok": not problems, "problems": problems}


async def verify(request: Request) -> Response:
    """Verify every stored artifact against its checksums."""
    return await _run(request, "read", _verify)


# -- writes -----------------------------------------------------------------------------


def _set_alias(call: _Call) -> Any:
    body: AliasBody = call.body
    alias = str(call.request.path_params["alias"])
    if alias == "canary" and (body.weight or 0.0) > 0.0:
        call.require("promote")  # a weighted canary takes live traffic
    info = call.state.registry.set_alias(
        call.name, alias, body.version, weight=body.weight, reason=body.reason, actor=call.actor
    )
    return info.to_dict()


async def set_alias(request: Request) -> Response:
    """Point an alias at a version (champion and weighted canaries need ``promote``)."""
    return await _run(request, _alias_operation(request), _set_alias, AliasBody)


def _alias_operation(request: Request) -> str:
    """The operation an alias write needs, known from the path before the body is read."""
    return "promote" if request.path_params.get("alias") in _LIVE_ALIASES else "alias"


def _unset_alias(call: _Call) -> Any:
    alias = str(call.request.path_params["alias"])
    call.state.registry.unset_alias(call.name, alias, reason=call.param("reason"), actor=call.actor)
    return {"removed": f"{call.name}@{alias}"}


async def unset_alias(request: Request) -> Response:
    """Remove an alias."""
    return await _run(request, _alias_operation(request), _unset_alias)


def _promote(call: _Call) -> Any:
    body: PromoteBody = call.body
    if body.force:
        call.require("force")  # overriding gates is the break-glass role's alone
    info = call.state.registry.promote(
        call.name,
        body.version,
        alias=body.alias,
        weight=body.weight,
        force=body.force,
        reason=body.reason,
        actor=call.actor,
    )
    return info.to_dict()


async def promote(request: Request) -> Response:
    """Promote a version through its gates (and approval, when required)."""
    return await _run(request, "promote", _promote, PromoteBody)


def _rollback(call: _Call) -> Any:
    body: ReasonBody = call.body
    registry = call.state.registry
    return registry.rollback(
        call.name, alias=body.alias, reason=body.reason, actor=call.actor
    ).to_dict()


async def rollback(request: Request) -> Response:
    """Move an alias back to the version it pointed at before."""
    return await _run(request, "rollback", _rollback, ReasonBody)


def _on_version(call: _Call, act: Callable[..., Any]) -> Any:
    """Run a registry write on the ``{version}`` of the path with the body's reason."""
    body: ReasonBody = call.body
    return act(call.name, _version(call), reason=body.reason, actor=call.actor).to_dict()


def _approve(call: _Call) -> Any:
    return _on_version(call, call.state.registry.approve)


async def approve(request: Request) -> Response:
    """Approve a version for promotion (by someone other than its registrant)."""
    return await _run(request, "approve", _approve, ReasonBody)


def _archive(call: _Call) -> Any:
    return _on_version(call, call.state.registry.archive)


async def archive(request: Request) -> Response:
    """Archive a version (it can no longer take an alias)."""
    return await _run(request, "archive", _archive, ReasonBody)


async def register(request: Request) -> Response:
    """Register the artifact in the body (one ``.zip``) as a new version: 201."""
    state, rid = _state(request), request_id(request)
    try:
        caller = authorize(state.tokens, request.headers.get("authorization"), "register")
        call = _Call(request, state, caller, rid)
        description = call.param("description")
        upload = await _upload(request, state.config.max_upload_bytes)
        try:
            info = await run_in_threadpool(_register, call, upload, description)
        finally:
            upload.unlink(missing_ok=True)
        response = json_response(201, info, rid)
    except Exception as exc:  # the one exit, as in _run
        response = _failed(state, request, exc, rid)
    return response


async def _upload(request: Request, limit: int) -> Path:
    """Stream the body to a temporary file; refuse a wrong type (422), over ``limit`` (413)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/zip", "application/octet-stream"):
        raise _invalid("content-type", "application/zip", kind[:80] or "(none)")
    declared = request.headers.get("content-length")
    too_large = Refusal(
        413,
        f"The artifact exceeds {limit} bytes.",
        [{"field": "body", "kind": "too_large", "expected": f"at most {limit} bytes"}],
    )
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    fd, name = tempfile.mkstemp(prefix="glmops-upload-", suffix=".zip")
    path = Path(name)
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large
                out.write(chunk)
        if size == 0:
            raise _invalid("body", "an artifact .zip", "0 bytes")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _register(call: _Call, upload: Path, description: str) -> Any:
    """Register ``upload``; an artifact the registry refuses is the client's fault (422)."""
    try:
        info = call.state.registry.register(
            call.name,
            upload,
            actor=call.actor,
            description=description,
            # a zip may expand at most 4x its upload cap (zip bombs), read once
            max_bytes=4 * call.state.config.max_upload_bytes,
        )
    except ArtifactError as exc:  # not a glmops artifact, tampered, unsigned ...
        message = _PATH.sub("", str(exc)).replace(upload.name, "<upload>")  # no server paths
        raise Refusal(
            422,
            f"The upload is not an acceptable glmops artifact: {message}"[:1_000],
            [
                {
                    "field": "body",
                    "kind": type(exc).__name__,
                    "expected": "an intact glmops artifact .zip",
                }
            ],
        ) from exc
    return info.to_dict()


# -- the table the app mounts (and the OpenAPI document reads) ------------------------------


@dataclasses.dataclass(frozen=True)
class RegistryRoute:
    """One registry route: method, path under the prefix, handler, and what it reads."""

    method: str
    path: str
    endpoint: Callable[[Request], Awaitable[Response]]
    operation: str  # the OPERATIONS entry checked before anything is read
    body: type[BaseModel] | None = None
    query: tuple[str, ...] = ()  # query parameters it reads
    upload: bool = False


ROUTES = (
    RegistryRoute("GET", "/models", list_registered, "read"),
    RegistryRoute("GET", "/models/{name}", list_versions, "read"),
    RegistryRoute("GET", "/models/{name}/versions/{selector}", show_version, "read"),
    RegistryRoute("GET", "/models/{name}/history", history, "read", query=("limit",)),
    RegistryRoute("GET", "/diff", diff, "read", query=("a", "b")),
    RegistryRoute("GET", "/verify", verify, "read"),
    RegistryRoute(
        "POST", "/models/{name}/versions", register, "register", query=("description",), upload=True
    ),
    RegistryRoute("POST", "/models/{name}/aliases/{alias}", set_alias, "alias", AliasBody),
    RegistryRoute(
        "DELETE", "/models/{name}/aliases/{alias}", unset_alias, "alias", None, ("reason",)
    ),
    RegistryRoute("POST", "/models/{name}/promote", promote, "promote", PromoteBody),
    RegistryRoute("POST", "/models/{name}/rollback", rollback, "rollback", ReasonBody),
    RegistryRoute(
        "POST", "/models/{name}/versions/{version}/approve", approve, "approve", ReasonBody
    ),
    RegistryRoute(
        "POST", "/models/{name}/versions/{version}/archive", archive, "archive", ReasonBody
    ),
)


def install_registry_routes(app: FastAPI, prefix: str = "/v1/registry") -> None:
    """Mount :data:`ROUTES` under ``prefix``, each documented in the OpenAPI document."""
    from glmops.serving.openapi import registry_operation

    for route in ROUTES:
        app.add_api_route(
            prefix + route.path,
            route.endpoint,
            methods=[route.method],
            tags=["registry"],
            summary=(route.endpoint.__doc__ or "").split("\n", 1)[0].rstrip("."),
            status_code=201 if route.upload else 200,
            openapi_extra=registry_operation(route),
        )
