"""Mosaic digital numbers into reflectance, first valid tile wins."""

from __future__ import annotations

import math

import numpy as np

from . import jit

__all__ = ["fill_first_valid", "blank_unfilled", "fill_first_valid_dn", "contains_value"]


@jit
def _fill(out, filled, data, nodata, has_nodata, extra, use_extra, dr, dc, check_finite, scale, offset,
          first):  # noqa: ANN001, ANN202
    """One pass, row by row, so each row of every band is still in cache when it is written.

    A pixel is taken where it is not filled yet, every band is valid (not nodata, finite)
    and ``extra`` allows it; there ``out = float32(DN) × scale + offset`` and the pixel is
    marked filled.  With ``first`` (nothing filled before) the window is written whole,
    NaN where not taken, branch-free so it vectorises.
    """
    k, h, w = data.shape
    nan = np.float32(np.nan)
    take = np.empty(w, dtype=np.bool_)
    n = 0
    for i in range(h):
        r = dr + i
        if first:
            take[:] = True
        else:
            for j in range(w):
                take[j] = not filled[r, dc + j]
        if use_extra:
            for j in range(w):
                take[j] = take[j] and extra[i, j]
        for b in range(k):
            if has_nodata[b]:
                nd = nodata[b]
                for j in range(w):
                    take[j] = take[j] and data[b, i, j] != nd
            if check_finite:
                for j in range(w):
                    take[j] = take[j] and math.isfinite(data[b, i, j])
        if first:
            for j in range(w):
                t = take[j]
                filled[r, dc + j] = t
                n += 1 if t else 0
            for b in range(k):
                for j in range(w):
                    v = np.float32(data[b, i, j]) * scale + offset
                    out[b, r, dc + j] = v if take[j] else nan
        else:
            for j in range(w):
                if take[j]:
                    filled[r, dc + j] = True
                    n += 1
            for b in range(k):
                for j in range(w):
                    if take[j]:
                        out[b, r, dc + j] = np.float32(data[b, i, j]) * scale + offset
    return n


@jit
def _blank(out, filled):  # noqa: ANN001, ANN202
    k, h, w = out.shape
    nan = np.float32(np.nan)
    for b in range(k):
        for i in range(h):
            for j in range(w):
                if not filled[i, j]:
                    out[b, i, j] = nan


def blank_unfilled(out: np.ndarray, filled: np.ndarray) -> None:
    """Set every band of ``out`` to NaN where ``filled`` is false (for blocks allocated empty)."""
    _blank(out, filled)


def fill_first_valid(out: np.ndarray, filled: np.ndarray, data: np.ndarray, *, nodata: np.ndarray,
                     scale: float, offset: float, row: int = 0, col: int = 0,
                     valid: np.ndarray | None = None, first: bool = False) -> int:
    """Write ``data × scale + offset`` into the pixels of ``out`` not yet ``filled``.

    Parameters
    ----------
    out : numpy.ndarray
        ``float32 (bands, H, W)`` block, NaN where nothing was written yet.
    filled : numpy.ndarray
        ``bool (H, W)``: pixels already taken from an earlier tile; updated.
    data : numpy.ndarray
        ``(bands, h, w)`` digital numbers (any numeric dtype) of one tile, placed at
        ``(row, col)`` in the block.
    nodata : numpy.ndarray
        Per-band nodata value (NaN: none).  A pixel is taken only where every band is
        valid (not nodata, finite) and ``valid`` (QA, warp mask) allows it.
    scale, offset : float
        ``reflectance = float32(DN) × float32(scale) + float32(offset)``, rounded to
        float32 after each step (as numpy would).
    valid : numpy.ndarray, optional
        ``bool (h, w)`` extra mask.
    first : bool
        Nothing is filled yet (the block's first tile): the window is written whole,
        NaN where invalid, in one vectorised pass.

    Returns
    -------
    int
        Number of pixels written.
    """
    nod = np.asarray(nodata, dtype=np.float64)
    has = ~np.isnan(nod)
    use = valid is not None
    extra = valid if use else np.ones((1, 1), dtype=np.bool_)
    # nodata compared in the data's own type (a value that type cannot hold never matches)
    cast = np.where(has, nod, 0).astype(data.dtype) if data.dtype.kind in "iu" else np.where(has, nod, 0.0)
    has &= cast.astype(np.float64) == np.where(has, nod, 0.0)
    return int(_fill(out, filled, data, cast, has, extra, use, int(row), int(col), data.dtype.kind == "f",
                     np.float32(scale), np.float32(offset), bool(first)))


@jit
def _fill_dn(out, filled, data, nodata, extra, use_extra, dr, dc):  # noqa: ANN001, ANN202
    """Digital numbers into the pixels of ``out`` not filled yet where every band differs
    from ``nodata`` and ``extra`` allows it; the others are left as they are."""
    k, h, w = data.shape
    n = 0
    for i in range(h):
        r = dr + i
        for j in range(w):
            if filled[r, dc + j] or (use_extra and not extra[i, j]):
                continue
            ok = True
            for b in range(k):
                if data[b, i, j] == nodata:
                    ok = False
                    break
            if ok:
                for b in range(k):
                    out[b, r, dc + j] = data[b, i, j]
                filled[r, dc + j] = True
                n += 1
    return n


def fill_first_valid_dn(out: np.ndarray, filled: np.ndarray, data: np.ndarray, *, nodata: int, row: int = 0,
                        col: int = 0, valid: np.ndarray | None = None) -> int:
    """Copy ``data``'s digital numbers into the pixels of ``out`` not yet ``filled``.

    The integer counterpart of :func:`fill_first_valid`: a pixel is taken only where
    every band differs from ``nodata`` and ``valid`` (QA, warp mask) allows it, so a
    pixel of the finished block either holds one tile's valid numbers in every band
    or ``nodata`` (``out`` starts filled with it).

    Returns
    -------
    int
        Number of pixels written.
    """
    use = valid is not None
    extra = valid if use else np.ones((1, 1), dtype=np.bool_)
    return int(_fill_dn(out, filled, data, data.dtype.type(nodata), extra, use, int(row), int(col)))


@jit
def _contains(flat, value):  # noqa: ANN001, ANN202
    n = flat.size
    for s in range(0, n, 4096):  # an or-reduction over each run, which the compiler vectorises
        hit = False
        for i in range(s, min(n, s + 4096)):
            hit |= flat[i] == value
        if hit:
            return True
    return False


def contains_value(data: np.ndarray, value: int) -> bool:
    """Whether any element of the integer array ``data`` equals ``value`` (in ``data``'s dtype)."""
    flat = np.ascontiguousarray(data).reshape(-1)
    return bool(_contains(flat, flat.dtype.type(value)))
