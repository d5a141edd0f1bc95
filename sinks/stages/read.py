"""Reading stages (lazy, per epoch): the mosaic of reflectance on the target grid, and spectral indices."""

from __future__ import annotations

import datetime as dt

import numpy as np

from ..indices import compute_indices
from ..io import open_epoch
from ..outputs import RasterOutput
from .context import EpochData, RunContext

__all__ = ["stage_read", "stage_indices"]


def stage_read(ctx: RunContext, ep: EpochData) -> None:
    """Lazy mosaic of every acquisition of the epoch on the target grid (``ep.refl``).

    In a batch region, pixels outside the region are nodata (NaN).  With
    ``outputs.reflectance`` each band of each acquisition is also written.
    """
    ep.refl = open_epoch(ep.scenes, profile=ctx.profile, grid=ctx.grid, chunks=ctx.chunks,
                         resampling=ctx.spec.grid.resampling, name=f"refl-{ep.name}", mosaic=ctx.spec.grid.mosaic)
    inside = ctx.region_mask()
    if inside is not None:
        import dask.array as da

        ep.refl = ep.refl.copy(data=da.where(inside[None, None], ep.refl.data,  # (time, band, y, x) broadcast
                                             np.float32(np.nan)))
    if ctx.spec.outputs.reflectance:
        for k, sc in enumerate(ep.scenes):
            tag = _date_tag(sc.date, k)
            for role in ep.refl.band.values:
                ep.outputs.append(RasterOutput(
                    ctx.out / "reflectance" / ep.name / f"{role}_{tag}.tif",
                    ep.refl.isel(time=k).sel(band=role).data, nodata=np.nan,
                    description=f"surface reflectance {role} {sc.date}", tags={"units": "reflectance"}))


def _date_tag(date: dt.date | None, k: int) -> str:
    return date.strftime("%Y%m%d") if date else f"scene{k}"


def stage_indices(ctx: RunContext, ep: EpochData) -> None:
    """Spectral indices per acquisition, written as float32 COGs (the stage runs only when asked to write).

    The classifier computes the indices it needs inside its own kernel; these layers
    are for users who want the index maps themselves.
    """
    spec = ctx.spec.indices
    if not spec.names:
        return
    for k, sc in enumerate(ep.scenes):
        ds = compute_indices(ep.refl.isel(time=k), spec.names)
        tag = _date_tag(sc.date, k)
        for name in spec.names:
            ep.outputs.append(RasterOutput(
                ctx.out / "indices" / ep.name / f"{name}_{tag}.tif", ds[name].data, nodata=np.nan,
                description=f"{name.upper()} {sc.date}", tags={"index": name, "date": str(sc.date)}))
