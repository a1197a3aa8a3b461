"""A queue drained by one low-priority background thread (prediction log, shadow).

The request path only appends to a deque and sets an event; the thread
wakes on that event or every ``interval_s``, drains the queue with
:meth:`BackgroundWorker.drain`, and marks itself idle, which is what
``flush`` waits for.
"""

from __future__ import annotations

import abc
import collections
import contextlib
import os
import threading
import time
from typing import Generic, TypeVar

__all__ = ["BackgroundWorker", "lower_thread_priority"]

T = TypeVar("T")


def lower_thread_priority(niceness: int = 19) -> None:
    """Make the calling (background) thread yield the CPU to the request thread.

    On one core the OS would otherwise let a busy worker run out its time
    slice while a request waits. Measured on the serving benchmark (one core,
    one connection, the prediction log writing a Parquet file every 10 s):
    single-row p99 3.0-3.6 ms at nice 10, 1.2-1.5 ms at nice 19. The price: a
    saturated core leaves the worker ~1.5% of it, so under sustained overload
    its queue fills; the prediction log's policy then decides (``block``:
    requests wait, the loop idles and the writer gets the core; ``drop``:
    counted). Linux only; elsewhere a no-op.
    """
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)


class BackgroundWorker(abc.ABC, Generic[T]):
    """Items appended by the request path, processed by one thread off it."""

    def __init__(self, name: str, interval_s: float) -> None:
        self._queue: collections.deque[T] = collections.deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._interval_s = interval_s
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def _put(self, item: T, *, wake: bool = True) -> None:
        self._idle.clear()
        self._queue.append(item)
        if wake:
            self._wake.set()

    def _has_work(self) -> bool:
        """Whether :meth:`drain` has something to do besides the queue (buffers, a flush)."""
        return False

    @abc.abstractmethod
    def drain(self) -> None:
        """Process everything queued (runs in the worker thread)."""

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued is processed; return whether it finished in time."""
        deadline = time.monotonic() + timeout_s
        while self._queue or not self._idle.is_set():
            self._wake.set()
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Process what is queued (bounded in time), then stop the thread."""
        self.flush(timeout_s)
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        lower_thread_priority()
        while True:
            self._wake.wait(self._interval_s)
            self._wake.clear()
            if self._queue or self._has_work():
                self.drain()
            self._idle.set()
            if self._stop.is_set() and not self._queue:
                return
