"""glmops's train/serve pipeline against the equivalent scikit-learn Pipeline.

Both sides get the same seeded synthetic frame (25 numeric columns, 9 of them
with ~5% nulls, scales from 1e-2 to 1e4; 5 categorical columns with 3, 8, 20,
50 and 200 Zipf-distributed values, 0-4% nulls; a 0/1 target from a logistic
model over all of them) and build the same model:

    glmops                                   scikit-learn
    numeric: median impute + indicator       SimpleImputer(median, add_indicator=True)
             -> standardize (indicator too)  -> StandardScaler (indicator too)
    categorical: one-hot, count < 5 ->       OneHotEncoder(min_frequency=5,
             one __rare__ column; unseen     handle_unknown="infrequent_if_exist");
             -> rare; null = a category      null (NaN) is a category
    binary logistic elastic net (CV)         LogisticRegression(saga, l1_ratio=1,
                                             C = 1/(alpha_glmops * n_train))

glmops's ``train_model`` holds out 20% of the frame it is given (stratified,
seeded); scikit-learn is fitted on exactly the rows glmops fitted on (the split
is reproduced), so the preprocessing statistics are identical and the design
matrices can be compared column by column. A second scikit-learn pipeline with
glmops's coefficients copied in checks that both predict the same numbers.
Training time is not compared; the prediction path and the artifact are:

1. one record, in process: glmops ``predict_proba(dict)`` (JSON-like, None for
   nulls) vs scikit-learn ``predict_proba`` of the same dict as a 1-row frame
   cast to the training dtypes (also timed with the frame built beforehand);
2. a batch: both from one pandas frame; glmops also from an Arrow table;
3. the artifact: glmops's checksummed directory (``save`` / ``load_model``,
   which verifies every SHA-256) vs pickle, joblib and skops.

Each figure is the min and median over ``--repeat`` timed calls (batches after
one untimed warm-up call); one process, BLAS pinned to one thread.

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        PYTHONPATH=. .venv/bin/python bench/pipeline.py --rows-batch 1000000 --repeat 5
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import pickle
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

NUM = [f"x{i:02d}" for i in range(25)]
CAT = {"c_3": 3, "c_8": 8, "c_20": 20, "c_50": 50, "c_200": 200}  # name -> cardinality
CAT_NULLS = {"c_3": 0.0, "c_8": 0.02, "c_20": 0.03, "c_50": 0.04, "c_200": 0.02}
SEED = 0  # glmops config seed: the holdout split below reproduces it


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """Return n rows: features plus a 0/1 target 'y' from a fixed logistic model."""
    fixed = np.random.default_rng(12345)  # the model itself: the same for every call
    scale = 10.0 ** fixed.uniform(-2, 4, len(NUM))
    mean = fixed.normal(0, 3, len(NUM)) * scale
    beta = fixed.normal(0, 0.6, len(NUM))
    effects = {c: fixed.normal(0, 0.8, k) for c, k in CAT.items()}
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    z = rng.standard_normal((n, len(NUM)))
    eta = z @ beta - 0.4
    for j, name in enumerate(NUM):
        x = mean[j] + scale[j] * z[:, j]
        if j % 3 == 0:  # 9 columns with ~5% nulls
            x[rng.random(n) < 0.05] = np.nan
        cols[name] = x
    for c, k in CAT.items():
        p = 1.0 / np.arange(1, k + 1) ** 1.1  # Zipf: the tail of c_200 is rare
        code = rng.choice(k, size=n, p=p / p.sum())
        eta += effects[c][code]
        values = np.array([f"{c[2:]}v{i}" for i in range(k)], dtype=object)[code]
        values[rng.random(n) < CAT_NULLS[c]] = None
        cols[c] = values
    cols["y"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int64)
    return pd.DataFrame(cols)  # pandas 3: string columns become str dtype, nulls NaN


def records_of(df: pd.DataFrame) -> list[dict]:
    """Return JSON-like records (None for nulls), what a scoring server receives."""
    out = df[NUM + list(CAT)].astype(object).where(df[NUM + list(CAT)].notna(), None)
    return out.to_dict("records")


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def per_record(fn, records: list[dict], repeat: int) -> dict:
    """Call fn on each record; per repeat the mean seconds per record, plus p99 of all calls."""
    means, calls = [], []
    for _ in range(repeat):
        ts = []
        for r in records:
            t = time.perf_counter()
            fn(r)
            ts.append(time.perf_counter() - t)
        means.append(sum(ts) / len(ts))
        calls += ts
    return {"times": means, "p99": float(np.percentile(calls, 99)), "n": len(records)}


def train_glmops(train: pd.DataFrame):
    from glmops.config import ModelConfig
    from glmops.training.pipeline import train_model

    spec = ModelConfig(
        data={"path": "<in-memory>"},  # overridden by data= below
        target="y",
        task="binary",
        # explicit one-hot: the default switches to hashing above 200 categories
        features={**{c: {} for c in NUM}, **{c: {"encoding": "onehot"} for c in CAT}},
        cv={"n_folds": 2, "n_alphas": 3, "l1_ratio": [1.0]},
        seed=SEED,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = train_model(
            "bench", spec, base_dir=Path.cwd(), output_dir=None, write_report=False, data=train
        )
    return res.model


def sklearn_pipeline(C: float):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
            ("scale", StandardScaler()),
        ]
    )
    cat = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5, sparse_output=False)
    prep = ColumnTransformer([("num", num, NUM), ("cat", cat, list(CAT))])
    clf = LogisticRegression(l1_ratio=1.0, C=C, solver="saga", tol=1e-4, max_iter=300)
    return Pipeline([("prep", prep), ("clf", clf)])


def sklearn_column(glmops_name: str) -> str:
    """Map a glmops design column to scikit-learn's get_feature_names_out name."""
    if "=" in glmops_name:
        col, value = glmops_name.split("=", 1)
        value = {"__rare__": "infrequent_sklearn", "__missing__": "nan"}.get(value, value)
        return f"cat__{col}_{value}"
    if glmops_name.endswith("__missing"):
        return f"num__missingindicator_{glmops_name[: -len('__missing')]}"
    return f"num__{glmops_name}"


def dir_bytes(path: str) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


PACKAGES = ("glmops", "scikit-learn", "numpy", "pyarrow", "pandas", "skops", "joblib", "scipy")
THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "packages": {p: version(p) for p in PACKAGES},
        "threads": {k: os.environ.get(k) for k in THREADS},
        "git": _git("rev-parse", "HEAD"),
        "src_uncommitted": _git("status", "--porcelain", "src").splitlines(),
    }


def _git(*args: str) -> str:
    """Return read-only git output ('' outside a checkout)."""
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def stats(times: list[float], scale: float = 1.0) -> dict:
    times = [t * scale for t in times]
    return {"min": min(times), "median": statistics.median(times), "times": times}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fit_both(train: pd.DataFrame):
    """Train glmops; fit scikit-learn on the rows glmops fitted on, at glmops's alpha."""
    from sklearn.model_selection import train_test_split

    log("training glmops")
    model = train_glmops(train)
    # train_model holds out a stratified 20% (seed 0) and fits on the rest: the same rows here
    y_obj = np.asarray(train["y"].tolist(), dtype=object)
    rows, _ = train_test_split(
        np.arange(len(train)), test_size=0.2, random_state=SEED, stratify=y_obj
    )
    fit_df = train.iloc[np.sort(rows)]
    alpha = model.metadata["hyperparameters"]["alpha"]
    log(f"training sklearn (glmops alpha={alpha:.3g})")
    # glmops minimizes 1/n logloss + alpha |b|_1; sklearn sum logloss + 1/C |b|_1
    pipe = sklearn_pipeline(C=1.0 / (alpha * len(fit_df)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # saga may stop at max_iter; AUCs are compared below
        pipe.fit(fit_df[NUM + list(CAT)], fit_df["y"])
    # the same pipeline with glmops's coefficients: must predict glmops's numbers
    names_sk = list(pipe[:-1].get_feature_names_out())
    order = [names_sk.index(sklearn_column(n)) for n in model.feature_names_out]
    copied = copy.deepcopy(pipe)
    copied[-1].coef_ = np.zeros((1, len(names_sk)))
    copied[-1].coef_[0, order] = model.coef[0]
    copied[-1].intercept_ = model.intercept.copy()
    return model, pipe, copied, order


def checks_on(model, pipe, copied, order, hold, recs, one_row, n_sk) -> dict:
    """Equalities (design matrix, record vs batch, copied coefficients) and holdout AUCs."""
    from sklearn.metrics import roc_auc_score

    X = hold[NUM + list(CAT)]
    p_g = model.predict_proba(X)[:, 1]
    p_s = pipe.predict_proba(X)[:, 1]
    p_g1 = np.array([model.predict_proba(r)[0, 1] for r in recs])
    p_s1 = np.array([pipe.predict_proba(one_row(r))[0, 1] for r in recs[:n_sk]])
    p_s1_raw = np.array([pipe.predict_proba(pd.DataFrame([r]))[0, 1] for r in recs[:n_sk]])
    widths = [len(st.outputs) for st in model.preprocessor.steps]
    blocks = np.split(model.coef[0], np.cumsum(widths)[:-1])
    clf = pipe[-1]
    return {
        "design_cols": {"glmops": len(model.feature_names_out), "sklearn": clf.coef_.shape[1]},
        "nonzero_coef": int(np.count_nonzero(model.coef)),
        # glmops's batch path skips an input column whose whole coefficient block is zero
        "all_zero_coef_columns": [
            st.name for st, b in zip(model.preprocessor.steps, blocks, strict=True) if not b.any()
        ],
        "max_abs_diff_design_matrix": float(
            np.abs(pipe[:-1].transform(X)[:, order] - model.transform(X)).max()
        ),
        "max_abs_diff_glmops_record_vs_batch": float(np.abs(p_g1 - p_g[: len(p_g1)]).max()),
        "max_abs_diff_sklearn_record_vs_batch": float(np.abs(p_s1 - p_s[:n_sk]).max()),
        "max_abs_diff_sklearn_record_without_astype_vs_batch": float(
            np.abs(p_s1_raw - p_s[:n_sk]).max()
        ),
        "max_abs_diff_glmops_vs_sklearn_copied_coef": float(
            np.abs(copied.predict_proba(X)[:, 1] - p_g).max()
        ),
        "auc_holdout_glmops": float(roc_auc_score(hold["y"], p_g)),
        "auc_holdout_sklearn": float(roc_auc_score(hold["y"], p_s)),
        "alpha": model.metadata["hyperparameters"]["alpha"],
        "sklearn_C": clf.C,
        "sklearn_n_iter": int(clf.n_iter_[0]),
    }


def bench_single(model, pipe, recs, one_row, n_sk, repeat) -> list[dict]:
    """glmops: dict -> predict_proba. sklearn: dict -> 1-row DataFrame -> predict_proba."""
    log("single records")
    sk = recs[:n_sk]
    frames = [one_row(r) for r in sk]
    runs = [
        ("glmops predict_proba(dict)", per_record(model.predict_proba, recs, repeat)),
        (
            "sklearn predict_proba(pd.DataFrame([dict]).astype(dtypes))",
            per_record(lambda r: pipe.predict_proba(one_row(r)), sk, repeat),
        ),
        (
            "sklearn predict_proba(1-row frame built beforehand)",
            per_record(pipe.predict_proba, frames, repeat),
        ),
    ]
    rows = []
    for what, r in runs:
        row = {"measure": "single record", "what": what, "unit": "us/record"}
        rows.append({**row, **stats(r["times"], 1e6), "p99": r["p99"] * 1e6, "n": r["n"]})
    for row in rows[1:]:
        row["ratio"] = row["median"] / rows[0]["median"]
    return rows


def bench_batch(model, pipe, copied, n, repeat) -> tuple[list[dict], dict]:
    """Both from one pandas frame; glmops also from an Arrow table (conversion timed apart)."""
    log(f"batch frame {n} rows")
    big = make_frame(n, 3).drop(columns="y")
    table = pa.Table.from_pandas(big, preserve_index=False)
    runs = {
        "glmops predict_proba(pandas)": lambda: model.predict_proba(big),
        "glmops predict_proba(pyarrow Table)": lambda: model.predict_proba(table),
        "pa.Table.from_pandas (not in the row above)": lambda: pa.Table.from_pandas(
            big, preserve_index=False
        ),
        "sklearn predict_proba(pandas)": lambda: pipe.predict_proba(big),
    }
    rows = []
    for what, fn in runs.items():
        log(what)
        fn()  # warm-up: first-touch page faults, lazy imports
        s = stats(timed(fn, repeat))
        rows.append({"measure": f"batch {n:,} rows", "what": what, "unit": "s", **s,
                     "rows_per_s": n / s["median"]})  # fmt: skip
    rows[-1]["ratio"] = rows[-1]["median"] / rows[0]["median"]
    rows[-1]["ratio_vs_arrow"] = rows[-1]["median"] / rows[1]["median"]
    diff = np.abs(model.predict_proba(big)[:, 1] - copied.predict_proba(big)[:, 1]).max()
    return rows, {"max_abs_diff_batch_glmops_vs_sklearn_copied_coef": float(diff)}


def bench_artifacts(model, pipe, hold, repeat) -> tuple[list[dict], dict]:
    """glmops: checksummed directory, SHA-256 verified on load. sklearn: pickle/joblib/skops."""
    import joblib
    import skops.io as sio

    from glmops.model import load_model

    log("artifacts")
    tmp = tempfile.mkdtemp(prefix="bench_pipeline_")
    lean = copy.copy(model)
    lean.metadata = {}  # without the training report (profile, CV, stability, lineage)
    fresh = iter(range(10**6))  # save() refuses to overwrite: a new directory per call
    rows = []

    def measure(what, save, load, size):
        for op, fn in (("save", save), ("load", load)):
            s = stats(timed(fn, repeat), 1e3)
            rows.append({"measure": f"artifact {op}", "what": what, "unit": "ms", **s,
                         "bytes": size})  # fmt: skip

    for what, m in (
        ("glmops save / load_model (dir, SHA-256 verified)", model),
        ("glmops, metadata={} (no training report)", lean),
    ):
        path = os.path.join(tmp, f"first{next(fresh)}")
        m.save(path)
        measure(
            what,
            lambda m=m: m.save(os.path.join(tmp, f"m{next(fresh)}")),
            lambda p=path: load_model(p),
            dir_bytes(path),
        )
    blob = pickle.dumps(pipe, protocol=5)
    measure(
        "sklearn pickle.dumps / loads (in memory)",
        lambda: pickle.dumps(pipe, protocol=5),
        lambda: pickle.loads(blob),
        len(blob),
    )
    jl = os.path.join(tmp, "pipe.joblib")
    joblib.dump(pipe, jl)
    measure("sklearn joblib.dump / load (file)", lambda: joblib.dump(pipe, jl),
            lambda: joblib.load(jl), os.path.getsize(jl))  # fmt: skip
    sk = os.path.join(tmp, "pipe.skops")
    sio.dump(pipe, sk)
    trusted = sio.get_untrusted_types(file=sk)  # reviewed once, as a user would
    measure("sklearn skops.io.dump / load (file, trusted=)", lambda: sio.dump(pipe, sk),
            lambda: sio.load(sk, trusted=trusted), os.path.getsize(sk))  # fmt: skip
    X = hold[NUM + list(CAT)]
    checks = {
        "glmops_reloaded_identical": bool(np.array_equal(
            load_model(os.path.join(tmp, "first0")).predict_proba(X), model.predict_proba(X))),
        "skops_reloaded_identical": bool(np.array_equal(
            sio.load(sk, trusted=trusted).predict_proba(X), pipe.predict_proba(X))),
        "skops_trusted_types": len(trusted),
    }  # fmt: skip
    shutil.rmtree(tmp)
    return rows, checks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows-batch", type=int, default=1_000_000)
    ap.add_argument("--rows-train", type=int, default=50_000)
    ap.add_argument("--rows-holdout", type=int, default=20_000)
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--records-sklearn", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default="bench/results/pipeline.json")
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    result: dict = {
        "command": " ".join(sys.argv),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "args": vars(args),
        "machine": machine(),
        "loadavg_start": os.getloadavg(),
    }
    hold = make_frame(args.rows_holdout, 2)
    model, pipe, copied, order = fit_both(make_frame(args.rows_train, 1))
    recs = records_of(hold.iloc[: args.records])
    # sklearn gets the same JSON-like dict as a 1-row frame cast to the training dtypes:
    # without .astype a null category stays None in an object column, which OneHotEncoder
    # takes for an unknown value (-> infrequent), not its NaN missing category (see checks)
    dtypes = hold[NUM + list(CAT)].dtypes.to_dict()

    def one_row(r: dict) -> pd.DataFrame:
        return pd.DataFrame([r]).astype(dtypes)

    n_sk = min(args.records_sklearn, args.records)
    checks = checks_on(model, pipe, copied, order, hold, recs, one_row, n_sk)
    log(f"checks: {checks}")
    rows = bench_single(model, pipe, recs, one_row, n_sk, args.repeat)
    batch_rows, more = bench_batch(model, pipe, copied, args.rows_batch, args.repeat)
    rows += batch_rows
    checks.update(more)
    art_rows, more = bench_artifacts(model, pipe, hold, args.repeat)
    rows += art_rows
    checks.update(more)
    result.update(rows=rows, checks=checks, loadavg_end=os.getloadavg(), note=args.note)
    result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(markdown(result))


def markdown(result: dict) -> str:
    lines = [
        "| measure | what | unit | median | min | p99 / rows/s / bytes | sklearn ÷ glmops |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        if "p99" in r:
            extra = f"p99 {r['p99']:,.1f}"
        elif "rows_per_s" in r:
            extra = f"{r['rows_per_s']:,.0f} rows/s"
        else:
            extra = f"{r['bytes']:,} B"
        ratio = f"{r['ratio']:.1f}x" if "ratio" in r else ""
        if "ratio_vs_arrow" in r:
            ratio += f" ({r['ratio_vs_arrow']:.1f}x vs Arrow)"
        fmt = "{:.3g}" if r["unit"] == "s" else "{:,.1f}"
        lines.append(
            f"| {r['measure']} | {r['what']} | {r['unit']} | {fmt.format(r['median'])} | "
            f"{fmt.format(r['min'])} | {extra} | {ratio} |"
        )
    lines.append("")
    for k, v in result["checks"].items():
        lines.append(f"- {k}: {v:.3g}" if isinstance(v, float) else f"- {k}: {v}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
