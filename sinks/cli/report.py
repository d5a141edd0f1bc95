"""``sinks report RUN_DIR -o report.html``: one self-contained HTML report of a run."""

from __future__ import annotations

import click

from .options import out_option, overwrite_option


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@out_option("HTML file to write.", required=True)
@overwrite_option
def cli(run_dir: str, out: str, overwrite: bool) -> None:
    """Write a single HTML file (maps, tables, charts inline; works offline, prints well)
    for the run in RUN_DIR."""
    from ..report import build_report

    path = build_report(run_dir, out, overwrite=overwrite)
    click.echo(f"wrote {path}")
