"""The process's heap: fewer malloc arenas, and freed memory given back between stages.

An epoch pass allocates and frees thousands of block arrays of a few megabytes on
several threads.  glibc's allocator keeps most of that memory once it is freed, in its
per-thread arenas (after a pass at 100 Mpx: ~70 MB in use, ~400 MB free but held), so
the stages that follow (encroachment search, tables) would start from the pass's high
water mark.  ``malloc_trim(0)`` returns the free pages; dask.distributed's workers
do the same.  :func:`few_malloc_arenas` (the command line calls it first) caps the
arenas themselves.  Elsewhere than glibc both do nothing.  :func:`tune_collector`
keeps Python's cyclic collector off the objects that were there before a run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import os
import sys
from typing import Any

__all__ = ["release_free_memory", "few_malloc_arenas", "tune_collector", "GC_GEN0_THRESHOLD"]

log = logging.getLogger("sinks")


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
        return libc
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


def release_free_memory() -> bool:
    """Return the allocator's free pages to the OS (glibc ``malloc_trim``); ``True`` if any were."""
    libc = _libc()
    if libc is None:
        return False
    released = bool(libc.malloc_trim(0))
    log.debug("malloc_trim: %s", "memory released" if released else "nothing to release")
    return released


def few_malloc_arenas(limit: int = 2) -> None:
    """Cap glibc's malloc arenas (as ``MALLOC_ARENA_MAX`` would) unless the user chose a value.

    Each thread that meets a busy arena gets a new one, and large numpy blocks freed in
    one arena are not reused by another: with dask's threads the process then grows with
    the raster.  Two arenas keep the peak flat and cost nothing in speed.  Only the
    command line calls this; a library import never changes the process's allocator.
    """
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, limit)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc
        pass


#: Allocations between the cyclic collector's youngest-generation passes in a run
#: (Python's default is 700): task graphs are built from hundreds of thousands of small
#: tuples, few of them in cycles.
GC_GEN0_THRESHOLD = 20_000


def tune_collector() -> None:
    """Keep Python's cyclic collector off what a run never frees, and less often on the rest.

    Every object alive now (the imported modules of numba, pandas, GDAL's bindings:
    millions of objects that never become garbage) moves into the collector's permanent
    generation, which full collections skip; the youngest generation is collected every
    :data:`GC_GEN0_THRESHOLD` allocations instead of 700.  A collection holds the GIL that
    dask's threads wait for, and at 100 Mpx per date these took about 1 CPU-second of a
    run.  Only the command line and the child processes call this; a library import leaves
    the collector alone.
    """
    gc.collect()
    gc.freeze()
    _g0, g1, g2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, g1, g2)
