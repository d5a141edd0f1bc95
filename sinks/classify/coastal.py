"""The coastal zone where mangroves may occur.

Mangroves grow only in the intertidal zone of tropical and subtropical coasts; Global
Mangrove Watch confines its maps to a habitat mask built from distance to ocean water
(Bunting et al. 2022).  sinks allows the mangrove class only inside a coastal zone:

* **from a polygon** when the spec (``aoi.coastal_zone``) or the CLI
  (``--coastal-zone``) gives one: pixel centres inside it;
* **derived** otherwise, on the decimated scene sample: (1) open water = pixels that
  are water by the water rule (MNDWI above the scene threshold in ≥ 75 % of the clear
  observations and NDVI < 0.1); (2) only connected water bodies (8-connected) of at
  least ``min_open_water_km2`` (default 2 km²) or touching the scene edge *and* at
  least 0.5 km² count as open water — the sea, estuaries and large lagoons, not
  rivers, ponds or paddies; (3) the zone is every pixel within ``buffer_m``
  (default 2 km, the spec's ``classification.coastal_buffer_m``) of open water, by a
  Euclidean distance transform; (4) the coarse zone is looked up at full resolution
  block by block.  A scene without open water has no coastal zone and no mangroves,
  which the classifier reports.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Sequence

import numpy as np

from ..grid import Grid

__all__ = ["polygon_mask", "coarse_polygon_mask", "derive_coarse_zone", "upsample_mask"]

log = logging.getLogger("sinks")


def _geometry(zone: Any) -> Any:
    if hasattr(zone, "geometry") and hasattr(zone, "crs"):  # GeoDataFrame
        from shapely import union_all

        return union_all(list(zone.geometry))
    return zone


def polygon_mask(zone: Any, grid: Grid, *, chunks: Any) -> Any:
    """Lazy boolean mask of pixel centres inside ``zone`` (geometry or GeoDataFrame in the grid CRS)."""
    from ..pipeline import region_mask

    return region_mask(grid, _geometry(zone), chunks=chunks)


def coarse_polygon_mask(zone: Any, sgrid: Grid) -> np.ndarray:
    """The same on a (coarse) sample grid, in memory."""
    from rasterio.features import geometry_mask

    return ~geometry_mask([_geometry(zone)], out_shape=sgrid.shape, transform=sgrid.transform)


def derive_coarse_zone(water: np.ndarray, sgrid: Grid, *, buffer_m: float, min_open_water_km2: float = 2.0
                       ) -> np.ndarray:
    """Coastal zone on the sample grid from its water mask (see the module docstring)."""
    from scipy import ndimage

    from ..area import pixel_area_ha

    labels, n = ndimage.label(water, structure=np.ones((3, 3), bool))
    if n == 0:
        return np.zeros(water.shape, bool)
    pa = pixel_area_ha(sgrid)
    cell_km2 = (float(pa) if np.isscalar(pa) else float(np.mean(pa))) / 100.0
    sizes = np.bincount(labels.ravel(), minlength=n + 1) * cell_km2
    edge = np.zeros(n + 1, bool)
    for border in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        edge[np.unique(border)] = True
    keep = (sizes >= min_open_water_km2) | (edge & (sizes >= 0.5))
    keep[0] = False
    open_water = keep[labels]
    if not open_water.any():
        return np.zeros(water.shape, bool)
    if sgrid.is_geographic:
        # metres per degree at the sample's mean latitude (a buffer in km needs only this precision)
        lat = np.deg2rad((sgrid.bounds[1] + sgrid.bounds[3]) / 2)
        sampling = (sgrid.res[1] * 111_320.0, sgrid.res[0] * 111_320.0 * np.cos(lat))
    else:
        sampling = (sgrid.res[1], sgrid.res[0])
    dist = ndimage.distance_transform_edt(~open_water, sampling=sampling)
    return dist <= buffer_m


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
    """The water rule on the decimated samples (``(band, h, w)`` each)."""
    clear = [np.isfinite(s).all(axis=0) for s in samples]
    n = np.sum(clear, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        wet = sum(c & ((s[green] - s[swir1]) / (s[green] + s[swir1]) > mndwi_t) for c, s in zip(clear, samples))
        ndvi = np.stack([np.where(c, (s[nir] - s[red]) / (s[nir] + s[red]), np.nan) for c, s in zip(clear, samples)])
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        vmax = np.nanmax(ndvi, axis=0)
    freq = np.where(n > 0, wet / np.maximum(n, 1), 0.0)
    return (freq >= min_frequency) & (np.nan_to_num(vmax, nan=1.0) < max_ndvi)
