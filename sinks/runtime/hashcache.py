"""A checksum cache on disk, so reruns over the same tiles do not hash them again.

A run's manifest records a digest of every input (BLAKE3 by default, SHA-256 on
request; 6 GB for three dates of a 100 Mpx scene).  Analysts rerun a pipeline
over the same tiles many times (a changed coefficient table, another set of redlines),
so the digests are kept in a small SQLite file, keyed by the file's real path and the
digest algorithm, and trusted only while its size, modification time, change time and inode are all the
same, as git's index and DVC do.  The change time cannot be set back by a user
(``touch -d`` sets the modification time only), so a rewritten file is always hashed
again.

Location: ``$SINKS_CACHE_DIR/checksums.sqlite``; ``SINKS_CACHE_DIR`` defaults to
``$XDG_CACHE_HOME/sinks`` (``~/.cache/sinks``).  Set it to ``off`` (or an empty
string) to hash every run from scratch.  The cache is an optimisation only: when it
cannot be read or written (read-only home, a damaged file, a locked database) the run
hashes the files and goes on, logging why at debug level.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

__all__ = ["cache_path", "lookup", "remember", "stamp"]

log = logging.getLogger("sinks")

_SCHEMA = """CREATE TABLE IF NOT EXISTS digests (
    path TEXT, algorithm TEXT, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, inode INTEGER, digest TEXT,
    PRIMARY KEY (path, algorithm))"""


def cache_path() -> Path | None:
    """The cache file, or ``None`` when caching is switched off."""
    where = os.environ.get("SINKS_CACHE_DIR")
    if where is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        where = os.path.join(base, "sinks")
    if where.strip().lower() in ("", "off", "none", "0"):
        return None
    return Path(where) / "checksums.sqlite"


def stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    """What must not change for a cached digest to stand: size, mtime, ctime, inode."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=5.0)
    con.execute(_SCHEMA)
    return con


def lookup(path: str | os.PathLike, st: os.stat_result, *, algorithm: str = "sha256") -> str | None:
    """The cached ``algorithm`` digest of ``path`` if its stat stamp ``st`` still matches, else ``None``."""
    db = cache_path()
    if db is None or not db.exists():
        return None
    try:
        con = _connect(db)
        try:
            row = con.execute("SELECT size, mtime_ns, ctime_ns, inode, digest FROM digests "
                              "WHERE path = ? AND algorithm = ?", (os.path.realpath(path), algorithm)).fetchone()
        finally:
            con.close()
    except (sqlite3.Error, OSError) as exc:
        log.debug("checksum cache %s not read: %s", db, exc)
        return None
    if row is None or tuple(row[:4]) != stamp(st):
        return None
    return str(row[4])


def remember(path: str | os.PathLike, st: os.stat_result, digest: str, *, algorithm: str = "sha256") -> None:
    """Store the ``algorithm`` digest of ``path`` hashed while it had the stat stamp ``st``."""
    db = cache_path()
    if db is None:
        return
    try:
        con = _connect(db)
        try:
            with con:
                con.execute("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (os.path.realpath(path), algorithm, *stamp(st), digest))
        finally:
            con.close()
    except (sqlite3.Error, OSError) as exc:
        log.debug("checksum cache %s not written: %s", db, exc)
