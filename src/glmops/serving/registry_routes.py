"""The registry over HTTP: a FastAPI router the serving app mounts under ``/v1/registry``.

Reads (models, versions, aliases, history, diff, verify) and every audited
write: register (the artifact uploaded as one ``.zip`` body, streamed to a
temporary file under a size cap, verified before anything is recorded),
aliases, promote, rollback, approve, archive. Every request is authenticated by a bearer token
(configured as SHA-256 digests of the tokens, compared in constant time)
whose actor is checked against the registry's roles and recorded in the
audit log. Errors map to 401/403/404/409/422/503 with the field named.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the endpoint
# annotations at runtime, including the locally defined ``Actor`` dependency.
import hashlib
import hmac
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from glmops.errors import (
    AliasConflict,
    ArtifactError,
    ChecksumMismatch,
    GateFailed,
    GlmopsError,
    InvalidInputError,
    ModelNotFound,
    PermissionDenied,
    RegistryUnavailable,
)
from glmops.registry.registry import Registry

__all__ = ["hash_token", "install_error_handler", "registry_error_response", "registry_router"]


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which a bearer token is configured."""
    return hashlib.sha256(token.encode()).hexdigest()


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AliasBody(_Body):
    """Body of ``POST .../aliases/{alias}``."""

    version: int = Field(ge=1)
    weight: float | None = Field(None, ge=0.0, le=1.0)
    reason: str = ""


class PromoteBody(_Body):
    """Body of ``POST .../promote``."""

    version: int = Field(ge=1)
    alias: str = "champion"
    force: bool = False
    reason: str = ""


class ReasonBody(_Body):
    """Body carrying only a reason (rollback, approve, archive)."""

    reason: str = ""
    alias: str = "champion"


def registry_error_response(exc: GlmopsError) -> JSONResponse:
    """Map a registry error to its HTTP response (one place for the whole service)."""
    status = 500
    body: dict[str, Any] = {"error": type(exc).__name__, "detail": str(exc)}
    if isinstance(exc, ModelNotFound):
        status = 404
    elif isinstance(exc, PermissionDenied):
        status = 403
    elif isinstance(exc, GateFailed):
        status = 409
        body["gates"] = exc.results
    elif isinstance(exc, AliasConflict):
        status = 409
    elif isinstance(exc, InvalidInputError):
        status = 422
        body["errors"] = [{"field": exc.field, "expected": exc.expected, "got": exc.got}]
    elif isinstance(exc, RegistryUnavailable):
        status = 503
    elif isinstance(exc, ArtifactError):
        status = 500
    return JSONResponse(status_code=status, content=body)


DEFAULT_MAX_UPLOAD_BYTES = 256 * 1024**2


def registry_router(
    registry: Registry,
    *,
    tokens: Mapping[str, str] | None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
) -> APIRouter:
    """Return the ``/v1/registry`` router over ``registry``.

    Parameters
    ----------
    registry : Registry
        The registry to serve (its roles decide who may write).
    tokens : mapping of str to str or None
        SHA-256 digest of each bearer token -> actor. ``None`` disables
        authentication explicitly (the actor is then ``anonymous``).
    max_upload_bytes : int, default=256 MiB
        Largest artifact accepted by ``POST /models/{name}/versions`` (413 above).

    Returns
    -------
    fastapi.APIRouter
    """
    router = APIRouter()
    digests = dict(tokens) if tokens is not None else None

    def actor(authorization: Annotated[str | None, Header()] = None) -> str:
        if digests is None:
            return "anonymous"
        if not authorization or not authorization.lower().startswith("bearer "):
            raise HTTPException(
                status_code=401,
                detail="missing bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        given = hash_token(authorization[7:].strip())
        found = None
        for digest, who in digests.items():
            if hmac.compare_digest(digest, given):
                found = who
        if found is None:
            raise HTTPException(
                status_code=401, detail="unknown token", headers={"WWW-Authenticate": "Bearer"}
            )
        return found

    Actor = Annotated[str, Depends(actor)]

    def readable(who: str) -> None:
        registry.policy.check(who, "read")

    @router.get("/models")
    def list_models(who: Actor) -> list[dict[str, Any]]:
        readable(who)
        return registry.list_models()

    @router.get("/models/{name}")
    def list_versions(name: str, who: Actor) -> dict[str, Any]:
        readable(who)
        versions = registry.list_versions(name)
        aliases = {a: v.version for v in versions for a in v.aliases}
        return {"name": name, "aliases": aliases, "versions": [v.to_dict() for v in versions]}

    @router.get("/models/{name}/versions/{selector}")
    def show(name: str, selector: str, who: Actor) -> dict[str, Any]:
        readable(who)
        return registry.resolve(f"{name}@{selector}").to_dict()

    @router.get("/models/{name}/history")
    def history(name: str, who: Actor, limit: int = 100) -> list[dict[str, Any]]:
        readable(who)
        return registry.history(name, limit=max(1, min(limit, 10_000)))

    @router.get("/diff")
    def diff(a: str, b: str, who: Actor) -> dict[str, Any]:
        readable(who)
        return registry.diff(a, b)

    @router.post("/models/{name}/versions", status_code=201)
    async def register(
        name: str, request: Request, who: Actor, description: str = ""
    ) -> dict[str, Any]:
        """Register the artifact in the body (``application/zip``) as a new version."""
        registry.policy.check(who, "register")  # before reading a byte of the body
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("application/zip", "application/octet-stream"):
            raise InvalidInputError(
                "The body must be the artifact as one .zip file.",
                field="content-type",
                expected="application/zip",
                got=kind or "(none)",
            )
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_upload_bytes:
            raise HTTPException(413, f"artifact larger than {max_upload_bytes} bytes")
        fd, tmp = tempfile.mkstemp(prefix="glmops-upload-", suffix=".zip")
        try:
            size = 0
            with os.fdopen(fd, "wb") as out:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > max_upload_bytes:
                        raise HTTPException(413, f"artifact larger than {max_upload_bytes} bytes")
                    out.write(chunk)
            if size == 0:
                raise InvalidInputError(
                    "The body is empty.", field="body", expected="an artifact .zip", got="0 bytes"
                )
            try:
                info = await run_in_threadpool(
                    registry.register, name, Path(tmp), actor=who, description=description
                )
            except ChecksumMismatch as exc:  # the upload, not the store, is at fault
                raise InvalidInputError(
                    str(exc), field="body", expected="an intact glmops artifact", got="tampered"
                ) from exc
            except ArtifactError as exc:
                raise InvalidInputError(
                    str(exc).replace(tmp, "<upload>"),
                    field="body",
                    expected="a glmops artifact .zip",
                    got="not one",
                ) from exc
            return info.to_dict()
        finally:
            Path(tmp).unlink(missing_ok=True)

    @router.post("/models/{name}/aliases/{alias}")
    def set_alias(name: str, alias: str, body: AliasBody, who: Actor) -> dict[str, Any]:
        info = registry.set_alias(
            name, alias, body.version, weight=body.weight, reason=body.reason, actor=who
        )
        return info.to_dict()

    @router.delete("/models/{name}/aliases/{alias}")
    def unset_alias(name: str, alias: str, who: Actor, reason: str = "") -> dict[str, str]:
        registry.unset_alias(name, alias, reason=reason, actor=who)
        return {"removed": f"{name}@{alias}"}

    @router.post("/models/{name}/promote")
    def promote(name: str, body: PromoteBody, who: Actor) -> dict[str, Any]:
        info = registry.promote(
            name, body.version, alias=body.alias, force=body.force, reason=body.reason, actor=who
        )
        return info.to_dict()

    @router.post("/models/{name}/rollback")
    def rollback(name: str, body: ReasonBody, who: Actor) -> dict[str, Any]:
        return registry.rollback(name, alias=body.alias, reason=body.reason, actor=who).to_dict()

    @router.post("/models/{name}/versions/{version}/approve")
    def approve(name: str, version: int, body: ReasonBody, who: Actor) -> dict[str, Any]:
        return registry.approve(name, version, reason=body.reason, actor=who).to_dict()

    @router.post("/models/{name}/versions/{version}/archive")
    def archive(name: str, version: int, body: ReasonBody, who: Actor) -> dict[str, Any]:
        return registry.archive(name, version, reason=body.reason, actor=who).to_dict()

    @router.get("/verify")
    def verify(who: Actor) -> dict[str, Any]:
        readable(who)
        problems = registry.verify()
        return {"ok": not problems, "problems": problems}

    return router


def install_error_handler(app: Any) -> None:
    """Register the glmops error -> HTTP status mapping on a FastAPI app."""

    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GlmopsError)
        return registry_error_response(exc)

    app.add_exception_handler(GlmopsError, handle)
