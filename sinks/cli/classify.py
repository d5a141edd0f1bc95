"""``sinks classify IMAGE... -o OUT.tif``: land cover in the sinks legend (rules or a model)."""

from __future__ import annotations

import click

from ..errors import ConfigError
from ..landcover import NAMES, colormap
from .options import (bands_options, echoed_warnings, max_pixels_option, open_acquisitions, out_option,
                      overwrite_option, sample_acquisitions)


def _mmu(value: str | None) -> dict[str, float] | None:
    if value is None:
        return {"forest": 0.0667}
    if value.strip().lower() in ("", "none", "0"):
        return {}
    out = {}
    for part in value.split(","):
        name, _, ha = part.partition("=")
        try:
            out[name.strip()] = float(ha)
        except ValueError:
            raise ConfigError(f"--mmu: expected CLASS=HA[,CLASS=HA], got {part!r}") from None
    return out


def _sun(values: tuple[str, ...], n: int) -> list[tuple[float, float]] | None:
    if not values:
        return None
    if len(values) != n:
        raise ConfigError(f"--sun given {len(values)} time(s) for {n} image(s)")
    out = []
    for v in values:
        try:
            elev, az = (float(x) for x in v.split(","))
        except ValueError:
            raise ConfigError(f"--sun: expected ELEVATION,AZIMUTH in degrees, got {v!r}") from None
        out.append((elev, az))
    return out


@click.command("classify")
@max_pixels_option
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@out_option("Output land-cover COG.", required=True)
@bands_options
@click.option("--model", default=None, type=click.Path(dir_okay=False), help="Supervised model (sinks train).")
@click.option("--rules", default=None, type=click.Path(dir_okay=False), help="YAML overriding the rule thresholds.")
@click.option("--coastal-zone", default=None,
              help="Polygons where mangroves may occur, or a coastline (lines, buffered by --coastal-buffer-m); "
                   "'none' for no mangrove class.  Default: derived from sea-like water at mangrove latitudes.")
@click.option("--dem", default=None, type=click.Path(dir_okay=False),
              help="DEM (m): slopes the sun barely lights at an acquisition are not counted there (rules).")
@click.option("--sun", "sun", multiple=True, metavar="ELEV,AZ",
              help="Sun elevation and azimuth (degrees) of each IMAGE, in order, for --dem (default: the "
                   "images' SUN_ELEVATION/SUN_AZIMUTH tags).")
@click.option("--wetlands", default=None,
              help="Wetland layer (polygons): inside it one flooded acquisition is evidence of wetland.")
@click.option("--coastal-buffer-m", type=float, default=2000.0, show_default=True,
              help="Distance from open water of the derived coastal zone.")
@click.option("--mmu", default=None, help="Minimum mapping unit, CLASS=HA,... (default forest=0.0667; 'none').")
@click.option("--date", "dates", multiple=True, help="Acquisition date of each IMAGE (YYYY-MM-DD), in order.")
@click.option("--chunks", type=int, default=1024, show_default=True, help="Block size for dask.")
@overwrite_option
def cli(images: tuple[str, ...], out: str, sensor: str | None, bands: str | None, scale: float | None,
        offset: float | None, model: str | None, rules: str | None, coastal_zone: str | None, dem: str | None,
        sun: tuple[str, ...], wetlands: str | None, coastal_buffer_m: float, mmu: str | None, dates: tuple[str, ...], chunks: int, overwrite: bool) -> None:
    """Classify IMAGE (one or more acquisitions of the same area, e.g. a dry and a wet
    season) into forest, grassland, wetland, mangrove, water, cropland, built-up and bare.

    Writes a uint8 COG in the sinks legend (`sinks legend`) on exactly the input grid,
    nodata 0 where the input has no clear observation.  Rules are used unless --model is
    given.  Band roles, dates, scale and offset are read from the images' own metadata
    (band descriptions, ACQUISITION_DATE / DATE_ACQUIRED, BOA_ADD_OFFSET, band
    scale/offset) unless --sensor/--bands, --date, --scale or --offset say otherwise.
    """
    from ..classify import classify
    from ..outputs import RasterOutput, ensure_writable, write_rasters

    ensure_writable([out], overwrite=overwrite)
    scenes, grid, profile = open_acquisitions(images, dates, sensor=sensor, bands=bands, scale=scale,
                                              offset=offset, chunks=chunks)
    samples, sample_grid = (None, None) if model else sample_acquisitions(images, dates, profile=profile, grid=grid)
    from ..vectors import read_vector

    zone: object = None
    if coastal_zone and coastal_zone.strip().lower() == "none":
        zone = "none"
    elif coastal_zone:
        zone = read_vector(coastal_zone, target_crs=grid.crs, what="coastal zone")
    layer = read_vector(wetlands, target_crs=grid.crs, what="wetlands") if wetlands else None
    with echoed_warnings():
        res = classify(scenes, grid=grid, rules=rules, model=model, coastal=zone, coastal_buffer_m=coastal_buffer_m,
                       wetland=layer, dem=dem, sun=_sun(sun, len(images)), mmu_ha=_mmu(mmu), chunks=chunks,
                       samples=samples, sample_grid=sample_grid)
    lc_out = RasterOutput(out, res.landcover, nodata=0, categorical=True, colormap=colormap(),
                          description="land cover (sinks legend)", tags={"method": res.method})
    write_rasters([lc_out], grid, overwrite=overwrite)
    from ..qgis import write_sidecars

    write_sidecars([lc_out])  # class names and attribute table (.aux.xml), QGIS style (.qml)
    from ..carbon import class_areas_ha
    from ..io import read_categorical

    arr, g, _ = read_categorical(out)
    areas = class_areas_ha(arr, g)      # code 0 included: area with no clear observation
    click.echo(f"wrote {out} ({res.method}; coastal zone: {res.coastal_source})")
    for code, a in zip(areas.codes, areas.area_ha):
        if int(code) != 0:
            click.echo(f"  {NAMES.get(int(code), code):<10} {a:>14,.2f} ha")
    unobserved = float(sum(a for c, a in zip(areas.codes, areas.area_ha) if int(c) == 0))
    click.echo(f"  {'nodata':<10} {unobserved:>14,.2f} ha  (no clear observation)")
    for k, v in res.thresholds.items():
        click.echo(f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}")
    for n in res.notes:
        click.echo(f"  note: {n}")
