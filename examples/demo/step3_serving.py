"""``make demo`` step 3: serving — real HTTP, validation, canary, shadow, batch scoring.

The registry from step 2 (credit@1 champion, credit@2 challenger) is served
by ``create_app`` on uvicorn on a free local port, with bearer-token auth,
the prediction log and metrics on. The demo sends real requests (one
record, a columnar batch, an invalid record that gets its 422), routes 20%
of entities to a canary, shadows version 2 and compares it with the answers
from the prediction log, scores the whole data file in batch, prints a few
``/metrics`` lines and stops the server cleanly.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from examples.demo.step1_pipeline import DATA

__all__ = ["ServingReport", "run_serving_demo"]


@dataclass
class ServingReport:
    """What step 3 did."""

    url: str = ""
    single: dict[str, Any] = field(default_factory=dict)
    single_ms: float = 0.0
    batch_rows: int = 0
    batch_ms: float = 0.0
    unauthenticated: int = 0
    invalid: dict[str, Any] = field(default_factory=dict)
    canary_split: dict[int, int] = field(default_factory=dict)
    canary_sticky: bool = False
    shadow_pairs: int = 0
    shadow_agree: float = 0.0
    shadow_mean_abs_diff: float = 0.0
    answers_unchanged: bool = False
    scored_rows: int = 0
    scored_rows_per_s: float = 0.0
    scored_path: str = ""
    metrics: list[str] = field(default_factory=list)
    log_rows: int = 0
    answered: int = 0
    stopped: bool = False


def run_serving_demo(output_dir: Path, db_url: str) -> ServingReport:
    """Serve the registry of step 2 and exercise it over HTTP; return what happened."""
    import httpx
    import pyarrow.parquet as pq

    from glmops.config import PredictionLogConfig, ServingConfig, TokenConfig
    from glmops.data.readers import read_table
    from glmops.monitoring.logstore import read_prediction_log
    from glmops.registry import Registry
    from glmops.serving import create_app, hash_token
    from glmops.serving.batch import score_file
    from glmops.serving.local_server import start_server, wait_until

    report = ServingReport()
    registry = Registry(db_url, output_dir / "glmops-artifacts", actor="demo-ops")
    token = secrets.token_urlsafe(24)
    config = ServingConfig(
        tokens=[TokenConfig(sha256=hash_token(token), actor="demo-client", roles=["admin"])],
        reload_interval_s=0.2,
        prediction_log=PredictionLogConfig(path=str(output_dir / "prediction-log")),
    )
    app = create_app(config, registry=registry)
    server = start_server(app, name="demo-server")
    report.url = server.url
    state = app.state.glmops
    rows = read_table(DATA).drop_columns(["Status"]).slice(0, 600).to_pylist()
    url = "/v1/models/credit/predict"
    answered = 0
    try:
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=report.url, headers=auth, timeout=10) as client:
            report.unauthenticated = httpx.post(
                report.url + url, json={"instances": rows[:1]}
            ).status_code
            started = time.perf_counter()
            r = client.post(url, json={"instances": rows[:1]})
            report.single_ms = (time.perf_counter() - started) * 1e3
            report.single = r.json()
            answered += 1
            columns = list(rows[0])
            batch = {"columns": columns, "data": [[row[c] for c in columns] for row in rows[:500]]}
            started = time.perf_counter()
            r = client.post(url, json=batch)
            report.batch_ms = (time.perf_counter() - started) * 1e3
            report.batch_rows = len(r.json()["predictions"])
            answered += report.batch_rows
            bad = {**rows[0], "Age": "thirty", "Channel": "web"}
            report.invalid = client.post(url, json={"instances": [bad]}).json()

            # canary: 20% of entities on version 2, sticky by entity key
            # a canary with weight > 0 takes live traffic: it moves through promote's checks
            registry.promote("credit", 2, alias="canary", weight=0.2, reason="demo canary")
            wait_until(lambda: "canary" in client.get("/readyz").json()["models"].get("credit", {}))
            arms: dict[str, int] = {}
            for i in range(500):
                headers = {"X-Entity-Key": f"customer-{i}"}
                r = client.post(url, json={"instances": [rows[i % 600]]}, headers=headers)
                arms[f"customer-{i}"] = r.json()["version"]
                answered += 1
            report.canary_split = dict(Counter(arms.values()))
            again = [
                client.post(
                    url, json={"instances": [rows[0]]}, headers={"X-Entity-Key": key}
                ).json()["version"]
                for key in list(arms)[:50]
            ]
            answered += len(again)
            report.canary_sticky = again == [arms[k] for k in list(arms)[:50]]
            registry.unset_alias("credit", "canary", reason="demo: canary done")
            wait_until(lambda: "canary" not in client.get("/readyz").json()["models"]["credit"])

            # shadow: version 2 scores a copy of every request, off the response path
            before = [client.post(url, json={"instances": [row]}).json() for row in rows[:20]]
            answered += 20
            registry.set_alias("credit", "shadow", 2, reason="demo shadow")
            wait_until(
                lambda: (
                    client.get("/readyz").json()["models"].get("credit", {}).get("shadow") == 2
                    and "canary" not in client.get("/readyz").json()["models"]["credit"]
                )
            )
            shadowed = []
            for row in rows[:200]:
                shadowed.append(client.post(url, json={"instances": [row]}).json())
                answered += 1
            report.answers_unchanged = all(
                a["predictions"] == b["predictions"]
                for a, b in zip(before, shadowed[:20], strict=True)
            )
            registry.unset_alias("credit", "shadow", reason="demo: shadow done")
            state.shadow.flush(20)  # every shadowed request scored before /metrics is read
            metrics = client.get("/metrics").text
        wanted = (
            "glmops_requests_total",
            "glmops_request_latency_seconds_count",
            "glmops_shadow_predictions_total",
            "glmops_schema_violations_total",
            "glmops_prediction_log_written_total",
        )
        report.metrics = [
            line for line in metrics.splitlines() if line.startswith(wanted) and "} 0.0" not in line
        ][:12]
        state.shadow.flush(20)
        state.log.flush(20)
        logged = read_prediction_log(
            output_dir / "prediction-log",
            "credit",
            columns=["request_id", "row", "route", "label", "proba.bad"],
        ).to_pylist()
        report.log_rows = len(logged)
        report.answered = answered
        by_id: dict[tuple[str, int], dict[str, Any]] = {}
        for row in logged:
            by_id.setdefault((row["request_id"], row["row"]), {})[row["route"]] = row
        pairs = [
            (v["champion"], v["shadow"]) for v in by_id.values() if {"champion", "shadow"} <= set(v)
        ]
        report.shadow_pairs = len(pairs)
        if pairs:
            report.shadow_agree = sum(a["label"] == b["label"] for a, b in pairs) / len(pairs)
            report.shadow_mean_abs_diff = sum(
                abs(a["proba.bad"] - b["proba.bad"]) for a, b in pairs
            ) / len(pairs)
    finally:
        report.stopped = server.stop(15)
    champion = registry.resolve("credit@champion")
    model = registry.load(champion.ref)
    out = output_dir / "scored.parquet"
    summary = score_file(
        model, DATA, out, keep=["Status"], model_ref="credit", version=champion.version
    )
    report.scored_rows = summary.rows
    report.scored_rows_per_s = summary.rows_per_s
    report.scored_path = str(out)
    assert pq.ParquetFile(out).metadata.num_rows == summary.rows
    registry.close()
    return report
