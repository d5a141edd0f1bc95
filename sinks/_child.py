"""Run one function in a fresh Python process: ``python -m sinks._child JOB RESULT``.

``multiprocessing``'s spawn and forkserver start methods import the parent's
``__main__`` again in the child, so a user's script that calls :func:`sinks.run` at top
level (without an ``if __name__ == "__main__"`` guard) would run itself again; fork is
unsafe once dask's threads exist.  A child started as ``python -m sinks._child`` imports
only what unpickling the job needs.  The job (function, arguments) and its result (or
exception) travel as pickle files in a private temporary folder.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

__all__ = ["ChildProcess"]


class ChildProcess:
    """``func(*args, **kwargs)`` running in a child interpreter.

    Examples
    --------
    >>> job = ChildProcess(sum, [1, 2, 3])     # doctest: +SKIP
    >>> job.result()                            # doctest: +SKIP
    6
    """

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="sinks-child-"))
        self._job = self._dir / "job.pkl"
        self._out = self._dir / "result.pkl"
        with open(self._job, "wb") as fh:
            pickle.dump((func, args, kwargs), fh, protocol=pickle.HIGHEST_PROTOCOL)
        self._proc = subprocess.Popen([sys.executable, "-m", "sinks._child", str(self._job), str(self._out)],
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


def _main(job: str, out: str) -> int:
    with open(job, "rb") as fh:
        func, args, kwargs = pickle.load(fh)
    try:
        payload = (True, func(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - handed back to the parent
        payload = (False, exc)
    try:
        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an exception (or value) that cannot travel: its text can
        exc = payload[1]
        data = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    tmp = out + ".part"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], sys.argv[2]))
