"""``sinks batch SPEC --regions VECTOR --id-field NAME --out DIR``: one run per region."""

from __future__ import annotations

import json
import sys
import time

import click

from .options import max_pixels_option, out_option, overwrite_option


@click.command("batch")
@max_pixels_option
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--regions", required=True, help="Regions: a vector file or a postgresql:// URL (with --layer).")
@click.option("--id-field", required=True, help="Column holding the region id.")
@click.option("--layer", default=None, help="Layer name, or PostGIS table / SQL query.")
@out_option("Batch folder.", required=True, folder=True)
@click.option("--scheduler", default=None, help="dask.distributed scheduler address (or DASK_SCHEDULER_ADDRESS).")
@click.option("--workers", type=click.IntRange(1, 512), default=None,
              help="Start a LocalCluster of N worker processes (faster than the default threads for many "
                   "small regions).")
@click.option("--retries", type=click.IntRange(0, 20), default=0, show_default=True,
              help="Run a failed region up to N more times (transient network or storage errors).")
@click.option("--restart", is_flag=True, help="Recompute every region, finished or not.")
@overwrite_option(help="Same as --restart (recompute and replace outputs); also lets --to-postgis replace --table.")
@click.option("--only", default=None, help="Comma-separated region ids to run.")
@click.option("--log-json", is_flag=True, help="Print one JSON line per event to stdout.")
@click.option("--to-postgis", default=None, help="Also write the batch table to this PostGIS URL.")
@click.option("--table", default=None, help="PostGIS table name for --to-postgis.")
@click.pass_context
def cli(ctx: click.Context, spec: str, regions: str, id_field: str, layer: str | None, out: str,
        scheduler: str | None, workers: int | None, retries: int, restart: bool, overwrite: bool, only: str | None,
        log_json: bool, to_postgis: str | None, table: str | None) -> None:
    """Run SPEC once per polygon of --regions; resumable (finished regions are skipped)."""
    from ..batch import run_batch
    from ..errors import ConfigError

    if to_postgis and not table:
        raise ConfigError("--to-postgis needs --table NAME")
    quiet = ctx.find_root().params.get("quiet", False)
    state: dict = {"t0": time.perf_counter(), "bar": None}

    def on_event(ev: dict) -> None:
        if log_json:
            click.echo(json.dumps(ev, ensure_ascii=False))
            return
        if quiet:
            return
        if ev["event"] == "start":
            click.echo(f"{ev['total']} regions: {ev['skipped']} already finished, {ev['todo']} to run", err=True)
            if ev["todo"] and sys.stderr.isatty():
                from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

                bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                               TimeRemainingColumn(), transient=True)
                bar.start()
                state["bar"] = (bar, bar.add_task("regions", total=ev["todo"]))
        elif ev["event"] == "region":
            if state["bar"]:
                bar, task = state["bar"]
                bar.update(task, advance=1, description=f"done {ev['done']} failed {ev['failed']} "
                                                        f"remaining {ev['remaining']}")
            else:
                elapsed = time.perf_counter() - state["t0"]
                finished = ev["done"] + ev["failed"]
                eta = elapsed / max(finished, 1) * ev["remaining"]
                line = (f"[{ev['status']}] {ev['region_id']} ({ev['seconds']:.1f} s) - done {ev['done']}, "
                        f"failed {ev['failed']}, remaining {ev['remaining']}, ETA {eta:.0f} s")
                if ev["error"]:
                    line += f": {ev['error']}"
                click.echo(line, err=True)
        elif ev["event"] == "end" and state["bar"]:
            state["bar"][0].stop()

    ids = [s.strip() for s in only.split(",") if s.strip()] if only else None
    res = run_batch(spec, regions=regions, id_field=id_field, out=out, layer=layer, scheduler=scheduler,
                    workers=workers, retries=retries, restart=restart or overwrite, only=ids, on_event=on_event,
                    to_postgis=(to_postgis, table) if to_postgis else None, overwrite=overwrite)
    n = len(res.results)
    failed = res.failed
    n_done = sum(r.status == "done" for r in res.results)
    if not log_json:
        click.echo(f"{n_done} of {n} regions done in {res.seconds:.1f} s; table: {res.out / 'batch_summary.csv'}")
    if res.empty:
        ids = ", ".join(repr(r.region_id) for r in res.empty[:10]) + (" ..." if len(res.empty) > 10 else "")
        click.echo(f"Warning: {len(res.empty)} region(s) have no geometry (status 'empty geometry'): {ids}", err=True)
    if failed:
        for r in failed[:10]:
            click.echo(f"  failed {r.region_id}: {r.error}", err=True)
        click.echo(f"Error: {len(failed)} of {n} regions failed; see {res.out / 'batch_summary.csv'}", err=True)
        ctx.exit(1)
