"""``sinks goals RUN_DIR``: forest coverage and stock volume against the targets, and the sink's growth."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError, first_line
from .options import echo_json


@click.command("goals")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--targets", default=None, type=click.Path(dir_okay=False),
              help="Target sets and which area each applies to: CSV (region_id, year, forest_coverage_pct, "
                   "volume_m3, comparison, source) or YAML ({targets: [...], sets: {name: [...]}, "
                   "regions: {id: set name or [...]}, aoi: set name}).")
@click.option("--aoi-targets", default=None,
              help="Target set the whole area is compared with (e.g. national, for a China-wide run).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def cli(run_dir: str, targets: str | None, aoi_targets: str | None, as_json: bool) -> None:
    """Track the run in RUN_DIR against the targets mapped to it.

    For the whole area and each region (RUN_DIR/tables/regions.csv): value at the
    latest epoch and linear trajectory; per target mapped to the area (the national
    2025/2030/2035 set, a province's set, the region's own rows): gap, projected value,
    year reached, on track.  An area mapped to no target gets its own trend only.  The
    sink per period with its growth; China's official series for context.
    """
    from ..goals import load_targets, track_goals

    run = Path(run_dir)
    if not run.is_dir():
        raise ConfigError(f"{run}: run folder not found")
    from ..runstate import require_complete

    require_complete(run)
    path = run / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(summary, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    tg = load_targets(targets, aoi=aoi_targets)
    regions, id_field = None, None
    table = run / "tables" / "regions.csv"
    if table.is_file():
        from ..csvio import read_csv

        id_field = ((summary.get("zonal") or {}).get("regions") or {}).get("id_field")
        try:
            head = read_csv(table, nrows=0)
        except (ValueError, OSError) as exc:
            raise ConfigError(f"{table}: unreadable ({first_line(exc)})") from None
        if id_field not in head.columns:
            id_field = str(head.columns[0])
        regions = read_csv(table, dtype={id_field: str})
    res = track_goals(summary, targets=tg, regions=regions, id_field=id_field)
    if as_json:
        echo_json(res)
        return
    _print(res)


#: Beyond this year a linear trend says nothing useful about when a target is reached.
_HORIZON = 2100

_NAMES = {"forest_coverage_pct": "forest coverage", "volume_m3": "stock volume"}


def _fmt(v: float | None, unit: str) -> str:
    """A value: a rate in %, a volume in m3."""
    if v is None:
        return "-"
    return f"{v:,.2f} %" if unit == "%" else f"{v:,.0f} m3"


def _diff(v: float, unit: str, *, sign: bool = False) -> str:
    """A difference of values: of a rate in percentage points (pp), of a volume in m3."""
    if unit == "%":
        return f"{v:+,.2f} pp" if sign else f"{v:,.2f} pp"
    return f"{v:+,.0f} m3" if sign else f"{v:,.0f} m3"


def _year(y: float) -> str:
    """The first whole year in which a linear trend meets a target."""
    return str(math.ceil(y - 1e-9))


def _target_line(t: dict[str, Any], unit: str) -> str:
    target = ("> " if t["comparison"] == "above" else "") + _fmt(t["target"], unit)
    if not (t.get("comparable") and "gap" in t):
        return (f"    {t['year']:>4}  {target:>18}  {'-':>18}  {_fmt(t.get('projected'), unit):>18}  "
                f"not comparable: {t.get('reason', '')}")
    if t.get("met_now"):
        gap, state = "-", f"met now ({_diff(-t['gap'], unit)} above the target)"
    else:
        gap = _diff(t["gap"], unit)
        state = {True: "on track", False: "off track", None: "no trend"}[t.get("on_track")]
        reached = t.get("year_reached")
        if reached is None:
            state += ", not reached on this trend"
        elif reached > _HORIZON:
            state += f", not reached before {_HORIZON} on this trend"
        else:
            state += f", reached in {_year(reached)}"
    return f"    {t['year']:>4}  {target:>18}  {gap:>18}  {_fmt(t['projected'], unit):>18}  {state}"


def _scope(title: str, block: dict[str, Any]) -> None:
    click.echo(title)
    for name, ind in block.items():
        if not isinstance(ind, dict) or "targets" not in ind:
            continue
        unit = ind["unit"]
        slope = ind["trajectory"]["slope_per_year"]
        click.echo(f"  {_NAMES.get(name, name)}: {_fmt(ind['value'], unit)} in {ind['latest_year']}"
                   + (f", trend {_diff(slope, unit, sign=True)}/yr" if slope is not None
                      else ", no trend (one epoch)"))
        if not ind["targets"]:
            click.echo("    no target mapped to this area: its own trend only")
            continue
        click.echo(f"    {'year':>4}  {'target':>18}  {'still to go':>18}  {'projected':>18}  status")
        for t in ind["targets"]:
            click.echo(_target_line(t, unit))
    sink = block.get("sink")
    if sink:
        _sink(sink, indent="  ")


def _sink(sink: dict[str, Any], *, indent: str) -> None:
    click.echo(f"{indent}sink (Mg C/yr, positive = removal, negative = emission):")
    for k, s in sink.items():
        v, g, d = s.get("sink_mg_c_per_yr"), s.get("growth_pct"), s.get("growth_mg_c_per_yr")
        line = f"{indent}  {k.replace('_', '-')}: " + (f"{v:,.1f}" if v is not None else "-")
        if s.get("sign_changed"):
            line += (f" (from an emission to a removal, {d:+,.1f} Mg C/yr)" if v > 0
                     else f" (from a removal to an emission, {d:+,.1f} Mg C/yr)")
        elif g is not None:
            line += f" ({g:+.1f} % vs previous period)"
        elif d is not None:
            line += f" ({d:+,.1f} Mg C/yr vs previous period)"
        click.echo(line)


def _print(res: dict[str, Any]) -> None:
    _scope("Whole area", res["aoi"])
    if res.get("sink"):
        _sink(res["sink"], indent="  ")
    for rid, block in (res.get("regions") or {}).items():
        _scope(f"Region {rid}", block)
    for note in res.get("notes") or []:
        click.echo(f"Note: {note}")
    click.echo("National context (official): " + ", ".join(
        f"{r['year']} {'>' if r['forest_coverage_pct'] and r['forest_coverage_lower_bound'] else ''}"
        f"{r['forest_coverage_pct']:.2f} %" + (" [series break]" if r["series_break"] else "")
        for r in res["national_series"]))
