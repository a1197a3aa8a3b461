"""Model serving over HTTP: ``glmops serve`` against MLflow, BentoML and MLServer.

Issue targets (glmops, one uvicorn worker on one core): single-row p99 <= 2 ms; >= 3,000
req/s at 16 connections (>= 30x MLflow, >= 2.5x the best framework); a 1,000-row batch
>= 400k rows/s; start-up <= 1 s; idle RSS <= 150 MiB; over a 60 s run at 32 connections
RSS growth < 10%, 0 errors, and exactly one prediction-log row per answered prediction.
Every server is measured in ONE run of this script, one after the other, on the same
model, machine and load generator:

    model      y = 3 + X beta + N(0, 1); X: 20,000 x 30 numeric columns x0..x29 (seeded;
               scales U(0.5, 3), means U(-2, 2)); 10 of the 30 betas are zero
    glmops     glmops.training.train_model (task regression; its default 5-fold CV over
               l1_ratio {0.1, 0.5, 0.9, 1} x 50 alphas on its 80% training split) ->
               Registry(sqlite) register + promote to champion -> `glmops serve --config
               glmops.yaml` (uvicorn, one worker; serving: auth disabled, prediction log
               ON, its default: Parquet files by model, version and day, a file per
               model version every 10 s; see glmops.monitoring.logstore)
    MLflow     Pipeline(StandardScaler, ElasticNet(alpha, l1_ratio that glmops chose))
               fitted on glmops's training rows; mlflow.sklearn.save_model (signature
               from a DataFrame, MLflow's default serialization) -> `mlflow models serve
               -m DIR --env-manager local` (uvicorn, its default --workers 1)
    BentoML    the same Pipeline (joblib) in a service.py: @bentoml.service(workers=1),
               @bentoml.api(batchable=True, batch_dim=0, max_batch_size=4000) taking an
               np.ndarray validated by Shape((-1, 30)) and DType("float64") (BentoML's
               adaptive batching as its docs show it for a tabular model; max_batch_size
               4000 so that the 4 x 1,000-row load is never split; max_latency_ms left at
               its default 60 s so the dispatcher never refuses) -> `bentoml serve`
    MLServer   the same Pipeline (joblib), runtime mlserver_sklearn.SKLearnModel
               (model-settings.json), V2 inference protocol -> `mlserver start DIR`
               (settings.json: host and ports only; parallel_workers (1: one inference
               worker process), debug and adaptive batching (off) at MLServer's defaults).
               Its venv pins uvloop < 0.22: with 0.22+ MLServer 1.7.1's inference worker
               dies at start (SeldonIO/MLServer#2286)

    two variants, so that each side is seen at its best on one core:
    glmops-log-off   the same glmops server with `prediction_log: {enabled: false}`
                     (the targets are judged on `glmops`, log on, as the issue asks)
    mlserver-pw0     MLServer with parallel_workers 0 (inference in the HTTP process: no
                     IPC to a worker; faster on one core); counts as a framework

    and the practical limit (issue 15 measures glmops against it, side by side):
    practical-limit  a hand-written endpoint (LIMIT_APP): FastAPI + orjson + numpy, one
                     POST route taking glmops's JSON bodies and scoring the same linear map
                     (w, b read off the glmops model); no validation, metrics, log or auth;
                     uvicorn with glmops serve's settings (uvloop, httptools, no access log)

    request bodies (one row / 1,000 rows):
    glmops     {"instances": [{"x0": v, ...}]} / {"columns": [...], "data": [[...], ...]};
               and the 1,000 rows as an Arrow IPC stream (30 float64 columns)
    MLflow     {"dataframe_split": {"columns": [...], "data": [[...]]}} (both)
    BentoML    {"input": [[30 values]]} / {"input": [[...] x 1000]}
    MLServer   {"inputs": [{"name": "input-0", "shape": [n, 30], "datatype": "FP64",
               "data": [n x 30 values, row-major]}]}

Every server runs under ``taskset -c 0``; wrk (one thread) and this script run on core 1;
BLAS threads are pinned to 1 in every server; traffic goes to 127.0.0.1 only. Servers
keep their own default logging (to a file). Per server:

- start-up: wall time from spawn to the first successful prediction (polled every 20 ms),
  the median of 3 start-ups (each stopped again but the last); glmops's modules are
  byte-compiled before the first (as a wheel install leaves them);
- idle RSS: the whole process tree (psutil), after start-up and 20 single-row requests
  (then two 1,000-row requests check the batch answers; the RSS after them and after the
  load runs below is reported too: a batch grows some servers' heaps for good);
- single row: ``wrk -t1 -c1 -d10s --latency`` (p50/p99 from wrk's histogram);
- 16 connections: ``wrk -t1 -c16 -d15s`` (req/s, p99); 3 s of the same load first, not kept;
- 1,000-row batch: ``wrk -t1 -c4 -d15s`` with the 1,000-row body (rows/s = req/s x 1000);
  glmops also with the same rows as an Arrow IPC stream body
  (``Content-Type: application/vnd.apache.arrow.stream``; 3 s of it first, not kept);
- "a bad request never affects another": for 10 s one client (keep-alive) sends good
  single rows and checks every answer (status 200 and the expected value), another sends
  rows with a null, a string, or an extra column (MLflow: an extra named column; BentoML
  and MLServer take arrays: a 31st value); the bad ones' status codes are counted;
- glmops only: 60 s at 32 connections: non-2xx and socket errors, RSS at start and end
  (sampled every 2 s), and after the prediction log is drained (its queue metric at 0 and
  ``glmops_prediction_log_written_total`` steady) the rows in the log's Parquet files
  (their footers) against the answered predictions (the server's 200 count; wrk's count
  is lower by the requests in flight when wrk stops, at most one per connection).

    .venv/bin/python bench/serving.py --out bench/results/serving.json   # full, RESULTS.md
    .venv/bin/python bench/serving.py --quick                            # smoke run
    .venv/bin/python bench/serving.py --only glmops,mlflow --quick       # a subset
    bash bench/setup_peers.sh       # the peers' venvs: bench/.venv-{mlflow,bentoml,mlserver}

``--quick`` shortens every run (3 s, soak 10 s) and writes neither RESULTS.md nor
serving.json unless asked (``--write``, ``--out``). ``--only`` takes any of glmops,
glmops-log-off, practical-limit, mlflow, bentoml, mlserver, mlserver-pw0 (default: all,
in that order).
``--bentoml-batching off`` serves BentoML without adaptive batching (slower here: 228 vs
301 req/s at 16 connections in a --quick trial).
This file imports only the standard library at top level: the peers' venvs run it too
(``--worker prep``) to fit and save their model with their own scikit-learn.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import hashlib
import http.client
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from glmops.serving.local_server import free_port

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS_MD = BENCH / "RESULTS.md"
SECTION = "serving"
N_ROWS, N_FEATURES, N_ZERO = 20_000, 30, 10
SEED = 20261124
BATCH_ROWS = 1000
MODEL = "enet"
FEATURES = [f"x{i}" for i in range(N_FEATURES)]
SERVER_CPU, CLIENT_CPU = 0, 1
PEERS = (
    "glmops",
    "glmops-log-off",
    "practical-limit",
    "mlflow",
    "bentoml",
    "mlserver",
    "mlserver-pw0",
)
GLMOPS = ("glmops", "glmops-log-off")
# the hand-written endpoint: glmops's request bodies, no validation, no log (see LIMIT_APP)
LIMIT = "practical-limit"
GLMOPS_BODIES = (*GLMOPS, LIMIT)
# a variant runs its base's server with one setting changed (see server_command)
BASE = {"glmops-log-off": "glmops", "mlserver-pw0": "mlserver"}
FRAMEWORKS = ("mlflow", "bentoml", "mlserver")


def log_dir(work: Path) -> Path:
    """Where the glmops server writes its prediction log."""
    return work / "prediction-log"


VENVS = {p: BENCH / f".venv-{p}" for p in FRAMEWORKS}
VENVS["mlserver-pw0"] = VENVS["mlserver"]
THREADS = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
QUIET = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "GIT_PYTHON_REFRESH": "quiet",
    "PYTHONWARNINGS": "ignore",
}
BENTO_MAX_BATCH = 4000
BENTO_API_ARGS = f"batchable=True, batch_dim=0, max_batch_size={BENTO_MAX_BATCH}"
FULL = {
    "c1_s": 10,
    "c16_s": 15,
    "batch_s": 15,
    "soak_s": 60,
    "isolation_s": 10,
    "warmup_s": 3,
    "startup_runs": 3,
}
QUICK = {
    "c1_s": 3,
    "c16_s": 3,
    "batch_s": 3,
    "soak_s": 10,
    "isolation_s": 3,
    "warmup_s": 1,
    "startup_runs": 1,
}
STARTUP_TIMEOUT_S = 180.0
MAX_ISOLATION_REQUESTS = 200_000  # per client: the loops stop at this count or the time
TARGETS = {
    "single_p99_ms": 2.0,
    "c16_rps": 3000.0,
    "c16_vs_mlflow": 30.0,
    "c16_vs_best": 2.5,
    "batch_rows_s": 400_000.0,
    "startup_s": 1.0,
    "idle_rss_mib": 150.0,
    "rss_growth_pct": 10.0,
    # against the practical limit (issue 15): start-up at most 1.3x, req/s at least 1x
    "startup_vs_limit": 1.3,
    "c16_vs_limit": 1.0,
}
PEER_PACKAGES = {
    "glmops": ("glmops", "uvicorn", "fastapi", "starlette", "orjson", "sqlalchemy", "numpy"),
    LIMIT: ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "orjson", "numpy"),
    "mlflow": ("mlflow", "scikit-learn", "numpy", "pandas", "uvicorn", "fastapi", "skops"),
    "bentoml": ("bentoml", "scikit-learn", "numpy", "uvicorn", "starlette", "pydantic"),
    "mlserver": (
        "mlserver",
        "mlserver-sklearn",
        "scikit-learn",
        "numpy",
        "uvicorn",
        "uvloop",
        "fastapi",
    ),
}

# every client sends this bearer token: glmops serves with auth on, as deployed
BENCH_TOKEN = "bench-token-not-a-secret"

# wrk's Lua: the body comes from a file named by WRK_BODY; done() prints one JSON line
WRK_LUA = r"""
local f = assert(io.open(os.getenv("WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("WRK_TYPE") or "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRK_TOKEN") or "")

function done(summary, latency, requests)
  local e = summary.errors
  local fields = {
    requests = summary.requests, duration_us = summary.duration, bytes = summary.bytes,
    err_connect = e.connect, err_read = e.read, err_write = e.write,
    err_status = e.status, err_timeout = e.timeout,
    lat_min_us = latency.min, lat_max_us = latency.max,
    lat_mean_us = latency.mean, lat_stdev_us = latency.stdev,
    p50_us = latency:percentile(50), p90_us = latency:percentile(90),
    p99_us = latency:percentile(99), p999_us = latency:percentile(99.9),
  }
  local parts = {}
  for k, v in pairs(fields) do
    parts[#parts + 1] = string.format('"%s": %.3f', k, v)
  end
  io.write("WRKJSON {" .. table.concat(parts, ", ") .. "}\n")
end
"""

BENTO_SERVICE = '''\
"""BentoML service of bench/serving.py (written by it): the scikit-learn Pipeline."""

from pathlib import Path
from typing import Annotated

import bentoml
import joblib
import numpy as np
from bentoml.validators import DType, Shape

HERE = Path(__file__).resolve().parent


@bentoml.service(workers=1)
class Regressor:
    def __init__(self) -> None:
        self.model = joblib.load(HERE / "model.joblib")

    @bentoml.api({api_args})
    def predict(
        self, input: Annotated[np.ndarray, Shape((-1, {p})), DType("float64")]
    ) -> np.ndarray:
        return self.model.predict(input)
'''


LIMIT_APP = '''\
"""The practical limit of bench/serving.py (written by it): a hand-written endpoint.

FastAPI + orjson + numpy, one POST route scoring the same linear model as glmops
(y = X w + b, w and b read off the glmops model), glmops's request bodies; no
validation, no metrics, no log, no auth. Run by bench/serving.py as
``python limit_app.py PORT`` under uvicorn with glmops serve's settings (uvloop,
httptools, no access log).
"""

import sys
from pathlib import Path

import numpy as np
import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

LINEAR = orjson.loads((Path(__file__).resolve().parent / "linear.json").read_bytes())
FEATURES = LINEAR["features"]
W = np.array(LINEAR["coef"])
B = LINEAR["intercept"]

app = FastAPI()


@app.post("/v1/models/{name}/predict")
async def predict(name: str, request: Request) -> Response:
    payload = orjson.loads(await request.body())
    if "instances" in payload:
        X = np.array([[r[f] for f in FEATURES] for r in payload["instances"]], dtype=np.float64)
    else:
        X = np.array(payload["data"], dtype=np.float64)
        if payload["columns"] != FEATURES:
            X = X[:, [payload["columns"].index(f) for f in FEATURES]]
    body = {"model": name, "predictions": (X @ W + B).tolist()}
    return Response(orjson.dumps(body), media_type="application/json")


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )
'''


def _versions(names) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


# -- the peers' model (run by each peer venv's python: --worker prep) ----------------------


def worker_prep(peer: str, data: Path, out: Path, alpha: float, l1_ratio: float) -> dict:
    """Fit Pipeline(StandardScaler, ElasticNet) on the training rows; save it for ``peer``."""
    import numpy as np
    from sklearn.linear_model import ElasticNet
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.load(data / "X.npy")
    y = np.load(data / "y.npy")
    train = np.load(data / "train_idx.npy")
    enet = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-10, max_iter=100_000)
    pipe = Pipeline([("scale", StandardScaler()), ("enet", enet)])
    out.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {}
    if peer == "mlflow":
        import pandas as pd
        from mlflow.models import infer_signature
        from mlflow.sklearn import save_model

        frame = pd.DataFrame(X, columns=FEATURES)
        pipe.fit(frame.iloc[train], y[train])
        probe = pipe.predict(frame.iloc[:BATCH_ROWS])
        signature = infer_signature(frame.iloc[:100], probe[:100])
        save_model(pipe, str(out / "model"), signature=signature)
        mlmodel = (out / "model" / "MLmodel").read_text()
        info["serialization_format"] = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in mlmodel.splitlines()
                if ln.strip().startswith("serialization_format:")
            ),
            None,
        )
        info["model_files"] = sorted(p.name for p in (out / "model").iterdir())
    else:
        import joblib

        pipe.fit(X[train], y[train])
        probe = pipe.predict(X[:BATCH_ROWS])
        joblib.dump(pipe, out / "model.joblib")
    return {
        "versions": _versions(PEER_PACKAGES[peer]),
        "python": platform.python_version(),
        "probe": probe.tolist(),
        "coef_standardized": enet.coef_.tolist(),
        "intercept": float(enet.intercept_),
        "n_iter": int(enet.n_iter_),
        "n_train": len(train),
        **info,
    }


# -- data and the glmops model (this venv) -------------------------------------------------


def make_data(work: Path) -> dict:
    """Write the seeded data (Parquet for glmops, .npy for the peers); return its facts."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    scales = rng.uniform(0.5, 3.0, N_FEATURES)
    means = rng.uniform(-2.0, 2.0, N_FEATURES)
    X = rng.standard_normal((N_ROWS, N_FEATURES)) * scales + means
    beta = rng.normal(0.0, 1.0, N_FEATURES) / scales
    zero = rng.choice(N_FEATURES, N_ZERO, replace=False)
    beta[zero] = 0.0
    y = 3.0 + X @ beta + rng.standard_normal(N_ROWS)
    table = pa.table({**{f: X[:, j] for j, f in enumerate(FEATURES)}, "y": y})
    pq.write_table(table, work / "data.parquet")
    np.save(work / "X.npy", X)
    np.save(work / "y.npy", y)
    return {
        "X": X,
        "y": y,
        "zero_betas": sorted(int(j) for j in zero),
        "beta": beta.tolist(),
        "table": table,
    }


def train_glmops(work: Path, data: dict) -> dict:
    """Train with glmops, register in a fresh SQLite registry, promote to champion."""
    import numpy as np

    from glmops.config import parse_config
    from glmops.data.split import make_split
    from glmops.registry import Registry
    from glmops.training.pipeline import train_model

    db = work / "registry.db"
    store = work / "store"
    raw = glmops_config(work, port=8080)
    cfg = parse_config(raw)
    name, spec = cfg.model(MODEL)
    t0 = time.perf_counter()
    result = train_model(
        name, spec, base_dir=work, output_dir=work / "artifacts", write_report=False
    )
    train_s = time.perf_counter() - t0
    assert result.artifact_path is not None
    with Registry(f"sqlite:///{db}", store, actor="bench") as registry:
        info = registry.register(name, result.artifact_path)
        registry.promote(name, info.version, reason="bench/serving.py")
        champion = registry.resolve(f"{name}@champion")
    hp = result.model.metadata["hyperparameters"]
    # the rows glmops fitted on (its holdout split, same call as train_model's): the peers
    # fit on exactly these
    split = make_split(
        data["table"],
        data["y"],
        task=spec.task,
        method=spec.split.method,
        test_size=spec.split.test_size,
        n_folds=spec.cv.n_folds,
        seed=spec.seed,
    )
    train_idx = np.sort(np.asarray(split.train))
    np.save(work / "train_idx.npy", train_idx)
    n_rows = result.model.metadata["lineage"]["n_rows"]
    if int(n_rows["train"]) != len(train_idx):
        raise RuntimeError(f"split mismatch: glmops trained on {n_rows['train']} rows")
    import pyarrow as pa

    X = data["X"][:BATCH_ROWS]
    probe = result.model.predict(pa.table({f: X[:, j] for j, f in enumerate(FEATURES)}))
    coef = result.model.metadata["coefficients"]
    # the practical limit scores y = X w + b: the model's map on raw features (affine, so
    # read off at 0 and at each unit vector)
    basis = np.vstack([np.zeros(N_FEATURES), np.eye(N_FEATURES)])
    at = np.asarray(
        result.model.predict(pa.table({f: basis[:, j] for j, f in enumerate(FEATURES)})),
        dtype=float,
    ).ravel()
    linear = {"features": FEATURES, "coef": (at[1:] - at[0]).tolist(), "intercept": float(at[0])}
    return {
        "alpha": float(hp["alpha"]),
        "l1_ratio": float(hp["l1_ratio"]),
        "train_s": train_s,
        "n_train": len(train_idx),
        "version": info.version,
        "champion": champion.ref,
        "digest": info.digest,
        "artifact": str(result.artifact_path),
        "db": db,
        "probe": np.asarray(probe, dtype=float).ravel().tolist(),
        "linear": linear,
        "nonzero": int(np.count_nonzero(np.asarray(coef["standardized"]))),
        "metrics": result.model.metadata.get("metrics", {}),
    }


def glmops_config(work: Path, port: int) -> dict:
    """The glmops.yaml (as a mapping): registry, serving (bearer-token auth, the default
    lossless log), the model. Peers ignore the Authorization header the clients send."""
    return {
        "version": 1,
        "registry": {
            "url": f"sqlite:///{work / 'registry.db'}",
            "artifact_root": str(work / "store"),
        },
        "serving": {
            "host": "127.0.0.1",
            "port": port,
            "tokens": [
                {
                    "sha256": hashlib.sha256(BENCH_TOKEN.encode()).hexdigest(),
                    "actor": "bench",
                    "roles": ["predict", "read"],
                }
            ],
            "models": [MODEL],
            "prediction_log": {"path": str(log_dir(work))},
        },
        "models": {
            MODEL: {
                "data": {"path": str(work / "data.parquet")},
                "target": "y",
                "task": "regression",
                "seed": 0,
                "description": "bench/serving.py: 30-feature elastic-net regression",
            }
        },
    }


def prep_peer(peer: str, work: Path, alpha: float, l1_ratio: float) -> dict:
    """Run --worker prep in the peer's venv; write its server files; return its facts."""
    python = VENVS[peer] / "bin" / "python"
    out = work / peer
    base = BASE.get(peer, peer)
    cmd = [
        str(python),
        str(Path(__file__).resolve()),
        "--worker",
        "prep",
        "--peer",
        base,
        "--data",
        str(work),
        "--dir",
        str(out),
        "--alpha",
        repr(alpha),
        "--l1-ratio",
        repr(l1_ratio),
    ]
    proc = subprocess.run(
        cmd, env=_env(), cwd=work, capture_output=True, text=True, timeout=600, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{peer} prep failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    if base == "bentoml":
        (out / "service.py").write_text(BENTO_SERVICE.format(api_args=BENTO_API_ARGS, p=N_FEATURES))
    if base == "mlserver":
        model_dir = out / MODEL
        model_dir.mkdir(exist_ok=True)
        shutil.move(str(out / "model.joblib"), model_dir / "model.joblib")
        (model_dir / "model-settings.json").write_text(
            json.dumps(
                {
                    "name": MODEL,
                    "implementation": "mlserver_sklearn.SKLearnModel",
                    "parameters": {"uri": "./model.joblib"},
                },
                indent=1,
            )
        )
    return res


def prep_limit(work: Path, linear: dict, X: Any) -> list[float]:
    """Write the practical limit's app and the glmops model's linear map; return what it
    answers for the rows ``X`` (its own model, computed here)."""
    import numpy as np

    out = work / LIMIT
    out.mkdir(exist_ok=True)
    (out / "limit_app.py").write_text(LIMIT_APP)
    (out / "linear.json").write_text(json.dumps(linear))
    values = np.asarray(X) @ np.array(linear["coef"]) + linear["intercept"]
    return [float(v) for v in values]


# -- processes -----------------------------------------------------------------------------


def _env(extra: dict | None = None) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GLMOPS_", "MLFLOW_", "BENTOML_", "MLSERVER_", "VIRTUAL_ENV"))
    }
    env.update(THREADS)
    env.update(QUIET)
    env.update(extra or {})
    return env


class Server:
    """One server process group pinned to SERVER_CPU; RSS of its whole tree."""

    def __init__(self, name: str, cmd: list[str], *, cwd: Path, env: dict, log: Path) -> None:
        self.name = name
        self.cmd = cmd
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 (closed in stop)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(SERVER_CPU), *cmd],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.seen: set[int] = {self.proc.pid}

    def procs(self) -> list:
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            found = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        self.seen.update(p.pid for p in found)
        return found

    def rss(self) -> int:
        import psutil

        total = 0
        for p in self.procs():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total

    def describe(self) -> dict:
        """Processes of the tree: pid, command line, CPU affinity, RSS and PSS."""
        import psutil

        out = []
        for p in self.procs():
            try:
                with p.oneshot():
                    entry = {
                        "pid": p.pid,
                        "cmdline": " ".join(p.cmdline())[:300],
                        "cpu_affinity": p.cpu_affinity(),
                        "rss_mib": p.memory_info().rss / 2**20,
                        "threads": p.num_threads(),
                    }
                with contextlib.suppress(psutil.AccessDenied, AttributeError):
                    entry["pss_mib"] = p.memory_full_info().pss / 2**20
                out.append(entry)
            except psutil.NoSuchProcess:
                pass
        return {"processes": out}

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout_s: float = 15.0) -> dict:
        """SIGTERM the group, then SIGKILL; also every pid of the tree seen on the way."""
        import psutil

        self.procs()
        out: dict[str, Any] = {"signal": "none"}
        if self.alive():
            out["signal"] = "SIGTERM"
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                out["signal"] = "SIGKILL"
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        with_children = []
        for pid in sorted(self.seen - {self.proc.pid}):
            try:
                p = psutil.Process(pid)
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    p.kill()
                    with_children.append(pid)
            except psutil.NoSuchProcess:
                pass
        out["killed_leftovers"] = with_children
        out["returncode"] = self.proc.returncode
        self._log.close()
        return out


class Client:
    """HTTP/1.1 keep-alive client (reconnects after a close or an error)."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {"Content-Type": content_type} if body is not None else {}
        headers["Authorization"] = f"Bearer {BENCH_TOKEN}"  # glmops serves with auth on
        try:
            self.conn.request(method, path, body, headers)
            resp = self.conn.getresponse()
            data = resp.read()
        except Exception:
            self.close()
            raise
        if resp.will_close:
            self.close()
        return resp.status, data

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return self.request("POST", path, body)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# -- what each server is sent and answers ---------------------------------------------------


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


ARROW_STREAM = "application/vnd.apache.arrow.stream"


def _arrow_stream(rows: list[list[float]]) -> bytes:
    """The rows as an Arrow IPC stream of float64 columns x0..x29 (glmops's binary body)."""
    import pyarrow as pa

    columns = list(zip(*rows, strict=True))
    table = pa.table({f: pa.array(columns[j], pa.float64()) for j, f in enumerate(FEATURES)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


class Spec:
    """Paths, bodies and answer parsing of one server."""

    batch_arrow: bytes | None = None

    def __init__(self, name: str, rows: list[list[float]]) -> None:
        self.name = name
        self.peer = peer = BASE.get(name, name)
        one = rows[0]
        record = dict(zip(FEATURES, one, strict=True))
        batch = rows[:BATCH_ROWS]
        if peer in GLMOPS_BODIES:
            self.path = f"/v1/models/{MODEL}/predict"
            self.single = _dumps({"instances": [record]})
            self.batch = _dumps({"columns": FEATURES, "data": batch})
            self.batch_arrow = _arrow_stream(batch) if peer in GLMOPS else None
            self.bad = {
                "null": _dumps({"instances": [{**record, "x3": None}]}),
                "string": _dumps({"instances": [{**record, "x3": "abc"}]}),
                "extra_column": _dumps({"instances": [{**record, "extra": 1.0}]}),
            }
        elif peer == "mlflow":
            self.path = "/invocations"

            def frame(cols: list[str], data: list[list[Any]]) -> bytes:
                return _dumps({"dataframe_split": {"columns": cols, "data": data}})

            self.single = frame(FEATURES, [one])
            self.batch = frame(FEATURES, batch)
            self.bad = {
                "null": frame(FEATURES, [[*one[:3], None, *one[4:]]]),
                "string": frame(FEATURES, [[*one[:3], "abc", *one[4:]]]),
                "extra_column": frame([*FEATURES, "extra"], [[*one, 1.0]]),
            }
        elif peer == "bentoml":
            self.path = "/predict"
            self.single = _dumps({"input": [one]})
            self.batch = _dumps({"input": batch})
            self.bad = {
                "null": _dumps({"input": [[*one[:3], None, *one[4:]]]}),
                "string": _dumps({"input": [[*one[:3], "abc", *one[4:]]]}),
                "extra_column": _dumps({"input": [[*one, 1.0]]}),
            }
        elif peer == "mlserver":
            self.path = f"/v2/models/{MODEL}/infer"

            def v2(data: list[list[Any]], width: int = N_FEATURES) -> bytes:
                flat = [v for row in data for v in row]
                tensor = {"name": "input-0", "shape": [len(data), width], "datatype": "FP64"}
                return _dumps({"inputs": [{**tensor, "data": flat}]})

            self.single = v2([one])
            self.batch = v2(batch)
            self.bad = {
                "null": v2([[*one[:3], None, *one[4:]]]),
                "string": v2([[*one[:3], "abc", *one[4:]]]),
                "extra_column": v2([[*one, 1.0]], N_FEATURES + 1),
            }
        else:
            raise ValueError(peer)

    def predictions(self, body: bytes) -> list[float]:
        data = json.loads(body)
        if self.peer in (*GLMOPS_BODIES, "mlflow"):
            values = data["predictions"]
        elif self.peer == "bentoml":
            values = data
        else:
            values = data["outputs"][0]["data"]
        flat: list[float] = []
        for v in values:
            if isinstance(v, list):
                flat.extend(float(x) for x in v)
            elif isinstance(v, dict):
                flat.append(float(v.get("value", next(iter(v.values())))))
            else:
                flat.append(float(v))
        return flat


def server_command(peer: str, work: Path, port: int) -> tuple[list[str], Path, dict]:
    """Return (command, cwd, env) that starts ``peer`` on ``port``."""
    if peer in GLMOPS:
        import yaml

        gdir = work / "glmops"
        gdir.mkdir(exist_ok=True)
        config = glmops_config(work, port)
        cfg = gdir / "glmops.yaml"
        if peer == "glmops-log-off":
            config["serving"]["prediction_log"] = {"enabled": False}
            cfg = gdir / "glmops-log-off.yaml"
        cfg.write_text(yaml.safe_dump(config, sort_keys=False))
        glmops = Path(sys.executable).parent / "glmops"
        return [str(glmops), "serve", "--config", str(cfg)], gdir, _env()
    if peer == LIMIT:
        ldir = work / LIMIT
        return [sys.executable, str(ldir / "limit_app.py"), str(port)], ldir, _env()
    venv = VENVS[peer]
    pdir = work / peer
    if peer == "mlflow":
        cmd = [
            str(venv / "bin" / "mlflow"),
            "models",
            "serve",
            "-m",
            str(pdir / "model"),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ]
        return cmd, pdir, _env({"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"})
    if peer == "bentoml":
        home = work / "bentoml-home"
        home.mkdir(exist_ok=True)
        cmd = [
            str(venv / "bin" / "bentoml"),
            "serve",
            "service:Regressor",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        env = _env(
            {"BENTOML_HOME": str(home), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
        )
        return cmd, pdir, env
    if peer in ("mlserver", "mlserver-pw0"):
        settings: dict[str, Any] = {
            "host": "127.0.0.1",
            "http_port": port,
            "grpc_port": free_port(),
            "metrics_port": free_port(),
            "metrics_dir": str(pdir / ".metrics"),
            "environments_dir": str(pdir / ".envs"),
        }
        if peer == "mlserver-pw0":
            settings["parallel_workers"] = 0  # inference in the HTTP process, no worker
        (pdir / "settings.json").write_text(json.dumps(settings, indent=1))
        cmd = [str(venv / "bin" / "mlserver"), "start", str(pdir)]
        return cmd, pdir, _env({"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"})
    raise ValueError(peer)


# -- measurements --------------------------------------------------------------------------


def wait_ready(server: Server, port: int, spec: Spec, expected: float) -> dict:
    """Poll a single-row prediction every 20 ms until it answers 200 with the expected value."""
    client = Client(port, timeout=10)
    deadline = server.started + STARTUP_TIMEOUT_S
    attempts, last = 0, ""
    while time.perf_counter() < deadline:
        if not server.alive():
            raise RuntimeError(
                f"{server.name} exited ({server.proc.returncode}) before answering:\n"
                f"{server.log_tail()}"
            )
        attempts += 1
        try:
            status, body = client.post(spec.path, spec.single)
        except OSError as exc:
            last = f"{type(exc).__name__}"
        else:
            if status == 200:
                elapsed = time.perf_counter() - server.started
                value = spec.predictions(body)[0]
                client.close()
                return {
                    "startup_s": elapsed,
                    "polls": attempts,
                    "first_value": value,
                    "first_value_error": abs(value - expected),
                }
            last = f"HTTP {status}: {body[:200].decode(errors='replace')}"
        time.sleep(0.02)
    client.close()
    raise RuntimeError(
        f"{server.name} not ready after {STARTUP_TIMEOUT_S} s (last: {last}):\n{server.log_tail()}"
    )


def check_answers(
    port: int, spec: Spec, expected: list[float], *, batch: bool, n: int = 20
) -> dict:
    """n single rows, or 2 batches: statuses and the largest difference in value."""
    client = Client(port)
    statuses: collections.Counter = collections.Counter()
    worst = 0.0
    n_batch = None
    for _ in range(2 if batch else n):
        status, body = client.post(spec.path, spec.batch if batch else spec.single)
        statuses[status] += 1
        if status != 200:
            client.close()
            raise RuntimeError(f"{spec.name} answered {status}: {body[:500]!r}")
        values = spec.predictions(body)
        n_batch = len(values)
        worst = max(worst, max(abs(a - b) for a, b in zip(values, expected, strict=False)))
    client.close()
    return {
        "statuses": {str(k): v for k, v in statuses.items()},
        "rows_answered": n_batch,
        "max_abs_diff_vs_own_model": worst,
        "body_bytes": len(spec.batch if batch else spec.single),
    }


def check_arrow_batch(port: int, spec: Spec, expected: list[float]) -> dict:
    """The Arrow body's answers: status and the largest difference to the model's values."""
    assert spec.batch_arrow is not None
    client = Client(port)
    try:
        status, body = client.request(
            "POST", spec.path, spec.batch_arrow, content_type=ARROW_STREAM
        )
    finally:
        client.close()
    if status != 200:
        raise RuntimeError(f"Arrow batch answered {status}: {body[:300]!r}")
    values = spec.predictions(body)
    diff = max(abs(a - b) for a, b in zip(values, expected, strict=True))
    return {"status": status, "rows_answered": len(values), "max_abs_diff_vs_own_model": diff}


def run_wrk(
    work: Path, port: int, spec: Spec, *, conns: int, seconds: int, body: str = "single"
) -> dict:
    """wrk -t1 -c<conns> -d<seconds>s --latency on CLIENT_CPU; parsed from the Lua done()."""
    lua = work / "wrk.lua"
    if not lua.exists():
        lua.write_text(WRK_LUA)
    path = work / f"body-{spec.peer}-{body}.bin"
    content = {"single": spec.single, "batch": spec.batch, "batch_arrow": spec.batch_arrow}[body]
    assert content is not None, body
    path.write_bytes(content)
    cmd = [
        "taskset",
        "-c",
        str(CLIENT_CPU),
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(lua),
        f"http://127.0.0.1:{port}{spec.path}",
    ]
    kind = ARROW_STREAM if body == "batch_arrow" else "application/json"
    env = {**os.environ, "WRK_BODY": str(path), "WRK_TYPE": kind, "WRK_TOKEN": BENCH_TOKEN}
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout[-2000:]}{proc.stderr}")
    raw = json.loads(line[len("WRKJSON ") :])
    requests = int(raw["requests"])
    seconds_run = raw["duration_us"] / 1e6
    errors = {k[4:]: int(raw[k]) for k in raw if k.startswith("err_")}
    rows = 1 if body == "single" else BATCH_ROWS
    return {
        "connections": conns,
        "seconds": seconds_run,
        "body": body,
        "requests": requests,
        "non_2xx": errors["status"],
        "socket_errors": {k: v for k, v in errors.items() if k != "status"},
        "errors_total": sum(errors.values()),
        "answered": requests - errors["status"],
        "req_s": requests / seconds_run if seconds_run else 0.0,
        "rows_s": (requests - errors["status"]) * rows / seconds_run if seconds_run else 0.0,
        "p50_ms": raw["p50_us"] / 1e3,
        "p90_ms": raw["p90_us"] / 1e3,
        "p99_ms": raw["p99_us"] / 1e3,
        "p999_ms": raw["p999_us"] / 1e3,
        "mean_ms": raw["lat_mean_us"] / 1e3,
        "max_ms": raw["lat_max_us"] / 1e3,
        "loadavg_after": os.getloadavg(),
        "wrk_stdout": proc.stdout[-1500:],
    }


def isolation_check(port: int, spec: Spec, expected: float, seconds: float) -> dict:
    """Good single rows on one connection while another sends bad rows; count the damage."""
    stop = threading.Event()
    deadline = time.monotonic() + seconds
    good: dict[str, Any] = {"sent": 0, "ok": 0, "failed": 0, "wrong_value": 0}
    good_errors: collections.Counter = collections.Counter()
    good_latency: list[float] = []
    bad: dict[str, collections.Counter] = {k: collections.Counter() for k in spec.bad}
    examples: dict[str, str] = {}
    tolerance = 1e-9 * (1 + abs(expected))

    def good_loop() -> None:
        client = Client(port)
        while not stop.is_set() and time.monotonic() < deadline:
            if good["sent"] >= MAX_ISOLATION_REQUESTS:
                break
            good["sent"] += 1
            t0 = time.perf_counter()
            try:
                status, body = client.post(spec.path, spec.single)
            except Exception as exc:  # a dropped connection is a failed good request
                good["failed"] += 1
                good_errors[type(exc).__name__] += 1
                continue
            good_latency.append(time.perf_counter() - t0)
            if status != 200:
                good["failed"] += 1
                good_errors[str(status)] += 1
                continue
            try:
                value = spec.predictions(body)[0]
            except Exception as exc:
                good["failed"] += 1
                good_errors[f"unparsable: {type(exc).__name__}"] += 1
                continue
            if abs(value - expected) > tolerance:
                good["wrong_value"] += 1
                good["failed"] += 1
            else:
                good["ok"] += 1
        client.close()

    def bad_loop() -> None:
        client = Client(port)
        kinds = list(spec.bad)
        i = 0
        while not stop.is_set() and time.monotonic() < deadline and i < MAX_ISOLATION_REQUESTS:
            kind = kinds[i % len(kinds)]
            i += 1
            try:
                status, body = client.post(spec.path, spec.bad[kind])
            except Exception as exc:
                bad[kind][f"error:{type(exc).__name__}"] += 1
                continue
            bad[kind][str(status)] += 1
            key = f"{kind} {status}"
            if key not in examples:
                examples[key] = body[:400].decode(errors="replace")
        client.close()

    threads = [threading.Thread(target=good_loop), threading.Thread(target=bad_loop)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    stop.set()
    lat = sorted(good_latency)
    return {
        "seconds": seconds,
        "good": {**good, "errors": dict(good_errors)},
        "good_p50_ms": lat[len(lat) // 2] * 1e3 if lat else None,
        "good_p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1e3 if lat else None,
        "bad": {k: dict(v) for k, v in bad.items()},
        "bad_examples": examples,
        "bad_5xx": sum(n for c in bad.values() for s, n in c.items() if s.startswith("5")),
    }


# -- glmops's metrics and prediction log -----------------------------------------------------


def glmops_metrics(port: int) -> dict:
    """Sum the counters this benchmark checks out of /metrics."""
    client = Client(port, timeout=10)
    status, body = client.request("GET", "/metrics")
    client.close()
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    out = {"ok": 0.0, "refused": 0.0, "rows": 0.0, "written": 0.0, "dropped": 0.0, "queue": 0.0}
    out |= {"offered": 0.0, "log_refused": 0.0}  # log: rows handed to it; rows refused 503
    dropped_by: dict[str, float] = {}
    statuses: dict[str, float] = {}
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        v = float(value)
        if name.startswith("glmops_requests_total{"):
            code = name.split('status="', 1)[1].split('"', 1)[0]
            statuses[code] = statuses.get(code, 0.0) + v
            out["ok" if code == "200" else "refused"] += v
        elif name.startswith("glmops_predicted_rows_total"):
            out["rows"] += v
        elif name.startswith("glmops_prediction_log_written_total"):
            out["written"] += v
        elif name.startswith("glmops_prediction_log_dropped_total"):
            out["dropped"] += v
            reason = name.split('reason="', 1)[1].split('"', 1)[0] if "reason=" in name else ""
            dropped_by[reason] = dropped_by.get(reason, 0.0) + v
        elif name.startswith("glmops_prediction_log_offered_total"):
            out["offered"] += v
        elif name.startswith("glmops_prediction_log_refused_total"):
            out["log_refused"] += v
        elif name == "glmops_prediction_log_queue":
            out["queue"] = v
    out["dropped_by_reason"] = dropped_by
    out["requests_by_status"] = statuses
    return out


def drain_log(port: int, timeout_s: float = 180.0) -> dict:
    """Wait until the log queue is empty and the written counter stopped moving (1 s)."""
    t0 = time.monotonic()
    last = glmops_metrics(port)
    stable_since = time.monotonic()
    polls = 0
    while time.monotonic() - t0 < timeout_s:
        time.sleep(0.25)
        polls += 1
        now = glmops_metrics(port)
        if now["written"] != last["written"] or now["dropped"] != last["dropped"] or now["queue"]:
            stable_since = time.monotonic()
        elif time.monotonic() - stable_since >= 1.0:
            return {**now, "drain_s": time.monotonic() - t0, "polls": polls, "drained": True}
        last = now
    return {**last, "drain_s": time.monotonic() - t0, "polls": polls, "drained": False}


def log_count(log_root: Path) -> int:
    """Rows in the prediction log's Parquet files (from their footers)."""
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in log_root.rglob("*.parquet"))


def soak(work: Path, server: Server, port: int, spec: Spec, log_root: Path, seconds: int) -> dict:
    """glmops: 60 s at 32 connections; errors, RSS drift, log rows vs answered."""
    before = drain_log(port)
    rows_before = log_count(log_root)
    rss_start = server.rss()
    samples: list[tuple[float, int]] = [(0.0, rss_start)]
    stop = threading.Event()
    t0 = time.monotonic()

    def sample() -> None:
        while not stop.wait(2.0) and time.monotonic() - t0 < seconds + 30:
            samples.append((time.monotonic() - t0, server.rss()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        w = run_wrk(work, port, spec, conns=32, seconds=seconds)
    finally:
        stop.set()
        sampler.join(5)
    rss_end = server.rss()
    after = drain_log(port)
    rows_after = log_count(log_root)
    log_rows = rows_after - rows_before
    answered_server = int(after["ok"] - before["ok"])
    in_flight = log_rows - w["answered"]
    rss_values = [r for _, r in samples] + [rss_end]
    return {
        "wrk": w,
        "rss_start_mib": rss_start / 2**20,
        "rss_end_mib": rss_end / 2**20,
        "rss_max_mib": max(rss_values) / 2**20,
        "rss_growth_pct": 100.0 * (rss_end - rss_start) / rss_start,
        "rss_samples_mib": [(round(t, 1), round(r / 2**20, 2)) for t, r in samples],
        "log_rows": log_rows,
        "answered_server": answered_server,
        "answered_wrk": w["answered"],
        "refused_server": int(after["refused"] - before["refused"]),
        "log_written_delta": int(after["written"] - before["written"]),
        "log_dropped_delta": int(after["dropped"] - before["dropped"]),
        "log_offered_delta": int(after["offered"] - before["offered"]),
        "log_refused_delta": int(after["log_refused"] - before["log_refused"]),
        "log_rows_equal_answered": log_rows == answered_server,
        "wrk_in_flight_at_stop": in_flight,
        "wrk_count_consistent": 0 <= in_flight <= 32,
        "drain_before": {k: before[k] for k in ("drain_s", "drained", "queue")},
        "drain_after": {k: after[k] for k in ("drain_s", "drained", "queue")},
    }


# -- one server ----------------------------------------------------------------------------


def bench_server(
    peer: str, work: Path, spec: Spec, expected: list[float], dur: dict, ctx: dict, log
) -> dict:
    out: dict[str, Any] = {"loadavg_start": os.getloadavg()}
    starts: list[float] = []
    # extra start-ups (each: spawn, first prediction, stop); the last start is kept
    for i in range(dur["startup_runs"] - 1):
        port = free_port()
        cmd, cwd, env = server_command(peer, work, port)
        trial = Server(peer, cmd, cwd=cwd, env=env, log=work / f"{peer}-start{i}.log")
        ctx["servers"].append(trial)
        try:
            starts.append(wait_ready(trial, port, spec, expected[0])["startup_s"])
        except Exception as exc:
            out["error"] = f"start-up {i + 1}: {type(exc).__name__}: {exc}"
            log(f"{peer}: FAILED: {out['error'][:500]}")
            return out
        finally:
            trial.stop()
            ctx["servers"].remove(trial)
    port = free_port()
    cmd, cwd, env = server_command(peer, work, port)
    out.update({"command": cmd, "port": port})
    rows_at_start = log_count(ctx["log"]) if peer == "glmops" else 0
    server = Server(peer, cmd, cwd=cwd, env=env, log=work / f"{peer}.log")
    ctx["servers"].append(server)
    try:
        log(f"{peer}: starting ({' '.join(cmd[:4])} ...)")
        out["startup"] = wait_ready(server, port, spec, expected[0])
        starts.append(out["startup"]["startup_s"])
        out["startup"]["runs_s"] = starts
        out["startup"]["last_s"] = starts[-1]
        out["startup"]["startup_s"] = sorted(starts)[len(starts) // 2]  # median (odd n)
        out["startup"]["min_s"] = min(starts)
        log(f"{peer}: ready in {', '.join(f'{t:.2f}' for t in starts)} s")
        single = check_answers(port, spec, expected, batch=False)
        time.sleep(1.0)
        # idle: after start-up and 20 single-row requests (no batch yet: a 1,000-row body
        # grows some servers' heaps for good, reported next)
        out["idle_rss_mib"] = server.rss() / 2**20
        out["tree"] = server.describe()
        batch = check_answers(port, spec, expected, batch=True)
        if batch["rows_answered"] != BATCH_ROWS:
            raise RuntimeError(f"{peer}: {batch['rows_answered']} answers to {BATCH_ROWS} rows")
        time.sleep(1.0)
        out["rss_after_2_batches_mib"] = server.rss() / 2**20
        out["answers"] = {
            "single": single,
            "batch": batch,
            "max_abs_diff_vs_own_model": max(
                single["max_abs_diff_vs_own_model"], batch["max_abs_diff_vs_own_model"]
            ),
        }
        log(
            f"{peer}: idle RSS {out['idle_rss_mib']:.1f} MiB "
            f"({out['rss_after_2_batches_mib']:.1f} after two 1,000-row requests); warm-up"
        )
        run_wrk(work, port, spec, conns=16, seconds=dur["warmup_s"])
        out["c1"] = run_wrk(work, port, spec, conns=1, seconds=dur["c1_s"])
        log(f"{peer}: c1 p50 {out['c1']['p50_ms']:.3f} ms p99 {out['c1']['p99_ms']:.3f} ms")
        out["c16"] = run_wrk(work, port, spec, conns=16, seconds=dur["c16_s"])
        log(f"{peer}: c16 {out['c16']['req_s']:,.0f} req/s p99 {out['c16']['p99_ms']:.2f} ms")
        run_wrk(work, port, spec, conns=4, seconds=max(1, dur["warmup_s"] // 2), body="batch")
        out["batch"] = run_wrk(work, port, spec, conns=4, seconds=dur["batch_s"], body="batch")
        log(f"{peer}: batch {out['batch']['rows_s']:,.0f} rows/s")
        if spec.batch_arrow is not None:
            arrow = check_arrow_batch(port, spec, expected)
            run_wrk(
                work, port, spec, conns=4, seconds=max(1, dur["warmup_s"] // 2), body="batch_arrow"
            )
            out["batch_arrow"] = run_wrk(
                work, port, spec, conns=4, seconds=dur["batch_s"], body="batch_arrow"
            )
            out["batch_arrow"]["check"] = arrow
            log(f"{peer}: batch (Arrow body) {out['batch_arrow']['rows_s']:,.0f} rows/s")
        out["rss_after_load_mib"] = server.rss() / 2**20
        out["isolation"] = isolation_check(port, spec, expected[0], dur["isolation_s"])
        iso = out["isolation"]
        good = iso["good"]
        log(f"{peer}: isolation: good failed {good['failed']}/{good['sent']}; bad {iso['bad']}")
        if peer == "glmops":
            log(f"glmops: soak {dur['soak_s']} s at 32 connections")
            out["soak"] = soak(work, server, port, spec, ctx["log"], dur["soak_s"])
            s = out["soak"]
            log(
                f"glmops: soak {s['wrk']['req_s']:,.0f} req/s, non-2xx {s['wrk']['non_2xx']}, "
                f"RSS {s['rss_start_mib']:.1f} -> {s['rss_end_mib']:.1f} MiB, log rows "
                f"{s['log_rows']} vs answered {s['answered_server']} (wrk {s['answered_wrk']})"
            )
            final = drain_log(port)
            out["lifetime"] = {
                "metrics": final,
                "log_rows_total": log_count(ctx["log"]) - rows_at_start,
            }
        out["alive_at_end"] = server.alive()
    except Exception as exc:  # one server's failure is reported, the others still run
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["log_tail"] = server.log_tail()
        log(f"{peer}: FAILED: {out['error'][:500]}")
    finally:
        out["stop"] = server.stop()
        ctx["servers"].remove(server)
        out["loadavg_end"] = os.getloadavg()
        out["server_log_tail"] = server.log_tail(1500)
    return out


# -- report --------------------------------------------------------------------------------


def _f(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}g}" if v else "0"


def _codes(counts: dict) -> str:
    """'422 x995' style: status codes, then connections the server dropped."""
    codes = [f"{k} x{v:,}" for k, v in sorted(counts.items()) if not k.startswith("error:")]
    dropped = sum(v for k, v in counts.items() if k.startswith("error:"))
    if dropped:
        codes.append(f"connection dropped x{dropped:,}")
    return ", ".join(codes)


def _bad_summary(iso: dict | None) -> str:
    if not iso:
        return "-"
    parts = []
    for counts in iso["bad"].values():
        codes = "/".join(sorted({k for k in counts if not k.startswith("error:")}))
        if any(k.startswith("error:") for k in counts):
            codes += " + conn. dropped"
        parts.append(codes)
    return "; ".join(parts)


def table(res: dict) -> str:
    head = (
        "| server | start s | idle RSS MiB | RSS MiB after the load runs "
        "| 1 row p50 ms (c1) | 1 row p99 ms (c1) "
        "| req/s (c16) | p99 ms (c16) | 1,000-row batch rows/s (c4) | batch p99 ms "
        "| 1,000-row Arrow batch rows/s (c4) "
        "| non-2xx + socket errors | good failed / sent (bad-request check) "
        "| bad requests answered (null; string; extra column) |"
    )
    lines = [head, "|---|" + "---:|" * 12 + "---|"]
    for peer, r in res["servers"].items():
        if "error" in r and "c16" not in r:
            lines.append(f"| {peer} | error: {r['error'][:120]} |" + " |" * 12)
            continue
        errs = sum(r[k]["errors_total"] for k in ("c1", "c16", "batch", "batch_arrow") if k in r)
        iso = r.get("isolation")
        good = f"{iso['good']['failed']} / {iso['good']['sent']:,}" if iso else "-"
        lines.append(
            f"| {peer} | {_f(r['startup']['startup_s'])} | {_f(r['idle_rss_mib'])} "
            f"| {_f(r.get('rss_after_load_mib'))} "
            f"| {_f(r['c1']['p50_ms'])} | {_f(r['c1']['p99_ms'])} | {_f(r['c16']['req_s'])} "
            f"| {_f(r['c16']['p99_ms'])} | {_f(r.get('batch', {}).get('rows_s'))} "
            f"| {_f(r.get('batch', {}).get('p99_ms'))} "
            f"| {_f(r.get('batch_arrow', {}).get('rows_s'))} "
            f"| {errs} | {good} | {_bad_summary(iso)} |"
        )
    return "\n".join(lines)


def evaluate_targets(res: dict) -> list[dict]:
    """Each issue target: value, limit, met, and by how much."""
    g = res["servers"].get("glmops")
    if not g or "c16" not in g:
        return []
    out: list[dict] = []

    def add(name: str, value: float | None, limit: float, kind: str, unit: str, note: str = ""):
        if value is None:
            out.append({"target": name, "value": None, "met": None, "note": note or "not run"})
            return
        met = value <= limit if kind == "<=" else (value < limit if kind == "<" else value >= limit)
        margin = (value - limit) / limit * 100 if kind in ("<=", "<") else (value / limit - 1) * 100
        out.append(
            {
                "target": name,
                "value": value,
                "limit": limit,
                "kind": kind,
                "unit": unit,
                "met": met,
                "margin_pct": margin,
                "note": note,
            }
        )

    add("single-row p99 (c1)", g["c1"]["p99_ms"], TARGETS["single_p99_ms"], "<=", "ms")
    add("req/s at 16 connections", g["c16"]["req_s"], TARGETS["c16_rps"], ">=", "req/s")
    peers = {p: r for p, r in res["servers"].items() if p not in GLMOPS_BODIES and "c16" in r}
    limit = res["servers"].get(LIMIT)
    limit = limit if limit and "c16" in limit else None
    add(
        "req/s at 16 connections vs the practical limit (same run)",
        g["c16"]["req_s"] / limit["c16"]["req_s"] if limit else None,
        TARGETS["c16_vs_limit"],
        ">=",
        "x",
        f"{LIMIT}: {limit['c16']['req_s']:,.0f} req/s" if limit else "",
    )
    mlflow = peers.get("mlflow")
    add(
        "req/s at 16 connections vs MLflow",
        g["c16"]["req_s"] / mlflow["c16"]["req_s"] if mlflow else None,
        TARGETS["c16_vs_mlflow"],
        ">=",
        "x",
    )
    if peers:
        best = max(peers, key=lambda p: peers[p]["c16"]["req_s"])
        add(
            "req/s at 16 connections vs the best framework",
            g["c16"]["req_s"] / peers[best]["c16"]["req_s"],
            TARGETS["c16_vs_best"],
            ">=",
            "x",
            f"best: {best}",
        )
    else:
        add(
            "req/s at 16 connections vs the best framework", None, TARGETS["c16_vs_best"], ">=", "x"
        )
    add(
        "1,000-row batch rows/s (JSON body)",
        g.get("batch", {}).get("rows_s"),
        TARGETS["batch_rows_s"],
        ">=",
        "rows/s",
    )
    batch_peers = {p: r["batch"]["rows_s"] for p, r in peers.items() if "batch" in r}
    if batch_peers:
        best = max(batch_peers, key=batch_peers.__getitem__)
        add(
            "1,000-row JSON batch rows/s vs the best framework (same run)",
            g.get("batch", {}).get("rows_s", 0.0) / batch_peers[best],
            1.0,
            ">=",
            "x",
            f"best: {best}, {batch_peers[best]:,.0f} rows/s",
        )
    add(
        "1,000-row batch rows/s (Arrow IPC body)",
        g.get("batch_arrow", {}).get("rows_s"),
        TARGETS["batch_rows_s"],
        ">=",
        "rows/s",
    )
    add("start-up to first prediction", g["startup"]["startup_s"], TARGETS["startup_s"], "<=", "s")
    add(
        "start-up vs the practical limit (same run)",
        g["startup"]["startup_s"] / limit["startup"]["startup_s"] if limit else None,
        TARGETS["startup_vs_limit"],
        "<=",
        "x",
        f"{LIMIT}: {limit['startup']['startup_s']:.2f} s" if limit else "",
    )
    add("idle RSS", g["idle_rss_mib"], TARGETS["idle_rss_mib"], "<=", "MiB")
    s = g.get("soak")
    add(
        "RSS growth over the 32-connection run",
        s["rss_growth_pct"] if s else None,
        TARGETS["rss_growth_pct"],
        "<",
        "%",
    )
    if s:
        errors = s["wrk"]["errors_total"]
        out.append(
            {
                "target": "0 errors (32-connection run)",
                "value": errors,
                "met": errors == 0,
                "note": f"non-2xx {s['wrk']['non_2xx']}, socket {s['wrk']['socket_errors']}",
            }
        )
        out.append(
            {
                "target": "prediction-log rows == answered predictions",
                "value": s["log_rows"],
                "met": s["log_rows_equal_answered"],
                "note": (
                    f"{s['log_rows']:,} rows vs {s['answered_server']:,} answered (server count); "
                    f"wrk counted {s['answered_wrk']:,} ({s['wrk_in_flight_at_stop']} in flight "
                    f"when wrk stopped); dropped {s['log_dropped_delta']}"
                ),
            }
        )
    iso = g.get("isolation")
    if iso:
        by_kind = {k: sorted(v) for k, v in iso["bad"].items()}
        five = iso["bad_5xx"]
        strict = all(by_kind[k] == ["422"] for k in by_kind if k != "null")
        null_ok = set(by_kind.get("null", [])) <= {"200", "422"}
        out.append(
            {
                "target": "a bad request never affects another (0 good requests failed)",
                "value": iso["good"]["failed"],
                "met": iso["good"]["failed"] == 0,
                "note": f"{iso['good']['failed']} of {iso['good']['sent']:,} good requests failed",
            }
        )
        out.append(
            {
                "target": "bad requests answered 422, never 5xx",
                "value": five,
                "met": five == 0 and strict and null_ok,
                "note": "; ".join(f"{k}: {'/'.join(v)}" for k, v in by_kind.items())
                + (
                    " (the null is imputed with the training median: glmops's default for a "
                    "numeric feature, counted in glmops_feature_missing_total; `nullable: "
                    "false` in the feature spec makes it a 422)"
                    if by_kind.get("null") == ["200"]
                    else ""
                ),
            }
        )
    return out


def _target_line(t: dict) -> str:
    if t["met"] is None:
        return f"- {t['target']}: not measured ({t.get('note', '')})"
    word = "**met**" if t["met"] else "**missed**"
    if "limit" not in t:
        return f"- {t['target']}: {word} ({t['note']})"
    v, unit = t["value"], t["unit"]
    ratio = f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"
    val = f"{v:,.0f}" if abs(v) >= 1000 else (f"{v:.3g}" if unit != "x" else ratio)
    lim = f"{t['limit']:,.0f}" if t["limit"] >= 1000 else f"{t['limit']:g}"
    margin = t["margin_pct"]
    if unit == "%":
        diff = v - t["limit"]
        how = f"{-diff:.1f} points under" if diff < 0 else f"missed by {diff:.1f} points"
    elif t["kind"] in ("<=", "<"):
        how = f"{abs(margin):.0f}% under" if margin <= 0 else f"missed by {margin:.0f}%"
    else:
        how = f"{margin:.0f}% over" if margin >= 0 else f"missed by {-margin:.0f}%"
    note = f"; {t['note']}" if t.get("note") else ""
    return f"- {t['target']} {t['kind']} {lim} {unit}: {word}, {val} {unit} ({how}{note})"


def section(res: dict, text: str) -> str:
    m = res["machine"]
    g = res.get("glmops_model", {})
    vers = []
    for peer, v in res.get("versions", {}).items():
        vers.append(f"{peer}: " + ", ".join(f"{k} {x}" for k, x in v.items() if x))
    lines = [
        f"<!-- section:{SECTION} -->",
        "## serving: `glmops serve` vs MLflow, BentoML and MLServer",
        "",
        "One 30-feature elastic-net regression served over HTTP by four servers (six "
        "configurations), one after the other in one run of `bench/serving.py` (its "
        "docstring maps each server's setup). "
        f"Data: {N_ROWS:,} seeded rows, y = 3 + X beta + N(0, 1), {N_ZERO} of the "
        f"{N_FEATURES} betas zero. glmops trained it (5-fold CV: alpha "
        f"{g.get('alpha', float('nan')):.4g}, l1_ratio {g.get('l1_ratio', float('nan')):g}, "
        f"{g.get('nonzero', '?')} non-zero coefficients, on its {g.get('n_train', '?'):,} "
        "training rows), registered it in a fresh SQLite registry and promoted it; "
        "`glmops serve` ran it with auth disabled and the prediction log on (its default: "
        "Parquet files by model, version and day). glmops's 1,000-row batch is sent twice: "
        "as columnar JSON and as an Arrow IPC stream (its binary body; the peers take JSON "
        "only). "
        "The peers serve scikit-learn `Pipeline(StandardScaler, ElasticNet)` at the same "
        "alpha and l1_ratio, fitted on the same rows: MLflow `models serve --env-manager "
        "local` (dataframe_split JSON), BentoML 1.4 (`@bentoml.api(batchable=True)` on an "
        "ndarray, adaptive batching with max_batch_size 4000), MLServer 1.7 with "
        "mlserver-sklearn (V2 protocol; MLServer's defaults otherwise: one inference "
        "worker process; uvloop < 0.22 because 0.22+ kills that worker, SeldonIO/MLServer"
        "#2286). Two variants: `glmops-log-off` (the same server, `prediction_log: "
        "{enabled: false}`; the targets are judged on `glmops`, log on) and `mlserver-pw0` "
        "(`parallel_workers: 0`, inference in the HTTP process: MLServer's fastest setting "
        "on one core; a framework for the comparison). "
        f"`{LIMIT}` is the hand-written endpoint the issue measures against: FastAPI + "
        "orjson + numpy, one POST route taking glmops's bodies and scoring the same "
        "linear map (read off the glmops model), no validation, metrics, log or auth, "
        "under uvicorn with glmops serve's settings (not a framework). Each server keeps "
        "its own default logging, written to a file.",
        "",
        f"- Command: `{res['command']}`",
        f"- Date: {res['date']}; glmops at commit {m.get('git', '')[:7]}"
        + ("" if not m.get("src_uncommitted") else " (src/ has uncommitted changes)"),
        f"- Machine: `{m['platform']}`; CPU: {m['cpu']}; {m['cores']} cores; Python "
        f"{m['python']}; every server under `taskset -c {SERVER_CPU}` (its whole process "
        f"tree), wrk and the driver under `taskset -c {CLIENT_CPU}`; OMP/OPENBLAS/MKL/NUMBA "
        "threads = 1 in every server; 127.0.0.1 only",
        "- Versions: " + "; ".join(vers),
        f"- Load average (1 min) at start / end: {res['loadavg_start'][0]:.2f} / "
        f"{res['loadavg_end'][0]:.2f}; per server (start -> end): "
        + ", ".join(
            f"{p} {r['loadavg_start'][0]:.2f} -> {r['loadavg_end'][0]:.2f}"
            for p, r in res["servers"].items()
        )
        + " (wrk keeps core 1 busy and the server core 0, so ~2 is this benchmark itself)",
        f"- Runs: wrk 4.1 `-t1`; single row `-c1 -d{res['durations']['c1_s']}s --latency`, "
        f"`-c16 -d{res['durations']['c16_s']}s` (after {res['durations']['warmup_s']} s of "
        f"the same, not kept), 1,000-row body `-c4 -d{res['durations']['batch_s']}s`; "
        "p50/p99 from wrk's latency histogram; start-up = spawn to the first 200 with the "
        "expected value (polled every 20 ms), median of "
        f"{res['durations']['startup_runs']} start-ups (all in the JSON); idle RSS = sum "
        "over the process tree after "
        "20 single-row requests; RSS after the load runs = the same after the -c1, -c16 and "
        f"batch runs; bad-request check {res['durations']['isolation_s']} s",
        "",
        text,
        "",
    ]
    g_res = res["servers"].get("glmops", {})
    s = g_res.get("soak")
    if s:
        w = s["wrk"]
        lines += [
            f"glmops, {res['durations']['soak_s']} s at 32 connections (single row): "
            f"{w['req_s']:,.0f} req/s, p50 {w['p50_ms']:.2f} ms, p99 {w['p99_ms']:.2f} ms, "
            f"{w['non_2xx']} non-2xx, socket errors {w['socket_errors']}; RSS "
            f"{s['rss_start_mib']:.1f} MiB at start, {s['rss_end_mib']:.1f} MiB at the end "
            f"({s['rss_growth_pct']:+.1f}%, max {s['rss_max_mib']:.1f}); prediction_log "
            f"gained {s['log_rows']:,} rows for {s['answered_server']:,} answered predictions "
            f"(the server's 200 count; wrk counted {s['answered_wrk']:,}, "
            f"{s['wrk_in_flight_at_stop']} requests were in flight when it stopped), "
            f"{s['log_dropped_delta']} dropped, {s.get('log_refused_delta', 0)} refused (503, "
            f"not answered); the log drained "
            f"{s['drain_after']['drain_s']:.1f} s after the run.",
            "",
        ]
    life = g_res.get("lifetime")
    if life:
        mt = life["metrics"]
        by_reason = ", ".join(f"{k}: {int(v):,}" for k, v in mt["dropped_by_reason"].items())
        lines += [
            f"glmops over its whole run: {int(mt['rows']):,} rows predicted, "
            f"{int(mt['written']):,} written to the prediction log, {int(mt['dropped']):,} "
            f"dropped ({by_reason or 'none'}), {int(mt.get('log_refused', 0)):,} in requests "
            f"refused with 503 (log policy block: not answered); "
            f"the log's files hold {life['log_rows_total']:,} rows.",
            "",
        ]
    checks = []
    for peer, r in res["servers"].items():
        a = r.get("answers")
        if a:
            checks.append(
                f"{peer} {a['max_abs_diff_vs_own_model']:.1e}"
                + (f" (vs glmops {r['vs_glmops']:.1e})" if "vs_glmops" in r else "")
            )
    if checks:
        lines += [
            "Answers checked before timing (single row and the 1,000-row body, max abs "
            "difference to the model's in-process prediction): " + "; ".join(checks) + ".",
            "",
        ]
    iso_notes = []
    for peer, r in res["servers"].items():
        iso = r.get("isolation")
        if iso:
            note = f"{peer}: " + "; ".join(f"{k} {_codes(v)}" for k, v in iso["bad"].items())
            if iso["good"]["failed"]:
                note += f" (good requests failed: {_codes(iso['good']['errors'])})"
            iso_notes.append(note)
    if iso_notes:
        lines += [
            "Bad-request check (per kind of bad row, status x count): "
            + " | ".join(iso_notes)
            + ".",
            "",
        ]
    peer_notes = []
    bento = res["servers"].get("bentoml", {}).get("isolation")
    if bento and bento["good"]["failed"]:
        peer_notes.append(
            'BentoML: a null passes the `DType("float64")` validator as NaN; the adaptive '
            "batcher puts it in one batch with the good row sent at the same time, "
            "scikit-learn raises `Input X contains NaN` and every request of that batch gets "
            "a 500 (server log), so a bad request fails good ones"
        )
    pw0 = res["servers"].get("mlserver-pw0", {}).get("isolation")
    if pw0 and any(k.startswith("error:") for v in pw0["bad"].values() for k in v):
        peer_notes.append(
            "MLServer with parallel_workers 0: a bad row raises out of the ASGI app "
            "(uvicorn: `Exception in ASGI application`), which answers 500 and closes the "
            "connection; with the default worker process the same rows get a 500 on a "
            "connection that stays open"
        )
    mlf = res["servers"].get("mlflow", {}).get("isolation")
    if mlf and "200" in mlf["bad"].get("extra_column", {}):
        peer_notes.append(
            "MLflow answers a row with a column its signature does not name with 200 "
            "(the column is dropped)"
        )
    if peer_notes:
        lines += ["Peers' answers to bad rows: " + "; ".join(peer_notes) + ".", ""]
    lines += ["Targets (glmops):", ""]
    lines += [_target_line(t) for t in res.get("targets", [])]
    if res.get("note"):
        lines += ["", f"Note: {res['note']}"]
    lines += ["", f"<!-- /section:{SECTION} -->", ""]
    return "\n".join(lines)


def update_results_md(text: str) -> None:
    """Replace the serving section of RESULTS.md (or append it at the end)."""
    start_tag, end_tag = f"<!-- section:{SECTION} -->", f"<!-- /section:{SECTION} -->"
    old = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# glmops benchmark results\n"
    if start_tag in old:
        start = old.index(start_tag)
        end = old.find(end_tag, start)
        tail = old[end + len(end_tag) :] if end >= 0 else ""
        new = old[:start].rstrip() + "\n\n" + text.strip() + "\n" + tail.lstrip("\n")
        if tail.strip():
            new = old[:start].rstrip() + "\n\n" + text.strip() + "\n\n" + tail.lstrip("\n")
    else:
        new = old.rstrip() + "\n\n" + text.strip() + "\n"
    RESULTS_MD.write_text(new)


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], capture_output=True, text=True, cwd=ROOT, check=False
            ).stdout.strip()
        except OSError:
            return ""

    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "threads": THREADS,
        "git": git("rev-parse", "HEAD"),
        "src_uncommitted": git("status", "--porcelain", "src").splitlines(),
        "wrk": subprocess.run(
            ["wrk", "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[:1],
    }


# -- main ----------------------------------------------------------------------------------


def _on_signal(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    global BENTO_API_ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    p.add_argument("--only", default=",".join(PEERS), help="comma-separated subset of servers")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON output (default: bench/results/serving.json; none for --quick)",
    )
    p.add_argument("--write", action="store_true", help="update RESULTS.md even with --quick")
    p.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    p.add_argument(
        "--bentoml-batching",
        choices=["on", "off"],
        default="on",
        help="BentoML adaptive batching (default on: batchable=True, max_batch_size 4000)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--note", default="", help="a line added to the RESULTS.md section")
    p.add_argument("--worker", choices=["prep"], help=argparse.SUPPRESS)
    p.add_argument("--peer", help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--alpha", type=float, help=argparse.SUPPRESS)
    p.add_argument("--l1-ratio", type=float, help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.worker == "prep":
        print(json.dumps(worker_prep(args.peer, args.data, args.dir, args.alpha, args.l1_ratio)))
        return

    if args.bentoml_batching == "off":
        BENTO_API_ARGS = ""
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in PEERS]
    if unknown:
        p.error(f"unknown server(s) {unknown}; choose from {', '.join(PEERS)}")
    if (os.cpu_count() or 1) < 2:
        p.error("needs 2 cores: servers on core 0, the load generator on core 1")
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        p.error("needs wrk and taskset on PATH")
    missing = [s for s in only if s in VENVS and not (VENVS[s] / "bin" / "python").exists()]
    if missing:
        p.error(f"no venv for {missing}: run `bash bench/setup_peers.sh` first")
    dur = QUICK if args.quick else FULL
    out_path = args.out or (None if args.quick else BENCH / "results" / "serving.json")
    write_md = (args.write or not args.quick) and not args.no_write

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    os.sched_setaffinity(0, {CLIENT_CPU})
    t_start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    py = sys.executable
    res: dict[str, Any] = {
        "command": " ".join(
            [
                Path(py).relative_to(ROOT).as_posix() if py.startswith(str(ROOT)) else py,
                "bench/serving.py",
                *sys.argv[1:],
            ]
        ),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "loadavg_start": os.getloadavg(),
        "durations": dur,
        "quick": args.quick,
        "servers_requested": only,
        "settings": {
            "bentoml_api": f"@bentoml.api({BENTO_API_ARGS})",
            "mlserver": "MLServer's defaults (parallel_workers 1: one inference worker process)",
            "mlserver-pw0": "parallel_workers 0: inference in the HTTP server's process",
        },
        "note": args.note,
        "versions": {"glmops": _versions(PEER_PACKAGES["glmops"])},
        "servers": {},
    }
    # glmops's own modules byte-compiled first, as installing a wheel does: start-up must
    # not include compiling them (an editable install under PYTHONDONTWRITEBYTECODE would)
    import compileall

    compileall.compile_dir(str(ROOT / "src" / "glmops"), quiet=1)
    work = Path(tempfile.mkdtemp(prefix="glmops-serving-bench-"))
    res["tmp"] = str(work)
    ctx: dict[str, Any] = {"servers": [], "db": work / "registry.db", "log": log_dir(work)}
    try:
        log(f"data ({N_ROWS:,} x {N_FEATURES}) and the glmops model in {work}")
        data = make_data(work)
        res["data"] = {"zero_betas": data["zero_betas"], "seed": SEED}
        gm = train_glmops(work, data)
        res["glmops_model"] = {k: v for k, v in gm.items() if k not in ("probe", "db")}
        log(
            f"glmops: alpha {gm['alpha']:.4g}, l1_ratio {gm['l1_ratio']:g}, trained in "
            f"{gm['train_s']:.1f} s, registered as {gm['champion']}"
        )
        rows = data["X"][:BATCH_ROWS].tolist()
        expected = {"glmops": gm["probe"], "glmops-log-off": gm["probe"]}
        prep: dict[str, dict] = {}
        for peer in only:
            if peer in GLMOPS:
                continue
            if peer == LIMIT:
                expected[peer] = prep_limit(work, gm["linear"], data["X"][:BATCH_ROWS])
                res["versions"][LIMIT] = _versions(PEER_PACKAGES[LIMIT])
                continue
            log(f"{peer}: fitting and saving the scikit-learn pipeline in {VENVS[peer]}")
            try:
                prep[peer] = prep_peer(peer, work, gm["alpha"], gm["l1_ratio"])
            except Exception as exc:
                res["servers"][peer] = {
                    "error": f"prep: {exc}",
                    "loadavg_start": os.getloadavg(),
                    "loadavg_end": os.getloadavg(),
                }
                log(f"{peer}: prep FAILED: {exc}")
                continue
            expected[peer] = prep[peer]["probe"]
            res["versions"][BASE.get(peer, peer)] = prep[peer]["versions"]
        res["peer_models"] = {
            k: {kk: vv for kk, vv in v.items() if kk != "probe"} for k, v in prep.items()
        }
        for peer in only:
            if peer in res["servers"]:
                continue
            spec = Spec(peer, rows)
            r = bench_server(peer, work, spec, expected[peer], dur, ctx, log)
            if peer not in GLMOPS:
                r["vs_glmops"] = max(
                    abs(a - b) for a, b in zip(expected[peer], gm["probe"], strict=True)
                )
            res["servers"][peer] = r
    except KeyboardInterrupt as exc:
        res["interrupted"] = str(exc)
        log(f"interrupted: {exc}")
    finally:
        for server in list(ctx["servers"]):
            server.stop()
        res["loadavg_end"] = os.getloadavg()
        res["elapsed_s"] = time.perf_counter() - t_start
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    if out_path:  # the figures first, whatever the rendering below does
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(res, indent=1, default=str) + "\n")
    res["targets"] = evaluate_targets(res)
    text = table(res)
    res["table_md"] = text
    print(text)
    print()
    for t in res["targets"]:
        print(_target_line(t))
    print(
        f"\nload average (1 min) start / end: {res['loadavg_start'][0]:.2f} / "
        f"{res['loadavg_end'][0]:.2f}"
    )
    if out_path:
        out_path.write_text(json.dumps(res, indent=1, default=str) + "\n")
        log(f"wrote {out_path}")
    if write_md and "interrupted" not in res:
        update_results_md(section(res, text))
        log(f"updated the {SECTION} section of {RESULTS_MD.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
