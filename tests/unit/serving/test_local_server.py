"""The one free-port / real-server helper used by tests, benchmarks and the demo."""

from __future__ import annotations

import socket

import httpx
import pytest

pytest.importorskip("uvicorn")
from fastapi import FastAPI

from glmops.serving.local_server import free_port, start_server, wait_until


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return app


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # raises if the port were taken


def test_server_answers_once_started_and_stops_cleanly() -> None:
    with start_server(_app()) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{server.url}/ping", timeout=5).json() == {"pong": "yes"}
    assert not server.thread.is_alive()
    assert server.stop() is True  # idempotent


# uvicorn ends its thread with SystemExit when the port is taken: expected here
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_server_that_cannot_bind_is_a_clear_error() -> None:
    with start_server(_app()) as taken, pytest.raises(RuntimeError, match=r"died|did not start"):
        start_server(_app(), port=taken.port, timeout=5)


def test_wait_until_polls_then_times_out() -> None:
    calls = iter([False, False, True])
    wait_until(lambda: next(calls), timeout=5)
    with pytest.raises(TimeoutError, match="the flag"):
        wait_until(lambda: False, timeout=0.05, what="the flag")
