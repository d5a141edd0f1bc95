"""Area stages: change maps, encroachment inside redlines, redline/region indicators, goals."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import EpochData, RunContext

__all__ = ["stage_change", "stage_change_layers", "stage_zonal_start", "stage_zonal", "stage_goals", "change_path",
           "volume_rasters"]

log = logging.getLogger("sinks")


def change_path(ctx: "RunContext", key: str) -> Path:
    """Where the transition map of period ``key`` (``"<e1>_<e2>"``) is written."""
    return ctx.out / f"change_{key}.tif"


def stage_change_layers(ctx: "RunContext", ep: "EpochData") -> None:
    """Lazy change map from the previous epoch to ``ep`` (and its transition counts),
    computed in ``ep``'s write pass.

    The previous epoch's land cover is read from its file, written by the previous
    pass; this epoch's comes straight from the classifier, so it is not read back.
    """
    from ..change import change_output
    from ..io import read_categorical
    from .landcover import landcover_path

    k = next(i for i, e in enumerate(ctx.epochs) if e is ep)
    lc2 = ep.layers.get("landcover")
    if k == 0 or lc2 is None:
        return
    prev = ctx.epochs[k - 1]
    lc2 = getattr(lc2, "data", lc2)
    # read block by block as this epoch's blocks are computed (see io.block_array)
    lc1, _g, _nd = read_categorical(landcover_path(ctx, prev.name), chunks=lc2.chunks, grid=ctx.grid, after=lc2)
    key = f"{prev.name}_{ep.name}"
    ep.outputs.append(change_output(lc1, lc2, change_path(ctx, key),
                                    description=f"land-cover change {prev.name} -> {ep.name}"))
    if ctx.spec.carbon.enabled:
        from ..carbon.sink import transition_matrix
        from ..landcover import CODES

        ep.reductions["transitions"] = transition_matrix(lc1, lc2, ctx.grid, codes=sorted(CODES.values()),
                                                         nodata=(0, 0), compute=False)


def stage_change(ctx: "RunContext") -> None:
    """Encroachment patches in redlines for each pair of consecutive epochs.

    The transition maps (``from×16+to``) were written by :func:`stage_change_layers` in
    each epoch's pass.
    """
    from .carbon import periods
    from .landcover import landcover_path

    redlines = ctx.cache.get("aoi", {}).get("redlines")
    if redlines is None or not len(redlines):
        return
    from ..encroachment import encroachment_summary, find_encroachment
    from ..vectors import write_vector

    ref = ctx.spec.aoi.redlines
    assert ref is not None
    section: dict[str, Any] = {}
    for e1, e2, key, _years in periods(ctx):
        # the change map, written in e2's pass, is read instead of both land covers
        patches = find_encroachment(landcover_path(ctx, e1.name), landcover_path(ctx, e2.name), redlines,
                                    id_field=ref.id_field, min_patch_ha=ctx.spec.zonal.encroachment_min_ha,
                                    change=change_path(ctx, key))
        path = ctx.out / f"encroachment_{key}.gpkg"
        write_vector(patches, path, overwrite=ctx.overwrite)
        ctx.written.append(path)
        section[key] = {"file": path.name, **encroachment_summary(patches, redlines, id_field=ref.id_field)}
    ctx.summary["encroachment"] = section


#: Grids from this many pixels on compute their indicator tables in a child process while
#: the run goes on with accuracy, carbon and change (exactextract holds the GIL, so a
#: thread would not overlap).  Below it the child's start-up would cost more than it saves.
ZONAL_PROCESS_MIN_PX = 50_000_000


def volume_rasters(ctx: "RunContext") -> dict[str, str]:
    """Epoch → stock-volume raster (m³/ha) of ``carbon.volume_raster``: a mapping as given, or one
    raster for the latest epoch."""
    vr = ctx.spec.carbon.volume_raster
    if not vr:
        return {}
    if isinstance(vr, dict):
        return {str(k): str(v) for k, v in vr.items()}
    return {ctx.epochs[-1].name: str(vr)}


def _zonal_jobs(ctx: "RunContext") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Plain (picklable) descriptions of the indicator tables to compute, and the layers skipped."""
    from .carbon import carbon_table, forest_growth_of
    from .landcover import landcover_path

    cs = ctx.spec.carbon
    aoi = ctx.cache.get("aoi", {})
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
    }
    jobs, skipped = [], {}
    for name in ("redlines", "regions"):
        zones = aoi.get(name)
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
    from .._child import check_parent
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


def stage_zonal_start(ctx: "RunContext") -> None:
    """Start the indicator tables in a child process when the grid is large (see ``stage_zonal``)."""
    from .._child import ChildProcess

    if ctx.region is not None or ctx.grid.width * ctx.grid.height < ZONAL_PROCESS_MIN_PX \
            or (os.cpu_count() or 1) < 2:
        return
    jobs, skipped = _zonal_jobs(ctx)
    if not jobs:
        return
    # one child per table (redlines, regions) while cores allow: they run beside the
    # main process's encroachment search, so the run's tail is the longest table, not their sum
    n = max(1, min(len(jobs), (os.cpu_count() or 1)))
    groups = [jobs[k::n] for k in range(n)]
    from ..outputs import announce

    announce([Path(f"{j['base']}.{f}") for j in jobs for f in j["formats"]])  # written by the children
    children = [ChildProcess(_run_zonal_jobs, g) for g in groups]
    ctx.cache["zonal_pending"] = (_Pending(children), [j for g in groups for j in g], skipped)
    log.info("indicator tables computing in %d child process(es)", n)


class _Pending:
    """The indicator-table children of a run: results in job order, or all cancelled."""

    def __init__(self, children: list[Any]) -> None:
        self.children = children

    def result(self) -> list[tuple[Any, list[str]]]:
        try:
            return [r for child in self.children for r in child.result()]
        finally:
            self.cancel()

    def cancel(self) -> None:
        for child in self.children:
            child.cancel()


def stage_zonal(ctx: "RunContext") -> None:
    """Indicator tables for every redline and region (GeoPackage, GeoParquet, CSV).

    In a batch region only the polygons that intersect the region are tabulated (the
    others would be all nodata).  On large grids the tables were started in a child
    process by :func:`stage_zonal_start`; this stage then collects them.
    """
    pending = ctx.cache.pop("zonal_pending", None)
    if pending is not None:
        child, jobs, skipped = pending
        results = child.result()
    else:
        jobs, skipped = _zonal_jobs(ctx)
        results = _run_zonal_jobs(jobs)
    section: dict[str, Any] = dict(skipped)
    for job, (gdf, paths) in zip(jobs, results):
        ctx.written.extend(Path(p) for p in paths)
        ctx.cache.setdefault("tables", {})[job["name"]] = gdf
        section[job["name"]] = {"id_field": job["id_field"], "count": int(len(gdf)),
                                "files": [str(Path(p).relative_to(ctx.out)) for p in paths]}
    order = {"redlines": 0, "regions": 1}
    if section:
        ctx.summary["zonal"] = dict(sorted(section.items(), key=lambda kv: order.get(kv[0], 2)))


def _default_id(gdf: Any) -> str:
    gdf["feature_id"] = [str(i) for i in range(len(gdf))]
    return "feature_id"


def stage_goals(ctx: "RunContext") -> None:
    """Goal tracking for the AOI and each region (``summary["goals"]``)."""
    from ..goals import load_targets, track_goals

    targets = load_targets(ctx.spec.goals.targets, aoi=ctx.spec.goals.aoi_targets)
    regions = ctx.cache.get("tables", {}).get("regions")
    ref = ctx.spec.aoi.regions
    summary = {**ctx.summary, "epochs": [{"name": e.name, "year": e.spec.year} for e in ctx.epochs]}
    ctx.summary["goals"] = track_goals(summary, targets=targets,
                                       regions=None if regions is None else regions.drop(columns="geometry"),
                                       id_field=(ref.id_field if ref is not None else None))
