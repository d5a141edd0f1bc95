"""Carbon stages: density and stock layers per epoch, then totals, volume, sink, valuation, intervals.

Totals are not sums of the written float32 maps: they are Σ class area × density
in float64 (:func:`sinks.carbon.stock_totals`), from the class areas counted on the
written land cover, as InVEST's carbon model totals its maps.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from ..carbon.constants import CO2_PER_C
from ..landcover import NAMES
from .context import CarbonResults, EpochData, RunContext
from .landcover import aoi_zone, landcover_path

__all__ = ["carbon_table", "forest_growth_of", "volume_rasters", "stage_carbon_layers", "stage_carbon", "periods"]

log = logging.getLogger("sinks")


def carbon_table(ctx: RunContext) -> Any:
    """The run's coefficient table (a :class:`~sinks.carbon.CarbonTable`, loaded once)."""
    if ctx.coefficients.table is None:
        from ..carbon import load_table

        cs = ctx.spec.carbon
        ctx.coefficients.table = load_table(cs.table, soil_depth=cs.soil_depth, lucode_map=cs.lucode_map,
                                            climate_zone=cs.climate_zone, soil_type=cs.soil_type)
    return ctx.coefficients.table


def forest_growth_of(ctx: RunContext) -> Any:
    """The run's gain–loss coefficients (:func:`sinks.carbon.growth.forest_growth`, loaded once)."""
    if ctx.coefficients.growth is None:
        from ..carbon.growth import forest_growth

        cs = ctx.spec.carbon
        ctx.coefficients.growth = forest_growth(cs.growth_row, forest_type=cs.forest_type,
                                                net_mg_c_per_ha_yr=cs.growth_mg_c_per_ha_yr,
                                                young_mg_c_per_ha_yr=cs.young_growth_mg_c_per_ha_yr)
    return ctx.coefficients.growth


def volume_rasters(ctx: RunContext) -> dict[str, str]:
    """Epoch → stock-volume raster (m³/ha) of ``carbon.volume_raster``: a mapping as given, or one
    raster for the latest epoch."""
    vr = ctx.spec.carbon.volume_raster
    if not vr:
        return {}
    if isinstance(vr, dict):
        return {str(k): str(v) for k, v in vr.items()}
    return {ctx.epochs[-1].name: str(vr)}


def periods(ctx: RunContext) -> list[tuple[EpochData, EpochData, str, int]]:
    """Consecutive epoch pairs ``(epoch1, epoch2, "<e1>_<e2>", years)``."""
    eps = ctx.epochs
    return [(a, b, f"{a.name}_{b.name}", b.spec.year - a.spec.year) for a, b in zip(eps, eps[1:])]


def stage_carbon_layers(ctx: RunContext, ep: EpochData) -> None:
    """Lazy carbon layers of the epoch (``carbon.layers``).

    By default only the total density (Mg C/ha); ``stock_total`` adds the stock per
    pixel (Mg C, InVEST's ``c_storage``), ``density_pools`` / ``stock_pools`` the same
    for each pool.  Every one is a lookup of the land cover, so they are written only
    when asked for.
    """
    from ..carbon import POOLS, stock_layers

    cs = ctx.spec.carbon
    lc = ep.layers.get("landcover")
    if lc is None or not cs.write_rasters:
        return
    table = carbon_table(ctx)
    fill = "zero" if cs.missing == "zero" else "nan"
    want = set(cs.layers)
    ep.outputs.extend(stock_layers(lc, ctx.grid, table, out_dir=ctx.out / "carbon" / ep.name, nodata=0,
                                   missing=fill, pools=POOLS if "density_pools" in want else (),
                                   stock_pools="stock_pools" in want,
                                   totals=tuple(t for t in ("density", "stock") if f"{t}_total" in want)))


def _area_se(ctx: RunContext, epoch: str) -> dict[str, float] | None:
    """Standard errors (ha) of the Olofsson-adjusted class areas, if a reference exists."""
    res = _accuracy(ctx).get(epoch)
    if res is None:
        return None
    return {c: float(se) for c, se in zip(res.classes, res.area_se_ha) if math.isfinite(float(se))}


def stage_carbon(ctx: RunContext) -> None:
    """Stock per pool and volume per epoch; transitions, sink and valuation per period; intervals."""
    from ..carbon import check_codes, stock_totals
    from ..carbon.volume import stock_volume, volume_to_carbon
    from ..uncertainty import monte_carlo

    cs = ctx.spec.carbon
    table = carbon_table(ctx)
    areas = ctx.needs(ctx.landcover, stage="landcover", by="carbon").class_areas
    vrasters = volume_rasters(ctx)
    unc = cs.uncertainty
    out: dict[str, Any] = {"table": table.name, "soil_depth": cs.soil_depth, "climate_zone": table.climate_zone,
                           "soil_type": cs.soil_type if table.climate_zone else None,
                           "sink_method": cs.sink_method, "epochs": {}, "transitions": {},
                           "sink": {}, "units": {"stock": "Mg C", "area": "ha", "volume": "m3",
                                                 "sink": "Mg C/yr (positive = removal)",
                                                 "emissions": "t CO2e/yr (negative = removal)"}}
    for ep in ctx.epochs:
        a = areas[ep.name]
        if cs.missing == "error":
            check_codes(a, table, label=str(landcover_path(ctx, ep.name)))
        tot = stock_totals(a, table, missing="zero")
        vol = stock_volume(a, m3_per_ha=cs.volume_m3_per_ha)
        vol_m3, vol_source = vol.volume_m3, vol.source
        if ep.name in vrasters:  # the configured volume raster, summed over the run's zone
            vol_m3, vol_source = _raster_volume(ctx, vrasters[ep.name])
        entry: dict[str, Any] = {**tot.to_dict(detail=True), "volume_m3": vol_m3,
                                 "forest_area_ha": vol.forest_area_ha, "volume_source": vol_source,
                                 "volume_biomass_carbon_mg_c": volume_to_carbon(
                                     vol_m3, method=cs.volume_to_carbon, area_ha=vol.forest_area_ha,
                                     forest_type=cs.forest_type, carbon_per_m3=cs.carbon_per_m3)}
        if unc is not None:
            mc = monte_carlo(table, areas_ha=a, area_se_ha=_area_se(ctx, ep.name), draws=unc.draws, seed=unc.seed,
                             distribution=unc.distribution, pool_correlation=unc.pool_correlation, missing="zero")
            entry["stock_mg_c_ci95"] = {k: [v.low, v.high] for k, v in (mc.stock_mg_c or {}).items()}
        out["epochs"][ep.name] = entry

    pers = periods(ctx)
    transitions: dict[str, Any] = {}
    if pers:
        mats = [e2.results["transitions"] for _e1, e2, _key, _years in pers]  # counted in e2's write pass
        gr = forest_growth_of(ctx)
        out["growth"] = gr.to_dict()
        for (e1, e2, key, years), tm in zip(pers, mats):
            transitions[key] = tm
            out["transitions"][key] = {"matrix_ha": _named_matrix(tm), "nodata_ha": tm.nodata_ha}
            out["sink"][key] = _period_sink(ctx, tm, table, gr, e1.name, e2.name, years)
        _sink_growth(out["sink"])
    out["coefficients"] = _coefficients(table, areas, out.get("growth"), out["sink"])
    if cs.valuation is not None:
        out["valuation"] = _valuation(ctx, out)
    ctx.carbon = CarbonResults(transitions)
    ctx.summary["carbon"] = out


def _accuracy(ctx: RunContext) -> dict[str, Any]:
    """Epoch → accuracy result whose areas are the map's (empty without a reference sample)."""
    return ctx.accuracy.by_epoch if ctx.accuracy is not None else {}


def _raster_volume(ctx: RunContext, path: str) -> tuple[float, str]:
    """Stock volume (m³) of a volume raster (m³/ha) over the run's zone (the grid without one)."""
    import geopandas as gpd
    from shapely.geometry import box

    from ..zonal import zonal_total

    zone, what = aoi_zone(ctx)
    if zone is None:
        t, g = ctx.grid.transform, ctx.grid
        xs, ys = sorted((t.c, t.c + t.a * g.width)), sorted((t.f, t.f + t.e * g.height))
        zone = gpd.GeoDataFrame({"zone": ["grid"]}, geometry=[box(xs[0], ys[0], xs[1], ys[1])], crs=g.crs)
    total = float(zonal_total(path, zone, id_field="zone", per_ha=True)[0])
    return total, f"zonal sum of the volume raster {path} (m3/ha) over the {what}"


def _period_sink(ctx: RunContext, tm: Any, table: Any, gr: Any, e1: str, e2: str, years: int) -> dict[str, Any]:
    """Sink of one period (both methods), centred on error-adjusted areas when both epochs have them."""
    import numpy as np

    from ..carbon.sink import TransitionMatrix
    from ..carbon.sink import sink as sink_of
    from ..uncertainty import adjusted_transitions

    cs = ctx.spec.carbon
    unc = cs.uncertainty
    acc = _accuracy(ctx)
    kw: dict[str, Any] = dict(years=years, method=cs.sink_method, growth=gr,
                              soil_transition_years=cs.soil_transition_years, missing="zero")
    mapped = None
    area_notes: list[str] = []
    areas_basis = "mapped (no reference sample for both epochs)"
    area_draws = None
    use = tm
    if e1 in acc and e2 in acc:
        rng = np.random.default_rng(unc.seed if unc is not None else 0)
        try:
            central, area_draws, area_notes = adjusted_transitions(tm, acc[e1], acc[e2],
                                                                   draws=unc.draws if unc is not None else 0,
                                                                   rng=rng)
        except (AttributeError, ValueError, IndexError) as exc:  # an accuracy result without class areas
            log.warning("sink %s_%s: error-adjusted areas unavailable (%s); mapped areas used", e1, e2, exc)
        else:
            mapped = sink_of(tm, table, **kw)
            use = TransitionMatrix(tm.codes, central, tm.pixels, tm.other_ha, tm.nodata_ha)
            areas_basis = ("error-adjusted: the mapped transition matrix raked to the reference sample's class areas "
                           "of both epochs; the Monte Carlo draws those areas from their covariance")
    if unc is not None:
        s = sink_of(use, table, draws=unc.draws, seed=unc.seed, distribution=unc.distribution,
                    pool_correlation=unc.pool_correlation, transition_draws_ha=area_draws, **kw)
    else:
        s = sink_of(use, table, **kw)
    entry = s.model_dump()
    entry["years"] = years
    entry["areas"] = areas_basis
    if area_notes:  # e.g. raking that could not match the adjusted areas exactly
        entry["area_notes"] = area_notes
        for note in area_notes:
            log.info("sink %s_%s: %s", e1, e2, note)
    if mapped is not None:
        entry["mapped_areas_sink_mg_c_per_yr"] = {m: v["sink_mg_c_per_yr"] for m, v in mapped.methods.items()}
    entry["gain_rate_mg_c_per_ha_yr"] = s.persistent_forest.get("net_mg_c_per_ha_yr")
    if s.interval is not None:
        lo, hi = s.interval["low"], s.interval["high"]
        entry["sink_mg_c_per_yr_ci95"] = [lo, hi]
        entry["sink_tco2e_per_yr_ci95"] = [lo * CO2_PER_C, hi * CO2_PER_C]
        entry["uncertainty"] = {"draws": unc.draws, "seed": unc.seed, "distribution": unc.distribution,
                                "what": "normal or lognormal fitted to each stated interval of the carbon table and "
                                        "the growth coefficients (pools of one class correlated), and the transition "
                                        "areas when a reference sample exists",
                                "varied": s.interval["varied"], "without_range": s.without_range}
    return entry


def _coefficients(table: Any, areas: dict[str, Any], growth: dict[str, Any] | None,
                  sinks: dict[str, Any]) -> dict[str, Any]:
    """Every coefficient the run used, with its range, confidence level and source (for the report)."""
    from ..carbon import POOLS

    present = sorted({int(c) for a in areas.values() for c, v in zip(a.codes, a.area_ha) if v > 0 and int(c) in table})
    levels = table.level_array()
    dens = []
    without = []
    for code in present:
        i = table.index_of(code)
        for p, pool in enumerate(POOLS):
            lo, c, hi = float(table.low[i, p]), float(table.central[i, p]), float(table.high[i, p])
            dens.append({"class": NAMES.get(code, str(code)), "pool": pool, "central_mg_c_per_ha": c,
                         "low_mg_c_per_ha": lo, "high_mg_c_per_ha": hi, "level": float(levels[i, p]),
                         "source": table.sources[i][p]})
            if hi <= lo and c > 0:
                without.append(f"{NAMES.get(code, str(code))} {pool} density")
    for entry in sinks.values():
        without += [w for w in entry.get("without_range", []) if w not in without]
    return {"table": table.name, "climate_zone": table.climate_zone, "densities": dens,
            "growth": (growth or {}).get("coefficients", []), "without_range": without,
            "note": "ranges are central intervals at the stated level; inputs in without_range are fixed in the "
                    "Monte Carlo, so the intervals do not include their uncertainty"}


def _named_matrix(tm: Any) -> dict[str, dict[str, float]]:
    return {NAMES.get(c, str(c)): {NAMES.get(d, str(d)): float(tm.area_ha[i, j]) for j, d in enumerate(tm.codes)
                                   if tm.area_ha[i, j] > 0}
            for i, c in enumerate(tm.codes) if tm.area_ha[i].sum() > 0}


def _sink_growth(sinks: dict[str, dict[str, Any]]) -> None:
    """Growth of the sink from one period to the next (absolute and %)."""
    keys = list(sinks)
    for prev, cur in zip(keys, keys[1:]):
        a, b = sinks[prev]["sink_mg_c_per_yr"], sinks[cur]["sink_mg_c_per_yr"]
        sinks[cur]["growth_vs_previous_mg_c_per_yr"] = b - a
        # no relative growth when the sink changes sign (a removal becomes an emission or back)
        sinks[cur]["growth_vs_previous_pct"] = 100.0 * (b - a) / abs(a) if a and a * b > 0 else None


def _valuation(ctx: RunContext, carbon: dict[str, Any]) -> dict[str, Any]:
    """InVEST-style NPV of the stock change of each period."""
    from ..carbon.valuation import valuation

    v = ctx.spec.carbon.valuation
    assert v is not None
    res: dict[str, Any] = {}
    for e1, e2, key, years in periods(ctx):
        change = carbon["epochs"][e2.name]["stock_mg_c"]["total"] - carbon["epochs"][e1.name]["stock_mg_c"]["total"]
        res[key] = valuation(change, years=years, price=v.price, price_unit=v.unit, discount_rate=v.discount_rate,
                             price_change=v.price_change, currency=v.currency).to_dict()
    return res
