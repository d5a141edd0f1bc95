"""Compile the kernels once per machine, in parallel, before a run needs them.

numba compiles a kernel the first time it is called with new argument types and keeps
the machine code on disk (``cache=True``), so only the first run on a machine pays for
it.  One process compiles one kernel at a time (numba holds a compiler lock), so a run
that met every kernel cold would compile them one after another on one core.
:func:`compile_in_background` instead starts two child processes that compile the
specialisations a pipeline run uses (:data:`GROUPS`), each on its own core, while the
run reads its spec, tiles and AOI; :func:`wait` then blocks until they finish, and the
run's own calls load the machine code from the cache.  A specialisation not listed
(another dtype, more acquisitions per epoch) still compiles in the run as before.

``python -m sinks._kernels.warm`` (:func:`compile_all`) compiles every group ahead of
any run; ``make`` does so when it installs ``.venv``, so a fresh clone's first run
finds the kernels in the cache.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["ALL_AT_ONCE", "GROUPS", "cached", "cancel", "compile_all", "compile_group", "compile_in_background", "wait"]

log = logging.getLogger("sinks")

_HERE = Path(__file__).resolve().parent


def _rules_float() -> None:
    from .rules import COUNT_NAMES, THRESHOLD_NAMES, rules_block

    scenes = [np.full((6, 4, 4), 0.1, np.float32) for _ in range(2)]
    rules_block(scenes, roles=range(6), coastal=None, codes=np.arange(1, 10, dtype=np.uint8),
                thresholds=np.zeros(len(THRESHOLD_NAMES), np.float32), counts=np.zeros(len(COUNT_NAMES)))


def _rules_dn() -> None:
    from .rules import COUNT_NAMES, THRESHOLD_NAMES, rules_block

    scenes = [np.full((6, 4, 4), 1000, np.uint16) for _ in range(2)]
    rules_block(scenes, roles=range(6), coastal=None, codes=np.arange(1, 10, dtype=np.uint8),
                thresholds=np.zeros(len(THRESHOLD_NAMES), np.float32), counts=np.zeros(len(COUNT_NAMES)),
                decode=([1e-4, 1e-4], [0.0, 0.0], 0))


def _mosaic() -> None:
    from .mosaic import blank_unfilled, contains_value, fill_first_valid, fill_first_valid_dn

    out = np.full((6, 4, 4), np.nan, np.float32)
    filled = np.zeros((4, 4), bool)
    data = np.ones((6, 4, 4), np.uint16)
    fill_first_valid(out, filled, data, nodata=np.zeros(6, np.uint16), scale=1e-4, offset=0.0, first=True)
    blank_unfilled(out, filled)
    fill_first_valid_dn(np.zeros((6, 4, 4), np.uint16), np.zeros((4, 4), bool), data, nodata=0)
    contains_value(data, 0)


def _sieve() -> None:
    from .label import label_equal
    from .sieve import sieve_class

    block = np.ones((4, 4), np.uint8)
    sieve_class(block, block.copy(), code=1, min_pixels=2, nodata=0)
    label_equal(block)


def _codes() -> None:
    from .codes import combine_codes, hist2_u8, hist_u8, pair_codes, take_u8, tile_hist

    a = np.ones((4, 4), np.uint8)
    hist_u8(a, np.ones(4))
    hist2_u8(a, a, np.ones(4))
    pair_codes(a, a, np.zeros(256, np.uint8))
    combine_codes([a, a, a], np.zeros((3, 256), np.int32), 16)
    tile_hist(a, a, np.zeros(256, np.uint8), base=2, row_offset=0, col_offset=0, tile=2)
    tile_hist(a, None, np.zeros(256, np.uint8), base=2, row_offset=0, col_offset=0, tile=2)
    for dtype in (np.float32, np.float64):
        take_u8(np.zeros(256, dtype), a)


def _blocks() -> None:
    from .blocks import place_tile

    for dtype in (np.uint8, np.uint16):
        out = np.zeros((2, 4, 4), dtype)
        place_tile(np.ones(32, dtype), out, samples=2, src=np.arange(2), dst=np.arange(2), dy=0, dx=0,
                   tile_shape=(4, 4), predictor=2)
        out = np.zeros((1, 4, 4), dtype)  # as do one-sample tiles and six-sample stacks
        place_tile(np.ones(16, dtype), out, samples=1, src=np.arange(1), dst=np.arange(1), dy=0, dx=0,
                   tile_shape=(4, 4), predictor=2)
        out = np.zeros((6, 4, 4), dtype)
        place_tile(np.ones(96, dtype), out, samples=6, src=np.arange(6), dst=np.arange(6), dy=0, dx=0,
                   tile_shape=(4, 4), predictor=2)


def _rake() -> None:
    from .rake import rake_steps

    rake_steps(np.ones((2, 2, 3)), np.ones((2, 3)), np.ones((2, 3)), 1, 1e-10, True)


#: Kernel groups compiled side by side, about the same compile time each: the rule kernel
#: for reflectance (``rules``) or digital numbers (``rules_dn``), and the others.
GROUPS: dict[str, list[Callable[[], None]]] = {
    "rules": [_rules_float],
    "rules_dn": [_rules_dn],
    "pixels": [_mosaic, _sieve, _codes, _rake, _blocks],
}


def cached() -> bool:
    """Whether every kernel module has compiled machine code on disk for this Python
    (numba's index files, named ``<function>-<line>.py<major><minor>.nbi``), written
    since its source last changed."""
    tag = f"*.py{sys.version_info.major}{sys.version_info.minor}.nbi"
    where = os.environ.get("NUMBA_CACHE_DIR")
    if where:  # numba mirrors the package path below the cache folder
        base = Path(where)
        found = glob.glob(str(base / "**" / "*_kernels*" / tag), recursive=True)
    else:
        found = glob.glob(str(_HERE / "__pycache__" / tag))
    names = {Path(f).name.split("-")[0] for f in found
             if _current(Path(f), _HERE / (Path(f).name.split(".")[0] + ".py"))}
    need = {"rules._classify", "mosaic._fill", "mosaic._blank", "mosaic._contains", "sieve._sieve",
            "label._label_equal",
            "codes._hist", "codes._hist2", "codes._pair", "codes._combine", "codes._tile_hist", "codes._take", "rake.rake_steps", "blocks._place",
            "blocks._place1", "blocks._place6"}
    return need <= names


def _current(index: Path, source: Path) -> bool:
    """Whether numba's index file ``index`` was written for ``source`` as it is now.

    numba keys its cache on a SHA-256 digest of the kernel's source file (older releases:
    on its modification time), which it stores in the index, a pickle of which the
    digest's 32 bytes are part verbatim: the file is read as bytes and searched, never
    unpickled.  An index with neither today's digest nor a time after the source's last
    change counts as not compiled.
    """
    try:
        return (hashlib.sha256(source.read_bytes()).digest() in index.read_bytes()
                or index.stat().st_mtime > source.stat().st_mtime)
    except OSError:
        return False


def compile_group(name: str) -> None:
    """Compile the specialisations of one group (:data:`GROUPS`) in this process."""
    for fn in GROUPS[name]:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - the run compiles what this could not, and reports errors itself
            log.debug("warming %s.%s failed: %s", name, fn.__name__, exc)


_CHILDREN: list[subprocess.Popen] = []
#: What a compiling child process runs (its arguments: groups' names, compiled in turn).
_CHILD = "import sys; from sinks._kernels.warm import compile_group; [compile_group(n) for n in sys.argv[1:]]"

#: The groups :func:`compile_all` compiles, one child process per tuple.  The two rule
#: groups compile specialisations of one kernel, whose index file in numba's cache each
#: process rewrites from what it has seen: two processes compiling them at once leave the
#: index naming only one of them, so they share a process.
ALL_AT_ONCE: tuple[tuple[str, ...], ...] = (("rules", "rules_dn"), ("pixels",))


def _spawn(*names: str, quiet: bool) -> subprocess.Popen:
    """A child process compiling the groups ``names`` one after another; ``quiet`` discards
    its output (a run's background compile), otherwise it goes to this process's terminal
    (make's install step)."""
    out = subprocess.DEVNULL if quiet else None
    return subprocess.Popen([sys.executable, "-c", _CHILD, *names], stdin=subprocess.DEVNULL, stdout=out, stderr=out)


def compile_in_background(*, digital_numbers: bool = True) -> bool:
    """Start two child processes compiling the kernels, unless they are cached.

    ``digital_numbers``: the run classifies the tiles' digital numbers (the rule kernel's
    integer specialisation) rather than float32 reflectance.  Returns whether compilation
    started (the caller may say so once).  Single-core machines compile in the run.
    """
    if _CHILDREN or cached() or (os.cpu_count() or 1) < 2:
        return False
    for name in ("rules_dn" if digital_numbers else "rules", "pixels"):
        _CHILDREN.append(_spawn(name, quiet=True))
    return True


def compile_all() -> float:
    """Compile every group (:data:`GROUPS`) now, in the child processes of
    :data:`ALL_AT_ONCE` (two at a time), and return the seconds it took; a group whose
    child fails is compiled by the first run that needs it (as without this step)."""
    t0 = time.perf_counter()
    width = max(1, min(2, os.cpu_count() or 1))
    for start in range(0, len(ALL_AT_ONCE), width):
        procs = [_spawn(*names, quiet=False) for names in ALL_AT_ONCE[start:start + width]]
        for proc in procs:
            proc.wait()
    return time.perf_counter() - t0


def wait() -> None:
    """Block until the compiling children (if any) have finished."""
    while _CHILDREN:
        _CHILDREN.pop().wait()


def cancel() -> None:
    """Stop the compiling children (a run that failed before it needed the kernels).

    numba writes its cache files under a temporary name and renames them, so a child stopped
    mid-compile leaves no half-written kernel behind; the next run compiles again.
    """
    while _CHILDREN:
        child = _CHILDREN.pop()
        child.terminate()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


if __name__ == "__main__":
    if cached():
        print("numba kernels: already compiled for this machine")
    else:
        seconds = compile_all()
        state = "compiled" if cached() else "not all compiled (a run compiles the rest)"
        print(f"numba kernels: {state} for this machine in {seconds:.0f} s")
