"""Shared click options and helpers for sinks commands."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import warnings
from typing import Any, Callable, Iterator

import click

from ..budget import ENV, parse_pixels
from ..errors import ConfigError, GridMismatchError

__all__ = ["climate_zone_option", "overwrite_option", "out_option", "max_pixels_option", "bands_options",
           "echo_json", "sensor_from_options", "open_acquisitions", "sample_acquisitions", "auto_profile",
           "echoed_warnings"]


def overwrite_option(f: Callable | None = None, *, help: str = "Replace existing outputs.") -> Callable:
    """``--overwrite``: replace existing outputs (otherwise refused with exit 2).

    ``@overwrite_option``, or ``@overwrite_option(help=...)`` for a command where it does more.
    """
    option = click.option("--overwrite", is_flag=True, help=help)
    return option if f is None else option(f)


def out_option(help: str, *, required: bool = False, folder: bool = False) -> Callable:
    """``-o/--out PATH``: the file (or, with ``folder=True``, the folder) a command writes.

    Parameters
    ----------
    help : str
        What is written there.
    required : bool
        The command writes nothing else (otherwise ``None`` when not given).
    folder : bool
        A folder to write files in, rather than one file.
    """
    kind = click.Path(file_okay=False) if folder else click.Path(dir_okay=False)
    return click.option("-o", "--out", "out", required=required, default=None, type=kind, help=help)


def _set_max_pixels(ctx: click.Context, _param: Any, value: str | None) -> None:
    if value is None or ctx.resilient_parsing:
        return
    os.environ[ENV] = str(parse_pixels(value, source="--max-pixels"))  # batch workers and children inherit it


def max_pixels_option(f: Callable) -> Callable:
    """``--max-pixels N``: the pixel budget of one layer (default 4e9; also ``SINKS_MAX_PIXELS``)."""
    return click.option("--max-pixels", default=None, expose_value=False, callback=_set_max_pixels,
                        metavar="N", help="Largest raster (rows x columns) to process, e.g. 1e10 "
                                          "(default 4e9, or SINKS_MAX_PIXELS).")(f)


def climate_zone_option(f: Callable) -> Callable:
    """``--climate-zone ZONE``: IPCC climate zone of the soil (``none`` keeps the table's soil)."""
    from ..carbon.soil import CLIMATE_ZONES, DEFAULT_CLIMATE_ZONE

    return click.option(
        "--climate-zone", "climate_zone", type=click.Choice([*CLIMATE_ZONES, "none"]), default=None,
        help=f"IPCC climate zone of the soil organic carbon (SOC_ref x F_LU x F_MG x F_I from one zone); default "
             f"{DEFAULT_CLIMATE_ZONE} for the packaged tables, the table's own soil for files; 'none' keeps the "
             f"table's soil.")(f)


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

    Without ``--sensor`` or ``--bands`` the profile comes from the first image's band
    descriptions (:func:`auto_profile`); dates, scale and offset come from each image's
    metadata unless ``--date``/``--scale``/``--offset`` are given (:mod:`sinks.metadata`).
    """
    from ..io import open_image

    days = _days(images, dates)
    if bands:  # the count first: "3 roles for a 6-band file" says more than which role is missing
        from ..errors import BandMismatchError
        from ..tiles import inspect_tile

        n = len(bands.split(","))
        for path in images:
            count = inspect_tile(path, check_truncation=False).count
            if count != n:
                raise BandMismatchError(f"--bands names {n} band(s) but {path} has {count}; "
                                        "give one role per band in file order ('-' to skip one)")
    if sensor or bands:
        profile = sensor_from_options(sensor or "generic", bands, scale, offset)
    else:
        profile = auto_profile(images[0]).with_scale(scale=scale, offset=offset)
    scenes, grid = [], None
    for path, day in zip(images, days):
        refl, g = open_image(path, profile=profile, grid=grid, chunks=chunks, date=day)
        if grid is not None and not g.same_as(grid):
            raise GridMismatchError(f"{path}: not on the grid of {images[0]}")
        grid = g
        scenes.append(refl)
    return scenes, grid, profile


def auto_profile(path: str) -> Any:
    """The sensor profile ``path``'s band descriptions point to (role names, Sentinel-2 or
    Landsat band names); Sentinel-2 L2A when they say nothing."""
    from ..tiles import inspect_tile
    from ..sensors import get_profile, profile_from_descriptions

    return profile_from_descriptions(inspect_tile(path, check_truncation=False).descriptions) or \
        get_profile("sentinel2_l2a")


def _days(images: tuple[str, ...], dates: tuple[str, ...]) -> list[Any]:
    """``--date`` values as dates, one per image (``None`` each when not given)."""
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
    from ..tiles import Scene, scene_date, tiles_from_files

    scenes = []
    for path, day in zip(images, _days(images, dates)):
        tiles = tuple(tiles_from_files([path], profile))
        scenes.append(Scene(scene_date(tiles, day), tiles))
    return overview_samples(scenes, profile=profile, grid=grid)


@contextlib.contextmanager
def echoed_warnings() -> Iterator[None]:
    """Print the library's user warnings (:class:`UserWarning`) raised inside as ``Warning: ...`` on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for w in caught:
                if issubclass(w.category, UserWarning):
                    click.echo(f"Warning: {w.message}", err=True)


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
