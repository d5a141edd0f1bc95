"""Minimum mapping unit: sieve patches smaller than a minimum *area* per class.

China's forest definition counts forest patches of at least 1 mu (0.0667 ha; domain.md
§4): 6.7 pixels at 10 m, so at least 7 pixels, 8-connected; at 30 m one pixel already
exceeds it.  For each class with a minimum area, 8-connected patches of that class
with fewer pixels than ``ceil(area / pixel area)`` are replaced by the most frequent
class among the pixels bordering the patch (ties: the smaller legend code; nodata
never wins).  Other classes are untouched.

Lazy and exact across blocks: each block is sieved with a halo of ``n + 2`` pixels
from its eight neighbours for a minimum of ``n`` pixels.  A patch touching a block's
core and smaller than ``n`` lies wholly inside the halo, with its border ring; a patch
of ``n`` pixels or more that reaches beyond the halo still shows at least ``n`` pixels
inside it, so it is never mistaken for a small one.  The result does not depend on
the chunk size.

The halos are exchanged as copies of each block's edge strips (:func:`halo_overlap`),
not as views as dask's ``map_overlap`` takes them: a view keeps its whole block
alive, so a pass held every block whose neighbours were not yet sieved, several
block rows of a wide scene at once.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from ..grid import Grid
from ..landcover import NODATA, code_of

__all__ = ["min_pixels", "sieve_block", "sieve_mmu", "halo_overlap", "MU_HA"]

log = logging.getLogger("sinks")

MU_HA: float = 10_000 / 15 / 10_000
"""1 mu in hectares (666.7 m²)."""

_EIGHT = np.ones((3, 3), dtype=bool)


def min_pixels(area_ha: float, grid: Grid) -> int:
    """Smallest whole number of pixels whose area reaches ``area_ha`` (≥ 1)."""
    from ..area import pixel_area_ha

    if not math.isfinite(area_ha) or area_ha < 0:
        raise ConfigError(f"minimum mapping unit must be a non-negative area in ha, got {area_ha!r}")
    pa = pixel_area_ha(grid)
    cell = float(pa) if np.isscalar(pa) else float(np.max(pa))
    return max(1, math.ceil(area_ha / cell - 1e-9))


def sieve_block(block: np.ndarray, sizes: Mapping[int, int]) -> np.ndarray:
    """Sieve one in-memory block; ``sizes`` maps class code → minimum patch size in pixels.

    Patches are labelled on the input block for every class, so the order of the
    classes does not matter (a compiled pass per class, :mod:`sinks._kernels.sieve`).
    """
    from .._kernels.sieve import sieve_class

    block = np.asarray(block)
    if block.dtype != np.uint8:  # codes beyond a byte: the scipy formulation
        return _sieve_block_scipy(block, sizes)
    out = block.copy()
    for code, n in sizes.items():
        if n > 1:
            sieve_class(block, out, code=code, min_pixels=n, nodata=NODATA)
    return out


def _sieve_block_scipy(block: np.ndarray, sizes: Mapping[int, int]) -> np.ndarray:
    from scipy import ndimage

    out = block.copy()
    for code, n in sizes.items():
        if n <= 1:
            continue
        labels, count = ndimage.label(block == code, structure=_EIGHT)
        if count == 0:
            continue
        npx = np.bincount(labels.ravel(), minlength=count + 1)
        small = npx < n
        small[0] = False
        if not small.any():
            continue
        small_labels = np.where(small[labels], labels, 0)
        # each pixel of another valid class votes for the small patch(es) it borders
        near = ndimage.maximum_filter(small_labels, footprint=_EIGHT, mode="constant", cval=0)
        voter = (near > 0) & (block != code) & (block != NODATA)
        kmax = int(block.max()) + 1
        votes = np.zeros((count + 1, kmax), dtype=np.int64)
        np.add.at(votes, (near[voter], block[voter].astype(np.int64)), 1)
        winner = votes.argmax(axis=1)  # ties -> smaller code
        has = votes.max(axis=1) > 0
        target = small_labels > 0
        repl = has[small_labels] & target
        out[repl] = winner[small_labels[repl]].astype(block.dtype)
    return out


def sieve_mmu(landcover: Any, grid: Grid, mmu_ha: Mapping[str, float] | None) -> Any:
    """Apply minimum mapping units (``{class name: ha}``) to a dask or numpy land-cover array."""
    if not mmu_ha:
        return landcover
    sizes = {code_of(name): min_pixels(float(a), grid) for name, a in mmu_ha.items()}
    sizes = {c: n for c, n in sizes.items() if n > 1}
    if not sizes:
        return landcover
    log.info("minimum mapping unit: %s", ", ".join(f"{code}: {n} px" for code, n in sizes.items()))
    if not type(landcover).__module__.startswith("dask"):
        return sieve_block(np.asarray(landcover), sizes)
    depth = max(sizes.values()) + 2  # dask rechunks blocks smaller than the halo
    if min(landcover.shape) <= depth or landcover.numblocks == (1, 1):
        # one block (a small map, a batch region): no halo to exchange
        return landcover.rechunk(-1).map_blocks(sieve_block, dtype=landcover.dtype, sizes=sizes)
    if min(min(c) for c in landcover.chunks) < depth:  # a halo would span several blocks
        return landcover.map_overlap(sieve_block, depth=depth, boundary=NODATA, dtype=landcover.dtype,
                                     sizes=sizes)
    return halo_overlap(landcover, sieve_block, depth=depth, fill=NODATA, name="sieve", sizes=sizes)


def _edges(block: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Copies of a block's top, bottom, left and right strips ``depth`` pixels wide (last two axes)."""
    b = np.asarray(block)
    return (b[..., :depth, :].copy(), b[..., -depth:, :].copy(), np.ascontiguousarray(b[..., :depth]),
            np.ascontiguousarray(b[..., -depth:]))


def _with_halo(func: Any, block: np.ndarray, neighbours: list[Any], depth: int, fill: Any,
               kwargs: dict[str, Any]) -> np.ndarray:
    """Pad ``block`` with its neighbours' edge strips (``fill`` beyond the array), apply
    ``func`` and return the core.

    ``neighbours`` holds the :func:`_edges` of the blocks to the NW, N, NE, W, E, SW, S
    and SE, ``None`` past the array's border.
    """
    d = depth
    core = np.asarray(block)
    *lead, h, w = core.shape
    pad = np.full((*lead, h + 2 * d, w + 2 * d), fill, dtype=core.dtype)
    pad[..., d:d + h, d:d + w] = core
    nw, n, ne, west, east, sw, s, se = neighbours
    if n is not None:
        pad[..., :d, d:d + w] = n[1]
    if s is not None:
        pad[..., d + h:, d:d + w] = s[0]
    if west is not None:
        pad[..., d:d + h, :d] = west[3]
    if east is not None:
        pad[..., d:d + h, d + w:] = east[2]
    if nw is not None:
        pad[..., :d, :d] = nw[1][..., -d:]
    if ne is not None:
        pad[..., :d, d + w:] = ne[1][..., :d]
    if sw is not None:
        pad[..., d + h:, :d] = sw[0][..., -d:]
    if se is not None:
        pad[..., d + h:, d + w:] = se[0][..., :d]
    return np.ascontiguousarray(func(pad, **kwargs)[..., d:d + h, d:d + w])


def halo_overlap(arr: Any, func: Any, *, depth: int, fill: Any, name: str, dtype: Any = None,
                 lead: tuple[int, ...] | None = None, **kwargs: Any) -> Any:
    """``arr.map_overlap(func, depth=depth, boundary=fill)`` over the last two axes of a dask
    array whose other axes are one chunk each and whose blocks are at least ``depth``
    pixels on a side; the halos are exchanged as copied edge strips.

    Each block is used once for its own result and once for its edges; the edges
    (``4 × depth`` rows or columns a block) are what waits for the neighbours, so a
    block is freed as soon as it is processed.

    Parameters
    ----------
    arr : dask.array.Array
        ``(..., y, x)``.
    func : callable
        ``func(padded_block, **kwargs)`` → an array with the padded block's last two
        axes; its leading axes are ``lead`` (default: those of ``arr``).
    depth : int
        Halo width in pixels on each side.
    fill : scalar
        Value of the halo beyond the array's border.
    name : str
        Prefix of the task keys.
    dtype : dtype, optional
        Of the result (default ``arr.dtype``).
    lead : tuple of int, optional
        Leading shape of ``func``'s result, when it differs from ``arr``'s.
    """
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    if arr.ndim < 2 or min(min(c) for c in arr.chunks[-2:]) < depth or any(len(c) > 1 for c in arr.chunks[:-2]):
        raise ValueError(f"halo_overlap needs blocks of at least {depth} px whose leading axes are one chunk")
    dtype = np.dtype(dtype or arr.dtype)
    lead = tuple(arr.shape[:-2]) if lead is None else tuple(lead)
    token = tokenize(arr, func, depth, fill, dtype, lead, kwargs)
    edge_key, out_key = f"{name}-edges-{token}", f"{name}-{token}"
    ni, nj = arr.numblocks[-2:]
    zeros = (0,) * (arr.ndim - 2)
    src = arr.name
    dsk: dict[Any, Any] = {}
    for i in range(ni):
        for j in range(nj):
            dsk[(edge_key, i, j)] = (_edges, (src, *zeros, i, j), depth)
    out_zeros = (0,) * len(lead)
    for i in range(ni):
        for j in range(nj):
            nb = [(edge_key, i + di, j + dj) if 0 <= i + di < ni and 0 <= j + dj < nj else None
                  for di, dj in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))]
            dsk[(out_key, *out_zeros, i, j)] = (_with_halo, func, (src, *zeros, i, j), nb, depth, fill, kwargs)
    graph = HighLevelGraph.from_collections(out_key, dsk, dependencies=[arr])
    chunks = (*((n,) for n in lead), *arr.chunks[-2:])
    return da.Array(graph, out_key, chunks=chunks, dtype=dtype, meta=np.empty((0,) * len(chunks), dtype))
