"""Mosaic digital numbers into reflectance, first valid tile wins."""

from __future__ import annotations

import math

import numpy as np

from . import jit

__all__ = ["fill_first_valid"]


@jit
def _fill(out: np.ndarray, filled: np.ndarray, data: np.ndarray, nodata: np.ndarray, has_nodata: np.ndarray,
          extra: np.ndarray, use_extra: bool, scale: np.float32, offset: np.float32, dr: int, dc: int) -> int:
    k, h, w = data.shape
    n = 0
    for i in range(h):
        for j in range(w):
            if filled[dr + i, dc + j]:
                continue
            if use_extra and not extra[i, j]:
                continue
            ok = True
            for b in range(k):
                v = float(data[b, i, j])
                if (has_nodata[b] and v == nodata[b]) or not math.isfinite(v):
                    ok = False
                    break
            if not ok:
                continue
            for b in range(k):
                out[b, dr + i, dc + j] = np.float32(data[b, i, j]) * scale + offset
            filled[dr + i, dc + j] = True
            n += 1
    return n


def fill_first_valid(out: np.ndarray, filled: np.ndarray, data: np.ndarray, *, nodata: np.ndarray,
                     scale: float, offset: float, row: int = 0, col: int = 0,
                     valid: np.ndarray | None = None) -> int:
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

    Returns
    -------
    int
        Number of pixels written.
    """
    nod = np.asarray(nodata, dtype=np.float64)
    has = ~np.isnan(nod)
    use = valid is not None
    extra = valid if use else np.ones((1, 1), dtype=np.bool_)
    return int(_fill(out, filled, data, np.where(has, nod, 0.0), has, extra, use, np.float32(scale),
                     np.float32(offset), int(row), int(col)))
