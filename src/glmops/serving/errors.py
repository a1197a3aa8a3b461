"""The HTTP boundary's one answer to a failure: request ids, capped bodies, one error shape.

Every error the service answers has the same body (STYLE.md section 12)::

    {"error": message, "errors": [{"field", "kind", "expected", "got"}], "request_id": id}

A client's mistake is a :class:`~glmops.serving.inference.Refusal` (4xx), whether
the handler raised it or :func:`refusal_of` mapped it from the error tree. A
fault of ours is a 500 (503 when the registry is down) with a fixed message and
the request id: the exception and its text go to the log, never to the client.
Refusal bodies hold at most :data:`MAX_ERRORS` entries and then one that says
how many more there were.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from glmops._redact import redact_text, summarize
from glmops.errors import (
    AliasConflict,
    GateFailed,
    GlmopsError,
    InvalidInputError,
    ModelNotFound,
    PermissionDenied,
    RegistryUnavailable,
    SchemaValidationError,
)
from glmops.serving.inference import Refusal

__all__ = [
    "JSON",
    "MAX_ERRORS",
    "JSONBytes",
    "ScoringRequest",
    "error_answer",
    "json_response",
    "read_capped",
    "refusal_of",
    "refusal_response",
    "request_id",
    "unexpected",
    "validation_refusal",
]

logger = logging.getLogger("glmops.serving")

JSON = "application/json"
MAX_ERRORS = 100  # entries in one refusal body; one more entry counts the rest
_MAX_TEXT = 200  # characters of a client's value echoed in an entry
_MAX_MESSAGE = 1_000
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # fullmatch: "$" would accept a newline
_FAULT = "Internal error: the server could not answer; quote the request id to its operators."
_UNAVAILABLE = "The registry is unavailable; retry later."


def request_id(request: Request) -> str:
    """Return the client's ``x-request-id`` if it is a safe token, else a fresh one."""
    given = request.headers.get("x-request-id")
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return _uuid4_hex()


def _uuid4_hex() -> str:
    """Return ``uuid.uuid4().hex``: the same random version-4 id, without the UUID object."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    return raw.hex()


class FirstHeaders(Headers):
    """A request's headers, looked up in a dict of each name's first value.

    Starlette's :class:`~starlette.datastructures.Headers` scans the header list
    on every lookup; the scoring path looks up five names a request.
    """

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope=scope)
        first: dict[bytes, bytes] = {}
        for key, value in reversed(self._list):
            first[key] = value
        self._first = first

    def __getitem__(self, key: str) -> str:
        return self._first[key.lower().encode("latin-1")].decode("latin-1")

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower().encode("latin-1") in self._first

    def get(self, key: str, default: Any = None) -> Any:
        """Return the first value of header ``key``, else ``default``."""
        found = self._first.get(key.lower().encode("latin-1"))
        return default if found is None else found.decode("latin-1")


class ScoringRequest(Request):
    """The request of a scoring route: headers through :class:`FirstHeaders`."""

    @property
    def headers(self) -> Headers:
        """The request's headers (built once)."""
        found: Headers | None = self.__dict__.get("_first_headers")
        if found is None:
            found = self.__dict__["_first_headers"] = FirstHeaders(self.scope)
        return found


class JSONBytes(Response):
    """An encoded JSON body with its request id: the headers :func:`json_response` gives,
    built directly (the scoring routes answer through this; no header parsing)."""

    media_type = JSON

    def __init__(self, content: bytes, rid: str, status_code: int = 200) -> None:
        self.status_code = status_code
        self.background = None
        self.body = content
        self.raw_headers = [
            (b"x-request-id", rid.encode("latin-1")),
            (b"content-length", str(len(content)).encode("latin-1")),
            (b"content-type", b"application/json"),
        ]


def json_response(status: int, body: Any, rid: str | None = None) -> Response:
    """Return ``body`` as JSON with ``status`` (and the request id header when given)."""
    headers = {"x-request-id": rid} if rid else None
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


async def read_capped(request: Request, limit: int) -> bytes:
    """Return the body; raise Refusal (413) as soon as it exceeds ``limit`` bytes.

    A declared ``content-length`` over the limit is refused before a byte is
    read; a chunked body is read only until it passes the limit.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise _too_large(limit)
        return await request.body()
    parts = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


def _too_large(limit: int) -> Refusal:
    return Refusal(
        413,
        f"The body exceeds {limit} bytes.",
        [{"field": "body", "kind": "too_large", "expected": f"at most {limit} bytes"}],
    )


def refusal_response(exc: Refusal, rid: str) -> Response:
    """Return the 4xx answer of a refusal (a 401 names the Bearer scheme)."""
    response = json_response(
        exc.status, {"error": str(exc), "errors": _bounded(exc.errors), "request_id": rid}, rid
    )
    if exc.status == 401:
        response.headers["www-authenticate"] = "Bearer"
    return response


def _bounded(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return at most MAX_ERRORS entries, long strings cut, then one counting the rest."""
    kept = [
        {k: _short(v) if isinstance(v, str) else v for k, v in e.items()}
        for e in errors[:MAX_ERRORS]
    ]
    if len(errors) > MAX_ERRORS:
        more = len(errors) - MAX_ERRORS
        kept.append(
            {
                "field": "errors",
                "kind": "truncated",
                "expected": f"at most {MAX_ERRORS} entries",
                "got": f"{more} more",
            }
        )
    return kept


def _short(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _safe(value: Any) -> Any:
    """Return a client's value as a short JSON scalar (containers summarized)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _short(redact_text(value))
    return summarize(value)


def refusal_of(exc: GlmopsError) -> Refusal | None:
    """Return the 4xx a client-caused glmops error maps to; None for a fault of ours."""
    message = redact_text(str(exc))[:_MAX_MESSAGE]
    if isinstance(exc, ModelNotFound):
        return Refusal(404, message, [{"field": "name", "kind": "not_found"}], reason="not_found")
    if isinstance(exc, PermissionDenied):
        errors = [{"field": "authorization", "kind": "forbidden"}]
        return Refusal(403, message, errors, reason="forbidden")
    if isinstance(exc, GateFailed):
        return Refusal(409, message, _gate_entries(exc), reason="conflict")
    if isinstance(exc, AliasConflict):
        return Refusal(409, message, [{"field": "alias", "kind": "conflict"}], reason="conflict")
    if isinstance(exc, SchemaValidationError):
        return Refusal(422, message, [_violation(v) for v in exc.violations])
    if isinstance(exc, InvalidInputError):
        entry = {"field": exc.field, "kind": "invalid", "expected": exc.expected}
        return Refusal(422, message, [{**entry, "got": _safe(exc.got)}])
    return None


def _gate_entries(exc: GateFailed) -> list[dict[str, Any]]:
    return [
        {
            "field": f"gates[{i}]",
            "kind": "gate_failed",
            "expected": _safe(r.get("rule")),
            "got": _safe(r.get("candidate")),
        }
        for i, r in enumerate(exc.results)
        if not r.get("passed", False)
    ]


def _violation(v: dict[str, Any]) -> dict[str, Any]:
    return {
        "field": str(v.get("column", "")),
        "kind": str(v.get("kind", "invalid")),
        "expected": _safe(v.get("expected")),
        "got": _safe(v.get("example")),
    }


def validation_refusal(exc: ValidationError, where: str = "body") -> Refusal:
    """Return the 422 of a pydantic error: one entry per offending field."""
    errors = [
        {
            "field": ".".join([where, *(str(p) for p in e["loc"])]),
            "kind": e["type"],
            "expected": e["msg"],
            "got": _safe(e.get("input")),
        }
        for e in exc.errors(include_url=False)
    ]
    fields = ", ".join(sorted({e["field"] for e in errors[:10]}))
    return Refusal(422, f"The {where} is not valid: {fields}.", errors)


def error_answer(exc: Exception, rid: str) -> Response:
    """Return the answer to ``exc``: its 4xx when the client caused it, else a logged 5xx."""
    if isinstance(exc, Refusal):
        return refusal_response(exc, rid)
    refusal = refusal_of(exc) if isinstance(exc, GlmopsError) else None
    if refusal is not None:
        return refusal_response(refusal, rid)
    logger.error("unexpected error (request %s)", rid, exc_info=exc)
    unavailable = isinstance(exc, RegistryUnavailable)
    response = json_response(
        503 if unavailable else 500,
        {"error": _UNAVAILABLE if unavailable else _FAULT, "errors": [], "request_id": rid},
        rid,
    )
    if unavailable:
        response.headers["retry-after"] = "5"
    return response


async def unexpected(request: Request, exc: Exception) -> Response:
    """The app's exception handler: :func:`error_answer` under the request's id."""
    return error_answer(exc, request_id(request))
