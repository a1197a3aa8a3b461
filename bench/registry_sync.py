"""Cost of SQLite ``synchronous=FULL`` (the registry default) against ``NORMAL``.

Times audited alias writes (one transaction each: alias row + audit event)
on a file database, alternating the two modes in one run.

    .venv/bin/python bench/registry_sync.py --writes 200 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.registry.conftest import train_artifact

from glmops.registry import Registry


def _time_writes(root: Path, artifact: Path, mode: str, writes: int) -> float:
    reg = Registry(f"sqlite:///{root / f'{mode}-{time.time_ns()}.db'}", root / "store", actor="a")

    @event.listens_for(reg.engine, "checkout")
    def _mode(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        dbapi_conn.execute(f"PRAGMA synchronous={mode}")

    reg.engine.dispose()
    reg.register("m", artifact)
    start = time.perf_counter()
    for i in range(writes):
        reg.set_alias("m", "challenger", 1, reason=f"write {i}")
    elapsed = time.perf_counter() - start
    reg.close()
    return elapsed / writes * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp())
    artifact = train_artifact(root, 1)
    times: dict[str, list[float]] = {"NORMAL": [], "FULL": []}
    for _ in range(args.repeat):
        for mode in times:
            times[mode].append(_time_writes(root, artifact, mode, args.writes))
    for mode, values in times.items():
        print(
            f"synchronous={mode:<6} ms per audited alias write: "
            f"min {min(values):.2f}  median {statistics.median(values):.2f}"
        )
    ratio = statistics.median(times["FULL"]) / statistics.median(times["NORMAL"])
    print(f"FULL / NORMAL (medians): {ratio:.2f}x")


if __name__ == "__main__":
    main()
