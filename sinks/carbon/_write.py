"""Write carbon layers: dask layers through :func:`sinks.outputs.write_rasters`, small
in-memory (numpy) layers straight to COGs without importing dask.

Both paths write every file under a temporary name first and rename them all only once
every layer is complete, so no half-written file ever appears under a final name.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from ..grid import Grid
from ..outputs import RasterOutput, ensure_writable, mem_dataset, staged_files, writing

__all__ = ["write_layers", "overview_factors"]


def write_layers(outputs: Sequence[RasterOutput], grid: Grid, *, overwrite: bool, blocksize: int = 512,
                 workers: int | None = None) -> list[Path]:
    """Write ``outputs`` as Cloud-Optimized GeoTIFFs.

    Dask layers go through :func:`sinks.outputs.write_rasters` (one streaming pass).
    When every layer is in memory (numpy arrays or :class:`~sinks.carbon.stock.LazyLayer`),
    each is computed in a worker thread, put in a GDAL MEM dataset with nearest-neighbour
    overviews, and copied with GDAL's COG driver (DEFLATE level 1).  Carbon layers are
    piecewise constant per class: without a predictor they compress best, and nearest
    overviews keep true class densities (and cost half of averaged ones).

    Parameters
    ----------
    outputs : sequence of RasterOutput
    grid : Grid
    overwrite : bool
        Otherwise :class:`~sinks.errors.OutputExistsError` before anything is written.
    blocksize : int
    workers : int, optional
        Threads for the in-memory path (default: CPU count, at most 4).
    """
    outputs = list(outputs)
    if not outputs:
        return []
    if any(type(o.data).__module__.startswith("dask") for o in outputs):
        from ..outputs import write_rasters

        return write_rasters(outputs, grid, overwrite=overwrite, blocksize=blocksize)
    finals = [Path(o.path) for o in outputs]
    ensure_writable(finals, overwrite=overwrite)
    for o in outputs:
        if tuple(np.shape(o.data)) != grid.shape:
            raise ValueError(f"{o.path}: layer shape {np.shape(o.data)} != grid shape {grid.shape}")
    for p in finals:
        p.parent.mkdir(parents=True, exist_ok=True)
    n = workers or min(4, os.cpu_count() or 1)
    with staged_files(finals) as temps, ThreadPoolExecutor(max_workers=max(1, n)) as ex:
        list(ex.map(lambda pair: _write_one(pair[0], pair[1], grid, blocksize), zip(outputs, temps)))
    return finals


def overview_factors(width: int, height: int, blocksize: int) -> list[int]:
    """Overview decimation factors as GDAL's ``OVERVIEWS=AUTO`` picks them: halve until
    the smallest level fits in one block."""
    factors: list[int] = []
    f = 2
    while max(width, height) > blocksize and max(-(-width // (f // 2)), -(-height // (f // 2))) > blocksize:
        factors.append(f)
        f *= 2
    return factors


def _write_one(out: RasterOutput, tmp: Path, grid: Grid, blocksize: int) -> None:
    import rasterio.shutil
    from rasterio.enums import Resampling

    data = np.asarray(out.data)
    is_float = data.dtype.kind == "f"
    with writing(out.path), mem_dataset(data, grid, out) as ds:
        del data
        factors = overview_factors(grid.width, grid.height, blocksize)
        if factors:
            ds.build_overviews(factors, Resampling.nearest)
        rasterio.shutil.copy(
            ds, tmp, driver="COG", compress="DEFLATE", level=1, predictor="NO" if is_float else "YES",
            blocksize=blocksize, overviews="FORCE_USE_EXISTING" if factors else "NONE", bigtiff="IF_SAFER",
        )
