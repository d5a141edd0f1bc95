"""Per-polygon statistics with exact partial-pixel coverage (exactextract).

Every statistic weights each pixel by the fraction of it that the polygon covers
(never ``all_touched``): ``count`` is the coverage-weighted number of valid pixels,
``sum`` the coverage-weighted sum, and so on.  On rasters in a geographic CRS the
weights are cell areas on the sphere (``coverage_weight="area_spherical_m2"``), so a
degree-sized pixel near the pole does not weigh like one at the equator.

Each row also reports ``nodata_fraction``: the share of the polygon's area (inside or
outside the raster) that holds no valid pixel.  Polygons may overlap; a polygon that
misses the raster gives a row with ``count`` 0 and an :class:`EmptyZoneWarning`.
Categorical rasters (:func:`class_areas`) give the area (ha) and the fraction of the
valid area of each class.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError, EmptyZoneWarning, TileReadError

__all__ = ["STATS", "zonal_stats", "class_areas", "zone_areas_ha"]

log = logging.getLogger("sinks")

#: Statistics offered (exactextract operation names).
STATS: tuple[str, ...] = ("sum", "mean", "count", "min", "max", "median", "stdev", "variance", "minority",
                          "majority", "variety", "mode", "coefficient_of_variation", "weighted_mean",
                          "weighted_sum")

_ZONE = "_sinks_zone"


def _open_raster(raster: str | os.PathLike) -> Any:
    from .io import inspect_tile

    return inspect_tile(raster)


def _zones(zones: Any, *, id_field: str, crs: Any, layer: str | None) -> Any:
    from .vectors import read_vector

    gdf = read_vector(zones, layer=layer, id_field=id_field, target_crs=crs, what="zones")
    gdf = gdf.reset_index(drop=True)
    gdf[_ZONE] = np.arange(len(gdf), dtype=np.int64)
    return gdf


def zone_areas_ha(gdf: Any, grid: Any) -> np.ndarray:
    """Polygon areas in ha (ellipsoidal for geographic CRSs)."""
    if grid.is_geographic:
        from pyproj import Geod

        geod = Geod(ellps="WGS84")
        return np.array([abs(geod.geometry_area_perimeter(g)[0]) / 1e4 if g is not None else 0.0
                         for g in gdf.geometry])
    return gdf.geometry.area.to_numpy() / 1e4


def _extract(raster: str, gdf: Any, ops: list[str], grid: Any) -> pd.DataFrame:
    from exactextract import exact_extract

    if grid.is_geographic:
        ops = [f"{op}(coverage_weight=area_spherical_m2)" if op in ("count", "sum", "mean", "frac", "unique",
                                                                    "weighted_mean", "weighted_sum") else op
               for op in ops]
    df = exact_extract(raster, gdf[[_ZONE, "geometry"]], ops, include_cols=[_ZONE], output="pandas")
    df.columns = [c.split("(")[0] if "(" in c else c for c in df.columns]
    return df.sort_values(_ZONE).reset_index(drop=True)


def _valid_area_ha(count: np.ndarray, grid: Any) -> np.ndarray:
    from .area import pixel_area_ha

    if grid.is_geographic:  # count is already the spherical area (m²) of valid coverage
        return np.asarray(count, dtype=np.float64) / 1e4
    return np.asarray(count, dtype=np.float64) * float(pixel_area_ha(grid))


def _warn_empty(ids: Sequence[Any], raster: str) -> None:
    if len(ids):
        shown = ", ".join(str(i) for i in list(ids)[:10]) + (" ..." if len(ids) > 10 else "")
        warnings.warn(f"{raster}: {len(ids)} zone(s) cover no valid pixel: {shown}", EmptyZoneWarning, stacklevel=3)


def zonal_stats(raster: str | os.PathLike, zones: Any, *, id_field: str, stats: Sequence[str] = ("sum", "mean", "count"),
                layer: str | None = None) -> Any:
    """Exact zonal statistics, one row per polygon.

    Parameters
    ----------
    raster : path
        Single-band raster (band 1 is used).
    zones : path or GeoDataFrame
        Polygons (any GDAL vector source); reprojected to the raster's CRS.
    id_field : str
        Unique id column (first column of the result).
    stats : sequence of str
        Any of :data:`STATS`.
    layer : str, optional

    Returns
    -------
    geopandas.GeoDataFrame
        ``<id_field>, <stats...>, nodata_fraction, geometry`` (polygons in the raster CRS).
    """
    import geopandas as gpd

    stats = [s.strip().lower() for s in stats if s.strip()]
    bad = [s for s in stats if s not in STATS]
    if bad or not stats:
        raise ConfigError(f"unknown statistic(s) {', '.join(bad) or '(none)'}; known: {', '.join(STATS)}")
    info = _open_raster(raster)
    gdf = _zones(zones, id_field=id_field, crs=info.grid.crs, layer=layer)
    ops = list(dict.fromkeys([*stats, "count"]))
    df = _extract(info.path, gdf, ops, info.grid)
    out = pd.DataFrame({id_field: gdf[id_field].to_numpy()})
    for s in stats:
        out[s] = df[s].to_numpy()
    total = zone_areas_ha(gdf, info.grid)
    valid = _valid_area_ha(df["count"].to_numpy(), info.grid)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["nodata_fraction"] = np.where(total > 0, np.clip(1.0 - valid / total, 0.0, 1.0), 1.0)
    empty = out.loc[df["count"].to_numpy() == 0, id_field].tolist()
    _warn_empty(empty, info.path)
    if "sum" in out:
        out.loc[df["count"].to_numpy() == 0, "sum"] = 0.0
    return gpd.GeoDataFrame(out, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)


def class_areas(raster: str | os.PathLike, zones: Any, *, id_field: str, classes: dict[int, str] | None = None,
                layer: str | None = None, warn_empty: bool = True) -> Any:
    """Area (ha) and fraction of each class of a categorical raster, per polygon.

    Returns a GeoDataFrame with ``<id_field>``, ``area_ha_<class>``, ``frac_<class>``
    (of the valid area), ``valid_area_ha``, ``zone_area_ha``, ``nodata_fraction`` and
    the geometry.  ``classes`` maps codes to names (default: the sinks legend); codes
    outside it are reported as ``area_ha_<code>``.
    """
    import geopandas as gpd

    from .landcover import NAMES

    names = dict(classes or NAMES)
    info = _open_raster(raster)
    if np.dtype(info.dtype).kind not in "iub":
        raise TileReadError(f"{info.path}: a categorical raster must be integer, found {info.dtype}")
    gdf = zones if _ZONE in getattr(zones, "columns", []) else _zones(zones, id_field=id_field, crs=info.grid.crs,
                                                                         layer=layer)
    df = _extract(info.path, gdf, ["unique", "frac", "count"], info.grid)
    valid = _valid_area_ha(df["count"].to_numpy(), info.grid)
    seen = sorted({int(c) for u in df["unique"] for c in (u if u is not None else [])} | set(names))
    cols: dict[str, np.ndarray] = {}
    for code in seen:
        cols[code] = np.zeros(len(gdf))
    for i, (u, f) in enumerate(zip(df["unique"], df["frac"])):
        if u is None:
            continue
        for code, frac in zip(u, f):
            cols[int(code)][i] = float(frac)
    data: dict[str, Any] = {id_field: gdf[id_field].to_numpy()}
    for code in seen:
        data[f"area_ha_{names.get(code, str(code))}"] = cols[code] * valid
    for code in seen:
        data[f"frac_{names.get(code, str(code))}"] = cols[code]
    total = zone_areas_ha(gdf, info.grid)
    data["valid_area_ha"] = valid
    data["zone_area_ha"] = total
    with np.errstate(divide="ignore", invalid="ignore"):
        data["nodata_fraction"] = np.where(total > 0, np.clip(1.0 - valid / total, 0.0, 1.0), 1.0)
    out = pd.DataFrame(data)
    if warn_empty:
        _warn_empty(out.loc[valid == 0, id_field].tolist(), info.path)
    return gpd.GeoDataFrame(out, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
