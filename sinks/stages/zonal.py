"""Zonal stages: the indicator tables of every redline and region polygon.

On large grids :func:`stage_zonal_start` computes them in child processes while the
run goes on with accuracy, carbon and encroachment; :func:`stage_zonal` collects them
(or computes them here on small grids).
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .carbon import carbon_table, forest_growth_of, volume_rasters
from .context import EpochData, RunContext, ZonalTables
from .landcover import landcover_path
from .tablechild import CHILD_MODULES, ZONAL_PROCESS_MIN_PX

__all__ = ["stage_zonal_start", "stage_zonal", "stage_zonal_tallies", "run_tallies", "indicator_legend",
           "ZonalChildren", "ZONAL_PROCESS_MIN_PX"]

log = logging.getLogger("sinks")


def indicator_legend() -> tuple[dict[int, int], int]:
    """The sinks legend as the indicator tables count it: ``({code: digit}, largest digit)``."""
    from ..legends import INDICATOR_CLASSES, resolve_legend

    return dict(resolve_legend("sinks").digits), max(INDICATOR_CLASSES)


def _wants_tallies(ctx: RunContext) -> bool:
    """Whether a later stage measures polygons on the land cover (tables, AOI boundary, batch region)."""
    zonal = ctx.spec.carbon.enabled and ctx.spec.zonal.enabled and any(
        getattr(ctx.aoi, name) is not None and len(getattr(ctx.aoi, name)) for name in ("redlines", "regions"))
    return zonal or ctx.region is not None or ctx.aoi.boundary is not None


def stage_zonal_tallies(ctx: RunContext, ep: EpochData) -> None:
    """Lazy per-tile counts of ``ep``'s land cover (from the second epoch on, of the
    transitions from the previous one), computed in ``ep``'s write pass
    (:mod:`sinks.zonal_tiles`): the polygon tables then sum the tiles a polygon covers
    whole and leave only its edge to exactextract."""
    from ..landcover import NODATA
    from ..zonal_tiles import digit_lut, tally_delayed, tally_side

    lc = ep.layers.get("landcover")
    if lc is None or not _wants_tallies(ctx):
        return
    mapping, top = indicator_legend()
    base = top + 2
    tile = tally_side(ctx.grid, base=base, epochs=len(ctx.epochs))
    if tile is None:
        return
    k = next(i for i, e in enumerate(ctx.epochs) if e is ep)
    lc = getattr(lc, "data", lc)
    prev = None
    if k > 0:
        prev = ep.layers.get("landcover_previous")
        if prev is None:
            from ..io import read_categorical

            prev, _g, _nd = read_categorical(landcover_path(ctx, ctx.epochs[k - 1].name), chunks=lc.chunks,
                                             grid=ctx.grid, after=lc)
    ep.reductions["zone_tiles"] = tally_delayed(lc, prev, grid=ctx.grid, tile=tile,
                                                lut=digit_lut(mapping, base, (NODATA,)), base=base)


def run_tallies(ctx: RunContext) -> Any:
    """The run's :class:`~sinks.zonal_tiles.TileTally` (``None`` unless every epoch's pass counted its tiles)."""
    from ..zonal_tiles import TileTally, tally_side

    parts = [ep.results.get("zone_tiles") for ep in ctx.epochs]
    if not parts or any(p is None for p in parts):
        return None
    mapping, top = indicator_legend()
    tile = tally_side(ctx.grid, base=top + 2, epochs=len(ctx.epochs))  # as the passes chose it
    if tile is None:
        return None
    return TileTally(grid=ctx.grid, tile=tile, base=top + 2, mapping=mapping,
                     paths=[str(landcover_path(ctx, ep.name)) for ep in ctx.epochs], first=parts[0],
                     pairs=list(parts[1:]))


def _zonal_jobs(ctx: RunContext) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Plain (picklable) descriptions of the indicator tables to compute, and the layers skipped."""
    cs = ctx.spec.carbon
    unc = cs.uncertainty
    common = {
        "landcover": {e.name: str(landcover_path(ctx, e.name)) for e in ctx.epochs},
        "years": {e.name: e.spec.year for e in ctx.epochs}, "table": carbon_table(ctx),
        "volume_m3_per_ha": cs.volume_m3_per_ha, "carbon_per_m3": cs.carbon_per_m3,
        "sink_options": {"growth": forest_growth_of(ctx), "method": cs.sink_method},
        "soil_transition_years": cs.soil_transition_years,
        "uncertainty": ({"draws": min(unc.draws, 2000), "seed": unc.seed, "distribution": unc.distribution}
                        if unc is not None else None),
        "missing": "zero" if cs.missing == "zero" else "error",
        "volume_rasters": volume_rasters(ctx), "max_unobserved": ctx.spec.coverage.max_unobserved,
        "tallies": run_tallies(ctx),
    }
    jobs, skipped = [], {}
    for name in ("redlines", "regions"):
        zones = getattr(ctx.aoi, name)
        ref = getattr(ctx.spec.aoi, name)
        if zones is None or ref is None or not len(zones):
            continue
        id_field = ref.id_field or _default_id(zones)
        if ctx.region is not None:  # a batch region: the AOI polygons that reach into it
            zones = zones[zones.intersects(ctx.region)]
            if not len(zones):
                skipped[name] = {"id_field": id_field, "count": 0, "files": [],
                                 "note": "no polygon of this layer intersects the region"}
                continue
        jobs.append({"name": name, "zones": zones, "id_field": id_field, "base": str(ctx.out / "tables" / name),
                     "formats": tuple(ctx.spec.zonal.formats), "overwrite": ctx.overwrite, **common})
    return jobs, skipped


def _run_zonal_jobs(jobs: list[dict[str, Any]]) -> list[tuple[Any, list[str]]]:
    """Compute and write each indicator table (in this process or a child): ``[(table, files)]``."""
    from ..runtime.child import check_parent
    from ..indicators import region_indicators, write_indicator_tables

    out = []
    for job in jobs:
        j = dict(job)
        name, base, formats, overwrite = j.pop("name"), j.pop("base"), j.pop("formats"), j.pop("overwrite")
        gdf = region_indicators(j.pop("zones"), **j)
        check_parent()  # a child whose run was killed writes nothing into its folder
        paths = write_indicator_tables(gdf, base, formats=formats, overwrite=overwrite)
        out.append((gdf, [str(p) for p in paths]))
        log.info("indicator table %s: %d rows", name, len(gdf))
    return out


@dataclass
class ZonalChildren:
    """The indicator-table child processes of a run, their jobs, and the layers skipped."""

    children: list[Any]
    jobs: list[dict[str, Any]]
    skipped: dict[str, Any]

    def result(self) -> list[tuple[Any, list[str]]]:
        """``[(table, files)]`` in job order (waits for the children; cancels them all on failure)."""
        try:
            return [r for child in self.children for r in child.result()]
        finally:
            self.cancel()

    def cancel(self) -> None:
        for child in self.children:
            child.cancel()


def _tables_in_child(ctx: RunContext) -> bool:
    """Whether this run computes its indicator tables in a child process (large grid, two
    cores or more, not a batch region, not on a cluster: there they are a task)."""
    from ..cluster import distributed_client

    return not (ctx.region is not None or ctx.grid.width * ctx.grid.height < ZONAL_PROCESS_MIN_PX
                or (os.cpu_count() or 1) < 2 or distributed_client() is not None)


def prestart_zonal_child(ctx: RunContext) -> None:
    """Start the table child's interpreter at the start of a run that will need it, so that
    it imports its libraries while the run prepares its first pass rather than at the end,
    beside the run's last stages (:func:`sinks.runtime.child.prestart`).  One started
    before the grid was known (:func:`sinks.stages.tablechild.start_early`) is kept when
    the run needs it and stopped when it does not."""
    from ..runtime.child import has_spare, prestart, stop_spares

    if not _tables_in_child(ctx) or not any(
            getattr(ctx.aoi, name) is not None and getattr(ctx.spec.aoi, name) is not None
            for name in ("redlines", "regions")):
        stop_spares()
        return
    if not has_spare():
        prestart(CHILD_MODULES)
    _presplit_in_child(ctx)


def _presplit_in_child(ctx: RunContext) -> None:
    """Have the table child split the redline and region polygons into whole tiles and
    edge pieces (:func:`sinks.zonal_tiles.presplit_zones`) while the passes run: the split
    needs only the polygons and the grid, and would otherwise open the child's job at the
    run's end."""
    from ..runtime.child import prewarm
    from ..zonal_tiles import tally_side

    if not _wants_tallies(ctx) or not ctx.spec.classification.enabled:
        return
    tile = tally_side(ctx.grid, base=indicator_legend()[1] + 2, epochs=len(ctx.epochs))
    sets = []
    for name in ("redlines", "regions"):
        zones, ref = getattr(ctx.aoi, name), getattr(ctx.spec.aoi, name)
        if zones is not None and ref is not None and len(zones):
            sets.append(zones[[zones.geometry.name]])
    if tile is not None and sets:
        prewarm(_presplit, sets, ctx.grid, tile)


def _presplit(sets: list[Any], grid: Any, tile: int) -> None:
    """In the table child: split each polygon layer as its job will (:func:`_presplit_in_child`)."""
    from ..zonal import read_zones
    from ..zonal_tiles import presplit_zones

    for zones in sets:
        zones = zones.assign(_presplit_id=np.arange(len(zones)))
        gdf = read_zones(zones, id_field="_presplit_id", crs=grid.crs)
        presplit_zones(gdf.geometry.to_numpy(), grid, tile)


def stage_zonal_start(ctx: RunContext) -> None:
    """Start the indicator tables in child processes when the grid is large (see :func:`stage_zonal`)."""
    from ..runtime.child import ChildProcess
    from ..outputs import announce

    if not _tables_in_child(ctx):
        return
    jobs, skipped = _zonal_jobs(ctx)
    if not jobs:
        return
    # one child per table (redlines, regions) while cores allow: they run beside the
    # main process's encroachment search, so the run's tail is the longest table, not their
    # sum; with the pass's tile counts the tables are quick and share one child
    n = max(1, min(len(jobs), (os.cpu_count() or 1)))
    if jobs[0]["tallies"] is not None:  # edges only: one child costs less than a second one's start-up
        n = 1
    groups = [jobs[k::n] for k in range(n)]
    announce([Path(f"{j['base']}.{f}") for j in jobs for f in j["formats"]])  # written by the children
    ctx.zonal_pending = ZonalChildren([ChildProcess(_run_zonal_jobs, g) for g in groups],
                                      [j for g in groups for j in g], skipped)
    log.info("indicator tables computing in %d child process(es)", n)


def stage_zonal(ctx: RunContext) -> None:
    """Indicator tables for every redline and region (GeoPackage, GeoParquet, CSV).

    On a ``dask.distributed`` cluster (:mod:`sinks.cluster`) they are computed as one task
    on a worker.

    In a batch region only the polygons that intersect the region are tabulated (the
    others would be all nodata).  On large grids the tables were started in a child
    process by :func:`stage_zonal_start`; this stage then collects them.
    """
    pending, ctx.zonal_pending = ctx.zonal_pending, None
    if pending is not None:
        jobs, skipped = pending.jobs, pending.skipped
        results = pending.result()
    else:
        from ..cluster import distributed_client

        jobs, skipped = _zonal_jobs(ctx)
        client = distributed_client()
        if client is not None and jobs:  # a run on a cluster: the tables are a task on a worker
            results = client.submit(_run_zonal_jobs, jobs, pure=False, key=f"sinks-zonal-{uuid.uuid4().hex[:12]}").result()
        else:
            results = _run_zonal_jobs(jobs)
    section: dict[str, Any] = dict(skipped)
    tables: dict[str, Any] = {}
    for job, (gdf, paths) in zip(jobs, results):
        ctx.written.extend(Path(p) for p in paths)
        tables[job["name"]] = gdf
        section[job["name"]] = {"id_field": job["id_field"], "count": int(len(gdf)),
                                "files": [str(Path(p).relative_to(ctx.out)) for p in paths]}
    ctx.zonal = ZonalTables(tables)
    order = {"redlines": 0, "regions": 1}
    if section:
        ctx.summary["zonal"] = dict(sorted(section.items(), key=lambda kv: order.get(kv[0], 2)))


def _default_id(gdf: Any) -> str:
    gdf["feature_id"] = [str(i) for i in range(len(gdf))]
    return "feature_id"
