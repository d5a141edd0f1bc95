"""compute_in_strips: dask.compute run a few block rows at a time (sinks.runtime.strips)."""

from __future__ import annotations

import threading
import weakref

import dask
import dask.array as da
import dask.local
import dask.threaded
import numpy as np
import pytest
from scipy import ndimage

from sinks.runtime.strips import _rows, compute_in_strips
from sinks.runtime.halo import halo_overlap


class _Live:
    """Counts the blocks made by ``make`` that are still referenced somewhere."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live = self.peak = self.made = 0

    def _gone(self) -> None:
        with self.lock:
            self.live -= 1

    def make(self, block: np.ndarray) -> np.ndarray:
        out = block * 2 + 1          # a fresh array dask keeps until its consumers ran
        with self.lock:
            self.made += 1
            self.live += 1
            self.peak = max(self.peak, self.live)
        weakref.finalize(out, self._gone)
        return out


def _graph(a: np.ndarray, live: _Live, chunks: int):
    x = da.from_array(a, chunks=chunks).map_blocks(live.make, dtype=a.dtype)
    smooth = halo_overlap(x, lambda p: ndimage.maximum_filter(p, size=3), depth=1, fill=0, name="max")
    return smooth, smooth.sum(), (x > 100).sum(axis=0)


@pytest.mark.parametrize("get", [dask.threaded.get, dask.local.get_sync])
def test_same_results_as_dask_compute_and_each_task_once(get):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 120, size=(96, 80)).astype(np.int64)
    live = _Live()
    smooth, total, cols = _graph(a, live, 8)
    made = live.made                 # dask called the function once on an empty block for its type
    target = np.zeros(a.shape, a.dtype)
    stored = da.store(smooth, target, lock=False, compute=False)
    _s, got_total, (got_cols, const) = compute_in_strips(stored, total, (cols, 7), get=get)
    assert live.made == made + smooth.numblocks[0] * smooth.numblocks[1]   # no block computed twice
    ref_smooth, ref_total, ref_cols = dask.compute(*_graph(a, _Live(), 8), scheduler="sync")
    np.testing.assert_array_equal(target, ref_smooth)
    assert got_total == ref_total and const == 7
    np.testing.assert_array_equal(got_cols, ref_cols)


def test_blocks_held_at_once_follow_the_strip_not_the_array():
    """12 x 10 blocks, strips of 2 rows (20 blocks): a block waits at most for the row below
    it, so no more than about three rows of blocks are alive at once."""
    a = np.arange(96 * 80, dtype=np.int64).reshape(96, 80) % 97
    live = _Live()
    smooth, total, _cols = _graph(a, live, 8)
    made = live.made
    compute_in_strips(smooth, total, get=dask.local.get_sync, rows_per_strip=2, min_blocks=1)
    assert live.made - made == 120
    assert live.peak <= 3 * 10 + 2, live.peak
    assert live.live == 0


def test_rows_of_tasks():
    """A block root is on its own row; anything else on the largest row it depends on."""
    dsk = {("r", 0, 0): 1, ("r", 1, 0): 2, ("s", 0, 0): (sum, [("r", 0, 0), ("r", 1, 0)]),
           "total": (sum, [("s", 0, 0)]), "const": 5}
    from dask._task_spec import convert_legacy_graph

    g = convert_legacy_graph(dsk)
    rows = _rows(g, {k: set(v.dependencies) for k, v in g.items()})
    assert rows == {("r", 0, 0): 0, ("r", 1, 0): 1, ("s", 0, 0): 1, "total": 1, "const": -1}


def test_nothing_to_compute_is_returned_as_given():
    assert compute_in_strips(1, "a", get=dask.local.get_sync) == (1, "a")


def test_each_strip_computes_its_own_rows_only():
    """Strips of 2 block rows over 12 rows: each scheduler call computes the tasks of at most
    3 block rows (its own and the sieve of the row above), and every task runs in one call."""
    from dask._task_spec import DataNode

    a = np.arange(96 * 80, dtype=np.int64).reshape(96, 80) % 97
    smooth, total, _cols = _graph(a, _Live(), 8)
    calls = []

    def get(dsk, keys):
        calls.append({k for k, v in dsk.items() if not isinstance(v, DataNode)})
        return dask.local.get_sync(dsk, keys)

    got, got_total = compute_in_strips(smooth, total, get=get, rows_per_strip=2, min_blocks=1)
    assert len(calls) >= 6
    for keys in calls:
        rows = {k[-2] for k in keys if isinstance(k, tuple) and str(k[0]).startswith(("make-", "max-"))}
        assert max(rows) - min(rows) <= 2, sorted(rows)
    everything = [k for keys in calls for k in keys]
    assert len(everything) == len(set(everything))          # no task in two calls
    assert got_total == got.sum()


def test_passes_fall_back_to_dask_compute_without_strip_support(monkeypatch):
    """On a dask without task-spec graphs the pass is one dask.compute, with the same result."""
    import sinks.runtime.strips as strips
    from sinks.outputs import _compute

    x = da.arange(64, chunks=8).reshape(8, 8).rechunk(4)
    assert strips.supported()
    monkeypatch.setattr(strips, "compute_in_strips", lambda *a, **k: pytest.fail("strips used"))
    monkeypatch.setattr(strips, "supported", lambda: False)
    with dask.config.set(scheduler="sync"):
        (got,) = _compute(x.sum())
    assert got == 64 * 63 // 2


@pytest.mark.parametrize("scheduler", ["threads", "sync"])
def test_passes_use_strips_on_the_local_schedulers(monkeypatch, scheduler):
    import sinks.runtime.strips as strips
    from sinks.outputs import _compute

    used = []
    real = strips.compute_in_strips
    monkeypatch.setattr(strips, "compute_in_strips", lambda *a, **k: used.append(k["get"]) or real(*a, **k))
    with dask.config.set(scheduler=scheduler):
        (got,) = _compute(da.ones((16, 16), chunks=4).sum())
    assert got == 256 and len(used) == 1
