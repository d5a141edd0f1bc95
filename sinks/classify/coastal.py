"""The coastal zone where mangroves may occur.

Mangroves grow only in the intertidal zone of tropical and subtropical coasts; Global
Mangrove Watch confines its maps to a habitat mask built from latitude, elevation and
distance to ocean water (Bunting et al. 2022).  sinks allows the mangrove class only
inside a coastal zone:

* **from a polygon** when the spec (``aoi.coastal_zone``) or the CLI
  (``--coastal-zone``) gives one: pixel centres inside it; a **coastline** (lines)
  is buffered by ``buffer_m`` on each side;
* **derived** otherwise, on the decimated scene sample, and only where mangroves can
  grow and there is sea: (1) the scene centre lies within the mangrove latitudes
  (``coastal.max_latitude_north`` / ``_south`` of the rules, 32° N / 39° S after
  Spalding et al. 2010); (2) open water = pixels that are water by the water rule;
  (3) sea = 8-connected water bodies that touch the scene edge and cover at least
  ``coastal.min_sea_fraction`` (20 %) of the scene — a reservoir, lake or river
  crossing an inland scene rarely does; (4) the zone is every pixel within
  ``buffer_m`` (default 2 km, the spec's ``classification.coastal_buffer_m``) of
  the sea, by a Euclidean distance transform; (5) the coarse zone is looked up at
  full resolution block by block.  A scene without such sea has no coastal zone and
  no mangroves, which the classifier reports with the reason.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np

from ..grid import Grid, region_mask

__all__ = ["polygon_mask", "coarse_polygon_mask", "derive_coarse_zone", "upsample_mask", "centre_latitude",
           "water_mask"]

log = logging.getLogger("sinks")


def _geometry(zone: Any, *, buffer_m: float = 2000.0, crs: Any = None) -> Any:
    """One geometry from a GeoDataFrame or geometry; lines (a coastline) buffered by ``buffer_m``."""
    if hasattr(zone, "geometry") and hasattr(zone, "crs"):  # GeoDataFrame
        from shapely import union_all

        crs = zone.crs if crs is None else crs
        zone = union_all([g for g in zone.geometry if g is not None])
    if zone is None or zone.is_empty:
        return zone
    if zone.geom_type in ("LineString", "MultiLineString", "LinearRing"):
        dist = buffer_m
        if crs is not None and getattr(crs, "is_geographic", False):
            # metres to degrees at the line's latitude (a buffer in km needs only this precision)
            lat = np.deg2rad(zone.centroid.y)
            dist = buffer_m / (111_320.0 * max(np.cos(lat), 1e-6))
        zone = zone.buffer(dist)
    elif zone.geom_type == "GeometryCollection":
        from shapely import union_all

        zone = union_all([_geometry(g, buffer_m=buffer_m, crs=crs) for g in zone.geoms])
    return zone


def polygon_mask(zone: Any, grid: Grid, *, chunks: Any, buffer_m: float = 2000.0) -> Any:
    """Lazy boolean mask of pixel centres inside ``zone`` (geometry or GeoDataFrame in the grid CRS)."""
    return region_mask(grid, _geometry(zone, buffer_m=buffer_m, crs=grid.crs), chunks=chunks)


def coarse_polygon_mask(zone: Any, sgrid: Grid, *, buffer_m: float = 2000.0) -> np.ndarray:
    """The same on a (coarse) sample grid, in memory."""
    from rasterio.features import geometry_mask

    geom = _geometry(zone, buffer_m=buffer_m, crs=sgrid.crs)
    if geom is None or geom.is_empty:
        return np.zeros(sgrid.shape, bool)
    return ~geometry_mask([geom], out_shape=sgrid.shape, transform=sgrid.transform)


def centre_latitude(sgrid: Grid) -> float:
    """Latitude (degrees) of the grid's centre."""
    from rasterio.warp import transform

    left, bottom, right, top = sgrid.bounds
    _, ys = transform(sgrid.crs, "EPSG:4326", [(left + right) / 2], [(bottom + top) / 2])
    return float(ys[0])


def derive_coarse_zone(water: np.ndarray, sgrid: Grid, *, buffer_m: float, min_sea_fraction: float = 0.2,
                       max_latitude_north: float = 32.0, max_latitude_south: float = 39.0
                       ) -> tuple[np.ndarray, str | None]:
    """Coastal zone on the sample grid from its water mask (see the module docstring).

    Returns
    -------
    (numpy.ndarray, str or None)
        The boolean zone and, when it is empty, the reason (for the run's notes).
    """
    from scipy import ndimage

    empty = np.zeros(water.shape, bool)
    lat = centre_latitude(sgrid)
    if not -max_latitude_south <= lat <= max_latitude_north:
        return empty, (f"scene centre at {lat:.1f}° lies outside the mangrove latitudes "
                       f"({max_latitude_south:g}° S to {max_latitude_north:g}° N): no mangrove class")
    labels, n = ndimage.label(water, structure=np.ones((3, 3), bool))
    if n == 0:
        return empty, "no open water in the scene: no coastal zone, no mangrove class"
    sizes = np.bincount(labels.ravel(), minlength=n + 1) / water.size
    edge = np.zeros(n + 1, bool)
    for border in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        edge[np.unique(border)] = True
    keep = edge & (sizes >= min_sea_fraction)
    keep[0] = False
    if not keep.any():
        return empty, (f"no sea in the scene (no water body touching its edge over >= {min_sea_fraction:.0%} of it): "
                       "no coastal zone, no mangrove class; give a coastal zone or coastline to map mangroves")
    open_water = keep[labels]
    if sgrid.is_geographic:
        # metres per degree at the sample's mean latitude (a buffer in km needs only this precision)
        rlat = np.deg2rad((sgrid.bounds[1] + sgrid.bounds[3]) / 2)
        sampling = (sgrid.res[1] * 111_320.0, sgrid.res[0] * 111_320.0 * np.cos(rlat))
    else:
        sampling = (sgrid.res[1], sgrid.res[0])
    dist = ndimage.distance_transform_edt(~open_water, sampling=sampling)
    return dist <= buffer_m, None


def upsample_mask(coarse: np.ndarray, sample_grid: Grid, grid: Grid, *, chunks: Any) -> Any:
    """Lazy full-resolution boolean mask on ``grid``: each pixel takes the value of the
    ``sample_grid`` cell its centre falls in (False outside the sample grid).

    ``grid`` may be any window of the scene the sample was taken from (a batch region):
    cells are found from the two grids' coordinates, not from pixel indices.
    """
    import dask.array as da

    t, st = grid.transform, sample_grid.transform

    def cells(centres: np.ndarray, origin: float, step: float, n: int) -> tuple[np.ndarray, np.ndarray]:
        idx = np.floor((centres - origin) / step + 1e-9).astype(np.int64)
        inside = (idx >= 0) & (idx < n)
        return np.clip(idx, 0, n - 1), inside

    def block(block_info: dict | None = None) -> np.ndarray:
        (r0, r1), (c0, c1) = block_info[None]["array-location"]
        rows, rin = cells(t.f + (np.arange(r0, r1) + 0.5) * t.e, st.f, st.e, coarse.shape[0])
        cols, cin = cells(t.c + (np.arange(c0, c1) + 0.5) * t.a, st.c, st.a, coarse.shape[1])
        return coarse[np.ix_(rows, cols)] & rin[:, None] & cin[None, :]

    return da.map_blocks(block, chunks=grid.chunks(chunks), dtype=bool, meta=np.zeros((0, 0), bool))


def water_mask(samples: Sequence[np.ndarray], *, green: int, red: int, nir: int, swir1: int, mndwi_t: float,
               min_frequency: float, max_ndvi: float) -> np.ndarray:
    """The water rule on the decimated samples (``(band, h, w)`` each): open water
    (MNDWI above ``mndwi_t`` and NDVI below ``max_ndvi``) in at least ``min_frequency``
    of the observations."""
    clear = [np.isfinite(s).all(axis=0) for s in samples]
    n = np.sum(clear, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        openw = sum(c & ((s[green] - s[swir1]) / (s[green] + s[swir1]) > mndwi_t)
                    & ((s[nir] - s[red]) / (s[nir] + s[red]) < max_ndvi) for c, s in zip(clear, samples))
    freq = np.where(n > 0, openw / np.maximum(n, 1), 0.0)
    return (n > 0) & (freq >= min_frequency)
