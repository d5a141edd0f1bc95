"""Encroachment stage: patches that left forest, grassland, wetland or mangrove inside redlines."""

from __future__ import annotations

import logging
import os
from typing import Any

from .carbon import periods
from .change import change_path
from .context import EpochData, RunContext
from .landcover import landcover_path

__all__ = ["stage_encroachment", "start_early_search", "wait_early_searches"]

log = logging.getLogger("sinks")


def _redlines(ctx: RunContext) -> Any:
    """The run's redline polygons, or ``None`` when there are none to search."""
    redlines = ctx.aoi.redlines
    return None if redlines is None or not len(redlines) else redlines


def _search(ctx: RunContext, e1: EpochData, e2: EpochData, key: str) -> Any:
    """The patches of period ``key``: the change map, written in ``e2``'s pass, is read
    instead of both land covers."""
    from ..encroachment import find_encroachment

    ref = ctx.spec.aoi.redlines
    assert ref is not None
    return find_encroachment(landcover_path(ctx, e1.name), landcover_path(ctx, e2.name), _redlines(ctx),
                             id_field=ref.id_field, min_patch_ha=ctx.spec.zonal.encroachment_min_ha,
                             change=change_path(ctx, key))


def start_early_search(ctx: RunContext, k: int) -> None:
    """After the pass of epoch ``k``, search the period ending there on a thread while the
    run goes on (:func:`stage_encroachment` then takes its patches): beside the next
    epoch's pass, or after the last pass beside the accuracy and carbon stages.

    The passes leave part of a core idle, and so do the stages after them (the carbon
    intervals' raking, the table child's last pieces); the search (GDAL reads, the
    labelling kernel) mostly runs without the GIL.  Only for a scene's own run on local
    threads.
    """
    from concurrent.futures import ThreadPoolExecutor

    from ..cluster import distributed_client

    if (k < 1 or k >= len(ctx.epochs) or ctx.region is not None or _redlines(ctx) is None
            or distributed_client() is not None):
        return
    e1, e2 = ctx.epochs[k - 1], ctx.epochs[k]
    key = f"{e1.name}_{e2.name}"
    if key in ctx.early_encroachment:
        return
    ex = ThreadPoolExecutor(1, thread_name_prefix=f"sinks-encroachment-{key}")
    ctx.early_encroachment[key] = ex.submit(_search, ctx, e1, e2, key)
    ex.shutdown(wait=False)  # the thread ends with its search
    log.debug("encroachment %s: searching beside the %s", key,
              "next pass" if k + 1 < len(ctx.epochs) else "stages after the passes")


def wait_early_searches(ctx: RunContext) -> None:
    """Wait for the searches :func:`start_early_search` started (a run that failed leaves
    no thread reading its folder); their errors are the stage's to report."""
    from concurrent.futures import wait

    wait(list(ctx.early_encroachment.values()))


def stage_encroachment(ctx: RunContext) -> None:
    """Encroachment patches in redlines for each pair of consecutive epochs (``summary["encroachment"]``).

    The transition maps (``from×16+to``) were written by
    :func:`sinks.stages.change.stage_change_layers` in each epoch's pass.  A period that
    :func:`start_early_search` searched during a later pass is taken from there.
    """
    redlines = _redlines(ctx)
    if redlines is None:
        return
    from ..encroachment import encroachment_summary
    from ..vectors import write_vector

    ref = ctx.spec.aoi.redlines
    assert ref is not None
    section: dict[str, Any] = {}
    todo = list(periods(ctx))
    early = ctx.early_encroachment
    rest = [p for p in todo if p[2] not in early]
    workers = min(len(rest), os.cpu_count() or 1, 2)
    if workers > 1:  # the periods side by side: GDAL's reads and the labelling kernel leave the GIL
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as ex:
            got = dict(zip((p[2] for p in rest), ex.map(lambda p: _search(ctx, p[0], p[1], p[2]), rest)))
    else:
        got = {key: _search(ctx, e1, e2, key) for e1, e2, key, _years in rest}
    for e1, e2, key, _years in todo:
        patches = early[key].result() if key in early else got[key]
        path = ctx.out / f"encroachment_{key}.gpkg"
        write_vector(patches, path, overwrite=ctx.overwrite)
        ctx.written.append(path)
        section[key] = {"file": path.name, **encroachment_summary(patches, redlines, id_field=ref.id_field)}
    ctx.summary["encroachment"] = section
