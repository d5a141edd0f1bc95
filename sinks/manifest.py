"""Run manifests: inputs with sizes and digests, the resolved spec, versions, timings.

Every local input is described by its size and a digest of its content: BLAKE3 by
default (multi-threaded, several times cheaper than SHA-256), SHA-256 when asked
(``sinks run --digest sha256``); the manifest names the algorithm (``input_digest``)
and keys each digest by it.  A run hashes its inputs on a background thread while its
first pass decodes the same files (:func:`hash_in_background`), and digests of files
unchanged since an earlier run come from the checksum cache (:mod:`sinks.runtime.hashcache`).
Remote inputs (URLs, GDAL ``/vsi...`` paths) are never downloaded for a digest: an
HTTP(S) object is described by the ``ETag``, ``Content-Length`` and ``Last-Modified``
of one ``HEAD`` request.
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import logging
import mmap
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from ._versions import versions
from .errors import ConfigError

__all__ = ["DIGESTS", "DEFAULT_DIGEST", "file_digest", "sha256_file", "describe_inputs", "hash_in_background",
           "Timer", "manifest_dict"]

log = logging.getLogger("sinks")

#: Digest algorithms a manifest may use.
DIGESTS = ("blake3", "sha256")
#: The algorithm of a run's input digests unless asked otherwise.
DEFAULT_DIGEST = "blake3"


def _hasher(algorithm: str, *, threads: int | None = None) -> Any:
    """A hasher for ``algorithm``; BLAKE3 on ``threads`` threads (``None``: as many as it likes)."""
    if algorithm == "sha256":
        return hashlib.sha256()
    if algorithm == "blake3":
        from blake3 import blake3

        return blake3(max_threads=blake3.AUTO if threads is None else max(1, int(threads)))

    raise ConfigError(f"digest {algorithm!r}: expected one of {', '.join(DIGESTS)}")


def file_digest(path: str | os.PathLike, *, algorithm: str = DEFAULT_DIGEST, bufsize: int = 1 << 22,
                threads: int | None = None) -> str:
    """Hex digest of a file's content with ``algorithm`` (``"blake3"`` or ``"sha256"``).

    Remembered per (algorithm, path, size, modification and change time, inode) within
    a process, so the regions of a batch do not hash the same tiles again, and across
    runs in the checksum cache on disk (:mod:`sinks.runtime.hashcache`; off with
    ``SINKS_CACHE_DIR=off``).  A file rewritten in place moves its change time, so it
    is hashed again.  BLAKE3 hashes a file's chunks on several threads (``threads``;
    ``None``: as many as it likes).
    """
    from .runtime import hashcache

    st = os.stat(path)
    key = (algorithm, os.path.abspath(path), *hashcache.stamp(st))
    with _LOCK:
        if key in _HASHES:
            return _HASHES[key]
    digest = hashcache.lookup(path, st, algorithm=algorithm)
    if digest is None:
        digest = _hash_content(path, algorithm=algorithm, size=st.st_size, bufsize=bufsize, threads=threads)
        if hashcache.stamp(os.stat(path)) == hashcache.stamp(st):  # not changed while it was read
            hashcache.remember(path, st, digest, algorithm=algorithm)
    with _LOCK:
        _HASHES[key] = digest
    return digest


def sha256_file(path: str | os.PathLike, *, bufsize: int = 1 << 20) -> str:
    """SHA-256 of a file (:func:`file_digest` with ``algorithm="sha256"``)."""
    return file_digest(path, algorithm="sha256", bufsize=bufsize)


def _hash_content(path: str | os.PathLike, *, algorithm: str, size: int, bufsize: int,
                  threads: int | None = None) -> str:
    """Digest of a local file's bytes, read through memory maps of one window at a time.

    Hashing the file's pages where the page cache holds them saves copying every
    byte into a buffer first (that copy cost more CPU than BLAKE3 itself).  Each window
    of :data:`_MAP_STEP` bytes is unmapped before the next is mapped, so the mapped
    pages never count more than one window in the process's resident set.  A file that
    cannot be mapped (empty, a pipe, a file system without mmap) is read in ``bufsize``
    chunks instead.
    """
    h = _hasher(algorithm, threads=threads)
    if size > 0:
        try:
            with open(path, "rb", buffering=0) as fh:
                step = max(_MAP_STEP // mmap.ALLOCATIONGRANULARITY, 1) * mmap.ALLOCATIONGRANULARITY
                for start in range(0, size, step):
                    if _STOP.is_set():
                        raise _Stopped(str(path))
                    with mmap.mmap(fh.fileno(), min(step, size - start), access=mmap.ACCESS_READ,
                                   offset=start) as mm:
                        view = memoryview(mm)
                        try:
                            h.update(view)
                        finally:
                            view.release()
            return h.hexdigest()
        except (OSError, ValueError):
            h = _hasher(algorithm, threads=threads)
    buf = bytearray(bufsize)
    chunk = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            h.update(chunk[:n])
    return h.hexdigest()


#: Bytes of a file mapped and handed to the hasher at once (no copy is made of them).
_MAP_STEP = 1 << 26


class _Stopped(Exception):
    """Background hashing stopped because the process is exiting."""


#: Set at exit: background hashing stops at its next window (see :func:`_stop_hashing`).
_STOP = threading.Event()
_BACKGROUND: set[threading.Thread] = set()


@atexit.register
def _stop_hashing() -> None:
    """Stop and join the background hashing threads before the interpreter is torn down.

    Each thread stops at its next window, so no file stays mapped and no hasher is
    still running (BLAKE3 on its own threads) while the process exits.
    """
    _STOP.set()
    for thread in list(_BACKGROUND):
        thread.join(timeout=30)


_HASHES: dict[tuple[Any, ...], str] = {}
_LOCK = threading.Lock()


def _not_a_file(path: str) -> bool:
    """Whether ``path`` is read through GDAL rather than as a local file (a URL, or any
    ``/vsi...`` path): such an input is described (:func:`sinks.remote.describe`), never hashed."""
    return "://" in path or path.startswith("/vsi")


def describe_inputs(paths: Iterable[str | os.PathLike], *, threads: int = 2,
                    algorithm: str = DEFAULT_DIGEST) -> list[dict]:
    """``[{"path", "bytes", <algorithm>: digest}]`` for every distinct input, hashed in parallel.

    Remote inputs are described by :func:`sinks.remote.describe` instead (never downloaded).
    """
    from .remote import describe

    uniq = sorted({str(p) if _not_a_file(str(p)) else str(Path(p)) for p in paths})
    local = [p for p in uniq if not _not_a_file(p)]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as ex:
        hashes = dict(zip(local, ex.map(lambda p: file_digest(p, algorithm=algorithm), local)))
    return [{"path": p, "bytes": os.path.getsize(p), algorithm: hashes[p]} if p in hashes else describe(p)
            for p in uniq]


#: Nice value of the background hashing thread (Linux: the thread's own; 19 is the lowest
#: priority): it takes the cores that the run's own threads leave idle.
HASHING_NICE = 19


def _lower_thread_priority(nice: int) -> bool:
    """Give the calling thread the nice value ``nice`` (Linux keeps one per thread);
    ``False`` where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (OSError, AttributeError):
        return False
    return True


class BackgroundHashing(threading.Thread):
    """A daemon thread hashing a run's inputs group by group (:func:`hash_in_background`).

    Group 0 is hashed at once; group ``k`` waits for :meth:`release` (``k``) so that its
    files are hashed while the pass decoding them runs and the two share one read of
    each file.  The thread runs at the lowest priority (:data:`HASHING_NICE`, on Linux)
    and hashes on itself alone, so it takes only the CPU that the run's own threads leave
    idle: the start, while one thread imports under the GIL; the ends of strips and
    passes; the stages after them.  :meth:`join` releases every group and hashes what is
    left on the calling thread too, at the caller's priority, with BLAKE3 on all its threads.
    """

    def __init__(self, groups: list[list[str]], algorithm: str) -> None:
        super().__init__(name="sinks-hash-inputs", daemon=True)
        self.groups = groups
        self.algorithm = algorithm
        self._released = threading.Condition()
        self._upto = 0
        self._todo = [(k, p) for k, files in enumerate(groups) for p in files]
        self._next = 0

    def release(self, upto: int) -> None:
        """Let the thread hash groups ``0 … upto``."""
        with self._released:
            self._upto = max(self._upto, upto)
            self._released.notify_all()

    def _take(self, *, wait: bool) -> str | None:
        """The next file to hash, once its group is released (``None``: no more, or with
        ``wait=False`` none released)."""
        with self._released:
            while self._next < len(self._todo):
                k, path = self._todo[self._next]
                if k <= self._upto:
                    self._next += 1
                    return path
                if not wait or _STOP.is_set():
                    return None
                self._released.wait(0.5)
            return None

    def _hash(self, path: str, *, threads: int | None) -> bool:
        """Hash one file into the cache of :func:`file_digest`; ``False`` when stopping."""
        if _STOP.is_set():  # the process is exiting
            return False
        try:
            file_digest(path, algorithm=self.algorithm, threads=threads)
        except OSError:
            pass
        except _Stopped:
            return False
        return True

    def join(self, timeout: float | None = None) -> None:
        self.release(len(self.groups))
        left = 0
        while (path := self._take(wait=False)) is not None:
            if not self._hash(path, threads=None):
                break
            left += 1
        if left:
            log.debug("input digests: %d file(s) left to hash at the end", left)
        super().join(timeout)

    def run(self) -> None:
        try:
            _lower_thread_priority(HASHING_NICE)
            while (path := self._take(wait=True)) is not None:
                if not self._hash(path, threads=1):
                    return
        finally:
            _BACKGROUND.discard(self)


def hash_in_background(paths: Iterable[str | os.PathLike], *, algorithm: str = DEFAULT_DIGEST,
                       paced: Sequence[Iterable[str | os.PathLike]] = ()) -> BackgroundHashing:
    """Hash ``paths`` on a daemon thread, filling the per-process cache of :func:`file_digest`.

    A run starts this as it starts computing, so the digests its manifest needs are ready
    (or nearly) when it finishes, instead of costing a serial pass over every input at
    the end.  ``paced``: groups of the paths (an epoch's tiles each) to hash only when
    the caller releases them (:meth:`BackgroundHashing.release`, group ``k`` of
    ``paced`` being group ``k + 1`` of the thread): hashing an epoch's tiles while its
    pass decodes them reads each file once, where hashing every input up front would
    push the first epochs' pages out of a page cache smaller than the inputs before
    their pass reads them.  Paths in no group are hashed first.  Errors are left for
    :func:`describe_inputs` to raise.
    """
    local = lambda ps: [str(Path(p)) for p in ps if not _not_a_file(str(p))]  # noqa: E731
    files = sorted(set(local(paths)))
    known = set(files)
    seen: set[str] = set()
    groups: list[list[str]] = []
    for group in paced:
        g = [p for p in dict.fromkeys(local(group)) if p in known and p not in seen]
        seen.update(g)
        groups.append(g)
    thread = BackgroundHashing([[p for p in files if p not in seen], *groups], algorithm)
    _BACKGROUND.add(thread)
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
                  extra: dict | None = None, digest: str = DEFAULT_DIGEST) -> dict:
    """Assemble the manifest mapping (``cpu``: CPU seconds per stage, see :class:`Timer`;
    ``digest``: the algorithm of the inputs' digests)."""
    out = {
        "sinks_manifest_version": 1,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "spec_path": spec_path,
        "spec": spec,
        "input_digest": digest,
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
