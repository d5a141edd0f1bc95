"""Atomic writers for the sample data: COGs rendered strip by strip, vectors, text."""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..outputs import atomic_path, atomic_write_text, temp_name

__all__ = ["write_cog", "write_vectors", "write_text"]


def write_cog(path: Path, rows: Callable[[int, int], np.ndarray], *, height: int, width: int, count: int,
              dtype: str, transform: tuple[float, float], res: float, crs: str, nodata: int,
              descriptions: Sequence[str], tags: dict[str, str], strip: int, overwrite: bool,
              predictor: int = 1, categorical: bool = False) -> Path:
    """Write ``rows(a, b)`` (``(count, b - a, width)`` arrays) as a DEFLATE COG with overviews."""
    import rasterio
    import rasterio.shutil
    from rasterio.transform import from_origin

    with atomic_path(path, overwrite=overwrite) as final_tmp:
        stage = temp_name(Path(path))
        try:
            # the staging copy is read once by the COG driver: uncompressed is the cheapest round trip
            with rasterio.open(stage, "w", driver="GTiff", width=width, height=height, count=count, dtype=dtype,
                               crs=crs, transform=from_origin(transform[0], transform[1], res, res), nodata=nodata,
                               tiled=True, blockxsize=256, blockysize=256, compress="NONE",
                               bigtiff="IF_SAFER") as ds, ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                # strips are rendered in parallel (numpy releases the GIL), a few ahead, and written in order
                for a, arr in _in_order(pool, lambda a: rows(a, min(height, a + strip)), range(0, height, strip),
                                        ahead=2 * (os.cpu_count() or 1)):
                    ds.write(arr, window=rasterio.windows.Window(0, a, width, arr.shape[1]))
                for i, d in enumerate(descriptions, 1):
                    ds.set_band_description(i, d)
                ds.update_tags(**tags)
                if categorical:
                    from ..landcover import colormap

                    ds.write_colormap(1, colormap())
            side = min(width, height)  # small tiles get small blocks, so they still have overviews
            block = 256 if side > 512 else 128 if side > 160 else 64
            # strongest compression for the small committed scene, fast for benchmark sizes
            level = 9 if width * height <= 1 << 20 else 3
            rasterio.shutil.copy(stage, final_tmp, driver="COG", compress="DEFLATE", level=level, num_threads="ALL_CPUS",
                                 predictor="STANDARD" if predictor == 2 else "NO",
                                 blocksize=block, overviews="AUTO",
                                 overview_resampling="NEAREST" if categorical else "AVERAGE")
        finally:
            if stage.exists():
                stage.unlink()
    return Path(path)


def _in_order(pool: ThreadPoolExecutor, fn: Callable[[int], Any], items: Iterable[int], *,
              ahead: int) -> Iterator[tuple[int, Any]]:
    """``(item, fn(item))`` in order, computed on ``pool`` with at most ``ahead`` results pending."""
    pending: deque[tuple[int, Future[Any]]] = deque()
    for item in items:
        pending.append((item, pool.submit(fn, item)))
        if len(pending) >= ahead:
            first, fut = pending.popleft()
            yield first, fut.result()
    while pending:
        first, fut = pending.popleft()
        yield first, fut.result()


def write_text(path: Path, text: str, *, overwrite: bool) -> Path:
    return atomic_write_text(path, text, overwrite=overwrite)


def write_vectors(layout: Any, *, out: Path, aoi: Path, size: int, seed: int, to_xy: Any, crs: str,
                  overwrite: bool) -> list[Path]:
    """Redlines, regions, coastal zone, training and reference samples as GeoPackages."""
    import rasterio

    from ..vectors import write_vector
    from .aoi import sample_points, scene_vectors, stratum_sizes_ha

    vecs = scene_vectors(layout, to_xy=to_xy, crs=crs)
    truths: dict[int, np.ndarray] = {}
    for year in (2015, 2020, 2025):
        with rasterio.open(out / f"truth_{year}.tif") as ds:
            step = max(1, size // 2000)  # samples drawn on at most ~2000 x 2000 truth pixels
            truths[year] = ds.read(1, out_shape=(ds.height // step, ds.width // step),
                                   resampling=rasterio.enums.Resampling.nearest)
    n = truths[2020].shape[0]
    uu, vv = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n)
    exclude = (uu >= 0.88) & (vv < 0.07)                                 # missing-data corner (2015)
    exclude |= np.hypot(uu - 0.62, vv - 0.22) < 0.07                    # cloud (2020)
    training = sample_points(truths, year=2020, per_class=120, seed=seed + 101, homogeneous=True,
                             exclude=exclude, to_xy=to_xy)
    training = training[["label", "geometry"]].assign(epoch="2020").set_crs(crs)
    # the reference sample: stratified random by the 2020 truth class over the whole scene (clouds and
    # missing data included), its design recorded with it so that it is estimated as drawn (Stehman 2014)
    reference = sample_points(truths, year=2020, per_class=60, seed=seed + 202, homogeneous=False,
                              exclude=None, to_xy=to_xy).set_crs(crs)
    with rasterio.open(out / "truth_2020.tif") as ds:
        cell_ha = abs(ds.transform.a * ds.transform.e) / 1e4 * (ds.width / truths[2020].shape[1]) ** 2
    sizes = stratum_sizes_ha(truths[2020], cell_ha)
    reference.insert(0, "sample_id", [f"S{i:04d}" for i in range(len(reference))])
    reference["stratum"] = reference["label_2020"]
    reference["stratum_area_ha"] = reference["stratum"].map(sizes).astype(float)
    import pyogrio

    paths = []
    # a fixed GeoPackage timestamp, so the same seed gives byte-identical files
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2026-01-01T00:00:00.000Z"})
    try:
        for name, gdf in (*vecs.items(), ("training", training), ("reference", reference)):
            p = aoi / f"{name}.gpkg"
            write_vector(gdf, p, overwrite=overwrite)
            paths.append(p)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})
    return paths
