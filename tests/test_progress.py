"""`sinks run` progress: a rich bar of steps and blocks written on a terminal (a pty here),
one line per step on a pipe, nothing with -q; the library's events."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys

from test_pipeline import _scene

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def _in_pty(args: list[str], cwd) -> tuple[int, str]:
    import pty

    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("CI", None)
    proc = subprocess.Popen([sys.executable, "-m", "sinks.cli", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, cwd=cwd, close_fds=True)
    os.close(slave)
    buf = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=300), buf.decode(errors="replace")


def test_progress_bar_on_a_terminal(make_tile, tmp_path):
    spec = _scene(make_tile, tmp_path)
    code, out = _in_pty(["run", str(spec), "--out", str(tmp_path / "a")], tmp_path)
    text = ANSI.sub("", out)
    assert code == 0, text[-2000:]
    assert "\x1b[" in out                                    # drawn with terminal controls
    assert "stage: epoch 2015" in text and "blocks written" in text
    done = [tuple(map(int, m)) for m in re.findall(r"blocks written\s+\S+\s+(\d+)/(\d+)", text)]
    assert done and done[-1][0] == done[-1][1] > 0           # every block counted, all written
    assert "epoch 2020: computing and writing 2 layers" in text and "done in" in text

    code, out = _in_pty(["-q", "run", str(spec), "--out", str(tmp_path / "b")], tmp_path)
    text = ANSI.sub("", out)
    assert code == 0 and "blocks written" not in text and "stage" not in text
    assert text.strip().startswith("done in")                # -q: only the result lines


def test_plain_lines_when_not_a_terminal(make_tile, tmp_path):
    spec = _scene(make_tile, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "sinks.cli", "run", str(spec), "--out", str(tmp_path / "c")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stderr + proc.stdout and "blocks written" not in proc.stderr
    assert "  epoch 2015: computing and writing 2 layers" in proc.stderr.splitlines()


def test_run_events(make_tile, tmp_path):
    from sinks.pipeline import run

    events = []
    run(_scene(make_tile, tmp_path), out=tmp_path / "d", on_event=events.append)
    stages = [e for e in events if e["event"] == "stage"]
    assert events[0] == {"event": "stages", "total": 2} and [e["name"] for e in stages] == [
        "epoch 2015", "epoch 2020", "done"]
    blocks = [e for e in events if e["event"] == "blocks"]
    # 2 epochs x 2 index layers, each one block (80 x 130 px, chunks cut on the tiles' blocks)
    assert blocks[-1] == {"event": "blocks", "done": 4, "total": 4}
    assert [e["done"] for e in blocks] == sorted(e["done"] for e in blocks)
