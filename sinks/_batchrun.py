"""Running a batch's region jobs on threads or a dask.distributed cluster, stoppable with Ctrl-C.

On ``KeyboardInterrupt`` the queued regions are cancelled; regions already running
stop at their next dask task or stage (a cancellation event they check) or finish, and
the caller writes the batch table of what finished.  On a local cluster the workers are
closed, which stops the regions they run; on a remote cluster the queued regions are
cancelled and the running ones are no longer waited for.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, Callable, Iterator

__all__ = ["BatchInterrupted", "run_threads", "run_distributed", "INTERRUPTED"]

log = logging.getLogger("sinks")

#: Error text of the regions that an interrupt left unfinished.
INTERRUPTED = "interrupted before it finished"

#: Seconds the running regions get to stop after Ctrl-C before the batch table is written anyway.
STOP_GRACE_S = 10.0


class BatchInterrupted(KeyboardInterrupt):
    """A batch stopped by Ctrl-C after writing the table of what finished (the message says so)."""


@contextmanager
def _cancel_checks(cancel: threading.Event) -> Iterator[None]:
    """Make every dask task started while ``cancel`` is set raise :class:`sinks.pipeline.Cancelled`."""
    from dask.callbacks import Callback

    from .pipeline import Cancelled

    def pretask(key: Any, dsk: Any, state: Any) -> None:
        if cancel.is_set():
            raise Cancelled("batch interrupted")

    with Callback(pretask=pretask):
        yield


def run_threads(jobs: list[tuple[Any, ...]], submit: Callable[..., Any], *, record: Callable[..., None],
                threads: int) -> bool:
    """Run ``submit(job, cancel)`` for each job on ``threads`` threads, recording each result.

    Returns
    -------
    bool
        Whether Ctrl-C stopped the batch (then the unfinished jobs were not recorded).
    """
    cancel = threading.Event()
    ex = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sinks-region")
    futs: dict[Any, tuple[Any, ...]] = {}
    interrupted = False
    try:
        with _cancel_checks(cancel):
            futs = {ex.submit(submit, job, cancel): job for job in jobs}
            pending = set(futs)
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        record(futs[fut], fut.result())
            except KeyboardInterrupt:
                interrupted = True
                cancel.set()
                for fut in pending:
                    fut.cancel()
                running = {f for f in pending if not f.cancelled()}
                log.info("interrupted: %d queued region(s) cancelled, waiting for %d running",
                            len(pending) - len(running), len(running))
                deadline = time.monotonic() + STOP_GRACE_S
                while running and time.monotonic() < deadline:
                    try:
                        done, running = wait(running, timeout=max(0.0, deadline - time.monotonic()),
                                             return_when=FIRST_COMPLETED)
                    except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
                        break
                    for fut in done:
                        record(futs[fut], fut.result())
    finally:
        cancel.set()
        ex.shutdown(wait=not interrupted, cancel_futures=True)
    return interrupted


def _shared(state: Any) -> Any:
    """Task: the batch's shared state (the prepared scene), held on a worker for the regions."""
    return state


def run_distributed(jobs: list[tuple[Any, ...]], submit: Callable[..., Any], *, record: Callable[..., None],
                    address: str | None, workers: int | None, base: Any, client: Any = None) -> bool:
    """Run the jobs on a dask.distributed cluster: ``client``'s (left open), the one at
    ``address``, or a local one of ``workers`` processes.

    ``submit(client, job, shared_base)`` returns a future.  The shared state is submitted
    as a task (not scattered), so a cluster without workers yet (adaptive, from zero)
    runs the batch once workers join instead of failing.  Returns whether Ctrl-C
    stopped the batch.
    """
    from distributed import Client, LocalCluster, as_completed as d_as_completed

    import dask

    from .remote import forward_to_workers

    cluster = None
    own = client is None
    if client is not None:
        pass
    elif address:
        from .cluster import connect

        client = connect(address)
    else:
        # dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in workers; that fixed threshold
        # also turns off glibc's adaptive mmap threshold, so every array above 128 KiB is
        # mmapped and page-faulted afresh: measured +0.09 s of system time per region.
        # Regions are short-lived tasks with bounded memory; keep the one-thread BLAS.
        environ = {k: v for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ") or {}).items()
                   if k != "MALLOC_TRIM_THRESHOLD_"}
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            cluster = LocalCluster(n_workers=int(workers or 1), threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                   silence_logs=logging.ERROR)
        client = Client(cluster)
    interrupted = False
    futs: dict[Any, tuple[Any, ...]] = {}
    try:
        forward_to_workers(client)  # GDAL's credentials and endpoints, on workers that join later too
        if not client.scheduler_info().get("workers"):
            log.info("the cluster has no worker yet: the regions wait for workers to join (an adaptive "
                     "cluster starts them for the queued regions)")
        shared = client.submit(_shared, base, pure=False, key=f"sinks-batch-state-{uuid.uuid4().hex[:12]}")
        futs = {submit(client, job, shared): job for job in jobs}
        try:
            for f in d_as_completed(list(futs), loop=client.loop):
                try:
                    res = f.result()
                except Exception as exc:  # noqa: BLE001 - worker died etc.
                    res = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "seconds": 0.0,
                           "indicators": {}}
                record(futs[f], res)
        except KeyboardInterrupt:
            interrupted = True
            # the scheduler logs the workers' shutdown as errors (lost scattered data): expected here
            quiet = logging.getLogger("distributed")
            level, quiet.level = quiet.level, logging.CRITICAL
            left = [f for f in futs if not f.done()]
            log.info("interrupted: cancelling %d region(s) on the cluster", len(left))
            try:
                client.cancel(left)
            except Exception:  # noqa: BLE001 - the client may already be closing
                pass
            for f in futs:  # regions that finished meanwhile still count
                if f.status == "finished":
                    try:
                        record(futs[f], f.result(timeout=1))
                    except Exception:  # noqa: BLE001
                        pass
    finally:
        if own:
            client.close()
        if cluster is not None:
            cluster.close()
        if interrupted:
            logging.getLogger("distributed").setLevel(level)
    return interrupted


def cpu_threads() -> int:
    """Threads for regions on the local machine: one per core."""
    return max(1, os.cpu_count() or 1)
