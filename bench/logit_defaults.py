"""Time glmops and glum at their DEFAULT tolerances on the logistic problems.

``bench.run`` compares peers at equal precision by walking tolerance ladders;
this answers the drop-in question instead: what does each library give, and
how fast, when no tolerance is set? Both run in this process, interleaved
(one call of each per round, after one untimed warm-up call each), on the
same data and alphas as ``bench.run``; each result's objective is compared
with the best objective reached by any call or by a tight glmops reference
(``tol=1e-12``, untimed). Run from the repository root with one thread and
one core::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \\
        PYTHONPATH=src:. taskset -c 0 .venv/bin/python -m bench.logit_defaults \\
        logit_single logit_path --repeat 5

Wall time (``perf_counter``) and CPU time (``process_time``) are both
reported: on a shared machine wall time also counts the time other work
held the core.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np
from glum import GeneralizedLinearRegressor

import glmops
from bench import problems
from bench.peers import PathFit

Fit = Callable[[], PathFit]


def _alphas(prob: problems.Problem, X: problems.Matrix, y: np.ndarray) -> np.ndarray:
    amax = problems.alpha_max(X, y, prob.grid_l1_ratio, family=prob.family)
    if prob.task == "single":
        return np.array([amax / prob.alpha_divisor])
    return np.geomspace(amax, amax * prob.eps, num=prob.n_alphas)


def _glmops(X: problems.Matrix, y: np.ndarray, alphas: np.ndarray, l1_ratio: float, **kw) -> Fit:
    def fit() -> PathFit:
        if alphas.shape[0] == 1:
            m = glmops.LogisticRegression(float(alphas[0]), l1_ratio=l1_ratio, **kw).fit(X, y)
            return PathFit(np.asarray(m.coef_).T, np.asarray(m.intercept_))
        _, coefs, intercepts, _ = glmops.logistic_path(X, y, l1_ratio=l1_ratio, alphas=alphas, **kw)
        return PathFit(coefs[0], intercepts[0])

    return fit


def _glum(X: problems.Matrix, y: np.ndarray, alphas: np.ndarray, l1_ratio: float) -> Fit:
    # the mapping of bench/peers/glum_logit.py, with glum's default gradient_tol
    common = {"family": "binomial", "fit_intercept": True, "scale_predictors": False}

    def fit() -> PathFit:
        if alphas.shape[0] == 1:
            m = GeneralizedLinearRegressor(
                alpha=float(alphas[0]), l1_ratio=l1_ratio, solver="irls-cd", **common
            ).fit(X, y)
            return PathFit(np.asarray(m.coef_)[:, None], np.array([m.intercept_]))
        m = GeneralizedLinearRegressor(
            alpha=alphas, alpha_search=True, l1_ratio=l1_ratio, solver="irls-cd", **common
        ).fit(X, y)
        return PathFit(np.asarray(m.coef_path_).T, np.asarray(m.intercept_path_))

    return fit


def _objectives(
    prob: problems.Problem, X: problems.Matrix, y: np.ndarray, alphas: np.ndarray, fit: PathFit
) -> np.ndarray:
    return problems.path_objectives(
        X, y, fit.coefs, fit.intercepts, alphas, prob.l1_ratio, family=prob.family
    )


def run(name: str, repeat: int) -> None:
    prob = problems.PROBLEMS[name]
    if prob.family != "binomial":
        raise SystemExit(f"{name}: glum has no multinomial family")
    X, y = problems.load(prob.dataset, 1.0)
    alphas = _alphas(prob, X, y)
    fits = {
        "glum (gradient_tol default)": _glum(X, y, alphas, prob.l1_ratio),
        "glmops (tol default)": _glmops(X, y, alphas, prob.l1_ratio),
    }
    wall: dict[str, list[float]] = {k: [] for k in fits}
    cpu: dict[str, list[float]] = {k: [] for k in fits}
    values: dict[str, np.ndarray] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence/separation notes are not timed events
        reference = _glmops(X, y, alphas, prob.l1_ratio, tol=1e-12, max_iter=1000)()
        best = _objectives(prob, X, y, alphas, reference)
        for round_ in range(repeat + 1):
            for label, fit in fits.items():
                t0, c0 = time.perf_counter(), time.process_time()
                result = fit()
                t1, c1 = time.perf_counter(), time.process_time()
                if round_:  # round 0 loads caches (numba, BLAS)
                    wall[label].append(t1 - t0)
                    cpu[label].append(c1 - c0)
                values[label] = _objectives(prob, X, y, alphas, result)
                best = np.minimum(best, values[label])
    print(f"{name}: {alphas.shape[0]} alpha(s), {repeat} timed calls each, same process")
    print("| solver | wall median s | wall min s | cpu median s | cpu min s | rel. obj. gap |")
    print("|---|---:|---:|---:|---:|---:|")
    for label in fits:
        gap = float(np.max(problems.relative_gaps(values[label], best)))
        print(
            f"| {label} | {np.median(wall[label]):.3f} | {min(wall[label]):.3f} | "
            f"{np.median(cpu[label]):.3f} | {min(cpu[label]):.3f} | {gap:.1e} |"
        )
    g, o = "glum (gradient_tol default)", "glmops (tol default)"
    print(
        f"glum / glmops: wall median {np.median(wall[g]) / np.median(wall[o]):.2f}x, "
        f"cpu median {np.median(cpu[g]) / np.median(cpu[o]):.2f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("problems", nargs="+", help="binary logistic problems, e.g. logit_single")
    ap.add_argument("--repeat", type=int, default=5, help="timed calls of each solver")
    args = ap.parse_args()
    for name in args.problems:
        run(name, args.repeat)


if __name__ == "__main__":
    main()
