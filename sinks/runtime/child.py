"""Run one function in a fresh Python process: ``python -m sinks.runtime.child JOB RESULT``.

``multiprocessing``'s spawn and forkserver start methods import the parent's
``__main__`` again in the child, so a user's script that calls :func:`sinks.run` at top
level (without an ``if __name__ == "__main__"`` guard) would run itself again; fork is
unsafe once dask's threads exist.  A child started as ``python -m sinks.runtime.child`` imports
only what unpickling the job needs.  The job (function, arguments) and its result (or
exception) travel as pickle files in a private temporary folder.

A child never outlives its parent: a watchdog thread checks the parent's pid twice a
second and, once the parent is gone (killed, crashed), removes the child's temporary
folder and exits; :func:`check_parent` lets a job stop before it writes a file for a
parent that died.  Temporary folders of children that were killed with their parent
(``sinks-child-<parent pid>-*``) are removed when the next child starts.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["ChildProcess", "check_parent"]

_PREFIX = "sinks-child-"
#: Seconds between the watchdog's looks at the parent.
WATCH_S = 0.5
#: The parent's pid in a child process (``None`` in a parent).
_PARENT: int | None = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_orphaned_dirs() -> None:
    """Remove temporary folders of children whose parent process is gone (same user only)."""
    base = Path(tempfile.gettempdir())
    for d in base.glob(f"{_PREFIX}*"):
        m = re.match(rf"^{_PREFIX}(\d+)-", d.name)
        try:
            mine = d.is_dir() and d.stat().st_uid == os.getuid()
        except (OSError, AttributeError):
            continue
        if m and mine and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            shutil.rmtree(d, ignore_errors=True)


def check_parent() -> None:
    """In a child: exit at once (removing its temporary folder) if the parent process is gone."""
    if _PARENT is not None and os.getppid() != _PARENT:
        _orphaned()


def _orphaned() -> None:
    job = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if job is not None and job.parent.name.startswith(_PREFIX):
        shutil.rmtree(job.parent, ignore_errors=True)
    os._exit(3)


def _watch(parent: int) -> None:
    while True:
        time.sleep(WATCH_S)
        if os.getppid() != parent:
            _orphaned()


class ChildProcess:
    """``func(*args, **kwargs)`` running in a child interpreter.

    Examples
    --------
    >>> job = ChildProcess(sum, [1, 2, 3])     # doctest: +SKIP
    >>> job.result()                            # doctest: +SKIP
    6
    """

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        _sweep_orphaned_dirs()
        self._dir = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
        self._job = self._dir / "job.pkl"
        self._out = self._dir / "result.pkl"
        with open(self._job, "wb") as fh:
            pickle.dump((func, args, kwargs), fh, protocol=pickle.HIGHEST_PROTOCOL)
        self._proc = subprocess.Popen([sys.executable, "-m", "sinks.runtime.child", str(self._job), str(self._out),
                                       str(os.getpid())],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def result(self) -> Any:
        """Wait for the child; return its value or raise its exception."""
        try:
            _out, err = self._proc.communicate()
            if self._out.exists():
                with open(self._out, "rb") as fh:
                    ok, value = pickle.load(fh)
                if ok:
                    return value
                raise value
            tail = err.decode(errors="replace").strip().splitlines()[-3:] if err else []
            raise RuntimeError(f"child process exited with status {self._proc.returncode} without a result"
                               + (f": {' | '.join(tail)}" if tail else ""))
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)

    def cancel(self) -> None:
        """Stop the child if it still runs and remove its files (harmless after :meth:`result`)."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


def _main(job: str, out: str, parent: int | None = None) -> int:
    global _PARENT
    if parent is not None:
        _PARENT = parent
        check_parent()  # the parent may have died while this interpreter started
        threading.Thread(target=_watch, args=(parent,), name="sinks-child-watchdog", daemon=True).start()
    with open(job, "rb") as fh:
        func, args, kwargs = pickle.load(fh)
    from .memory import tune_collector

    tune_collector()  # the modules unpickling the job imported
    try:
        payload = (True, func(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - handed back to the parent
        payload = (False, exc)
    try:
        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an exception (or value) that cannot travel: its text can
        exc = payload[1]
        data = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    check_parent()
    tmp = out + ".part"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None))
