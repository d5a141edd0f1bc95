"""Pixelwise accuracy of a map against a truth raster (legend codes on the map's pixel lattice).

:func:`truth_counts` counts every (map, truth) code pair block by block, lazily, so a
run computes it in the pass that writes the map; :func:`truth_summary` turns the
counts into overall accuracy, kappa, user's and producer's accuracy and the confusion
matrix; :func:`truth_confusion` does both for a map file.  Every pixel is a sample
here, so the sample-count statistics (:mod:`.counts`) are the right ones.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..landcover import CODES, NAMES
from .counts import cohen_kappa

__all__ = ["truth_counts", "truth_summary", "truth_confusion"]

log = logging.getLogger("sinks")


def truth_counts(landcover: Any, truth_path: str | Path, *, grid: Any) -> Any:
    """Lazy pixel counts of every (map, truth) legend code pair: a Delayed ``int64 (K, K)`` array
    (``K`` = largest legend code + 1; row and column 0 are nodata).

    ``landcover`` is an array on ``grid`` (dask, numpy, or a DataArray holding either); the
    truth is read on its dask chunks (2048 px for a numpy array).

    The truth is read on ``grid`` (it must share the map's pixel lattice; a sub-grid, as
    in batch regions, is fine; pixels beyond the truth count as its nodata, 0).
    Returns ``None``, with a warning, when the truth is not on the lattice.
    """
    from ..io import read_categorical_on
    from ..runtime.blocktasks import block_reduce

    data = getattr(landcover, "data", landcover)
    if not type(data).__module__.startswith("dask"):
        import dask.array as da

        data = da.from_array(np.asarray(data), chunks=grid.chunks(2048))
    # each truth block is read once the map's block exists, so the map's blocks do not wait
    # in memory for reads that dask would otherwise schedule late
    truth = read_categorical_on(truth_path, grid, chunks=data.chunks, after=data)
    if truth is None:
        log.warning("%s: truth is not on the map's pixel lattice; pixelwise accuracy skipped", truth_path)
        return None
    return block_reduce(_pair_counts, [data, truth], combine=sum, name="truth-pairs")


def _pair_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Counts ``(K, K)`` of (a, b) code pairs of one block (``K`` = largest legend code + 1,
    so a block's result is a few hundred bytes however many blocks wait for the sum);
    codes outside the legend are left out."""
    from .._kernels.codes import hist2_u8

    k = max(CODES.values()) + 1

    def legend_u8(v: np.ndarray) -> np.ndarray:
        if v.dtype == np.uint8:
            return v
        return np.where((v > 0) & (v < k), v, 0).astype(np.uint8)

    counts, _w = hist2_u8(legend_u8(a), legend_u8(b))
    return counts[:k, :k].copy()


def truth_confusion(map_path: str | Path, truth_path: str | Path, *, grid: Any, chunks: int = 2048
                    ) -> dict[str, Any] | None:
    """Pixelwise comparison of a map file with a truth raster (both legend codes, 0 = nodata).

    The truth is read on ``grid`` (see :func:`truth_counts`).  Returns overall accuracy,
    kappa, per-class producer's and user's accuracy and the confusion matrix (pixels,
    rows = map), or ``None`` when the truth is off the lattice or the two share no pixel.
    """
    from ..io import read_categorical

    lc, _g, _nd = read_categorical(map_path, chunks=chunks, grid=grid)
    counts = truth_counts(lc, truth_path, grid=grid)
    return None if counts is None else truth_summary(counts.compute(), truth_path)


def truth_summary(counts: np.ndarray, truth_path: str | Path) -> dict[str, Any] | None:
    """The pixelwise accuracy figures of a (map, truth) pair-count matrix (see :func:`truth_counts`)."""
    k = max(CODES.values()) + 1
    cm = np.zeros((k, k), dtype=np.int64)
    cm[1:, 1:] = np.asarray(counts)[1:k, 1:k]  # nodata (0) in either map is not compared
    codes = [c for c in range(1, k) if cm[c, :].sum() or cm[:, c].sum()]
    sub = cm[np.ix_(codes, codes)]
    n = sub.sum()
    if n == 0:
        return None
    diag = np.diag(sub).astype(float)
    ua = {NAMES[c]: (float(diag[i] / sub[i].sum()) if sub[i].sum() else None) for i, c in enumerate(codes)}
    pa = {NAMES[c]: (float(diag[i] / sub[:, i].sum()) if sub[:, i].sum() else None) for i, c in enumerate(codes)}
    return {
        "overall_accuracy": float(diag.sum() / n), "kappa": float(cohen_kappa(sub)), "n_pixels": int(n),
        "user_accuracy": ua, "producer_accuracy": pa,
        "confusion_matrix_pixels": {NAMES[c]: {NAMES[d]: int(sub[i, j]) for j, d in enumerate(codes)}
                                    for i, c in enumerate(codes)},
        "confusion_matrix_axes": {"rows": "map", "columns": "truth"},
        "truth": str(truth_path),
    }
