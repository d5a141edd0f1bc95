"""Cheap decimated copies of a scene, for per-scene thresholds and the derived coastal zone.

:func:`overview_sample` reads each tile through its COG overviews (rasterio's
``overview_level``), so a 1/8 sample costs about 1/64 of a full read.  QA/cloud bands
are not applied to the sample: thresholds come from histograms that a few clouds
barely move, and the classification itself applies the masks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from affine import Affine

from ..errors import TileReadError
from ..grid import Grid

__all__ = ["sample_grid", "overview_sample", "array_sample"]


def sample_grid(grid: Grid, *, max_pixels: int = 2_000_000) -> tuple[Grid, int]:
    """A grid ``f`` times coarser than ``grid`` (``f`` a power of two) with at most ``max_pixels`` cells."""
    f = max(1, math.ceil(math.sqrt(grid.width * grid.height / max_pixels)))
    f = 1 << (f - 1).bit_length()  # a power of two: COG overview levels are read as stored, not resampled
    return Grid(grid.crs, grid.transform * Affine.scale(f), math.ceil(grid.width / f),
                math.ceil(grid.height / f)), f


def _level(path: str, band: int, want: float) -> int | None:
    """Index of the coarsest overview whose decimation factor is ≤ ``want``."""
    import rasterio

    with rasterio.open(path) as ds:
        facs = ds.overviews(band)
    best = None
    for i, fac in enumerate(facs):
        if fac <= want:
            best = i
    return best


def overview_sample(scene: Any, *, profile: Any, grid: Grid, max_pixels: int = 2_000_000
                    ) -> tuple[np.ndarray, Grid]:
    """Decimated reflectance ``(band, h, w)`` float32 (NaN nodata) of one acquisition.

    Parameters
    ----------
    scene : sinks.io.Scene
    profile : sinks.sensors.SensorProfile
    grid : Grid
        The target grid; the sample grid is a whole-factor coarsening of it.
    max_pixels : int

    Returns
    -------
    (numpy.ndarray, Grid)
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    from ..io import _overlaps

    sg, f = sample_grid(grid, max_pixels=max_pixels)
    roles = profile.reflectance_roles
    out = np.full((len(roles), sg.height, sg.width), np.nan, dtype=np.float32)
    off = profile.offset_for(scene.date)
    for tile in scene.tiles:
        if not _overlaps(tile, sg):
            continue
        stack = np.full((len(roles), sg.height, sg.width), np.nan, dtype=np.float32)
        for i, role in enumerate(roles):
            ref = tile.band(role)
            want = f * grid.res[0] / tile.grid.res[0] if tile.grid.crs == grid.crs else 1.0
            try:
                level = _level(ref.path, ref.band, want)
                kw = {} if level is None else {"overview_level": level}
                with rasterio.open(ref.path, **kw) as ds:
                    reproject(source=rasterio.band(ds, ref.band), destination=stack[i],
                              dst_transform=sg.transform, dst_crs=sg.crs, src_nodata=ref.nodata,
                              dst_nodata=np.nan, resampling=Resampling.nearest)
            except rasterio.errors.RasterioError as exc:
                raise TileReadError(f"{ref.path}: read failed ({str(exc).splitlines()[0]})") from None
        ok = np.isfinite(stack).all(axis=0) & ~np.isfinite(out[0])
        out[:, ok] = stack[:, ok] * np.float32(profile.scale) + np.float32(off)
    return out, sg


def array_sample(refl: Any, *, max_pixels: int = 2_000_000) -> np.ndarray:
    """Strided sample ``(band, h, w)`` of an in-memory or dask reflectance DataArray (band, y, x)."""
    ny, nx = refl.shape[-2:]
    f = max(1, math.ceil(math.sqrt(ny * nx / max_pixels)))
    sub = refl[..., ::f, ::f]
    data = sub.data if hasattr(sub, "data") else sub
    return np.asarray(data.compute() if hasattr(data, "compute") else data, dtype=np.float32)
