"""Carbon stages: density and stock layers per epoch, then totals, volume, sink, valuation, intervals.

Totals are not sums of the written float32 maps: they are Σ class area × density
in float64 (:func:`sinks.carbon.stock_totals`), from the class areas counted on the
written land cover, as InVEST's carbon model totals its maps.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import EpochData, RunContext

__all__ = ["carbon_table", "stage_carbon_layers", "stage_carbon", "periods"]

log = logging.getLogger("sinks")


def carbon_table(ctx: "RunContext") -> Any:
    """The run's coefficient table (loaded once)."""
    if "carbon_table" not in ctx.cache:
        from ..carbon import load_table

        cs = ctx.spec.carbon
        ctx.cache["carbon_table"] = load_table(cs.table, soil_depth=cs.soil_depth, lucode_map=cs.lucode_map)
    return ctx.cache["carbon_table"]


def periods(ctx: "RunContext") -> list[tuple[Any, Any, str, int]]:
    """Consecutive epoch pairs ``(epoch1, epoch2, "<e1>_<e2>", years)``."""
    eps = ctx.epochs
    return [(a, b, f"{a.name}_{b.name}", b.spec.year - a.spec.year) for a, b in zip(eps, eps[1:])]


def stage_carbon_layers(ctx: "RunContext", ep: "EpochData") -> None:
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


def _area_se(ctx: "RunContext", epoch: str) -> dict[str, float] | None:
    """Standard errors (ha) of the Olofsson-adjusted class areas, if a reference exists."""
    res = (ctx.cache.get("accuracy") or {}).get(epoch)
    if res is None:
        return None
    return {c: float(se) for c, se in zip(res.classes, res.area_se_ha) if math.isfinite(float(se))}


def stage_carbon(ctx: "RunContext") -> None:
    """Stock per pool and volume per epoch; transitions, sink and valuation per period; intervals."""
    from ..carbon import check_codes, stock_totals
    from ..carbon.sink import sink as sink_of
    from ..carbon.volume import stock_volume, volume_to_carbon
    from ..uncertainty import monte_carlo
    from .landcover import landcover_path

    from .areas import volume_rasters

    cs = ctx.spec.carbon
    table = carbon_table(ctx)
    areas = ctx.cache["class_areas"]
    vrasters = volume_rasters(ctx)
    unc = cs.uncertainty
    out: dict[str, Any] = {"table": table.name, "soil_depth": cs.soil_depth, "epochs": {}, "transitions": {},
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
                             distribution=unc.distribution, missing="zero")
            entry["stock_mg_c_ci95"] = {k: [v.low, v.high] for k, v in (mc.stock_mg_c or {}).items()}
        out["epochs"][ep.name] = entry

    pers = periods(ctx)
    if pers:
        mats = [e2.results["transitions"] for _e1, e2, _key, _years in pers]  # counted in e2's write pass
        growth = cs.growth_m3_per_ha_yr * cs.carbon_per_m3
        for (e1, e2, key, years), tm in zip(pers, mats):
            ctx.cache.setdefault("transitions", {})[key] = tm
            out["transitions"][key] = {"matrix_ha": _named_matrix(tm), "nodata_ha": tm.nodata_ha}
            s = sink_of(tm, table, years=years, soil_transition_years=cs.soil_transition_years,
                        growth_mg_c_per_ha_yr=growth, missing="zero")
            entry = s.model_dump()
            entry["years"] = years
            entry["gain_rate_mg_c_per_ha_yr"] = growth
            if unc is not None:
                mc = monte_carlo(table, transitions=tm, years=years, soil_transition_years=cs.soil_transition_years,
                                 growth_mg_c_per_ha_yr=growth, draws=unc.draws, seed=unc.seed,
                                 distribution=unc.distribution, missing="zero")
                if mc.sink_mg_c_per_yr is not None:
                    entry["sink_mg_c_per_yr_ci95"] = [mc.sink_mg_c_per_yr.low, mc.sink_mg_c_per_yr.high]
                    entry["sink_tco2e_per_yr_ci95"] = [mc.sink_mg_c_per_yr.low * 44 / 12,
                                                       mc.sink_mg_c_per_yr.high * 44 / 12]
                entry["uncertainty"] = {"draws": unc.draws, "seed": unc.seed, "distribution": unc.distribution,
                                        "what": "coefficient ranges of the carbon table (triangular/PERT/uniform "
                                                "between low, central and high)"}
            out["sink"][key] = entry
        _sink_growth(out["sink"])
    if cs.valuation is not None:
        out["valuation"] = _valuation(ctx, out)
    ctx.summary["carbon"] = out


def _raster_volume(ctx: "RunContext", path: str) -> tuple[float, str]:
    """Stock volume (m³) of a volume raster (m³/ha) over the run's zone (the grid without one)."""
    import geopandas as gpd
    from shapely.geometry import box

    from ..zonal import zonal_total
    from .landcover import aoi_zone

    zone, what = aoi_zone(ctx)
    if zone is None:
        t, g = ctx.grid.transform, ctx.grid
        xs, ys = sorted((t.c, t.c + t.a * g.width)), sorted((t.f, t.f + t.e * g.height))
        zone = gpd.GeoDataFrame({"zone": ["grid"]}, geometry=[box(xs[0], ys[0], xs[1], ys[1])], crs=g.crs)
    total = float(zonal_total(path, zone, id_field="zone", per_ha=True)[0])
    return total, f"zonal sum of the volume raster {path} (m3/ha) over the {what}"


def _named_matrix(tm: Any) -> dict[str, dict[str, float]]:
    from ..landcover import NAMES

    return {NAMES.get(c, str(c)): {NAMES.get(d, str(d)): float(tm.area_ha[i, j]) for j, d in enumerate(tm.codes)
                                   if tm.area_ha[i, j] > 0}
            for i, c in enumerate(tm.codes) if tm.area_ha[i].sum() > 0}


def _sink_growth(sinks: dict[str, dict[str, Any]]) -> None:
    """Growth of the sink from one period to the next (absolute and %)."""
    keys = list(sinks)
    for prev, cur in zip(keys, keys[1:]):
        a, b = sinks[prev]["sink_mg_c_per_yr"], sinks[cur]["sink_mg_c_per_yr"]
        sinks[cur]["growth_vs_previous_mg_c_per_yr"] = b - a
        sinks[cur]["growth_vs_previous_pct"] = 100.0 * (b - a) / abs(a) if a else None


def _valuation(ctx: "RunContext", carbon: dict[str, Any]) -> dict[str, Any]:
    """InVEST-style NPV of the stock change of each period."""
    from ..carbon import valuation

    v = ctx.spec.carbon.valuation
    assert v is not None
    res: dict[str, Any] = {}
    for e1, e2, key, years in periods(ctx):
        change = carbon["epochs"][e2.name]["stock_mg_c"]["total"] - carbon["epochs"][e1.name]["stock_mg_c"]["total"]
        res[key] = valuation(change, years=years, price=v.price, price_unit=v.unit, discount_rate=v.discount_rate,
                             price_change=v.price_change, currency=v.currency).to_dict()
    return res
