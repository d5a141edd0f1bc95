"""Per-polygon statistics with exact partial-pixel coverage (exactextract).

Every statistic weights each pixel by the fraction of it that the polygon covers
(never ``all_touched``): ``count`` is the coverage-weighted number of valid pixels and
``sum`` the coverage-weighted sum of pixel values.  On rasters in a geographic CRS the
averaging statistics (``mean``, ``stdev``, ``median`` ...) are weighted by cell area on
the sphere (``coverage_weight="area_spherical_m2"``) so that a cell near the pole does
not weigh like one at the equator; ``sum`` and ``count`` stay in pixel units.

Each row also reports ``nodata_fraction``: the share of the polygon's area holding no
valid pixel.  Area of the polygon outside the raster counts as nodata, so a polygon
half off the raster has a fraction of at least 0.5.  Inside the raster the fraction is
``1 - count / count(default_value)`` with the same (area) weights, so it is exact and
never mixes two measures of area.  Fractions below ``1e-9`` are reported as 0.

Polygons may overlap (each is summarised on its own); a polygon that covers no valid
pixel gives a row with ``count`` 0, ``sum`` 0, ``mean`` NaN and an
:class:`~sinks.errors.EmptyZoneWarning` naming it.

Categorical rasters (:func:`class_areas`) give the area (ha) and the fraction of the
valid area of each class.  Areas follow :mod:`sinks.area`: ``|a·e|`` per pixel for
projected grids; for geographic grids the ellipsoidal (WGS84) area of each row's
pixels, passed to exactextract as a one-column weight raster — so polygon sums over a
partition equal :func:`sinks.carbon.class_areas_ha` of the whole raster.

Nothing here loops over pixels in Python or builds per-polygon rasters: one
exactextract pass over all polygons reads the raster block by block; memory grows with
the number of polygons (and classes), not with the raster.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError, EmptyZoneWarning, TileReadError

__all__ = ["STATS", "zonal_stats", "class_areas", "read_zones"]

log = logging.getLogger("sinks")

#: Statistics offered (exactextract operation names).
STATS: tuple[str, ...] = ("sum", "mean", "count", "min", "max", "median", "stdev", "variance", "minority",
                          "majority", "variety", "coefficient_of_variation", "min_center_x", "min_center_y",
                          "max_center_x", "max_center_y")

#: Statistics whose value depends on the relative weight of the cells (area-weighted on geographic grids).
_AREA_WEIGHTED = frozenset({"mean", "median", "stdev", "variance", "minority", "majority",
                            "coefficient_of_variation"})

_ZONE = "_sinks_zone"
_SNAP = 1e-9
_STRATEGY = "raster-sequential"


def check_stats(stats: Sequence[str]) -> list[str]:
    """Normalise statistic names; raise :class:`ConfigError` listing the known ones."""
    wanted = [s.strip().lower() for s in stats if s and s.strip()]
    bad = [s for s in wanted if s not in STATS]
    if bad or not wanted:
        raise ConfigError(f"unknown statistic(s) {', '.join(bad) or '(none given)'}; known: {', '.join(STATS)}")
    return list(dict.fromkeys(wanted))


def _open_raster(raster: str | os.PathLike) -> Any:
    from .io import inspect_tile

    return inspect_tile(raster)


def read_zones(zones: Any, *, id_field: str, crs: Any, layer: str | None = None) -> Any:
    """Read and check polygons (any GDAL source or GeoDataFrame), reprojected to ``crs``."""
    from .vectors import read_vector

    gdf = read_vector(zones, layer=layer, id_field=id_field, target_crs=crs, what="zones")
    gdf = gdf.reset_index(drop=True)
    gdf[_ZONE] = np.arange(len(gdf), dtype=np.int64)
    return gdf


def _row_weights(grid: Any) -> Any:
    """One-column raster of per-row pixel areas (ha) on ``grid``'s extent (geographic grids)."""
    from exactextract.raster import NumPyRasterSource

    from .area import row_area_ha

    t = grid.transform
    xs = (t.c, t.c + t.a * grid.width)
    ys = (t.f, t.f + t.e * grid.height)
    return NumPyRasterSource(row_area_ha(grid).reshape(-1, 1), xmin=min(xs), xmax=max(xs), ymin=min(ys),
                             ymax=max(ys), srs_wkt=grid.crs.to_wkt())


def _extract(raster: str, gdf: Any, ops: list[str], *, weights: Any = None) -> pd.DataFrame:
    from exactextract import exact_extract

    # raster-sequential: each raster chunk is read once and offered to every polygon touching it
    # (faster than one read per polygon; the results are identical, see tests/test_zonal.py)
    df = exact_extract(raster, gdf[[_ZONE, "geometry"]], ops, weights=weights, include_cols=[_ZONE],
                       output="pandas", strategy=_STRATEGY)
    return df.sort_values(_ZONE).reset_index(drop=True)


def _inside_share(gdf: Any, grid: Any) -> np.ndarray:
    """Share of each polygon's area lying inside the raster's extent."""
    from shapely.geometry import box

    t = grid.transform
    xs = sorted((t.c, t.c + t.a * grid.width))
    ys = sorted((t.f, t.f + t.e * grid.height))
    ext = box(xs[0], ys[0], xs[1], ys[1])
    geoms = gdf.geometry
    inside = geoms.intersection(ext)
    if grid.is_geographic:
        from pyproj import Geod

        geod = Geod(ellps="WGS84")
        area = np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in geoms])
        ins = np.array([abs(geod.geometry_area_perimeter(g)[0]) if not g.is_empty else 0.0 for g in inside])
    else:
        area, ins = geoms.area.to_numpy(), inside.area.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(area > 0, np.clip(ins / area, 0.0, 1.0), 0.0)


def _nodata_fraction(valid: np.ndarray, everything: np.ndarray, inside: np.ndarray) -> np.ndarray:
    valid = np.asarray(valid, dtype=np.float64)
    everything = np.asarray(everything, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(everything > 0, valid / everything, 0.0)
    frac = np.clip(1.0 - share * inside, 0.0, 1.0)
    return np.where(frac < _SNAP, 0.0, frac)


def _warn_empty(ids: Sequence[Any], raster: str) -> None:
    if len(ids):
        shown = ", ".join(str(i) for i in list(ids)[:10]) + (" ..." if len(ids) > 10 else "")
        warnings.warn(f"{raster}: {len(ids)} zone(s) cover no valid pixel: {shown}", EmptyZoneWarning, stacklevel=3)


def _area_ops(grid: Any) -> list[str]:
    """Named ops giving the (area-)weighted valid and total coverage used for ``nodata_fraction``."""
    w = "coverage_weight=area_spherical_m2," if grid.is_geographic else ""
    return [f"_valid=count({w.rstrip(',')})" if w else "_valid=count", f"_all=count({w}default_value=0)"]


def zonal_stats(raster: str | os.PathLike, zones: Any, *, id_field: str, stats: Sequence[str] = ("sum", "mean", "count"),
                layer: str | None = None, categorical: bool = False) -> Any:
    """Exact zonal statistics, one row per polygon.

    Parameters
    ----------
    raster : path
        Single-band raster (band 1 is used).
    zones : path or GeoDataFrame
        Polygons (any GDAL vector source or GeoParquet); reprojected to the raster's
        CRS (logged), invalid geometries repaired with a warning.
    id_field : str
        Unique id column (first column of the result).
    stats : sequence of str
        Any of :data:`STATS` (ignored with ``categorical``).
    layer : str, optional
        Layer of a multi-layer source.
    categorical : bool
        Return :func:`class_areas` instead.

    Returns
    -------
    geopandas.GeoDataFrame
        ``<id_field>, <stats...>, nodata_fraction, geometry`` (polygons in the raster CRS).

    Raises
    ------
    ConfigError
        Unknown statistic.
    TileReadError, VectorError
        Unreadable raster, bad zones (missing, empty, no CRS, missing or duplicate ids).
    """
    import geopandas as gpd

    if categorical:
        return class_areas(raster, zones, id_field=id_field, layer=layer)
    stats = check_stats(stats)
    info = _open_raster(raster)
    gdf = read_zones(zones, id_field=id_field, crs=info.grid.crs, layer=layer)
    geo = info.grid.is_geographic
    ops = [f"{s}={s}(coverage_weight=area_spherical_m2)" if geo and s in _AREA_WEIGHTED else s for s in stats]
    df = _extract(info.path, gdf, [*ops, *_area_ops(info.grid)])
    out = pd.DataFrame({id_field: gdf[id_field].to_numpy()})
    for s in stats:
        out[s] = df[s].to_numpy()
    empty = df["_valid"].to_numpy() == 0
    if "sum" in out:
        out.loc[empty, "sum"] = 0.0
    out["nodata_fraction"] = _nodata_fraction(df["_valid"], df["_all"], _inside_share(gdf, info.grid))
    _warn_empty(out.loc[empty, id_field].tolist(), info.path)
    return gpd.GeoDataFrame(out, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)


def class_areas(raster: str | os.PathLike, zones: Any, *, id_field: str, classes: dict[int, str] | None = None,
                layer: str | None = None, warn_empty: bool = True) -> Any:
    """Area (ha) and fraction of each class of a categorical raster, per polygon.

    One exactextract pass over all polygons (``unique`` + ``frac``, or ``weighted_frac``
    with per-row ellipsoidal areas on geographic grids).

    Parameters
    ----------
    raster : path
        Integer raster; its nodata value (if any) is not a class.
    zones : path or GeoDataFrame
        Polygons; a GeoDataFrame from :func:`read_zones` is used as is.
    id_field : str
    classes : dict, optional
        Code → name (default: the sinks legend).  Listed classes always get columns;
        codes outside it are reported as ``area_ha_<code>``.
    layer : str, optional
    warn_empty : bool
        Warn (:class:`EmptyZoneWarning`) about polygons without a valid pixel.

    Returns
    -------
    geopandas.GeoDataFrame
        ``<id_field>``, ``area_ha_<class>`` ..., ``frac_<class>`` ... (of the valid
        area), ``valid_area_ha``, ``nodata_fraction`` and the geometry.
    """
    import geopandas as gpd

    from .area import pixel_area_ha
    from .landcover import NAMES

    names = dict(NAMES if classes is None else classes)
    info = _open_raster(raster)
    if np.dtype(info.dtype).kind not in "iub":
        raise TileReadError(f"{info.path}: a categorical raster must hold integers, found {info.dtype}")
    if _ZONE in getattr(zones, "columns", []):
        gdf = zones
    else:
        gdf = read_zones(zones, id_field=id_field, crs=info.grid.crs, layer=layer)
    grid = info.grid
    if grid.is_geographic:
        # class area = weighted_frac × T with T = Σ valid cover × area; weighted_sum = Σ code × area,
        # so T = weighted_sum / Σ code × weighted_frac (codes are > 0 once nodata 0 is excluded).
        df = _extract(info.path, gdf, ["unique", "frac=weighted_frac", "weighted_sum", *_area_ops(grid)],
                      weights=_row_weights(grid))
        total = np.zeros(len(df))
        for i, (u, f, ws) in enumerate(zip(df["unique"], df["frac"], df["weighted_sum"])):
            if u is not None and len(u):
                denom = float(np.dot(np.asarray(u, dtype=np.float64), np.asarray(f, dtype=np.float64)))
                total[i] = float(ws) / denom if denom else 0.0
        if any(int(c) <= 0 for u in df["unique"] if u is not None for c in u):
            raise TileReadError(f"{info.path}: class codes must be positive on a geographic grid "
                                "(set the raster's nodata to 0)")
    else:
        df = _extract(info.path, gdf, ["unique", "frac", *_area_ops(grid)])
        total = df["_valid"].to_numpy(dtype=np.float64) * float(pixel_area_ha(grid))
    seen = sorted({int(c) for u in df["unique"] if u is not None for c in u} | set(names))
    fracs = {code: np.zeros(len(gdf)) for code in seen}
    for i, (u, f) in enumerate(zip(df["unique"], df["frac"])):
        if u is None:
            continue
        for code, frac in zip(u, f):
            fracs[int(code)][i] = float(frac)
    data: dict[str, Any] = {id_field: gdf[id_field].to_numpy()}
    for code in seen:
        data[f"area_ha_{names.get(code, str(code))}"] = fracs[code] * total
    for code in seen:
        data[f"frac_{names.get(code, str(code))}"] = fracs[code]
    data["valid_area_ha"] = total
    data["nodata_fraction"] = _nodata_fraction(df["_valid"], df["_all"], _inside_share(gdf, grid))
    out = pd.DataFrame(data)
    if warn_empty:
        _warn_empty(out.loc[df["_valid"].to_numpy() == 0, id_field].tolist(), info.path)
    return gpd.GeoDataFrame(out, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
