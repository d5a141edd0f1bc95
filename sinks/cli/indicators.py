"""``sinks indicators LANDCOVER.tif ... --years Y1,... --zones VECTOR --id-field NAME``: indicators from land-cover maps."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError, TileReadError
from .options import echo_json, out_option, overwrite_option


def _years(text: str, n: int) -> list[int]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        years = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"--years: expected whole years separated by commas, got {text!r}") from None
    if len(years) != n:
        raise ConfigError(f"--years gives {len(years)} year(s) for {n} land-cover map(s); give one year per map")
    if len(set(years)) != len(years):
        raise ConfigError(f"--years: a year is given twice ({text})")
    if any(not 1900 <= y <= 2100 for y in years):
        raise ConfigError(f"--years: years must lie in 1900..2100, got {text}")
    return years


def _volume_rasters(items: tuple[str, ...], years: list[int]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        year, sep, path = item.partition("=")
        if not sep or not year.strip().isdigit() or not path.strip():
            raise ConfigError(f"--volume-raster: expected YEAR=PATH, got {item!r}")
        if int(year) not in years:
            raise ConfigError(f"--volume-raster: year {year} is not one of --years")
        if not Path(path).exists():
            raise TileReadError(f"{path}: file not found")
        out[str(int(year))] = path.strip()
    return out


@click.command("indicators")
@click.argument("landcover", nargs=-1, required=True, metavar="LANDCOVER.tif [LANDCOVER2.tif ...]",
                type=click.Path(dir_okay=False))
@click.option("--years", required=True, help="Year of each land-cover map, in the same order: 2015,2020.")
@click.option("--zones", required=True, help="Polygons: GeoPackage, Shapefile, GeoJSON, GeoParquet ...")
@click.option("--id-field", required=True, help="Unique id field of the zones.")
@click.option("--legend", default="sinks", show_default=True,
              help="Codes of the maps: sinks, clcd, worldcover, or a YAML/CSV mapping file (code → class).")
@click.option("--layer", default=None, help="Layer of the zones file.")
@click.option("--carbon-table", default="china", show_default=True,
              help="Carbon densities: china, ipcc[:...], or a CSV/YAML table (InVEST pool tables too).")
@click.option("--soil-depth", type=click.Choice(["0-30", "0-100"]), default="0-30", show_default=True)
@click.option("--special-shrub", default=None,
              help="Polygons designated for special shrubland (国家特别规定灌木林地): shrubland inside counts as forest.")
@click.option("--special-shrub-field", default=None,
              help="Boolean field of the zones: all shrubland of a flagged zone counts as forest.")
@click.option("--max-unobserved", type=click.FloatRange(0, 1), default=0.05, show_default=True,
              help="Unobserved share of a zone above which its coverage rate is flagged.")
@click.option("--volume-raster", "volume_raster", multiple=True, metavar="YEAR=PATH",
              help="Stock-volume raster (m³/ha) of a year: volume = its zonal sum (repeatable).")
@click.option("--draws", type=click.IntRange(min=0), default=2000, show_default=True,
              help="Monte Carlo draws of the intervals (0: no intervals).")
@click.option("--seed", type=int, default=20261122, show_default=True, help="Seed of the Monte Carlo draws.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@out_option("Write DIR/indicators.json, DIR/zones.csv, DIR/zones.gpkg and DIR/class_areas.csv.", folder=True)
@overwrite_option
def cli(landcover: tuple[str, ...], years: str, zones: str, id_field: str, legend: str, layer: str | None,
        carbon_table: str, soil_depth: str, special_shrub: str | None, special_shrub_field: str | None,
        max_unobserved: float, volume_raster: tuple[str, ...], draws: int, seed: int, as_json: bool,
        out: str | None, overwrite: bool) -> None:
    """Indicators of every zone, and of the whole input, from existing land-cover maps.

    For each map (one per year): class areas, unobserved area (nodata and codes the
    legend does not list), the official forest coverage rate (forest + mangrove
    [+ designated special shrubland] over the zone's whole area, inland water
    included), carbon stock with its interval, and stock volume; between consecutive
    years, the sink (Mg C/yr, positive = removal) with its interval and the method
    used.  The same computation as a run's redline and region tables.
    """
    from ..carbon import load_table
    from ..indicators import compute_indicators, to_json, write_indicators
    from ..legends import resolve_legend
    from ..outputs import ensure_writable

    yrs = _years(years, len(landcover))
    leg = resolve_legend(legend)  # a bad legend fails before any file is read
    vols = _volume_rasters(volume_raster, yrs)
    if not Path(zones).exists() and "://" not in zones:
        from ..errors import VectorError

        raise VectorError(f"{zones}: zones file not found")
    targets: list[Path] = []
    if out:
        od = Path(out)
        if od.exists() and not od.is_dir():
            raise ConfigError(f"{out}: exists and is not a folder")
        targets = [od / "indicators.json", od / "zones.csv", od / "zones.gpkg", od / "class_areas.csv"]
        ensure_writable(targets, overwrite=overwrite)
    table = load_table(carbon_table, soil_depth=soil_depth)
    maps = {str(y): p for y, p in zip(yrs, landcover)}
    unc = {"draws": draws, "seed": seed} if draws > 0 else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ind = compute_indicators(zones, id_field=id_field, landcover=maps, years={str(y): y for y in yrs},
                                 table=table, legend=leg, special_shrub=special_shrub,
                                 special_shrub_field=special_shrub_field, max_unobserved=max_unobserved,
                                 volume_rasters=vols, uncertainty=unc, total=True, layer=layer)
    for w in caught:
        if issubclass(w.category, UserWarning):
            click.echo(f"Warning: {w.message}", err=True)
    doc = to_json(ind)
    if out:
        write_indicators(ind, out, zones=zones, id_field=id_field, layer=layer, doc=doc, overwrite=overwrite)
    if as_json:
        echo_json(doc)
    else:
        click.echo(format_indicators(doc))
        if out:
            click.echo(f"\nwrote {', '.join(str(t) for t in targets)}")


def _f(v: Any, fmt: str) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def format_indicators(doc: dict[str, Any]) -> str:
    """Readable text of the JSON document of ``sinks indicators``."""
    years = [str(y) for y in doc["years"]]
    lines = [f"Legend: {doc['legend']['name']} — {doc['legend']['source']}", ""]
    head = f"{'zone':<16} {'area ha':>12}  " + "  ".join(f"{'cover ' + y + ' %':>14}" for y in years)
    lines.append(head)
    for z in [*doc["zones"], doc.get("total")]:
        if z is None:
            continue
        cells = []
        for y in years:
            flag = "*" if z["coverage_flagged"][y] else " "
            cells.append(f"{_f(z['forest_coverage_pct'][y], '13.2f')}{flag}")
        lines.append(f"{str(z['id'])[:16]:<16} {_f(z['area_ha'], '12,.2f')}  " + "  ".join(cells))
    if any(z and any(z["coverage_flagged"].values()) for z in [*doc["zones"], doc.get("total")]):
        lines.append("(* more than the allowed share of the zone is unobserved: the rate is a lower bound)")
    lines.append("")
    lines.append(f"{'zone':<16} {'year':>6} {'stock Mg C':>16} {'95 % interval':>27} {'volume m3':>14}")
    for z in [*doc["zones"], doc.get("total")]:
        if z is None:
            continue
        for y in years:
            st = z["stock_mg_c"][y]
            iv = f"{_f(st['low'], ',.0f')} – {_f(st['high'], ',.0f')}" if st["low"] is not None else "n/a"
            lines.append(f"{str(z['id'])[:16]:<16} {y:>6} {_f(st['value'], '16,.1f')} {iv:>27} "
                         f"{_f(z['volume_m3'][y], '14,.0f')}")
    if len(years) > 1:
        lines.append("")
        lines.append(f"{'zone':<16} {'period':>10} {'sink Mg C/yr':>14} {'95 % interval':>25}  method")
        for z in [*doc["zones"], doc.get("total")]:
            if z is None:
                continue
            for p, s in z["sink_mg_c_per_yr"].items():
                iv = f"{_f(s['low'], ',.1f')} – {_f(s['high'], ',.1f')}" if s["low"] is not None else "n/a"
                lines.append(f"{str(z['id'])[:16]:<16} {p:>10} {_f(s['value'], '14,.1f')} {iv:>25}  {s['method']}")
        lines.append("(sink > 0: removal from the atmosphere)")
    for note in doc.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)
