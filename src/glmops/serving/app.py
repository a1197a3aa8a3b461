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
from typing import Any

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
from glmops.serving.predlog import Entry, PredictionLog
from glmops.serving.routing import Routes, Slot
from glmops.serving.shadow import ShadowScorer

__all__ = ["ServingState", "create_app"]

logger = logging.getLogger("glmops.serving")

UNKNOWN = "(unknown)"  # metric label of a model name that is not served
OTHER = "(other)"  # metric label of a field that is not a feature
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_JSON = "application/json"


_SCORING_PATH = re.compile(r"^/v1/models/([^/]+)/(?:(predict|explain)|versions/([^/]+)/predict)$")
Handler = Callable[[Request], Awaitable[Response]]


class _ServingApp(FastAPI):
    """FastAPI, with the scoring routes (POST) dispatched ahead of its router and
    middleware stack: ~15% of a single-row request's time went there (py-spy, 16
    connections). Everything else, errors included, behaves as a FastAPI route."""

    scoring: dict[str, Handler]
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
                    {"name": name}
                    if version is None
                    else {
                        "name": name,
                        "version": version,
                    }
                )
                request = Request(scope, receive)
                try:
                    response = await self.scoring[action or "version"](request)
                except Exception as exc:  # the answer the app's exception handlers give
                    handler = next(
                        (
                            self.exception_handlers[cls]
                            for cls in type(exc).__mro__
                            if cls in self.exception_handlers
                        ),
                        self.on_error,
                    )
                    answered = handler(request, exc)
                    response = await answered if inspect.isawaitable(answered) else answered
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


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
        self.started_at = time.time()

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
    app.state.glmops = state
    _routes(app, state)
    _registry_routes(app, state)
    from glmops.serving.openapi import install_openapi

    install_openapi(app, state)
    return app


def _package_version() -> str:
    from glmops import __version__

    return str(__version__)


def _routes(app: FastAPI, state: ServingState) -> None:
    metrics = state.metrics
    tokens = state.tokens
    config = state.config
    max_body = config.max_body_bytes

    def authorize(request: Request, role: str, model: str, rid: str) -> Caller | Response:
        caller = tokens.caller(request.headers.get("authorization"))
        if caller is None:
            metrics.child(metrics.errors, model, "unauthenticated").inc()
            response = _refused(
                401, "A valid bearer token is required.", [{"field": "authorization"}], rid
            )
            response.headers["www-authenticate"] = "Bearer"
            return response
        if not caller.may(role):
            metrics.child(metrics.errors, model, "forbidden").inc()
            return _refused(
                403,
                f"{caller.actor!r} lacks the {role!r} role.",
                [{"field": "authorization", "expected": f"a token with the {role} role"}],
                rid,
            )
        return caller

    async def read_rows(request: Request, model: str, rid: str) -> tuple[Rows, bool] | Response:
        body = await _read_capped(request, max_body)
        if body is None:
            metrics.child(metrics.errors, model, "too_large").inc()
            return _refused(
                413,
                f"The body exceeds {max_body} bytes.",
                [{"field": "body", "expected": f"at most {max_body} bytes"}],
                rid,
            )
        kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if kind in ARROW_TYPES:  # a typed table: no JSON to parse, the batch path at once
            try:
                return parse_arrow(body, state.policy), request.query_params.get(
                    "explain", ""
                ).lower() in ("1", "true")
            except Refusal as exc:
                metrics.child(
                    metrics.errors, model, "too_large" if exc.status == 413 else "invalid"
                ).inc()
                return _refused(exc.status, str(exc), exc.errors, rid)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            metrics.child(metrics.errors, model, "malformed").inc()
            return _refused(
                400,
                f"The body is not valid JSON: {exc}",
                [{"field": "body", "expected": "a JSON object"}],
                rid,
            )
        try:
            rows = parse_payload(payload, state.policy)
        except Refusal as exc:
            metrics.child(
                metrics.errors, model, "too_large" if exc.status == 413 else "invalid"
            ).inc()
            return _refused(exc.status, str(exc), exc.errors, rid)
        return rows, bool(payload.get("explain", False)) if isinstance(payload, dict) else False

    def entity_of(request: Request, name: str, rows: Rows, rid: str) -> tuple[str, str | None]:
        header = request.headers.get(config.entity_key_header)
        if header:
            return header, header
        field = state.entity_keys.get(name)
        if field is not None:
            value = rows.record(0).get(field)
            if value is not None:
                return str(value), str(value)
        return rid, None

    async def predict_with(
        request: Request, name: str, pick: Callable[[Rows, str], Slot | None], explain: bool
    ) -> Response:
        started = time.perf_counter()
        rid = _request_id(request)
        label = name if name in state.host.routes else UNKNOWN  # bounded label values
        caller = authorize(request, "predict", label, rid)
        if isinstance(caller, Response):
            return caller
        got = await read_rows(request, label, rid)
        if isinstance(got, Response):
            return got
        rows, explain_asked = got
        key, entity = entity_of(request, name, rows, rid)
        try:
            slot = pick(rows, key)
        except ModelNotFound as exc:
            slot, missing = None, str(exc)
        else:
            missing = f"No model {name!r} is served."
        if slot is None:
            metrics.child(metrics.errors, label, "not_found").inc()
            return _refused(404, missing, [{"field": "name", "got": name}], rid)
        model = slot.model
        version = slot.version_label
        try:
            scored = score_rows(model, rows, state.policy_for(name))
        except Refusal as exc:
            logger.info(
                "refused",
                extra={
                    "request_id": rid,
                    "model": name,
                    "version": slot.version,
                    "status": exc.status,
                    "errors": exc.errors[:10],
                },
            )
            _count_refusal(metrics, name, exc, model.preprocessor.schema.names)
            metrics.child(metrics.requests, name, version, slot.route, str(exc.status)).inc()
            return _refused(exc.status, str(exc), exc.errors, rid)
        body: dict[str, Any] = {
            "model": name,
            "version": slot.version,
            "route": slot.route,
            "request_id": rid,
        }
        body["predictions"], observed = answer(model, scored.decision)
        if explain or explain_asked:
            body["contributions"] = _contributions(model, rows)
        response = Response(orjson.dumps(body), media_type=_JSON, headers={"x-request-id": rid})
        elapsed = time.perf_counter() - started
        metrics.child(metrics.requests, name, version, slot.route, "200").inc()
        metrics.child(metrics.latency, name, version, slot.route).observe(elapsed)
        metrics.child(metrics.rows, name, version, slot.route).inc(rows.n)
        histogram = metrics.value if model.task == "regression" else metrics.probability
        metrics.observe_many(metrics.child(histogram, name, version), observed)
        known = model.preprocessor.schema.names
        for note in scored.notes:
            feature = note.column if note.column in known else OTHER
            metrics.child(metrics.violations, name, feature, note.kind).inc(note.n_rows or 1)
        for feature, n in scored.missing.items():
            metrics.child(metrics.missing, name, feature).inc(n)
        state.log_rows(slot, rows, rid, entity, scored, elapsed * 1e3)
        routes = state.host.routes.get(name)
        if routes is not None and routes.shadow is not None and slot.route != "pinned":
            state.shadow.submit((routes.shadow, rows, rid, entity, scored.decision))
        return response

    def by_alias(name: str) -> Callable[[Rows, str], Slot | None]:
        def pick(_rows: Rows, key: str) -> Slot | None:
            routes: Routes | None = state.host.routes.get(name)
            return None if routes is None else routes.pick(key)

        return pick

    # The scoring routes are plain Starlette routes: FastAPI's parameter machinery
    # costs ~60 us a request, more than validating and scoring a record. Their
    # request schemas are documented per model by glmops.serving.openapi.

    async def predict(request: Request) -> Response:
        """Score instances with the model's champion (or its canary, by entity key)."""
        name = request.path_params["name"]
        return await predict_with(request, name, by_alias(name), False)

    async def explain(request: Request) -> Response:
        """Score and return each feature's contribution to the linear score."""
        name = request.path_params["name"]
        return await predict_with(request, name, by_alias(name), True)

    async def predict_version(request: Request) -> Response:
        """Score with one explicit registered version (loaded on first use, verified)."""
        name = request.path_params["name"]
        version = request.path_params["version"]
        if not version.isdigit() or int(version) < 1 or len(version) > 9:
            rid = _request_id(request)
            return _refused(
                404,
                f"Version {version!r} of {name!r} does not exist.",
                [{"field": "version", "expected": "a version number", "got": version}],
                rid,
            )

        label = name if name in state.host.routes else UNKNOWN
        denied = authorize(request, "predict", label, _request_id(request))
        if isinstance(denied, Response):  # no load for a caller who may not predict
            return denied
        try:  # a first use loads (and verifies) the version: off the event loop
            slot: Slot | None = await run_in_threadpool(state.host.pinned, name, int(version))
        except ModelNotFound:
            slot = None

        def pick(_rows: Rows, _key: str) -> Slot | None:
            if slot is None:
                raise ModelNotFound(f"Version {version} of {name!r} is not registered.")
            return slot

        return await predict_with(request, name, pick, False)

    if isinstance(app, _ServingApp):
        app.scoring = {"predict": predict, "explain": explain, "version": predict_version}
    app.add_route("/v1/models/{name}/predict", predict, methods=["POST"], include_in_schema=False)
    app.add_route("/v1/models/{name}/explain", explain, methods=["POST"], include_in_schema=False)
    app.add_route(
        "/v1/models/{name}/versions/{version}/predict",
        predict_version,
        methods=["POST"],
        include_in_schema=False,
    )

    @app.get("/v1/models", tags=["models"])
    async def list_models(request: Request) -> Response:
        """List the served models with their routes."""
        rid = _request_id(request)
        caller = authorize(request, "read", "", rid)
        if isinstance(caller, Response):
            return caller
        return _json(
            200,
            [
                {"name": name, "task": r.champion.model.task, **r.describe()}
                for name, r in sorted(state.host.routes.items())
            ],
        )

    @app.get("/v1/models/{name}", tags=["models"])
    def show_model(name: str, request: Request) -> Response:  # reads the registry: a thread
        """Show a served model: routes, registered versions, feature schema."""
        rid = _request_id(request)
        caller = authorize(request, "read", name, rid)
        if isinstance(caller, Response):
            return caller
        routes = state.host.routes.get(name)
        if routes is None:
            return _refused(404, f"No model {name!r} is served.", [{"field": "name"}], rid)
        model = routes.champion.model
        versions = [v.to_dict() for v in state.registry.list_versions(name)]
        return _json(
            200,
            {
                "name": name,
                "task": model.task,
                "classes": [str(c) for c in model.classes] if model.classes else None,
                "threshold": model.threshold,
                "routes": routes.describe(),
                "features": model.preprocessor.schema.to_dict()["columns"],
                "versions": versions,
            },
        )

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> Response:
        """Liveness: the process answers."""
        return _json(200, {"status": "ok"})

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> Response:
        """Readiness: every configured model has a verified champion loaded."""
        ready = state.host.ready
        body = {
            "ready": ready,
            "models": {n: r.describe() for n, r in sorted(state.host.routes.items())},
            "problems": dict(state.host.problems),
        }
        return _json(200 if ready else 503, body)

    @app.get("/metrics", tags=["ops"])
    async def prometheus() -> Response:
        """Prometheus exposition."""
        if state.log is not None:
            metrics.log_queue.set(state.log.pending)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        logger.exception("unexpected error (request %s)", rid)
        status = 503 if isinstance(exc, GlmopsError) else 500
        return _json(status, {"error": f"{type(exc).__name__}", "request_id": rid}, rid)

    if isinstance(app, _ServingApp):
        app.on_error = unexpected


def _count_refusal(
    metrics: ServingMetrics, name: str, exc: Refusal, features: Sequence[str]
) -> None:
    metrics.child(metrics.errors, name, "too_large" if exc.status == 413 else "invalid").inc()
    for problem in exc.errors:
        feature = str(problem.get("field", "")).rsplit(".", 1)[-1]
        if feature not in features:  # a client's field name never becomes a label value
            feature = OTHER
        metrics.child(metrics.violations, name, feature, str(problem.get("kind", ""))).inc()


def _contributions(model: Any, rows: Rows) -> list[Any]:
    explained = model.explain(list(rows.as_records()))
    names = explained["features"]
    contrib = explained["contributions"]
    if contrib.ndim == 2:
        return [dict(zip(names, row, strict=True)) for row in contrib.tolist()]
    classes = [str(c) for c in model.classes]
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
