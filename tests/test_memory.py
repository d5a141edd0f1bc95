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


_REUSE = (
    "import json, resource, sys\n"
    "import numpy as np\n"
    "from sinks.runtime.memory import tune_allocator\n"
    "done = tune_allocator() if sys.argv[1] == 'tune' else {}\n"
    "def faults():\n"
    "    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
    "a = np.ones(48 << 20, np.uint8); del a\n"  # the heap grows once
    "before = faults()\n"
    "for _ in range(10):\n"
    "    a = np.empty(48 << 20, np.uint8); a[::4096] = 1; del a\n"  # a block touched, freed
    "print(json.dumps({'set': done, 'faults': faults() - before}))\n"
)


def _reuse(mode: str, **env: str) -> dict:
    import json
    import subprocess

    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    out = subprocess.run([sys.executable, "-c", _REUSE, mode], capture_output=True, text=True, timeout=120,
                         env={**clean, **env})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux") or _libc() is None, reason="glibc only")
def test_tuned_allocator_reuses_a_freed_blocks_pages():
    """A 48 MiB block freed and allocated again ten times: glibc's default maps and zeroes
    its pages each time (at least 24 faults a block, were they all 2 MiB huge pages);
    tuned, the heap's pages serve it again."""
    from sinks.runtime.memory import MMAP_THRESHOLD, TRIM_THRESHOLD

    plain = _reuse("plain")
    tuned = _reuse("tune")
    assert tuned["set"] == {"M_ARENA_MAX": 2, "M_MMAP_THRESHOLD": MMAP_THRESHOLD, "M_TRIM_THRESHOLD": TRIM_THRESHOLD}
    assert plain["faults"] >= 10 * 24, plain
    assert tuned["faults"] < 24, tuned


@pytest.mark.skipif(not sys.platform.startswith("linux") or _libc() is None, reason="glibc only")
def test_allocator_settings_of_the_user_win():
    assert _reuse("tune", MALLOC_ARENA_MAX="4")["set"] == {
        "M_MMAP_THRESHOLD": 1 << 30, "M_TRIM_THRESHOLD": 256 << 20}
    assert _reuse("tune", MALLOC_MMAP_THRESHOLD_="65536")["set"] == {"M_ARENA_MAX": 2, "M_TRIM_THRESHOLD": 256 << 20}
    assert _reuse("tune", GLIBC_TUNABLES="glibc.malloc.trim_threshold=131072")["set"] == {}


def test_allocator_left_alone_without_glibc(monkeypatch):
    import sinks.runtime.memory as m

    monkeypatch.setattr(m, "_libc", lambda: None)
    assert m.tune_allocator() == {}
