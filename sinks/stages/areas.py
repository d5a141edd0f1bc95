"""Area stages: change maps, encroachment inside redlines, redline/region indicators, goals."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import RunContext

__all__ = ["stage_change", "stage_zonal", "stage_goals", "change_path"]

log = logging.getLogger("sinks")


def change_path(ctx: "RunContext", key: str) -> Path:
    """Where the transition map of period ``key`` (``"<e1>_<e2>"``) is written."""
    return ctx.out / f"change_{key}.tif"


def stage_change(ctx: "RunContext") -> None:
    """Transition maps (``from×16+to``) of consecutive epochs and encroachment patches in redlines."""
    from ..change import change_output
    from ..io import read_categorical
    from ..outputs import write_rasters
    from .carbon import periods
    from .landcover import landcover_path

    outs = []
    for e1, e2, key, _years in periods(ctx):
        a1, _g, _ = read_categorical(landcover_path(ctx, e1.name), chunks=ctx.spec.grid.chunks)
        a2, _g, _ = read_categorical(landcover_path(ctx, e2.name), chunks=ctx.spec.grid.chunks)
        outs.append(change_output(a1, a2, change_path(ctx, key), description=f"land-cover change {e1.name} -> {e2.name}"))
    if outs:
        ctx.written.extend(write_rasters(outs, ctx.grid, overwrite=ctx.overwrite, blocksize=512))
    redlines = ctx.cache.get("aoi", {}).get("redlines")
    if redlines is None or not len(redlines):
        return
    from ..encroachment import encroachment_summary, find_encroachment
    from ..vectors import write_vector

    ref = ctx.spec.aoi.redlines
    assert ref is not None
    section: dict[str, Any] = {}
    for e1, e2, key, _years in periods(ctx):
        patches = find_encroachment(landcover_path(ctx, e1.name), landcover_path(ctx, e2.name), redlines,
                                    id_field=ref.id_field, min_patch_ha=ctx.spec.zonal.encroachment_min_ha)
        path = ctx.out / f"encroachment_{key}.gpkg"
        write_vector(patches, path, overwrite=ctx.overwrite)
        ctx.written.append(path)
        section[key] = {"file": path.name, **encroachment_summary(patches, redlines, id_field=ref.id_field)}
    ctx.summary["encroachment"] = section


def stage_zonal(ctx: "RunContext") -> None:
    """Indicator tables for every redline and region (GeoPackage, GeoParquet, CSV).

    In a batch region only the polygons that intersect the region are tabulated (the
    others would be all nodata).
    """
    from ..indicators import region_indicators, write_indicator_tables
    from .carbon import carbon_table
    from .landcover import landcover_path

    cs = ctx.spec.carbon
    aoi = ctx.cache.get("aoi", {})
    landcover = {e.name: landcover_path(ctx, e.name) for e in ctx.epochs}
    years = {e.name: e.spec.year for e in ctx.epochs}
    unc = cs.uncertainty
    section: dict[str, Any] = {}
    for name in ("redlines", "regions"):
        zones = aoi.get(name)
        ref = getattr(ctx.spec.aoi, name)
        if zones is None or ref is None or not len(zones):
            continue
        id_field = ref.id_field or _default_id(zones)
        if ctx.region is not None:  # a batch region: the AOI polygons that reach into it
            zones = zones[zones.intersects(ctx.region)]
            if not len(zones):
                section[name] = {"id_field": id_field, "count": 0, "files": [],
                                 "note": "no polygon of this layer intersects the region"}
                continue
        gdf = region_indicators(
            zones, id_field=id_field, landcover=landcover, years=years, table=carbon_table(ctx),
            volume_m3_per_ha=cs.volume_m3_per_ha, carbon_per_m3=cs.carbon_per_m3,
            growth_mg_c_per_ha_yr=cs.growth_m3_per_ha_yr * cs.carbon_per_m3,
            soil_transition_years=cs.soil_transition_years,
            uncertainty=({"draws": min(unc.draws, 2000), "seed": unc.seed, "distribution": unc.distribution}
                         if unc is not None else None),
            missing="zero" if cs.missing == "zero" else "error")
        base = ctx.out / "tables" / name
        paths = write_indicator_tables(gdf, base, formats=tuple(ctx.spec.zonal.formats), overwrite=ctx.overwrite)
        ctx.written.extend(Path(p) for p in paths)
        ctx.cache.setdefault("tables", {})[name] = gdf
        section[name] = {"id_field": id_field, "count": int(len(gdf)),
                         "files": [str(Path(p).relative_to(ctx.out)) for p in paths]}
    if section:
        ctx.summary["zonal"] = section


def _default_id(gdf: Any) -> str:
    gdf["feature_id"] = [str(i) for i in range(len(gdf))]
    return "feature_id"


def stage_goals(ctx: "RunContext") -> None:
    """Goal tracking for the AOI and each region (``summary["goals"]``)."""
    from ..goals import load_targets, track_goals

    targets = load_targets(ctx.spec.goals.targets)
    regions = ctx.cache.get("tables", {}).get("regions")
    ref = ctx.spec.aoi.regions
    summary = {**ctx.summary, "epochs": [{"name": e.name, "year": e.spec.year} for e in ctx.epochs]}
    ctx.summary["goals"] = track_goals(summary, targets=targets,
                                       regions=None if regions is None else regions.drop(columns="geometry"),
                                       id_field=(ref.id_field if ref is not None else None))
