"""Encroachment on ecological conservation redlines between two dates.

A pixel is encroached when it lies inside a redline (pixel centre inside the polygon,
never ``all_touched``), was ecological land at the first date (forest, grassland,
wetland, mangrove, water) and is built-up, cropland or bare at the second.  Encroached
pixels are polygonised into patches (8-connected, one patch per from → to pair,
``rasterio.features.shapes``), patches below ``min_patch_ha`` are dropped, and each
patch carries its redline id, the from/to classes, its pixel count, area (ha) and the
longitude/latitude of its centroid, which is what field inspection teams need.

Each redline is processed on the window of its bounding box only, so memory follows
the largest redline, not the raster.  Overlapping redlines each get their own patches
(the same pixels may then appear under two redline ids).
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

import numpy as np

from .landcover import NAMES

__all__ = ["find_encroachment", "encroachment_summary", "PATCH_COLUMNS"]

log = logging.getLogger("sinks")

PATCH_COLUMNS = ("patch_id", "from_class", "to_class", "pixels", "area_ha", "lon", "lat")


def _read(ds: Any, win: Any) -> np.ndarray:
    return ds.read(1, window=win, boundless=True, fill_value=0)


def find_encroachment(lc1: str | os.PathLike, lc2: str | os.PathLike, redlines: Any, *, id_field: str,
                      min_patch_ha: float = 0.05, connectivity: int = 8) -> Any:
    """Encroachment patches inside each redline (a GeoDataFrame in the rasters' CRS).

    Parameters
    ----------
    lc1, lc2 : path
        Land cover at the first and second date (legend codes, 0 = nodata), one grid.
    redlines : GeoDataFrame
        Redline polygons in the rasters' CRS.
    id_field : str
        Redline id column (copied to the patches).
    min_patch_ha : float
        Smallest patch kept.
    connectivity : {4, 8}
    """
    import geopandas as gpd
    import rasterio
    from rasterio.features import geometry_mask, shapes
    from shapely.geometry import shape

    from .area import pixel_area_ha
    from .change import change_codes, is_eco_loss
    from .errors import GridMismatchError
    from .grid import Grid

    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    with rasterio.open(lc1) as a, rasterio.open(lc2) as b:
        grid = Grid.from_dataset(a)
        if not grid.same_as(Grid.from_dataset(b)):
            raise GridMismatchError(f"{lc1} and {lc2} are not on the same grid")
        rx, ry = grid.res
        for rid, geom in zip(redlines[id_field], redlines.geometry):
            if geom is None or geom.is_empty:
                continue
            win = grid.window(geom.bounds)
            if win.width == 0 or win.height == 0:
                continue
            sub = grid.subgrid(win)
            code = change_codes(_read(a, win), _read(b, win))
            inside = ~geometry_mask([geom], out_shape=sub.shape, transform=sub.transform)
            mask = inside & is_eco_loss(code)
            if not mask.any():
                continue
            area = pixel_area_ha(sub)
            for poly, value in shapes(code, mask=mask, connectivity=connectivity, transform=sub.transform):
                g = shape(poly)
                pixels = int(round(g.area / (rx * ry)))
                if np.isscalar(area):
                    ha = pixels * float(area)
                else:  # geographic grid: area of the patch's pixels row by row
                    pr = ~geometry_mask([g], out_shape=sub.shape, transform=sub.transform) & mask
                    ha = float((pr.sum(axis=1) * np.asarray(area)).sum())
                if ha + 1e-12 < min_patch_ha:
                    continue
                f, t = int(value) // 16, int(value) % 16
                rows.append({id_field: rid, "from_class": NAMES[f], "to_class": NAMES[t], "pixels": pixels,
                             "area_ha": ha})
                geoms.append(g)
    gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs=redlines.crs) if rows else gpd.GeoDataFrame(
        {id_field: [], "from_class": [], "to_class": [], "pixels": [], "area_ha": []}, geometry=[], crs=redlines.crs)
    if len(gdf):
        cent = gdf.geometry.centroid.to_crs("EPSG:4326")
        gdf["lon"], gdf["lat"] = cent.x.round(6), cent.y.round(6)
        gdf = gdf.sort_values([id_field, "area_ha"], ascending=[True, False]).reset_index(drop=True)
    else:
        gdf["lon"], gdf["lat"] = [], []
    gdf.insert(0, "patch_id", [f"P{i + 1:05d}" for i in range(len(gdf))])
    log.info("encroachment: %d patches, %.2f ha", len(gdf), float(gdf["area_ha"].sum()) if len(gdf) else 0.0)
    return gdf


def encroachment_summary(patches: Any, redlines: Any, *, id_field: str) -> dict[str, Any]:
    """Counts and areas: overall, per redline (every redline listed) and per transition."""
    by: dict[str, Any] = {}
    for rid in redlines[id_field]:
        sel = patches[patches[id_field] == rid]
        trans = {}
        for (f, t), grp in sel.groupby(["from_class", "to_class"]) if len(sel) else []:
            trans[f"{f}->{t}"] = {"patches": int(len(grp)), "area_ha": float(grp["area_ha"].sum())}
        by[str(rid)] = {"patches": int(len(sel)), "area_ha": float(sel["area_ha"].sum()) if len(sel) else 0.0,
                        "by_transition": trans}
    total = float(patches["area_ha"].sum()) if len(patches) else 0.0
    return {"patches": int(len(patches)), "area_ha": total if math.isfinite(total) else 0.0, "by_redline": by}
