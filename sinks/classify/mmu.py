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

The halos are exchanged as copies of each block's edge strips (:func:`sinks.runtime.halo.map_halo`),
not as views as dask's ``map_overlap`` takes them: a view keeps its whole block
alive, so a pass held every block whose neighbours were not yet sieved, several
block rows of a wide scene at once.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping

import numpy as np

from ..area import pixel_area_ha
from ..errors import ConfigError
from ..grid import Grid
from ..landcover import NODATA, code_of

__all__ = ["min_pixels", "sieve_block", "sieve_mmu", "MU_HA"]

log = logging.getLogger("sinks")

MU_HA: float = 10_000 / 15 / 10_000
"""1 mu in hectares (666.7 m²)."""

_EIGHT = np.ones((3, 3), dtype=bool)


def min_pixels(area_ha: float, grid: Grid) -> int:
    """Smallest whole number of pixels whose area reaches ``area_ha`` (≥ 1)."""
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
    from ..runtime.halo import map_halo

    return map_halo(landcover, sieve_block, depth=depth, fill=NODATA, name="sieve", sizes=sizes)

