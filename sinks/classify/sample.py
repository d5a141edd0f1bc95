"""Cheap decimated copies of a scene, for per-scene thresholds and the derived coastal zone.

:func:`overview_sample` reads each tile through its COG overviews (rasterio's
``overview_level``), so a 1/8 sample costs about 1/64 of a full read.  QA/cloud bands
are not applied to the sample: thresholds come from histograms that a few clouds
barely move, and the classification itself applies the masks.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from affine import Affine

from ..errors import TileReadError, first_line
from ..grid import Grid
from ..mosaic import DEFAULT_MOSAIC, MosaicMethod, mosaic_method

__all__ = ["sample_grid", "overview_sample", "overview_samples", "array_sample", "SAMPLE_PIXELS"]

#: Cells of the decimated scene sample (per acquisition).  Otsu's thresholds need a
#: histogram, not every pixel: a few hundred thousand values fix them to well under a
#: histogram bin, and the sample of a large scene is then read from coarse overviews.
SAMPLE_PIXELS = 500_000


def _factor(ny: int, nx: int, max_pixels: int) -> int:
    """Smallest power-of-two decimation leaving at most ``max_pixels`` cells.

    A power of two, so that COG overview levels are read as stored, not resampled.
    """
    f = max(1, math.ceil(math.sqrt(ny * nx / max_pixels)))
    return 1 << (f - 1).bit_length()


def sample_grid(grid: Grid, *, max_pixels: int = SAMPLE_PIXELS) -> tuple[Grid, int]:
    """A grid ``f`` times coarser than ``grid`` (``f`` a power of two) with at most ``max_pixels`` cells."""
    f = _factor(grid.height, grid.width, max_pixels)
    return Grid(grid.crs, grid.transform @ Affine.scale(f), math.ceil(grid.width / f),
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


def overview_sample(scene: Any, *, profile: Any, grid: Grid, max_pixels: int = SAMPLE_PIXELS,
                    mosaic: str | MosaicMethod = DEFAULT_MOSAIC) -> tuple[np.ndarray, Grid]:
    """Decimated reflectance ``(band, h, w)`` float32 (NaN nodata) of one acquisition.

    Parameters
    ----------
    scene : sinks.tiles.Scene
    profile : sinks.sensors.SensorProfile
    grid : Grid
        The target grid; the sample grid is a whole-factor coarsening of it.
    max_pixels : int
    mosaic : str or MosaicMethod
        How overlapping tiles combine (:mod:`sinks.mosaic`), as in the full-resolution read.

    Returns
    -------
    (numpy.ndarray, Grid)
    """
    import rasterio

    from ..grid import overlaps
    from ..tiles import inspect_tile, scene_radiometry

    sg, f = sample_grid(grid, max_pixels=max_pixels)
    roles = profile.reflectance_roles
    out = np.full((len(roles), sg.height, sg.width), np.nan, dtype=np.float32)
    filled = np.zeros((sg.height, sg.width), dtype=bool)
    scale, off = scene_radiometry(scene.tiles, profile, scene.date)
    method = mosaic_method(mosaic)
    for tile in method.order(scene.tiles):
        if not overlaps(tile, sg):
            continue
        by_path: dict[str, list[int]] = {}
        for i, role in enumerate(roles):
            by_path.setdefault(tile.band(role).path, []).append(i)
        parts = []
        try:
            for path, idx in by_path.items():  # one read per file: a pixel-interleaved block is decoded once
                refs = [tile.band(roles[i]) for i in idx]
                file_grid = tile.grid if len(by_path) == 1 else inspect_tile(path).grid  # bands may differ in resolution
                offset = grid.offset_in(file_grid)
                if offset is not None:
                    got = _decimated_read(path, refs, file_grid, offset, f, sg)
                else:
                    got = _warped_read(path, refs, file_grid, grid, sg, f)
                if got is None:
                    break
                parts.append((idx, *got))
        except rasterio.errors.RasterioError as exc:
            raise TileReadError(f"{path}: read failed ({first_line(exc)})") from None
        if len(parts) != len(by_path):
            continue
        if len({(r, c, a.shape[1:]) for _i, a, r, c in parts}) > 1:  # files on different grids: the whole sample grid
            parts = [(idx, _placed(arr, r, c, sg.shape, _refs_nodata(tile, roles, idx)), 0, 0)
                     for idx, arr, r, c in parts]
        _idx, first, r0, c0 = parts[0]
        data = np.empty((len(roles), *first.shape[1:]), dtype=np.result_type(*(p[1].dtype for p in parts)))
        for idx, arr, _r, _c in parts:
            data[idx] = arr
        nodata = np.array([np.nan if tile.band(r).nodata is None else tile.band(r).nodata for r in roles])
        method.fill(out, filled, data, nodata=nodata, scale=scale, offset=off, row=r0, col=c0)
    return out, sg


def _refs_nodata(tile: Any, roles: Any, idx: list[int]) -> float:
    """The nodata number of the file holding bands ``idx`` of ``tile`` (NaN for none)."""
    nod = tile.band(roles[idx[0]]).nodata
    return np.nan if nod is None else nod


def _placed(arr: np.ndarray, row: int, col: int, shape: tuple[int, int], fill: float) -> np.ndarray:
    """``arr`` (bands, h, w) at ``(row, col)`` of a float32 ``shape`` array of ``fill``."""
    out = np.full((arr.shape[0], *shape), fill, dtype=np.float32)
    out[:, row:row + arr.shape[1], col:col + arr.shape[2]] = arr
    return out


def overview_samples(scenes: Any, *, profile: Any, grid: Grid,
                     mosaic: str | MosaicMethod = DEFAULT_MOSAIC) -> tuple[list[np.ndarray], Grid]:
    """:func:`overview_sample` of each acquisition, read concurrently (GDAL decodes the
    overviews without the GIL): ``(samples, sample grid)``."""
    from concurrent.futures import ThreadPoolExecutor

    scenes = list(scenes)
    with ThreadPoolExecutor(max_workers=max(1, min(len(scenes), os.cpu_count() or 1))) as ex:
        got = list(ex.map(lambda sc: overview_sample(sc, profile=profile, grid=grid, mosaic=mosaic), scenes))
    return [g[0] for g in got], got[0][1]


def _decimated_read(path: str, refs: list[Any], tile_grid: Grid, offset: tuple[int, int], f: int,
                    sg: Grid) -> tuple[np.ndarray, int, int] | None:
    """Sample cells wholly inside a tile on the grid's lattice: a decimated read (GDAL takes the overview).

    Returns the digital numbers and the sample-grid row and column they start at.
    """
    import rasterio
    from rasterio.windows import Window

    col0, row0 = offset
    r0, c0 = -(-row0 // f), -(-col0 // f)                         # first whole sample cell in the tile
    r1 = min((row0 + tile_grid.height) // f, sg.height)
    c1 = min((col0 + tile_grid.width) // f, sg.width)
    r0, c0 = max(r0, 0), max(c0, 0)
    if r1 <= r0 or c1 <= c0:
        return None
    win = Window(c0 * f - col0, r0 * f - row0, (c1 - c0) * f, (r1 - r0) * f)
    with rasterio.open(path) as ds:
        data = ds.read([r.band for r in refs], window=win, out_shape=(len(refs), r1 - r0, c1 - c0),
                       resampling=rasterio.enums.Resampling.nearest)
    return data, r0, c0


def _warped_read(path: str, refs: list[Any], tile_grid: Grid, grid: Grid, sg: Grid, f: int
                 ) -> tuple[np.ndarray, int, int] | None:
    """Sample of a tile in another CRS or lattice: warped from its nearest overview (NaN where it has no pixel)."""
    from ..warp import read_onto

    want = f * grid.res[0] / tile_grid.res[0] if tile_grid.crs == grid.crs else 1.0
    level = _level(path, refs[0].band, want)
    nodata = refs[0].nodata if refs[0].nodata is not None else 0  # as the full-resolution reader warps
    got = read_onto(path, [r.band for r in refs], sg, source_grid=tile_grid, src_nodata=nodata,
                    overview_level=level)
    if got is None:
        return None
    part = got.data.astype(np.float32)
    if got.valid is not None:
        part[:, ~got.valid] = np.nan
    return part, got.row, got.col


def array_sample(refl: Any, *, max_pixels: int = SAMPLE_PIXELS) -> np.ndarray:
    """Strided sample ``(band, h, w)`` of an in-memory or dask reflectance DataArray (band, y, x)."""
    ny, nx = refl.shape[-2:]
    f = _factor(ny, nx, max_pixels)  # the factor of :func:`sample_grid`, so the two line up
    sub = refl[..., ::f, ::f]
    data = sub.data if hasattr(sub, "data") else sub
    return np.asarray(data.compute() if hasattr(data, "compute") else data, dtype=np.float32)
