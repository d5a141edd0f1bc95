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

import atexit
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
from typing import Any, Callable, Sequence

__all__ = ["ChildProcess", "check_parent", "has_spare", "prestart", "prewarm", "stop_spares"]

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
        spare = _take_spare()
        if spare is None:
            _sweep_orphaned_dirs()
        self._dir = spare.dir if spare is not None else Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
        self._job = self._dir / "job.pkl"
        self._out = self._dir / "result.pkl"
        with open(self._job, "wb") as fh:
            pickle.dump((func, args, kwargs), fh, protocol=pickle.HIGHEST_PROTOCOL)
        if spare is not None:  # the waiting interpreter reads its job now
            try:
                spare.proc.stdin.write(b"go\n")
                spare.proc.stdin.close()
                spare.proc.stdin = None  # communicate() must not flush it again
                self._proc = spare.proc
                return
            except OSError:  # it died meanwhile: start a fresh one in the same folder
                spare.proc.kill()
        self._proc = subprocess.Popen([sys.executable, "-m", "sinks.runtime.child", str(self._job), str(self._out),
                                       str(os.getpid())],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_child_env())

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


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


#: Name of a warm-up task's file in a spare's folder (:func:`prewarm`).
_WARM_FILE = re.compile(r"^warm-\d+\.pkl$")


class _Spare:
    """A child interpreter started before its job (:func:`prestart`): it imports the
    modules the job will need, then reads words on its standard input: ``warm FILE``
    runs a warm-up task from its folder (:func:`prewarm`), ``go`` reads the job from its
    folder and runs it, the end of input makes it exit."""

    def __init__(self, preload: Sequence[str]) -> None:
        _sweep_orphaned_dirs()
        self.dir = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
        self.proc = subprocess.Popen([sys.executable, "-m", "sinks.runtime.child", "--spare", str(self.dir),
                                      str(os.getpid()), ",".join(preload)],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=_child_env())
        self.warmed = 0

    def warm(self, func: Callable[..., Any], args: tuple, kwargs: dict) -> bool:
        """Hand the child a warm-up task (see :func:`prewarm`); ``False`` if it is gone."""
        self.warmed += 1
        name = f"warm-{self.warmed}.pkl"
        tmp = self.dir / (name + ".part")
        try:
            with open(tmp, "wb") as fh:
                pickle.dump((func, args, kwargs), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.dir / name)
        except Exception:  # noqa: BLE001 - a task that cannot travel (or a full disk) is left to the job
            tmp.unlink(missing_ok=True)
            return False
        try:
            self.proc.stdin.write(f"warm {name}\n".encode())
            self.proc.stdin.flush()
        except (OSError, ValueError):  # the child died (or was stopped) meanwhile
            return False
        return True

    def stop(self) -> None:
        """End the child: its job never came, so whatever it is doing (importing) is of no
        use and it is not waited for."""
        try:
            self.proc.stdin.close()  # a child past its imports leaves on the end of input
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


_SPARES: list[_Spare] = []
_SPARES_LOCK = threading.Lock()


def prestart(preload: Sequence[str] = ()) -> None:
    """Start a child interpreter now, importing ``preload`` (module names) while the caller
    works, for the next :class:`ChildProcess` to run its job in.

    A table child started at the end of a run would otherwise spend its first second
    importing its libraries while the run's last stages compete for the same cores; started
    early, it imports them while the run prepares its first pass and leaves a core idle.
    Unused spares are stopped by :func:`stop_spares` (also at exit).
    """
    with _SPARES_LOCK:
        _SPARES.append(_Spare(preload))


def prewarm(func: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Have the newest spare child run ``func(*args, **kwargs)`` once its imports are done,
    before its job arrives; its value is dropped.

    For work the job will need whose inputs are known early (the job finds it in a cache
    that ``func`` fills), done while the run's passes go on instead of at the run's end.
    A warm-up task that fails is ignored: the job then does that work itself.  Returns
    whether a spare took the task.
    """
    with _SPARES_LOCK:
        spare = next((s for s in reversed(_SPARES) if s.proc.poll() is None), None)
        return spare is not None and spare.warm(func, args, kwargs)


def has_spare() -> bool:
    """Whether a spare child is running (started, its job not yet given)."""
    with _SPARES_LOCK:
        return any(spare.proc.poll() is None for spare in _SPARES)


def _take_spare() -> _Spare | None:
    with _SPARES_LOCK:
        while _SPARES:
            spare = _SPARES.pop(0)
            if spare.proc.poll() is None:
                return spare
            shutil.rmtree(spare.dir, ignore_errors=True)
    return None


@atexit.register
def stop_spares() -> None:
    """Stop the spare children no job used (and remove their folders)."""
    with _SPARES_LOCK:
        spares, _SPARES[:] = list(_SPARES), []
    for spare in spares:
        spare.stop()


def _run_warm(folder: str, name: str) -> None:
    """Run a warm-up task of a spare's folder (:func:`prewarm`); its failure is ignored."""
    if not _WARM_FILE.match(name):
        return
    path = os.path.join(folder, name)
    try:
        with open(path, "rb") as fh:
            func, args, kwargs = pickle.load(fh)
        os.remove(path)
        func(*args, **kwargs)
    except Exception:  # noqa: BLE001 - the job does this work itself
        pass


def _spare_main(folder: str, parent: int, preload: str) -> int:
    """A spare child: import ``preload`` (comma-separated), run the warm-up tasks it is
    handed, and the job once the word comes."""
    global _PARENT
    _PARENT = parent
    check_parent()
    threading.Thread(target=_watch, args=(parent,), name="sinks-child-watchdog", daemon=True).start()
    import importlib

    for name in filter(None, preload.split(",")):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the job imports what it needs anyway, and reports failures
            pass
    while True:
        word = sys.stdin.readline().strip()
        if word.startswith("warm "):
            check_parent()
            _run_warm(folder, word[5:])
            continue
        if word != "go":  # end of input, no job: the parent stopped this spare
            shutil.rmtree(folder, ignore_errors=True)
            return 0
        return _main(os.path.join(folder, "job.pkl"), os.path.join(folder, "result.pkl"))


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
    if sys.argv[1:2] == ["--spare"]:
        sys.exit(_spare_main(sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else ""))
    sys.exit(_main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None))
