"""Indicators of zones from land-cover maps: one computation for the run and for ``sinks indicators``.

Per zone and epoch, from one exact categorical pass over all zones and epochs
(:func:`sinks.zonal.joint_class_areas`, partial pixels weighted by coverage): the area
of each class (:data:`sinks.legends.INDICATOR_CLASSES`), the unobserved area, the
official forest coverage rate (:func:`sinks.coverage.coverage_rate`), carbon stock per
pool (:func:`sinks.carbon.stock_totals`, with a Monte Carlo interval of the total) and
stock volume (a zonal sum of a volume raster when one is given, else arbor-forest
area × growing stock per ha).  Per period between consecutive epochs, from the
zone's transition matrix: the sink through the public :func:`sinks.carbon.sink.sink`
(its interval and method label when it gives them, else a Monte Carlo interval from
:func:`sinks.uncertainty.monte_carlo`), and the ecological land lost to built-up
land, cropland or bare land.  Positive sink = removal from the atmosphere.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..carbon.constants import CO2_PER_C
from ..carbon.volume import GROWING_STOCK_M3_PER_HA
from ..coverage import MAX_UNOBSERVED, coverage_rate
from ..errors import ConfigError, GridMismatchError
from ..legends import INDICATOR_CLASSES, SHRUBLAND, IndicatorLegend, carbon_code, resolve_legend

__all__ = ["Indicators", "compute_indicators", "POOL_NAMES", "TOTAL_ID"]

log = logging.getLogger("sinks")

#: Pool suffixes of the stock figures.
POOL_NAMES: tuple[str, ...] = ("above", "below", "dead", "soil", "total")
#: Id of the whole-input row (``total=True``).
TOTAL_ID = "__total__"
_ECOLOGICAL = ("forest", "grassland", "wetland", "mangrove", "water", SHRUBLAND)
_LOST_TO = ("built_up", "cropland", "bare")


@dataclass
class Indicators:
    """Indicators of ``n`` zones (plus the whole input as the last row when ``has_total``).

    Arrays have one value per row; mappings are keyed by epoch name or period key
    (``"<e1>_<e2>"``).
    """

    ids: list[Any]
    epochs: list[str]
    years: dict[str, int]
    periods: list[tuple[str, str, str, float]]
    legend: IndicatorLegend
    zone_area_ha: np.ndarray
    class_area_ha: dict[str, dict[str, np.ndarray]]
    unobserved_ha: dict[str, np.ndarray]
    coverage: dict[str, dict[str, np.ndarray]]
    special_shrub_ha: dict[str, np.ndarray] | None
    stock_mg_c: dict[str, dict[str, np.ndarray]]
    stock_interval: dict[str, tuple[np.ndarray, np.ndarray]] | None
    volume_m3: dict[str, np.ndarray]
    volume_source: dict[str, str]
    sink: dict[str, dict[str, Any]]
    has_total: bool = False
    max_unobserved: float = MAX_UNOBSERVED
    notes: list[str] = field(default_factory=list)
    outside_codes: list[int] = field(default_factory=list)

    @property
    def n_zones(self) -> int:
        return len(self.ids) - (1 if self.has_total else 0)


def _check_grids(rasters: Mapping[str, str | os.PathLike]) -> Any:
    from ..tiles import inspect_tile

    grid, first = None, None
    for name, path in rasters.items():
        info = inspect_tile(path)
        if np.dtype(info.dtype).kind not in "iu":
            from ..errors import TileReadError

            raise TileReadError(f"{info.path}: a land-cover map must hold integer codes, found {info.dtype}")
        if grid is None:
            grid, first = info.grid, info.path
        elif not info.grid.same_as(grid):
            raise GridMismatchError(f"{info.path}: land cover {name!r} is not on the grid of {first}")
    return grid


def periods_of(years: Mapping[str, int], epochs: Sequence[str]) -> list[tuple[str, str, str, float]]:
    """Consecutive epoch pairs in year order: ``(e1, e2, "<e1>_<e2>", years between)``."""
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


def _accepts(fn: Callable, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments ``fn`` takes (all of them if it takes ``**kwargs``)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return dict(kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in params}


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _pair(v: Any) -> tuple[float, float] | None:
    """``(low, high)`` from a 2-sequence, a mapping or an object with ``low``/``high``."""
    if v is None:
        return None
    lo, hi = (_get(v, "low"), _get(v, "high")) if not isinstance(v, (list, tuple)) else (v[0], v[1]) \
        if len(v) == 2 else (None, None)
    try:
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        return None
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None


def sink_interval(res: Any) -> tuple[float, float] | None:
    """The 95 % interval a sink result carries, if any (several spellings are read)."""
    for name in ("sink_mg_c_per_yr_ci95", "sink_mg_c_per_yr_interval", "interval_mg_c_per_yr", "interval"):
        got = _pair(_get(res, name))
        if got is not None:
            return got
    lo, hi = _get(res, "sink_mg_c_per_yr_low"), _get(res, "sink_mg_c_per_yr_high")
    return _pair((lo, hi)) if lo is not None and hi is not None else None


def sink_method(res: Any) -> str:
    """A short label of the method behind a sink result (``gain-loss``, ``stock-difference`` …)."""
    text = str(_get(res, "method") or "").strip()
    if text and " " not in text and len(text) <= 40:   # already a label: "gain-loss", "stock-difference"
        return text
    for name in ("method_id", "method_key", "method_label"):
        v = _get(res, name)
        if isinstance(v, str) and v.strip() and " " not in v.strip():
            return v.strip()
    low = text.lower()
    if text and " " not in text and len(text) <= 40:
        return text
    if "gain" in low and "loss" in low:
        return "gain-loss"
    if "stock difference" in low or "stock-difference" in low:
        return "stock-difference+growth" if "gain" in low or "growth" in low else "stock-difference"
    return text or "unknown"


def _sink_of(tm: Any, table: Any, span: float, options: Mapping[str, Any], unc: Mapping[str, Any] | None,
             missing: str) -> dict[str, Any]:
    """Sink of one transition matrix through the public ``sinks.carbon.sink.sink``."""
    from ..carbon.sink import sink

    mc = {k: unc[k] for k in ("draws", "seed", "level") if unc and k in unc} if float(getattr(tm, "total_ha", 0.0)) > 0 \
        else {}
    res = sink(tm, table, **_accepts(sink, {"years": span, "missing": missing, **mc, **options}))
    value = float(_get(res, "sink_mg_c_per_yr"))
    sd = _get(res, "stock_difference_mg_c_per_yr")
    if sd is not None and not isinstance(sd, (int, float)):
        sd = _get(sd, "total")
    out = {"value": value, "low": math.nan, "high": math.nan, "method": sink_method(res),
           "stock_difference": float(sd) if sd is not None else math.nan,
           "gain": float(_get(res, "gain_mg_c_per_yr") or 0.0)}
    got = sink_interval(res)
    if got is None and unc and float(getattr(tm, "total_ha", 0.0)) > 0:
        got = _mc_sink(tm, table, span, options, unc, missing)
    if got is not None:
        out["low"], out["high"] = got
    return out


def _mc_sink(tm: Any, table: Any, span: float, options: Mapping[str, Any], unc: Mapping[str, Any],
             missing: str) -> tuple[float, float] | None:
    from ..uncertainty import monte_carlo

    kw = {"transitions": tm, "years": span, "missing": missing, **options, **dict(unc)}
    mc = monte_carlo(table, **_accepts(monte_carlo, kw))
    return _pair(_get(mc, "sink_mg_c_per_yr"))


def _mc_stock(areas: Mapping[int, float], table: Any, unc: Mapping[str, Any], missing: str
              ) -> tuple[float, float] | None:
    from ..uncertainty import monte_carlo

    mc = monte_carlo(table, **_accepts(monte_carlo, {"areas_ha": areas, "missing": missing, **dict(unc)}))
    stocks = _get(mc, "stock_mg_c")
    return _pair(_get(stocks, "total")) if stocks is not None else None


def _special_geometry(special: Any, field_name: str | None, gdf: Any, crs: Any, id_field: str) -> Any:
    """The union of the designated special-shrubland polygons (``None`` when not used)."""
    import shapely

    parts = []
    if special is not None:
        from ..vectors import read_vector

        sp = read_vector(special, target_crs=crs, what="special_shrub")
        parts.append(shapely.union_all(sp.geometry.to_numpy()))
    if field_name:
        if field_name not in gdf.columns:
            from ..errors import VectorError

            raise VectorError(f"zones: no field {field_name!r} (special shrubland flag); "
                              f"fields: {', '.join(c for c in gdf.columns if c != 'geometry')}")
        flags = gdf[field_name].map(_truthy).to_numpy(dtype=bool)
        parts.append(shapely.union_all(gdf.geometry.to_numpy()[flags]))
    return shapely.union_all(parts) if parts else None


def _truthy(v: Any) -> bool:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return False
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "y", "t")
    return bool(v)


def _zone_stocks(joint: Any, order: list[str], at: dict[str, int], kdig: list[int], ccode: list[int],
                 to_c: np.ndarray, *, table: Any, missing: str, uncertainty: Mapping[str, Any] | None,
                 landcover: Mapping[str, Any], id_field: str, rows: list[str]
                 ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, tuple[np.ndarray, np.ndarray]] | None]:
    """Carbon stock per pool of every zone and epoch, from its class areas (indicator classes
    mapped onto the carbon table's codes by ``to_c``), and its Monte Carlo interval when asked."""
    from ..carbon import stock_totals

    n = joint.area_ha.shape[0]
    stocks: dict[str, dict[str, np.ndarray]] = {}
    interval: dict[str, tuple[np.ndarray, np.ndarray]] | None = {} if uncertainty else None
    for e in order:
        ca = joint.area_ha[:, at[e]][:, kdig] @ to_c
        pool = {p: np.zeros(n) for p in POOL_NAMES}
        lo, hi = np.full(n, np.nan), np.full(n, np.nan)
        for i in range(n):
            areas = {c: float(v) for c, v in zip(ccode, ca[i]) if v > 0}
            tot = stock_totals(areas, table, missing=missing, label=f"{landcover[e]} ({id_field}={rows[i]})")
            for p in POOL_NAMES:
                pool[p][i] = tot.stock_mg_c[p]
            if uncertainty and areas:
                got = _mc_stock(areas, table, uncertainty, missing)
                if got is not None:
                    lo[i], hi[i] = got
            elif uncertainty:
                lo[i] = hi[i] = 0.0
        stocks[e] = pool
        if interval is not None:
            interval[e] = (lo, hi)
    return stocks, interval


def _zone_volumes(calc: Any, order: list[str], class_area: dict[str, dict[str, np.ndarray]], *,
                  volume_rasters: Mapping[str, str | os.PathLike] | None, volume_m3_per_ha: float
                  ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Stock volume (m³) of every zone and epoch: the epoch's volume raster summed over the zone,
    else its forest area × the growing stock per ha; and where each came from."""
    from ..carbon import stock_volume
    from ..zonal import _ZONE, zonal_total

    volume: dict[str, np.ndarray] = {}
    vsource: dict[str, str] = {}
    for e in order:
        path = (volume_rasters or {}).get(e)
        if path:
            volume[e] = zonal_total(path, calc, id_field=_ZONE, per_ha=True)
            vsource[e] = f"zonal sum of the volume raster {path} (m3/ha)"
        else:
            volume[e] = np.array([stock_volume(float(v), m3_per_ha=volume_m3_per_ha).volume_m3
                                  for v in class_area[e]["forest"]])
            vsource[e] = f"forest (arbor) area x {volume_m3_per_ha:g} m3/ha"
    return volume, vsource


def compute_indicators(zones: Any, *, id_field: str, landcover: Mapping[str, str | os.PathLike],
                       years: Mapping[str, int], table: Any, legend: Any = "sinks", special_shrub: Any = None,
                       special_shrub_field: str | None = None, max_unobserved: float = MAX_UNOBSERVED,
                       volume_m3_per_ha: float = GROWING_STOCK_M3_PER_HA, volume_rasters: Mapping[str, str | os.PathLike] | None = None,
                       sink_options: Mapping[str, Any] | None = None, uncertainty: Mapping[str, Any] | None = None,
                       transitions: bool = True, missing: str = "error", outside: str = "unobserved",
                       total: bool = False, layer: str | None = None, tallies: Any = None) -> Indicators:
    """Indicators of every zone (module docstring).

    Parameters
    ----------
    zones : path or GeoDataFrame
        Polygons with a unique ``id_field`` (any CRS; may overlap, may reach beyond
        the rasters: that part is unobserved).
    id_field : str
    landcover : mapping
        Epoch name → land-cover raster, all on one grid, in ``legend``'s codes.
    years : mapping
        Epoch name → year.
    table : CarbonTable
        Densities (Mg C/ha) per sinks class (shrubland uses grassland's).
    legend : str, path, mapping or IndicatorLegend
        :func:`sinks.legends.resolve_legend` (``sinks``, ``clcd``, ``worldcover``, a file).
    special_shrub : path or GeoDataFrame, optional
        Zones designated for special shrubland: shrubland inside them counts as forest.
    special_shrub_field : str, optional
        Boolean field of ``zones``: all shrubland of a flagged zone counts as forest.
    max_unobserved : float
        Unobserved share of a zone above which its coverage rate is flagged.
    volume_m3_per_ha : float
        Growing stock of arbor forest (the ``forest`` class) when no volume raster.
    volume_rasters : mapping, optional
        Epoch → raster of stock volume in m³/ha (any grid): volume = its zonal sum.
    sink_options : mapping, optional
        Extra keyword arguments of :func:`sinks.carbon.sink.sink` (those it takes).
    uncertainty : mapping, optional
        Keyword arguments of :func:`sinks.uncertainty.monte_carlo` (``draws``, ``seed``
        …): intervals of the stock totals and, when the sink gives none, of the sink.
    transitions : bool
        Sink from each zone's transition matrix (default); ``False``: the difference of
        the two epochs' stocks per year, method ``stock-difference``, no interval.
    missing : {"error", "zero"}
        Classes absent from ``table``: raise, or count at zero density.
    outside : {"unobserved", "error"}
        Codes the legend does not list: unobserved area, or an error.
    total : bool
        Add the whole input (the rasters' extent) as a last row.
    layer : str, optional
        Layer of the zones file.
    tallies : TileTally, optional
        Tile counts of the land cover from the pass that computed it
        (:func:`sinks.zonal.joint_class_areas`).

    Returns
    -------
    Indicators
    """
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import box

    from ..carbon.sink import TransitionMatrix
    from ..zonal import _ZONE, joint_class_areas, read_zones

    if missing not in ("error", "zero"):
        raise ConfigError(f"missing must be 'error' or 'zero', got {missing!r}")
    if not landcover:
        raise ConfigError("landcover: at least one epoch is needed")
    leg = resolve_legend(legend)
    grid = _check_grids(landcover)
    periods = periods_of(years, list(landcover))
    order = sorted(landcover, key=lambda e: years[e])
    gdf = read_zones(zones, id_field=id_field, crs=grid.crs, layer=layer)
    ids = gdf[id_field].tolist()
    calc = gdf[[_ZONE, "geometry"]]
    if total:
        t = grid.transform
        xs, ys = sorted((t.c, t.c + t.a * grid.width)), sorted((t.f, t.f + t.e * grid.height))
        ext = box(xs[0], ys[0], xs[1], ys[1])
        calc = gpd.GeoDataFrame(pd.concat([calc, gpd.GeoDataFrame({_ZONE: [len(calc)]}, geometry=[ext], crs=calc.crs)],
                                          ignore_index=True), geometry="geometry", crs=calc.crs)
        ids.append(TOTAL_ID)
    n = len(calc)
    log.info("indicators of %d zone(s), %d epoch(s), one exact pass", n, len(order))
    digits = leg.digits
    top = max(INDICATOR_CLASSES)
    joint = joint_class_areas([landcover[e] for e in order], calc, id_field=id_field, legend=digits, max_digit=top,
                              tallies=tallies)
    notes: list[str] = []
    if joint.outside:
        listed = ", ".join(map(str, joint.outside[:20]))
        if outside == "error":
            raise ConfigError(f"{', '.join(str(landcover[e]) for e in order)}: codes outside the {leg.name} "
                              f"legend: {listed}")
        notes.append(f"codes outside the {leg.name} legend count as unobserved area: {listed}")
    at = {e: k for k, e in enumerate(order)}
    names = list(INDICATOR_CLASSES.values())
    kdig = list(INDICATOR_CLASSES)
    zone_area = joint.zone_area_ha

    special = None
    if special_shrub is not None or special_shrub_field:
        if not leg.has_shrubland:
            notes.append(f"special shrubland asked for, but the {leg.name} legend has no shrub class: it counts nothing")
        else:
            shape = _special_geometry(special_shrub, special_shrub_field, gdf, grid.crs, id_field)
            inter = calc.geometry.intersection(shape) if shape is not None else calc.geometry.iloc[:0]
            special = {e: np.zeros(n) for e in order}
            hit = np.flatnonzero(~inter.is_empty.to_numpy()) if len(inter) else np.zeros(0, int)
            if len(hit):
                sub = gpd.GeoDataFrame({_ZONE: np.arange(len(hit))}, geometry=inter.to_numpy()[hit], crs=calc.crs)
                sj = joint_class_areas([landcover[e] for e in order], sub, id_field=id_field, legend=digits,
                                       max_digit=top, tallies=tallies)
                s_dig = max(INDICATOR_CLASSES)
                for e in order:
                    special[e][hit] = sj.area_ha[:, at[e], s_dig]

    class_area: dict[str, dict[str, np.ndarray]] = {}
    unobserved: dict[str, np.ndarray] = {}
    cov: dict[str, dict[str, np.ndarray]] = {}
    for e in order:
        a = joint.area_ha[:, at[e]]
        class_area[e] = {nm: a[:, d].copy() for nm, d in zip(names, kdig)}
        observed = a[:, kdig].sum(axis=1)
        unobserved[e] = np.clip(zone_area - observed, 0.0, None)
        unobserved[e][unobserved[e] < 1e-9 * np.maximum(zone_area, 1.0)] = 0.0
        cov[e] = coverage_rate(forest_ha=class_area[e]["forest"], mangrove_ha=class_area[e]["mangrove"],
                               zone_area_ha=zone_area, unobserved_ha=unobserved[e],
                               special_shrub_ha=0.0 if special is None else special[e], max_unobserved=max_unobserved)

    # carbon: indicator classes onto the sinks codes of the carbon table (shrubland → grassland)
    ccode = sorted({carbon_code(d) for d in kdig})
    to_c = np.zeros((len(kdig), len(ccode)))
    for i, d in enumerate(kdig):
        to_c[i, ccode.index(carbon_code(d))] = 1.0
    rows = [str(i) for i in ids]
    stocks, interval = _zone_stocks(joint, order, at, kdig, ccode, to_c, table=table, missing=missing,
                                    uncertainty=uncertainty, landcover=landcover, id_field=id_field,
                                    rows=rows)
    volume, vsource = _zone_volumes(calc, order, class_area, volume_rasters=volume_rasters,
                                    volume_m3_per_ha=volume_m3_per_ha)

    sinks = _periods(joint, periods, at, n, kdig, ccode, to_c, table, sink_options or {}, uncertainty, missing,
                     transitions, stocks, TransitionMatrix)
    return Indicators(ids=ids, epochs=order, years={e: int(years[e]) for e in order}, periods=periods, legend=leg,
                      zone_area_ha=zone_area, class_area_ha=class_area, unobserved_ha=unobserved, coverage=cov,
                      special_shrub_ha=special, stock_mg_c=stocks, stock_interval=interval, volume_m3=volume,
                      volume_source=vsource, sink=sinks, has_total=total, max_unobserved=max_unobserved,
                      notes=notes, outside_codes=list(joint.outside))


def _periods(joint: Any, periods: list[tuple[str, str, str, float]], at: Mapping[str, int], n: int, kdig: list[int],
             ccode: list[int], to_c: np.ndarray, table: Any, options: Mapping[str, Any],
             unc: Mapping[str, Any] | None, missing: str, transitions: bool, stocks: Mapping[str, Any],
             tm_cls: Any) -> dict[str, dict[str, Any]]:
    """Sink, its interval and method, stock difference, gain and ecological land lost per period and zone."""
    names = [INDICATOR_CLASSES[d] for d in kdig]
    eco = np.array([nm in _ECOLOGICAL for nm in names])
    lost = np.array([nm in _LOST_TO for nm in names])
    lost_mask = np.outer(eco, lost)
    out: dict[str, dict[str, Any]] = {}
    for e1, e2, key, span in periods:
        res = {k: np.full(n, np.nan) for k in ("value", "low", "high", "stock_difference", "gain", "lost")}
        methods = ["stock-difference"] * n
        if not transitions:
            sd = (stocks[e2]["total"] - stocks[e1]["total"]) / span
            res["value"], res["stock_difference"] = sd, sd.copy()
        else:
            mats = joint.transition_ha[:, at[e1]][:, kdig][:, :, kdig]   # (zones, classes, classes)
            for i in range(n):
                m = mats[i]
                res["lost"][i] = math.fsum(m[lost_mask].tolist())
                mc = to_c.T @ m @ to_c
                use = np.flatnonzero((mc.sum(axis=0) + mc.sum(axis=1)) > 0)  # a table need not list absent classes
                mc = mc[np.ix_(use, use)]
                tm = tm_cls(tuple(ccode[j] for j in use), mc, np.zeros(mc.shape, dtype=np.int64))
                s = _sink_of(tm, table, span, options, unc, missing)
                methods[i] = s["method"]
                for k in ("value", "low", "high", "stock_difference", "gain"):
                    res[k][i] = s[k]
        out[key] = {**res, "method": methods, "tco2e": res["value"] * CO2_PER_C, "years": span,
                    "from": e1, "to": e2}
    return out
