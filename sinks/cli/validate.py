"""``sinks validate SPEC``: check a pipeline spec and its inputs without running it."""

from __future__ import annotations

import click

from ..errors import SpecError
from .options import max_pixels_option


@click.command("validate")
@max_pixels_option
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--no-files", is_flag=True, help="Check the spec only, not its input files.")
def cli(spec: str, no_files: bool) -> None:
    """Validate SPEC: report every problem with its key; exit 2 if there is any.

    The spec goes through the same model as `sinks run`.  Unless --no-files, every
    input is opened as the run would open it: each raster's header and its first and
    last blocks (bands and CRS checked), the rules, model, carbon table, targets and
    sample files, then the target grid, the AOI layers and the pixel budget.
    """
    from ..checks import check_inputs
    from ..spec import load_spec

    try:
        parsed, path = load_spec(spec, check_files=not no_files)
        problems = [] if no_files else check_inputs(parsed, spec_path=path)
    except SpecError as exc:
        problems = exc.problems or [str(exc)]
    if problems:
        click.echo(f"{spec}: {len(problems)} problem(s)", err=True)
        for p in problems:
            click.echo(f"  - {p}", err=True)
        raise click.exceptions.Exit(2)
    n = sum(len(s.tiles) for e in parsed.epochs for s in e.scenes)
    checked = "spec only" if no_files else "every input opened"
    click.echo(f"{path}: OK ({len(parsed.epochs)} epoch(s), {n} tile pattern(s), sensor "
               f"{parsed.sensor_profile().name}; {checked})")
