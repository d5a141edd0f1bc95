"""Encroachment stage: patches that left forest, grassland, wetland or mangrove inside redlines."""

from __future__ import annotations

import os
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
    todo = list(periods(ctx))

    def search(e1: Any, e2: Any, key: str) -> Any:
        # the change map, written in e2's pass, is read instead of both land covers
        return find_encroachment(landcover_path(ctx, e1.name), landcover_path(ctx, e2.name), redlines,
                                 id_field=ref.id_field, min_patch_ha=ctx.spec.zonal.encroachment_min_ha,
                                 change=change_path(ctx, key))

    workers = min(len(todo), os.cpu_count() or 1, 2)
    if workers > 1:  # the periods side by side: GDAL's reads and the labelling kernel leave the GIL
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as ex:
            found = list(ex.map(lambda p: search(p[0], p[1], p[2]), todo))
    else:
        found = [search(e1, e2, key) for e1, e2, key, _years in todo]
    for (e1, e2, key, _years), patches in zip(todo, found):
        path = ctx.out / f"encroachment_{key}.gpkg"
        write_vector(patches, path, overwrite=ctx.overwrite)
        ctx.written.append(path)
        section[key] = {"file": path.name, **encroachment_summary(patches, redlines, id_field=ref.id_field)}
    ctx.summary["encroachment"] = section
