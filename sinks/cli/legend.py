"""``sinks legend``: print the land-cover legend."""

from __future__ import annotations

import click

from ..landcover import CLASSES, NODATA, legend_json
from .options import echo_json


@click.command("legend")
@click.option("--json", "as_json", is_flag=True, help='Print {"<code>": "<name>"} as JSON.')
@click.option("--colours", "--colors", "colours", is_flag=True,
              help='Print {"<code>": {"name", "label", "colour"}} as JSON (with or without --json).')
def cli(as_json: bool, colours: bool) -> None:
    """Print the land-cover legend: codes, names, labels and map colours."""
    if as_json or colours:
        echo_json(legend_json(with_colours=colours))
        return
    click.echo(f"{NODATA:>4}  nodata")
    for c in CLASSES:
        click.echo(f"{c.code:>4}  {c.name:<10} {c.colour}  {c.label}")
