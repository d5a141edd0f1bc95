"""The process's heap: fewer malloc arenas, block arrays reused, freed memory given back between stages.

An epoch pass allocates and frees thousands of block arrays of a few megabytes on
several threads.  glibc's allocator keeps most of that memory once it is freed, in its
per-thread arenas (after a pass at 100 Mpx: ~70 MB in use, ~400 MB free but held), so
the stages that follow (encroachment search, tables) would start from the pass's high
water mark.  ``malloc_trim(0)`` returns the free pages; dask.distributed's workers
do the same.  :func:`tune_allocator` (the command line calls it first) caps the
arenas themselves and keeps block arrays on the heap, where a freed block's pages serve
the next one, rather than in memory maps of their own that the kernel must fault in and
zero afresh for every block.  Elsewhere than glibc both do nothing.
:func:`tune_collector` keeps Python's cyclic collector off the objects that were there
before a run.
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

__all__ = ["release_free_memory", "tune_allocator", "tune_collector", "GC_GEN0_THRESHOLD", "MMAP_THRESHOLD",
           "TRIM_THRESHOLD"]

log = logging.getLogger("sinks")


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        try:
            libc = ctypes.CDLL("libc.so.6")  # glibc's name (find_library would run ldconfig)
        except OSError:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
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


#: Allocations from this size up get memory maps of their own (glibc's
#: ``M_MMAP_THRESHOLD``) in a run: above any block array a pass makes (a 2048² block of
#: 2 acquisitions × 6 bands is 200 MB as float32).
MMAP_THRESHOLD = 1 << 30
#: Free memory at the top of the heap that glibc keeps rather than giving back at once
#: (``M_TRIM_THRESHOLD``) in a run: room for a few block arrays; the passes give the rest
#: back themselves (:func:`release_free_memory`) when they end.  At 400 Mpx per date a run
#: peaked at 1.69 GB with 256 MiB, 1.64 GB with 64 MiB (and no less system time than
#: glibc's default) and 1.87 GB with 1 GiB.
TRIM_THRESHOLD = 256 << 20
#: Each parameter's ``mallopt`` number and the environment variable with which a user sets
#: it (a value set there wins).
_PARAMS = {"M_ARENA_MAX": (-8, "MALLOC_ARENA_MAX"), "M_MMAP_THRESHOLD": (-3, "MALLOC_MMAP_THRESHOLD_"),
           "M_TRIM_THRESHOLD": (-1, "MALLOC_TRIM_THRESHOLD_")}


def tune_allocator(*, arenas: int = 2, mmap_threshold: int = MMAP_THRESHOLD,
                   trim_threshold: int = TRIM_THRESHOLD) -> dict[str, int]:
    """Set glibc's allocator for a run; returns the parameters it set.

    * ``arenas`` caps the malloc arenas (``M_ARENA_MAX``).  Each thread that meets a
      busy arena gets a new one, and large numpy blocks freed in one arena are not reused
      by another: with dask's threads the process then grows with the raster.  Two
      arenas keep the peak flat and cost nothing in speed.
    * ``mmap_threshold`` and ``trim_threshold`` keep block arrays on the heap.  By
      default glibc gives every allocation above 32 MiB (less before its threshold adapts)
      a memory map of its own and unmaps it when it is freed, so the kernel faults in
      and zeroes the pages of every block anew; a 100 Mpx run spent about 1 CPU-second
      in that.  Held on the heap, a freed block's pages serve the next block, and the
      passes give the free pages back when they end (:func:`release_free_memory`).
      The price is memory: about 190 MB more at the peak of a 400 Mpx run.  In
      an arena other than the first, glibc still maps blocks above 64 MiB on their own.

    A parameter the user set in the environment (``MALLOC_ARENA_MAX``,
    ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_`` or any ``GLIBC_TUNABLES``
    entry of ``glibc.malloc``) is left as they set it.  Only the command line calls
    this; a library import never changes the process's allocator.
    """
    libc = _libc()
    if libc is None:
        return {}
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    wanted = {"M_ARENA_MAX": arenas, "M_MMAP_THRESHOLD": mmap_threshold, "M_TRIM_THRESHOLD": trim_threshold}
    done: dict[str, int] = {}
    for name, value in wanted.items():
        number, env = _PARAMS[name]
        if os.environ.get(env) or "glibc.malloc." in tunables:
            continue
        try:
            if libc.mallopt(number, int(value)) == 1:
                done[name] = int(value)
        except ctypes.ArgumentError:  # beyond a C int: left as glibc has it
            continue
    if done:
        log.debug("allocator: %s", ", ".join(f"{k}={v}" for k, v in done.items()))
    return done


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
