"""Combine several categorical blocks into one code per pixel (``Σ lut_k[a_k] × base^k``)."""

from __future__ import annotations

import numpy as np

from . import jit

__all__ = ["combine_codes"]


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
