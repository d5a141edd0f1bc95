"""The two shapes of :class:`~sinks.indicators.core.Indicators`: a wide table and a JSON document.

Wide table (the run's ``tables/redlines.*`` and ``tables/regions.*``, ``sinks
indicators -o DIR``'s ``zones.*``), one row per zone, units in the column names:

* ``zone_area_ha`` — the whole area inside the zone's boundary;
* per epoch ``<e>``: ``area_ha_<class>_<e>`` for every class of the legend (plus
  ``shrubland`` when the legend has it), ``unobserved_ha_<e>`` and
  ``unobserved_fraction_<e>``, ``forest_area_ha_<e>`` (forest + mangrove + special
  shrubland), ``forest_coverage_pct_<e>`` (over ``zone_area_ha``),
  ``forest_coverage_pct_max_<e>`` (if every unobserved hectare were forest),
  ``coverage_flagged_<e>``, ``special_shrub_ha_<e>`` (when used),
  ``stock_mg_c_<pool>_<e>`` (pools ``above``, ``below``, ``dead``, ``soil``,
  ``total``), ``stock_mg_c_total_<e>_lo``/``_hi`` (with intervals), ``volume_m3_<e>``;
* per period ``<e1>_<e2>``: ``sink_mg_c_per_yr_<p>`` and ``_lo``/``_hi``,
  ``sink_tco2e_per_yr_<p>``, ``stock_difference_mg_c_per_yr_<p>``,
  ``gain_mg_c_per_yr_<p>``, ``eco_land_lost_ha_<p>``, ``sink_method_<p>``.

JSON (``sinks indicators --json``): ``{"years", "zones": [...], "total": {...}}``, each
zone ``{"id", "area_ha", "unobserved_ha": {year: ha}, "forest_area_ha",
"forest_coverage_pct", "stock_mg_c": {year: {"value", "low", "high"}}, "volume_m3",
"sink_mg_c_per_yr": {"Y1-Y2": {"value", "low", "high", "method"}}, ...}``; missing
values are ``null``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..coverage import DEFINITION
from ..legends import INDICATOR_CLASSES, SHRUBLAND
from .core import POOL_NAMES, TOTAL_ID, Indicators

__all__ = ["to_table", "to_json", "class_area_table"]



def _classes(ind: Indicators) -> list[str]:
    return [nm for nm in INDICATOR_CLASSES.values() if nm != SHRUBLAND or ind.legend.has_shrubland]


def to_table(ind: Indicators, *, id_field: str, geometry: Any = None, crs: Any = None,
             extra: dict[str, Any] | None = None, include_total: bool = False) -> Any:
    """The wide table (module docstring): a GeoDataFrame with ``geometry``, else a DataFrame.

    ``extra`` columns (e.g. ``name``) follow the id.  The whole-input row is left out
    unless ``include_total``.
    """
    import pandas as pd

    rows = slice(None) if include_total or not ind.has_total else slice(0, ind.n_zones)
    cols: dict[str, Any] = {id_field: np.asarray(ind.ids, dtype=object)[rows]}
    for k, v in (extra or {}).items():
        cols[k] = v
    cols["zone_area_ha"] = ind.zone_area_ha[rows]
    for e in ind.epochs:
        for nm in _classes(ind):
            cols[f"area_ha_{nm}_{e}"] = ind.class_area_ha[e][nm][rows]
        cols[f"unobserved_ha_{e}"] = ind.unobserved_ha[e][rows]
        cov = ind.coverage[e]
        cols[f"unobserved_fraction_{e}"] = cov["unobserved_fraction"][rows]
        if ind.special_shrub_ha is not None:
            cols[f"special_shrub_ha_{e}"] = ind.special_shrub_ha[e][rows]
        cols[f"forest_area_ha_{e}"] = cov["forest_area_ha"][rows]
        cols[f"forest_coverage_pct_{e}"] = cov["forest_coverage_pct"][rows]
        cols[f"forest_coverage_pct_max_{e}"] = cov["forest_coverage_pct_max"][rows]
        cols[f"coverage_flagged_{e}"] = cov["coverage_flagged"][rows]
        for p in POOL_NAMES:
            cols[f"stock_mg_c_{p}_{e}"] = ind.stock_mg_c[e][p][rows]
        if ind.stock_interval is not None:
            cols[f"stock_mg_c_total_{e}_lo"] = ind.stock_interval[e][0][rows]
            cols[f"stock_mg_c_total_{e}_hi"] = ind.stock_interval[e][1][rows]
        cols[f"volume_m3_{e}"] = ind.volume_m3[e][rows]
    for _e1, _e2, key, _span in ind.periods:
        s = ind.sink[key]
        cols[f"sink_mg_c_per_yr_{key}"] = s["value"][rows]
        if ind.stock_interval is not None or np.isfinite(s["low"]).any():
            cols[f"sink_mg_c_per_yr_{key}_lo"] = s["low"][rows]
            cols[f"sink_mg_c_per_yr_{key}_hi"] = s["high"][rows]
        cols[f"sink_tco2e_per_yr_{key}"] = s["tco2e"][rows]
        cols[f"stock_difference_mg_c_per_yr_{key}"] = s["stock_difference"][rows]
        cols[f"gain_mg_c_per_yr_{key}"] = s["gain"][rows]
        cols[f"eco_land_lost_ha_{key}"] = s["lost"][rows]
        cols[f"sink_method_{key}"] = np.asarray(s["method"], dtype=object)[rows]
    df = pd.DataFrame(cols)
    if geometry is None:
        return df
    import geopandas as gpd

    return gpd.GeoDataFrame(df, geometry=geometry, crs=crs)


def class_area_table(ind: Indicators, *, id_field: str) -> Any:
    """Long table ``<id_field>, year, class, area_ha`` (unobserved area as class ``unobserved``)."""
    import pandas as pd

    recs = []
    for i, zid in enumerate(ind.ids):
        label = "total" if ind.has_total and zid == TOTAL_ID else zid
        for e in ind.epochs:
            for nm in _classes(ind):
                recs.append((label, ind.years[e], nm, float(ind.class_area_ha[e][nm][i])))
            recs.append((label, ind.years[e], "unobserved", float(ind.unobserved_ha[e][i])))
    return pd.DataFrame(recs, columns=[id_field, "year", "class", "area_ha"])


def _n(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _zone(ind: Indicators, i: int, label: Any) -> dict[str, Any]:
    ye = {e: str(e) for e in ind.epochs}
    out: dict[str, Any] = {
        "id": label,
        "area_ha": _n(ind.zone_area_ha[i]),
        "unobserved_ha": {ye[e]: _n(ind.unobserved_ha[e][i]) for e in ind.epochs},
        "unobserved_fraction": {ye[e]: _n(ind.coverage[e]["unobserved_fraction"][i]) for e in ind.epochs},
        "forest_area_ha": {ye[e]: _n(ind.coverage[e]["forest_area_ha"][i]) for e in ind.epochs},
        "forest_coverage_pct": {ye[e]: _n(ind.coverage[e]["forest_coverage_pct"][i]) for e in ind.epochs},
        "forest_coverage_pct_max": {ye[e]: _n(ind.coverage[e]["forest_coverage_pct_max"][i]) for e in ind.epochs},
        "coverage_flagged": {ye[e]: bool(ind.coverage[e]["coverage_flagged"][i]) for e in ind.epochs},
        "class_area_ha": {ye[e]: {nm: _n(ind.class_area_ha[e][nm][i]) for nm in _classes(ind)} for e in ind.epochs},
        "stock_mg_c": {},
        "volume_m3": {ye[e]: _n(ind.volume_m3[e][i]) for e in ind.epochs},
        "sink_mg_c_per_yr": {},
    }
    if ind.special_shrub_ha is not None:
        out["special_shrub_ha"] = {ye[e]: _n(ind.special_shrub_ha[e][i]) for e in ind.epochs}
    for e in ind.epochs:
        lo = hi = None
        if ind.stock_interval is not None:
            lo, hi = _n(ind.stock_interval[e][0][i]), _n(ind.stock_interval[e][1][i])
        out["stock_mg_c"][ye[e]] = {"value": _n(ind.stock_mg_c[e]["total"][i]), "low": lo, "high": hi,
                                    "pools": {p: _n(ind.stock_mg_c[e][p][i]) for p in POOL_NAMES if p != "total"}}
    for e1, e2, key, span in ind.periods:
        s = ind.sink[key]
        out["sink_mg_c_per_yr"][f"{ye[e1]}-{ye[e2]}"] = {
            "value": _n(s["value"][i]), "low": _n(s["low"][i]), "high": _n(s["high"][i]), "method": s["method"][i],
            "years": span, "stock_difference_mg_c_per_yr": _n(s["stock_difference"][i]),
            "gain_mg_c_per_yr": _n(s["gain"][i]), "sink_tco2e_per_yr": _n(s["tco2e"][i]),
            "eco_land_lost_ha": _n(s["lost"][i])}
    return out


def to_json(ind: Indicators) -> dict[str, Any]:
    """The JSON document of ``sinks indicators`` (module docstring)."""
    zones = [_zone(ind, i, ind.ids[i]) for i in range(ind.n_zones)]
    doc: dict[str, Any] = {"years": [ind.years[e] for e in ind.epochs], "zones": zones}
    if ind.has_total:
        doc["total"] = _zone(ind, len(ind.ids) - 1, "total")
    doc["legend"] = ind.legend.to_dict()
    doc["definitions"] = {
        "forest_coverage_pct": DEFINITION,
        "coverage_flagged": f"unobserved share of the zone above {ind.max_unobserved:g}",
        "unobserved_ha": "nodata, codes outside the legend, and zone area beyond the rasters",
        "stock_mg_c": "Σ class area × density of the carbon table (shrubland at grassland densities); "
                      "low-high: Monte Carlo 95 % interval of the total",
        "volume_m3": ind.volume_source,
        "sink_mg_c_per_yr": "positive = removal from the atmosphere; method as reported by sinks.carbon.sink",
    }
    if ind.notes:
        doc["notes"] = list(ind.notes)
    return doc
