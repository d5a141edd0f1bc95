"""Encroachment stage: patches that left forest, grassland, wetland or mangrove inside redlines."""

from __future__ import annotations

from typing import Any

from .carbon import periods
from .change import change_path
from .context import RunContext
from .landcover import landcover_path

__all__ = ["stage_encroachment"]


def stage_encroachment(ctx: RunContext) -> None:
    """Encroachment patches in redlines for each pair of consecutive epochs (``summary["encroachment"]``).

    The transition maps (``from×16+to``) were written by
    :func:`sinks.stages.change.stage_change_layers` in each epoch's pass.
    """
    redlines = ctx.aoi.redlines
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
