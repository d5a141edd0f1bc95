"""``sinks zonal RASTER --zones VECTOR --id-field NAME --stats ... -o OUT``: exact zonal statistics."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import click

from ..csvio import to_csv
from ..errors import ConfigError, EmptyZoneWarning
from .options import out_option, overwrite_option


@click.command("zonal")
@click.argument("raster", type=click.Path(dir_okay=False))
@click.option("--zones", required=True, help="Polygons: GeoPackage, Shapefile, GeoJSON, GeoParquet, FlatGeobuf ...")
@click.option("--id-field", required=True, help="Unique id column of the zones (first output column).")
@click.option("--stats", default="sum,mean,count", show_default=True,
              help="Comma-separated statistics (sum, mean, count, min, max, median, stdev, majority ...).")
@click.option("--categorical", is_flag=True, help="Area (ha) and fraction of each class instead of --stats.")
@click.option("--layer", default=None, help="Layer of the zones file (or PostGIS table / query).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes sharing the polygons (default: one per core, used from 64 polygons on).")
@out_option("Output table: .csv, .gpkg or .parquet (the last two with geometry).", required=True)
@overwrite_option
def cli(raster: str, zones: str, id_field: str, stats: str, categorical: bool, layer: str | None,
        workers: int | None, out: str, overwrite: bool) -> None:
    """Statistics of RASTER inside each polygon of --zones, with exact partial-pixel coverage.

    `count` is the coverage-weighted number of valid pixels; every row also has its
    nodata_fraction (area outside the raster counts as nodata).  On rasters in a
    geographic CRS mean/median/stdev are weighted by cell area on the sphere.
    --categorical (never automatic, so a uint8 index raster still gets numeric stats)
    gives area_ha_<class> and frac_<class> per class, with legend names for the sinks
    codes.  Polygons that cover no valid pixel get count 0 and a warning.
    """
    from ..outputs import atomic_path, ensure_writable
    from ..vectors import write_vector
    from ..zonal import check_stats, class_areas, zonal_stats

    suffix = Path(out).suffix.lower()
    if suffix not in (".csv", ".gpkg", ".parquet"):
        raise ConfigError(f"{out}: output must end in .csv, .gpkg or .parquet")
    ensure_writable([out], overwrite=overwrite)
    wanted = stats.split(",")
    if not categorical:
        try:
            wanted = check_stats(wanted)
        except ConfigError as exc:
            raise ConfigError(f"--stats: {exc}") from None
    n = workers or os.cpu_count() or 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EmptyZoneWarning)
        if categorical:
            gdf = class_areas(raster, zones, id_field=id_field, layer=layer, workers=n)
        else:
            gdf = zonal_stats(raster, zones, id_field=id_field, stats=wanted, layer=layer, workers=n)
    for w in caught:
        click.echo(f"Warning: {w.message}", err=True)
    if suffix == ".csv":
        with atomic_path(out, overwrite=overwrite) as tmp:
            to_csv(gdf.drop(columns="geometry"), tmp)
    else:
        write_vector(gdf, out, overwrite=overwrite)
    click.echo(f"wrote {len(gdf)} row(s) to {out}")
