"""The state of a run folder: its marker, its lock, and what an earlier run wrote there.

``OUT/.sinks-run`` (the *marker*, JSON) is written before a run writes anything, with
``state: "running"``, and rewritten with ``state: "complete"`` after ``summary.json``.
It lists, as the run goes, every file the run is about to write (``outputs``, paths
relative to ``OUT``) and, later, files other sinks commands wrote into the finished
run (``derived``: ``sinks report RUN -o RUN/report.html``).  ``sinks report``,
``sinks goals`` and :func:`sinks.open_run` refuse a folder whose marker is not
``complete`` (:func:`require_complete`).

``OUT/.sinks-run.lock`` (JSON: ``pid``, ``host``, ``started``) is created exclusively
while a run (or a batch) writes into ``OUT``; a second run into the same folder stops
at once naming the owner.  A lock left by a process that is gone (same host, no such
pid) is taken over.

``--overwrite`` (:meth:`RunFolder.begin`) removes what the earlier sinks run wrote
there: the files its manifest and marker list, its ``manifest.json``,
``summary.json``, STAC catalog and the derived files; nothing else in the folder is
touched.  Leftover temporary files of a killed run (``.<name>.part-<pid>-<hex>``) are
removed at the start of the next one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import socket
import threading
from pathlib import Path
from typing import Any, Iterable

from .errors import IncompleteRunError, RunLockedError

__all__ = ["MARKER", "LOCK", "FolderLock", "RunFolder", "read_marker", "require_complete", "record_derived",
           "remove_stale_parts"]

log = logging.getLogger("sinks")

MARKER = ".sinks-run"
LOCK = ".sinks-run.lock"

#: Temporary names sinks writes under (see :func:`sinks.outputs.temp_name`, the vector
#: writer's ``.<stem>.part-<pid>-<hex><suffix>`` with GDAL's sidecars, the STAC folder).
_PART = re.compile(r"^\..+\.part-(\d+)-[0-9a-f]{8}(\.[^/]*)?(-wal|-shm|-journal)?$")
_PART_DIR = re.compile(r"^\.stac-(part|old)-(\d+)-[0-9a-f]{8}$")
#: The folder of compressed tiles a COG being written keeps beside its temporary name (:mod:`sinks.cog`).
_TILE_PARTS = re.compile(r"^\..+\.part-(\d+)-[0-9a-f]{8}(\.[^/]*)?\.parts$")

#: Files of a run folder that the run always writes (besides its listed outputs).
_RUN_FILES = ("manifest.json", "summary.json", "stac")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return False
    return True


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    from .outputs import atomic_write_json

    atomic_write_json(path, data, overwrite=True)


def read_marker(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The marker of ``folder`` (``None`` when there is none or it is unreadable)."""
    return _read_json(Path(folder) / MARKER)


# --------------------------------------------------------------------------------------
# the lock
# --------------------------------------------------------------------------------------
class FolderLock:
    """An exclusive lock on an output folder: ``OUT/.sinks-run.lock`` with the owner's pid and host.

    Parameters
    ----------
    folder : path
        The folder (created when missing; removed again by :meth:`release` when the
        lock was all it held and this lock created it).
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK
        self.created_folder = False
        self.held = False

    def acquire(self) -> "FolderLock":
        """Take the lock or raise :class:`~sinks.errors.RunLockedError` naming its owner."""
        if self.folder.exists() and not self.folder.is_dir():
            from .errors import OutputExistsError

            raise OutputExistsError(f"{self.folder}: exists and is not a directory")
        if not self.folder.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            self.created_folder = True
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}
        for _attempt in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                owner = _read_json(self.path)
                if self._stale(owner):
                    log.warning("%s: removing the lock of a run that is gone (%s)", self.folder, _who(owner))
                    try:
                        self.path.unlink()
                    except FileNotFoundError:
                        pass
                    continue
                raise RunLockedError(f"{self.folder}: another sinks run is writing here ({_who(owner)}); "
                                     f"wait for it to finish, or remove {self.path} if that process is gone") from None
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(me, fh)
            self.held = True
            return self
        raise RunLockedError(f"{self.folder}: cannot take the lock {self.path}")  # pragma: no cover

    def _stale(self, owner: dict[str, Any] | None) -> bool:
        if owner is None:  # unreadable: being written this instant, or left empty by a crash
            try:
                age = dt.datetime.now().timestamp() - self.path.stat().st_mtime
            except OSError:
                return True
            return age > 10
        if owner.get("host") != socket.gethostname():
            return False  # cannot tell whether a process on another machine lives
        pid = owner.get("pid")
        return not isinstance(pid, int) or pid <= 0 or not _alive(pid)

    def release(self) -> None:
        """Remove the lock (and the folder when this lock created it and nothing else is in it)."""
        if self.held:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            self.held = False
        if self.created_folder:
            try:
                self.folder.rmdir()  # only when empty
            except OSError:
                pass

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _who(owner: dict[str, Any] | None) -> str:
    if not owner:
        return "owner unknown"
    return f"pid {owner.get('pid')} on host {owner.get('host')}, since {owner.get('started')}"


# --------------------------------------------------------------------------------------
# stale temporary files
# --------------------------------------------------------------------------------------
def remove_stale_parts(folder: str | os.PathLike, *, recursive: bool = True) -> list[Path]:
    """Remove temporary files (and STAC folders) that a killed sinks process left in ``folder``.

    Only names sinks writes under are touched, and only those of processes that no longer
    run (the caller holds the folder's lock, so no other sinks run writes there).
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    removed: list[Path] = []
    walker = os.walk(root) if recursive else [(str(root), [d.name for d in root.iterdir() if d.is_dir()],
                                               [f.name for f in root.iterdir() if not f.is_dir()])]
    for dirpath, dirnames, filenames in walker:
        for name in list(dirnames):
            m = _PART_DIR.match(name)
            pid = int(m.group(2)) if m else None
            if m is None and (t := _TILE_PARTS.match(name)):
                pid = int(t.group(1))
            if pid is not None and not _mine_or_alive(pid):
                shutil.rmtree(Path(dirpath) / name, ignore_errors=True)
                removed.append(Path(dirpath) / name)
                dirnames.remove(name)
        for name in filenames:
            m = _PART.match(name)
            if m and not _mine_or_alive(int(m.group(1))):
                try:
                    (Path(dirpath) / name).unlink()
                    removed.append(Path(dirpath) / name)
                except OSError:
                    pass
    if removed:
        log.info("%s: removed %d temporary file(s) left by a killed run", root, len(removed))
    return removed


def _mine_or_alive(pid: int) -> bool:
    return pid == os.getpid() or _alive(pid)


# --------------------------------------------------------------------------------------
# the marker and the run's outputs
# --------------------------------------------------------------------------------------
def _inside(root: Path, rel: str) -> Path | None:
    """``root / rel`` when ``rel`` is a plain relative path that stays inside ``root``."""
    if not isinstance(rel, str) or not rel or os.path.isabs(rel) or "\\" in rel:
        return None
    parts = Path(rel).parts
    if any(p in ("..", "") for p in parts) or parts[0] in (MARKER, LOCK):
        return None
    path = root / rel
    try:
        parent = path.parent.resolve()
    except OSError:
        return None
    base = root.resolve()
    if parent != base and base not in parent.parents:
        return None
    return path


def _earlier_outputs(root: Path) -> tuple[list[str], list[str]]:
    """What the sinks run already in ``root`` wrote (relative paths), and the entries refused as unsafe."""
    listed: list[str] = []
    marker = read_marker(root)
    if marker is not None:
        for key in ("outputs", "derived"):
            vals = marker.get(key)
            if isinstance(vals, list):
                listed.extend(v for v in vals if isinstance(v, str))
    manifest = _read_json(root / "manifest.json")
    if manifest is not None:
        vals = manifest.get("outputs")
        if isinstance(vals, list):
            listed.extend(v for v in vals if isinstance(v, str))
    if marker is not None or manifest is not None:
        listed.extend(_RUN_FILES)
    listed = list(dict.fromkeys(listed))
    unsafe = [v for v in listed if _inside(root, v) is None]
    return [v for v in listed if v not in unsafe], unsafe


def remove_earlier_outputs(root: Path) -> list[Path]:
    """Remove the files the earlier sinks run in ``root`` wrote (see the module notes)."""
    rels, unsafe = _earlier_outputs(root)
    for v in unsafe:
        log.warning("%s: not removing %r, listed by the earlier run but outside the folder", root, v)
    removed: list[Path] = []
    for rel in rels:
        path = root / rel
        if rel == "stac" and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        elif path.is_symlink() or path.is_file():
            try:
                path.unlink()
                removed.append(path)
            except OSError as exc:
                log.warning("%s: cannot remove %s: %s", root, path, exc)
    _prune_empty_dirs(root, {p.parent for p in removed})
    if removed:
        log.info("%s: removed %d file(s) of the earlier run", root, len(removed))
    return removed


def _prune_empty_dirs(root: Path, dirs: Iterable[Path]) -> None:
    """Remove each of ``dirs`` and its parents below ``root`` while they are empty."""
    base = root.resolve()
    for d in sorted(set(dirs), key=lambda p: len(p.parts), reverse=True):
        while True:
            try:
                if d.resolve() == base or base not in d.resolve().parents:
                    break
                d.rmdir()
            except OSError:
                break
            d = d.parent


class RunFolder:
    """The marker and lock of one run's output folder, and the journal of what it writes.

    Used by :func:`sinks.pipeline.run_prepared`; every file a run writes is announced
    (:func:`sinks.outputs.announce`) before it is written and lands in the marker's
    ``outputs``, so even a run killed half-way can be cleaned by the next ``--overwrite``.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.lock = FolderLock(self.folder)
        self.outputs: list[str] = []
        self._seen: set[str] = set()
        self._mutex = threading.Lock()
        self.marker: dict[str, Any] = {}

    # -- lifecycle -------------------------------------------------------------------
    def acquire(self) -> "RunFolder":
        """Take the folder's lock (:class:`~sinks.errors.RunLockedError` when another run holds it)."""
        if not self.lock.held:
            self.lock.acquire()
        return self

    def begin(self, *, overwrite: bool) -> None:
        """Start the run: clear temporary leftovers, with ``overwrite`` the earlier run's
        files, then write the marker (``running``) and start the journal."""
        from .outputs import register_journal

        self.acquire()
        remove_stale_parts(self.folder)
        if overwrite:
            remove_earlier_outputs(self.folder)
        self.marker = {"state": "running", "pid": os.getpid(), "host": socket.gethostname(), "started": _now(),
                       "outputs": []}
        _write_json(self.folder / MARKER, self.marker)
        register_journal(self.folder, self.record)

    def record(self, paths: Iterable[Path]) -> None:
        """Add ``paths`` (about to be written) to the marker's ``outputs``."""
        base = self.folder.absolute()
        new = []
        for p in paths:
            try:
                rel = Path(os.path.abspath(p)).relative_to(base).as_posix()
            except ValueError:
                continue
            if rel in (MARKER, LOCK) or rel in self._seen:
                continue
            new.append(rel)
        if not new:
            return
        with self._mutex:
            for rel in new:
                if rel not in self._seen:
                    self._seen.add(rel)
                    self.outputs.append(rel)
            self.marker["outputs"] = list(self.outputs)
            _write_json(self.folder / MARKER, self.marker)

    def complete(self) -> None:
        """Mark the run complete (after ``summary.json``) and release the folder."""
        from .outputs import unregister_journal

        unregister_journal(self.folder)
        with self._mutex:
            self.marker.update(state="complete", finished=_now(), outputs=list(self.outputs))
            _write_json(self.folder / MARKER, self.marker)
        self.lock.release()

    def stop(self) -> None:
        """The run failed: release the folder, leaving the marker ``running`` (an incomplete run)."""
        from .outputs import unregister_journal

        unregister_journal(self.folder)
        self.lock.release()

    def abandon(self) -> None:
        """The run was interrupted: remove what it wrote, its marker, and the folder if it is left empty."""
        from .outputs import unregister_journal

        unregister_journal(self.folder)
        removed = []
        for rel in self.outputs:
            path = _inside(self.folder, rel)
            if path is None:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            elif path.is_symlink() or path.exists():
                try:
                    path.unlink()
                except OSError:
                    continue
            removed.append(path)
        remove_stale_parts(self.folder)
        try:
            (self.folder / MARKER).unlink()
        except FileNotFoundError:
            pass
        _prune_empty_dirs(self.folder, {p.parent for p in removed})
        self.lock.release()


# --------------------------------------------------------------------------------------
# readers of a run folder
# --------------------------------------------------------------------------------------
def require_complete(folder: str | os.PathLike) -> None:
    """Raise :class:`~sinks.errors.IncompleteRunError` unless ``folder`` holds a finished run.

    A folder without a marker but with ``summary.json`` (written by a sinks that had no
    marker) counts as finished.
    """
    root = Path(folder)
    marker = read_marker(root)
    if marker is None:
        if (root / MARKER).exists():
            raise IncompleteRunError(f"{root}: the run marker {MARKER} is unreadable; rerun with --overwrite")
        if not (root / "summary.json").is_file():
            raise IncompleteRunError(f"{root}: not a run folder (no summary.json)")
        return
    if marker.get("state") == "complete":
        return
    owner = _read_json(root / LOCK)
    pid = owner.get("pid") if owner is not None else None
    if owner is not None and (owner.get("host") != socket.gethostname()
                              or (isinstance(pid, int) and pid > 0 and _alive(pid))):
        raise IncompleteRunError(f"{root}: the run is still going ({_who(owner)}); wait for it to finish")
    raise IncompleteRunError(f"{root}: the run in this folder did not finish (started {marker.get('started')}, "
                             f"state {marker.get('state')!r}); its files may mix two runs: rerun it with --overwrite")


def record_derived(folder: str | os.PathLike, path: str | os.PathLike) -> None:
    """Note in the marker of a finished run that ``path`` (inside it) was written from it.

    ``--overwrite`` then removes it with the run's own files.  Does nothing when
    ``path`` lies outside ``folder`` or the folder has no complete marker.
    """
    root = Path(folder)
    marker = read_marker(root)
    if marker is None or marker.get("state") != "complete":
        return
    try:
        rel = Path(os.path.abspath(path)).relative_to(root.absolute()).as_posix()
    except ValueError:
        return
    derived = marker.get("derived") if isinstance(marker.get("derived"), list) else []
    if rel not in derived:
        marker["derived"] = [*derived, rel]
        _write_json(root / MARKER, marker)
