"""Indicators of every redline and region: areas, forest coverage, carbon, volume, sink, loss.

Per polygon and epoch, from one exact categorical pass over all polygons and all
epochs together (:func:`sinks.zonal.joint_class_areas`, partial pixels weighted by
coverage):

* ``area_ha_<class>_<epoch>`` for every legend class; ``land_area_ha_<epoch>`` (every
  valid class except water); ``nodata_fraction_<epoch>`` (share of the polygon with no
  valid pixel — area outside the raster counts as nodata);
* ``forest_area_ha_<epoch>`` and ``forest_coverage_pct_<epoch>`` = forest / land area
  × 100 (NaN without land);
* ``stock_mg_c_<pool>_<epoch>`` = Σ class area × density for the pools ``above``,
  ``below``, ``dead``, ``soil``, ``total`` (:func:`sinks.carbon.stock_totals`) and
  ``volume_m3_<epoch>`` = forest area × growing stock per ha
  (:func:`sinks.carbon.stock_volume`).

Per period ``<e1>_<e2>`` (consecutive epochs in year order), from the same pass: the
polygon's transition matrix (area from each class at ``e1`` to each class at ``e2``,
pixels valid at both dates, as in the change maps of :mod:`sinks.change`) →
:func:`sinks.carbon.sink`, giving ``sink_mg_c_per_yr_<period>``,
``sink_tco2e_per_yr_<period>``, ``stock_difference_mg_c_per_yr_<period>``,
``gain_mg_c_per_yr_<period>``, with ``uncertainty`` the 95 % Monte Carlo interval
``sink_mg_c_per_yr_<period>_lo``/``_hi`` (:func:`sinks.uncertainty.monte_carlo` on the
matrix), and ``eco_land_lost_ha_<period>``: area that turned from an ecological class
(:data:`sinks.landcover.ECOLOGICAL`) into built-up land, cropland or bare land.
With ``transitions=False`` the period is the difference of the two epochs' stocks
(``sink = stock difference``, all pools at once), ``gain`` and ``eco_land_lost_ha``
are NaN (unavailable), no interval is given, and ``sink_method_<period>`` says
``"stock_difference"`` instead of ``"transitions"``.

How the map's forest relates to China's forest definition (domain.md §4): the
official forest coverage rate counts 乔木林 and 竹林 with canopy cover ≥ 0.2, plus
国家特别规定灌木林 (special shrubland — shrub cover > 30 % in arid and semi-arid areas,
above the tree line, in karst and dry-hot valleys — about 15.5 % of the 9th NFI's forest
area).  A land-cover map without a shrub class counts only tree cover as forest, so
``forest_coverage_pct`` under-estimates the official rate wherever such shrubland
exists.  The 1-mu (≈ 0.0667 ha) minimum patch is applied by the classification stage;
the rate here divides by the land area of the polygon (water excluded) as measured on
the map, not by the administrative area.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import ConfigError, GridMismatchError
from .landcover import CODES, ECOLOGICAL, NAMES

__all__ = ["POOL_NAMES", "region_indicators", "write_indicator_tables"]

log = logging.getLogger("sinks")

#: Pool suffixes of the ``stock_mg_c_<pool>_<epoch>`` columns.
POOL_NAMES: tuple[str, ...] = ("above", "below", "dead", "soil", "total")
_LOST_TO = ("built_up", "cropland", "bare")
_CO2_PER_C = 44.0 / 12.0


def _check_grids(rasters: Mapping[str, str | os.PathLike], what: str) -> Any:
    from .io import inspect_tile

    grid, first = None, None
    for name, path in rasters.items():
        info = inspect_tile(path)
        if grid is None:
            grid, first = info.grid, info.path
        elif not info.grid.same_as(grid):
            raise GridMismatchError(f"{info.path}: {what} {name!r} is not on the grid of {first}")
    return grid


def _periods(years: Mapping[str, int], epochs: Sequence[str]) -> list[tuple[str, str, str, float]]:
    missing = [e for e in epochs if e not in years]
    if missing:
        raise ConfigError(f"years: no year given for epoch(s) {', '.join(missing)}")
    order = sorted(epochs, key=lambda e: years[e])
    out = []
    for a, b in zip(order, order[1:]):
        span = float(years[b] - years[a])
        if span <= 0:
            raise ConfigError(f"years: epochs {a!r} and {b!r} have the same year {years[a]}")
        out.append((a, b, f"{a}_{b}", span))
    return out


def region_indicators(zones: Any, *, id_field: str, landcover: Mapping[str, str | os.PathLike],
                      years: Mapping[str, int], table: Any, volume_m3_per_ha: float = 94.83,
                      carbon_per_m3: float = 0.523, growth_mg_c_per_ha_yr: float | None = None,
                      soil_transition_years: float = 20.0, transitions: bool = True, growth: Any = None,
                      uncertainty: Mapping[str, Any] | None = None, missing: str = "error") -> Any:
    """Indicator table of ``zones``, one row per polygon (columns: module docstring).

    Parameters
    ----------
    zones : GeoDataFrame
        Polygons with a unique ``id_field`` (any CRS: reprojected to the rasters').
        Polygons may overlap and may lie partly outside the rasters.
    id_field : str
        Id column; the first column of the result.
    landcover : mapping
        Epoch name → land-cover raster (legend codes, 0 nodata), all on one grid.
    years : mapping
        Epoch name → year.
    table : CarbonTable
        Carbon densities (Mg C/ha) per class.
    volume_m3_per_ha : float
        Growing stock of forest (m³/ha).
    carbon_per_m3 : float
        Carbon per m³ of stock volume; only carried in the docs of ``growth`` (the
        gain rate is given directly in Mg C/ha/yr).
    growth_mg_c_per_ha_yr : float, optional
        Net gain of persistent forest (Mg C/ha/yr); default: the gain–loss row of
        :func:`sinks.carbon.growth.forest_growth` (0.751).
    soil_transition_years : float
        IPCC soil transition period.
    growth : ForestGrowth or str, optional
        Gain–loss coefficients for :func:`sinks.carbon.sink` (default row when ``None``).
    transitions : bool
        Sink from each polygon's transition matrix between consecutive epochs (the
        default); ``False`` gives the plain stock difference.
    uncertainty : mapping, optional
        ``{"draws": 2000, "seed": 1, "distribution": "ci"}`` → sink intervals.
    missing : {"error", "zero"}
        Classes absent from ``table``, and codes outside the legend: raise, or count at
        zero density (outside codes then count as valid area of no class).

    Returns
    -------
    geopandas.GeoDataFrame
        In the rasters' CRS.
    """
    import geopandas as gpd
    import pandas as pd

    from .carbon import ClassAreas, stock_totals, stock_volume
    from .carbon.sink import TransitionMatrix, sink
    from .zonal import joint_class_areas, read_zones

    if missing not in ("error", "zero"):
        raise ConfigError(f"missing must be 'error' or 'zero', got {missing!r}")
    if not landcover:
        raise ConfigError("landcover: at least one epoch is needed")
    grid = _check_grids(landcover, "raster")
    periods = _periods(years, list(landcover))
    order = sorted(landcover, key=lambda e: years[e])
    gdf = read_zones(zones, id_field=id_field, crs=grid.crs)
    log.info("indicators of %d polygon(s), %d epoch(s), one exact pass", len(gdf), len(landcover))
    joint = joint_class_areas([landcover[e] for e in order], gdf, id_field=id_field)
    if joint.outside and missing == "error":
        raise ConfigError(f"{', '.join(str(landcover[e]) for e in order)}: codes outside the legend: "
                          f"{', '.join(map(str, joint.outside))}")
    at = {e: k for k, e in enumerate(order)}

    n = len(gdf)
    cols: dict[str, Any] = {id_field: gdf[id_field].to_numpy()}
    for label in ("name", "category"):  # descriptive fields travel with the id
        if label in gdf.columns and label != id_field:
            cols[label] = gdf[label].to_numpy()
    codes = sorted(NAMES)
    legend = [NAMES[c] for c in codes]
    stocks: dict[str, np.ndarray] = {}
    for ep, path in landcover.items():
        area = {NAMES[c]: joint.area_ha[:, at[ep], c] for c in codes}
        for name in legend:
            cols[f"area_ha_{name}_{ep}"] = area[name]
        land = np.sum([area[nm] for nm in legend if nm != "water"], axis=0)
        cols[f"land_area_ha_{ep}"] = land
        cols[f"nodata_fraction_{ep}"] = joint.nodata_fraction[:, at[ep]]
        forest = area["forest"]
        cols[f"forest_area_ha_{ep}"] = forest
        with np.errstate(divide="ignore", invalid="ignore"):
            cols[f"forest_coverage_pct_{ep}"] = np.where(land > 0, 100.0 * forest / land, np.nan)
        pool = {p: np.zeros(n) for p in POOL_NAMES}
        for i in range(n):
            tot = stock_totals(ClassAreas.from_mapping({CODES[nm]: float(area[nm][i]) for nm in legend
                                                        if area[nm][i] > 0}),
                               table, missing=missing, label=f"{path} ({id_field}={cols[id_field][i]})")
            for p in POOL_NAMES:
                pool[p][i] = tot.stock_mg_c[p]
        for p in POOL_NAMES:
            cols[f"stock_mg_c_{p}_{ep}"] = pool[p]
        stocks[ep] = pool["total"]
        cols[f"volume_m3_{ep}"] = np.array([stock_volume(float(a), m3_per_ha=volume_m3_per_ha).volume_m3
                                            for a in forest])

    eco = np.array([NAMES[c] in ECOLOGICAL for c in codes])
    lost = np.array([NAMES[c] in _LOST_TO for c in codes])
    lost_mask = np.outer(eco, lost)
    for e1, e2, key, span in periods:
        if not transitions:
            sd = (stocks[e2] - stocks[e1]) / span
            cols[f"sink_mg_c_per_yr_{key}"] = sd
            if uncertainty:
                cols[f"sink_mg_c_per_yr_{key}_lo"] = np.full(n, np.nan)
                cols[f"sink_mg_c_per_yr_{key}_hi"] = np.full(n, np.nan)
            cols[f"sink_tco2e_per_yr_{key}"] = sd * _CO2_PER_C
            cols[f"stock_difference_mg_c_per_yr_{key}"] = sd
            cols[f"gain_mg_c_per_yr_{key}"] = np.full(n, np.nan)
            cols[f"eco_land_lost_ha_{key}"] = np.full(n, np.nan)
            cols[f"sink_method_{key}"] = np.full(n, "stock_difference", dtype=object)
            continue
        mats = joint.transition_ha[:, at[e1]][:, codes][:, :, codes]   # (polygons, classes, classes)
        res = {name: np.full(n, np.nan) for name in ("sink", "tco2e", "sd", "gain", "lost", "lo", "hi")}
        for i in range(n):
            m = mats[i]
            res["lost"][i] = math.fsum(m[lost_mask].tolist())
            # only classes present in the polygon: a table need not cover classes absent there
            use = np.flatnonzero((m.sum(axis=0) + m.sum(axis=1)) > 0)
            m = m[np.ix_(use, use)]
            tm = TransitionMatrix(tuple(codes[j] for j in use), m, np.zeros(m.shape, dtype=np.int64))
            s = sink(tm, table, years=span, soil_transition_years=soil_transition_years, growth=growth,
                     growth_mg_c_per_ha_yr=growth_mg_c_per_ha_yr, missing=missing)
            res["sink"][i], res["tco2e"][i] = s.sink_mg_c_per_yr, s.sink_tco2e_per_yr
            res["sd"][i], res["gain"][i] = s.stock_difference_mg_c_per_yr["total"], s.gain_mg_c_per_yr
            if uncertainty:
                res["lo"][i], res["hi"][i] = _interval(tm, table, span, uncertainty, soil_transition_years,
                                                       growth_mg_c_per_ha_yr, missing, growth)
        cols[f"sink_mg_c_per_yr_{key}"] = res["sink"]
        if uncertainty:
            cols[f"sink_mg_c_per_yr_{key}_lo"] = res["lo"]
            cols[f"sink_mg_c_per_yr_{key}_hi"] = res["hi"]
        cols[f"sink_tco2e_per_yr_{key}"] = res["tco2e"]
        cols[f"stock_difference_mg_c_per_yr_{key}"] = res["sd"]
        cols[f"gain_mg_c_per_yr_{key}"] = res["gain"]
        cols[f"eco_land_lost_ha_{key}"] = res["lost"]
        cols[f"sink_method_{key}"] = np.full(n, "transitions", dtype=object)
    return gpd.GeoDataFrame(pd.DataFrame(cols), geometry=gdf.geometry.to_numpy(), crs=gdf.crs)


def _interval(tm: Any, table: Any, span: float, unc: Mapping[str, Any], soil_years: float, rate: float | None,
              missing: str, growth: Any = None) -> tuple[float, float]:
    """95 % Monte Carlo interval of one polygon's sink (NaN for a polygon without area)."""
    from .uncertainty import monte_carlo

    if tm.total_ha <= 0:
        return math.nan, math.nan
    mc = monte_carlo(table, transitions=tm, years=span, soil_transition_years=soil_years,
                     growth_mg_c_per_ha_yr=rate, growth=growth, draws=int(unc.get("draws", 2000)), seed=unc.get("seed", 1),
                     distribution=unc.get("distribution", "ci"), level=float(unc.get("level", 0.95)),
                     missing=missing)
    assert mc.sink_mg_c_per_yr is not None
    return mc.sink_mg_c_per_yr.low, mc.sink_mg_c_per_yr.high


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
    from .outputs import atomic_path, ensure_writable
    from .vectors import write_vector

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
                gdf.drop(columns=gdf.geometry.name).to_csv(tmp, index=False, encoding="utf-8")
        else:
            write_vector(gdf, p, overwrite=overwrite)
    return paths
