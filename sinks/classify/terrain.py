"""Terrain shadow from a DEM and the sun's position at each acquisition.

Steep slopes facing away from a low sun are dark in every band; in winter scenes of
mountain China they pass for water or flooded wetland.  The dark-pixel screen of the
rules catches deep shadow; with a DEM the rules also leave out every pixel whose slope
receives little direct sunlight at that acquisition (a local illumination below
``shadow.min_illumination``), the first step of topographic correction (Teillet, Guindon
& Goodenough 1982, Can. J. Remote Sens. 8:84):

    cos i = cos θz · cos s + sin θz · sin s · cos(φs − a)

with θz the sun zenith (90° − elevation), φs the sun azimuth, s the slope and a the
aspect (Horn 1981 third-order finite differences).  Self-shadowed slopes have
cos i ≤ 0.  Cast shadows (a ridge shading the valley beyond it) are not traced.

The DEM (metres, any CRS and resolution) is read onto the classification grid block by
block with bilinear resampling and a one-pixel halo; slopes on a geographic grid use
the pixel size in metres at the block's latitude.  Sun angles come from the tiles'
metadata (``SUN_ELEVATION``/``SUN_AZIMUTH`` of Landsat, ``MEAN_SUN_ZENITH_ANGLE``/
``MEAN_SUN_AZIMUTH_ANGLE`` of Sentinel-2) or the user.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..errors import ConfigError, TileReadError, first_line
from ..grid import Grid

__all__ = ["illumination_block", "shaded_mask"]


def illumination_block(dem: np.ndarray, *, dx: float, dy: float, sun_elevation: float,
                       sun_azimuth: float) -> np.ndarray:
    """``cos i`` of the inner pixels of ``dem`` (a block with a one-pixel halo on each side).

    Parameters
    ----------
    dem : numpy.ndarray
        Elevation (m), ``(h + 2, w + 2)``, rows north to south.
    dx, dy : float
        Pixel width and height in metres.
    sun_elevation, sun_azimuth : float
        Degrees; azimuth clockwise from north.

    Returns
    -------
    numpy.ndarray
        ``float32 (h, w)``; NaN where the DEM is.
    """
    z = np.asarray(dem, dtype=np.float64)
    # Horn (1981): east-west and north-south gradients from the 3 x 3 neighbourhood
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * dx)   # rise to the east
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * dy)   # rise to the south
    slope = np.arctan(np.hypot(dzdx, dzdy))
    aspect = np.arctan2(-dzdx, dzdy)                          # downslope direction, clockwise from north
    zen = math.radians(90.0 - sun_elevation)
    az = math.radians(sun_azimuth)
    cos_i = math.cos(zen) * np.cos(slope) + math.sin(zen) * np.sin(slope) * np.cos(az - aspect)
    return cos_i.astype(np.float32)


def _read_dem(path: str, grid: Grid, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """DEM on the grid window ``[r0-1, r1+1) x [c0-1, c1+1)`` (bilinear), NaN outside it."""
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    t = grid.transform * Affine.translation(c0 - 1, r0 - 1)
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise ConfigError(f"{path}: DEM has no CRS")
            with WarpedVRT(src, crs=grid.crs, transform=t, width=c1 - c0 + 2, height=r1 - r0 + 2,
                           resampling=Resampling.bilinear, nodata=np.nan, dtype="float32") as vrt:
                return vrt.read(1, masked=True).filled(np.nan)
    except rasterio.errors.RasterioIOError as exc:
        raise TileReadError(f"{path}: not a readable DEM ({first_line(exc)})") from None


def shaded_mask(dem: str | os.PathLike, grid: Grid, *, sun_elevation: float, sun_azimuth: float,
                min_illumination: float, chunks: Any) -> Any:
    """Lazy boolean mask of the pixels of ``grid`` whose slope is shaded at this sun position.

    Pixels without DEM values are never shaded.
    """
    import dask.array as da

    path = str(dem)
    if not os.path.exists(path):
        raise TileReadError(f"{path}: DEM file not found")
    if not (0.0 < sun_elevation <= 90.0) or not (0.0 <= sun_azimuth <= 360.0):
        raise ConfigError(f"sun elevation {sun_elevation} / azimuth {sun_azimuth}: elevation must lie in (0, 90], "
                          "azimuth in [0, 360] degrees")
    rx, ry = grid.res

    def block(block_info: dict | None = None) -> np.ndarray:
        (r0, r1), (c0, c1) = block_info[None]["array-location"]
        z = _read_dem(path, grid, r0, r1, c0, c1)
        dx, dy = rx, ry
        if grid.is_geographic:  # metres per degree at the block's latitude
            lat = math.radians(grid.transform.f + grid.transform.e * (r0 + r1) / 2)
            dx, dy = rx * 111_320.0 * math.cos(lat), ry * 110_574.0
        with np.errstate(invalid="ignore"):
            cos_i = illumination_block(z, dx=dx, dy=dy, sun_elevation=sun_elevation, sun_azimuth=sun_azimuth)
            return cos_i < min_illumination   # NaN (no DEM) compares False: not shaded

    return da.map_blocks(block, chunks=grid.chunks(chunks), dtype=bool, meta=np.zeros((0, 0), bool))
