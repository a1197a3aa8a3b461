"""Check every adapter's mapping onto the benchmark objective.

On tiny dense and sparse problems, each peer's path (at its tightest
tolerance) and single fit must reach scikit-learn's ElasticNet objective at
tol=1e-12 to 1e-9 relative, and each CV adapter must build scikit-learn's
alpha grid and choose the same (alpha, l1_ratio). Also checks that
:func:`bench.problems.alpha_grid` is scikit-learn's ``_alpha_grid``.

Run: ``.venv/bin/python -m bench.check_adapters [peer ...]``; exits 1 on a
failed check. A peer whose library does not import is reported and skipped.
"""

from __future__ import annotations

import importlib
import sys
import traceback
import warnings

import numpy as np
from sklearn.linear_model import ElasticNet, ElasticNetCV
from sklearn.linear_model._coordinate_descent import _alpha_grid
from sklearn.model_selection import KFold

from bench.peers import PEERS
from bench.problems import Matrix, alpha_grid, make_dense, make_sparse, path_objectives

RTOL = 1e-9


def _reference(X: Matrix, y: np.ndarray, alphas: np.ndarray, l1_ratio: float) -> np.ndarray:
    coefs, intercepts = [], []
    for alpha in alphas:
        m = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=1_000_000).fit(X, y)
        coefs.append(m.coef_)
        intercepts.append(m.intercept_)
    return path_objectives(X, y, np.array(coefs).T, np.array(intercepts), alphas, l1_ratio)


def _problems() -> list[tuple[str, Matrix, np.ndarray]]:
    Xd, yd = make_dense(120, 15, n_informative=5, rho=0.5, seed=11)
    Xs, ys = make_sparse(300, 40, density=0.1, n_informative=8, seed=12)
    return [("dense", Xd, yd), ("sparse", Xs, ys)]


def main(argv: list[str]) -> int:
    names = argv or list(PEERS)
    failures = 0
    rows: list[tuple[str, str, str, str]] = []
    l1_ratio = 0.5
    warnings.simplefilter("ignore")

    for kind, X, y in _problems():
        ours = alpha_grid(X, y, l1_ratio=l1_ratio, eps=1e-2, n_alphas=8)
        theirs = _alpha_grid(X, y, l1_ratio=l1_ratio, eps=1e-2, n_alphas=8)
        err = float(np.max(np.abs(ours / theirs - 1)))
        ok = err <= 1e-12
        failures += not ok
        rows.append(("problems.alpha_grid", kind, f"{err:.1e}", "ok" if ok else "FAIL"))

    for name in names:
        info = PEERS[name]
        try:
            mod = importlib.import_module(info.module)
        except Exception as exc:  # the peer's library is missing or broken
            rows.append((name, "import", "-", f"skipped: {type(exc).__name__}: {exc}"))
            continue
        tol = info.tols[-1]
        for kind, X, y in _problems():
            if (kind == "sparse" and not info.sparse) or (kind == "dense" and not info.dense):
                continue
            alphas = alpha_grid(X, y, l1_ratio=l1_ratio, eps=1e-2, n_alphas=8)
            ref = _reference(X, y, alphas, l1_ratio)
            try:
                fit = mod.fit_path(X, y, alphas=alphas, l1_ratio=l1_ratio, tol=tol)
                obj = path_objectives(X, y, fit.coefs, fit.intercepts, alphas, l1_ratio)
                err = float(np.max(np.abs(obj / ref - 1)))
                ok = err <= RTOL
                rows.append((name, f"{kind} path", f"{err:.1e}", "ok" if ok else "FAIL"))
                failures += not ok
                k = 4
                fit = mod.fit_single(X, y, alpha=alphas[k], l1_ratio=l1_ratio, tol=tol)
                obj1 = path_objectives(X, y, fit.coefs, fit.intercepts, alphas[k : k + 1], l1_ratio)
                err = float(abs(obj1[0] / ref[k] - 1))
                ok = err <= RTOL
                rows.append((name, f"{kind} single", f"{err:.1e}", "ok" if ok else "FAIL"))
                failures += not ok
            except Exception as exc:
                traceback.print_exc()
                rows.append((name, kind, "-", f"FAIL {type(exc).__name__}: {exc}"))
                failures += 1

        if info.cv and hasattr(mod, "fit_cv"):
            X, y = _problems()[0][1:]
            l1s = (0.1, 0.5, 1.0)
            cv = KFold(5)
            ref_cv = ElasticNetCV(
                l1_ratio=list(l1s), alphas=20, eps=1e-3, cv=cv, tol=1e-12, max_iter=1_000_000
            ).fit(X, y)
            try:
                got = mod.fit_cv(X, y, l1_ratios=l1s, n_alphas=20, eps=1e-3, cv=cv, tol=tol)
                grid_err = float(np.max(np.abs(got.alphas / ref_cv.alphas_ - 1)))
                same = got.l1_ratio == ref_cv.l1_ratio_ and np.isclose(
                    got.alpha, ref_cv.alpha_, rtol=1e-9, atol=0
                )
                mse_err = (
                    float(np.max(np.abs(got.mse_mean / ref_cv.mse_path_.mean(-1) - 1)))
                    if got.mse_mean is not None
                    else float("nan")
                )
                ok = grid_err <= 1e-12 and bool(same)
                rows.append(
                    (
                        name,
                        "dense cv",
                        f"grid {grid_err:.1e}, mse {mse_err:.1e}",
                        ("ok" if ok else "FAIL")
                        + f" (alpha {got.alpha:.4g} vs {ref_cv.alpha_:.4g},"
                        f" l1 {got.l1_ratio} vs {ref_cv.l1_ratio_})",
                    )
                )
                failures += not ok
            except Exception as exc:
                traceback.print_exc()
                rows.append((name, "dense cv", "-", f"FAIL {type(exc).__name__}: {exc}"))
                failures += 1

    width = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"{'check':<{width[0]}}  {'case':<{width[1]}}  {'max rel diff':<{width[2]}}  result")
    for r in rows:
        print(f"{r[0]:<{width[0]}}  {r[1]:<{width[1]}}  {r[2]:<{width[2]}}  {r[3]}")
    print(f"\n{failures} failure(s); objective checks need <= {RTOL:g} relative")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
