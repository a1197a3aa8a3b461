"""Start-up and idle RSS: ``glmops serve`` against the practical limit, alternating.

bench/serving.py's method (spawn under ``taskset -c 0`` to the first 200 with the
expected value, polled every 20 ms; RSS of the process tree after 20 single-row
requests), but only these two figures, with the servers started one after the other,
order reversed every round, so that the load of a shared machine falls on both alike.
``--src`` names other trees' ``src`` to start ``glmops serve`` from as well (e.g. the
commit before, unpacked with ``git archive``); each counts as one more server. The
shared libraries mapped (pyarrow's ``libarrow*``) are listed for each.

    PYTHONPATH=src:. .venv/bin/python -m bench.serving_startup --rounds 6
    PYTHONPATH=src:. .venv/bin/python -m bench.serving_startup --src /tmp/before/src
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import serving as bs


def _arrow_mapped(pid: int) -> bool:
    try:
        return "libarrow" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _start(name: str, server_: tuple, spec: bs.Spec, work: Path) -> dict:
    cmd, cwd, env, port = server_
    server = bs.Server(name, cmd, cwd=cwd, env=env, log=work / "server.log")
    try:
        ready = bs.wait_ready(server, port, spec, 0.0)
        client = bs.Client(port)
        for _ in range(20):
            status, _body = client.post(spec.path, spec.single)
            if status != 200:
                raise RuntimeError(f"{name}: HTTP {status}")
        client.close()
        time.sleep(0.2)
        return {
            "startup_s": ready["startup_s"],
            "rss_mib": server.rss() / 2**20,
            "arrow": _arrow_mapped(server.proc.pid),
        }
    finally:
        server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--src", action="append", default=[], help="another tree's src")
    p.add_argument("--work", type=Path, help="reuse a work folder (model, registry)")
    args = p.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="glmops-startup-"))
    if not (work / "registry.db").exists():
        data = bs.make_data(work)
        gm = bs.train_glmops(work, data)
        bs.prep_limit(work, gm["linear"], data["X"][: bs.BATCH_ROWS])
    import numpy as np

    rows = np.load(work / "X.npy")[: bs.BATCH_ROWS].tolist()
    here = str(Path(__file__).resolve().parent.parent / "src")
    servers: dict[str, tuple[list[str], Path, dict, int]] = {}
    port = bs.free_port()  # one glmops.yaml, so one port: the servers run one at a time
    cmd, cwd, env = bs.server_command("glmops", work, port)
    for label, src in [("glmops", here), *((f"glmops[{s}]", s) for s in args.src)]:
        servers[label] = (cmd, cwd, {**env, "PYTHONPATH": src}, port)
        # byte-compiled first, as a wheel install leaves the modules
        compileall.compile_dir(str(Path(src) / "glmops"), quiet=1)
    port = bs.free_port()
    cmd, cwd, env = bs.server_command(bs.LIMIT, work, port)
    servers[bs.LIMIT] = (cmd, cwd, env, port)
    specs = {name: bs.Spec("glmops" if name != bs.LIMIT else bs.LIMIT, rows) for name in servers}
    results: dict[str, list[dict]] = {name: [] for name in servers}
    names = list(servers)
    for i in range(args.rounds):
        for name in names if i % 2 == 0 else names[::-1]:
            results[name].append(_start(name, servers[name], specs[name], work))
    limit = results[bs.LIMIT]
    for name, values in results.items():
        s = [v["startup_s"] for v in values]
        r = [v["rss_mib"] for v in values]
        line = (
            f"{name:40s} start s min {min(s):.3f} median {statistics.median(s):.3f}  "
            f"RSS MiB median {statistics.median(r):.1f}  libarrow mapped "
            f"{sum(v['arrow'] for v in values)}/{len(values)}"
        )
        if name != bs.LIMIT:
            ratios = [a["startup_s"] / b["startup_s"] for a, b in zip(values, limit, strict=True)]
            line += f"  / limit: min {min(ratios):.2f} median {statistics.median(ratios):.2f}"
        print(line, flush=True)
    print(f"work: {work}")


if __name__ == "__main__":
    sys.exit(main())
