"""Combine several categorical blocks into one code per pixel (``Σ lut_k[a_k] × base^k``)."""

from __future__ import annotations

import numpy as np

from . import jit

__all__ = ["combine_codes", "pair_codes", "hist_u8", "hist2_u8", "tile_hist", "take_u8"]


@jit
def _combine(blocks, luts, base, out, hist):  # noqa: ANN001, ANN202
    h, w = out.shape
    for y in range(h):
        for x in range(w):
            v = 0
            weight = 1
            for k in range(len(blocks)):
                b = blocks[k][y, x]
                hist[k, b] += 1
                v += luts[k, b] * weight
                weight *= base
            out[y, x] = v


def combine_codes(blocks: list[np.ndarray], luts: np.ndarray, base: int) -> tuple[np.ndarray, np.ndarray]:
    """``int32`` combined codes of ``uint8`` blocks of one shape, each mapped through its row of ``luts``.

    Parameters
    ----------
    blocks : list of numpy.ndarray
        ``uint8 (rows, cols)`` blocks (one per raster).
    luts : numpy.ndarray
        ``int32 (len(blocks), 256)``: the digit of every byte value, per raster.
    base : int
        Digits lie in ``0 .. base - 1``.

    Returns
    -------
    (codes, histogram)
        The codes, and ``int64 (len(blocks), 256)`` counts of every byte value per raster.
    """
    arrs = tuple(np.ascontiguousarray(b, dtype=np.uint8) for b in blocks)
    out = np.empty(arrs[0].shape, dtype=np.int32)
    hist = np.zeros((len(arrs), 256), dtype=np.int64)
    _combine(arrs, np.ascontiguousarray(luts, dtype=np.int32), int(base), out, hist)
    return out, hist


@jit
def _pair(a, b, lut, out):  # noqa: ANN001, ANN202
    h, w = a.shape
    for y in range(h):
        for x in range(w):
            fa = lut[a[y, x]]
            tb = lut[b[y, x]]
            out[y, x] = 0 if fa == 0 or tb == 0 else fa * 16 + tb


def pair_codes(a: np.ndarray, b: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """``uint8`` codes ``lut[a] × 16 + lut[b]`` of two ``uint8`` blocks, 0 where either maps to 0.

    One pass over the pixels (the numpy form makes eight); ``lut`` is ``uint8[256]`` with
    values below 16.
    """
    a = np.ascontiguousarray(a, dtype=np.uint8)
    b = np.ascontiguousarray(b, dtype=np.uint8)
    out = np.empty(a.shape, dtype=np.uint8)
    _pair(a, b, np.ascontiguousarray(lut, dtype=np.uint8), out)
    return out


#: Counters per bin that the counting kernels spread neighbouring pixels over: land cover
#: comes in runs of one class, and one counter incremented pixel after pixel waits for its
#: own previous store each time (four interleaved counters count about three times faster).
LANES = 4


@jit
def _hist(a, weights, use_weights, counts, areas):  # noqa: ANN001, ANN202
    h, w = a.shape
    lanes = np.zeros((4, 256), dtype=np.int64)
    row = np.zeros(256, dtype=np.int64)  # one row's counts, for its area weight
    for y in range(h):
        for x in range(w):
            lanes[x & 3, a[y, x]] += 1
        if use_weights:
            wy = weights[y]
            for x in range(w):
                row[a[y, x]] += 1
            for v in range(256):
                if row[v]:
                    areas[v] += row[v] * wy
                    row[v] = 0
    for k in range(4):
        for v in range(256):
            counts[v] += lanes[k, v]


@jit
def _hist2(a, b, weights, use_weights, counts, areas):  # noqa: ANN001, ANN202
    h, w = a.shape
    lanes = np.zeros((4, 256, 256), dtype=np.int32)
    for y in range(h):
        for x in range(w):
            lanes[x & 3, a[y, x], b[y, x]] += 1
        if use_weights:
            wy = weights[y]
            for x in range(w):
                areas[a[y, x], b[y, x]] += wy
    for k in range(4):
        for i in range(256):
            for j in range(256):
                counts[i, j] += lanes[k, i, j]


def hist_u8(a: np.ndarray, row_weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Counts of every byte value in a ``uint8 (rows, cols)`` block, and their summed row weights.

    Returns
    -------
    (counts int64[256], weighted float64[256] or None)
    """
    a = np.ascontiguousarray(a, dtype=np.uint8)
    if a.ndim == 1:
        a = a[None]
    counts = np.zeros(256, dtype=np.int64)
    use = row_weights is not None
    areas = np.zeros(256 if use else 1, dtype=np.float64)
    w = np.ascontiguousarray(row_weights, dtype=np.float64) if use else np.zeros(1)
    _hist(a, w, use, counts, areas)
    return counts, (areas if use else None)


def hist2_u8(a: np.ndarray, b: np.ndarray, row_weights: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray | None]:
    """Counts of every (a, b) byte pair of two ``uint8`` blocks of one shape (and summed row weights).

    Returns
    -------
    (counts int64[256, 256], weighted float64[256, 256] or None)
    """
    a = np.ascontiguousarray(a, dtype=np.uint8)
    b = np.ascontiguousarray(b, dtype=np.uint8)
    if a.ndim == 1:
        a, b = a[None], b[None]
    counts = np.zeros((256, 256), dtype=np.int64)
    use = row_weights is not None
    areas = np.zeros((256, 256) if use else (1, 1), dtype=np.float64)
    w = np.ascontiguousarray(row_weights, dtype=np.float64) if use else np.zeros(1)
    _hist2(a, b, w, use, counts, areas)
    return counts, (areas if use else None)


@jit
def _tile_hist(a, b, pair, lut, base, r_off, c_off, tile, out):  # noqa: ANN001, ANN202
    h, w = a.shape
    nty, ntx, bins = out.shape
    lanes = np.zeros((ntx, 4, bins), dtype=np.int32)  # one tile row's counters
    ty = r_off // tile
    for y in range(h):
        x = 0
        tx = c_off // tile
        seg = tile - c_off % tile  # pixels of this row in its first tile
        while x < w:
            x1 = min(w, x + seg)
            cnt = lanes[tx]
            if pair:
                for i in range(x, x1):
                    cnt[i & 3, lut[a[y, i]] * base + lut[b[y, i]]] += 1
            else:
                for i in range(x, x1):
                    cnt[i & 3, lut[a[y, i]]] += 1
            x = x1
            tx += 1
            seg = tile
        if y == h - 1 or (y + r_off + 1) % tile == 0:  # the tile row ends: into the output
            for i in range(ntx):
                for k in range(4):
                    for d in range(bins):
                        out[ty, i, d] += lanes[i, k, d]
                        lanes[i, k, d] = 0
            ty += 1


def tile_hist(a: np.ndarray, b: np.ndarray | None, lut: np.ndarray, *, base: int, row_offset: int,
              col_offset: int, tile: int) -> np.ndarray:
    """Counts of every digit (or digit pair) per square tile of a ``uint8`` block.

    Parameters
    ----------
    a, b : numpy.ndarray
        ``uint8 (rows, cols)`` blocks; ``b`` (optional) a second map on the same pixels.
    lut : numpy.ndarray
        ``uint8[256]``: the digit (``0 .. base - 1``) of every byte value.
    base : int
    row_offset, col_offset : int
        Where the block starts inside its first tile (``0 .. tile - 1``).
    tile : int
        Tile side in pixels.

    Returns
    -------
    numpy.ndarray
        ``int64 (tile rows, tile cols, base or base²)`` the block touches; a pair counts
        at ``lut[a] × base + lut[b]``.
    """
    a = np.ascontiguousarray(a, dtype=np.uint8)
    pair = b is not None
    bb = np.ascontiguousarray(b, dtype=np.uint8) if pair else a
    h, w = a.shape
    nty = (row_offset + h + tile - 1) // tile
    ntx = (col_offset + w + tile - 1) // tile
    out = np.zeros((nty, ntx, base * base if pair else base), dtype=np.int64)
    _tile_hist(a, bb, pair, np.ascontiguousarray(lut, dtype=np.uint8), int(base), int(row_offset),
               int(col_offset), int(tile), out)
    return out


@jit
def _take(lut, a, out):  # noqa: ANN001, ANN202
    h, w = a.shape
    for y in range(h):
        row, dst = a[y], out[y]
        for x in range(w):
            dst[x] = lut[row[x]]


def take_u8(lut: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``lut[a]`` for a 2-D block of 8-bit codes and a 256-entry table, in one pass (numpy
    would first widen every code to a 64-bit index).  The values are the table's, as
    ``numpy.take`` returns them."""
    if a.ndim != 2 or a.dtype != np.uint8 or lut.shape != (256,):
        raise ValueError(f"take_u8: a 2-D uint8 block and 256 table entries, got {a.dtype} {a.shape} and {lut.shape}")
    out = np.empty(a.shape, dtype=lut.dtype)
    _take(np.ascontiguousarray(lut), a, out)
    return out
