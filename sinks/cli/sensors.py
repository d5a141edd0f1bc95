"""``sinks sensors``: list the packaged sensor profiles."""

from __future__ import annotations

import click


@click.command("sensors")
def cli() -> None:
    """List sensor profiles: stored band names, roles, scale and offset."""
    from ..sensors import PROFILES

    for p in PROFILES.values():
        dated = "".join(f"; offset {v:+g} from {d}" for d, v in p.date_offsets)
        click.echo(f"{p.name}")
        click.echo(f"    bands  {' '.join(f'{n}={r}' for n, r in zip(p.band_names, p.roles))}")
        click.echo(f"    reflectance = DN x {p.scale:g} {p.offset:+g}{dated}")
    click.echo("generic (--bands blue,green,red,nir,swir1,swir2 [--scale F] [--offset F]; '-' ignores a band)")
