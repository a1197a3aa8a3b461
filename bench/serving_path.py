"""The scoring request path without HTTP: glmops's ASGI app against the practical limit.

Both apps of ``bench/serving.py`` (glmops serve's app with bearer-token auth, metrics
and the prediction log as configured there; the hand-written FastAPI + orjson + numpy
endpoint, LIMIT_APP) are called in this process, one request after the other, with
the same bodies and no socket: what is left is each app's own cost a request (uvicorn's
HTTP parsing and the event loop's I/O are the same for both and not counted). Runs
alternate between the apps; min and median of the repeats, and glmops / limit.

    PYTHONPATH=src taskset -c 1 .venv/bin/python -m bench.serving_path --repeat 5
    PYTHONPATH=src .venv/bin/python -m bench.serving_path --body batch --requests 500
    PYTHONPATH=src .venv/bin/python -m bench.serving_path --log off
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import serving as bench_serving


async def _lifespan(app: Any) -> tuple[asyncio.Queue[dict[str, str]], asyncio.Task[None]]:
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    await queue.put({"type": "lifespan.startup"})
    started: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        started.append(message)

    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, queue.get, send)
    )
    while not started:
        await asyncio.sleep(0.01)
    return queue, task


async def _time(app: Any, body: bytes, n: int) -> float:
    """Seconds a request: ``n`` POSTs of ``body`` (after 200 not counted); all must be 200."""
    headers = [
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {bench_serving.BENCH_TOKEN}".encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/v1/models/{bench_serving.MODEL}/predict",
        "root_path": "",
        "headers": headers,
        "query_string": b"",
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in range(200):
        await app(dict(scope), receive, send)
    started = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    elapsed = time.perf_counter() - started
    if set(statuses) != {200}:
        raise RuntimeError(f"answers other than 200: {sorted(set(statuses))}")
    return elapsed / n


async def _run(args: argparse.Namespace, work: Path) -> None:
    import yaml

    from glmops.config import parse_config
    from glmops.serving.app import create_app

    data = bench_serving.make_data(work)
    gm = bench_serving.train_glmops(work, data)
    bench_serving.prep_limit(work, gm["linear"], data["X"][: bench_serving.BATCH_ROWS])
    raw = bench_serving.glmops_config(work, 8080)
    if args.log == "off":
        raw["serving"]["prediction_log"] = {"enabled": False}
    (work / "glmops.yaml").write_text(yaml.safe_dump(raw))
    glmops_app = create_app(parse_config(raw))
    spec = importlib.util.spec_from_file_location(
        "limit_app", work / bench_serving.LIMIT / "limit_app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = data["X"][: bench_serving.BATCH_ROWS].tolist()
    apps = {"glmops": glmops_app, bench_serving.LIMIT: module.app}
    bodies = {name: bench_serving.Spec(name, rows) for name in apps}
    queue, task = await _lifespan(glmops_app)
    times: dict[str, list[float]] = {name: [] for name in apps}
    for i in range(args.repeat):
        for name in apps if i % 2 == 0 else list(apps)[::-1]:
            spec_ = bodies[name]
            body = spec_.single if args.body == "single" else spec_.batch
            times[name].append(await _time(apps[name], body, args.requests))
    await queue.put({"type": "lifespan.shutdown"})
    await task
    for name, values in times.items():
        print(
            f"{name:16s} us a request: min {min(values) * 1e6:8.1f}  "
            f"median {statistics.median(values) * 1e6:8.1f}"
        )
    ratios = [a / b for a, b in zip(times["glmops"], times[bench_serving.LIMIT], strict=True)]
    print(
        f"glmops / {bench_serving.LIMIT} ({args.body}, log {args.log}): min {min(ratios):.3f} "
        f"median {statistics.median(ratios):.3f}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--body", choices=["single", "batch"], default="single")
    p.add_argument("--log", choices=["on", "off"], default="on")
    p.add_argument("--requests", type=int, default=10_000, help="requests a timed run")
    p.add_argument("--repeat", type=int, default=5, help="timed runs of each app")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="glmops-serving-path-") as tmp:
        asyncio.run(_run(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
