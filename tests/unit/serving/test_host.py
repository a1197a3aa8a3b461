"""Bounded model caches and the explicit-version route (issue 14).

On main every version loaded through ``ModelHost.pinned`` or ``Registry.load``
stayed in memory for good, and ``pinned`` served archived versions and models
this server is not configured to serve.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.registry.conftest import artifacts, db_url  # noqa: F401 (fixtures)

from glmops.errors import ModelNotFound
from glmops.registry import Registry
from glmops.serving.host import ModelHost
from glmops.serving.metrics import ServingMetrics


@pytest.fixture
def registry(db_url: str, tmp_path: Path, artifacts: list[Path]) -> Iterator[Registry]:  # noqa: F811
    reg = Registry(db_url, tmp_path / "store", actor="alice", model_cache_size=2)
    for i in range(20):
        reg.register("churn", artifacts[i % 3])
    reg.register("other", artifacts[0])
    reg.promote("churn", 1, reason="first")
    reg.promote("other", 1, reason="first")
    try:
        yield reg
    finally:
        reg.close()


def _host(registry: Registry, **kw: object) -> ModelHost:
    host = ModelHost(registry, ServingMetrics("test"), **kw)  # type: ignore[arg-type]
    host.sync()
    return host


def test_twenty_pinned_versions_keep_at_most_the_bound_in_memory(registry):
    host = _host(registry, names=["churn"], pinned_cache_size=8)
    for version in range(1, 21):
        assert host.pinned("churn", version).version == version
        assert len(host._pinned) <= 8
        assert len(registry._cache) <= 2
    assert [key[1] for key in host._pinned] == list(range(13, 21))  # least recent dropped
    host.pinned("churn", 13)
    host.pinned("churn", 1)
    assert [key[1] for key in host._pinned][-2:] == [13, 1]


def test_an_unserved_model_is_not_answered(registry):
    host = _host(registry, names=["churn"])
    with pytest.raises(ModelNotFound, match="is served here"):
        host.pinned("other", 1)
    assert _host(registry).pinned("other", 1).version == 1  # served when no list is given


def test_an_archived_version_is_not_answered(registry):
    host = _host(registry, names=["churn"], interval_s=0.0)
    assert host.pinned("churn", 5).version == 5
    registry.archive("churn", 5, reason="retired")
    with pytest.raises(ModelNotFound, match="archived"):
        host.pinned("churn", 5)
    assert ("churn", 5) not in host._pinned
    with pytest.raises(ModelNotFound):
        host.pinned("churn", 99)
