"""halo_overlap: dask's map_overlap with copied halo strips (sinks.runtime.halo)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage

from sinks.runtime.halo import _edges, halo_overlap


@pytest.mark.parametrize("chunks", [(5, 7), (9, 4), (16, 16), ((4, 9, 7, 12), (11, 4, 8, 9))])
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_halo_overlap_matches_map_overlap(chunks, depth):
    """Edge strips copied from the eight neighbours (corners included) give what dask's
    map_overlap gives, for a filter that looks ``depth`` pixels in every direction."""
    def ring_max(b, d=depth):
        return ndimage.maximum_filter(b, size=2 * d + 1, mode="constant", cval=0) + (b % 3)

    rng = np.random.default_rng(7)
    a = rng.integers(0, 200, size=(32, 32)).astype(np.uint8)
    x = da.from_array(a, chunks=chunks)
    if min(min(c) for c in x.chunks) < depth:
        with pytest.raises(ValueError, match="blocks of at least"):
            halo_overlap(x, ring_max, depth=depth, fill=250, name="t")
        return
    got = halo_overlap(x, ring_max, depth=depth, fill=250, name="t").compute()
    want = x.map_overlap(ring_max, depth=depth, boundary=250, dtype=x.dtype).compute()
    np.testing.assert_array_equal(got, want)


def test_halo_edges_do_not_hold_their_block():
    """The strips a block leaves for its neighbours own their memory: a view would keep the
    whole block alive until every neighbour was processed."""
    block = np.arange(64 * 48, dtype=np.uint8).reshape(64, 48)
    edges = _edges(block, 9)
    assert [e.shape for e in edges] == [(9, 48), (9, 48), (64, 9), (64, 9)]
    assert all(e.base is None for e in edges)
    np.testing.assert_array_equal(edges[3], block[:, -9:])


def test_halo_overlap_with_leading_axes_and_a_new_leading_shape():
    """A (scene, y, x) stack in, one summary layer out: the same as the filter applied to
    the whole padded array."""
    d = 2

    def summed_max(b):
        return ndimage.maximum_filter(b.sum(axis=0), size=2 * d + 1, mode="nearest")[None]

    rng = np.random.default_rng(3)
    a = rng.random((3, 20, 23)).astype(np.float32)
    got = halo_overlap(da.from_array(a, chunks=(3, 7, 6)), summed_max, depth=d, fill=np.float32(-1),
                       name="t", lead=(1,)).compute()
    want = summed_max(np.pad(a, ((0, 0), (d, d), (d, d)), constant_values=-1))[..., d:-d, d:-d]
    assert got.shape == (1, 20, 23)
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="leading axes are one chunk"):
        halo_overlap(da.from_array(a, chunks=(1, 7, 6)), summed_max, depth=d, fill=-1, name="t", lead=(1,))
