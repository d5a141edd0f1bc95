"""Change stage (lazy, per epoch): the transition map from the previous epoch and its transition areas."""

from __future__ import annotations

from pathlib import Path

from .context import EpochData, RunContext
from .landcover import landcover_path

__all__ = ["stage_change_layers", "change_path"]


def change_path(ctx: RunContext, key: str) -> Path:
    """Where the transition map of period ``key`` (``"<e1>_<e2>"``) is written."""
    return ctx.out / f"change_{key}.tif"


def stage_change_layers(ctx: RunContext, ep: EpochData) -> None:
    """Lazy change map from the previous epoch to ``ep`` (and its transition counts),
    computed in ``ep``'s write pass.

    The previous epoch's land cover is read from its file, written by the previous
    pass; this epoch's comes straight from the classifier, so it is not read back.
    """
    from ..change import change_output
    from ..io import read_categorical

    k = next(i for i, e in enumerate(ctx.epochs) if e is ep)
    lc2 = ep.layers.get("landcover")
    if k == 0 or lc2 is None:
        return
    prev = ctx.epochs[k - 1]
    lc2 = getattr(lc2, "data", lc2)
    # read block by block as this epoch's blocks are computed (see io.block_array)
    lc1, _g, _nd = read_categorical(landcover_path(ctx, prev.name), chunks=lc2.chunks, grid=ctx.grid, after=lc2)
    ep.layers["landcover_previous"] = lc1  # the same blocks serve the zone tallies (stages.zonal)
    key = f"{prev.name}_{ep.name}"
    ep.outputs.append(change_output(lc1, lc2, change_path(ctx, key),
                                    description=f"land-cover change {prev.name} -> {ep.name}"))
    if ctx.spec.carbon.enabled:
        from ..carbon.sink import transition_matrix
        from ..landcover import CODES

        ep.reductions["transitions"] = transition_matrix(lc1, lc2, ctx.grid, codes=sorted(CODES.values()),
                                                         nodata=(0, 0), compute=False)
