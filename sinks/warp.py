"""One windowed read of a raster file onto a target grid, warped when it must be.

Every reader of sinks that puts a file's pixels on another grid goes through
:func:`read_onto`: the tiles' mosaic (:mod:`sinks.io`), a land-cover map aligned to
another (:mod:`sinks.carbon.lcio`) and the decimated threshold sample
(:mod:`sinks.classify.sample`).  A file whose pixels lie on the target's lattice (same
CRS and resolution, whole-pixel offset) is read directly, clipped to what it covers;
any other is warped through a :class:`rasterio.vrt.WarpedVRT` onto exactly the target
grid (nearest neighbour by default, so no pixel is shifted or blended with nodata).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import rasterio
from rasterio.windows import Window

from .errors import TileReadError, first_line
from .grid import Grid

log = logging.getLogger("sinks")

__all__ = ["WindowRead", "read_onto"]


@dataclass(frozen=True)
class WindowRead:
    """Pixels of one file under a target grid.

    Attributes
    ----------
    data : numpy.ndarray
        ``(bands, h, w)`` values as stored (no scaling).
    row, col : int
        Where ``data`` starts inside the target (a file on the lattice may cover only part of it).
    valid : numpy.ndarray or None
        ``(h, w)`` True where the warp had source pixels in every band; ``None`` for a
        direct read (nodata values are then the only mark of a missing pixel).
    """

    data: np.ndarray
    row: int
    col: int
    valid: np.ndarray | None

    def filled(self, shape: tuple[int, int], fill: float) -> np.ndarray:
        """``data`` placed in a ``(bands, *shape)`` array of ``fill`` (the whole target)."""
        h, w = self.data.shape[1:]
        if (self.row, self.col) == (0, 0) and (h, w) == tuple(shape):
            return self.data
        out = np.full((self.data.shape[0], *shape), fill, dtype=self.data.dtype)
        out[:, self.row:self.row + h, self.col:self.col + w] = self.data
        return out


def read_onto(path: str, indexes: Sequence[int], target: Grid, *, source_grid: Grid | None = None,
              resampling: str = "nearest", src_nodata: float | None = None, dst_nodata: float | None = None,
              overview_level: int | None = None) -> WindowRead | None:
    """Read bands ``indexes`` (1-based) of ``path`` under ``target``.

    Parameters
    ----------
    path : str
        One raster file (one open, one read: the bands of a pixel-interleaved COG share
        its compressed blocks, which are then decoded once for all bands).
    indexes : sequence of int
    target : Grid
        The grid to fill (a dask block's sub-grid, a sample grid).
    source_grid : Grid, optional
        The file's grid when the caller knows it (saves reading it from the header).
    resampling : str
        A :class:`rasterio.enums.Resampling` name, used when the file is warped.
    src_nodata, dst_nodata : float, optional
        The warp's source and destination nodata; by default the file's own and the
        source value.
    overview_level : int, optional
        Warp from this overview of the file instead of its full resolution (a direct
        read on the lattice always reads the full resolution).

    Returns
    -------
    WindowRead or None
        ``None`` when the file does not reach into ``target``.

    Raises
    ------
    TileReadError
        GDAL failed to open or read the file (the message names it).
    """
    from rasterio.enums import Resampling

    from rasterio.vrt import WarpedVRT

    bands = list(indexes)
    if overview_level is None and source_grid is not None:
        got = _read_blocks(path, bands, target, source_grid)
        if got is not False:
            return got
    kw = {} if overview_level is None else {"overview_level": overview_level}
    try:
        with rasterio.open(path, **kw) as ds:
            offset = None
            if overview_level is None:
                offset = target.offset_in(source_grid or Grid.from_dataset(ds))
            if offset is not None:  # on the target's lattice: a plain windowed read
                col0, row0 = offset  # the file's corner in the target's pixels
                c0, r0 = max(col0, 0), max(row0, 0)
                c1, r1 = min(col0 + ds.width, target.width), min(row0 + ds.height, target.height)
                if c1 <= c0 or r1 <= r0:
                    return None
                data = ds.read(bands, window=Window(c0 - col0, r0 - row0, c1 - c0, r1 - r0))
                return WindowRead(data, r0, c0, None)
            opts: dict[str, float] = {}
            if src_nodata is not None:
                opts["src_nodata"] = src_nodata
            if dst_nodata is not None or src_nodata is not None:
                opts["nodata"] = dst_nodata if dst_nodata is not None else src_nodata
            with WarpedVRT(ds, crs=target.crs, transform=target.transform, width=target.width,
                           height=target.height, resampling=getattr(Resampling, resampling), **opts) as vrt:
                data = vrt.read(bands)
                valid = (vrt.read_masks(bands) > 0).all(axis=0)
            return WindowRead(data, 0, 0, valid)
    except rasterio.errors.RasterioError as exc:
        raise TileReadError(f"{path}: read failed ({first_line(exc)})") from None


def _read_blocks(path: str, bands: list[int], target: Grid, source: Grid) -> WindowRead | None | bool:
    """The direct read of a file on ``target``'s lattice, decoded from its tiles without
    GDAL (:mod:`sinks.tiffblocks`); ``False`` when that decoder does not apply (off the
    lattice, another layout, a tile that does not decode): the caller then uses GDAL."""
    from . import tiffblocks

    offset = target.offset_in(source)
    if offset is None:
        return False
    lay = tiffblocks.layout(path)
    if (lay is None or (lay.height, lay.width) != (source.height, source.width) or not bands
            or min(bands) < 1 or max(bands) > lay.samples):
        return False  # GDAL reads it, or says what is wrong with the request
    col0, row0 = offset
    c0, r0 = max(col0, 0), max(row0, 0)
    c1, r1 = min(col0 + source.width, target.width), min(row0 + source.height, target.height)
    if c1 <= c0 or r1 <= r0:
        return None
    try:
        data = tiffblocks.read_window(path, lay, bands, r0 - row0, c0 - col0, r1 - r0, c1 - c0)
    except tiffblocks.Undecodable as exc:
        log.debug("%s: %s; reading through GDAL", path, exc)
        return False
    except OSError as exc:
        raise TileReadError(f"{path}: read failed ({first_line(exc)})") from None
    return WindowRead(data, r0, c0, None)
