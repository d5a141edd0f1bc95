"""Run manifests: inputs with sizes and hashes, the resolved spec, versions, timings."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from ._versions import versions

__all__ = ["sha256_file", "describe_inputs", "hash_in_background", "Timer", "manifest_dict"]


def sha256_file(path: str | os.PathLike, *, bufsize: int = 1 << 20) -> str:
    """SHA-256 of a file, streamed through one reused buffer.

    Remembered per (path, size, modification and change time, inode) within a process,
    so the regions of a batch do not hash the same tiles again, and across runs in the
    checksum cache on disk (:mod:`sinks.hashcache`; off with ``SINKS_CACHE_DIR=off``).
    A file rewritten in place moves its change time, so it is hashed again.
    """
    from . import hashcache

    st = os.stat(path)
    key = (os.path.abspath(path), *hashcache.stamp(st))
    with _LOCK:
        if key in _HASHES:
            return _HASHES[key]
    digest = hashcache.lookup(path, st)
    if digest is None:
        h = hashlib.sha256()
        buf = bytearray(bufsize)
        view = memoryview(buf)
        with open(path, "rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                h.update(view[:n])
        digest = h.hexdigest()
        if hashcache.stamp(os.stat(path)) == hashcache.stamp(st):  # not changed while it was read
            hashcache.remember(path, st, digest)
    with _LOCK:
        _HASHES[key] = digest
    return digest


_HASHES: dict[tuple[Any, ...], str] = {}
_LOCK = threading.Lock()


def describe_inputs(paths: Iterable[str | os.PathLike], *, threads: int = 2) -> list[dict]:
    """``[{"path", "bytes", "sha256"}]`` for every distinct input file, hashed in parallel."""
    uniq = sorted({str(Path(p)) for p in paths})
    with ThreadPoolExecutor(max_workers=max(1, threads)) as ex:
        hashes = list(ex.map(sha256_file, uniq))
    return [{"path": p, "bytes": os.path.getsize(p), "sha256": h} for p, h in zip(uniq, hashes)]


def hash_in_background(paths: Iterable[str | os.PathLike]) -> threading.Thread:
    """Hash ``paths`` on a daemon thread, filling the per-process cache of :func:`sha256_file`.

    A run starts this before computing, so the hashes its manifest needs are ready (or
    nearly) when it finishes, instead of costing a serial pass over every input at the
    end.  Errors are left for :func:`describe_inputs` to raise.
    """
    files = sorted({str(Path(p)) for p in paths})

    def work() -> None:
        for p in files:
            try:
                sha256_file(p)
            except OSError:
                pass

    thread = threading.Thread(target=work, name="sinks-hash-inputs", daemon=True)
    thread.start()
    return thread


def _cpu_now() -> tuple[float, float]:
    """CPU seconds (user + system) used so far by this process (all its threads) and by
    the child processes it has waited for."""
    try:
        import resource
    except ImportError:  # not POSIX: the process's own CPU only
        return time.process_time(), 0.0
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


class Timer:
    """Collect wall-clock and CPU timings per named stage.

    ``timings`` holds wall seconds; ``cpu`` holds, per stage, the CPU seconds of this
    process (every thread: dask's workers, GDAL's, the background hashing) and of the
    child processes collected during the stage (the zonal tables' children are counted
    in the stage that waits for them).  A stage named ``outer.inner`` runs inside
    ``outer`` and is included in its figures.
    """

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.cpu: dict[str, dict[str, float]] = {}
        self._t0 = time.perf_counter()
        self._cpu0 = _cpu_now()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        own, kids = _cpu_now()
        try:
            yield
        finally:
            own2, kids2 = _cpu_now()
            self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t, 4)
            acc = self.cpu.setdefault(name, {"process": 0.0, "children": 0.0})
            acc["process"] = round(acc["process"] + own2 - own, 3)
            acc["children"] = round(acc["children"] + kids2 - kids, 3)

    @property
    def total(self) -> float:
        return round(time.perf_counter() - self._t0, 4)

    def cpu_total(self) -> dict[str, float]:
        """CPU seconds since the timer was made, of this process and of its waited-for children."""
        own, kids = _cpu_now()
        return {"process": round(own - self._cpu0[0], 3), "children": round(kids - self._cpu0[1], 3)}


def manifest_dict(*, spec: dict, spec_path: str, inputs: list[dict], outputs: list[str],
                  timings: dict[str, float], total_s: float, cpu: dict[str, dict[str, float]] | None = None,
                  extra: dict | None = None) -> dict:
    """Assemble the manifest mapping (``cpu``: CPU seconds per stage, see :class:`Timer`)."""
    out = {
        "sinks_manifest_version": 1,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "spec_path": spec_path,
        "spec": spec,
        "inputs": inputs,
        "outputs": outputs,
        "software": versions(),
        "timings_s": {**timings, "total": total_s},
    }
    if cpu is not None:
        out["cpu_s"] = cpu
    if extra:
        out.update(extra)
    return out
