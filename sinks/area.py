"""Pixel area in hectares for projected and geographic grids.

Projected CRSs
    Every cell has the same nominal area, ``|a · e|`` in the CRS's linear unit,
    converted to metres with the unit's conversion factor (so US-foot grids work)
    and divided by 10 000.  This is the *map-plane* area, the same figure InVEST,
    GDAL and most GIS report; in a conformal projection such as UTM it differs from
    the true ellipsoidal area by the areal scale factor (≤ 0.1 % inside a UTM zone).
    Use an equal-area CRS when that matters.

Geographic CRSs
    Cells of one row share their area; rows differ.  The area of the cell between
    latitudes φ₁ < φ₂ and longitudes λ₁ < λ₂ on an ellipsoid with semi-minor axis
    ``b`` and eccentricity ``e`` is exact in closed form (the "band" formula)::

        A = (λ₂ − λ₁) · [F(φ₂) − F(φ₁)]
        F(φ) = b² · ( sin φ / (2 (1 − e² sin² φ)) + artanh(e sin φ) / (2 e) )

    with angles in radians (``F(φ)`` is 1/2π of the area of the zone between the
    equator and φ; for ``e → 0`` it reduces to ``R² sin φ``).  A 1° × 1° cell at the
    equator on WGS84 is 12 308.46 km².  :class:`pyproj.Geod` polygon areas agree to
    1e-11 relative once the parallels are densified (a Geod polygon with only the four
    corners has geodesic, not parallel, edges and gives 12 308.78 km²).

Never count pixels as area in a geographic CRS (DESIGN §7): use :func:`row_area_ha`
or :func:`pixel_area_ha`, which return per-row arrays there.
"""

from __future__ import annotations

import contextlib
import logging
import math
from functools import lru_cache

import numpy as np

from .errors import CRSMismatchError
from .grid import Grid

__all__ = ["pixel_area_ha", "row_area_ha", "pixel_area_array", "cell_area_ellipsoid_m2", "is_uniform"]

log = logging.getLogger("sinks")

_M2_PER_HA = 10_000.0


@lru_cache(maxsize=64)
def _crs_facts(wkt: str) -> tuple[bool, float, float, float]:
    """(is_geographic, unit factor, semi-major m, semi-minor m) of a CRS given as WKT.

    A projected CRS in metres is answered by rasterio's CRS (its pixels all have one
    area, the ellipsoid is not needed), without importing pyproj (~0.1 s of a command).
    """
    from rasterio.crs import CRS

    with contextlib.suppress(Exception):
        rcrs = CRS.from_wkt(wkt)
        if rcrs.is_projected and rcrs.linear_units_factor[1] == 1.0:
            return False, 1.0, math.nan, math.nan
    import pyproj

    try:
        crs = pyproj.CRS.from_wkt(wkt)
    except pyproj.exceptions.CRSError as exc:  # pragma: no cover - Grid validates its CRS
        raise CRSMismatchError(f"invalid CRS: {exc}") from None
    geographic = bool(crs.is_geographic)
    factor = 1.0
    if crs.axis_info:
        factor = float(crs.axis_info[0].unit_conversion_factor or 1.0)
    ell = crs.ellipsoid
    if ell is None:  # pragma: no cover - engineering CRSs
        a = b = 6_371_008.8
    else:
        a, b = float(ell.semi_major_metre), float(ell.semi_minor_metre)
    return geographic, factor, a, b


def _facts(grid: Grid) -> tuple[bool, float, float, float]:
    return _crs_facts(grid.crs.to_wkt())


def is_uniform(grid: Grid) -> bool:
    """True when every pixel of ``grid`` has the same area (projected CRS)."""
    return not _facts(grid)[0]


def _zone_integral(phi: np.ndarray, a: float, b: float) -> np.ndarray:
    """``F(φ)`` of the module docstring (m²/radian of longitude)."""
    s = np.sin(phi)
    e2 = 1.0 - (b * b) / (a * a)
    if e2 < 1e-15:  # sphere
        return a * a * s
    e = math.sqrt(e2)
    return b * b * (s / (2.0 * (1.0 - e2 * s * s)) + np.arctanh(e * s) / (2.0 * e))


def cell_area_ellipsoid_m2(lat1_deg: np.ndarray | float, lat2_deg: np.ndarray | float, dlon_deg: float, *,
                           a: float = 6_378_137.0, b: float = 6_356_752.314245179) -> np.ndarray:
    """Exact area (m²) of cells between two latitudes, ``dlon_deg`` wide, on an ellipsoid.

    Parameters
    ----------
    lat1_deg, lat2_deg : array_like
        Bounding latitudes in degrees (any order; clipped to ±90).
    dlon_deg : float
        Cell width in degrees of longitude.
    a, b : float
        Semi-major and semi-minor axes in metres (default WGS84).

    Returns
    -------
    numpy.ndarray
        Areas in m² (float64).
    """
    p1 = np.radians(np.clip(np.asarray(lat1_deg, dtype=np.float64), -90.0, 90.0))
    p2 = np.radians(np.clip(np.asarray(lat2_deg, dtype=np.float64), -90.0, 90.0))
    return np.abs(math.radians(abs(dlon_deg)) * (_zone_integral(p2, a, b) - _zone_integral(p1, a, b)))


def row_area_ha(grid: Grid) -> np.ndarray:
    """Area of one pixel in each row of ``grid``, in hectares.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of shape ``(grid.height,)``; constant for projected CRSs.
    """
    geographic, factor, a, b = _facts(grid)
    t = grid.transform
    if not geographic:
        return np.full(grid.height, abs(t.a * t.e) * factor * factor / _M2_PER_HA, dtype=np.float64)
    deg = factor / math.radians(1.0)  # CRS angular unit in degrees (1 for degrees)
    edges = (t.f + t.e * np.arange(grid.height + 1, dtype=np.float64)) * deg
    if np.any(np.abs(edges) > 90.0 + 1e-9):
        log.warning("grid extends beyond ±90° latitude; rows outside are clipped to the pole")
    return cell_area_ellipsoid_m2(edges[:-1], edges[1:], abs(t.a) * deg, a=a, b=b) / _M2_PER_HA


def pixel_area_ha(grid: Grid) -> float | np.ndarray:
    """Pixel area in hectares.

    Parameters
    ----------
    grid : Grid

    Returns
    -------
    float or numpy.ndarray
        A scalar for projected CRSs (``|a·e|`` in m² / 10 000); for geographic CRSs a
        ``float64`` array of shape ``(grid.height,)`` with the ellipsoidal area of
        the pixels of each row (see the module docstring).

    Examples
    --------
    A 30 m UTM pixel is 0.09 ha; a 1° cell at the equator on WGS84 is 1 230 846.4 ha.
    """
    if is_uniform(grid):
        return float(row_area_ha(grid)[0]) if grid.height else 0.0
    return row_area_ha(grid)


def pixel_area_array(grid: Grid, *, chunks: int | tuple = 1024):
    """Lazy per-pixel area (ha) as a dask array of shape ``(height, 1)``.

    The single column broadcasts against any ``(height, width)`` dask array whose row
    chunks match (``da.map_blocks(f, landcover, area)`` or plain arithmetic).

    Parameters
    ----------
    grid : Grid
    chunks : int or tuple
        Row chunking: an int (rows per chunk) or the row chunks of the array it will be
        combined with (``landcover.chunks[0]``).
    """
    import dask.array as da

    rows = row_area_ha(grid)[:, None]
    row_chunks = chunks if isinstance(chunks, tuple) else int(chunks)
    return da.from_array(rows, chunks=(row_chunks, 1))
