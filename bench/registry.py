"""The model registry's latency: glmops.registry against MLflow's model registry.

Issue targets (glmops): register a version from an existing artifact <= 50 ms
median; resolve an alias and load the model in a warm process <= 5 ms; in a
fresh Python process, import included, <= 1 s. MLflow's figures sit beside
them: the same operations on a scikit-learn Pipeline of the same data.

    glmops (this venv)                       MLflow (bench/.venv-mlflow)
    Registry("sqlite:///r.db", store)        tracking/registry sqlite:///mlflow.db,
                                             local artifact root (file://)
    artifact: `glmops init` + `glmops        Pipeline(ColumnTransformer(median impute
      train` on data/credit_data.csv           + StandardScaler | most-frequent impute
      (checksummed directory, 408 KB with      + OneHotEncoder), LogisticRegression)
      its report.html)                         fitted on the same CSV
    register(name, artifact_dir)             register_model(model_uri) of an already
                                             logged model ("from an existing artifact")
    register(name, fresh artifact)           start_run + sklearn.log_model(...,
                                             registered_model_name=) + end_run (how
                                             users register: serialize, infer pip
                                             requirements, log, register)
    promote(name, v)                         set_registered_model_alias(name, alias, v)
    resolve("credit@champion")               get_model_version_by_alias
    load("credit@champion") (verified,       pyfunc.load_model("models:/credit@champion")
      cached by digest in the process)         (no cache: copies and deserializes)
    predict_proba(dict record)               pyfunc predict(1-row DataFrame built
                                             beforehand; predict_fn="predict_proba")

MLflow 3.x defaults sklearn models to skops outside Databricks; this pipeline
then fails to log unless ``skops_trusted_types=["numpy.dtype"]`` is passed
(done here). A cloudpickle-format model is measured too (load only).

Every glmops figure comes from worker subprocesses (``--worker``) so first
loads and imports are honest; MLflow runs in its own virtual environment as a
subprocess of this script (the same file, run by ``--mlflow-python``) and
returns JSON on stdout, so one run produces both columns. BLAS/numba threads
are pinned to 1 for every process. Fresh-process figures are wall times of
``subprocess.run`` (perf_counter around it), after one untimed warm-up run
(numba's cache and the OS file cache warm), median and min of ``--fresh``.

    .venv/bin/python bench/registry.py --repeat 50 --out bench/results/registry.json

This file imports only the standard library at top level: the MLflow venv
runs it too.
"""

from __future__ import annotations

import argparse
import ast
import csv
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "credit_data.csv"
TARGET = "Status"
POSITIVE = "bad"
THREADS = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
QUIET_MLFLOW = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "GIT_PYTHON_REFRESH": "quiet",
    "PYTHONWARNINGS": "ignore",
}
GLMOPS_PACKAGES = (
    "glmops",
    "sqlalchemy",
    "alembic",
    "numpy",
    "pyarrow",
    "numba",
    "scipy",
    "scikit-learn",
    "pandas",
    "pydantic",
)
MLFLOW_PACKAGES = (
    "mlflow",
    "scikit-learn",
    "skops",
    "cloudpickle",
    "sqlalchemy",
    "alembic",
    "numpy",
    "pandas",
    "scipy",
)


# -- helpers shared by every process --------------------------------------------------------


def _stats(times: list[float]) -> dict:
    """Return median/min/p90/max in ms and n of times given in seconds."""
    ms = sorted(t * 1e3 for t in times)
    return {
        "median_ms": statistics.median(ms),
        "min_ms": ms[0],
        "p90_ms": ms[min(len(ms) - 1, int(0.9 * len(ms)))],
        "max_ms": ms[-1],
        "n": len(ms),
    }


def _timed(fn, n: int, budget_s: float = float("inf")) -> tuple[list[float], object]:
    """Call fn() n times (stopping early once budget_s is spent); return times and last result."""
    times, out, start = [], None, time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return times, out


def _record() -> dict:
    """The first CSV row without the target, as JSON-like Python values (int, float, str, None)."""
    with open(DATA, newline="") as fh:
        row = next(csv.DictReader(fh))
    out: dict = {}
    for key, text in row.items():
        if key == TARGET:
            continue
        if text == "":
            out[key] = None
            continue
        for kind in (int, float):
            try:
                out[key] = kind(text)
                break
            except ValueError:
                pass
        else:
            out[key] = text
    return out


def _versions(names) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


# -- glmops workers (run by .venv/bin/python) ----------------------------------------------


def worker_glmops_write(tmp: Path, artifact: Path, repeat: int) -> dict:
    """Registry creation, registrations (same and fresh artifacts), promotions."""
    t0 = time.perf_counter()
    from glmops.registry import Registry

    t_import = time.perf_counter() - t0
    import glmops.artifact  # noqa: F401  (imported lazily by register(): not timed)
    from glmops.model import load_model

    url = f"sqlite:///{tmp / 'r.db'}"
    t0 = time.perf_counter()
    reg = Registry(url, tmp / "store", actor="bench")
    t_init = time.perf_counter() - t0

    t0 = time.perf_counter()
    first = reg.register("credit", artifact)
    t_first = time.perf_counter() - t0
    same, info = _timed(lambda: reg.register("credit", artifact), repeat)
    assert info.digest == first.digest, "same artifact, same digest"

    # fresh artifacts: the same model with another description -> another digest; the
    # report, model card and run.json go along, so each is the size of a trained artifact
    base = load_model(artifact)
    extra = {
        p.name: p.read_bytes()
        for p in sorted(artifact.iterdir())
        if p.name not in ("model.json", "arrays.npz", "MANIFEST.json")
    }
    variants, saves = [], []
    for i in range(repeat):
        base.metadata["description"] = f"bench variant {i}"
        target = tmp / "variants" / f"v{i:03d}"
        t0 = time.perf_counter()
        base.save(target, extra_files=extra)
        saves.append(time.perf_counter() - t0)
        variants.append(target)
    sizes = [sum(p.stat().st_size for p in v.iterdir()) for v in variants[:1]]
    fresh, digests = [], set()
    for target in variants:
        t0 = time.perf_counter()
        info = reg.register("credit", target)
        fresh.append(time.perf_counter() - t0)
        digests.add(info.digest)
    assert len(digests) == repeat, "every variant is a new digest"

    # promote: alternate between two versions so every call moves the alias
    versions = [first.version, info.version]
    promote = []
    for i in range(repeat):
        t0 = time.perf_counter()
        reg.promote("credit", versions[i % 2])
        promote.append(time.perf_counter() - t0)
    reg.promote("credit", first.version)
    uncached_ref = info.ref  # the last fresh variant: not loaded by anyone yet
    reg.close()
    return {
        "import_registry_in_process_ms": t_import * 1e3,
        "registry_init_new_db_ms": t_init * 1e3,
        "register_first_new_digest_ms": t_first * 1e3,
        "register_same_artifact": _stats(same),
        "register_fresh_artifact": _stats(fresh),
        "save_fresh_artifact": _stats(saves),
        "save_plus_register": _stats([a + b for a, b in zip(saves, fresh, strict=True)]),
        "promote": _stats(promote),
        "artifact_bytes": sum(p.stat().st_size for p in artifact.iterdir()),
        "variant_bytes": sizes[0],
        "versions_registered": info.version,
        "digest": first.digest,
        "uncached_ref": uncached_ref,
    }


def worker_glmops_read(tmp: Path, calls: int, uncached_ref: str) -> dict:
    """A fresh process: import, open, first load, then warm resolve/load/predict."""
    t0 = time.perf_counter()
    from glmops.registry import Registry

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    reg = Registry(f"sqlite:///{tmp / 'r.db'}", tmp / "store", actor="bench")
    t_init = time.perf_counter() - t0
    record = _record()
    t0 = time.perf_counter()
    model = reg.load("credit@champion")
    t_first_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    proba = model.predict_proba(record)
    t_first_predict = time.perf_counter() - t0

    resolve, _ = _timed(lambda: reg.resolve("credit@champion"), calls)
    load, again = _timed(lambda: reg.load("credit@champion"), calls)
    assert again is model, "warm load comes from the in-process cache"
    predict, _ = _timed(lambda: model.predict_proba(record), calls)
    both, _ = _timed(lambda: reg.load("credit@champion").predict_proba(record), calls)
    t0 = time.perf_counter()
    other = reg.load(uncached_ref)
    t_uncached = time.perf_counter() - t0
    import numpy as np

    assert np.allclose(other.predict_proba(record), proba)
    import glmops

    return {
        "import_registry_in_process_ms": t_import * 1e3,
        "registry_init_existing_db_ms": t_init * 1e3,
        "first_load_in_process_ms": t_first_load * 1e3,
        "first_predict_ms": t_first_predict * 1e3,
        "uncached_load_modules_imported_ms": t_uncached * 1e3,
        "resolve": _stats(resolve),
        "load_warm": _stats(load),
        "predict_proba_record": _stats(predict),
        "load_and_predict_warm": _stats(both),
        "proba": np.asarray(proba).ravel().tolist(),
        "model_type": f"{type(model).__module__}.{type(model).__name__}",
        "glmops_file": glmops.__file__,
    }


GLMOPS_FRESH = """\
import time; t0 = time.perf_counter()
from glmops.registry import Registry
t1 = time.perf_counter()
r = Registry({url!r}, {root!r}, actor="bench")
t2 = time.perf_counter()
m = r.load("credit@champion")
t3 = time.perf_counter()
p = m.predict_proba({record!r})
t4 = time.perf_counter(); done = time.time()
print({{"import": t1 - t0, "init": t2 - t1, "load": t3 - t2, "predict": t4 - t3, "done": done}})
"""


# -- MLflow worker (run by the MLflow venv's python) -----------------------------------------


def _mlflow_pipeline():
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    df = pd.read_csv(DATA)
    y = (df.pop(TARGET) == POSITIVE).astype(int)
    num = [c for c in df if df[c].dtype.kind in "if"]
    cat = [c for c in df if c not in num]
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                cat,
            ),
        ]
    )
    pipe = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=1000))]).fit(df, y)
    return pipe, df


def worker_mlflow(tmp: Path, repeat: int, calls: int, log_repeat: int, budget_s: float) -> dict:
    """Every MLflow operation in one process; returns JSON-ready figures."""
    t0 = time.perf_counter()
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient

    t_import = time.perf_counter() - t0
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    pipe, df = _mlflow_pipeline()
    from mlflow.models import infer_signature

    signature = infer_signature(df, pipe.predict_proba(df))
    row = df.iloc[[0]]  # the same record as glmops's, a 1-row frame built beforehand

    url = f"sqlite:///{tmp / 'mlflow.db'}"
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    t0 = time.perf_counter()
    exp = mlflow.create_experiment("bench", artifact_location=(tmp / "mlartifacts").as_uri())
    mlflow.set_experiment(experiment_id=exp)
    t_init = time.perf_counter() - t0
    client = MlflowClient()

    def log(name: str, fmt: str | None):
        kwargs = {"skops_trusted_types": ["numpy.dtype"]} if fmt in (None, "skops") else {}
        with mlflow.start_run():
            return mlflow.sklearn.log_model(
                pipe,
                name="model",
                registered_model_name=name,
                signature=signature,
                pyfunc_predict_fn="predict_proba",
                serialization_format=fmt,
                **kwargs,
            )

    t0 = time.perf_counter()
    first = log("credit", None)  # MLflow's default format
    t_first_log = time.perf_counter() - t0
    logged, _ = _timed(lambda: log("credit", None), log_repeat)
    registered, mv = _timed(lambda: mlflow.register_model(first.model_uri, "credit"), repeat)
    versions = [int(first.registered_model_version), int(mv.version)]
    alias = []
    for i in range(repeat):
        t0 = time.perf_counter()
        client.set_registered_model_alias("credit", "champion", versions[i % 2])
        alias.append(time.perf_counter() - t0)
    client.set_registered_model_alias("credit", "champion", versions[0])

    model_dir = Path(mlflow.artifacts.download_artifacts(first.model_uri, dst_path=str(tmp / "dl")))
    mlmodel = (model_dir / "MLmodel").read_text()
    sk_conf = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in mlmodel.splitlines()
            if ln.strip().startswith("serialization_format:")
        ),
        None,
    )
    art_bytes = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())

    resolve, _ = _timed(lambda: client.get_model_version_by_alias("credit", "champion"), calls)
    t0 = time.perf_counter()
    model = mlflow.pyfunc.load_model("models:/credit@champion")
    t_first_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    proba = model.predict(row)
    t_first_predict = time.perf_counter() - t0
    load, _ = _timed(lambda: mlflow.pyfunc.load_model("models:/credit@champion"), calls, budget_s)
    predict, _ = _timed(lambda: model.predict(row), calls, budget_s)
    both, _ = _timed(
        lambda: mlflow.pyfunc.load_model("models:/credit@champion").predict(row), calls, budget_s
    )

    # cloudpickle (MLflow's default before 3.x and on Databricks): load only
    t0 = time.perf_counter()
    pk = log("credit_cloudpickle", "cloudpickle")
    t_pickle_log = time.perf_counter() - t0
    client.set_registered_model_alias("credit_cloudpickle", "champion", pk.registered_model_version)
    t0 = time.perf_counter()
    pmodel = mlflow.pyfunc.load_model("models:/credit_cloudpickle@champion")
    t_pickle_first = time.perf_counter() - t0
    pload, _ = _timed(
        lambda: mlflow.pyfunc.load_model("models:/credit_cloudpickle@champion"), calls, budget_s
    )
    import numpy as np

    assert np.allclose(pmodel.predict(row), proba)
    import mlflow.sklearn as msk

    return {
        "import_mlflow_in_process_ms": t_import * 1e3,
        "create_experiment_new_db_ms": t_init * 1e3,
        "log_model_first_ms": t_first_log * 1e3,
        "log_model_register": _stats(logged),
        "register_model_existing": _stats(registered),
        "set_alias": _stats(alias),
        "resolve": _stats(resolve),
        "first_load_in_process_ms": t_first_load * 1e3,
        "first_predict_ms": t_first_predict * 1e3,
        "load_warm": _stats(load),
        "predict_record": _stats(predict),
        "load_and_predict_warm": _stats(both),
        "cloudpickle_log_model_ms": t_pickle_log * 1e3,
        "cloudpickle_first_load_modules_imported_ms": t_pickle_first * 1e3,
        "cloudpickle_load_warm": _stats(pload),
        "serialization_format_default": sk_conf,
        "supported_serialization_formats": list(msk.SUPPORTED_SERIALIZATION_FORMATS),
        "model_files": sorted(p.name for p in model_dir.rglob("*") if p.is_file()),
        "artifact_bytes": art_bytes,
        "versions_registered": int(mv.version),
        "proba": np.asarray(proba).ravel().tolist(),
        "versions": _versions(MLFLOW_PACKAGES),
        "python": platform.python_version(),
    }


MLFLOW_FRESH = """\
import time; t0 = time.perf_counter()
import mlflow, pandas as pd
t1 = time.perf_counter()
mlflow.set_tracking_uri({url!r}); mlflow.set_registry_uri({url!r})
m = mlflow.pyfunc.load_model("models:/{name}@champion")
t2 = time.perf_counter()
row = pd.DataFrame([{record!r}])
t3 = time.perf_counter()
p = m.predict(row)
t4 = time.perf_counter(); done = time.time()
print({{"import": t1 - t0, "load": t2 - t1, "frame": t3 - t2, "predict": t4 - t3, "done": done}})
"""


# -- the driver ------------------------------------------------------------------------------


def _env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLMOPS_", "MLFLOW_"))}
    env.update(THREADS)
    env.update(extra or {})
    return env


def _run_json(cmd: list[str], *, env: dict, cwd: Path, timeout: float = 1800) -> dict:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _wall(cmd: list[str], *, runs: int, env: dict, cwd: Path) -> dict:
    """Median/min wall time of a command (one untimed warm-up), plus its last stdout."""
    subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, check=True)
    times, phases, to_result = [], [], []
    for _ in range(runs):
        epoch = time.time()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd} failed:\n{proc.stderr[-4000:]}")
        out = proc.stdout.strip().splitlines()
        if out and out[-1].startswith("{"):
            phase = {k: float(v) for k, v in ast.literal_eval(out[-1]).items()}
            to_result.append(phase.pop("done") - epoch)  # wall clock: spawn -> prediction
            phases.append(phase)
    result = _stats(times)
    if phases:
        result["phases_median_ms"] = {
            k: statistics.median(p[k] for p in phases) * 1e3 for k in phases[0]
        }
        # the same runs up to the prediction, without the interpreter's exit
        result["to_prediction"] = _stats(to_result)
    return result


def _importtime(python: str, code: str, *, runs: int, env: dict, cwd: Path) -> dict:
    """Parse ``-X importtime``: per module median self/cumulative us over runs; top entries."""
    per: dict[str, list[tuple[int, int, int]]] = {}
    order: list[str] = []
    for _ in range(runs):
        proc = subprocess.run(
            [python, "-X", "importtime", "-c", code],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        )
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, cum_us, name = line[len("import time:") :].split("|", 2)
            name = name[1:]  # one separator space, then two spaces per nesting level
            depth = (len(name) - len(name.lstrip())) // 2
            key = name.strip()
            if key not in per:
                order.append(key)
                per[key] = []
            per[key].append((int(self_us), int(cum_us), depth))
    rows = []
    for key in order:
        vals = per[key]
        rows.append(
            {
                "module": key,
                "self_ms": statistics.median(v[0] for v in vals) / 1e3,
                "cumulative_ms": statistics.median(v[1] for v in vals) / 1e3,
                "depth": vals[0][2],
            }
        )
    # each entry's importer (importtime lists children before their parent, one level deeper)
    stack: list[tuple[int, str]] = []
    for row in reversed(rows):
        while stack and stack[-1][0] >= row["depth"]:
            stack.pop()
        row["imported_by"] = stack[-1][1] if stack else ""
        stack.append((row["depth"], row["module"]))
    # third-party packages that a glmops module imports directly: what could be made lazy
    third = [
        r
        for r in rows
        if not r["module"].startswith("glmops") and r["imported_by"].startswith("glmops")
    ]
    # per top-level package, the sum over those direct imports (disjoint subtrees: a module
    # is listed once, under whoever imported it first)
    packages: dict[str, dict] = {}
    for r in third:
        top = r["module"].split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__":
            top = "(standard library)"
        entry = packages.setdefault(
            top, {"package": top, "cumulative_ms": 0.0, "modules": [], "imported_by": []}
        )
        entry["cumulative_ms"] += r["cumulative_ms"]
        entry["modules"].append(r["module"])
        if r["imported_by"] not in entry["imported_by"]:
            entry["imported_by"].append(r["imported_by"])
    own = [r for r in rows if r["module"].startswith("glmops")]
    total = max((r["cumulative_ms"] for r in rows if r["depth"] == 0), default=0.0)
    return {
        "code": code,
        "runs": runs,
        "total_top_level_ms": sum(r["cumulative_ms"] for r in rows if r["depth"] == 0),
        "largest_top_level_ms": total,
        "top_cumulative": sorted(rows, key=lambda r: -r["cumulative_ms"])[:25],
        "top_self": sorted(rows, key=lambda r: -r["self_ms"])[:15],
        "top_packages": sorted(packages.values(), key=lambda r: -r["cumulative_ms"])[:15],
        "glmops_modules": sorted(own, key=lambda r: -r["cumulative_ms"])[:20],
        "n_modules": len(rows),
    }


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], capture_output=True, text=True, cwd=ROOT
            ).stdout.strip()
        except OSError:
            return ""

    fs = subprocess.run(["df", "-T", tempfile.gettempdir()], capture_output=True, text=True)
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "threads": THREADS,
        "git": git("rev-parse", "HEAD"),
        "src_uncommitted": git("status", "--porcelain", "src").splitlines(),
        "tmp_filesystem": fs.stdout.strip().splitlines()[-1].split()[1] if fs.stdout else "?",
    }


def train_artifact(tmp: Path) -> Path:
    glmops_cli = str(Path(sys.executable).parent / "glmops")
    env = _env()
    for cmd in (
        [glmops_cli, "init", "--data", str(DATA), "--target", TARGET, "--name", "credit"],
        [glmops_cli, "train"],
    ):
        subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, check=True)
    return tmp / "artifacts" / "credit"


def _fmt(ms: float | None) -> str:
    if ms is None:
        return ""
    if ms < 1:
        return f"{ms:.3f}"
    if ms < 10:
        return f"{ms:.2f}"
    return f"{ms:,.1f}" if ms < 100 else f"{ms:,.0f}"


def table(res: dict) -> str:
    g, gr, gf = res["glmops"]["write"], res["glmops"]["read"], res["glmops"]["fresh"]
    m = res.get("mlflow") or {}
    mf = res.get("mlflow_fresh") or {}

    def st(d, key):
        v = d.get(key) if d else None
        return (v["median_ms"], v["min_ms"]) if isinstance(v, dict) else (v, None)

    def ratio(a, b):
        return f"{b / a:,.1f}x" if a and b else ""

    def target(med, limit):
        if limit is None or med is None:
            return ""
        return f"<= {limit:g}: **{'met' if med <= limit else 'missed'}**"

    rows = [
        (
            "register a version from an existing artifact (same artifact, same digest)",
            st(g, "register_same_artifact"),
            "register(name, dir)",
            st(m, "register_model_existing"),
            "register_model(model_uri)",
            50,
        ),
        (
            "register a new artifact already on disk (new digest: verify, copy, fsync)",
            st(g, "register_fresh_artifact"),
            "register(name, new dir)",
            (None, None),
            "",
            50,
        ),
        (
            "serialize a model and register it as a new version",
            st(g, "save_plus_register"),
            "model.save(dir) + register(name, dir)",
            st(m, "log_model_register"),
            "start_run + log_model(registered_model_name=) + end_run",
            None,
        ),
        (
            "move an alias",
            st(g, "promote"),
            "promote(name, v)",
            st(m, "set_alias"),
            "set_registered_model_alias",
            None,
        ),
        (
            "resolve an alias",
            st(gr, "resolve"),
            "resolve(ref)",
            st(m, "resolve"),
            "get_model_version_by_alias",
            None,
        ),
        (
            "warm: resolve alias + load",
            st(gr, "load_warm"),
            "load(ref) (digest cache)",
            st(m, "load_warm"),
            "pyfunc.load_model (no cache)",
            5,
        ),
        (
            "warm: resolve + load + predict 1 record",
            st(gr, "load_and_predict_warm"),
            "load(ref).predict_proba(dict)",
            st(m, "load_and_predict_warm"),
            "load_model(..).predict(1-row df)",
            None,
        ),
        (
            "warm: predict 1 record",
            st(gr, "predict_proba_record"),
            "predict_proba(dict)",
            st(m, "predict_record"),
            "predict(1-row df)",
            None,
        ),
        (
            "first load in the process (glmops: the imports it triggers; MLflow: after "
            "training, scikit-learn already imported)",
            (gr["first_load_in_process_ms"], None),
            "load(ref)",
            (m.get("first_load_in_process_ms"), None),
            "pyfunc.load_model",
            None,
        ),
        (
            "uncached load of another version, modules already imported",
            (gr["uncached_load_modules_imported_ms"], None),
            "load(other ref)",
            (m.get("cloudpickle_first_load_modules_imported_ms"), None),
            "pyfunc.load_model (cloudpickle model)",
            None,
        ),
        (
            "fresh process: spawn, import, open, load, predict 1 record (until the prediction)",
            st(gf.get("load_predict"), "to_prediction"),
            "python -c (see JSON)",
            st(mf.get("load_predict"), "to_prediction"),
            "python -c (import mlflow ...)",
            1000,
        ),
        (
            "the same, whole process (interpreter exit included)",
            st(gf, "load_predict"),
            "subprocess.run wall",
            st(mf, "load_predict"),
            "subprocess.run wall",
            1000,
        ),
        (
            "fresh process: import the package",
            st(gf, "import_glmops"),
            "python -c 'import glmops'",
            st(mf, "import_mlflow"),
            "python -c 'import mlflow'",
            None,
        ),
        (
            "fresh process: import the registry package",
            st(gf, "import_registry"),
            "python -c 'import glmops.registry'",
            (None, None),
            "",
            None,
        ),
        (
            "fresh process: import the Registry class",
            st(gf, "import_registry_class"),
            "python -c 'from glmops.registry import Registry'",
            (None, None),
            "",
            None,
        ),
        (
            "fresh process: interpreter alone",
            st(gf, "python_pass"),
            "python -c pass",
            st(mf, "python_pass"),
            "python -c pass",
            None,
        ),
    ]
    if mf.get("load_predict_cloudpickle"):
        rows.append(
            (
                "fresh process until the prediction, MLflow cloudpickle model",
                (None, None),
                "",
                st(mf.get("load_predict_cloudpickle"), "to_prediction"),
                "python -c (cloudpickle model)",
                None,
            )
        )
    if m.get("cloudpickle_load_warm"):
        rows.append(
            (
                "warm load, MLflow cloudpickle model",
                (None, None),
                "",
                st(m, "cloudpickle_load_warm"),
                "pyfunc.load_model",
                None,
            )
        )
    out = [
        "| operation | glmops call | glmops median ms | glmops min ms | MLflow call "
        "| MLflow median ms | MLflow min ms | MLflow ÷ glmops | glmops target (ms) |",
        "|---|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for what, (gmed, gmin), gcall, (mmed, mmin), mcall, limit in rows:
        out.append(
            f"| {what} | {gcall} | {_fmt(gmed)} | {_fmt(gmin)} | {mcall} | {_fmt(mmed)} "
            f"| {_fmt(mmin)} | {ratio(gmed, mmed)} | {target(gmed, limit)} |"
        )
    return "\n".join(out)


def import_table(imp: dict, n: int = 10) -> str:
    out = [
        "| package | cumulative ms | imported directly by (first importer) |",
        "|---|---:|---|",
    ]
    for r in imp["top_packages"][:n]:
        by = ", ".join(r["imported_by"][:3]) + (" ..." if len(r["imported_by"]) > 3 else "")
        out.append(f"| {r['package']} | {r['cumulative_ms']:,.0f} | {by} |")
    return "\n".join(out)


def own_table(imp: dict, n: int = 10) -> str:
    out = ["| glmops module | cumulative ms | self ms | imported by |", "|---|---:|---:|---|"]
    for r in imp["glmops_modules"][:n]:
        out.append(
            f"| {r['module']} | {r['cumulative_ms']:,.0f} | {r['self_ms']:,.1f} "
            f"| {r['imported_by'] or '(top level)'} |"
        )
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--repeat",
        type=int,
        default=50,
        help="registrations / alias moves per measurement (default 50)",
    )
    p.add_argument(
        "--calls", type=int, default=200, help="warm resolve/load/predict calls (default 200)"
    )
    p.add_argument("--fresh", type=int, default=7, help="fresh-process runs (default 7)")
    p.add_argument("--importtime-runs", type=int, default=3)
    p.add_argument(
        "--mlflow-log-repeat",
        type=int,
        default=10,
        help="MLflow log_model registrations (each ~5 s; default 10)",
    )
    p.add_argument(
        "--mlflow-budget",
        type=float,
        default=30.0,
        help="seconds per MLflow warm-load loop before it stops early",
    )
    p.add_argument("--out", type=Path, default=None, help="write the JSON here")
    p.add_argument(
        "--mlflow-python", default=str(ROOT / "bench" / ".venv-mlflow" / "bin" / "python")
    )
    p.add_argument("--no-mlflow", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--note", default="")
    p.add_argument(
        "--worker", choices=["glmops-write", "glmops-read", "mlflow"], help=argparse.SUPPRESS
    )
    p.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--artifact", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--ref", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.worker == "glmops-write":
        print(json.dumps(worker_glmops_write(args.tmp, args.artifact, args.repeat)))
        return
    if args.worker == "glmops-read":
        print(json.dumps(worker_glmops_read(args.tmp, args.calls, args.ref)))
        return
    if args.worker == "mlflow":
        print(
            json.dumps(
                worker_mlflow(
                    args.tmp, args.repeat, args.calls, args.mlflow_log_repeat, args.mlflow_budget
                )
            )
        )
        return

    started = dt.datetime.now(dt.UTC)
    load_start = os.getloadavg()
    py = sys.executable
    me = str(Path(__file__).resolve())
    tmp = Path(tempfile.mkdtemp(prefix="glmops-registry-bench-"))
    log = lambda msg: print(f"[{time.perf_counter() - t_start:6.1f}s] {msg}", file=sys.stderr)  # noqa: E731
    t_start = time.perf_counter()
    res: dict = {
        "command": " ".join(
            [
                Path(py).relative_to(ROOT).as_posix() if py.startswith(str(ROOT)) else py,
                "bench/registry.py",
                *sys.argv[1:],
            ]
        ),
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "versions_glmops_side": _versions(GLMOPS_PACKAGES),
        "loadavg_start": load_start,
        "tmp": str(tmp),
        "args": {
            k: str(v)
            for k, v in vars(args).items()
            if k not in ("worker", "tmp", "artifact", "ref")
        },
        "note": args.note,
    }
    try:
        gtmp = tmp / "glmops"
        gtmp.mkdir()
        log("training the glmops artifact (glmops init + train)")
        artifact = train_artifact(gtmp)
        env = _env()
        log("glmops: registrations")
        write = _run_json(
            [
                py,
                me,
                "--worker",
                "glmops-write",
                "--tmp",
                str(gtmp),
                "--artifact",
                str(artifact),
                "--repeat",
                str(args.repeat),
            ],
            env=env,
            cwd=gtmp,
        )
        res["loadavg_sections"] = {"glmops_write": os.getloadavg()}
        log("glmops: warm process")
        read = _run_json(
            [
                py,
                me,
                "--worker",
                "glmops-read",
                "--tmp",
                str(gtmp),
                "--calls",
                str(args.calls),
                "--ref",
                write["uncached_ref"],
            ],
            env=env,
            cwd=gtmp,
        )
        res["loadavg_sections"]["glmops_read"] = os.getloadavg()
        log("glmops: fresh processes")
        url, root = f"sqlite:///{gtmp / 'r.db'}", str(gtmp / "store")
        code = GLMOPS_FRESH.format(url=url, root=root, record=_record())
        fresh = {
            "code": code,
            "load_predict": _wall([py, "-c", code], runs=args.fresh, env=env, cwd=gtmp),
            "import_glmops": _wall([py, "-c", "import glmops"], runs=args.fresh, env=env, cwd=gtmp),
            "import_registry": _wall(
                [py, "-c", "import glmops.registry"], runs=args.fresh, env=env, cwd=gtmp
            ),
            "import_registry_class": _wall(
                [py, "-c", "from glmops.registry import Registry"],
                runs=args.fresh,
                env=env,
                cwd=gtmp,
            ),
            "python_pass": _wall([py, "-c", "pass"], runs=args.fresh, env=env, cwd=gtmp),
        }
        res["loadavg_sections"]["glmops_fresh"] = os.getloadavg()
        log("glmops: -X importtime")
        imports = {
            "import glmops": _importtime(
                py, "import glmops", runs=args.importtime_runs, env=env, cwd=gtmp
            ),
            "from glmops.registry import Registry": _importtime(
                py,
                "from glmops.registry import Registry",
                runs=args.importtime_runs,
                env=env,
                cwd=gtmp,
            ),
            "fresh load + predict": _importtime(
                py, code, runs=args.importtime_runs, env=env, cwd=gtmp
            ),
        }
        res["glmops"] = {"write": write, "read": read, "fresh": fresh, "importtime": imports}

        if not args.no_mlflow:
            mtmp = tmp / "mlflow"
            mtmp.mkdir()
            menv = _env(QUIET_MLFLOW)
            mpy = args.mlflow_python
            log(f"MLflow ({mpy}): registrations and warm process")
            res["mlflow"] = _run_json(
                [
                    mpy,
                    me,
                    "--worker",
                    "mlflow",
                    "--tmp",
                    str(mtmp),
                    "--repeat",
                    str(args.repeat),
                    "--calls",
                    str(args.calls),
                    "--mlflow-log-repeat",
                    str(args.mlflow_log_repeat),
                    "--mlflow-budget",
                    str(args.mlflow_budget),
                ],
                env=menv,
                cwd=mtmp,
            )
            res["loadavg_sections"]["mlflow_worker"] = os.getloadavg()
            log("MLflow: fresh processes")
            murl = f"sqlite:///{mtmp / 'mlflow.db'}"
            mfresh = {}
            for key, name in (
                ("load_predict", "credit"),
                ("load_predict_cloudpickle", "credit_cloudpickle"),
            ):
                mcode = MLFLOW_FRESH.format(url=murl, name=name, record=_record())
                mfresh[key] = _wall([mpy, "-c", mcode], runs=args.fresh, env=menv, cwd=mtmp)
                mfresh[key]["code"] = mcode
            mfresh["import_mlflow"] = _wall(
                [mpy, "-c", "import mlflow"], runs=args.fresh, env=menv, cwd=mtmp
            )
            mfresh["python_pass"] = _wall([mpy, "-c", "pass"], runs=args.fresh, env=menv, cwd=mtmp)
            res["mlflow_fresh"] = mfresh
            res["loadavg_sections"]["mlflow_fresh"] = os.getloadavg()
    finally:
        res["loadavg_end"] = os.getloadavg()
        res["elapsed_s"] = time.perf_counter() - t_start
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    text = table(res)
    print(text)
    print()
    for key in ("from glmops.registry import Registry", "fresh load + predict"):
        imp = res["glmops"]["importtime"][key]
        print(
            f"Top imports, `{key}` (-X importtime, median of {imp['runs']} runs; "
            f"{imp['n_modules']} modules, {imp['largest_top_level_ms']:,.0f} ms):\n"
        )
        print(import_table(imp))
        print()
        print(own_table(imp))
        print()
    print(f"load average (1 min) start / end: {load_start[0]:.2f} / {res['loadavg_end'][0]:.2f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        res["table_md"] = text
        args.out.write_text(json.dumps(res, indent=1, default=str) + "\n")
        log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
