"""Batch scoring throughput: ``glmops score`` on 1M rows x 30 numeric features.

Issue target: >= 1M rows/s for 30 numeric features on this machine, from a
file to a file, with the manifest check on. The reference beside it is
what users write by hand: pandas reads the file, a scikit-learn Pipeline
(StandardScaler + ElasticNet, fitted on the same rows) predicts, pandas
writes the predictions. Both read the same Parquet file and the same CSV
file and write Parquet; both are timed in fresh processes, BLAS pinned to
one thread, min and median of ``--repeat`` runs after one warm-up.

    .venv/bin/python bench/scoring.py --rows 1000000 --repeat 5 --out bench/results/scoring.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N_FEATURES = 30
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def make_data(workdir: Path, n_rows: int) -> dict[str, Path]:
    """Write the training table and the 1M-row input (Parquet and CSV)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    beta = rng.normal(size=N_FEATURES) * (rng.random(N_FEATURES) < 0.7)
    names = [f"x{i}" for i in range(N_FEATURES)]

    def table(n: int, with_y: bool) -> pa.Table:
        X = rng.normal(size=(n, N_FEATURES)).round(4)
        cols = {name: X[:, j] for j, name in enumerate(names)}
        if with_y:
            cols["y"] = X @ beta + rng.normal(size=n)
        return pa.table(cols)

    paths = {
        "train": workdir / "train.parquet",
        "parquet": workdir / "input.parquet",
        "csv": workdir / "input.csv",
    }
    pq.write_table(table(20_000, True), paths["train"])
    big = table(n_rows, False)
    pq.write_table(big, paths["parquet"])
    pacsv.write_csv(big, paths["csv"])
    return paths


def train(workdir: Path, paths: dict[str, Path]) -> dict[str, str]:
    """Fit glmops (artifact) and the scikit-learn pipeline (joblib) on the same rows."""
    import joblib
    import pyarrow.parquet as pq
    from sklearn.linear_model import ElasticNet
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from glmops.config import parse_config
    from glmops.training.pipeline import train_model

    spec = parse_config(
        {
            "models": {
                "wide": {
                    "data": {"path": str(paths["train"])},
                    "target": "y",
                    "task": "regression",
                    "cv": {"n_folds": 3, "n_alphas": 20, "l1_ratio": [0.5]},
                }
            }
        }
    ).models["wide"]
    result = train_model("wide", spec, base_dir=workdir, output_dir=workdir / "out")
    assert result.artifact_path is not None
    params = result.model.metadata["hyperparameters"]
    table = pq.read_table(paths["train"]).to_pandas()
    pipe = make_pipeline(
        StandardScaler(), ElasticNet(alpha=params["alpha"], l1_ratio=params["l1_ratio"])
    )
    pipe.fit(table.drop(columns="y"), table["y"])
    joblib.dump(pipe, workdir / "sklearn.joblib")
    return {"glmops": str(result.artifact_path), "sklearn": str(workdir / "sklearn.joblib")}


def _glmops_cmd(artifact: str, source: Path, out: Path) -> list[str]:
    return [
        str(ROOT / ".venv" / "bin" / "glmops"),
        "score",
        "-m",
        artifact,
        "-i",
        str(source),
        "-o",
        str(out),
        "--json",
    ]


_SKLEARN = """
import sys, joblib, pandas as pd
model = joblib.load(sys.argv[1])
src, out = sys.argv[2], sys.argv[3]
frame = pd.read_parquet(src) if src.endswith(".parquet") else pd.read_csv(src)
pd.DataFrame({"prediction": model.predict(frame)}).to_parquet(out)
"""


def time_runs(cmd: list[str], repeat: int) -> tuple[list[float], list[str]]:
    """Wall times of the whole process (import, read, validate, score, write), stdouts."""
    subprocess.run(cmd, check=True, env=ENV, capture_output=True)  # warm-up
    times, outputs = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(cmd, check=True, env=ENV, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        outputs.append(done.stdout)
    return times, outputs


def main() -> int:
    """Run the benchmark and print/write its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    results: dict[str, object] = {"rows": args.rows, "features": N_FEATURES}
    with tempfile.TemporaryDirectory(prefix="glmops-bench-score-") as tmp:
        workdir = Path(tmp)
        paths = make_data(workdir, args.rows)
        models = train(workdir, paths)
        results["bytes"] = {k: paths[k].stat().st_size for k in ("parquet", "csv")}
        for fmt in ("parquet", "csv"):
            source = paths[fmt]
            runs = {
                "glmops": _glmops_cmd(models["glmops"], source, workdir / "g.parquet"),
                "sklearn": [
                    sys.executable,
                    "-c",
                    _SKLEARN,
                    models["sklearn"],
                    str(source),
                    str(workdir / "s.parquet"),
                ],
            }
            for name, cmd in runs.items():
                times, outputs = time_runs(cmd, args.repeat)
                best, median = min(times), statistics.median(times)
                entry: dict[str, object] = {
                    "process_min_s": round(best, 3),
                    "process_median_s": round(median, 3),
                    "process_rows_per_s_best": round(args.rows / best),
                }
                line = (
                    f"{name:8s} {fmt:8s} whole process: min {best:6.2f} s, median "
                    f"{median:6.2f} s, {args.rows / best:11,.0f} rows/s"
                )
                if name == "glmops":  # score_file's own figure: read + check + score + write
                    inner = [json.loads(o)["rows_per_s"] for o in outputs]
                    entry["score_rows_per_s_best"] = max(inner)
                    entry["score_rows_per_s_median"] = round(statistics.median(inner))
                    line += f"; in score_file {max(inner):11,.0f} rows/s (best)"
                results[f"{name}_{fmt}"] = entry
                print(line, flush=True)
    results["load"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(json.dumps(results, indent=2))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
