"""block_reduce: a task per block and one combining them, as dask.delayed per block made them."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

from sinks.runtime.blocktasks import block_reduce


def _where(a, b, r0, c0, tag):
    return (r0, c0, a.shape, float(a.sum()), float(b.sum()), tag)


def test_every_block_with_its_offsets_and_extra_arguments_in_row_order():
    x = np.arange(7 * 11, dtype=np.float64).reshape(7, 11)
    y = x * 2
    a, b = da.from_array(x, chunks=((3, 4), (5, 2, 4))), da.from_array(y, chunks=((3, 4), (5, 2, 4)))
    got = block_reduce(_where, [a, b], extra=lambda i, j, r0, c0: (r0, c0, (i, j)), combine=lambda p, k: (p, k),
                       combine_args=("k",), name="where").compute()
    parts, k = got
    assert k == "k"
    want = []
    for i, (r0, h) in enumerate(((0, 3), (3, 4))):
        for j, (c0, w) in enumerate(((0, 5), (5, 2), (7, 4))):
            blk = x[r0:r0 + h, c0:c0 + w]
            want.append((r0, c0, (h, w), float(blk.sum()), float(2 * blk.sum()), (i, j)))
    assert parts == want


def test_a_subset_of_blocks_in_the_order_given_and_one_task_each():
    x = np.arange(36).reshape(6, 6)
    a = da.from_array(x, chunks=2)
    d = block_reduce(lambda blk: int(blk[0, 0]), [a], blocks=[(2, 1), (0, 0)], combine=list, name="corner")
    assert d.compute() == [x[4, 2], x[0, 0]]
    layer = d.__dask_graph__().layers[d.key]
    blocks = sorted(k[1:] for k in layer if isinstance(k, tuple))
    assert blocks == [(0, 0), (2, 1)]
    assert len(layer) == 3  # two blocks and the combining task


def test_same_inputs_same_keys_and_the_blocks_computed_once_beside_other_outputs():
    calls = []

    def source(block):
        calls.append(1)
        return block

    x = np.ones((8, 8), dtype=np.uint8)
    a = da.from_array(x, chunks=4).map_blocks(source, dtype=np.uint8)
    one = block_reduce(np.sum, [a], combine=sum, name="total")
    two = block_reduce(np.sum, [a], combine=sum, name="total")
    assert one.key == two.key
    calls.clear()  # map_blocks may call it on an empty block to learn its type
    total, arr = dask.compute(one, a, scheduler="sync")
    assert total == 64 and arr.sum() == 64 and len(calls) == 4


def test_arrays_of_other_chunks_or_dimensions_are_refused():
    a = da.zeros((4, 4), chunks=2)
    with pytest.raises(ValueError, match="same chunks"):
        block_reduce(np.sum, [a, da.zeros((4, 4), chunks=(2, 4))], combine=sum, name="x")
    with pytest.raises(ValueError, match="two-dimensional"):
        block_reduce(np.sum, [da.zeros(4, chunks=2)], combine=sum, name="x")
    with pytest.raises(ValueError, match="no arrays"):
        block_reduce(np.sum, [], combine=sum, name="x")


def test_reductions_over_the_same_blocks_run_as_one_task_per_block_with_the_same_results():
    """fuse_block_reductions: two reductions over one array (a third over a subset of its
    blocks): one task per block, each combining task gets its own parts, in order."""
    from dask._task_spec import Task, convert_legacy_graph
    from dask.base import collections_to_expr

    from sinks.runtime.blocktasks import fuse_block_reductions
    from sinks.runtime.strips import compute_in_strips

    x = np.arange(12 * 10, dtype=np.int64).reshape(12, 10)
    a = da.from_array(x, chunks=(4, 5))
    total = block_reduce(np.sum, [a], combine=sum, name="total")
    corners = block_reduce(lambda blk, r0, c0: (r0, c0, int(blk[0, 0])), [a],
                           extra=lambda i, j, r0, c0: (r0, c0), combine=list, name="corners")
    some = block_reduce(np.max, [a], blocks=[(2, 1), (0, 0)], combine=list, name="some")
    want = dask.compute(total, corners, some, scheduler="sync")
    dsk = convert_legacy_graph(dict(collections_to_expr([total, corners, some], True).optimize().__dask_graph__()))
    fused = fuse_block_reductions(dsk)
    blocks = [k for k in fused if isinstance(k, tuple) and str(k[0]).startswith("block-reductions-")]
    assert sorted(k[1:] for k in blocks) == [(i, j) for i in range(3) for j in range(2)]
    assert not any(isinstance(k, tuple) and str(k[0]).startswith(("total-", "corners-", "some-")) for k in fused)
    assert all(isinstance(fused[k], Task) for k in blocks)
    got = compute_in_strips(total, corners, some, get=dask.get)
    assert got[0] == want[0] == x.sum()
    assert got[1] == want[1] == [(r, c, int(x[r, c])) for r in (0, 4, 8) for c in (0, 5)]
    assert got[2] == want[2] == [int(x[8:12, 5:10].max()), int(x[0:4, 0:5].max())]


def test_a_lone_reduction_is_left_as_it_is():
    from dask._task_spec import convert_legacy_graph

    from sinks.runtime.blocktasks import fuse_block_reductions

    a = da.from_array(np.ones((4, 4)), chunks=2)
    d = block_reduce(np.sum, [a], combine=sum, name="lone")
    dsk = convert_legacy_graph(dict(d.__dask_graph__()))
    assert fuse_block_reductions(dsk) == dsk
