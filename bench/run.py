"""Run the benchmark: every (problem, peer, tolerance) in a fresh subprocess.

Usage (from the repository root)::

    .venv/bin/python -m bench.run [--problems tall_path,wide_path,...]
        [--peers sklearn_cd,glum,...] [--repeat 3] [--scale 1.0]
        [--timeout 600] [--eps 1e-3] [--note TEXT] [--write]

Equal precision: each peer walks its tolerance ladder from loose to tight;
the reference objective at each alpha is the lowest objective ANY run
reached there, and each peer is reported at the first tolerance whose
maximum relative gap over the path is <= 1e-6 (``problems.GAP_THRESHOLD``).
The problem's reference peer runs its whole ladder first so the best
objective is known early; every other ladder stops once a rung is 10x inside
the target (a tighter rung would only cost time). See bench/README.md.

``--defaults`` instead measures every peer once, at its library's default
tolerance (what a new user gets), and reports the precision reached there.

Writes bench/results/<problem>.json (raw numbers; ``<problem>@scale<s>.json``
when --scale != 1) and, with --write, replaces the problem's section of
bench/RESULTS.md, keeping the other sections.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench.peers import OWN, PEERS
from bench.problems import (
    GAP_THRESHOLD,
    PROBLEMS,
    Problem,
    alpha_grid,
    alpha_max,
    ensure_cached,
    load,
    nbytes,
)

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS_DIR = BENCH / "results"
RESULTS_MD = BENCH / "RESULTS.md"

THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
VERSION_DISTS = (
    "numpy",
    "scipy",
    "scikit-learn",
    "glum",
    "tabmat",
    "skglm",
    "celer",
    "numba",
    "glmops",
)
# A ladder stops once a rung is this far inside the target ...
_STOP_FACTOR = 0.1
# ... and the first peer's ladder once two consecutive rungs agree this well.
_AGREE = 1e-9
# Seconds a worker gets beyond --timeout to load data and evaluate objectives.
_SLACK_S = 120.0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------
# environment description
# ----------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    try:
        uname = subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip()
    except OSError:
        uname = " ".join(platform.uname())
    cpu = platform.processor() or "unknown"
    mem_gb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {
        "uname": uname,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_gb": mem_gb,
        "python": platform.python_version(),
    }


def versions() -> dict[str, str]:
    out = {}
    for dist in VERSION_DISTS:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def command_line(argv: list[str]) -> str:
    exe = Path(sys.executable)
    try:
        exe_s = str(exe.relative_to(ROOT))
    except ValueError:
        exe_s = str(exe)
    return f"{exe_s} -m bench.run {shlex.join(argv)}".rstrip()


# ----------------------------------------------------------------------------
# workers
# ----------------------------------------------------------------------------


def _worker_env(numba_cache_dir: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(THREAD_ENV)
    paths = [str(ROOT), str(ROOT / "src")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    if numba_cache_dir:
        env["NUMBA_CACHE_DIR"] = numba_cache_dir
    return env


def run_worker(spec: dict[str, Any], timeout_s: float, *, cold_jit: bool = False) -> dict[str, Any]:
    """Run one measurement in a fresh process; return its JSON (partial on timeout).

    ``cold_jit`` points numba's on-disk cache at an empty directory for this
    worker, so "compile" is a cold compilation rather than a cache load.
    """
    if cold_jit:
        with tempfile.TemporaryDirectory(prefix="bench-numba-") as cache_dir:
            return _run_worker(spec, timeout_s, cache_dir)
    return _run_worker(spec, timeout_s, None)


def _run_worker(
    spec: dict[str, Any], timeout_s: float, numba_cache_dir: str | None
) -> dict[str, Any]:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    tag = f"{spec['problem']}.{spec['peer']}.{spec.get('tol')}"
    with tempfile.NamedTemporaryFile(
        "w", dir=RESULTS_DIR, prefix=tag + ".", suffix=".spec.tmp", delete=False
    ) as fh:
        out = Path(fh.name[: -len(".spec.tmp")] + ".out.tmp")
        spec = {**spec, "out": str(out), "budget_s": timeout_s}
        json.dump(spec, fh)
        spec_path = Path(fh.name)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench._worker", str(spec_path)],
        cwd=ROOT,
        env=_worker_env(numba_cache_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    t0 = time.perf_counter()
    killed = False
    try:
        output, _ = proc.communicate(timeout=timeout_s + _SLACK_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the worker's own process group
        output, _ = proc.communicate()
        killed = True
    finally:
        if proc.poll() is None:  # interrupted: do not leave the worker running
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            for p in (spec_path, out):
                p.unlink(missing_ok=True)
    wall = time.perf_counter() - t0
    load_after = list(os.getloadavg())
    try:
        result: dict[str, Any] = json.loads(out.read_text())
    except (OSError, json.JSONDecodeError):
        result = {"status": "error", "times_s": []}
    for p in (spec_path, out):
        p.unlink(missing_ok=True)
    result["process_wall_s"] = wall
    result["returncode"] = proc.returncode
    # 1-, 5-, 15-min load averages as the worker ends (other load on the machine)
    result["loadavg_after"] = load_after
    times = result.get("times_s") or []
    if (
        killed
        or any(t > timeout_s for t in times)
        or (result.get("first_call_s") or 0.0) > timeout_s
    ):
        result["status"] = "timeout"
    elif result.get("status") not in ("ok", "import_error", "error"):
        result["status"] = "error"
        why = f"worker exited with code {proc.returncode}"
        if proc.returncode == -signal.SIGKILL:
            why += " (SIGKILL, not from the harness: as a rule the kernel's OOM killer)"
        result.setdefault("error", why)
    if result["status"] == "error":
        result["output_tail"] = (output or "")[-3000:]
    if times:
        result["median_s"] = float(np.median(times))
        result["min_s"] = float(np.min(times))
    return result


# ----------------------------------------------------------------------------
# ladders and equal precision
# ----------------------------------------------------------------------------


def _peer_order(problem: Problem, peers: list[str]) -> list[str]:
    if problem.reference in peers:
        return [problem.reference] + [p for p in peers if p != problem.reference]
    return peers


def _applicable(problem: Problem, peer: str) -> str | None:
    """Return why ``peer`` cannot run ``problem``, or None."""
    info = PEERS[peer]
    if problem.dataset.kind == "sparse" and not info.sparse:
        return "no sparse support"
    if problem.task == "cv" and not info.cv:
        return info.no_cv_reason
    if problem.family == "multinomial" and not info.multinomial:
        return info.no_multinomial_reason
    return None


def _path_gap(meas: dict[str, Any], best: np.ndarray | None) -> float:
    if best is None or "objectives" not in meas:
        return float("inf")
    obj = np.asarray(meas["objectives"])
    return float(np.max((obj - best) / best))


def _path_agree(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if "objectives" not in a or "objectives" not in b:
        return False
    pa, pb = np.asarray(a["objectives"]), np.asarray(b["objectives"])
    return bool(np.max(np.abs(pa - pb) / np.minimum(pa, pb)) <= _AGREE)


def _cv_agree(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if _cv_key(a) is None or _cv_key(a) != _cv_key(b):
        return False
    return abs(a["objective"] - b["objective"]) <= _AGREE * min(a["objective"], b["objective"])


def _cv_key(meas: dict[str, Any]) -> tuple[float, float] | None:
    if "chosen_alpha" not in meas:
        return None
    return (round(float(meas["chosen_l1_ratio"]), 12), float(f"{meas['chosen_alpha']:.9e}"))


class _CVBest:
    """Best refit objective per chosen (l1_ratio, alpha) point."""

    def __init__(self) -> None:
        self.best: dict[tuple[float, float], float] = {}
        self.reference_key: tuple[float, float] | None = None

    def add(self, meas: dict[str, Any]) -> None:
        key = _cv_key(meas)
        if key is not None:
            self.best[key] = min(self.best.get(key, np.inf), meas["objective"])

    def gap(self, meas: dict[str, Any]) -> float:
        key = _cv_key(meas)
        if key is None:
            return float("inf")
        return float((meas["objective"] - self.best[key]) / self.best[key])

    def passes(self, meas: dict[str, Any], threshold: float) -> bool:
        return _cv_key(meas) == self.reference_key and self.gap(meas) <= threshold


def _measure(problem: Problem, peer: str, tol: float, args: argparse.Namespace) -> dict[str, Any]:
    """Time ``peer`` on ``problem`` at ``tol`` in a fresh worker process."""
    info = PEERS[peer]
    spec = {
        "problem": problem.name,
        "peer": peer,
        "tol": tol,
        "scale": args.scale,
        "repeat": args.repeat,
        "jit": info.jit,
        "eps": args.eps,
    }
    return run_worker(spec, args.timeout, cold_jit=args.cold_jit and info.jit)


def run_problem(
    problem: Problem, peers: list[str], args: argparse.Namespace, skip: dict[str, str]
) -> dict[str, Any]:
    """Run every applicable peer's ladder on ``problem``; return the raw record."""
    measurements: list[dict[str, Any]] = []
    best: np.ndarray | None = None
    cv_best = _CVBest()
    order = _peer_order(problem, [p for p in peers if p in problem.peers])
    skipped: dict[str, str] = {}
    reference: str | None = None
    for peer in order:
        if peer in skip:
            skipped[peer] = skip[peer]
            continue
        reason = _applicable(problem, peer)
        if reason:
            skipped[peer] = reason
            log(f"{problem.name}: skip {peer} ({reason})")
            continue
        info = PEERS[peer]
        # The first peer establishes the best objective: it tightens until two
        # consecutive rungs agree (_AGREE); the others until they are inside the
        # target by _STOP_FACTOR against the best known so far.
        first_peer = not measurements
        previous: dict[str, Any] | None = None
        # --defaults: only the reference peer climbs its ladder (to find the
        # best objective); every peer is then measured at its default rung
        tols = info.tols if (first_peer or not args.defaults) else ()
        for tol in tols:
            log(f"{problem.name}: {peer} {info.tol_param}={tol:g} ...")
            meas = _measure(problem, peer, tol, args)
            meas.update(peer=peer, tol=tol)
            status = meas["status"]
            if status == "import_error":
                skip[peer] = skipped[peer] = f"import failed: {meas.get('error')}"
                log(f"{problem.name}: skip {peer}: {meas.get('error')}")
                break
            measurements.append(meas)
            if status == "error":
                log(f"{problem.name}: {peer} tol={tol:g} FAILED: {meas.get('error')}")
                if meas.get("output_tail"):
                    print(meas["output_tail"], file=sys.stderr)
                break
            if problem.task == "cv":
                cv_best.add(meas)
                if first_peer:
                    converged = previous is not None and _cv_agree(previous, meas)
                else:
                    converged = cv_best.reference_key is not None and cv_best.passes(
                        meas, GAP_THRESHOLD * _STOP_FACTOR
                    )
                gap_txt = f"chose l1={meas.get('chosen_l1_ratio')} alpha={meas.get('chosen_alpha')}"
            elif "objectives" in meas:
                obj = np.asarray(meas["objectives"])
                best = obj.copy() if best is None else np.minimum(best, obj)
                gap = _path_gap(meas, best)
                if first_peer:
                    converged = previous is not None and _path_agree(previous, meas)
                else:
                    converged = gap <= GAP_THRESHOLD * _STOP_FACTOR
                gap_txt = f"gap {gap:.1e}"
            else:
                converged, gap_txt = False, "no result"
            med = meas.get("median_s")
            log(
                f"{problem.name}: {peer} tol={tol:g}: {status}, "
                f"median {'-' if med is None else f'{med:.3f}'} s, {gap_txt}"
            )
            previous = meas
            if status == "timeout" or converged:
                break
        if args.defaults and peer not in skip:
            meas = _measure(problem, peer, info.default_tol, args)
            meas.update(peer=peer, tol=info.default_tol, at_default=True)
            measurements.append(meas)
            if problem.task == "cv":
                cv_best.add(meas)
            elif "objectives" in meas:
                obj = np.asarray(meas["objectives"])
                best = obj.copy() if best is None else np.minimum(best, obj)
            log(
                f"{problem.name}: {peer} at its default {info.tol_param}={info.default_tol:g}: "
                f"{meas['status']}, median {_fmt_s(meas.get('median_s'))} s"
            )
        if first_peer and measurements:
            reference = peer
            # CV: the reference choice is the one at the reference peer's tightest rung
            done = [m for m in measurements if m["peer"] == peer and "chosen_alpha" in m]
            if done:
                cv_best.reference_key = _cv_key(done[-1])
    return {
        "measurements": measurements,
        "skipped": skipped,
        "best": None if best is None else best.tolist(),
        "cv_best": cv_best,
        "order": order,
        "reference": reference,
    }


def summarize(problem: Problem, raw: dict[str, Any], floor_s: float | None) -> list[dict[str, Any]]:
    """Pick each peer's reported rung and compute the gaps and ratios."""
    measurements = raw["measurements"]
    cv_best: _CVBest = raw["cv_best"]
    best = None if raw["best"] is None else np.asarray(raw["best"])
    if problem.task != "cv" and measurements:
        # final best over every run (the running best only grew tighter)
        objs = [np.asarray(m["objectives"]) for m in measurements if "objectives" in m]
        best = np.min(objs, axis=0) if objs else None
    for m in measurements:
        if problem.task == "cv":
            m["gap"] = cv_best.gap(m) if "chosen_alpha" in m else None
            m["same_choice"] = _cv_key(m) == cv_best.reference_key if "chosen_alpha" in m else None
            m["passes"] = "chosen_alpha" in m and cv_best.passes(m, GAP_THRESHOLD)
        else:
            m["gap"] = _path_gap(m, best) if "objectives" in m else None
            m["passes"] = m["gap"] is not None and m["gap"] <= GAP_THRESHOLD
    ref_mse = None
    if problem.task == "cv":
        ref_runs = [m for m in measurements if m["peer"] == raw["reference"] and m.get("mse_mean")]
        ref_mse = np.asarray(ref_runs[-1]["mse_mean"]) if ref_runs else None

    rows = []
    for peer in [p for p in PEERS if p in raw["order"]]:
        runs = [m for m in measurements if m["peer"] == peer]
        if not runs:
            continue
        ok_runs = [m for m in runs if m["status"] == "ok"]
        passing = [m for m in ok_runs if m["passes"]]
        at_default = [m for m in runs if m.get("at_default")]
        if at_default:
            chosen, reached = at_default[-1], bool(at_default[-1]["passes"])
        elif passing:
            chosen, reached = passing[0], True
        elif ok_runs:
            chosen = min(ok_runs, key=lambda m: np.inf if m["gap"] is None else m["gap"])
            reached = False
        else:
            chosen, reached = runs[-1], False
        row = {
            "peer": peer,
            "label": PEERS[peer].label,
            "tol_param": PEERS[peer].tol_param,
            "tol": chosen["tol"],
            "status": chosen["status"],
            "reached": reached,
            "median_s": chosen.get("median_s"),
            "min_s": chosen.get("min_s"),
            "n_timed": len(chosen.get("times_s") or []),
            "gap": chosen.get("gap"),
            "extra_rss_mb": chosen.get("extra_rss_mb"),
            "first_call_s": chosen.get("first_call_s"),
            "warnings": chosen.get("warnings"),
            "tols_tried": [m["tol"] for m in runs],
        }
        if problem.task == "cv":
            row.update(
                chosen_alpha=chosen.get("chosen_alpha"),
                chosen_l1_ratio=chosen.get("chosen_l1_ratio"),
                same_choice=chosen.get("same_choice"),
            )
            mse = chosen.get("mse_mean")
            if mse is not None and ref_mse is not None and np.shape(mse) == ref_mse.shape:
                row["mse_path_max_rel_diff"] = float(np.max(np.abs(np.asarray(mse) / ref_mse - 1)))
        rows.append(row)

    timed = [r for r in rows if r["median_s"] is not None and r["status"] == "ok"]
    at_defaults = any(m.get("at_default") for m in measurements)
    # at the defaults every peer counts, whatever precision its default reached
    peers_ok = [r for r in timed if r["peer"] not in OWN and (r["reached"] or at_defaults)]
    fastest = min(peers_ok, key=lambda r: r["median_s"]) if peers_ok else None
    for r in rows:
        ok = r["median_s"] is not None and r["status"] == "ok"
        r["vs_fastest_peer"] = r["median_s"] / fastest["median_s"] if ok and fastest else None
        r["fastest_peer"] = fastest["peer"] if fastest else None
        r["vs_xtx"] = r["median_s"] / floor_s if ok and floor_s else None
    return rows


# ----------------------------------------------------------------------------
# RESULTS.md
# ----------------------------------------------------------------------------

_MD_HEADER = """# glmops benchmark results

Produced by `bench/run.py` (see `bench/README.md` for how to run it and what
each column means). Every section below is replaced when its problem is run
again with `--write`; sections of problems not re-run are kept as they were.
Each section names the exact command, date, machine and package versions
that produced it.
"""


def _fmt(x: float | None, spec: str = ".3g") -> str:
    return "-" if x is None else format(x, spec)


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.2f}" if x >= 1 else f"{x:.3g}"


def _tol_txt(r: dict[str, Any]) -> str:
    return f"{r['tol_param']}={r['tol']:g}"


def render_section(key: str, record: dict[str, Any]) -> str:
    problem = PROBLEMS[record["problem"]]
    ds = record["dataset"]
    lines = [f"<!-- section:{key} -->", f"## {key}", "", record["description"], ""]
    mach = record["machine"]
    lines += [
        f"- Command: `{record['command']}`",
        f"- Date: {record['date']}",
        f"- Machine: `{mach['uname']}`; CPU: {mach['cpu']}; {mach['cores']} cores;"
        f" {mach['mem_gb']} GB RAM; Python {mach['python']}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in record["versions"].items()),
        "- Threads (every solver, fresh process per measurement): "
        + " ".join(f"{k}={v}" for k, v in THREAD_ENV.items()),
        f"- X: {ds['x_mb']:.1f} MB ({ds['kind']}, {ds['n_samples']} x {ds['n_features']}"
        + (f", density {ds['density']:.3g}" if ds["kind"] == "sparse" else "")
        + f"); scale {record['scale']:g}; repeat {record['repeat']};"
        f" timeout {record['timeout_s']:g} s; numba cache for 'compile s': "
        + ("empty (cold compile)" if record.get("cold_jit") else "as on disk"),
    ]
    family = record.get("family", "gaussian")
    if family != "gaussian":
        classes = (
            f"{ds.get('n_classes')} classes, softmax with one coefficient row per class"
            if family == "multinomial"
            else "binary, sigmoid, one coefficient row"
        )
        lines.append(
            f"- Objective: 1/n sum_i logloss_i + alpha*(l1_ratio*|B|_1 + (1-l1_ratio)/2*|B|_2^2),"
            f" intercept unpenalized ({family}: {classes}; class shares"
            f" {ds.get('class_shares')}); evaluated by the harness"
        )
    if problem.task == "path":
        lines.append(
            f"- Grid: {len(record['alphas'])} alphas from {record['alphas'][0]:.4g} to "
            f"{record['alphas'][-1]:.4g} (eps {record['eps']:g}), l1_ratio {problem.l1_ratio}"
        )
    elif problem.task == "cv" and record["alphas"]:
        lines.append(
            f"- Grid: {len(record['alphas'])} alphas from {record['alphas'][0]:.4g} "
            f"(alpha_max at l1_ratio {problem.grid_l1_ratio:g}) to {record['alphas'][-1]:.4g} "
            f"(eps {record['eps']:g}), the same for l1_ratio in "
            f"{{{', '.join(f'{r:g}' for r in problem.l1_ratios)}}} and for every solver"
        )
    elif problem.task == "single":
        lines.append(
            f"- alpha = alpha_max/{problem.alpha_divisor:g} = {record['alphas'][0]:.4g},"
            f" l1_ratio {problem.l1_ratio}"
        )
    defaults = bool(record.get("defaults"))
    if defaults:
        lines.append(
            "- At the defaults: every solver at its library's default tolerance (the value "
            "a new user gets; the 'tol used' column), nothing tuned; 'rel. obj. gap' is "
            "its precision there, max over alphas of (P - P_best)/P_best with P_best the "
            "lowest P any run reached (the reference ladder: "
            f"{record['reference'] or '-'}, run to its tightest rung first); "
            "'(not reached)' marks a gap above "
            f"{GAP_THRESHOLD:g}. 'vs fastest peer' compares times at the defaults."
        )
    elif problem.task in ("path", "single"):
        lines.append(
            f"- Precision: each solver at its first tolerance whose max over alphas of "
            f"(P - P_best)/P_best <= {GAP_THRESHOLD:g}; P_best = lowest P any run reached "
            f"(reference ladder: {record['reference'] or '-'})"
        )
    if problem.task == "cv" and not defaults:
        lines.append(
            f"- Precision: each solver at its first tolerance that chooses the same (alpha, "
            f"l1_ratio) as {record['reference'] or '-'} at its tightest "
            f"tolerance, with refit objective within {GAP_THRESHOLD:g} of the best refit there"
        )
    if record.get("floor"):
        fl = record["floor"]
        lines.append(
            f"- One X'X: {_fmt_s(fl['xtx_median_s'])} s; one X'y: "
            f"{_fmt_s(fl['xty_median_s'])} s (numpy, median)"
        )
    for peer, why in record["skipped"].items():
        lines.append(f"- Skipped {peer}: {why}")
    if record.get("note"):
        lines.append(f"- Note: {record['note']}")
    load = record.get("load")
    if load and load.get("n"):
        lines.append(
            f"- Load: 1-min load average {load['source']}: median {load['median']:.2f}, "
            f"max {load['max']:.2f}, above {load['cores']} (more runnable processes than "
            f"cores, so the solver may have shared its core) in {load['frac_above_cores']:.0%}"
            f" of {load['n']} samples"
        )
    lines.append("")

    if problem.task == "floor":
        fl = record["floor"]
        lines += ["| operation | median s | min s |", "|---|---:|---:|"]
        lines.append(f"| X'X (numpy) | {_fmt_s(fl['xtx_median_s'])} | {_fmt_s(fl['xtx_min_s'])} |")
        lines.append(f"| X'y (numpy) | {_fmt_s(fl['xty_median_s'])} | {_fmt_s(fl['xty_min_s'])} |")
        lines += ["", f"<!-- /section:{key} -->", ""]
        return "\n".join(lines)

    has_floor = bool(record.get("floor"))
    head = ["solver", "tol used", "median s", "min s"]
    if problem.task == "cv":
        cv_loss = "CV-MSE" if family == "gaussian" else "CV log-loss"
        head += ["chosen alpha", "chosen l1_ratio", "same choice", f"max rel. diff {cv_loss} path"]
    head += ["rel. obj. gap", "extra RSS MB", "vs fastest peer"]
    if has_floor:
        head.append("vs X'X")
    head.append("compile s")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|")
    for r in record["rows"]:
        timeout = r["status"] == "timeout"
        med = (
            f"> {record['timeout_s']:g}"
            if timeout and r["median_s"] is None
            else _fmt_s(r["median_s"])
        )
        if timeout and r["median_s"] is not None:
            med = f"{med} (> timeout)"
        gap = _fmt(r["gap"], ".1e")
        if r["status"] == "error":
            gap = "error"
        elif not r["reached"] and r["gap"] is not None:
            gap += " (not reached)"
        cells = [f"{r['peer']}", _tol_txt(r), med, _fmt_s(r["min_s"])]
        if problem.task == "cv":
            same = {True: "yes", False: "no", None: "-"}[r.get("same_choice")]
            cells += [
                _fmt(r.get("chosen_alpha"), ".4g"),
                _fmt(r.get("chosen_l1_ratio"), "g"),
                same,
                _fmt(r.get("mse_path_max_rel_diff"), ".1e"),
            ]
        cells += [gap, _fmt(r["extra_rss_mb"], ".0f"), _fmt(r["vs_fastest_peer"], ".2f")]
        if has_floor:
            cells.append(_fmt(r["vs_xtx"], ".1f"))
        cells.append(_fmt_s(r["first_call_s"]))
        lines.append("| " + " | ".join(cells) + " |")
    fastest = next((r["fastest_peer"] for r in record["rows"] if r.get("fastest_peer")), None)
    where = "at the defaults" if defaults else "at the target precision"
    lines += ["", f"Fastest peer {where} (glmops excluded): {fastest or '-'}."]
    lines += ["", f"<!-- /section:{key} -->", ""]
    return "\n".join(lines)


def update_results_md(sections: dict[str, str]) -> None:
    """Replace (or append) the given sections of RESULTS.md, keeping the rest."""
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else _MD_HEADER
    existing: dict[str, str] = {}
    order: list[str] = []
    head = text
    marker = "<!-- section:"
    if marker in text:
        head = text[: text.index(marker)]
        rest = text[text.index(marker) :]
        while marker in rest:
            start = rest.index(marker)
            key = rest[start + len(marker) : rest.index(" -->", start)]
            end_tag = f"<!-- /section:{key} -->"
            end = rest.index(end_tag, start) + len(end_tag)
            existing[key] = rest[start:end].strip() + "\n"
            order.append(key)
            rest = rest[end:]
    for key, body in sections.items():
        if key not in existing:
            order.append(key)
        existing[key] = body.strip() + "\n"
    problem_rank = {name: i for i, name in enumerate(PROBLEMS)}
    order.sort(key=lambda k: (problem_rank.get(k.split("@")[0], len(problem_rank)), k))
    RESULTS_MD.write_text(head.rstrip() + "\n\n" + "\n".join(existing[k] for k in order))


# ----------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------


def load_summary(samples: list[float], source: str = "as each measurement ended") -> dict[str, Any]:
    """Summarize 1-min load averages against the core count (other load on the machine)."""
    cores = os.cpu_count() or 1
    if not samples:
        return {"n": 0, "source": source, "cores": cores}
    arr = np.asarray(samples, dtype=np.float64)
    return {
        "n": int(arr.size),
        "source": source,
        "cores": cores,
        "median": float(np.median(arr)),
        "max": float(arr.max()),
        "frac_above_cores": float(np.mean(arr > cores)),
    }


def _floor(problem: Problem, args: argparse.Namespace, cache: dict[str, Any]) -> dict[str, Any]:
    key = problem.dataset.cache_key(args.scale)
    if key not in cache:
        log(f"floor: X'X and X'y on {problem.dataset.name} ...")
        spec = {
            "problem": problem.name,
            "peer": "numpy",
            "tol": None,
            "scale": args.scale,
            "repeat": max(args.repeat, 3),
            "jit": False,
            "eps": None,
        }
        res = run_worker(spec, args.timeout)
        ft = res.get("floor_times_s") or {}
        cache[key] = {
            "xtx_times_s": ft.get("xtx"),
            "xty_times_s": ft.get("xty"),
            "xtx_median_s": float(np.median(ft["xtx"])) if ft.get("xtx") else None,
            "xtx_min_s": float(np.min(ft["xtx"])) if ft.get("xtx") else None,
            "xty_median_s": float(np.median(ft["xty"])) if ft.get("xty") else None,
            "xty_min_s": float(np.min(ft["xty"])) if ft.get("xty") else None,
        }
        log(
            f"floor: X'X {_fmt_s(cache[key]['xtx_median_s'])} s, "
            f"X'y {_fmt_s(cache[key]['xty_median_s'])} s"
        )
    return cache[key]


def _parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument(
        "--problems",
        default=",".join(PROBLEMS),
        help=f"comma list of {', '.join(PROBLEMS)} (default: all)",
    )
    ap.add_argument(
        "--peers", default=",".join(PEERS), help=f"comma list of {', '.join(PEERS)} (default: all)"
    )
    ap.add_argument("--repeat", type=int, default=3, help="timed calls per measurement")
    ap.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="shrink n (and p for wide/sparse) for a smoke run, e.g. 0.05",
    )
    ap.add_argument(
        "--timeout", type=float, default=600.0, help="seconds allowed per measurement (solve calls)"
    )
    ap.add_argument(
        "--eps",
        type=float,
        default=None,
        help="override the path length eps of path and CV problems",
    )
    ap.add_argument(
        "--cold-jit",
        action="store_true",
        help="give JIT peers an empty numba cache, so 'compile s' is a cold compile",
    )
    ap.add_argument(
        "--note",
        default=None,
        help="a line added to every section of this run (e.g. other load on the machine)",
    )
    ap.add_argument(
        "--defaults",
        action="store_true",
        help="measure every peer at its library's default tolerance (the reference peer "
        "still climbs its ladder first, for the best objective); sections <problem>@defaults",
    )
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = ap.parse_args(argv)
    args.problem_list = [p for p in args.problems.split(",") if p]
    args.peer_list = [p for p in args.peers.split(",") if p]
    for name in args.problem_list:
        if name not in PROBLEMS:
            ap.error(f"unknown problem {name!r}; choose from {', '.join(PROBLEMS)}")
    for name in args.peer_list:
        if name not in PEERS:
            ap.error(f"unknown peer {name!r}; choose from {', '.join(PEERS)}")
    return args


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through run_worker, which kills its worker


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, _terminate)
    args = _parse(argv)
    command = command_line(argv)
    machine, vers = machine_info(), versions()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    floors: dict[str, Any] = {}
    skip: dict[str, str] = {}  # peers whose import failed: skipped for the rest of the run
    sections: dict[str, str] = {}

    for name in args.problem_list:
        problem = PROBLEMS[name]
        log(f"== {name}: {problem.description.split('.')[0]}")
        log(f"{name}: preparing data (bench/.cache/{problem.dataset.cache_key(args.scale)})")
        ensure_cached(problem.dataset, args.scale)
        X, y = load(problem.dataset, args.scale)
        n, p = X.shape
        dataset = {
            "name": problem.dataset.name,
            "kind": problem.dataset.kind,
            "n_samples": n,
            "n_features": p,
            "density": problem.dataset.sized(args.scale)[2],
            "x_mb": nbytes(X) / 2**20,
            "family": problem.family,
        }
        if problem.family != "gaussian":
            dataset["n_classes"] = int(np.unique(y).size)
            dataset["class_shares"] = (np.bincount(y.astype(np.intp)) / n).round(4).tolist()
        eps = args.eps if (args.eps and problem.task in ("path", "cv")) else problem.eps
        if problem.task == "path" or (problem.task == "cv" and problem.family != "gaussian"):
            alphas = alpha_grid(
                X,
                y,
                l1_ratio=problem.grid_l1_ratio,
                eps=eps,
                n_alphas=problem.n_alphas,
                family=problem.family,
            ).tolist()
        elif problem.task == "single":
            alphas = [alpha_max(X, y, problem.l1_ratio, problem.family) / problem.alpha_divisor]
        else:
            alphas = []
        del X, y

        floor = (
            _floor(problem, args, floors)
            if (problem.report_floor or problem.task == "floor")
            else None
        )
        if problem.task == "floor":
            raw = {"measurements": [], "skipped": {}, "best": None, "order": [], "reference": None}
            rows: list[dict[str, Any]] = []
        else:
            raw = run_problem(problem, args.peer_list, args, skip)
            rows = summarize(problem, raw, floor["xtx_median_s"] if floor else None)
        raw.pop("cv_best", None)
        load_stats = load_summary(
            [m["loadavg_after"][0] for m in raw["measurements"] if m.get("loadavg_after")]
        )
        key = name if args.scale == 1.0 else f"{name}@scale{args.scale:g}"
        if args.defaults:
            key += "@defaults"
        record = {
            "problem": name,
            "key": key,
            "description": problem.description,
            "task": problem.task,
            "command": command,
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": machine,
            "versions": vers,
            "threads": THREAD_ENV,
            "scale": args.scale,
            "repeat": args.repeat,
            "timeout_s": args.timeout,
            "cold_jit": args.cold_jit,
            "defaults": args.defaults,
            "note": args.note,
            "load": load_stats,
            "gap_threshold": GAP_THRESHOLD,
            "dataset": dataset,
            "family": problem.family,
            "eps": eps,
            "l1_ratio": problem.l1_ratio,
            "l1_ratios": list(problem.l1_ratios),
            "alphas": alphas,
            "floor": floor,
            "rows": rows,
            **raw,
        }
        out = RESULTS_DIR / f"{key}.json"
        out.write_text(json.dumps(record, indent=1, default=float))
        section = render_section(key, record)
        sections[key] = section
        print(section, flush=True)
        log(f"{name}: wrote {out.relative_to(ROOT)}")

    if args.write:
        update_results_md(sections)
        log(f"updated {RESULTS_MD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
