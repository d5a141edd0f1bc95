"""A throw-away PostgreSQL + PostGIS server on 127.0.0.1 for the PostGIS tests.

The server comes from Debian's packages: when PostgreSQL or PostGIS is missing and
the tests run as root with apt-get available, ``postgresql`` and
``postgresql-<major>-postgis-3`` are installed (``apt-get update`` first).  The
cluster lives in a temporary folder, listens on a free port on 127.0.0.1 only, and
is stopped and removed afterwards.  Where nothing can be installed the tests skip
with the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


class Unavailable(RuntimeError):
    """PostgreSQL with PostGIS cannot be had on this machine (the reason is the message)."""


def _bin_dir() -> Path | None:
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    return Path(dirs[-1]) if dirs else None


def _has_postgis(bindir: Path) -> bool:
    major = bindir.parent.name
    return Path(f"/usr/share/postgresql/{major}/extension/postgis.control").exists()


def _apt_install(packages: list[str]) -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable("PostgreSQL/PostGIS is not installed and apt-get (as root) is not available")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        proc = subprocess.run(cmd, env=APT_ENV, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise Unavailable(f"{' '.join(cmd)} failed: {(proc.stderr or proc.stdout).strip()[-300:]}")


def ensure_installed() -> Path:
    """The PostgreSQL bin folder, installing PostgreSQL and PostGIS from Debian if needed."""
    bindir = _bin_dir()
    if bindir is None:
        _apt_install(["postgresql"])
        bindir = _bin_dir()
        if bindir is None:
            raise Unavailable("apt-get installed postgresql but no /usr/lib/postgresql/*/bin was found")
    if not _has_postgis(bindir):
        _apt_install([f"postgresql-{bindir.parent.name}-postgis-3"])
        if not _has_postgis(bindir):
            raise Unavailable(f"postgis.control missing after installing postgresql-{bindir.parent.name}-postgis-3")
    return bindir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str], **kw) -> subprocess.CompletedProcess:  # noqa: ANN003
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


@contextmanager
def postgis_server() -> Iterator[str]:
    """Start a PostGIS server; yield its URL ``postgresql://postgres@127.0.0.1:PORT/sinks_test``."""
    bindir = ensure_installed()
    root = Path(tempfile.mkdtemp(prefix="sinks-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    os.chmod(root, 0o755)
    port = _free_port()
    try:
        proc = _as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                             "--no-sync", "-E", "UTF8", "--locale=C"])
        if proc.returncode != 0:
            raise Unavailable(f"initdb failed: {proc.stderr.strip()[-300:]}")
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        proc = _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"),
                             "-w", "-t", "60", "start"])
        if proc.returncode != 0:
            log = (root / "log").read_text() if (root / "log").exists() else ""
            raise Unavailable(f"pg_ctl start failed: {(proc.stderr + log).strip()[-300:]}")
        psql = [str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
        for sql, db in (("CREATE DATABASE sinks_test", "postgres"), ("CREATE EXTENSION postgis", "sinks_test")):
            proc = subprocess.run([*psql, "-d", db, "-c", sql], capture_output=True, text=True, timeout=60)
            if proc.returncode != 0:
                raise Unavailable(f"{sql} failed: {proc.stderr.strip()[-300:]}")
        yield f"postgresql://postgres@127.0.0.1:{port}/sinks_test"
    finally:
        if (data / "postmaster.pid").exists():
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        deadline = time.time() + 10
        while time.time() < deadline and (data / "postmaster.pid").exists():
            time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)
