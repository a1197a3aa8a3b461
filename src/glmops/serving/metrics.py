"""Prometheus metrics of one serving app (its own registry: apps never share counters).

Label children are cached per label tuple so the hot path costs a dict
lookup and an observe, not a label resolution.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

if TYPE_CHECKING:
    from glmops.model import Model
    from glmops.serving.routing import Slot

__all__ = ["Answered", "ServingMetrics"]

LATENCY_BUCKETS = (
    0.00025,
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
PROBABILITY_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))


@dataclass(frozen=True, slots=True)
class Answered:
    """The labelled children an answered request of one slot counts in."""

    model: Model  # kept so that the cache key's id cannot be reused by another model
    requests: Any  # glmops_requests{status="200"}
    latency: Any
    rows: Any
    predictions: Any  # the value (regression) or probability histogram


class ServingMetrics:
    """Every metric the service exports, on a private registry."""

    def __init__(self, version: str) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series double the exposition for nothing
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "glmops_requests",
            "Answered requests by model, version, route and HTTP status.",
            ["model", "version", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "glmops_request_latency_seconds",
            "Time from request parsed to response built, by model, version and route.",
            ["model", "version", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rows = Counter(
            "glmops_predicted_rows",
            "Rows scored, by model, version and route.",
            ["model", "version", "route"],
            registry=r,
        )
        self.probability = Histogram(
            "glmops_prediction_probability",
            "Predicted probability of the positive (binary) or top (multinomial) class.",
            ["model", "version"],
            buckets=PROBABILITY_BUCKETS,
            registry=r,
        )
        self.value = Histogram(
            "glmops_prediction_value",
            "Predicted value of regression models.",
            ["model", "version"],
            registry=r,
        )
        self.missing = Counter(
            "glmops_feature_missing",
            "Null or absent feature values received (imputed), by model and feature.",
            ["model", "feature"],
            registry=r,
        )
        self.violations = Counter(
            "glmops_schema_violations",
            "Feature-manifest violations by model, feature and kind (rejected or counted).",
            ["model", "feature", "kind"],
            registry=r,
        )
        self.errors = Counter(
            "glmops_request_errors",
            "Refused requests by model and reason (validation, size, auth, not found...).",
            ["model", "reason"],
            registry=r,
        )
        self.shadow = Counter(
            "glmops_shadow_predictions",
            "Shadow scorings by model, version and outcome (ok, refused, error, dropped).",
            ["model", "version", "outcome"],
            registry=r,
        )
        self.loads = Counter(
            "glmops_model_loads",
            "Model loads by model, version and outcome (loaded, refused).",
            ["model", "version", "outcome"],
            registry=r,
        )
        self.served = Gauge(
            "glmops_model_served",
            "1 for each (model, route, version) currently served.",
            ["model", "route", "version"],
            registry=r,
        )
        self.log_written = Counter(
            "glmops_prediction_log_written", "Prediction-log rows written.", registry=r
        )
        self.log_offered = Counter(
            "glmops_prediction_log_offered",
            "Rows of answered (and shadow) predictions handed to the prediction log; "
            "kept share = 1 - dropped / offered.",
            registry=r,
        )
        self.log_dropped = Counter(
            "glmops_prediction_log_dropped",
            "Prediction-log rows not kept, never silently, by reason: queue_full, too_large "
            "(policy drop), not_sampled (policy sample), write_failed, unloggable.",
            ["reason"],
            registry=r,
        )
        self.log_refused = Counter(
            "glmops_prediction_log_refused",
            "Rows of requests answered 503 because the log had no room in max_wait_s "
            "(policies block and sample): not answered, so not missing from the log.",
            registry=r,
        )
        self.log_queue = Gauge(
            "glmops_prediction_log_queue",
            "Prediction-log rows waiting to be written.",
            registry=r,
        )
        self.log_bytes = Gauge(
            "glmops_prediction_log_held_bytes",
            "Bytes the prediction log holds in memory (bounded by queue_bytes).",
            registry=r,
        )
        self.log_sample_rate = Gauge(
            "glmops_prediction_log_sample_rate",
            "Share of requests the prediction log keeps by design (1 unless policy sample).",
            registry=r,
        )
        build = Gauge(
            "glmops_build_info",
            "glmops and Python versions.",
            ["version", "python"],
            registry=r,
        )
        build.labels(version, platform.python_version()).set(1)
        self._children: dict[tuple[Any, ...], Any] = {}
        self._answered: dict[tuple[str, int, str, int], Answered] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """Return the labelled child of ``metric``, cached."""
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def answered(self, slot: Slot) -> Answered:
        """Return the children an answered request of ``slot`` counts in, cached."""
        key = (slot.name, slot.version, slot.route, id(slot.model))
        found = self._answered.get(key)
        if found is None or found.model is not slot.model:
            if len(self._answered) > 256:
                self._answered.clear()
            name, version, route = slot.name, slot.version_label, slot.route
            histogram = self.value if slot.model.task == "regression" else self.probability
            found = self._answered[key] = Answered(
                slot.model,
                self.child(self.requests, name, version, route, "200"),
                self.child(self.latency, name, version, route),
                self.child(self.rows, name, version, route),
                self.child(histogram, name, version),
            )
        return found

    @staticmethod
    def observe_many(child: Any, values: np.ndarray) -> None:
        """Observe every value of ``values`` in a histogram child, vectorized.

        prometheus-client keeps per-bucket (non-cumulative) counts and a sum;
        one ``searchsorted`` replaces a Python call per value. Falls back to
        ``observe`` per value if the client's internals ever change.
        """
        if values.shape[0] <= 8:  # numpy's fixed cost beats a few plain observes
            for v in values.tolist():
                child.observe(v)
            return
        bounds = getattr(child, "_upper_bounds", None)
        buckets = getattr(child, "_buckets", None)
        total = getattr(child, "_sum", None)
        if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
            for v in values.tolist():
                child.observe(v)
            return
        finite = values[np.isfinite(values)] if not np.isfinite(values).all() else values
        index = np.searchsorted(np.asarray(bounds, dtype=np.float64), finite, side="left")
        counts = np.bincount(index, minlength=len(bounds))
        for i in np.flatnonzero(counts).tolist():
            buckets[i].inc(int(counts[i]))
        total.inc(float(finite.sum()))

    def render(self) -> bytes:
        """Return the exposition text."""
        return generate_latest(self.registry)
