"""Property-based fuzzing of the serving API from its own OpenAPI document: zero 5xx.

schemathesis generates requests for every documented operation (per-model
predict/explain with the real feature schema, the model listings, the
registry router), valid and invalid, and sends them to a real server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from tests.service.conftest import Server, start_server
from tests.unit.registry.conftest import train_artifact

from glmops.registry import Registry


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("fuzz")
    registry = Registry(f"sqlite:///{root / 'r.db'}", root / "store", actor="seed")
    for seed in (1, 2):
        registry.register("churn", train_artifact(root, seed))
    registry.promote("churn", 1, reason="fuzz")
    registry.set_alias("churn", "shadow", 2)
    srv = start_server(registry, max_rows=200, max_body_bytes=64_000)
    yield srv
    srv.stop()
    registry.close()


# the artifact upload's body is a .zip: fuzzed as the raw bytes of the generated value
schemathesis.serializer.alias("application/zip", "application/octet-stream")


def _operations(server: Server) -> list:
    schema = schemathesis.openapi.from_url(
        f"{server.url}/openapi.json", headers={"Authorization": "Bearer t-admin"}
    )
    return [result.ok() for result in schema.get_all_operations()]


def test_no_request_causes_a_server_error(fuzz_server: Server) -> None:
    operations = _operations(fuzz_server)
    labels = {op.label for op in operations}
    assert "POST /v1/models/churn/predict" in labels  # the per-model schema is there
    assert "POST /v1/registry/models/{name}/promote" in labels  # the registry routes too
    assert "POST /v1/registry/models/{name}/versions" in labels
    failures: list[str] = []
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": "Bearer t-admin"}, timeout=10)
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.body!r:.2000} -> "
                    f"{response.status_code}: {response.text[:300]}"
                )

        fuzz()
    assert not failures, "\n".join(failures[:10])
    assert len(statuses) > 100 and 422 in statuses and 200 in statuses, sorted(set(statuses))
    with fuzz_server.client() as c:  # and the service still answers afterwards
        r = c.post(
            "/v1/models/churn/predict", json={"instances": [{"x": 1.0, "z": 0.0, "city": "nice"}]}
        )
        assert r.status_code == 200
