"""Functions run in a fresh interpreter (sinks.runtime.child): values, exceptions, unguarded scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sinks.runtime.child import ChildProcess
from sinks.errors import ConfigError
from sinks.goals import load_targets


def test_value_and_exception_come_back(tmp_path):
    assert ChildProcess(sum, [1, 2, 3]).result() == 6
    with pytest.raises(ValueError):
        ChildProcess(int, "not a number").result()
    with pytest.raises(ConfigError, match="targets file not found"):  # the sinks error type travels too
        ChildProcess(load_targets, str(tmp_path / "missing.yaml")).result()


def test_a_script_without_main_guard_is_not_run_again(tmp_path):
    """multiprocessing's spawn would import the script again in the child; sinks' children do not."""
    marker = tmp_path / "runs.txt"
    script = tmp_path / "user_script.py"
    script.write_text(
        "from sinks.runtime.child import ChildProcess\n"
        f"open({str(marker)!r}, 'a').write('x')\n"
        "print(ChildProcess(max, [4, 9, 2]).result())\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "9" and marker.read_text() == "x"


def test_cancel_stops_a_running_child():
    import time

    job = ChildProcess(time.sleep, 30)
    t0 = time.perf_counter()
    job.cancel()
    assert time.perf_counter() - t0 < 10


def test_child_exits_and_cleans_up_when_its_parent_is_killed(tmp_path):
    """An orphaned child (its run SIGKILLed) stops within seconds and removes its pickles."""
    import os
    import signal
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import time\n"
        "from sinks.runtime.child import ChildProcess\n"
        "job = ChildProcess(time.sleep, 120)\n"
        "print(job._proc.pid, job._dir, flush=True)\n"
        "time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1])
    child_pid, folder = parent.stdout.readline().split()
    child_pid = int(child_pid)
    assert Path(folder).is_dir() and list(Path(folder).glob("*.pkl"))
    time.sleep(1.0)  # the child is up and sleeping
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            break
        try:  # reap it if it became our child (it does not; be tidy where it does)
            os.waitpid(child_pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    else:
        os.kill(child_pid, signal.SIGKILL)
        pytest.fail("the orphaned child was still running 10 s after its parent died")
    assert not Path(folder).exists()


def test_folders_of_dead_parents_are_swept(tmp_path):
    import tempfile

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    stale = Path(tempfile.mkdtemp(prefix=f"sinks-child-{proc.pid}-"))
    (stale / "job.pkl").write_bytes(b"x")
    assert ChildProcess(sum, [1, 2]).result() == 3
    assert not stale.exists()


def test_a_spare_child_runs_the_next_job_and_unused_spares_stop(tmp_path):
    """prestart(): the next ChildProcess runs in the waiting interpreter (its imports done);
    a spare no job took is stopped by stop_spares() and leaves no folder behind."""
    import glob
    import tempfile
    import time

    from sinks.runtime import child

    child.prestart(["json"])
    spare = child._SPARES[0]
    time.sleep(0.5)
    job = child.ChildProcess(sorted, [3, 1, 2])
    assert job._proc is spare.proc and job.result() == [1, 2, 3]
    child.prestart(["json"])
    folder = child._SPARES[0].dir
    child.stop_spares()
    assert not child._SPARES and not folder.exists()
    assert child.ChildProcess(len, "abc").result() == 3  # no spare: a fresh child as before
    assert not glob.glob(f"{tempfile.gettempdir()}/sinks-child-{os.getpid()}-*")


def test_a_spare_still_importing_is_stopped_at_once(tmp_path, monkeypatch):
    """A spare whose job never comes is of no use: stop_spares() does not wait for its imports."""
    import time

    from sinks.runtime import child

    (tmp_path / "slow_to_import.py").write_text("import time\ntime.sleep(30)\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    child.prestart(["slow_to_import"])
    proc, folder = child._SPARES[0].proc, child._SPARES[0].dir
    time.sleep(1.0)  # well inside its import
    assert proc.poll() is None and child.has_spare()
    t0 = time.perf_counter()
    child.stop_spares()
    assert time.perf_counter() - t0 < 2.0 and proc.poll() is not None
    assert not folder.exists() and not child.has_spare()


def test_a_spare_runs_its_warm_up_tasks_before_the_job(tmp_path, monkeypatch):
    """prewarm(): tasks handed to a spare run after its imports, in order, before its job
    (which sees what they left); a failing one is skipped; no spare, no task."""
    from sinks.runtime import child

    (tmp_path / "warm_store.py").write_text(
        "STORE = []\n"
        "def put(v):\n    STORE.append(v)\n"
        "def fail():\n    raise RuntimeError('warm-up failed')\n"
        "def seen():\n    return list(STORE)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    import warm_store

    assert not child.prewarm(warm_store.put, 0)  # no spare to take it
    child.prestart(["json"])
    spare = child._SPARES[0]
    assert not child.prewarm(warm_store.put, lambda: None)  # cannot be pickled: left to the job
    assert child.prewarm(warm_store.put, 1)
    assert child.prewarm(warm_store.fail)
    assert child.prewarm(warm_store.put, 2)
    job = child.ChildProcess(warm_store.seen)
    assert job._proc is spare.proc and job.result() == [1, 2]
    assert warm_store.STORE == []  # ran in the child, not here
    assert not spare.dir.exists()


def test_a_spare_ignores_warm_up_names_outside_its_folder(tmp_path, monkeypatch):
    """Only ``warm-N.pkl`` in the spare's own folder is run (and removed): another name,
    or a path out of the folder, is left alone."""
    import pickle

    from sinks.runtime import child

    (tmp_path / "store2.py").write_text("STORE = []\ndef put(v):\n    STORE.append(v)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import store2

    folder = tmp_path / "spare"
    folder.mkdir()
    for name, v in (("warm-1.pkl", 1), ("other.pkl", 2)):
        (folder / name).write_bytes(pickle.dumps((store2.put, (v,), {})))
    (tmp_path / "warm-3.pkl").write_bytes(pickle.dumps((store2.put, (3,), {})))
    for name in ("other.pkl", "../warm-3.pkl", "warm-1.pkl"):
        child._run_warm(str(folder), name)
    assert store2.STORE == [1]
    assert not (folder / "warm-1.pkl").exists() and (folder / "other.pkl").exists()
    assert (tmp_path / "warm-3.pkl").exists()
