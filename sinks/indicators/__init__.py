"""Indicators of redlines, regions and any zones, from land-cover maps.

=============  ==============================================================
module         job
=============  ==============================================================
``core``       :func:`compute_indicators`: class areas, unobserved area, forest
               coverage rate, carbon stock, stock volume, sink per zone
``shapes``     the wide table and the JSON document of the result
=============  ==============================================================

The run's redline and region tables (:func:`region_indicators`) and ``sinks
indicators`` use the same :func:`compute_indicators`.

How the map's forest relates to China's forest definition (domain.md §4): the
official forest coverage rate counts 乔木林 (including mangrove forest) and 竹林 with
canopy cover ≥ 0.2, plus 国家特别规定灌木林 (special shrubland — shrub cover > 30 % in
arid and semi-arid areas, above the tree line, in karst and dry-hot valleys — about
15.5 % of the 9th NFI's forest area).  The ``forest`` and ``mangrove`` classes count;
shrubland counts only where the user designates it (a zone layer or a per-zone
flag) and only from maps with a shrub class (CLCD, WorldCover, a user legend): the
sinks classifier has none, so its coverage rate counts tree cover and mangroves and
under-estimates the official rate wherever special shrubland exists.  The 1-mu
(≈ 0.0667 ha) minimum patch is applied by the classification stage.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..carbon.volume import CARBON_PER_M3, GROWING_STOCK_M3_PER_HA
from ..csvio import to_csv
from ..errors import ConfigError
from .core import (
    POOL_NAMES,
    TOTAL_ID,
    Indicators,
    compute_indicators,
    periods_of,
    sink_interval,
    sink_method,
)
from .shapes import class_area_table, to_json, to_table

__all__ = ["POOL_NAMES", "TOTAL_ID", "Indicators", "compute_indicators", "region_indicators",
           "write_indicator_tables", "write_indicators", "to_table", "to_json", "class_area_table", "periods_of", "sink_interval",
           "sink_method"]

log = logging.getLogger("sinks")


def region_indicators(zones: Any, *, id_field: str, landcover: Mapping[str, str | os.PathLike],
                      years: Mapping[str, int], table: Any, volume_m3_per_ha: float = GROWING_STOCK_M3_PER_HA,
                      volume_rasters: Mapping[str, str | os.PathLike] | None = None, carbon_per_m3: float = CARBON_PER_M3,
                      growth_mg_c_per_ha_yr: float | None = None, soil_transition_years: float | None = None,
                      sink_options: Mapping[str, Any] | None = None, transitions: bool = True,
                      uncertainty: Mapping[str, Any] | None = None, missing: str = "error", legend: Any = "sinks",
                      special_shrub: Any = None, special_shrub_field: str | None = None,
                      max_unobserved: float | None = None, tallies: Any = None) -> Any:
    """Indicator table of ``zones``, one row per polygon (:mod:`sinks.indicators.shapes`).

    Parameters
    ----------
    zones : GeoDataFrame
        Polygons with a unique ``id_field`` (any CRS: reprojected to the rasters').
        Polygons may overlap and may lie partly outside the rasters.
    id_field : str
        Id column; the first column of the result (``name`` and ``category`` follow
        when the zones have them).
    landcover : mapping
        Epoch name → land-cover raster (sinks codes, 0 nodata), all on one grid.
    years : mapping
        Epoch name → year.
    table : CarbonTable
        Carbon densities (Mg C/ha) per class.
    volume_m3_per_ha : float
        Growing stock of forest (m³/ha) where no volume raster is given.
    volume_rasters : mapping, optional
        Epoch → stock-volume raster (m³/ha): the zone's volume is its zonal sum.
    carbon_per_m3 : float
        Carbon per m³ of stock volume (carried for the callers' summaries).
    growth_mg_c_per_ha_yr, soil_transition_years : float, optional
        Passed to :func:`sinks.carbon.sink.sink` when given.
    sink_options : mapping, optional
        Further keyword arguments of :func:`sinks.carbon.sink.sink`.
    transitions : bool
        Sink from each polygon's transition matrix (default); ``False``: stock difference.
    uncertainty : mapping, optional
        ``{"draws": 2000, "seed": 1, ...}`` → stock and sink intervals.
    missing : {"error", "zero"}
        Classes absent from ``table``, and codes outside the legend: raise, or count at
        zero density (outside codes are then unobserved area).
    legend, special_shrub, special_shrub_field, max_unobserved, tallies
        As for :func:`compute_indicators`.

    Returns
    -------
    geopandas.GeoDataFrame
        In the rasters' CRS.
    """
    from ..coverage import MAX_UNOBSERVED
    from ..zonal import read_zones

    del carbon_per_m3  # the gain rate arrives already in Mg C/ha/yr
    options = dict(sink_options or {})
    if growth_mg_c_per_ha_yr is not None:
        options.setdefault("growth_mg_c_per_ha_yr", growth_mg_c_per_ha_yr)
    if soil_transition_years is not None:
        options.setdefault("soil_transition_years", soil_transition_years)
    if missing not in ("error", "zero"):
        raise ConfigError(f"missing must be 'error' or 'zero', got {missing!r}")
    if not landcover:
        raise ConfigError("landcover: at least one epoch is needed")
    from .core import _check_grids

    grid = _check_grids(landcover)
    gdf = read_zones(zones, id_field=id_field, crs=grid.crs)
    ind = compute_indicators(gdf, id_field=id_field, landcover=landcover, years=years, table=table, legend=legend,
                             special_shrub=special_shrub, special_shrub_field=special_shrub_field,
                             max_unobserved=MAX_UNOBSERVED if max_unobserved is None else max_unobserved,
                             volume_m3_per_ha=volume_m3_per_ha, volume_rasters=volume_rasters, sink_options=options,
                             uncertainty=uncertainty, transitions=transitions, missing=missing,
                             outside="error" if missing == "error" else "unobserved", tallies=tallies)
    extra = {c: gdf[c].to_numpy() for c in ("name", "category") if c in gdf.columns and c != id_field}
    return to_table(ind, id_field=id_field, geometry=gdf.geometry.to_numpy(), crs=gdf.crs, extra=extra)


def write_indicator_tables(gdf: Any, out_base: str | os.PathLike, *, formats: Sequence[str] = ("gpkg", "parquet", "csv"),
                           overwrite: bool = False) -> list[Path]:
    """Write ``<out_base>.gpkg``, ``.parquet`` (GeoParquet, with geometry) and ``.csv`` (without).

    Every file is written to a temporary name and renamed; all targets are checked
    before the first is written, so an existing file (without ``overwrite``) leaves
    nothing behind.

    Returns
    -------
    list of Path
        The files written, in ``formats`` order.
    """
    from ..outputs import atomic_path, ensure_writable
    from ..vectors import write_vector

    bad = [f for f in formats if f not in ("gpkg", "parquet", "csv")]
    if bad:
        raise ConfigError(f"unknown table format(s) {', '.join(bad)}; known: gpkg, parquet, csv")
    base = Path(out_base)
    paths = [base.parent / f"{base.name}.{f}" for f in formats]
    ensure_writable(paths, overwrite=overwrite)
    base.parent.mkdir(parents=True, exist_ok=True)
    for f, p in zip(formats, paths):
        if f == "csv":
            with atomic_path(p, overwrite=overwrite) as tmp:
                to_csv(gdf.drop(columns=gdf.geometry.name), tmp)
        else:
            write_vector(gdf, p, overwrite=overwrite)
    return paths


def write_indicators(ind: Indicators, out: str | os.PathLike, *, zones: Any, id_field: str, layer: str | None = None,
                     doc: Mapping[str, Any] | None = None, overwrite: bool = False) -> list[Path]:
    """Write the files of ``sinks indicators -o DIR``: ``indicators.json``, the wide table per
    zone (``zones.csv``, and ``zones.gpkg`` with the zones' geometry) and the class areas
    (``class_areas.csv``, long).

    Parameters
    ----------
    ind : Indicators
        The result of :func:`compute_indicators`.
    out : path
        The folder (created if missing).
    zones, id_field, layer
        The zones ``ind`` was computed on (their geometry goes into ``zones.gpkg``).
    doc : mapping, optional
        The JSON document (default :func:`to_json` of ``ind``).
    overwrite : bool

    Returns
    -------
    list of Path
        ``indicators.json``, ``zones.csv``, ``zones.gpkg``, ``class_areas.csv``.
    """
    import geopandas as gpd

    from ..outputs import atomic_path, atomic_write_json
    from ..zonal import read_zones

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gdf = read_zones(zones, id_field=id_field, crs=None, layer=layer)
    wide = to_table(ind, id_field=id_field)
    tables = write_indicator_tables(gpd.GeoDataFrame(wide, geometry=gdf.geometry.to_numpy(), crs=gdf.crs),
                                    out / "zones", formats=("csv", "gpkg"), overwrite=overwrite)
    with atomic_path(out / "class_areas.csv", overwrite=overwrite) as tmp:
        to_csv(class_area_table(ind, id_field=id_field), tmp)
    summary = atomic_write_json(out / "indicators.json", to_json(ind) if doc is None else doc, overwrite=overwrite)
    return [summary, *tables, out / "class_areas.csv"]
