"""``sinks goals RUN_DIR``: forest coverage and stock volume against the targets."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .options import echo_json


@click.command("goals")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--targets", default=None, type=click.Path(dir_okay=False),
              help="Per-region or national targets (CSV or YAML rows: year, forest_coverage_pct, volume_m3, region_id).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def cli(run_dir: str, targets: str | None, as_json: bool) -> None:
    """Track the run in RUN_DIR against the 2025, 2030 and 2035 targets (value, gap, linear
    trajectory, year reached, on track), with the sink per period and its growth."""
    from ..errors import ConfigError
    from ..goals import load_targets, track_goals

    run = Path(run_dir)
    path = run / "summary.json"
    if not path.exists():
        raise ConfigError(f"{run}: not a run folder (no summary.json)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    regions, id_field = None, None
    table = run / "tables" / "regions.csv"
    if table.exists():
        import pandas as pd

        id_field = ((summary.get("zonal") or {}).get("regions") or {}).get("id_field")
        if id_field:
            regions = pd.read_csv(table, dtype={id_field: str})
    res = track_goals(summary, targets=load_targets(targets), regions=regions, id_field=id_field)
    if as_json:
        echo_json(res)
        return
    _print(res)


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    return f"{v:,.2f} %" if unit == "%" else f"{v:,.0f} m3"


def _print(res: dict) -> None:
    def scope(title: str, block: dict) -> None:
        click.echo(title)
        for name, ind in block.items():
            if not isinstance(ind, dict) or "targets" not in ind:
                continue
            unit = ind["unit"]
            slope = ind["trajectory"]["slope_per_year"]
            click.echo(f"  {name}: {_fmt(ind['value'], unit)} in {ind['latest_year']}"
                       + (f", trend {slope:+,.3g} {unit}/yr" if slope is not None else ""))
            for t in ind["targets"]:
                if t.get("comparable"):
                    state = "on track" if t.get("on_track") else "off track"
                    reached = t.get("year_reached")
                    click.echo(f"    {t['year']}: target {_fmt(t['target'], unit)}, gap {_fmt(t['gap'], unit)}, "
                               f"projected {_fmt(t['projected'], unit)}, {state}"
                               + (f", reached {reached:.0f}" if reached else ""))
                else:
                    click.echo(f"    {t['year']}: target {_fmt(t['target'], unit)} (national; not comparable)")

    scope("Whole area", res["aoi"])
    for rid, block in (res.get("regions") or {}).items():
        scope(f"Region {rid} ({block.get('targets_source')} targets)", block)
    if res["sink"]:
        click.echo("Sink (Mg C/yr, positive = removal)")
        for k, s in res["sink"].items():
            g = s.get("growth_pct")
            click.echo(f"  {k}: {s['sink_mg_c_per_yr']:,.1f}" + (f" ({g:+.1f} % vs previous)" if g is not None else ""))
    click.echo("National context: " + ", ".join(f"{r['year']} {r['forest_coverage_pct']:.2f} %"
                                                + (" (series break)" if r["series_break"] else "")
                                                for r in res["national_series"]))
