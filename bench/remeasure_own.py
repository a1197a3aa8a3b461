"""Re-time glmops alone on a logistic problem after an engine change.

The peers' figures of the last full run stay valid; this times glmops on the
same data and grid (taken from ``bench/results/<problem>.json``) and reports
its relative objective gap against the best objective that run recorded.
Run from the repository root with one thread everywhere::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \\
        PYTHONPATH=. .venv/bin/python bench/remeasure_own.py logit_path 1e-6
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from bench import problems
from bench.peers import glmops_logit


def main(name: str, tol: float, repeat: int = 3) -> None:
    prob = problems.PROBLEMS[name]
    X, y = problems.load(prob.dataset, 1.0)
    with open(f"bench/results/{name}.json") as fh:
        stored = json.load(fh)
    alphas = np.asarray(stored["alphas"], dtype=float)
    best = np.asarray(stored["best"], dtype=float)
    times = []
    for r in range(repeat + 1):
        start = time.perf_counter()
        if prob.task == "single":
            fit = glmops_logit.fit_single(
                X, y, alpha=float(alphas[0]), l1_ratio=prob.l1_ratio, tol=tol
            )
        else:
            fit = glmops_logit.fit_path(X, y, alphas=alphas, l1_ratio=prob.l1_ratio, tol=tol)
        if r:  # the first call loads the numba cache
            times.append(time.perf_counter() - start)
    P = problems.path_objectives(
        X, y, fit.coefs, fit.intercepts, alphas, prob.l1_ratio, family=prob.family
    )
    gap = float(np.max(problems.relative_gaps(P, best)))
    print(
        f"{name}: glmops tol={tol}: median {np.median(times):.3f} s, "
        f"min {min(times):.3f} s, rel. obj. gap {gap:.1e}"
    )


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 3)
