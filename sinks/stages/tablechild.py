"""Starting the indicator tables' child process as a run begins.

On large grids the redline and region tables are computed in a child process
(:func:`sinks.stages.zonal.stage_zonal_start`) started ahead of its job
(:func:`sinks.runtime.child.prestart`), so that it imports its libraries early rather than
beside the run's last stages.  The earliest moment is before the run imports its own
libraries: then one core imports them under the GIL and the other has nothing to do.
The grid is not known yet (its tiles are read with rasterio), so :func:`start_early`
estimates its size from the first epoch's GeoTIFF headers; when the prepared run's grid
turns out smaller, :func:`sinks.stages.zonal.prestart_zonal_child` stops the child.

This module imports only what that estimate needs, so that the ``sinks run`` command can
call it before anything heavy is loaded.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

from ..cluster import ENV, LOCAL
from ..runtime.child import has_spare, prestart

__all__ = ["CHILD_MODULES", "ZONAL_PROCESS_MIN_PX", "estimated_grid_px", "start_early", "tables_wanted"]

log = logging.getLogger("sinks")

#: Grids from this many pixels on compute their indicator tables in a child process while
#: the run goes on with accuracy, carbon and change (exactextract holds the GIL, so a
#: thread would not overlap).  Below it the child's start-up would cost more than it saves.
ZONAL_PROCESS_MIN_PX = 50_000_000

#: What a table child imports before its job arrives: also what the job would import as it
#: goes (the stock intervals' sampling, the tables' QGIS styles, pyarrow's pandas bridge).
CHILD_MODULES = ("sinks.stages.zonal", "sinks.indicators", "sinks.zonal", "sinks.zonal_tiles", "exactextract",
                 "geopandas", "pyogrio", "pyarrow.parquet", "pyarrow.pandas_compat", "sinks.uncertainty",
                 "scipy.special", "sinks.qgis", "sinks.labels")

#: Files whose headers :func:`estimated_grid_px` reads at most (the first epoch's).
MAX_HEADERS = 64


def tables_wanted(spec: Any) -> bool:
    """Whether the spec asks for the redline or region indicator tables."""
    return bool(spec.classification.enabled and spec.carbon.enabled and spec.zonal.enabled
                and (spec.aoi.redlines is not None or spec.aoi.regions is not None))


def _extent(path: str) -> tuple[float, float, float, float, float, float] | None:
    """``(left, bottom, right, top, pixel width, pixel height)`` from a GeoTIFF's first image
    directory (its pixel scale and tie point), or ``None`` for anything else."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            scale = page.tags.get("ModelPixelScaleTag")
            tie = page.tags.get("ModelTiepointTag")
            if scale is None or tie is None or len(tie.value) != 6 or len(scale.value) < 2:  # one tie point
                return None
            sx, sy = float(scale.value[0]), float(scale.value[1])
            i, j, x, y = (float(v) for v in (tie.value[0], tie.value[1], tie.value[3], tie.value[4]))
            w, h = int(page.imagewidth), int(page.imagelength)
    except Exception:  # noqa: BLE001 - no estimate; the run reads the file properly and names it if bad
        return None
    if not (sx > 0 and sy > 0 and w > 0 and h > 0 and all(math.isfinite(v) for v in (sx, sy, i, j, x, y))):
        return None
    left, top = x - i * sx, y + j * sy
    return left, top - h * sy, left + w * sx, top, sx, sy


def estimated_grid_px(spec: Any) -> int | None:
    """The target grid's pixels as the first epoch's local GeoTIFFs suggest (the union of
    their extents at the grid's resolution, within ``grid.bounds``), or ``None`` when the
    headers do not tell (remote or STAC sources, files without a tie point, more than
    :data:`MAX_HEADERS` files).  The grid's CRS is not read: with ``grid.crs`` set the
    tiles' own pixel size is used."""
    import glob

    if not spec.epochs:
        return None
    paths: list[str] = []
    for scene in spec.epochs[0].scenes:
        if scene.stac or not scene.tiles:
            return None
        for pattern in scene.tiles:
            if "://" in pattern or pattern.startswith("/vsi"):
                return None
            paths.extend(sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern])
            if len(paths) > MAX_HEADERS:
                return None
    extents = [_extent(p) for p in paths]
    if not extents or any(e is None for e in extents):
        return None
    left = min(e[0] for e in extents)
    bottom = min(e[1] for e in extents)
    right = max(e[2] for e in extents)
    top = max(e[3] for e in extents)
    grid = spec.grid
    if grid.crs is None and grid.bounds is not None:
        bl, bb, br, bt = grid.bounds
        left, bottom, right, top = max(left, bl), max(bottom, bb), min(right, br), min(top, bt)
    if right <= left or top <= bottom:
        return 0
    if grid.crs is None and grid.resolution is not None:
        rx = ry = float(grid.resolution)
    else:
        rx, ry = extents[0][4], extents[0][5]
    return int((right - left) / rx) * int((top - bottom) / ry)


def start_early(spec: Any, *, scheduler: Any = None) -> bool:
    """Start the table child now when the run will most likely want one: the spec asks for
    the tables, the run is local (no dask.distributed scheduler, in ``scheduler`` or
    ``SINKS_SCHEDULER``), the machine has two cores or more, and the tiles' headers suggest
    a grid of :data:`ZONAL_PROCESS_MIN_PX` pixels or more.  Nothing happens when a spare
    child already runs.  Returns whether one was started."""
    name = scheduler if scheduler is not None else (os.environ.get(ENV) or None)
    local = name is None or (isinstance(name, str) and name.strip().lower() in LOCAL)
    if not (local and tables_wanted(spec) and (os.cpu_count() or 1) >= 2) or has_spare():
        return False
    px = estimated_grid_px(spec)
    if px is None or px < ZONAL_PROCESS_MIN_PX:
        return False
    prestart(CHILD_MODULES)
    log.debug("table child started early: the tiles suggest a grid of %s px", f"{px:,}")
    return True
