"""The serving app: ``create_app(config)`` -> a FastAPI app that uvicorn runs.

Hot path (``POST /v1/models/{name}/predict``): authenticate, pick the
route, decode the body with orjson, validate and score through the model's
own pipeline (:mod:`glmops.serving.inference`), encode the answer, then
hand the prediction log and the shadow copy to their threads. No pydantic
body model and no middleware sit on that path: each costs more than the
model itself. Every failure a client can cause is a 4xx with one entry per
offending field; anything else is a 500 that names the request id and is
logged, and the process serves on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import inspect
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from glmops.config import GlmopsConfig, ServingConfig
from glmops.errors import GlmopsError, ModelNotFound
from glmops.registry.registry import Registry
from glmops.serving.auth import Caller, TokenTable
from glmops.serving.host import ModelHost
from glmops.serving.inference import (
    ARROW_TYPES,
    Policy,
    Refusal,
    Rows,
    Scored,
    answer,
    parse_arrow,
    parse_payload,
    score_rows,
)
from glmops.serving.metrics import ServingMetrics
from glmops.serving.predlog import Entry, LogFull, PredictionLog
from glmops.serving.routing import Routes, Slot
from glmops.serving.shadow import ShadowScorer

if TYPE_CHECKING:
    from glmops.model import Model

__all__ = ["ServingState", "create_app"]

logger = logging.getLogger("glmops.serving")

UNKNOWN = "(unknown)"  # metric label of a model name that is not served
OTHER = "(other)"  # metric label of a field that is not a feature
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_JSON = "application/json"


_SCORING_PATH = re.compile(r"^/v1/models/([^/]+)/(?:(predict|explain)|versions/([^/]+)/predict)$")


class _ServingApp(FastAPI):
    """FastAPI, with the scoring routes (POST) dispatched ahead of its router and
    middleware stack: ~15% of a single-row request's time went there (py-spy, 16
    connections). Everything else, errors included, behaves as a FastAPI route."""

    glmops: ServingState
    on_error: Callable[[Request, Exception], Awaitable[Response]] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and self.on_error is not None:
            path = scope["path"]
            root = scope.get("root_path") or ""
            if root and path.startswith(root):
                path = path[len(root) :]
            found = _SCORING_PATH.match(path)
            if found is not None:
                name, action, version = found.groups()
                scope["app"] = self
                scope["path_params"] = (
                    {"name": name} if version is None else {"name": name, "version": version}
                )
                request = Request(scope, receive)
                try:
                    response = await score_request(request, self.glmops, action == "explain")
                except Exception as exc:  # the answer the app's exception handlers give
                    response = await self._handled(request, exc)
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _handled(self, request: Request, exc: Exception) -> Response:
        """Return the answer of the app's exception handler for ``exc``."""
        handler = next(
            (
                self.exception_handlers[cls]
                for cls in type(exc).__mro__
                if cls in self.exception_handlers
            ),
            self.on_error or unexpected,
        )
        answered = handler(request, exc)
        response: Response = await answered if inspect.isawaitable(answered) else answered
        return response


class ServingState:
    """Everything one app holds: registry, loaded routes, metrics, logs, policies."""

    def __init__(self, config: ServingConfig, registry: Registry) -> None:
        from glmops import __version__

        self.config = config
        self.registry = registry
        self.metrics = ServingMetrics(__version__)
        self.policy = Policy(
            max_rows=config.max_rows,
            reject_unexpected=config.unexpected_fields == "reject",
            reject_out_of_range=config.out_of_range == "reject",
        )
        self.tokens = TokenTable(
            None
            if config.auth == "disabled"
            else [(t.sha256, t.actor, t.roles) for t in config.tokens]
        )
        self.host = ModelHost(
            registry, self.metrics, names=config.models, interval_s=config.reload_interval_s
        )
        self.entity_keys = {name: r.entity_key for name, r in config.routes.items()}
        self.log: PredictionLog | None = (
            PredictionLog(config.prediction_log, self.metrics, self.entity_keys)
            if config.prediction_log.enabled
            else None
        )
        self._policies: dict[str, Policy] = {}
        self.shadow = ShadowScorer(self.metrics, self.policy_for, self.log_rows)

    def policy_for(self, name: str) -> Policy:
        """Return the validation policy of model ``name`` (its entity key passes through)."""
        found = self._policies.get(name)
        if found is None:
            key = self.entity_keys.get(name)
            found = dataclasses.replace(
                self.policy, passthrough=frozenset({key}) if key else frozenset()
            )
            self._policies[name] = found
        return found

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Load the served models and start the background threads."""
        if self.log is not None:
            self.log.start()
        self.shadow.start()
        self.host.start()

    def stop(self) -> None:
        """Stop reloading, finish shadow jobs and write the queued log rows."""
        self.host.stop()
        self.shadow.close()
        if self.log is not None:
            self.log.close()

    # -- prediction log ------------------------------------------------------------

    def log_rows(
        self,
        slot: Slot,
        rows: Rows,
        request_id: str,
        entity: str | None,
        scored: Scored,
        latency_ms: float,
    ) -> None:
        """Queue the request for the prediction log (turned into rows off the request path)."""
        if self.log is None:
            return
        self.log.append(
            Entry(
                request_id,
                time.time(),
                slot,
                entity,
                rows,
                scored.table,
                scored.decision,
                latency_ms,
            )
        )


def _json(status: int, body: Any, request_id: str | None = None) -> Response:
    headers = {"x-request-id": request_id} if request_id else None
    return Response(orjson.dumps(body), status_code=status, media_type=_JSON, headers=headers)


def _refused(status: int, message: str, errors: list[dict[str, Any]], rid: str) -> Response:
    return _json(status, {"error": message, "errors": errors, "request_id": rid}, rid)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """Return the body, or None as soon as it exceeds ``limit`` bytes (never buffered whole)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        return await request.body() if int(declared) <= limit else None
    parts = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id")
    if given and _REQUEST_ID.match(given):
        return given
    return uuid.uuid4().hex


def create_app(
    config: GlmopsConfig | ServingConfig | None = None,
    *,
    registry: Registry | None = None,
) -> FastAPI:
    """Return the serving app for ``config`` (its ``serving`` section and registry).

    Parameters
    ----------
    config : GlmopsConfig or ServingConfig, optional
        The whole config (its registry and serving sections are used) or
        just the serving section (then ``registry`` or the environment's
        registry is used). None: defaults with ``auth: disabled``, for local use.
    registry : Registry, optional
        An open registry (default: built from the config or the environment).

    Returns
    -------
    fastapi.FastAPI
    """
    if isinstance(config, GlmopsConfig):
        serving = config.serving or ServingConfig(auth="disabled")
        log = serving.prediction_log
        if "://" not in log.path:  # relative to the config file, like every path in it
            serving = serving.model_copy(
                update={
                    "prediction_log": log.model_copy(update={"path": str(config.resolve(log.path))})
                }
            )
        if registry is None:
            from glmops.config import open_registry

            registry = open_registry(config)
    else:
        serving = config or ServingConfig(auth="disabled")
    if registry is None:
        registry = Registry()
    state = ServingState(serving, registry)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.start()
        # everything loaded so far lives as long as the process: keep it out of the
        # cyclic GC's full collections, which otherwise stall requests for ~10-50 ms
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            state.stop()

    app = _ServingApp(
        title="glmops serving",
        version=_package_version(),
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.glmops = app.state.glmops = state
    _routes(app)
    _registry_routes(app, state)
    from glmops.serving.openapi import install_openapi

    install_openapi(app, state)
    return app


def _package_version() -> str:
    from glmops import __version__

    return str(__version__)


# -- scoring: one handler for predict, explain and a pinned version's predict ----------
#
# The scoring routes are plain Starlette routes, dispatched by _ServingApp ahead of the
# router: FastAPI's parameter machinery costs ~60 us a request, more than validating and
# scoring a record. Their request schemas are documented per model by
# glmops.serving.openapi. Every client error on the way is a Refusal; the handler's one
# exit records it, or the answer, in the metrics.


@dataclasses.dataclass(slots=True)
class _Call:
    """One scoring request on its way: who asked for what, and the version that answers."""

    request: Request
    state: ServingState
    name: str
    label: str  # metric label of the name: the name if served, else UNKNOWN
    rid: str
    version: str | None  # a pinned version's path segment, as sent
    slot: Slot | None = None


@dataclasses.dataclass(slots=True)
class _Answer:
    """What scoring a call produced, for the response and what is recorded."""

    rows: Rows
    scored: Scored
    entity: str | None
    explain: bool


async def score_request(request: Request, state: ServingState, explain: bool) -> Response:
    """Answer a scoring request; its one exit records the outcome (metrics, log, shadow)."""
    started = time.perf_counter()
    name = request.path_params["name"]
    call = _Call(
        request,
        state,
        name,
        name if name in state.host.routes else UNKNOWN,  # bounded label values
        _request_id(request),
        request.path_params.get("version"),
    )
    try:
        done = await _score(call, explain)
        await _admit(call, done, started)
        response = _answered(call, done, started)
    except LogFull as exc:
        response = _log_full(call, exc)
    except Refusal as exc:
        response = _refused_call(call, exc)
    return response


async def _admit(call: _Call, done: _Answer, started: float) -> None:
    """Hand the rows to the prediction log before the answer exists: under its ``block``
    policy a log without room raises LogFull, and the request is not answered."""
    log, slot = call.state.log, call.slot
    if log is None or slot is None:
        return
    latency_ms = (time.perf_counter() - started) * 1e3
    table, decision = done.scored.table, done.scored.decision
    entry = Entry(call.rid, time.time(), slot, done.entity, done.rows, table, decision, latency_ms)
    await log.admit(entry)


def _log_full(call: _Call, exc: LogFull) -> Response:
    """Return the log's refusal (503 with Retry-After, or 413); count it by model."""
    metrics, slot = call.state.metrics, call.slot
    metrics.child(metrics.errors, call.label, exc.reason).inc()
    if slot is not None:
        status = str(exc.status)
        metrics.child(metrics.requests, call.name, slot.version_label, slot.route, status).inc()
    response = _refusal_response(exc, call.rid)
    if exc.retry_after_s is not None:
        response.headers["retry-after"] = str(exc.retry_after_s)
    return response


async def _score(call: _Call, explain: bool) -> _Answer:
    """Authenticate, read, route, validate and score; raise Refusal on a client error."""
    state = call.state
    if call.version is not None:
        _check_version(call.name, call.version)
    _authorize(call.request, state, "predict")
    rows, explain_asked = await _read_rows(call.request, state)
    key, entity = _entity_of(call, rows)
    call.slot = _routed(call, key) if call.version is None else await _pinned(call, call.version)
    scored = score_rows(call.slot.model, rows, state.policy_for(call.name))
    return _Answer(rows, scored, entity, explain or explain_asked)


def _check_version(name: str, version: str) -> None:
    """Refuse a version segment that cannot be a version number (before anything else)."""
    if not version.isdigit() or int(version) < 1 or len(version) > 9:
        raise Refusal(
            404,
            f"Version {version!r} of {name!r} does not exist.",
            [{"field": "version", "expected": "a version number", "got": version}],
            reason="not_found",
        )


def _routed(call: _Call, key: str) -> Slot:
    """Return the champion or canary that answers for ``key``."""
    routes: Routes | None = call.state.host.routes.get(call.name)
    if routes is None:
        raise _not_found(call.name, f"No model {call.name!r} is served.")
    return routes.pick(key)


async def _pinned(call: _Call, version: str) -> Slot:
    """Return the slot of an explicit version (a first use loads and verifies it: off
    the event loop)."""
    try:
        return await run_in_threadpool(call.state.host.pinned, call.name, int(version))
    except ModelNotFound as exc:
        message = f"Version {version} of {call.name!r} is not registered."
        raise _not_found(call.name, message) from exc


def _not_found(name: str, message: str) -> Refusal:
    return Refusal(404, message, [{"field": "name", "got": name}], reason="not_found")


def _entity_of(call: _Call, rows: Rows) -> tuple[str, str | None]:
    """Return (routing key, entity key or None): the header, the entity field, the request id."""
    header = call.request.headers.get(call.state.config.entity_key_header)
    if header:
        return header, header
    field = call.state.entity_keys.get(call.name)
    if field is not None:
        value = rows.record(0).get(field)
        if value is not None:
            return str(value), str(value)
    return call.rid, None


def _answered(call: _Call, done: _Answer, started: float) -> Response:
    """Return the 200 answer; record it in the metrics, the log and the shadow queue."""
    state, metrics, slot, name = call.state, call.state.metrics, call.slot, call.name
    assert slot is not None  # set by _score before it returns
    model = slot.model
    body: dict[str, Any] = {
        "model": name,
        "version": slot.version,
        "route": slot.route,
        "request_id": call.rid,
    }
    body["predictions"], observed = answer(model, done.scored.decision)
    if done.explain:
        body["contributions"] = _contributions(model, done.rows)
    response = Response(orjson.dumps(body), media_type=_JSON, headers={"x-request-id": call.rid})
    elapsed = time.perf_counter() - started
    version = slot.version_label
    metrics.child(metrics.requests, name, version, slot.route, "200").inc()
    metrics.child(metrics.latency, name, version, slot.route).observe(elapsed)
    metrics.child(metrics.rows, name, version, slot.route).inc(done.rows.n)
    histogram = metrics.value if model.task == "regression" else metrics.probability
    metrics.observe_many(metrics.child(histogram, name, version), observed)
    known = model.preprocessor.schema.names
    for note in done.scored.notes:
        feature = note.column if note.column in known else OTHER
        metrics.child(metrics.violations, name, feature, note.kind).inc(note.n_rows or 1)
    for feature, n in done.scored.missing.items():
        metrics.child(metrics.missing, name, feature).inc(n)
    routes = state.host.routes.get(name)
    if routes is not None and routes.shadow is not None and slot.route != "pinned":
        state.shadow.submit((routes.shadow, done.rows, call.rid, done.entity, done.scored.decision))
    return response


def _refused_call(call: _Call, exc: Refusal) -> Response:
    """Return a refused call's 4xx answer; record it (by field once a version was picked)."""
    metrics, slot = call.state.metrics, call.slot
    if slot is None:  # refused before a version was picked: auth, body, routing
        metrics.child(metrics.errors, call.label, exc.reason).inc()
    else:  # the rows break the manifest of the version that was picked
        logger.info(
            "refused",
            extra={
                "request_id": call.rid,
                "model": call.name,
                "version": slot.version,
                "status": exc.status,
                "errors": exc.errors[:10],
            },
        )
        _count_refusal(metrics, call.name, exc, slot.model.preprocessor.schema.names)
        metrics.child(
            metrics.requests, call.name, slot.version_label, slot.route, str(exc.status)
        ).inc()
    return _refusal_response(exc, call.rid)


def _refusal_response(exc: Refusal, rid: str) -> Response:
    response = _refused(exc.status, str(exc), exc.errors, rid)
    if exc.status == 401:
        response.headers["www-authenticate"] = "Bearer"
    return response


def _authorize(request: Request, state: ServingState, role: str) -> Caller:
    """Return the caller, or raise Refusal (401 without a valid token, 403 without ``role``)."""
    caller = state.tokens.caller(request.headers.get("authorization"))
    if caller is None:
        raise Refusal(
            401,
            "A valid bearer token is required.",
            [{"field": "authorization"}],
            reason="unauthenticated",
        )
    if not caller.may(role):
        raise Refusal(
            403,
            f"{caller.actor!r} lacks the {role!r} role.",
            [{"field": "authorization", "expected": f"a token with the {role} role"}],
            reason="forbidden",
        )
    return caller


async def _read_rows(request: Request, state: ServingState) -> tuple[Rows, bool]:
    """Return the body's rows and whether it asks for contributions; raise Refusal."""
    max_body = state.config.max_body_bytes
    body = await _read_capped(request, max_body)
    if body is None:
        raise Refusal(
            413,
            f"The body exceeds {max_body} bytes.",
            [{"field": "body", "expected": f"at most {max_body} bytes"}],
        )
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind in ARROW_TYPES:  # a typed table: no JSON to parse, the batch path at once
        explain = request.query_params.get("explain", "").lower() in ("1", "true")
        return parse_arrow(body, state.policy), explain
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refusal(
            400,
            f"The body is not valid JSON: {exc}",
            [{"field": "body", "expected": "a JSON object"}],
            reason="malformed",
        ) from exc
    rows = parse_payload(payload, state.policy)
    return rows, bool(payload.get("explain", False)) if isinstance(payload, dict) else False


async def predict(request: Request) -> Response:
    """Score instances with the model's champion (or its canary, by entity key)."""
    return await score_request(request, _state(request), False)


async def explain(request: Request) -> Response:
    """Score and return each feature's contribution to the linear score."""
    return await score_request(request, _state(request), True)


async def predict_version(request: Request) -> Response:
    """Score with one explicit registered version (loaded on first use, verified)."""
    return await score_request(request, _state(request), False)


# -- models and operations ------------------------------------------------------------


def _state(request: Request) -> ServingState:
    state: ServingState = request.app.state.glmops
    return state


async def list_models(request: Request) -> Response:
    """List the served models with their routes."""
    state = _state(request)
    try:
        _authorize(request, state, "read")
        response = _json(
            200,
            [
                {"name": name, "task": r.champion.model.task, **r.describe()}
                for name, r in sorted(state.host.routes.items())
            ],
        )
    except Refusal as exc:
        response = _refused_read(state, "", exc, _request_id(request))
    return response


def show_model(name: str, request: Request) -> Response:  # reads the registry: a thread
    """Show a served model: routes, registered versions, feature schema."""
    state = _state(request)
    rid = _request_id(request)
    try:
        _authorize(request, state, "read")
        response = _json(200, _model_facts(state, name, rid))
    except Refusal as exc:
        response = _refused_read(state, name, exc, rid)
    return response


def _model_facts(state: ServingState, name: str, rid: str) -> dict[str, Any]:
    """Return what ``GET /v1/models/{name}`` shows; raise Refusal (404) if not served."""
    routes = state.host.routes.get(name)
    if routes is None:
        raise Refusal(404, f"No model {name!r} is served.", [{"field": "name"}])
    model = routes.champion.model
    return {
        "name": name,
        "task": model.task,
        "classes": [str(c) for c in model.classes] if model.classes else None,
        "threshold": model.threshold,
        "routes": routes.describe(),
        "features": model.preprocessor.schema.to_dict()["columns"],
        "versions": [v.to_dict() for v in state.registry.list_versions(name)],
    }


def _refused_read(state: ServingState, label: str, exc: Refusal, rid: str) -> Response:
    """Return a refused read's answer; count an auth refusal (as the scoring routes do)."""
    if exc.status in (401, 403):
        state.metrics.child(state.metrics.errors, label, exc.reason).inc()
    return _refusal_response(exc, rid)


async def healthz() -> Response:
    """Liveness: the process answers."""
    return _json(200, {"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: every configured model has a verified champion loaded."""
    host = _state(request).host
    ready = host.ready
    body = {
        "ready": ready,
        "models": {n: r.describe() for n, r in sorted(host.routes.items())},
        "problems": dict(host.problems),
    }
    return _json(200 if ready else 503, body)


async def prometheus(request: Request) -> Response:
    """Prometheus exposition."""
    state = _state(request)
    if state.log is not None:
        state.metrics.log_queue.set(state.log.pending)
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")


async def unexpected(request: Request, exc: Exception) -> Response:
    """Answer a fault of ours: 500 (503 for a glmops error) naming the request id, logged."""
    rid = request.headers.get("x-request-id") or uuid.uuid4().hex
    logger.exception("unexpected error (request %s)", rid)
    status = 503 if isinstance(exc, GlmopsError) else 500
    return _json(status, {"error": f"{type(exc).__name__}", "request_id": rid}, rid)


def _routes(app: _ServingApp) -> None:
    """Register the scoring, model and operations routes and the fault handler."""
    for path, endpoint in (
        ("/v1/models/{name}/predict", predict),
        ("/v1/models/{name}/explain", explain),
        ("/v1/models/{name}/versions/{version}/predict", predict_version),
    ):
        app.add_route(path, endpoint, methods=["POST"], include_in_schema=False)
    app.add_api_route("/v1/models", list_models, methods=["GET"], tags=["models"])
    app.add_api_route("/v1/models/{name}", show_model, methods=["GET"], tags=["models"])
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["ops"])
    app.add_api_route("/readyz", readyz, methods=["GET"], tags=["ops"])
    app.add_api_route("/metrics", prometheus, methods=["GET"], tags=["ops"])
    app.add_exception_handler(Exception, unexpected)
    app.on_error = unexpected


def _count_refusal(
    metrics: ServingMetrics, name: str, exc: Refusal, features: Sequence[str]
) -> None:
    metrics.child(metrics.errors, name, exc.reason).inc()
    for problem in exc.errors:
        feature = str(problem.get("field", "")).rsplit(".", 1)[-1]
        if feature not in features:  # a client's field name never becomes a label value
            feature = OTHER
        metrics.child(metrics.violations, name, feature, str(problem.get("kind", ""))).inc()


def _contributions(model: Model, rows: Rows) -> list[Any]:
    explained = model.explain(list(rows.as_records()))
    names = explained["features"]
    contrib = explained["contributions"]
    if contrib.ndim == 2:
        return [dict(zip(names, row, strict=True)) for row in contrib.tolist()]
    classes = [str(c) for c in model.classes or ()]
    return [
        {
            c: dict(zip(names, per_class, strict=True))
            for c, per_class in zip(classes, row, strict=True)
        }
        for row in contrib.tolist()
    ]


def _registry_routes(app: FastAPI, state: ServingState) -> None:
    from glmops.serving.registry_routes import install_error_handler, registry_router

    tokens = state.tokens.actors if state.tokens.enabled else None
    app.include_router(
        registry_router(state.registry, tokens=tokens), prefix="/v1/registry", tags=["registry"]
    )
    install_error_handler(app)
