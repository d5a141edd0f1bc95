"""Open land-cover rasters for carbon accounting: integer check, nodata, grid alignment.

:func:`open_landcover` reads a single-band integer raster either into memory (small
rasters: no dask import, fastest for the CLI) or lazily as dask blocks read by path.
An alternate map on another grid raises :class:`~sinks.errors.GridMismatchError`
unless ``align=True``, which warps it onto the baseline grid with nearest neighbour
through :class:`rasterio.vrt.WarpedVRT` (no pixel shift, no blending of classes).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..budget import check_pixels
from ..errors import BandMismatchError, GridMismatchError, TileReadError, first_line
from ..grid import Grid
from .stock import _nodata_int
from .tables import CarbonTable

__all__ = ["LandCover", "open_landcover", "effective_nodata", "describe_grid", "IN_MEMORY_MAX_PIXELS"]

log = logging.getLogger("sinks")

IN_MEMORY_MAX_PIXELS: int = 16 * 1024 * 1024
"""Rasters up to this many pixels are read into memory by default."""


@dataclass(frozen=True)
class LandCover:
    """A land-cover raster opened on a grid.

    Attributes
    ----------
    data : numpy.ndarray or dask.array.Array
        Integer codes on ``grid``.
    grid : Grid
    nodata : int or None
        The file's nodata value (if it is an integer the dtype can hold).
    path : str
    warped : bool
        True when the file was warped onto ``grid`` (nearest neighbour).
    """

    data: Any
    grid: Grid
    nodata: int | None
    path: str
    warped: bool = False


def effective_nodata(nodata: int | None, table: CarbonTable | None = None) -> int | None:
    """The nodata value to use: the file's, else ``0`` (the sinks legend's nodata) when
    the table has no class ``0``, else none."""
    if nodata is not None:
        return nodata
    if table is not None and 0 in table:
        return None
    return 0


def describe_grid(g: Grid) -> str:
    """Short human description of a grid for messages."""
    rx, ry = g.res
    crs = g.crs.to_string() or "custom CRS"
    return f"{crs}, {rx:g} x {ry:g} px, {g.width} x {g.height}, origin ({g.transform.c:.6g}, {g.transform.f:.6g})"


def open_landcover(path: str | os.PathLike, *, grid: Grid | None = None, align: bool = False,
                   in_memory: bool | None = None, chunks: int = 1024, reference: str | None = None,
                   align_hint: str = "align=True") -> LandCover:
    """Open a single-band integer land-cover raster, on its own grid or on ``grid``.

    Parameters
    ----------
    path : path
    grid : Grid, optional
        Target grid.  If the file's grid differs: with ``align`` it is warped onto
        ``grid`` with nearest neighbour (:class:`rasterio.vrt.WarpedVRT`); otherwise
        :class:`~sinks.errors.GridMismatchError`.
    align : bool
    in_memory : bool, optional
        Read into a numpy array (fast for small rasters) or lazily as dask blocks of
        ``chunks`` pixels.  Default: in memory up to 16 Mpx.
    chunks : int
    reference : str, optional
        Name of the raster defining ``grid``, for messages.
    align_hint : str
        How the caller asks for ``align`` (``align=True``; the command line passes ``--align``),
        named in the grid-mismatch message.

    Raises
    ------
    TileReadError
        Missing or unreadable file (names it).
    BandMismatchError
        Not an integer raster (float land cover, possibly with NaN).
    GridMismatchError
        Different grid without ``align``.
    PixelBudgetError
        More pixels than :func:`sinks.budget.max_pixels`.
    """
    import rasterio

    from ..tiles import inspect_tile

    info = inspect_tile(path)
    p = info.path
    check_pixels(info.grid.width, info.grid.height, what=p)  # before any graph is built
    dtype = np.dtype(info.dtype)
    if dtype.kind not in "iub":
        raise BandMismatchError(f"{p}: land cover must be an integer raster, found {info.dtype}")
    if info.count > 1:
        log.warning("%s: %d bands; using band 1 as land cover", p, info.count)
    nodata = _nodata_int(info.nodata)
    if nodata is not None and dtype.kind in "iu" and not np.iinfo(dtype).min <= nodata <= np.iinfo(dtype).max:
        nodata = None
    target = grid or info.grid
    warp = not target.same_as(info.grid)
    if warp and not align:
        ref = f" {reference}" if reference else " the baseline"
        raise GridMismatchError(
            f"{p}: grid differs from{ref} ({describe_grid(info.grid)} vs {describe_grid(target)}); "
            f"pass {align_hint} to warp it onto the baseline grid with nearest neighbour"
        )
    dst_nodata = nodata
    if warp:
        if dst_nodata is None:
            dst_nodata = 0
            log.warning("%s has no nodata value; pixels outside it are set to 0 when warping", p)
        log.info("warping %s onto the baseline grid (nearest neighbour)", p)
    big = target.width * target.height > IN_MEMORY_MAX_PIXELS
    if in_memory is None:
        in_memory = not big
    if in_memory:
        if warp:
            arr = _warped_block(p, target, dst_nodata, 0, 0, target.height, target.width)
        else:
            try:
                with rasterio.open(p) as ds:
                    arr = ds.read(1)
            except rasterio.errors.RasterioError as exc:
                raise TileReadError(f"{p}: read failed ({first_line(exc)})") from None
        return LandCover(arr, target, dst_nodata, p, warp)
    if not warp:
        from ..io import read_categorical

        arr, _g, _nd = read_categorical(p, chunks=chunks)
        return LandCover(arr, target, dst_nodata, p, False)
    return LandCover(_warped_dask(p, target, dtype, dst_nodata, chunks), target, dst_nodata, p, True)


def _warped_block(path: str, grid: Grid, nodata: int | None, row: int, col: int, h: int, w: int) -> np.ndarray:
    """The ``(h, w)`` window at ``(row, col)`` of ``grid`` from ``path``, nearest neighbour, ``nodata`` outside it."""
    from rasterio.windows import Window

    from ..warp import read_onto

    target = grid.subgrid(Window(col, row, w, h))
    got = read_onto(path, [1], target, dst_nodata=nodata)
    if got is None:
        return np.full((h, w), 0 if nodata is None else nodata, dtype=_dtype(path))
    return got.filled((h, w), 0 if nodata is None else nodata)[0]


def _dtype(path: str) -> np.dtype:
    from ..tiles import inspect_tile

    return np.dtype(inspect_tile(path).dtype)


def _warped_dask(path: str, grid: Grid, dtype: np.dtype, nodata: int | None, chunks: int) -> Any:
    from dask.base import tokenize

    from ..io import block_array

    key = f"warped-lc-{tokenize(path, os.path.getmtime(path), grid.to_dict(), nodata, chunks)}"
    return block_array(key, grid.chunks(chunks), dtype,
                       lambda row, col, h, w: (_warped_block, path, grid, nodata, row, col, h, w))
