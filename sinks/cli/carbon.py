"""``sinks carbon``: carbon stock of a land-cover map (and of an alternate map), InVEST-compatible."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import click

from .options import climate_zone_option, echo_json, max_pixels_option, overwrite_option

log = logging.getLogger("sinks")

_IN_MEMORY_MAX_PX = 16 * 1024 * 1024


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
@click.option("-o", "--out", "out", type=click.Path(file_okay=False), default=None,
              help="Output directory for the COGs and carbon_summary.json (nothing is written without it).")
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
    from ..carbon import (
        change_layers,
        check_codes,
        class_areas_ha,
        effective_nodata,
        load_table,
        open_landcover,
        stock_layers,
        stock_totals,
    )
    from ..errors import ConfigError
    from ..outputs import atomic_write_json, ensure_writable

    t0 = time.perf_counter()
    if price is not None and not (alt and years):
        raise ConfigError("--price needs --alt and --years BASE ALT")
    if years is not None and years[1] <= years[0]:
        raise ConfigError(f"--years: the alternate year must be after the baseline year, got {years[0]} {years[1]}")
    if draws < 0:
        raise ConfigError(f"--draws must be >= 0, got {draws}")
    table = load_table(pools, soil_depth=soil_depth, lucode_map=lucode_map, climate_zone=climate_zone)
    in_memory = None if engine == "auto" else engine == "numpy"
    base = open_landcover(lulc, in_memory=in_memory, chunks=chunks)
    other = None
    if alt:
        other = open_landcover(alt, grid=base.grid, align=align, in_memory=in_memory, chunks=chunks,
                               reference=base.path, align_hint="--align")
    grid = base.grid
    nd_base = effective_nodata(base.nodata, table)
    nd_alt = effective_nodata(other.nodata, table) if other is not None else None

    out_dir = Path(out) if out else None
    summary_path = out_dir / "carbon_summary.json" if out_dir else None
    layers: list = []
    fill = "zero" if missing == "zero" else "nan"
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise ConfigError(f"{out_dir}: -o must be a directory")
        if not no_rasters:
            pools_sel = None if pool_layers else ()
            kw = {} if pools_sel is None else {"pools": pools_sel}
            if other is None:
                layers = stock_layers(base.data, grid, table, out_dir=out_dir, nodata=nd_base, missing=fill, **kw)
            else:
                layers = (stock_layers(base.data, grid, table, out_dir=out_dir, suffix="_baseline", nodata=nd_base,
                                       missing=fill, **kw)
                          + stock_layers(other.data, grid, table, out_dir=out_dir, suffix="_alternate",
                                         nodata=nd_alt, missing=fill, **kw)
                          + change_layers(base.data, other.data, grid, table, out_dir=out_dir,
                                          nodata=(nd_base, nd_alt), missing=fill))
        ensure_writable([*(lay.path for lay in layers), summary_path], overwrite=overwrite)

    # class areas (one pass per map; dask maps in a single compute)
    if _is_dask(base.data) or (other is not None and _is_dask(other.data)):
        import dask

        todo = [class_areas_ha(base.data, grid, nodata=nd_base, compute=False)]
        if other is not None:
            todo.append(class_areas_ha(other.data, grid, nodata=nd_alt, compute=False))
        areas = list(dask.compute(*todo))
    else:
        areas = [class_areas_ha(base.data, grid, nodata=nd_base)]
        if other is not None:
            areas.append(class_areas_ha(other.data, grid, nodata=nd_alt))
    if missing == "error":
        check_codes(areas[0], table, label=base.path)
        if other is not None:
            check_codes(areas[1], table, label=other.path)
    totals = [stock_totals(a, table, missing="zero") for a in areas]
    result: dict[str, Any] = {"baseline": totals[0].to_dict()}
    if other is not None:
        result["alternate"] = totals[1].to_dict()
        b, a = totals[0].stock_mg_c, totals[1].stock_mg_c
        result["change_mg_c"] = {k: a[k] - b[k] for k in ("total", "above", "below", "soil", "dead")}
    extra: dict[str, Any] = {}
    if price is not None and years is not None:
        from ..carbon import valuation

        extra["valuation"] = valuation(result["change_mg_c"]["total"], years=years[1] - years[0], price=price,
                                       price_unit=price_unit, discount_rate=discount_rate,
                                       price_change=price_change, currency=currency).to_dict()
    if draws:
        from ..uncertainty import monte_carlo

        mc = monte_carlo(table, areas_ha=areas[0], alternate_areas_ha=areas[1] if other is not None else None,
                         draws=draws, seed=seed, missing="zero")
        extra["uncertainty"] = mc.to_dict()
        if _zero_width(extra["uncertainty"]):
            click.echo(f"Warning: the carbon table ({table.name}) gives no low-high range for the classes of "
                       "this map, so the --draws intervals have zero width (they show no uncertainty)", err=True)

    written = []
    if out_dir is not None:
        if layers:
            from ..carbon._write import write_layers

            written = write_layers(layers, grid, overwrite=overwrite)
            from ..qgis import write_sidecars

            write_sidecars(layers)  # units for GDAL and QGIS (.aux.xml)
        summary = {
            **result, **extra,
            "inputs": {"baseline": base.path, "alternate": other.path if other is not None else None,
                       "alternate_warped": bool(other is not None and other.warped),
                       "nodata": {"baseline": nd_base, "alternate": nd_alt}},
            "carbon_table": table.to_dict(),
            "grid": grid.to_dict(),
            "class_areas": {"baseline": areas[0].to_dict(), **({"alternate": areas[1].to_dict()} if other else {})},
            "by_class_mg_c": {"baseline": totals[0].to_dict(detail=True)["by_class"],
                              **({"alternate": totals[1].to_dict(detail=True)["by_class"]} if other else {})},
            "missing_codes_pixels": {k: {str(c): n for c, n in t.missing_pixels.items()}
                                     for k, t in zip(("baseline", "alternate"), totals) if t.missing_pixels},
            "layers": [str(p.name) for p in written],
            "units": {"stock": "Mg C", "area": "ha", "density": "Mg C/ha"},
            "seconds": round(time.perf_counter() - t0, 3),
        }
        atomic_write_json(summary_path, summary, overwrite=overwrite)
    if as_json:
        echo_json({**result, **extra})
        return
    _print_human(result, extra, base.path, other.path if other is not None else None, out_dir, written)


def _zero_width(unc: dict[str, Any]) -> bool:
    """True when every interval of a Monte Carlo result is a single value."""
    ivs = [iv for k, v in unc.items() if k.startswith("stock_mg_c") and isinstance(v, dict) for iv in v.values()]
    ivs += [v for k, v in unc.items() if isinstance(v, dict) and "low" in v]
    return bool(ivs) and all(abs(iv["high"] - iv["low"]) <= 1e-9 * max(1.0, abs(iv["central"])) for iv in ivs)


def _is_dask(arr: Any) -> bool:
    return type(arr).__module__.startswith("dask")


def _print_human(result: dict, extra: dict, base: str, alt: str | None, out_dir: Path | None, written: list) -> None:
    def line(label: str, path: str, r: dict) -> None:
        s = r["stock_mg_c"]
        click.echo(f"{label:<10} {s['total']:>18,.3f} Mg C  (above {s['above']:,.1f}, below {s['below']:,.1f}, "
                   f"soil {s['soil']:,.1f}, dead {s['dead']:,.1f})  on {r['area_ha']:,.2f} ha  [{path}]")

    line("baseline", base, result["baseline"])
    if alt:
        line("alternate", alt, result["alternate"])
        click.echo(f"{'change':<10} {result['change_mg_c']['total']:>18,.3f} Mg C")
    unc = extra.get("uncertainty")
    if unc:
        pct = f"{100 * unc['level']:.0f} %"
        for key, label in (("stock_mg_c", "baseline"), ("stock_mg_c_alternate", "alternate")):
            iv = (unc.get(key) or {}).get("total")
            if iv:
                click.echo(f"{label:<10} {pct} interval {iv['low']:,.1f} – {iv['high']:,.1f} Mg C "
                           f"({unc['draws']} draws)")
    if "valuation" in extra:
        v = extra["valuation"]
        click.echo(f"{'value':<10} {v['npv']:>18,.2f} {v['currency']} (NPV over {v['years']} yr)")
    if out_dir is not None:
        click.echo(f"wrote {len(written)} rasters and carbon_summary.json to {out_dir}")
