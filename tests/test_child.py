"""Functions run in a fresh interpreter (sinks._child): values, exceptions, unguarded scripts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sinks._child import ChildProcess
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
        "from sinks._child import ChildProcess\n"
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
