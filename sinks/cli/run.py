"""``sinks run SPEC``: run a pipeline spec."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import click

from .options import max_pixels_option, out_option, overwrite_option


class _Bar:
    """A rich progress display on a terminal: the step (epoch pass or stage) and the raster
    blocks written; the run's messages printed above it.  Gone when the run ends."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self.stages = self.progress.add_task("stages", total=None)
        self.blocks = self.progress.add_task("blocks written", total=None)

    def __enter__(self) -> "_Bar":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def message(self, msg: str) -> None:
        self.progress.console.print(f"  {msg}", highlight=False, markup=False)

    def event(self, ev: dict[str, Any]) -> None:
        if ev["event"] == "stages":
            self.progress.update(self.stages, total=ev["total"], completed=0)
        elif ev["event"] == "stage":
            name = "finishing" if ev["name"] == "done" else ev["name"]
            self.progress.update(self.stages, completed=ev["done"], description=f"stage: {name}")
        elif ev["event"] == "blocks":
            self.progress.update(self.blocks, total=ev["total"], completed=ev["done"])


@click.command("run")
@max_pixels_option
@click.argument("spec", type=click.Path(dir_okay=False))
@out_option("Output folder (default: ./runs/<spec name>), or s3://bucket/prefix (each object written whole, "
            "manifest.json last).", folder=True)
@overwrite_option
@click.option("--scheduler", default=None, envvar="SINKS_SCHEDULER", show_envvar=True,
              help="Dask scheduler: threads (default), synchronous, or a dask.distributed scheduler address "
                   "(tcp://host:8786) whose workers run the tasks and reach the output folder.")
@click.option("--digest", type=click.Choice(["blake3", "sha256"]), default="blake3", show_default=True,
              help="Digest of every input in manifest.json (sha256 for checks with sha256sum).")
@click.pass_context
def cli(ctx: click.Context, spec: str, out: str | None, overwrite: bool, scheduler: str | None,
        digest: str) -> None:
    """Run the pipeline described by SPEC (YAML) and write maps, tables and a summary.

    On a terminal a progress bar shows the step (each epoch's pass, then each stage) and
    the raster blocks written; elsewhere (a log, a pipe) one line per step.  -q shows
    neither.
    """
    from ..spec import load_spec
    from ..stages.tablechild import start_early

    if ctx.get_parameter_source("scheduler") is click.core.ParameterSource.ENVIRONMENT:
        scheduler = None  # read from SINKS_SCHEDULER by the run, whose errors then name the variable
    parsed, spec_path = load_spec(spec)
    start_early(parsed, scheduler=scheduler)  # before the run's imports, which leave a core idle
    from ..objstore import is_object_url
    from ..pipeline import run
    from ..runtime.memory import tune_collector

    remote_out = is_object_url(out)
    out_dir: Any = out.rstrip("/") if remote_out else Path(out) if out else Path("runs") / parsed.name
    quiet = ctx.find_root().params.get("quiet", False)
    bar = _Bar() if not quiet and sys.stderr.isatty() else None

    def progress(msg: str) -> None:
        if bar is not None:
            bar.message(msg)
        elif not quiet:
            click.echo(f"  {msg}", err=True)

    if not quiet:
        click.echo(f"sinks run {spec_path} -> {out_dir}", err=True)
    tune_collector()
    try:
        with bar if bar is not None else contextlib.nullcontext():
            summary = run(spec_path, out=out_dir, overwrite=overwrite, progress=progress, scheduler=scheduler,
                          digest=digest, on_event=bar.event if bar is not None else None)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"the run stopped; the files it had written in {out_dir} were removed") from None
    click.echo(f"done in {summary['timings_s']['total']:.1f} s; outputs in {out_dir}/")
    click.echo(f"  summary:  {out_dir}/summary.json")
    click.echo(f"  manifest: {out_dir}/manifest.json")
    report = None if remote_out else out_dir / "report.html"
    if report is not None and report.exists():
        click.echo(f"  report:   {report}")
