"""One measurement in a fresh process: ``python -m bench._worker SPEC.json``.

``bench.run`` starts this with the thread variables pinned. Order inside:
import the peer's library (import time is not measured), load X and y from
the cache, compute the alpha grid, record the RSS, then:

- JIT peers (numba: skglm, glmops) first make one call on a small leading
  block of the same problem (same kind, dtype, memory layout and n/p aspect,
  about 20,000 stored entries, 10 alphas). Its time is reported as
  "compile" (``first_call_s``): numba compilation plus a negligible solve.
  Warming up on the full problem instead would double the cost of every slow
  rung of the tolerance ladder.
- The peak-RSS mark is reset (``/proc/self/clear_refs``), then ``repeat``
  timed calls of the solve alone run; "extra RSS" is the peak during them
  minus the RSS just before them (after loading the data and, for JIT peers,
  after the compile call, whose code stays resident).

The objective is evaluated afterwards, by :mod:`bench.problems`, in float64.

The output JSON is rewritten after every call, so a measurement killed at its
timeout still reports what it finished.
"""

from __future__ import annotations

import gc
import importlib
import json
import math
import os
import resource
import sys
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from bench.peers import PEERS
from bench.problems import PROBLEMS, alpha_grid, alpha_max, load, objective, path_objectives


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def current_rss_mb() -> float:
    kb = _status_kb("VmRSS")
    if kb is None:  # not Linux: fall back on psutil
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    return kb / 1024


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS, if allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mb(peak_was_reset: bool) -> float:
    kb = _status_kb("VmHWM") if peak_was_reset else None
    if kb is None:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb / 1024


class _Out:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"status": "started", "times_s": []}

    def write(self, **fields: Any) -> None:
        self.data.update(fields)
        tmp = self.path.with_name(self.path.name + ".part.tmp")
        tmp.write_text(json.dumps(self.data))
        os.replace(tmp, self.path)


def small_slice(X: Any, y: Any, target: int = 20_000) -> tuple[Any, Any]:
    """Return the leading block of (X, y) with about ``target`` stored entries.

    Same kind (dense F-ordered or CSC with int32 indices), dtype and n/p aspect
    as the full problem, so numba compiles the same specializations and the
    peer picks the same shape-dependent code path where it has one.
    """
    n, p = X.shape
    stored = X.nnz if sp.issparse(X) else n * p
    f = min(1.0, math.sqrt(target / max(stored, 1)))
    k_n = min(n, max(60, round(n * f)))
    k_p = min(p, max(10, round(p * f)))
    if sp.issparse(X):
        Xs = sp.csc_matrix(X[:k_n, :k_p])
        Xs.indices = Xs.indices.astype(np.int32, copy=False)
        Xs.indptr = Xs.indptr.astype(np.int32, copy=False)
    else:
        Xs = np.asfortranarray(X[:k_n, :k_p])
    return Xs, np.ascontiguousarray(y[:k_n])


def _floor(out: _Out, X: Any, y: Any, repeat: int) -> None:
    """Time one X'X and one X'y (after one untimed warm-up of each)."""
    results = {}
    for name, op in (("xtx", lambda: X.T @ X), ("xty", lambda: X.T @ y)):
        op()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            op()
            times.append(time.perf_counter() - t)
        results[name] = times
    out.write(status="ok", floor_times_s=results)


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    out = _Out(Path(spec["out"]))
    t_start = time.perf_counter()
    problem = PROBLEMS[spec["problem"]]
    peer = spec["peer"]
    out.write(pid=os.getpid())

    if peer == "numpy":
        X, y = load(problem.dataset, spec["scale"])
        _floor(out, X, y, spec["repeat"])
        return
    try:
        mod = importlib.import_module(PEERS[peer].module)
    except Exception as exc:  # a missing or broken library: skip the peer
        out.write(status="import_error", error=f"{type(exc).__name__}: {exc}")
        return

    X, y = load(problem.dataset, spec["scale"])
    tol = spec["tol"]
    eps = spec.get("eps") or problem.eps
    family = problem.family
    logistic = family != "gaussian"

    def grid(X: Any, y: Any, n_alphas: int) -> Any:
        """The alphas the peer is given (None: a Gaussian CV builds its own)."""
        if problem.task == "single":
            return np.array([alpha_max(X, y, problem.l1_ratio, family) / problem.alpha_divisor])
        if problem.task == "path" or (problem.task == "cv" and logistic):
            return alpha_grid(
                X, y, l1_ratio=problem.grid_l1_ratio, eps=eps, n_alphas=n_alphas, family=family
            )
        if problem.task == "cv":
            return None
        raise ValueError(f"unknown task {problem.task!r}")

    alphas = grid(X, y, problem.n_alphas)

    def call(X: Any, y: Any, alphas: Any, n_alphas: int = problem.n_alphas) -> Any:
        if problem.task == "path":
            return mod.fit_path(X, y, alphas=alphas, l1_ratio=problem.l1_ratio, tol=tol)
        if problem.task == "single":
            return mod.fit_single(X, y, alpha=alphas[0], l1_ratio=problem.l1_ratio, tol=tol)
        from sklearn.model_selection import KFold

        if logistic:
            return mod.fit_cv(
                X,
                y,
                l1_ratios=problem.l1_ratios,
                alphas=alphas,
                cv=KFold(problem.n_folds),
                tol=tol,
            )
        return mod.fit_cv(
            X,
            y,
            l1_ratios=problem.l1_ratios,
            n_alphas=n_alphas,
            eps=eps,
            cv=KFold(problem.n_folds),
            tol=tol,
        )

    def warmup() -> tuple[float, str]:
        """Compile: one call on a small slice of the same problem (see module doc)."""
        Xs, ys = small_slice(X, y)
        a = grid(Xs, ys, 10)
        t = time.perf_counter()
        call(Xs, ys, a, n_alphas=10)
        return time.perf_counter() - t, f"{Xs.shape[0]}x{Xs.shape[1]}"

    gc.collect()
    rss_base = current_rss_mb()
    out.write(status="running", rss_after_data_mb=rss_base, load_s=time.perf_counter() - t_start)
    res = None
    budget = float(spec["budget_s"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if spec["jit"]:
                try:
                    first, shape = warmup()
                except Exception as exc:  # degenerate slice: warm up on the problem
                    out.write(warmup_error=f"{type(exc).__name__}: {exc}")
                    t = time.perf_counter()
                    call(X, y, alphas)
                    first, shape = time.perf_counter() - t, "full"
                gc.collect()
                rss_base = current_rss_mb()  # compiled code stays resident: not "extra"
                out.write(
                    first_call_s=first,
                    warmup_shape=shape,
                    first_call_peak_mb=peak_rss_mb(False),
                    rss_after_compile_mb=rss_base,
                )
            was_reset = reset_peak()
            times: list[float] = []
            t_loop = time.perf_counter()
            for _ in range(spec["repeat"]):
                res = None
                t = time.perf_counter()
                res = call(X, y, alphas)
                dt = time.perf_counter() - t
                times.append(dt)
                out.write(times_s=times)
                if time.perf_counter() - t_loop + dt > budget:
                    break
            peak = peak_rss_mb(was_reset)
        except Exception as exc:
            out.write(
                status="error",
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc()[-3000:],
            )
            return
    counts = Counter(type(w.message).__name__ for w in caught)
    out.write(
        peak_rss_mb=peak,
        extra_rss_mb=peak - rss_base,
        peak_reset=was_reset,
        warnings=dict(counts),
        first_warning=str(caught[0].message)[:300] if caught else None,
    )

    # --- evaluation, outside the timed region --------------------------------
    l1 = problem.l1_ratio
    if problem.task in ("path", "single"):
        obj = path_objectives(X, y, res.coefs, res.intercepts, alphas, l1, family=family)
        coefs = np.asarray(res.coefs)
        out.write(
            status="ok",
            alphas=alphas.tolist(),
            objectives=obj.tolist(),
            n_nonzero=(np.abs(coefs.reshape(-1, coefs.shape[-1])) > 0).sum(axis=0).tolist(),
        )
    else:
        out.write(
            status="ok",
            chosen_alpha=res.alpha,
            chosen_l1_ratio=res.l1_ratio,
            objective=objective(
                X, y, np.asarray(res.coef), res.intercept, res.alpha, res.l1_ratio, family
            ),
            n_nonzero=int((np.abs(res.coef) > 0).sum()),
            cv_alphas=np.asarray(res.alphas).tolist(),
            mse_mean=None if res.mse_mean is None else np.asarray(res.mse_mean).tolist(),
        )


if __name__ == "__main__":
    main(sys.argv[1])
