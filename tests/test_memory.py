"""Freed heap memory goes back to the OS after an epoch pass (glibc malloc_trim)."""

from __future__ import annotations

import os
import sys

import pytest

from sinks.runtime.memory import _libc, release_free_memory


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux") or _libc() is None, reason="glibc only")
def test_freed_blocks_between_live_ones_are_returned():
    # 300 MB in 100 KB pieces (below glibc's mmap threshold, so they come from the heap);
    # keeping every tenth alive leaves the freed ones stuck between them
    blocks = [bytearray(100_000) for _ in range(3000)]
    keep = blocks[::10]
    del blocks
    before = _rss_mib()
    assert release_free_memory()
    after = _rss_mib()
    assert before - after > 150, (before, after)
    assert len(keep) == 300


def test_no_op_without_glibc(monkeypatch):
    import sinks.runtime.memory as m

    monkeypatch.setattr(m, "_libc", lambda: None)
    assert release_free_memory() is False


def test_collector_tuned_for_a_run_and_left_alone_by_imports():
    """The library leaves Python's collector as it found it; tune_collector freezes what is
    alive and collects the youngest generation less often, still collecting new cycles."""
    import subprocess

    code = (
        "import gc\n"
        "before = gc.get_threshold(), gc.get_freeze_count()\n"  # 3.12 starts with some objects frozen
        "import sinks.pipeline, sinks.zonal\n"
        "assert (gc.get_threshold(), gc.get_freeze_count()) == before, before\n"
        "from sinks.runtime.memory import GC_GEN0_THRESHOLD, tune_collector\n"
        "tune_collector()\n"
        "assert gc.get_threshold()[0] == GC_GEN0_THRESHOLD and gc.get_freeze_count() > before[1] + 10_000\n"
        "import weakref\n"
        "class Node: pass\n"
        "a = Node(); a.me = a; gone = weakref.ref(a); del a\n"
        "gc.collect()\n"
        "assert gone() is None\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
