"""Indicators of every redline and region: areas, forest coverage, carbon, volume, sink, loss.

Per polygon and epoch, from one exact categorical pass per land-cover map
(:func:`sinks.zonal.class_areas`, partial pixels weighted by coverage):

* ``area_ha_<class>_<epoch>``, ``land_area_ha_<epoch>`` (every class but water),
  ``nodata_fraction_<epoch>`` (area of the polygon, inside or outside the raster, with
  no valid pixel);
* ``forest_area_ha_<epoch>`` and ``forest_coverage_pct_<epoch>`` = forest / land area;
* ``stock_mg_c_<pool>_<epoch>`` = Σ class area × density (pools above, below, dead,
  soil, total) and ``volume_m3_<epoch>`` = forest area × growing stock per ha.

Per period ``<e1>_<e2>``, from the transition map (``from × 16 + to``,
:mod:`sinks.change`): the transition matrix of the polygon, the sink
(:func:`sinks.carbon.sink`: stock difference + gain of persistent forest) with its 95 %
Monte Carlo interval, and ``eco_land_lost_ha_<period>`` (ecological land turned
built-up, cropland or bare).

How the map's forest relates to China's forest definition (domain.md §4): the forest
coverage rate counts 乔木林 and 竹林 with canopy cover ≥ 0.2, plus 国家特别规定灌木林
(special shrubland: cover > 30 % in arid areas, above the tree line, in karst and dry-hot
valleys — 15.5 % of the 9th NFI's forest area).  A land-cover map without a shrub
class counts only closed tree cover as forest, so its coverage rate under-estimates
the official one where special shrubland exists; the 1-mu (0.0667 ha) minimum patch of
forest is applied by the classification stage.  From 2021 the official figures rest on
land-use polygons of the 3rd national land survey, so a satellite estimate is an
independent estimate, not a reproduction.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .landcover import CODES, ECOLOGICAL, NAMES

__all__ = ["region_indicators", "write_indicator_tables"]

log = logging.getLogger("sinks")


def region_indicators(zones: Any, *, id_field: str, landcover: Mapping[str, str | os.PathLike],
                      years: Mapping[str, int], table: Any, volume_m3_per_ha: float = 94.83,
                      carbon_per_m3: float = 0.523, growth_mg_c_per_ha_yr: float = 4.23 * 0.523,
                      soil_transition_years: float = 20.0, change: Mapping[str, str | os.PathLike] | None = None,
                      uncertainty: Mapping[str, Any] | None = None, missing: str = "error") -> Any:
    """Indicator table of ``zones`` (see the module docstring for the columns).

    Parameters
    ----------
    zones : GeoDataFrame
        Polygons in the rasters' CRS, with ``id_field``.
    landcover : mapping
        Epoch name → land-cover raster (legend codes, 0 = nodata), all on one grid.
    years : mapping
        Epoch name → year.
    table : CarbonTable
    change : mapping, optional
        Period key ``"<e1>_<e2>"`` → transition raster.
    uncertainty : mapping, optional
        ``{"draws": .., "seed": .., "distribution": ..}`` for sink intervals.
    """
    import geopandas as gpd
    import pandas as pd

    from .carbon import ClassAreas, stock_totals
    from .carbon.sink import TransitionMatrix, sink
    from .zonal import _ZONE, class_areas

    gdf = zones.reset_index(drop=True).copy()
    gdf[_ZONE] = np.arange(len(gdf), dtype=np.int64)
    out = pd.DataFrame({id_field: gdf[id_field].astype(str).to_numpy()})
    for c in ("name", "category"):
        if c in gdf.columns and c != id_field:
            out[c] = gdf[c].to_numpy()
    legend = [NAMES[c] for c in sorted(NAMES)]
    for ep, path in landcover.items():
        ca = class_areas(path, gdf, id_field=id_field, warn_empty=False)
        for name in legend:
            out[f"area_ha_{name}_{ep}"] = ca.get(f"area_ha_{name}", 0.0)
        land = sum(out[f"area_ha_{n}_{ep}"] for n in legend if n != "water")
        out[f"land_area_ha_{ep}"] = land
        out[f"forest_area_ha_{ep}"] = out[f"area_ha_forest_{ep}"]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"forest_coverage_pct_{ep}"] = np.where(land > 0, 100.0 * out[f"area_ha_forest_{ep}"] / land, np.nan)
        out[f"nodata_fraction_{ep}"] = ca["nodata_fraction"].to_numpy()
        pools: dict[str, list[float]] = {p: [] for p in ("above", "below", "dead", "soil", "total")}
        for i in range(len(out)):
            areas = {CODES[n]: float(out.at[i, f"area_ha_{n}_{ep}"]) for n in legend
                     if out.at[i, f"area_ha_{n}_{ep}"] > 0}
            tot = stock_totals(ClassAreas.from_mapping(areas), table, missing="zero" if missing != "error" else "error")
            for p in pools:
                pools[p].append(tot.stock_mg_c[p])
        for p, vals in pools.items():
            out[f"stock_mg_c_{p}_{ep}"] = vals
        out[f"volume_m3_{ep}"] = out[f"area_ha_forest_{ep}"] * volume_m3_per_ha
    codes = sorted(NAMES)
    k = len(codes)
    eco = {CODES[n] for n in ECOLOGICAL}
    lost_to = {CODES[n] for n in ("built_up", "cropland", "bare")}
    for key, path in (change or {}).items():
        e1, e2 = key.split("_", 1)
        span = years[e2] - years[e1]
        ca = class_areas(path, gdf, id_field=id_field, classes={f * 16 + t: f"{f}_{t}" for f in codes for t in codes},
                         warn_empty=False)
        sinks_, lo, hi, sd, gain, lost = [], [], [], [], [], []
        for i in range(len(out)):
            m = np.zeros((k, k))
            for fi, f in enumerate(codes):
                for ti, t in enumerate(codes):
                    col = f"area_ha_{f}_{t}"
                    if col in ca:
                        m[fi, ti] = float(ca[col].iloc[i])
            tm = TransitionMatrix(tuple(codes), m, np.zeros((k, k), dtype=np.int64))
            s = sink(tm, table, years=span, soil_transition_years=soil_transition_years,
                     growth_mg_c_per_ha_yr=growth_mg_c_per_ha_yr, missing="zero")
            sinks_.append(s.sink_mg_c_per_yr)
            sd.append(s.stock_difference_mg_c_per_yr["total"])
            gain.append(s.gain_mg_c_per_yr)
            lost.append(math.fsum(m[fi, ti] for fi, f in enumerate(codes) for ti, t in enumerate(codes)
                                  if f in eco and t in lost_to))
            if uncertainty and m.sum() > 0:
                from .uncertainty import monte_carlo

                mc = monte_carlo(table, transitions=tm, years=span, soil_transition_years=soil_transition_years,
                                 growth_mg_c_per_ha_yr=growth_mg_c_per_ha_yr, draws=int(uncertainty.get("draws", 2000)),
                                 seed=uncertainty.get("seed", 1),
                                 distribution=uncertainty.get("distribution", "triangular"), missing="zero")
                lo.append(mc.sink_mg_c_per_yr.low)
                hi.append(mc.sink_mg_c_per_yr.high)
            else:
                lo.append(np.nan)
                hi.append(np.nan)
        out[f"sink_mg_c_per_yr_{key}"] = sinks_
        if uncertainty:
            out[f"sink_mg_c_per_yr_{key}_lo"] = lo
            out[f"sink_mg_c_per_yr_{key}_hi"] = hi
        out[f"sink_tco2e_per_yr_{key}"] = np.asarray(sinks_) * 44.0 / 12.0
        out[f"stock_difference_mg_c_per_yr_{key}"] = sd
        out[f"gain_mg_c_per_yr_{key}"] = gain
        out[f"eco_land_lost_ha_{key}"] = lost
    return gpd.GeoDataFrame(out, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)


def write_indicator_tables(gdf: Any, out_base: str | os.PathLike, *, formats: Sequence[str] = ("gpkg", "parquet", "csv"),
                           overwrite: bool = False) -> list[Path]:
    """Write ``<out_base>.gpkg`` / ``.parquet`` (with geometry) / ``.csv`` (without), atomically."""
    from .outputs import atomic_path, ensure_writable
    from .vectors import write_vector

    base = Path(out_base)
    paths = [base.with_suffix(f".{f}") for f in formats]
    ensure_writable(paths, overwrite=overwrite)
    for f, p in zip(formats, paths):
        if f == "csv":
            with atomic_path(p, overwrite=overwrite) as tmp:
                gdf.drop(columns="geometry").to_csv(tmp, index=False, encoding="utf-8")
        else:
            write_vector(gdf, p, overwrite=overwrite)
    return paths
