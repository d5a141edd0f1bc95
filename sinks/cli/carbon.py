"""``sinks carbon``: carbon stock of a land-cover map (and of an alternate map), InVEST-compatible."""

from __future__ import annotations

from typing import Any

import click

from .options import climate_zone_option, echo_json, max_pixels_option, out_option, overwrite_option


@click.command("carbon")
@max_pixels_option
@click.argument("lulc", type=click.Path(dir_okay=False))
@click.option("--pools", "pools", default="china", show_default=True,
              help="Carbon table: InVEST carbon-pool CSV (lucode,c_above,c_below,c_soil,c_dead; Mg C/ha), "
                   "a YAML table, or a named table: 'china', 'ipcc:gez=...,climate=...'.")
@click.option("--alt", "alt", type=click.Path(dir_okay=False), default=None,
              help="Alternate (e.g. future) land-cover map; reports its stock and the change.")
@click.option("--align", is_flag=True,
              help="Warp --alt onto the baseline grid (nearest neighbour) if the grids differ.")
@click.option("--missing", type=click.Choice(["error", "zero"]), default="error", show_default=True,
              help="Land-cover codes absent from the table: fail, or count them at zero density.")
@click.option("--soil-depth", type=click.Choice(["0-30", "0-100"]), default=None,
              help="Soil depth for the packaged tables (default 0-30 cm).")
@click.option("--lucode-map", type=click.Path(dir_okay=False), default=None,
              help="CSV lucode,class relating the table's lucodes to sinks legend classes.")
@climate_zone_option
@click.option("--json", "as_json", is_flag=True, help="Print the totals as JSON.")
@out_option("Output directory for the COGs and carbon_summary.json (nothing is written without it).", folder=True)
@overwrite_option
@click.option("--no-rasters", is_flag=True, help="With -o, write only carbon_summary.json.")
@click.option("--pool-layers/--no-pool-layers", default=False, show_default=True,
              help="Also write a density layer per pool (lookups of the land cover: off unless asked).")
@click.option("--years", nargs=2, type=int, default=None, metavar="BASE ALT",
              help="Years of the two maps (for valuation).")
@click.option("--price", type=float, default=None, help="Carbon price for valuation (per t C or t CO2e).")
@click.option("--currency", default="CNY", show_default=True,
              help="Currency of --price; the value is reported in it (a label: nothing is converted).")
@click.option("--price-unit", type=click.Choice(["t_c", "t_co2e"]), default="t_c", show_default=True)
@click.option("--discount-rate", type=float, default=0.0, show_default=True, help="Annual discount rate (fraction).")
@click.option("--price-change", type=float, default=0.0, show_default=True,
              help="Annual change of the carbon price (fraction).")
@click.option("--draws", type=int, default=0, show_default=True,
              help="Monte Carlo draws over the table's ranges (0: off); adds 95 % intervals.")
@click.option("--seed", type=int, default=20261122, show_default=True, help="Seed of the Monte Carlo draws.")
@click.option("--chunks", type=int, default=1024, show_default=True, help="Block size for large rasters.")
@click.option("--engine", type=click.Choice(["auto", "numpy", "dask"]), default="auto", hidden=True)
def cli(lulc: str, pools: str, alt: str | None, align: bool, missing: str, soil_depth: str | None,
        lucode_map: str | None, climate_zone: str | None, as_json: bool, out: str | None, overwrite: bool, no_rasters: bool,
        pool_layers: bool, years: tuple[int, int] | None, price: float | None, currency: str, price_unit: str,
        discount_rate: float, price_change: float, draws: int, seed: int, chunks: int, engine: str) -> None:
    """Carbon stock of land-cover map LULC (Mg C per pool) and, with --alt, of a second map and the change.

    Stock = Σ class area (ha) x density (Mg C/ha) over four pools (above, below, soil,
    dead), computed from per-class pixel counts in float64, as InVEST's carbon model
    does.  Nodata pixels (the file's nodata value) are not counted.  With -o DIR the
    maps are written as COGs: carbon_density_total.tif (Mg C/ha) and
    carbon_stock_total.tif (Mg C per pixel, InVEST's c_storage), with suffixes
    _baseline/_alternate and carbon_*_change_total.tif when --alt is given, and with
    --pool-layers carbon_density_<pool>.tif too; plus DIR/carbon_summary.json.
    """
    from ..carbon import assess

    res = assess(lulc, pools=pools, alt=alt, align=align, missing=missing, soil_depth=soil_depth,  # type: ignore[arg-type]
                 lucode_map=lucode_map, climate_zone=climate_zone, out=out, overwrite=overwrite,
                 rasters=not no_rasters, pool_layers=pool_layers, years=years, price=price, currency=currency,
                 price_unit=price_unit, discount_rate=discount_rate, price_change=price_change,  # type: ignore[arg-type]
                 draws=draws, seed=seed, chunks=chunks, in_memory=None if engine == "auto" else engine == "numpy",
                 align_hint="--align")
    if res.zero_width:
        click.echo(f"Warning: the carbon table ({res.table.name}) gives no low-high range for the classes of "
                   "this map, so the --draws intervals have zero width (they show no uncertainty)", err=True)
    if as_json:
        echo_json(res.to_dict())
        return
    _print_human(res)


def _print_human(res: Any) -> None:
    """The totals, intervals, value and files of a :class:`~sinks.carbon.CarbonAssessment`, one line each."""
    def line(label: str, path: str, r: dict) -> None:
        s = r["stock_mg_c"]
        click.echo(f"{label:<10} {s['total']:>18,.3f} Mg C  (above {s['above']:,.1f}, below {s['below']:,.1f}, "
                   f"soil {s['soil']:,.1f}, dead {s['dead']:,.1f})  on {r['area_ha']:,.2f} ha  [{path}]")

    result = res.to_dict()
    line("baseline", res.baseline.path, result["baseline"])
    if res.alternate is not None:
        line("alternate", res.alternate.path, result["alternate"])
        click.echo(f"{'change':<10} {result['change_mg_c']['total']:>18,.3f} Mg C")
    unc = res.uncertainty
    if unc:
        pct = f"{100 * unc['level']:.0f} %"
        for key, label in (("stock_mg_c", "baseline"), ("stock_mg_c_alternate", "alternate")):
            iv = (unc.get(key) or {}).get("total")
            if iv:
                click.echo(f"{label:<10} {pct} interval {iv['low']:,.1f} – {iv['high']:,.1f} Mg C "
                           f"({unc['draws']} draws)")
    if res.valuation is not None:
        v = res.valuation
        click.echo(f"{'value':<10} {v['npv']:>18,.2f} {v['currency']} (NPV over {v['years']} yr)")
    if res.summary_path is not None:
        click.echo(f"wrote {len(res.written)} rasters and carbon_summary.json to {res.summary_path.parent}")
