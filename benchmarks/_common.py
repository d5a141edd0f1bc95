"""Helpers shared by the benchmark scripts: timing subprocesses, peak RSS, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SINKS = [sys.executable, "-m", "sinks.cli"]


def run_measured(cmd: Sequence[str], *, env: dict | None = None, cwd: str | None = None) -> dict[str, float]:
    """Run a command; return wall, user+sys CPU seconds (children included), the process's
    own peak RSS and the peak of the summed RSS of it and its child processes (MiB).

    The summed figure is sampled every 0.1 s with psutil: it is what the machine must hold
    when the run's zonal children work beside the main process.
    """
    import threading

    t0 = time.perf_counter()
    proc = subprocess.Popen(list(cmd), env={**os.environ, **(env or {})}, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tree_peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        try:
            import psutil
        except ImportError:
            return
        try:
            root = psutil.Process(proc.pid)
            while not done.is_set():
                total = 0
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                tree_peak[0] = max(tree_peak[0], total / 2**20)
                done.wait(0.1)
        except psutil.Error:
            return

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    _pid, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    watcher.join()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {code}: {err[-2000:]}")
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mib": ru.ru_maxrss / 1024,
            "tree_peak_rss_mib": tree_peak[0]}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = runs[0].keys()
    return {k: statistics.median(r[k] for r in runs) for k in keys} | {"runs": len(runs)}


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "when": time.strftime("%Y-%m-%dT%H:%M:%S"), **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in cols]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)), "  ".join("-" * w for w in widths)]
    for r in rows:
        lines.append("  ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(cols, widths)))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return "" if v is None else str(v)
