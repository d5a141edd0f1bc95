"""Goals stage: forest coverage and stock volume against the national targets."""

from __future__ import annotations

from .context import RunContext

__all__ = ["stage_goals"]


def stage_goals(ctx: RunContext) -> None:
    """Goal tracking for the AOI and each region (``summary["goals"]``)."""
    from ..goals import load_targets, track_goals

    targets = load_targets(ctx.spec.goals.targets, aoi=ctx.spec.goals.aoi_targets)
    regions = ctx.zonal.tables.get("regions") if ctx.zonal is not None else None
    ref = ctx.spec.aoi.regions
    summary = {**ctx.summary, "epochs": [{"name": e.name, "year": e.spec.year} for e in ctx.epochs]}
    ctx.summary["goals"] = track_goals(summary, targets=targets,
                                       regions=None if regions is None else regions.drop(columns="geometry"),
                                       id_field=(ref.id_field if ref is not None else None))
