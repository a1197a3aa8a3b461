"""The serving app over real HTTP: predictions, validation, auth, metrics, the log, reloads."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from tests.service.conftest import served_registry, wait_for
from tests.unit.registry.conftest import artifacts, db_url  # noqa: F401 (fixtures)

from glmops.monitoring.logstore import read_prediction_log

RECORD = {"x": 0.3, "z": -1.2, "city": "paris"}


@pytest.fixture
def registry(db_url, tmp_path, artifacts):  # noqa: F811
    reg = served_registry(db_url, tmp_path, artifacts)
    yield reg
    reg.close()


def _log_rows(srv, model="churn", **where):
    """The prediction log's rows of ``model`` (as dicts) whose columns equal ``where``."""
    rows = read_prediction_log(srv.log_root, model).to_pylist()
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def test_single_and_batch_predictions_match_the_model(registry, make_server):
    srv = make_server(registry)
    model = registry.load("churn@1")
    rng = np.random.default_rng(0)
    rows = [
        {"x": float(a), "z": float(b), "city": c}
        for a, b, c in zip(
            rng.normal(size=300),
            rng.normal(size=300),
            rng.choice(["paris", "lyon", "nice"], 300),
            strict=True,
        )
    ]
    expected = model.predict_proba(pa.Table.from_pylist(rows))
    with srv.client() as c:
        r = c.post("/v1/models/churn/predict", json={"instances": [RECORD]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model"] == "churn" and body["version"] == 1 and body["route"] == "champion"
        assert body["request_id"] == r.headers["x-request-id"]
        (pred,) = body["predictions"]
        assert set(pred["probabilities"]) == {"no", "yes"}
        assert pred["probabilities"]["yes"] == pytest.approx(
            model.predict_proba(RECORD)[0, 1], rel=1e-12
        )
        assert pred["label"] == model.predict(RECORD)[0]
        # the record path (few instances) and the batch path (many, or columnar) agree
        for payload in (
            {"instances": rows},
            {"columns": ["city", "x", "z"], "data": [[r["city"], r["x"], r["z"]] for r in rows]},
            {"instances": rows[:5]},
        ):
            r = c.post("/v1/models/churn/predict", json=payload)
            assert r.status_code == 200, r.text
            got = np.array([p["probabilities"]["yes"] for p in r.json()["predictions"]])
            np.testing.assert_allclose(got, expected[: len(got), 1], rtol=1e-12, atol=1e-15)
        r = c.post(
            "/v1/models/churn/predict",
            json={"instances": [RECORD]},
            headers={"x-request-id": "abc-123"},
        )
        assert r.json()["request_id"] == "abc-123"


def test_every_bad_input_is_a_4xx_naming_the_field(registry, make_server):
    srv = make_server(registry, max_rows=50, max_body_bytes=20_000)
    url = "/v1/models/churn/predict"
    with srv.client() as c:

        def errors(payload=None, content=None, status=422):
            r = c.post(url, json=payload) if content is None else c.post(url, content=content)
            assert r.status_code == status, r.text
            return r.json()["errors"]

        e = errors({"instances": [{"x": 1.0, "city": "paris"}]})
        assert e == [
            {"field": "instances[0].z", "kind": "missing_column", "expected": "a numeric field"}
        ]
        e = errors({"instances": [{**RECORD, "extra": 1}]})
        assert e[0]["field"] == "instances[0].extra" and e[0]["kind"] == "unexpected_column"
        e = errors({"instances": [{**RECORD, "x": "high"}]})
        assert e[0] == {
            "field": "instances[0].x",
            "kind": "wrong_type",
            "expected": "a number",
            "got": "high",
        }
        e = errors({"instances": [{**RECORD, "x": True}]})
        assert e[0]["field"] == "instances[0].x" and e[0]["kind"] == "wrong_type"
        e = errors({"instances": [{**RECORD, "city": 3.5}]})
        assert e[0]["field"] == "instances[0].city"
        # the batch path names the row too
        many = [dict(RECORD) for _ in range(30)]
        many[17]["x"] = "oops"
        e = errors({"instances": many})
        assert [p["field"] for p in e] == ["instances[17].x"]
        e = errors({"columns": ["x", "z"], "data": [[1.0, 2.0]]})
        assert e[0]["field"] == "data[0].city" and e[0]["kind"] == "missing_column"
        e = errors({"columns": ["x", "z", "city"], "data": [[1.0, 2.0]]})
        assert e[0]["field"] == "data[0]"
        e = errors({"rows": []})
        assert e[0]["field"] == "rows"
        assert errors([1, 2])[0]["field"] == "body"
        assert errors(content=b"{not json", status=400)[0]["field"] == "body"
        assert errors({"instances": [RECORD] * 51}, status=413)[0]["field"] == "rows"
        assert errors(content=b" " * 20_001, status=413)[0]["field"] == "body"
        # a null is imputed; an unseen category and an out-of-range value are answered
        for record in ({**RECORD, "x": None}, {**RECORD, "city": "oslo"}, {**RECORD, "x": 1e6}):
            r = c.post(url, json={"instances": [record]})
            assert r.status_code == 200, r.text
        assert c.post("/v1/models/nope/predict", json={"instances": [RECORD]}).status_code == 404
        assert (
            c.post("/v1/models/churn/versions/9/predict", json={"instances": [RECORD]}).status_code
            == 404
        )
        assert (
            c.post("/v1/models/churn/versions/x/predict", json={"instances": [RECORD]}).status_code
            == 404
        )
        metrics = c.get("/metrics").text
    assert (
        'glmops_schema_violations_total{feature="city",kind="unseen_category",model="churn"} 1.0'
        in metrics
    )
    assert (
        'glmops_schema_violations_total{feature="x",kind="out_of_range",model="churn"} 1.0'
        in metrics
    )
    assert 'glmops_feature_missing_total{feature="x",model="churn"} 1.0' in metrics
    assert 'glmops_request_errors_total{model="churn",reason="malformed"} 1.0' in metrics


def test_policies_count_unexpected_and_reject_out_of_range(registry, make_server):
    srv = make_server(registry, unexpected_fields="count", out_of_range="reject")
    with srv.client() as c:
        r = c.post("/v1/models/churn/predict", json={"instances": [{**RECORD, "extra": 1}]})
        assert r.status_code == 200
        r = c.post("/v1/models/churn/predict", json={"instances": [{**RECORD, "x": 1e6}]})
        assert r.status_code == 422 and r.json()["errors"][0]["kind"] == "out_of_range"
        metrics = c.get("/metrics").text
    assert 'kind="unexpected_column",model="churn"} 1.0' in metrics


def test_auth_roles(registry, make_server):
    srv = make_server(registry)
    url = "/v1/models/churn/predict"
    payload = {"instances": [RECORD]}
    with (
        srv.client(None) as anon,
        srv.client("wrong") as stranger,
        srv.client("t-read") as reader,
        srv.client("t-predict") as svc,
    ):
        assert anon.post(url, json=payload).status_code == 401
        assert anon.post(url, json=payload).headers["www-authenticate"] == "Bearer"
        assert stranger.post(url, json=payload).status_code == 401
        assert reader.post(url, json=payload).status_code == 403
        assert svc.post(url, json=payload).status_code == 200
        assert svc.get("/v1/models").status_code == 403
        assert reader.get("/v1/models").json()[0]["name"] == "churn"
        shown = reader.get("/v1/models/churn").json()
        assert [f["name"] for f in shown["features"]] == ["x", "z", "city"]
        assert [v["version"] for v in shown["versions"]] == [1, 2, 3]
        assert anon.get("/healthz").status_code == 200 and anon.get("/readyz").status_code == 200


def test_each_refusal_is_counted_once_with_its_reason(registry, make_server):
    """The scoring handler's one exit records every refusal (auth, routing, manifest)."""
    srv = make_server(registry)
    payload = {"instances": [RECORD]}
    with srv.client(None) as anon, srv.client("t-read") as reader, srv.client() as admin:
        assert anon.post("/v1/models/churn/predict", json=payload).status_code == 401
        assert reader.post("/v1/models/churn/explain", json=payload).status_code == 403
        for version in ("0", "x", "99"):  # malformed or unregistered: both not found
            r = admin.post(f"/v1/models/churn/versions/{version}/predict", json=payload)
            assert r.status_code == 404 and r.json()["request_id"] == r.headers["x-request-id"]
        bad = admin.post("/v1/models/churn/predict", json={"instances": [{**RECORD, "x": "a"}]})
        assert bad.status_code == 422
        assert admin.get("/v1/models/nosuch").status_code == 404
        metrics = admin.get("/metrics").text
    for reason, n in (("unauthenticated", 1), ("forbidden", 1), ("not_found", 3), ("invalid", 1)):
        assert f'glmops_request_errors_total{{model="churn",reason="{reason}"}} {n}.0' in metrics
    assert 'model="churn",route="champion",status="422",version="1"} 1.0' in metrics
    assert 'model="nosuch"' not in metrics


def test_prediction_log_holds_one_row_per_prediction(registry, make_server):
    srv = make_server(
        registry,
        prediction_log={"hash_fields": ["city"], "drop_fields": ["z"], "flush_interval_s": 0.05},
    )
    with srv.client() as c:
        ids = []
        for i in range(40):
            r = c.post("/v1/models/churn/predict", json={"instances": [{**RECORD, "x": i / 10}]})
            ids.append(r.json()["request_id"])
        r = c.post("/v1/models/churn/predict", json={"instances": [RECORD] * 25})
        batch_id = r.json()["request_id"]
        c.post("/v1/models/churn/predict", json={"instances": [{"x": 1}]})  # refused: not logged
    assert srv.state.log.flush(10)
    rows = _log_rows(srv)
    assert len(rows) == 40 + 25
    assert [r["request_id"] for r in rows if r["request_id"] in ids] == ids
    batch = [r for r in rows if r["request_id"] == batch_id]
    assert [r["row"] for r in batch] == list(range(25))
    one = next(r for r in rows if r["request_id"] == ids[3])
    assert one["input.x"] == pytest.approx(0.3) and "input.z" not in one
    assert one["input.city"].startswith("hmac:") and len(one["input.city"]) == 37
    assert one["input.city"] == batch[0]["input.city"]  # the same key: joinable
    model = registry.load("churn@1")
    assert one["proba.yes"] == pytest.approx(model.predict_proba({**RECORD, "x": 0.3})[0, 1])
    assert one["label"] == ("yes" if one["proba.yes"] > model.threshold else "no")
    assert one["version"] == 1 and one["route"] == "champion" and one["latency_ms"] > 0
    assert one["model"] == "churn" and one["entity_key"] is None
    assert abs(one["time"].timestamp() - time.time()) < 60


def test_hot_reload_and_refusing_a_corrupt_version(registry, make_server):
    srv = make_server(registry)
    with srv.client() as c:
        assert (
            c.post("/v1/models/churn/predict", json={"instances": [RECORD]}).json()["version"] == 1
        )
        registry.promote("churn", 2, reason="better")
        wait_for(
            lambda: (
                c.post("/v1/models/churn/predict", json={"instances": [RECORD]}).json()["version"]
                == 2
            ),
            what="the promotion to be picked up",
        )
        # corrupt version 3's stored arrays, then promote it: refused, version 2 serves on
        info = registry.resolve("churn@3")
        arrays = Path(info.artifact_path) / "arrays.npz"
        data = bytearray(arrays.read_bytes())
        data[len(data) // 2] ^= 0x01
        arrays.write_bytes(bytes(data))
        registry._cache.clear()
        registry.promote("churn", 3, reason="oops", force=True)
        wait_for(lambda: "churn" in c.get("/readyz").json()["problems"], what="the refusal")
        ready = c.get("/readyz").json()
        assert ready["problems"]["churn"] == "checksum_mismatch"  # a code: the text is logged
        assert (
            c.post("/v1/models/churn/predict", json={"instances": [RECORD]}).json()["version"] == 2
        )
        assert (
            'glmops_model_loads_total{model="churn",outcome="refused",version="3"} 1.0'
            in c.get("/metrics").text
        )
    events = registry.history("churn", limit=5)
    assert any(e["action"] == "serve_refused" and e["version"] == 3 for e in events)


def test_canary_split_is_weighted_and_sticky(registry, make_server):
    registry.set_alias("churn", "canary", 2, weight=0.3)
    srv = make_server(registry, routes={"churn": {"entity_key": "customer"}})
    n = 600
    with srv.client() as c:
        versions = {}
        for i in range(n):
            r = c.post(
                "/v1/models/churn/predict", json={"instances": [{**RECORD, "customer": f"c{i}"}]}
            )
            assert r.status_code == 200, r.text
            versions[i] = (r.json()["version"], r.json()["route"])
        share = sum(v == 2 for v, _ in versions.values()) / n
        # binomial sd at n=600, p=0.3 is 0.019: 4 sd
        assert abs(share - 0.3) < 0.075
        assert all(route == ("canary" if v == 2 else "champion") for v, route in versions.values())
        for i in range(0, n, 37):  # sticky: the same customer, the same arm
            r = c.post(
                "/v1/models/churn/predict", json={"instances": [{**RECORD, "customer": f"c{i}"}]}
            )
            assert r.json()["version"] == versions[i][0]
        r = c.post(
            "/v1/models/churn/predict", json={"instances": [RECORD]}, headers={"X-Entity-Key": "c5"}
        )
        assert r.json()["version"] == versions[5][0]
        metrics = c.get("/metrics").text
    assert 'route="canary",status="200",version="2"' in metrics


def test_shadow_never_changes_the_answer_and_is_logged(registry, make_server):
    srv = make_server(registry)
    with srv.client() as c:
        before = c.post("/v1/models/churn/predict", json={"instances": [RECORD]}).json()
        registry.set_alias("churn", "shadow", 3)
        wait_for(
            lambda: c.get("/readyz").json()["models"]["churn"].get("shadow") == 3,
            what="the shadow to load",
        )
        after = c.post("/v1/models/churn/predict", json={"instances": [RECORD]}).json()
        assert after["predictions"] == before["predictions"] and after["version"] == 1
    assert srv.state.shadow.flush(10) and srv.state.log.flush(10)
    shadow = _log_rows(srv, route="shadow")
    assert [r["request_id"] for r in shadow] == [after["request_id"]]
    assert shadow[0]["version"] == 3


def test_explain_contributions_add_up(registry, make_server):
    srv = make_server(registry)
    model = registry.load("churn@1")
    with srv.client() as c:
        r = c.post("/v1/models/churn/explain", json={"instances": [RECORD, {**RECORD, "x": -2.0}]})
        assert r.status_code == 200, r.text
        body = r.json()
    for record, contrib in zip(
        [RECORD, {**RECORD, "x": -2.0}], body["contributions"], strict=False
    ):
        assert set(contrib) == {"x", "z", "city"}
        decision = model.decision_function(record)[0]
        assert sum(contrib.values()) + model.intercept[0] == pytest.approx(decision, rel=1e-9)


def test_pinned_version_and_openapi_schema(registry, make_server):
    srv = make_server(registry)
    with srv.client() as c:
        r = c.post("/v1/models/churn/versions/3/predict", json={"instances": [RECORD]})
        assert r.status_code == 200 and r.json()["version"] == 3 and r.json()["route"] == "pinned"
        doc = c.get("/openapi.json").json()
    schema = doc["components"]["schemas"]["Instance_churn"]
    assert schema["required"] == ["x", "z", "city"]
    assert schema["additionalProperties"] is False
    assert "/v1/models/churn/predict" in doc["paths"]


def test_operations_routes_need_a_token_but_probes(registry, make_server):
    """Issue 14: /metrics, /docs, /openapi.json and /readyz's details needed no token."""
    srv = make_server(registry)
    with srv.client(None) as anon, srv.client("t-read") as reader:
        for path in ("/metrics", "/docs", "/openapi.json"):
            r = anon.get(path)
            assert r.status_code == 401 and set(r.json()) == {"error", "errors", "request_id"}
            assert reader.get(path).status_code == 200, path
        wait_for(lambda: anon.get("/readyz").status_code == 200, what="ready")
        assert anon.get("/readyz").json() == {"ready": True}  # a probe learns nothing else
        detailed = reader.get("/readyz").json()
        assert detailed["models"]["churn"]["champion"] == 1 and detailed["problems"] == {}
        assert anon.get("/healthz").status_code == 200
    open_metrics = make_server(registry, metrics_auth="none")
    with open_metrics.client(None) as anon:
        assert anon.get("/metrics").status_code == 200  # a scrape on a private network


def test_unauthenticated_names_never_become_metric_labels(registry, make_server):
    """Issue 14: GET /v1/models/<random> without a token created a label per name."""
    srv = make_server(registry)
    with srv.client(None) as anon, srv.client("t-read") as reader:
        for i in range(5):
            assert anon.get(f"/v1/models/probe{i}").status_code == 401
            assert anon.post(f"/v1/registry/models/probe{i}/promote", json={}).status_code == 401
            assert reader.get(f"/v1/models/probe{i}").status_code == 404
        assert anon.get("/v1/models/churn").status_code == 401
        metrics = reader.get("/metrics").text
    assert "probe" not in metrics
    assert 'glmops_request_errors_total{model="(unknown)",reason="unauthenticated"} 10.0' in metrics
    assert 'glmops_request_errors_total{model="churn",reason="unauthenticated"} 1.0' in metrics


def test_a_refusal_body_is_bounded(registry, make_server):
    """Issue 14: one entry per unexpected field per row, unbounded."""
    srv = make_server(registry)
    junk = {f"junk{i}": 1 for i in range(150)}
    with srv.client() as c:
        r = c.post("/v1/models/churn/predict", json={"instances": [{**RECORD, **junk}] * 3})
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert len(errors) == 101
    assert errors[-1] == {
        "field": "errors",
        "kind": "truncated",
        "expected": "at most 100 entries",
        "got": "350 more",
    }


def test_registry_router_is_mounted(registry, make_server):
    srv = make_server(registry)
    with srv.client() as c:
        r = c.get("/v1/registry/models")
        assert r.status_code == 200 and r.json()[0]["name"] == "churn"


def test_a_regression_model_answers_values(make_server, db_url, tmp_path):  # noqa: F811
    from glmops.config import parse_config
    from glmops.registry import Registry
    from glmops.training.pipeline import train_model

    rng = np.random.default_rng(5)
    x = rng.normal(size=200)
    table = pa.table({"x": x, "g": rng.choice(["a", "b"], 200), "y": 2 * x + rng.normal(size=200)})
    spec = parse_config(
        {
            "models": {
                "price": {
                    "data": {"path": "u.csv"},
                    "target": "y",
                    "task": "regression",
                    "cv": {"n_folds": 3, "n_alphas": 5},
                }
            }
        }
    ).models["price"]
    result = train_model(
        "price", spec, base_dir=tmp_path, output_dir=tmp_path / "o", data=table, write_report=False
    )
    registry = Registry(db_url, tmp_path / "store", actor="seed")
    registry.register("price", result.artifact_path)
    registry.promote("price", 1)
    srv = make_server(registry)
    model = registry.load("price@1")
    with srv.client() as c:
        r = c.post("/v1/models/price/predict", json={"instances": [{"x": 1.5, "g": "a"}]})
        assert r.status_code == 200, r.text
        assert r.json()["predictions"][0] == pytest.approx(model.predict({"x": 1.5, "g": "a"})[0])
        assert "glmops_prediction_value_bucket" in c.get("/metrics").text
    registry.close()


def test_hot_reload_under_load_fails_no_request(registry, make_server):
    import threading

    srv = make_server(registry)
    stop = threading.Event()
    seen: list[tuple[int, int]] = []

    def hammer() -> None:
        with srv.client() as c:
            while not stop.is_set():
                r = c.post("/v1/models/churn/predict", json={"instances": [RECORD]})
                seen.append((r.status_code, r.json().get("version", -1)))

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        for version in (2, 3, 1, 2, 1):
            registry.promote("churn", version, reason="reload under load", force=True)
            wait_for(lambda v=version: seen and seen[-1][1] == v, what=f"version {version}")
    finally:
        stop.set()
        for w in workers:
            w.join(10)
    statuses = {status for status, _ in seen}
    assert statuses == {200}, statuses
    assert {v for _, v in seen} == {1, 2, 3}
    assert len(seen) > 50


def test_postgresql_notify_wakes_the_reload_at_once(registry, make_server):
    if registry.engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite relies on polling")
    srv = make_server(registry, reload_interval_s=60.0)  # polling alone would take a minute
    with srv.client() as c:
        wait_for(lambda: c.get("/readyz").status_code == 200, what="ready")
        time.sleep(0.5)  # the listener connects
        registry.promote("churn", 2, reason="notify")
        started = time.monotonic()
        wait_for(
            lambda: (
                c.post("/v1/models/churn/predict", json={"instances": [RECORD]}).json()["version"]
                == 2
            ),
            timeout=10,
            what="the NOTIFY-driven reload",
        )
        assert time.monotonic() - started < 10


def test_a_chunked_body_over_the_limit_is_refused_without_buffering_it(registry, make_server):
    srv = make_server(registry, max_body_bytes=10_000)

    def chunks():
        for _ in range(1_000):  # 1 MB in 1 KB chunks, no content-length
            yield b" " * 1024

    with srv.client() as c:
        r = c.post("/v1/models/churn/predict", content=chunks())
        assert r.status_code == 413
        assert c.post("/v1/models/churn/predict", json={"instances": [RECORD]}).status_code == 200


def test_client_chosen_names_never_become_metric_labels(registry, make_server):
    srv = make_server(registry, unexpected_fields="count")
    with srv.client() as c:
        for i in range(5):
            c.post(f"/v1/models/nosuch{i}/predict", json={"instances": [RECORD]})
            c.post("/v1/models/churn/predict", json={"instances": [{**RECORD, f"junk{i}": 1}]})
            c.post("/v1/models/churn/predict", json={"instances": [{"x": 1, f"bad{i}": 1}]})
        metrics = c.get("/metrics").text
    assert "nosuch" not in metrics and "junk" not in metrics and "bad0" not in metrics
    assert 'model="(unknown)",reason="not_found"} 5.0' in metrics
    assert 'feature="(other)",kind="unexpected_column",model="churn"} 5.0' in metrics


def _arrow_body(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


ARROW = {"content-type": "application/vnd.apache.arrow.stream"}


def test_arrow_ipc_batches_score_like_the_model(registry, make_server):
    srv = make_server(registry)
    model = registry.load("churn@1")
    rng = np.random.default_rng(3)
    table = pa.table(
        {
            "x": rng.normal(size=500),
            "z": rng.normal(size=500).astype(np.float32),
            "city": pa.array(rng.choice(["paris", "lyon", "nice"], 500)).dictionary_encode(),
        }
    )
    expected = model.predict_proba(table)[:, 1]
    with srv.client() as c:
        r = c.post("/v1/models/churn/predict", content=_arrow_body(table), headers=ARROW)
        assert r.status_code == 200, r.text
        got = np.array([p["probabilities"]["yes"] for p in r.json()["predictions"]])
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        # an Arrow file (not stream) works too, and explain by query parameter
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table.slice(0, 3))
        r = c.post(
            "/v1/models/churn/predict?explain=true",
            content=sink.getvalue().to_pybytes(),
            headers={"content-type": "application/vnd.apache.arrow.file"},
        )
        assert r.status_code == 200 and len(r.json()["contributions"]) == 3
        # strict types: text is not a number, even when it reads like one
        bad = table.set_column(0, "x", pa.array([str(v) for v in table.column("x").to_pylist()]))
        r = c.post("/v1/models/churn/predict", content=_arrow_body(bad), headers=ARROW)
        assert r.status_code == 422
        assert r.json()["errors"][0] == {
            "field": "x",
            "kind": "wrong_type",
            "expected": "a numeric Arrow column",
            "got": "string",
        }
        extra = table.append_column("extra", pa.array(np.zeros(500)))
        r = c.post("/v1/models/churn/predict", content=_arrow_body(extra), headers=ARROW)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "extra"
        r = c.post("/v1/models/churn/predict", content=b"not arrow", headers=ARROW)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "body"
        nulls = table.set_column(0, "x", pa.array([None] * 500, pa.float64()))
        r = c.post("/v1/models/churn/predict", content=_arrow_body(nulls), headers=ARROW)
        assert r.status_code == 200  # x is imputed
    assert srv.state.log.flush(10)
    logged = _log_rows(srv)
    assert len(logged) == 500 + 3 + 500
    # the Arrow body's float32 and dictionary columns are logged in the manifest's types
    assert [r["input.z"] for r in logged[:500]] == pytest.approx(table.column("z").to_pylist())
    assert [r["input.city"] for r in logged[:500]] == table.column("city").to_pylist()


def test_an_explicit_version_is_not_loaded_for_an_unauthorized_caller(registry, make_server):
    srv = make_server(registry)
    with srv.client(None) as anon, srv.client("t-read") as reader:
        assert (
            anon.post(
                "/v1/models/churn/versions/3/predict", json={"instances": [RECORD]}
            ).status_code
            == 401
        )
        assert (
            reader.post(
                "/v1/models/churn/versions/3/predict", json={"instances": [RECORD]}
            ).status_code
            == 403
        )
    assert srv.state.host._pinned == {}


def test_a_score_that_overflows_is_refused_by_row(registry, make_server):
    srv = make_server(registry)
    huge = {**RECORD, "x": -1.7976931348623157e308}
    with srv.client() as c:
        for instances in ([huge], [RECORD] * 20 + [huge]):
            r = c.post("/v1/models/churn/predict", json={"instances": instances})
            assert r.status_code == 422, r.text
            (err,) = r.json()["errors"]
            assert err["field"] == f"instances[{len(instances) - 1}]"
            assert err["kind"] == "out_of_range"
        assert c.post("/v1/models/churn/predict", json={"instances": [RECORD]}).status_code == 200


def test_a_fault_of_ours_is_a_500_naming_the_request_and_the_service_goes_on(
    registry, make_server, monkeypatch
):
    srv = make_server(registry)
    import glmops.serving.app as serving_app

    real = serving_app.score_rows

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in scoring")

    with srv.client() as c:
        monkeypatch.setattr(serving_app, "score_rows", broken)  # a fault no request can cause
        r = c.post(
            "/v1/models/churn/predict",
            json={"instances": [RECORD]},
            headers={"x-request-id": "r-9"},
        )
        assert r.status_code == 500 and r.json()["request_id"] == "r-9"
        assert r.json()["errors"] == [] and "RuntimeError" not in r.text and "bug" not in r.text
        assert r.headers["x-request-id"] == "r-9"
        r = c.post("/v1/models/churn/versions/1/predict", json={"instances": [RECORD]})
        assert r.status_code == 500 and r.json()["request_id"] == r.headers["x-request-id"]
        monkeypatch.setattr(serving_app, "score_rows", real)
        assert c.post("/v1/models/churn/predict", json={"instances": [RECORD]}).status_code == 200
        # the scoring paths answer other methods as FastAPI does
        assert c.get("/v1/models/churn/predict").status_code == 405
        assert c.post("/v1/models/churn/predict/extra", json={}).status_code == 404


def test_text_caps_come_from_the_config_and_cover_the_entity_header(registry, make_server):
    """Issue 14: category strings and the X-Entity-Key header had no length cap."""
    srv = make_server(registry, max_string_chars=32)
    with srv.client() as c:
        long_city = c.post(
            "/v1/models/churn/predict", json={"instances": [{**RECORD, "city": "x" * 33}]}
        )
        long_key = c.post(
            "/v1/models/churn/predict",
            json={"instances": [RECORD]},
            headers={"X-Entity-Key": "k" * 33},
        )
        fine = c.post(
            "/v1/models/churn/predict",
            json={"instances": [{**RECORD, "city": "x" * 32}]},
            headers={"X-Entity-Key": "k" * 32},
        )
    assert long_city.status_code == 422
    assert "x" * 33 not in long_city.text  # named, never echoed
    assert long_key.status_code == 422
    assert long_key.json()["errors"][0]["field"] == "X-Entity-Key"
    assert fine.status_code == 200


def test_pii_rules_cover_the_entity_header_and_the_refusal_log(registry, make_server, caplog):
    """Issue 14: PII escaped hashing in refusal logs and the X-Entity-Key header."""
    import logging

    srv = make_server(
        registry,
        prediction_log={"hash_fields": ["city", "entity_key"], "flush_interval_s": 0.05},
    )
    with caplog.at_level(logging.INFO, logger="glmops.serving"), srv.client() as c:
        ok = c.post(
            "/v1/models/churn/predict",
            json={"instances": [RECORD]},
            headers={"X-Entity-Key": "customer-4711"},
        )
        refused = c.post(
            "/v1/models/churn/predict", json={"instances": [{**RECORD, "city": ["secret-city"]}]}
        )
    assert ok.status_code == 200 and refused.status_code == 422
    assert srv.state.log.flush(10)
    (row,) = _log_rows(srv, request_id=ok.json()["request_id"])
    assert row["entity_key"].startswith("hmac:")
    logged = " ".join(str(getattr(r, "errors", "")) for r in caplog.records)
    assert "refused" in caplog.text and "city" in logged
    assert "secret-city" not in logged and "customer-4711" not in caplog.text
