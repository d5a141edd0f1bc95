"""The ``sinks`` console script: main's status, exit handlers run, a quick exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = ("import atexit, sys; from sinks.cli import console; "
          "atexit.register(lambda: print('handler ran', flush=True)); sys.argv = ['sinks', *sys.argv[1:]]; console()")


@pytest.mark.parametrize("args, status, err", [(["--version"], 0, ""), (["run", "/nonexistent/spec.yaml"], 2,
                                                                       "spec file not found"),
                                               (["no-such-command"], 2, "No such command")])
def test_console_exits_with_mains_status_after_the_exit_handlers(args, status, err):
    got = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=120)
    assert got.returncode == status, got.stderr
    assert got.stdout.rstrip().endswith("handler ran")
    assert err in got.stderr and "Traceback" not in got.stderr


def test_python_dash_m_is_the_console_script():
    """``python -m sinks.cli`` leaves as ``sinks`` does: status kept, exit handlers run, and no
    interpreter teardown (an object's finaliser that teardown would call never runs)."""
    script = ("import atexit, runpy, sys\n"
              "class Late:\n    def __del__(self): print('teardown ran', flush=True)\n"
              "keep = Late()\n"
              "atexit.register(lambda: print('handler ran', flush=True))\n"
              "sys.argv = ['sinks', *sys.argv[1:]]\n"
              "runpy.run_module('sinks.cli', run_name='__main__', alter_sys=True)\n")
    got = subprocess.run([sys.executable, "-c", script, "run", "/nonexistent/spec.yaml"], capture_output=True,
                         text=True, timeout=120)
    assert got.returncode == 2, got.stderr
    assert "spec file not found" in got.stderr
    assert got.stdout.rstrip().endswith("handler ran")
    assert "teardown ran" not in got.stdout
