"""Block-wise functions that look past a block's edges (a dask ``map_overlap`` that copies its halos).

dask's ``map_overlap`` hands each block its neighbours' halos as *views* of their
blocks, and a view keeps the whole block it views in memory.  In a pass that walks
the blocks in patches rather than rows, every block then stays in memory until its
last neighbour is computed: at 400 Mpx, a hundred 1024² blocks of land cover at a
time.  :func:`halo_overlap` copies each block's edge strips instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["halo_overlap", "map_halo"]


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

    Each block is used once for its own result and once for its edges.  A block is
    held until its own result is computed; its neighbours wait only on its edge strips
    (``4 × depth`` rows or columns), not on views that would keep the whole block in
    memory until the last of them is computed.

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


def map_halo(arr: Any, func: Any, *, depth: int, fill: Any, name: str, dtype: Any = None,
             lead: tuple[int, ...] | None = None, **kwargs: Any) -> Any:
    """:func:`halo_overlap` where the blocks allow it, else dask's own overlap.

    Blocks thinner than ``depth`` (or leading axes in several chunks) need a halo from
    beyond the next block, which only dask's ``overlap`` builds; there the halos are
    views, as before.  Same arguments and result as :func:`halo_overlap`; ``func`` may
    drop leading axes of ``arr`` (``lead`` shorter than them), not add any.
    """
    import dask.array as da

    if min(min(c) for c in arr.chunks[-2:]) >= depth and all(len(c) == 1 for c in arr.chunks[:-2]):
        return halo_overlap(arr, func, depth=depth, fill=fill, name=name, dtype=dtype, lead=lead, **kwargs)
    dtype = np.dtype(dtype or arr.dtype)
    lead = tuple(arr.shape[:-2]) if lead is None else tuple(lead)
    dropped = arr.ndim - 2 - len(lead)  # leading axes of arr that func's result lacks
    if dropped < 0:
        raise ValueError("map_halo: func may drop leading axes, not add them")
    axes = range(arr.ndim)
    halo = {k: depth if k >= arr.ndim - 2 else 0 for k in axes}
    boundary = {k: fill if k >= arr.ndim - 2 else "none" for k in axes}

    def block(b: np.ndarray) -> np.ndarray:
        r = func(b, **kwargs)
        return r.reshape((1,) * dropped + r.shape)

    ov = da.overlap.overlap(arr, depth=halo, boundary=boundary)
    out = ov.map_blocks(block, dtype=dtype, chunks=(*((1,),) * dropped, *((n,) for n in lead), *ov.chunks[-2:]))
    return da.overlap.trim_internal(out, halo, boundary=boundary)[(0,) * dropped]
