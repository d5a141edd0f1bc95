"""Shared click options and helpers for sinks commands."""

from __future__ import annotations

import json
from typing import Any, Callable

import click

__all__ = ["climate_zone_option", "overwrite_option", "out_option", "bands_options", "echo_json", "sensor_from_options", "open_acquisitions",
           "sample_acquisitions"]


def overwrite_option(f: Callable) -> Callable:
    """``--overwrite``: replace existing outputs (otherwise refused with exit 2)."""
    return click.option("--overwrite", is_flag=True, help="Replace existing outputs.")(f)


def climate_zone_option(f: Callable) -> Callable:
    """``--climate-zone ZONE``: IPCC climate zone of the soil (``none`` keeps the table's soil)."""
    from ..carbon.soil import CLIMATE_ZONES, DEFAULT_CLIMATE_ZONE

    return click.option(
        "--climate-zone", "climate_zone", type=click.Choice([*CLIMATE_ZONES, "none"]), default=None,
        help=f"IPCC climate zone of the soil organic carbon (SOC_ref x F_LU x F_MG x F_I from one zone); default "
             f"{DEFAULT_CLIMATE_ZONE} for the packaged tables, the table's own soil for files; 'none' keeps the "
             f"table's soil.")(f)


def out_option(*, required: bool = True, help: str = "Output path.") -> Callable:
    """``-o/--out PATH``."""
    return click.option("-o", "--out", "out", required=required, type=click.Path(dir_okay=True), help=help)


def bands_options(f: Callable) -> Callable:
    """``--sensor NAME | --bands ROLE,... [--scale F] [--offset F]``."""
    f = click.option("--offset", type=float, default=None, help="Reflectance offset (generic bands).")(f)
    f = click.option("--scale", type=float, default=None, help="Reflectance scale factor (generic bands).")(f)
    f = click.option(
        "--bands",
        default=None,
        help="Role of each band in file order: blue,green,red,nir,swir1,swir2 ('-' ignores a band).",
    )(f)
    f = click.option("--sensor", default=None, help="Sensor profile name (see `sinks sensors`).")(f)
    return f


def sensor_from_options(sensor: str | None, bands: str | None, scale: float | None, offset: float | None) -> Any:
    """Resolve a :class:`sinks.sensors.SensorProfile` from the CLI options."""
    from ..sensors import resolve_profile

    return resolve_profile(sensor=sensor, bands=bands, scale=scale, offset=offset)


def open_acquisitions(images: tuple[str, ...], dates: tuple[str, ...], *, sensor: str | None, bands: str | None,
                      scale: float | None, offset: float | None, chunks: int = 1024) -> tuple[list, Any, Any]:
    """Open IMAGE... (acquisitions of one area, one grid) lazily: ``(scenes, grid, profile)``.

    Without ``--sensor`` or ``--bands`` the Sentinel-2 L2A profile is assumed.
    """
    from ..errors import GridMismatchError
    from ..io import open_image

    days = _days(images, dates)
    if bands:  # the count first: "3 roles for a 6-band file" says more than which role is missing
        from ..errors import BandMismatchError
        from ..io import inspect_tile

        n = len(bands.split(","))
        for path in images:
            count = inspect_tile(path, check_truncation=False).count
            if count != n:
                raise BandMismatchError(f"--bands names {n} band(s) but {path} has {count}; "
                                        "give one role per band in file order ('-' to skip one)")
    profile = sensor_from_options(sensor or ("generic" if bands else "sentinel2_l2a"), bands, scale, offset)
    scenes, grid = [], None
    for path, day in zip(images, days):
        refl, g = open_image(path, profile=profile, grid=grid, chunks=chunks, date=day)
        if grid is not None and not g.same_as(grid):
            raise GridMismatchError(f"{path}: not on the grid of {images[0]}")
        grid = g
        scenes.append(refl)
    return scenes, grid, profile


def _days(images: tuple[str, ...], dates: tuple[str, ...]) -> list[Any]:
    """``--date`` values as dates, one per image (``None`` each when not given)."""
    import datetime as dt

    from ..errors import ConfigError

    if dates and len(dates) != len(images):
        raise ConfigError(f"--date given {len(dates)} time(s) for {len(images)} image(s)")
    try:
        return [dt.date.fromisoformat(d) for d in dates] or [None] * len(images)
    except ValueError as exc:
        raise ConfigError(f"--date: {exc}") from None


def sample_acquisitions(images: tuple[str, ...], dates: tuple[str, ...], *, profile: Any,
                        grid: Any) -> tuple[list[Any], Any]:
    """Decimated reflectance of each IMAGE read through its overviews (for the rules'
    scene thresholds and coastal zone), on the images concurrently: ``(samples, sample grid)``."""
    from ..classify.sample import overview_samples
    from ..io import Scene, tiles_from_files

    scenes = [Scene(day, tuple(tiles_from_files([path], profile))) for path, day in zip(images, _days(images, dates))]
    return overview_samples(scenes, profile=profile, grid=grid)


def echo_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON (numpy scalars converted)."""
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=_default))


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
