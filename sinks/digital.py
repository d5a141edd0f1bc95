"""Acquisitions as the tiles' digital numbers, for kernels that decode them as they read.

:func:`sinks.io.open_scene` turns every block into float32 reflectance
(``DN × scale + offset``, NaN where no tile holds a valid pixel): 4 bytes a band-pixel
written and read again by whatever consumes it.  The rule classifier needs each value
once, so the pipeline hands it the stored integers instead (2 bytes for uint16 tiles,
and a block served by one tile is GDAL's own array, not a copy) and the kernel decodes
them (:func:`sinks._kernels.rules.rules_block` with ``decode``).  Results are the same
to the bit: the kernel does the float32 arithmetic the mosaic would have done.

This works when every reflectance band of every tile is an integer band of one dtype
with one declared nodata number, which is then the mark of "no observation" in any
band; :func:`dn_layout` says whether that holds, and the callers fall back to
reflectance otherwise.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

import numpy as np

from .grid import Grid
from .grid import overlaps
from .io import grid_dataarray, scene_array
from .mosaic import DEFAULT_MOSAIC, MosaicMethod
from .tiles import Tile, first_path, inspect_tile, scene_date, scene_radiometry_kind, scene_sun
from .sensors import SensorProfile

__all__ = ["dn_layout", "open_scene_dn", "is_dn", "dn_reflectance", "DN_NODATA"]

#: Attribute naming the nodata number of a digital-number scene (its presence marks one).
DN_NODATA = "dn_nodata"


def dn_layout(tiles: Sequence[Tile], roles: Sequence[str]) -> tuple[int, str] | None:
    """``(nodata, dtype)`` shared by the ``roles`` bands of every tile, or ``None``.

    ``None`` when a band is not an integer band, declares no nodata, or when the tiles
    differ in dtype or nodata: their digital numbers could not mark "no observation"
    with one number.
    """
    nodata: set[float] = set()
    dtypes: set[str] = set()
    for tile in tiles:
        for role in roles:
            ref = tile.band(role)
            if ref.nodata is None:
                return None
            nodata.add(float(ref.nodata))
            dtypes.add(str(inspect_tile(ref.path, check_truncation=False).dtype))
            if len(nodata) > 1 or len(dtypes) > 1:
                return None
    if not nodata:
        return None
    (nd,), (dtype,) = nodata, dtypes
    kind = np.dtype(dtype)
    if kind.kind not in "iu" or not nd.is_integer():
        return None
    info = np.iinfo(kind)
    if not info.min <= nd <= info.max:
        return None
    return int(nd), dtype


def open_scene_dn(tiles: Sequence[Tile], *, profile: SensorProfile, grid: Grid, date: dt.date | None = None,
                  chunks: Any = 1024, resampling: str = "nearest", name: str = "scene",
                  mosaic: str | MosaicMethod = DEFAULT_MOSAIC) -> Any:
    """Lazy digital numbers of one acquisition on ``grid``, or ``None`` (see :func:`dn_layout`).

    ``mosaic``: how overlapping tiles combine (:mod:`sinks.mosaic`), as in :func:`sinks.io.open_scene`.

    Returns
    -------
    xarray.DataArray or None
        dims ``("band", "y", "x")`` in the tiles' integer dtype; ``attrs`` carry
        ``scale``, ``offset`` (reflectance = DN × scale + offset) and ``dn_nodata``.
        A pixel that holds ``dn_nodata`` in any band has no observation.
    """
    use = [t for t in tiles if overlaps(t, grid)]
    roles = profile.reflectance_roles
    layout = dn_layout(use, roles)
    if layout is None:
        return None
    date = scene_date(tiles, date)
    arr, (scale, off) = scene_array(use, profile=profile, grid=grid, date=date, chunks=chunks,
                                    resampling=resampling, name=name, dn=layout, mosaic=mosaic)
    return grid_dataarray(arr, ("band", "y", "x"), grid, name=name, band=list(roles),
                 attrs=dict(sensor=profile.name, scale=scale, offset=off, date=str(date) if date else "",
                            radiometry=scene_radiometry_kind(tiles, profile), source=first_path(tiles),
                            sun=scene_sun(tiles), **{DN_NODATA: layout[0]}))


def is_dn(scene: Any) -> bool:
    """Whether ``scene`` holds digital numbers (from :func:`open_scene_dn`) rather than reflectance."""
    return DN_NODATA in getattr(scene, "attrs", {}) and np.dtype(scene.dtype).kind in "iu"


def _decode_block(block: np.ndarray, scale: np.float32, offset: np.float32, nodata: int) -> np.ndarray:
    out = block.astype(np.float32) * scale + offset
    out[:, (block == block.dtype.type(nodata)).any(axis=0)] = np.nan
    return out


def dn_reflectance(scene: Any) -> Any:
    """The float32 reflectance of a digital-number scene, lazily (NaN where any band is nodata).

    The same numbers :func:`sinks.io.open_scene` gives for the same tiles.
    """
    if not is_dn(scene):
        return scene
    data = scene.data
    scale, offset = np.float32(scene.attrs["scale"]), np.float32(scene.attrs["offset"])
    nodata = int(scene.attrs[DN_NODATA])
    if hasattr(data, "map_blocks"):
        refl = data.rechunk({0: -1}).map_blocks(_decode_block, scale, offset, nodata, dtype=np.float32)
    else:
        refl = _decode_block(np.asarray(data), scale, offset, nodata)
    out = scene.copy(data=refl)
    out.attrs = {k: v for k, v in scene.attrs.items() if k != DN_NODATA}
    return out
