"""``sinks validate SPEC``: check a pipeline spec and its inputs without running it."""

from __future__ import annotations

import click

from ..errors import SpecError
from .options import max_pixels_option


@click.command("validate")
@max_pixels_option
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--no-files", is_flag=True, help="Check the spec only, not that its input files exist.")
def cli(spec: str, no_files: bool) -> None:
    """Validate SPEC: report every problem with its key; exit 2 if there is any."""
    from ..spec import load_spec

    try:
        parsed, path = load_spec(spec, check_files=not no_files)
    except SpecError as exc:
        problems = exc.problems or [str(exc)]
        click.echo(f"{spec}: {len(problems)} problem(s)", err=True)
        for p in problems:
            click.echo(f"  - {p}", err=True)
        raise click.exceptions.Exit(2) from None
    n = sum(len(s.tiles) for e in parsed.epochs for s in e.scenes)
    click.echo(f"{path}: OK ({len(parsed.epochs)} epoch(s), {n} tile pattern(s), sensor {parsed.sensor_profile().name})")
