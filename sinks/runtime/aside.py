"""Work done aside: results computed on a low-priority thread while the run's passes go on.

A pass over the tiles leaves part of a core idle, and the stages after the last pass run
on both cores.  What a later stage will need and can be known earlier (the accuracy of an
epoch whose land cover is written, the sink of a period whose epochs are) is computed on
one background thread while the next pass runs.  On Linux the thread lowers its own
scheduling priority (nice 19, which only that thread takes, and the threads it starts
inherit), so it runs on what the pass leaves idle instead of slowing it.

Each result is kept under a key; the stage that needs it takes it
(:meth:`AsideWork.take`), which waits for the work queued so far.  A job that fails
stores nothing (the error is logged at debug level): the stage that finds no result
under its key computes the value itself, and reports its errors as it always did.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Hashable

__all__ = ["AsideWork", "lower_thread_priority", "MISSING"]

log = logging.getLogger("sinks")

#: What :meth:`AsideWork.take` returns for a key nothing was computed under.
MISSING: Any = object()

#: The nice value of the background thread (the lowest priority).
NICE = 19


def lower_thread_priority(nice: int = NICE) -> bool:
    """Give the calling thread (only) the scheduling priority ``nice``; whether it could.

    Linux keeps a nice value per thread, so ``setpriority`` on the thread's id leaves the
    process's other threads as they are.  Elsewhere the call would change the whole
    process's priority, so it is not made.
    """
    if not sys.platform.startswith("linux") or not hasattr(os, "setpriority"):
        return False
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError:  # pragma: no cover - a sandbox that forbids it
        return False
    return True


class AsideWork:
    """Keyed results computed one job at a time on a background thread of low priority.

    Examples
    --------
    >>> work = AsideWork()
    >>> work.submit(lambda put: put("answer", 42))
    >>> work.take("answer")
    42
    >>> work.take("other") is MISSING
    True
    >>> work.close()
    """

    def __init__(self) -> None:
        self._results: dict[Hashable, Any] = {}
        self._lock = threading.Lock()
        self._jobs: list[Future] = []
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, job: Callable[[Callable[..., None]], None]) -> None:
        """Queue ``job(put)``; it stores each result with ``put(key, value)``.

        An exception that escapes ``job`` is logged at debug level and dropped: the
        stages then compute what the job did not store.
        """
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="sinks-aside", initializer=lower_thread_priority)
        self._jobs.append(self._pool.submit(self._run, job))

    def _run(self, job: Callable[[Callable[..., None]], None]) -> None:
        try:
            job(self._put)
        except Exception as exc:  # noqa: BLE001 - the stage computes it again and reports its own errors
            log.debug("work done aside stopped: %s: %s", type(exc).__name__, exc)

    def _put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._results[key] = value

    def peek(self, key: Hashable) -> Any:
        """The value an earlier job stored under ``key`` (``MISSING`` if none), for a
        later job; does not wait."""
        with self._lock:
            return self._results.get(key, MISSING)

    def take(self, key: Hashable) -> Any:
        """The value computed under ``key`` (waiting for the queued jobs), removed from the
        store; ``MISSING`` if none."""
        self.wait()
        with self._lock:
            return self._results.pop(key, MISSING)

    def wait(self) -> None:
        """Wait for every queued job."""
        wait(list(self._jobs))

    def close(self) -> None:
        """Wait for the jobs, stop the thread and forget every result."""
        self.wait()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._jobs.clear()
        with self._lock:
            self._results.clear()
