"""Minimum-mapping-unit sieve of one class in one block (8-connected patches).

Patches of the class with fewer than ``n`` pixels take the most frequent class among
the pixels bordering them (ties: the smaller code; nodata never votes).  A bordering
pixel that touches several small patches votes once, for the one labelled last in
raster-scan order (the highest label), as a maximum filter over the label image
would give.  Labels are numbered in raster-scan order of each patch's first pixel.
"""

from __future__ import annotations

import numpy as np

from . import jit
from .label import _label_equal

__all__ = ["sieve_class"]


@jit
def _sieve(block, code, n, nodata, out):  # noqa: ANN001, ANN202
    h, w = block.shape
    labels = np.empty((h, w), dtype=np.int32)
    mask = np.empty((h, w), dtype=np.uint8)
    runs = 0  # runs of the class along the rows: a bound of the provisional labels
    for y in range(h):
        for x in range(w):
            m = 1 if block[y, x] == code else 0
            mask[y, x] = m
            if m and (x == 0 or mask[y, x - 1] == 0):
                runs += 1
    eight = h >= 0  # a run-time True: the same specialisation of _label_equal as label_equal's
    sizes, _values, _first = _label_equal(mask, eight, labels, np.empty(runs + 1, dtype=np.int64))
    nlab = sizes.shape[0] - 1
    small = np.zeros(nlab + 1, dtype=np.int64)   # compact index of each small patch (0: not small)
    nsmall = 0
    for lab in range(1, nlab + 1):
        if sizes[lab] < n:
            nsmall += 1
            small[lab] = nsmall
    if nsmall == 0:
        return 0
    kmax = 256
    votes = np.zeros((nsmall + 1, kmax), dtype=np.int64)
    seen = np.zeros((h, w), dtype=np.bool_)
    for y in range(h):
        for x in range(w):
            lab = labels[y, x]
            if lab == 0 or small[lab] == 0:
                continue
            for vy in range(max(y - 1, 0), min(y + 2, h)):
                for vx in range(max(x - 1, 0), min(x + 2, w)):
                    v = block[vy, vx]
                    if v == code or v == nodata or seen[vy, vx]:
                        continue
                    seen[vy, vx] = True
                    near = 0
                    for ny in range(max(vy - 1, 0), min(vy + 2, h)):
                        for nx in range(max(vx - 1, 0), min(vx + 2, w)):
                            m = labels[ny, nx]
                            if m > near and small[m] > 0:
                                near = m
                    votes[small[near], v] += 1
    winner = np.zeros(nsmall + 1, dtype=np.int64)
    for s in range(1, nsmall + 1):
        best, top = -1, 0
        for k in range(kmax):
            if votes[s, k] > top:
                top = votes[s, k]
                best = k
        winner[s] = best
    changed = 0
    for y in range(h):
        for x in range(w):
            lab = labels[y, x]
            if lab and small[lab] and winner[small[lab]] >= 0:
                out[y, x] = winner[small[lab]]
                changed += 1
    return changed


def sieve_class(block: np.ndarray, out: np.ndarray, *, code: int, min_pixels: int, nodata: int) -> int:
    """Sieve the patches of ``code`` smaller than ``min_pixels`` from ``block`` into ``out``.

    ``block`` and ``out`` are ``uint8 (rows, cols)`` (``out`` starts as a copy of the
    block; only replaced pixels change).  Returns the number of pixels replaced.
    """
    return int(_sieve(np.ascontiguousarray(block, dtype=np.uint8), np.uint8(code), int(min_pixels),
                      np.uint8(nodata), out))
