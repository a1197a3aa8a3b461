"""A real HTTP server on a free local port, in a thread: for tests, benchmarks and the demo.

:func:`start_server` runs any ASGI app (``create_app``, a bare router) on
uvicorn in a daemon thread and returns once uvicorn has bound the socket
(its ``started`` flag), polling with a deadline instead of sleeping a fixed
time; :meth:`LocalServer.stop` asks it to exit and joins the thread.
:func:`free_port` alone serves processes started some other way (moto's S3
server, the benchmark's server processes). uvicorn (the ``serve`` extra) is
imported only when a server starts.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["LocalServer", "free_port", "start_server", "wait_until"]

LOCALHOST = "127.0.0.1"
_POLL_S = 0.01


def free_port(host: str = LOCALHOST) -> int:
    """Return a TCP port that was free on ``host`` a moment ago (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition"
) -> None:
    """Poll ``predicate`` until it is truthy; raise :class:`TimeoutError` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(_POLL_S)


@dataclass
class LocalServer:
    """A uvicorn server running ``app`` in a daemon thread on ``host:port``."""

    app: Any
    host: str
    port: int
    server: Any  # uvicorn.Server (uvicorn is imported lazily)
    thread: threading.Thread

    @property
    def url(self) -> str:
        """The base URL, ``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the server to exit, wait up to ``timeout`` s; return True when it stopped."""
        self.server.should_exit = True
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    app: Any,
    *,
    host: str = LOCALHOST,
    port: int | None = None,
    timeout: float = 20.0,
    log_level: str = "warning",
    name: str = "glmops-local-server",
) -> LocalServer:
    """Start ``app`` on uvicorn in a daemon thread; return once it accepts connections.

    Parameters
    ----------
    app : ASGI application
        What to serve (``glmops.serving.create_app(...)``, a FastAPI app).
    host : str, default="127.0.0.1"
        Bind address.
    port : int or None, default=None
        Port; None picks a free one.
    timeout : float, default=20.0
        Seconds to wait for uvicorn's ``started`` flag.
    log_level : str, default="warning"
        uvicorn's log level (no access log).
    name : str
        The thread's name.

    Returns
    -------
    LocalServer
        The running server; stop it with :meth:`LocalServer.stop` or ``with``.

    Raises
    ------
    RuntimeError
        When the server thread dies or does not start within ``timeout``.
    """
    import uvicorn

    port = free_port(host) if port is None else port
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False)
    )
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    running = LocalServer(app=app, host=host, port=port, server=server, thread=thread)
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the server thread on {running.url} died before it started")
        if time.monotonic() > deadline:
            running.stop(1.0)
            raise RuntimeError(f"the server on {running.url} did not start in {timeout:g} s")
        thread.join(_POLL_S)  # waits one poll interval, returns at once if the thread ends
    return running
