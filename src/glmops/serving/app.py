"""The serving app: ``create_app(config)`` -> a FastAPI app that uvicorn runs.

Hot path (``POST /v1/models/{name}/predict``): authenticate, pick the
route, decode the body with orjson, validate and score through the model's
own pipeline (:mod:`glmops.serving.inference`), encode the answer, then
hand the prediction log and the shadow copy to their threads. No pydantic
body model and no middleware sit on that path: each costs more than the
model itself. Every failure a client can cause is a 4xx with one entry per
offending field; anything else is a 500 that names the request id and is
logged, and the process serves on (:mod:`glmops.serving.errors`).

Deny by default: every route but ``/healthz`` checks the caller's token
against :data:`glmops.registry.auth.OPERATIONS` before it reads a byte of the
body; ``/readyz`` answers a probe without a token with ``{"ready": bool}``
only; ``/metrics`` needs ``read`` unless ``serving.metrics_auth: none``.
Metric labels name served models only (else ``(unknown)``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import inspect
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from glmops.config import GlmopsConfig, ServingConfig
from glmops.errors import ModelNotFound
from glmops.registry.registry import Registry
from glmops.serving.auth import TokenTable, authorize, refuse_open_bind
from glmops.serving.errors import (
    JSONBytes,
    ScoringRequest,
    error_answer,
    json_response,
    read_capped,
    refusal_response,
    request_id,
    unexpected,
)
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
from glmops.serving.predlog import Entry, LogFull, PiiPolicy, PredictionLog
from glmops.serving.registry_routes import install_registry_routes
from glmops.serving.routing import Routes, Slot
from glmops.serving.shadow import ShadowScorer

if TYPE_CHECKING:
    from glmops.model import Model

__all__ = ["ServingState", "create_app"]

logger = logging.getLogger("glmops.serving")

UNKNOWN = "(unknown)"  # metric label of a model name that is not served
OTHER = "(other)"  # metric label of a field that is not a feature


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
                request = ScoringRequest(scope, receive)
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
            max_string_chars=config.max_string_chars,
            reject_unexpected=config.unexpected_fields == "reject",
            reject_out_of_range=config.out_of_range == "reject",
        )
        self.tokens = TokenTable(
            None
            if config.auth == "disabled"
            else [(t.sha256, t.actor, t.roles) for t in config.tokens]
        )
        self.host = ModelHost(
            registry,
            self.metrics,
            names=config.models,
            interval_s=config.reload_interval_s,
            pinned_cache_size=config.pinned_cache_size,
        )
        self.entity_keys = {name: r.entity_key for name, r in config.routes.items()}
        self.log: PredictionLog | None = (
            PredictionLog(config.prediction_log, self.metrics, self.entity_keys)
            if config.prediction_log.enabled
            else None
        )
        self.pii = (
            self.log.pii if self.log is not None else PiiPolicy.from_config(config.prediction_log)
        )
        self._policies: dict[str, Policy] = {}
        self.shadow = ShadowScorer(self.metrics, self.policy_for, self.log_rows)

    def label(self, name: str) -> str:
        """Return the metric label of a model name: the name if served, else UNKNOWN."""
        return name if name in self.host.routes else UNKNOWN

    def count_refused(self, name: str, exc: Exception) -> None:
        """Count an auth refusal (401/403) by model label, as the scoring routes do."""
        if isinstance(exc, Refusal) and exc.status in (401, 403):
            self.metrics.child(self.metrics.errors, self.label(name), exc.reason).inc()

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


def create_app(
    config: GlmopsConfig | ServingConfig | None = None,
    *,
    registry: Registry | None = None,
    insecure: bool = False,
) -> FastAPI:
    """Return the serving app for ``config`` (its ``serving`` section and registry).

    Parameters
    ----------
    config : GlmopsConfig or ServingConfig, optional
        The whole config (its registry and serving sections are used) or
        just the serving section (then ``registry`` or the environment's
        registry is used). None: defaults with ``auth: disabled`` on
        127.0.0.1, for local use. A config without a serving section is
        refused: serving needs tokens unless ``auth: disabled`` is explicit.
    registry : Registry, optional
        An open registry (default: built from the config or the environment).
    insecure : bool, default=False
        Allow ``auth: disabled`` with a non-loopback ``serving.host``.

    Returns
    -------
    fastapi.FastAPI

    Raises
    ------
    ConfigError
        No serving section, or ``auth: disabled`` on a non-loopback host.
    """
    if isinstance(config, GlmopsConfig):
        serving = config.serving_config()
        if registry is None:
            from glmops.config import open_registry

            registry = open_registry(config)
    else:
        serving = config or ServingConfig(auth="disabled")
    refuse_open_bind(serving, insecure=insecure)
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

    app = _ServingApp(  # /docs and /openapi.json are ours, behind a token with read
        title="glmops serving",
        version=_package_version(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.glmops = app.state.glmops = state
    _routes(app)
    install_registry_routes(app)
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
        state.label(name),  # bounded label values
        request_id(request),
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
    response = refusal_response(exc, call.rid)
    if exc.retry_after_s is not None:
        response.headers["retry-after"] = str(exc.retry_after_s)
    return response


async def _score(call: _Call, explain: bool) -> _Answer:
    """Authenticate, read, route, validate and score; raise Refusal on a client error."""
    state = call.state
    if call.version is not None:
        _check_version(call.name, call.version)
    authorize(state.tokens, call.request.headers.get("authorization"), "predict")
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
        # one answer for absent, archived and not-served-here: no probing of the registry
        message = f"Version {version} of {call.name!r} is not served here."
        raise _not_found(call.name, message) from exc


def _not_found(name: str, message: str) -> Refusal:
    return Refusal(404, message, [{"field": "name", "got": name}], reason="not_found")


def _entity_of(call: _Call, rows: Rows) -> tuple[str, str | None]:
    """Return (routing key, entity key or None): the header, the entity field, the request id."""
    header = call.request.headers.get(call.state.config.entity_key_header)
    if header:
        limit = call.state.policy.max_string_chars
        if len(header) > limit:  # it reaches the log
            name = call.state.config.entity_key_header
            raise Refusal(
                422,
                f"The {name} header is longer than {limit} characters.",
                [{"field": name, "kind": "too_long", "expected": "a short entity key"}],
            )
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
    response = JSONBytes(orjson.dumps(body), call.rid)
    elapsed = time.perf_counter() - started
    answered = metrics.answered(slot)
    answered.requests.inc()
    answered.latency.observe(elapsed)
    answered.rows.inc(done.rows.n)
    metrics.observe_many(answered.predictions, observed)
    if done.scored.notes:
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
                # the log's PII rules hold here too: a hashed field is never logged in clear
                "errors": call.state.pii.refusal_entries(exc.errors[:10]),
            },
        )
        _count_refusal(metrics, call.name, exc, slot.model.preprocessor.schema.names)
        metrics.child(
            metrics.requests, call.name, slot.version_label, slot.route, str(exc.status)
        ).inc()
    return refusal_response(exc, call.rid)


async def _read_rows(request: Request, state: ServingState) -> tuple[Rows, bool]:
    """Return the body's rows and whether it asks for contributions; raise Refusal."""
    body = await read_capped(request, state.config.max_body_bytes)
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
#
# Module-level handlers with one exit each: authorize (401/403) before anything else,
# then answer; every failure goes through glmops.serving.errors.error_answer.


def _state(request: Request) -> ServingState:
    state: ServingState = request.app.state.glmops
    return state


def _caller_may(request: Request, state: ServingState, operation: str) -> bool:
    """Return whether the request's token permits ``operation`` (no refusal raised)."""
    caller = state.tokens.caller(request.headers.get("authorization"))
    return caller is not None and caller.may(operation)


def _authorized(request: Request, state: ServingState, operation: str) -> None:
    authorize(state.tokens, request.headers.get("authorization"), operation)


def _guarded(
    request: Request,
    operation: str | None,
    produce: Callable[[ServingState], Response],
    name: str = "",
) -> Response:
    """Authorize ``operation`` (None: open), then answer ``produce(state)``: the one exit."""
    state = _state(request)
    try:
        if operation is not None:
            _authorized(request, state, operation)
        response = produce(state)
    except Exception as exc:  # refusals and faults alike answer in the one shape
        state.count_refused(name, exc)
        response = error_answer(exc, request_id(request))
    return response


async def list_models(request: Request) -> Response:
    """List the served models with their routes."""
    return _guarded(request, "read", _served_models)


def _served_models(state: ServingState) -> Response:
    return json_response(
        200,
        [
            {"name": name, "task": r.champion.model.task, **r.describe()}
            for name, r in sorted(state.host.routes.items())
        ],
    )


def show_model(name: str, request: Request) -> Response:  # reads the registry: a thread
    """Show a served model: routes, registered versions, feature schema."""
    return _guarded(request, "read", functools.partial(_model_facts, name=name), name)


def _model_facts(state: ServingState, name: str) -> Response:
    """Return what ``GET /v1/models/{name}`` shows; raise Refusal (404) if not served."""
    routes = state.host.routes.get(name)
    if routes is None:
        raise Refusal(
            404,
            "No such model is served.",
            [{"field": "name", "kind": "not_found"}],
            reason="not_found",
        )
    model = routes.champion.model
    facts = {
        "name": name,
        "task": model.task,
        "classes": [str(c) for c in model.classes] if model.classes else None,
        "threshold": model.threshold,
        "routes": routes.describe(),
        "features": model.preprocessor.schema.to_dict()["columns"],
        "versions": [v.to_dict() for v in state.registry.list_versions(name)],
    }
    return json_response(200, facts)


async def healthz() -> Response:
    """Liveness: the process answers (no token: probes and load balancers call it)."""
    return json_response(200, {"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: every configured model has a verified champion loaded.

    Without a token (a Kubernetes probe) the answer is ``{"ready": bool}``; a
    token with ``read`` also sees each model's routes and problems as short
    codes (the text is in the log).
    """
    state = _state(request)
    host = state.host
    ready = host.ready
    body: dict[str, Any] = {"ready": ready}
    if _caller_may(request, state, "read"):
        body["models"] = {n: r.describe() for n, r in sorted(host.routes.items())}
        body["problems"] = {n: problem_code(text) for n, text in sorted(host.problems.items())}
    return json_response(200 if ready else 503, body)


_PROBLEM_CODES = (  # (text in the host's description, code): the first match wins
    ("no champion", "no_champion"),
    ("poll failed", "registry_unreachable"),
    ("ChecksumMismatch", "checksum_mismatch"),
    ("SignatureError", "signature_invalid"),
    ("DecryptionError", "decryption_failed"),
    ("UnsupportedFormatVersion", "unsupported_format"),
)


def problem_code(text: str) -> str:
    """Return the short code ``/readyz`` shows for a problem the host describes in text."""
    return next((code for needle, code in _PROBLEM_CODES if needle in text), "load_failed")


async def prometheus(request: Request) -> Response:
    """Prometheus exposition (a token with read, unless ``metrics_auth: none``)."""
    operation = None if _state(request).config.metrics_auth == "none" else "read"
    return _guarded(request, operation, _exposition)


def _exposition(state: ServingState) -> Response:
    if state.log is not None:
        state.metrics.log_queue.set(state.log.pending)
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")


async def openapi_document(request: Request) -> Response:
    """The OpenAPI document (feature ranges and categories: a token with read)."""
    return _guarded(request, "read", lambda _state: json_response(200, request.app.openapi()))


async def docs(request: Request) -> Response:
    """Swagger UI over ``/openapi.json`` (a token with read)."""
    return _guarded(request, "read", _swagger)


def _swagger(_state: ServingState) -> Response:
    page: Response = get_swagger_ui_html(openapi_url="/openapi.json", title="glmops serving")
    return page


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
    app.add_route("/openapi.json", openapi_document, methods=["GET"], include_in_schema=False)
    app.add_route("/docs", docs, methods=["GET"], include_in_schema=False)
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
