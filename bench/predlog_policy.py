"""What each prediction-log policy costs at saturation, the server on one core.

The model, server and load generator of ``bench/serving.py``: `glmops serve` under
``taskset -c 0``, wrk on core 1. Per variant (log off, drop, block, sample 10%), one
server: 1,000-row JSON batches at 4 connections, then single rows at 16 connections, each
for ``--seconds`` after a short warm-up; after each run the log is drained and its
Parquet rows are counted against the rows the server answered (200s) and the rows in
requests refused with 503 (block, sample). Rows/s counts answered rows only.

    PYTHONPATH=src:. .venv/bin/python -m bench.predlog_policy --seconds 10 --repeat 2

The machine in this repository's runs is shared: report ranges over ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.serving import (
    BATCH_ROWS,
    CLIENT_CPU,
    Server,
    Spec,
    _env,
    drain_log,
    glmops_config,
    log_count,
    make_data,
    run_wrk,
    train_glmops,
    wait_ready,
)
from glmops.serving.local_server import free_port

VARIANTS: dict[str, dict[str, Any]] = {
    "log-off": {"enabled": False},
    "drop": {"policy": "drop"},
    "block": {},  # the default
    "sample-0.1": {"policy": "sample", "sample_rate": 0.1},
}


def _run(work: Path, spec: Spec, port: int, body: str, conns: int, seconds: int) -> dict:
    """One wrk run; the log's rows against the server's answered and refused rows."""
    root = work / "log"
    before = drain_log(port)  # what came before (the warm-up) is written first
    rows_before = log_count(root)
    run = run_wrk(work, port, spec, conns=conns, seconds=seconds, body=body)
    after = drain_log(port)
    delta = {k: int(after[k] - before[k]) for k in ("rows", "written", "dropped", "log_refused")}
    return {
        "rows_s": run["rows_s"],
        "req_s": run["req_s"],
        "p99_ms": run["p99_ms"],
        "non_2xx": run["non_2xx"],
        "answered_rows": delta["rows"],
        "log_rows": log_count(root) - rows_before,
        "dropped_rows": delta["dropped"],
        "refused_rows": delta["log_refused"],
    }


def bench_variant(work: Path, name: str, spec: Spec, expected: float, seconds: int) -> dict:
    """Start one server with the variant's log settings and load it."""
    import yaml

    port = free_port()
    config = glmops_config(work, port)
    config["serving"]["prediction_log"] = {"path": str(work / "log"), **VARIANTS[name]}
    cfg = work / f"glmops-{name}.yaml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    glmops = Path(sys.executable).parent / "glmops"
    cmd = [str(glmops), "serve", "--config", str(cfg)]
    server = Server(name, cmd, cwd=work, env=_env(), log=work / f"{name}.log")
    try:
        wait_ready(server, port, spec, expected)
        run_wrk(work, port, spec, conns=4, seconds=2, body="batch")
        batch = _run(work, spec, port, "batch", 4, seconds)
        single = _run(work, spec, port, "single", 16, seconds)
    finally:
        server.stop()
    return {"batch_c4": batch, "single_c16": single}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--only", default=",".join(VARIANTS))
    p.add_argument("--out", type=Path, default=None, help="JSON output")
    args = p.parse_args()
    import os

    os.sched_setaffinity(0, {CLIENT_CPU})
    work = Path(tempfile.mkdtemp(prefix="glmops-predlog-bench-"))
    data = make_data(work)
    gm = train_glmops(work, data)
    spec = Spec("glmops", data["X"][:BATCH_ROWS].tolist())
    results: dict[str, list[dict]] = {}
    for _ in range(args.repeat):
        for name in args.only.split(","):
            t0 = time.perf_counter()
            r = bench_variant(work, name, spec, gm["probe"][0], args.seconds)
            results.setdefault(name, []).append(r)
            b, s = r["batch_c4"], r["single_c16"]
            print(
                f"{name:11s} batch {b['rows_s']:>9,.0f} rows/s p99 {b['p99_ms']:7.1f} ms "
                f"503 {b['non_2xx']:>5} log {b['log_rows']:>9,}/{b['answered_rows']:>9,} "
                f"dropped {b['dropped_rows']:>9,} | single {s['req_s']:>6,.0f} req/s "
                f"p99 {s['p99_ms']:6.2f} ms 503 {s['non_2xx']:>5} "
                f"log {s['log_rows']:>8,}/{s['answered_rows']:>8,} "
                f"({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
