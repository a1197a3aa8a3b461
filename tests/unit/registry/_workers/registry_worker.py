"""Fork server for the registry reliability tests: import glmops once, fork workers on demand.

Importing glmops costs seconds of CPU, so starting a fresh interpreter for
each of the dozens of processes the tests kill would dominate their run
time. This script imports glmops once (no database connection is made
here), then forks a fresh child per ``fork`` command. Each child opens its
own :class:`~glmops.registry.Registry` (its own connections), does its job
and leaves with ``os._exit``; the tests SIGKILL it from outside.

Protocol: one JSON object per line.

* stdin ``{"op": "fork", "job": NAME, "args": {...}}`` -> stdout ``{"pid": PID}``
* stdin ``{"op": "reap", "pid": PID}`` -> stdout ``{"pid": PID, "status": S}`` where S
  is the exit code, or minus the signal that ended the child
* end of stdin: the server exits (children still running are left to the caller).

Jobs (children log one line per completed operation to ``args["log"]``; a
child that fails writes its traceback there and exits with status 1):

``register_many``
    Open the registry, touch ``ready``, wait for ``barrier`` to exist, register
    ``args["artifacts"][i % len]`` ``count`` times, write ``[[version, digest], ...]``
    as JSON to ``out``.
``register_loop``
    Forever: write a fresh variant of ``base`` (a new digest: its metadata
    gains a ``variant`` key) under ``scratch`` and register it; every fourth
    round register ``base`` itself (a digest already stored).
``alias_loop``
    Forever: promote a random version of ``versions`` (some archived: refused)
    or roll the champion back.
``open_registry``
    Open the registry (creating its schema if needed) and exit.
"""

from __future__ import annotations

import copy
import json
import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from glmops.artifact import read_artifact, write_artifact
from glmops.errors import AliasConflict
from glmops.registry import Registry

BARRIER_TIMEOUT_S = 60.0


def _log(fh: Any, line: str) -> None:
    fh.write(line + "\n")
    fh.flush()


def register_many(args: dict[str, Any], log: Any) -> None:
    registry = Registry(args["url"], args["root"], actor=args["actor"])
    Path(args["ready"]).touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT_S
    barrier = Path(args["barrier"])
    while not barrier.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"barrier {barrier} never appeared")
        time.sleep(0.001)
    done = []
    artifacts = args["artifacts"]
    for i in range(args["count"]):
        info = registry.register(args["name"], artifacts[i % len(artifacts)])
        done.append([info.version, info.digest])
        _log(log, f"registered {info.version}")
    Path(args["out"]).write_text(json.dumps(done))
    registry.close()


def register_loop(args: dict[str, Any], log: Any) -> None:
    registry = Registry(args["url"], args["root"], actor=args["actor"])
    base = read_artifact(args["base"])
    scratch = Path(args["scratch"])
    scratch.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    i = 0
    while True:
        i += 1
        if i % 4 == 0:
            source = Path(args["base"])
        else:
            model = copy.deepcopy(base.model)
            model["metadata"]["variant"] = f"{tag}-{i}"
            source = scratch / f"{tag}-{i}"
            write_artifact(source, model, base.arrays, base.extra_files)
        info = registry.register(args["name"], source)
        _log(log, f"registered {info.version} {info.digest}")


def alias_loop(args: dict[str, Any], log: Any) -> None:
    registry = Registry(args["url"], args["root"], actor=args["actor"])
    rng = random.Random(args["seed"])
    versions = args["versions"]
    while True:
        try:
            if rng.random() < 0.6:
                version = rng.choice(versions)
                registry.promote(args["name"], version, reason="reliability test")
                _log(log, f"promoted {version}")
            else:
                info = registry.rollback(args["name"], reason="reliability test")
                _log(log, f"rolled back to {info.version}")
        except AliasConflict as exc:  # archived target, or nothing to roll back to
            _log(log, f"refused: {exc}")


def open_registry(args: dict[str, Any], log: Any) -> None:
    Registry(args["url"], args["root"]).close()
    _log(log, "opened")


JOBS = {
    "register_many": register_many,
    "register_loop": register_loop,
    "alias_loop": alias_loop,
    "open_registry": open_registry,
}


def _child(job: str, args: dict[str, Any]) -> None:
    status = 1
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        with open(args["log"], "a", encoding="utf-8") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                JOBS[job](args, log)
                status = 0
            except BaseException:
                _log(log, traceback.format_exc())
    finally:
        os._exit(status)


def main() -> None:
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "fork":
            if command["job"] not in JOBS:
                reply: dict[str, Any] = {"error": f"unknown job {command['job']!r}"}
            else:
                out.flush()
                pid = os.fork()
                if pid == 0:
                    _child(command["job"], command["args"])
                reply = {"pid": pid}
        elif command["op"] == "reap":
            _, wait_status = os.waitpid(command["pid"], 0)
            reply = {"pid": command["pid"], "status": os.waitstatus_to_exitcode(wait_status)}
        else:
            reply = {"error": f"unknown op {command['op']!r}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
