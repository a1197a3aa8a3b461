"""The shadow queue: bounded in jobs and in bytes, so a few huge batches cannot hold memory;
what does not fit is counted as dropped, never blocking the request."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.registry.conftest import artifacts  # noqa: F401 (fixture)

from glmops.model import load_model
from glmops.serving.inference import Policy, parse_payload
from glmops.serving.metrics import ServingMetrics
from glmops.serving.routing import Slot
from glmops.serving.shadow import ShadowScorer

RECORD = {"x": 0.3, "z": -1.2, "city": "paris"}


@pytest.fixture(scope="module")
def churn(artifacts):  # noqa: F811
    return load_model(artifacts[0])


def test_the_shadow_queue_is_bounded_in_bytes(churn):
    metrics = ServingMetrics("test")
    logged: list[str] = []
    shadow = ShadowScorer(
        metrics, lambda _: Policy(), lambda *a: logged.append(a[2]), capacity_bytes=1_000_000
    )  # not started: jobs stay queued
    slot = Slot("churn", 2, "digest", churn, "shadow")
    big = parse_payload({"instances": [RECORD] * 1_000}, Policy())
    for i in range(10):
        shadow.submit((slot, big, f"r{i}", None, np.zeros((1_000, 1))))
        assert shadow.held_bytes <= 1_000_000
    dropped = metrics.registry.get_sample_value(
        "glmops_shadow_predictions_total",
        {"model": "churn", "version": "2", "outcome": "dropped"},
    )
    assert dropped is not None and 0 < dropped < 10  # far below the 1,000-job bound
    kept = 10 - int(dropped)
    shadow.start()
    assert shadow.flush(30)
    assert len(logged) == kept and shadow.held_bytes == 0
    shadow.close()
