"""A STAC catalog describing the rasters of a run, so other tools can find them.

``RUN_DIR/stac/catalog.json`` (self-contained, relative links) holds one item per layer
(land cover, carbon, change, indices) with the projection extension (EPSG, shape,
transform, bbox) and the raster extension (nodata, data type, unit), dated by the
epoch's year (or the acquisition date of an index layer).

The catalog is written into a hidden temporary folder beside ``stac/`` and renamed into
place when complete, so a reader never sees half a catalog and a failed write leaves
the previous one as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

__all__ = ["write_run_catalog"]

log = logging.getLogger("sinks")


def _when(rel: str, years: dict[str, int]) -> dt.datetime:
    m = re.search(r"(\d{8})", rel)
    if m:
        return dt.datetime.strptime(m.group(1), "%Y%m%d").replace(tzinfo=dt.timezone.utc)
    for name, year in sorted(years.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"(^|[_/]){re.escape(name)}([_/.]|$)", rel):
            return dt.datetime(year, 7, 1, tzinfo=dt.timezone.utc)
    return dt.datetime(min(years.values()) if years else 1970, 1, 1, tzinfo=dt.timezone.utc)


def write_run_catalog(run_dir: str | os.PathLike, *, rasters: list[Path] | None = None,
                      summary: dict[str, Any] | None = None) -> Path:
    """Write ``RUN_DIR/stac/catalog.json`` for the run's GeoTIFFs and return its path.

    ``summary`` (epoch names and years, run name) defaults to ``RUN_DIR/summary.json``.
    """
    import pystac
    import rasterio
    from pystac.extensions.projection import ProjectionExtension
    from pystac.extensions.raster import RasterBand, RasterExtension
    from rasterio.warp import transform_bounds, transform_geom
    from shapely.geometry import box, mapping

    run = Path(run_dir)
    if summary is None:
        p = run / "summary.json"
        summary = json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}
    years = {e["name"]: int(e["year"]) for e in summary.get("epochs", [])}
    cat = pystac.Catalog(id=f"sinks-{summary.get('name', run.name)}",
                         description=f"Rasters of the sinks run {summary.get('name', run.name)}")
    files = rasters if rasters is not None else sorted(run.rglob("*.tif"))
    footprints: dict[tuple[str, tuple[float, ...]], tuple[list[float], dict[str, Any]]] = {}
    for path in files:
        path = Path(path)
        rel = path.relative_to(run).as_posix()
        with rasterio.open(path) as ds:
            where = (ds.crs.to_wkt(), tuple(ds.bounds))
            if where not in footprints:  # a run's layers share a few grids: transform each once
                footprints[where] = (list(transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21)),
                                     transform_geom(ds.crs, "EPSG:4326", mapping(box(*ds.bounds))))
            bounds, geom = footprints[where]
            item = pystac.Item(id=rel.replace("/", "__").removesuffix(".tif"), geometry=geom, bbox=list(bounds),
                               datetime=_when(rel, years), properties={"sinks:layer": path.stem,
                                                                      "description": ds.descriptions[0] or path.stem})
            item.add_asset("data", pystac.Asset(href=str(path.resolve()),
                                                media_type=pystac.MediaType.COG, roles=["data"],
                                                title=ds.descriptions[0] or path.stem))
            proj = ProjectionExtension.ext(item, add_if_missing=True)
            proj.epsg = ds.crs.to_epsg()
            proj.shape = [ds.height, ds.width]
            proj.transform = list(ds.transform)[:6]
            proj.bbox = list(ds.bounds)
            unit = ds.tags().get("units") or ("Mg C/ha" if "density" in path.stem else
                                              "Mg C" if "stock" in path.stem else None)
            band = RasterBand.create(nodata=ds.nodata if ds.nodata is None or ds.nodata == ds.nodata else "nan",
                                     data_type=ds.dtypes[0], unit=unit, spatial_resolution=ds.res[0])
            RasterExtension.ext(item.assets["data"], add_if_missing=True).bands = [band]
        cat.add_item(item)
    final = run / "stac"
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp, old = run / f".stac-part-{tag}", run / f".stac-old-{tag}"
    from .outputs import writing

    try:
        # the temporary folder sits beside stac/, so the relative links stay right after the rename
        cat.normalize_hrefs(str(tmp))
        cat.make_all_asset_hrefs_relative()
        with writing(final / "catalog.json"):
            cat.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
    finally:
        for d in (tmp, old):
            if d.exists():
                shutil.rmtree(d, ignore_errors=True)
    log.info("STAC catalog of %d rasters: %s", len(files), final / "catalog.json")
    return final / "catalog.json"
