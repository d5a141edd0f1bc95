"""The pixel budget: how large a raster one command may process, checked before any graph is built.

A GeoTIFF header can claim any size: a sparse 46 MB file declaring 10⁶ × 10⁶ pixels
would make sinks build a graph of a million blocks per layer and run for hours.  Every
command that computes over a whole raster (``run``, each ``batch`` region, ``classify``,
``train``, ``carbon``, and ``validate``, which reports it) first compares the pixels it
would process with the budget and stops with exit status 2, naming the raster and its
size, when they exceed it.

The default, :data:`DEFAULT_MAX_PIXELS` = 4 × 10⁹ pixels per layer (a 63,000-pixel
square: 630 km at 10 m), is sized for a 2-core machine with 24 GB of memory: ten times the
largest measured run (400 Mpx per date in about 200 s and 0.8 GB, ``docs/scaling.md``), so
a run at the budget takes some 35 minutes and its graph a few hundred MB.  Larger areas
run as a batch over regions or map sheets, whose grids are each checked.  Override with
``--max-pixels N`` (on the commands above) or the ``SINKS_MAX_PIXELS`` environment variable.

Graph building also stays bounded within the budget: :func:`bounded_chunks` widens the
dask chunks of a large grid so that no layer has more than :data:`MAX_BLOCKS` blocks,
whatever ``grid.chunks`` asks for.

``grid.chunks: auto`` (the default) picks the block size with :func:`auto_chunks`: 2048
px where the grid still gives every thread several blocks and the threads' blocks in
flight fit in a quarter of the machine's memory, else 1024.  Larger blocks mean a
quarter of the tasks and of the halo pixels the sieve reads twice; the outputs are the
same either way.
"""

from __future__ import annotations

import logging
import math
import os

from .errors import ConfigError, InputError

__all__ = ["DEFAULT_MAX_PIXELS", "MAX_BLOCKS", "ENV", "PixelBudgetError", "max_pixels", "parse_pixels",
           "check_pixels", "bounded_chunks", "AUTO_CHUNK_SIZES", "auto_chunks", "thread_working_set",
           "machine_memory", "local_threads"]

log = logging.getLogger("sinks")

#: Default largest number of pixels (rows × columns) of one layer.
DEFAULT_MAX_PIXELS = 4_000_000_000
#: Most dask blocks per layer that a graph is built with (chunks are widened beyond it).
MAX_BLOCKS = 16_384
#: Environment variable overriding the budget.
ENV = "SINKS_MAX_PIXELS"
#: Block sizes ``grid.chunks: auto`` chooses from, largest first.
AUTO_CHUNK_SIZES = (2048, 1024)
#: Fewest blocks per thread a size must leave the grid: with fewer, threads idle at the
#: end of each pass while the last large blocks finish.
MIN_BLOCKS_PER_THREAD = 4
#: Bytes per pixel of the single-band layers a block carries beside its bands (land cover
#: before and after the sieve, carbon density, change, masks, halos).
LAYER_BYTES = 20
#: Copies of a block's data one thread holds in flight (the block read, the layers made
#: from it, their compressed tiles).
IN_FLIGHT = 3


class PixelBudgetError(InputError, ValueError):
    """A raster (or target grid) has more pixels than the budget allows."""


def parse_pixels(value: str | int | float, *, source: str = ENV) -> int:
    """A pixel count from ``"4e9"``, ``"4000000000"`` or ``"4_000_000_000"``; positive."""
    try:
        n = float(str(value).replace("_", "").replace(",", ""))
    except ValueError:
        raise ConfigError(f"{source}: not a number of pixels: {value!r}") from None
    if not math.isfinite(n) or n < 1:
        raise ConfigError(f"{source}: the pixel budget must be a positive number, got {value!r}")
    return int(n)


def max_pixels() -> int:
    """The budget in force: ``SINKS_MAX_PIXELS`` when set, otherwise :data:`DEFAULT_MAX_PIXELS`."""
    env = os.environ.get(ENV, "").strip()
    return parse_pixels(env) if env else DEFAULT_MAX_PIXELS


def check_pixels(width: int, height: int, *, what: str, hint: str = "") -> None:
    """Raise :class:`PixelBudgetError` when a ``width`` × ``height`` raster exceeds the budget.

    Parameters
    ----------
    width, height : int
        Columns and rows.
    what : str
        The raster or grid, for the message (a file name, ``"target grid"`` ...).
    hint : str
        What to do instead (appended to the message).
    """
    n = int(width) * int(height)
    budget = max_pixels()
    if n > budget:
        raise PixelBudgetError(f"{what}: {int(width):,} x {int(height):,} pixels ({n:.3g}) is over the pixel "
                               f"budget of {budget:.3g}; {hint + ', or ' if hint else ''}raise the budget with "
                               f"--max-pixels or {ENV} if this machine can take it")


def bounded_chunks(width: int, height: int, chunks: int) -> int:
    """``chunks`` widened (to a multiple of 256) so a ``width`` × ``height`` layer has at most
    :data:`MAX_BLOCKS` blocks."""
    blocks = math.ceil(width / chunks) * math.ceil(height / chunks)
    if blocks <= MAX_BLOCKS:
        return chunks
    size = chunks
    while math.ceil(width / size) * math.ceil(height / size) > MAX_BLOCKS:
        size = (size // 256 + 1) * 256 if size >= 256 else 256
    log.info("chunks of %d px would cut a %d x %d grid into %d blocks; using %d px", chunks, width, height, blocks,
             size)
    return size


def thread_working_set(size: int, *, acquisitions: int, bands: int) -> int:
    """Bytes one thread holds in flight at blocks of ``size`` px: ``acquisitions`` × ``bands``
    float32 values plus :data:`LAYER_BYTES` per pixel, :data:`IN_FLIGHT` times over
    (about 210 MB at 1024 px and 860 MB at 2048 px for two acquisitions of six bands)."""
    return int(size) * int(size) * (max(int(acquisitions), 1) * max(int(bands), 1) * 4 + LAYER_BYTES) * IN_FLIGHT


def machine_memory() -> int:
    """Bytes of memory this process may use: the physical memory, or a smaller cgroup limit
    (a container's); 0 where neither can be read."""
    total = 0
    try:
        total = int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # not POSIX
        try:
            import psutil

            total = int(psutil.virtual_memory().total)
        except Exception:  # noqa: BLE001 - psutil missing or unsupported here
            total = 0
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as fh:
                value = fh.read().strip()
        except OSError:
            continue
        if value.isdigit() and 0 < int(value) < (total or 1 << 62):
            total = int(value)
    return total


def local_threads() -> int:
    """Threads of dask's local scheduler: its ``num_workers`` setting, else the CPUs this
    process may run on (dask's own count, which honours affinity and cgroup quotas)."""
    import dask
    from dask.system import CPU_COUNT

    n = dask.config.get("num_workers", None)
    return int(n) if isinstance(n, int) and not isinstance(n, bool) and n > 0 else int(CPU_COUNT)


def auto_chunks(width: int, height: int, *, acquisitions: int, bands: int, threads: int | None = None,
                memory: int | None = None) -> tuple[int, str]:
    """The block size ``grid.chunks: auto`` gives a ``width`` × ``height`` grid, and why.

    The largest of :data:`AUTO_CHUNK_SIZES` that leaves at least
    :data:`MIN_BLOCKS_PER_THREAD` blocks per thread and whose working set
    (:func:`thread_working_set`) times the threads fits in a quarter of ``memory``; the
    smallest size otherwise.  ``threads`` and ``memory`` default to this machine's
    (:func:`local_threads`, :func:`machine_memory`).

    Returns
    -------
    (int, str)
        The size in pixels and a sentence saying why, for the log.
    """
    threads = local_threads() if threads is None else max(int(threads), 1)
    memory = machine_memory() if memory is None else int(memory)
    for size in AUTO_CHUNK_SIZES[:-1]:
        blocks = math.ceil(width / size) * math.ceil(height / size)
        need = threads * thread_working_set(size, acquisitions=acquisitions, bands=bands)
        if blocks >= MIN_BLOCKS_PER_THREAD * threads and memory > 0 and need <= memory / 4:
            return size, (f"chunks auto: {size} px ({blocks} blocks for {threads} thread(s); "
                          f"{need / 2**30:.1f} GiB in flight of {memory / 2**30:.1f} GiB memory)")
    size = AUTO_CHUNK_SIZES[-1]
    return size, f"chunks auto: {size} px ({threads} thread(s), {memory / 2**30:.1f} GiB memory)"
