"""Open satellite tiles lazily and mosaic them onto one target grid.

Each dask block of the result is produced by one task that opens the tiles
overlapping it *by path* and reads just the window it needs (:func:`sinks.warp.read_onto`:
directly for tiles on the target grid's pixel lattice, else warped, nearest neighbour by
default), so the graph is cheap to ship to distributed workers and no file handle
crosses a task boundary.  Where tiles overlap, a named mosaic method decides which
tile fills a pixel (:mod:`sinks.mosaic`; by default the first tile, in the order
given, with a valid pixel).

The result is float32 surface reflectance (``DN × scale + offset``) with ``NaN``
wherever a pixel is nodata in any reflectance band or masked by a QA band; the
digital-number variant (:mod:`sinks.digital`) keeps the stored integers.  Single-band
integer rasters (land cover) are read by :func:`read_categorical` and
:func:`read_categorical_on`.  Finding tiles and reading their headers is
:mod:`sinks.tiles`; the grid maths is :mod:`sinks.grid`.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import rasterio
from rasterio.windows import Window

from .errors import BandMismatchError, NoOverlapError, TileReadError, first_line
from .grid import Grid, aligned_chunks, derive_grid, footprint, overlaps
from .mosaic import DEFAULT_MOSAIC, MosaicMethod, mosaic_method
from .remote import in_env, task_options, version_token
from .sensors import LANDSAT_QA_BITS, S2_SCL_MASKED, SensorProfile
from .tiles import (Scene, Tile, first_path, inspect_tile, scene_date, scene_radiometry, scene_radiometry_kind,
                    scene_sun, tiles_from_files)
from .warp import WindowRead, read_onto

__all__ = [
    "open_scene",
    "open_image",
    "open_epoch",
    "scene_array",
    "grid_dataarray",
    "read_categorical",
    "read_categorical_on",
    "block_array",
    "Chunks",
]

log = logging.getLogger("sinks")

#: A chunk size in pixels (cut on the tiles' blocks, :func:`sinks.grid.aligned_chunks`) or explicit (rows, cols) chunks.
Chunks = "int | tuple[tuple[int, ...], tuple[int, ...]]"


def _qa_invalid(role: str, values: np.ndarray) -> np.ndarray:
    v = values.astype(np.int64)
    if role == "scl":
        return np.isin(v, S2_SCL_MASKED)
    bits = 0
    for b in LANDSAT_QA_BITS:
        bits |= 1 << b
    return (v & bits) != 0


def _read_tile(tile: Tile, roles: tuple[str, ...], grid: Grid, win: Window,
               resampling: str) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray | None] | None:
    """One tile's digital numbers for ``roles`` inside ``win``: (data, nodata per band, row, col, valid).

    One read per file (:func:`sinks.warp.read_onto`): a stacked file's bands come in one
    read, a file per band one read each.  Each file is placed by its own grid, so the bands
    of one tile may differ in resolution (Sentinel-2's 20 m SWIR and SCL beside its 10 m
    bands): a file off the target's lattice is warped onto it with ``resampling``, and the
    pixels are then gathered on the whole window.
    """
    target = grid.subgrid(win)
    by_path: dict[str, list[int]] = {}
    for i, role in enumerate(roles):
        by_path.setdefault(tile.band(role).path, []).append(i)
    parts: list[tuple[list[int], WindowRead, float]] = []
    for path, idx in by_path.items():
        refs = [tile.band(roles[i]) for i in idx]
        nod = refs[0].nodata if refs[0].nodata is not None else 0
        src = tile.grid if len(by_path) == 1 else None  # a stacked file's grid is the tile's; band files say theirs
        got = read_onto(path, [r.band for r in refs], target, source_grid=src, resampling=resampling,
                        src_nodata=nod)
        if got is None:
            return None
        parts.append((idx, got, nod))
    frames = {(g.row, g.col, g.data.shape[1:]) for _i, g, _n in parts}
    if len(frames) == 1:  # every file covers the same part of the window (the usual case)
        (row, col, shape), = frames
        valid: np.ndarray | None = None
        for _i, g, _n in parts:
            if g.valid is not None:
                valid = g.valid if valid is None else valid & g.valid
        arrays = [(idx, g.data) for idx, g, _n in parts]
    else:  # files on different grids: gather on the whole window, valid where every file has pixels
        row, col, shape = 0, 0, target.shape
        valid = np.ones(shape, dtype=bool)
        arrays = []
        for idx, g, nod in parts:
            valid &= _coverage(g, shape)
            arrays.append((idx, g.filled(shape, nod)))
    if len(arrays) == 1 and arrays[0][0] == list(range(len(roles))):
        data = arrays[0][1]
    else:  # one file per band (or several stacks): gather in role order
        data = np.empty((len(roles), *shape), dtype=np.result_type(*(a.dtype for _i, a in arrays)))
        for idx, arr in arrays:
            data[idx] = arr
    nodata = np.array([np.nan if tile.band(r).nodata is None else tile.band(r).nodata for r in roles],
                      dtype=np.float64)
    h, w = shape
    for role in tile.roles:
        if role in ("scl", "qa_pixel"):
            ref = tile.band(role)
            got = read_onto(ref.path, [ref.band], target, src_nodata=ref.nodata if ref.nodata is not None else 0)
            if got is None:
                continue
            ok = np.zeros(target.shape, dtype=bool)  # the QA's verdict on the whole window
            qa = got.data[0]
            here = ~_qa_invalid(role, qa)
            if ref.nodata is not None:
                here &= qa != ref.nodata
            if got.valid is not None:
                here &= got.valid
            ok[got.row:got.row + qa.shape[0], got.col:got.col + qa.shape[1]] = here
            ok = ok[row:row + h, col:col + w]
            valid = ok if valid is None else valid & ok
    return data, nodata, row, col, valid


def _coverage(got: WindowRead, shape: tuple[int, int]) -> np.ndarray:
    """Where in a window of ``shape`` the read ``got`` has pixels (its warp mask, or its extent)."""
    out = np.zeros(shape, dtype=bool)
    h, w = got.data.shape[1:]
    out[got.row:got.row + h, got.col:got.col + w] = True if got.valid is None else got.valid
    return out


def _read_block(tiles: tuple[Tile, ...], roles: tuple[str, ...], grid: Grid, row0: int, col0: int,
                height: int, width: int, scale: float, offset: float, resampling: str,
                mosaic: MosaicMethod) -> np.ndarray:
    """Task body: mosaic one (band, y, x) block of reflectance from the tiles overlapping it.

    Each tile's digital numbers are read as stored and turned into reflectance by the
    mosaic method's compiled pass, which also decides which tile fills each pixel.
    """
    win = Window(col0, row0, width, height)
    out = np.empty((len(roles), height, width), dtype=np.float32)  # NaN only where no tile fills it
    filled = np.zeros((height, width), dtype=bool)
    todo = height * width
    for tile in mosaic.order(tiles):
        got = _read_tile(tile, roles, grid, win, resampling)
        if got is None:
            continue
        data, nodata, r, c, valid = got
        todo -= mosaic.fill(out, filled, data, nodata=nodata, scale=scale, offset=offset, row=r, col=c,
                            valid=valid, first=todo == height * width)
        if todo == 0:
            break
    if todo:
        mosaic.finish(out, filled)
    return out


def _read_block_dn(tiles: tuple[Tile, ...], roles: tuple[str, ...], grid: Grid, row0: int, col0: int,
                   height: int, width: int, nodata: int, dtype: str, resampling: str,
                   mosaic: MosaicMethod) -> np.ndarray:
    """Task body: mosaic one (band, y, x) block of the tiles' digital numbers, as stored.

    The same mosaic method as :func:`_read_block`; a pixel no tile fills holds
    ``nodata`` in every band.  A block that one tile serves alone is returned as read,
    without a copy (a pixel with ``nodata`` in some band then keeps its other bands;
    readers treat ``nodata`` in any band as no observation).  So is a block the first tile
    covers with no ``nodata`` in any band: the mosaic would copy it whole and no later tile
    would fill a pixel.
    """
    from ._kernels.mosaic import contains_value

    win = Window(col0, row0, width, height)
    out = filled = None
    todo = height * width
    for tile in mosaic.order(tiles):
        got = _read_tile(tile, roles, grid, win, resampling)
        if got is None:
            continue
        if got[4] is None and got[0].shape[1:] == (height, width) and got[0].dtype == dtype and (
                len(tiles) == 1 or (out is None and not contains_value(got[0], nodata))):
            return got[0]
        if out is None:
            out = np.full((len(roles), height, width), nodata, dtype=dtype)
            filled = np.zeros((height, width), dtype=bool)
        data, _nodata, r, c, valid = got
        todo -= mosaic.fill_dn(out, filled, data, nodata=nodata, row=r, col=c, valid=valid)
        if todo == 0:
            break
    return out if out is not None else np.full((len(roles), height, width), nodata, dtype=dtype)


def open_scene(tiles: Sequence[Tile], *, profile: SensorProfile, grid: Grid, date: dt.date | None = None,
               chunks: "Chunks" = 1024, resampling: str = "nearest", name: str = "scene",
               mosaic: str | MosaicMethod = DEFAULT_MOSAIC):
    """Lazy reflectance of one acquisition on ``grid``.

    ``mosaic`` names the rule for overlapping tiles (:data:`sinks.mosaic.MOSAIC_METHODS`;
    by default the first tile with a valid pixel wins).

    Returns
    -------
    xarray.DataArray
        dims ``("band", "y", "x")``, float32, band coordinate = reflectance roles,
        ``x``/``y`` pixel-centre coordinates, CRS attached with rioxarray.
    """
    date = scene_date(tiles, date)
    arr, (scale, off) = scene_array(tiles, profile=profile, grid=grid, date=date, chunks=chunks,
                                    resampling=resampling, name=name, mosaic=mosaic)
    return grid_dataarray(arr, ("band", "y", "x"), grid, name=name, band=list(profile.reflectance_roles),
                 attrs=dict(sensor=profile.name, scale=scale, offset=off, date=str(date) if date else "",
                            radiometry=scene_radiometry_kind(tiles, profile), source=first_path(tiles),
                            sun=scene_sun(tiles)))


def scene_array(tiles: Sequence[Tile], *, profile: SensorProfile, grid: Grid, date: dt.date | None,
                chunks: "Chunks", resampling: str, name: str, dn: tuple[int, str] | None = None,
                mosaic: str | MosaicMethod = DEFAULT_MOSAIC) -> tuple[Any, tuple[float, float]]:
    """The dask array ``(band, y, x)`` of one acquisition and the ``(scale, offset)`` that
    decode it (:func:`scene_radiometry`).

    With ``dn = (nodata, dtype)`` the blocks hold the tiles' digital numbers as stored
    (:func:`_read_block_dn`) instead of float32 reflectance.  Each block is one task that
    opens the tiles overlapping it by path and mosaics them with ``mosaic``.
    """
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    roles = profile.reflectance_roles
    missing = [r for r in ("green", "red", "nir") if r not in roles]
    if missing:
        raise BandMismatchError(f"sensor {profile.name!r} lacks required roles {', '.join(missing)}")
    use = [t for t in tiles if overlaps(t, grid)]
    if not use:
        raise NoOverlapError(f"{name}: none of its {len(tiles)} tiles overlap the target grid {grid.bounds}")
    scale, off = scene_radiometry(tiles, profile, date)
    method = mosaic_method(mosaic)
    ych, xch = aligned_chunks(grid, use, chunks) if isinstance(chunks, (int, np.integer)) else grid.chunks(chunks)
    token = tokenize(tuple(t.name for t in use), [t.bands for t in use], grid.to_dict(), roles,
                     scale, off, chunks, resampling, dn, method.name)
    key = f"{'dn' if dn else 'read'}-{name}-{token}"
    env = task_options(ref.path for t in use for _r, ref in t.bands)  # GDAL's network settings, in each task
    dsk = {}
    row = 0
    footprints = [footprint(t.grid, grid.crs) for t in use]
    for i, h in enumerate(ych):
        col = 0
        for j, w in enumerate(xch):
            sub = grid.subgrid(Window(col, row, w, h)).bounds
            hits = tuple(t for t, fp in zip(use, footprints)
                         if fp[0] < sub[2] and fp[2] > sub[0] and fp[1] < sub[3] and fp[3] > sub[1])
            if dn is None:
                dsk[(key, 0, i, j)] = (in_env, env, _read_block, hits, roles, grid, row, col, h, w, scale,
                                         off, resampling, method)
            else:
                dsk[(key, 0, i, j)] = (in_env, env, _read_block_dn, hits, roles, grid, row, col, h, w, dn[0],
                                         dn[1], resampling, method)
            col += w
        row += h
    graph = HighLevelGraph.from_collections(key, dsk, dependencies=[])
    dtype = np.float32 if dn is None else np.dtype(dn[1])
    return da.Array(graph, key, chunks=((len(roles),), ych, xch), dtype=dtype), (scale, off)


def grid_dataarray(data: Any, dims: tuple[str, ...], grid: Grid, *, name: str, attrs: dict[str, Any],
                   **coords: Any) -> Any:
    """One DataArray on ``grid`` with pixel-centre ``x``/``y`` and rioxarray's ``spatial_ref``,
    built in a single constructor call (no concat or coordinate merging)."""
    import rioxarray  # noqa: F401 - registers the .rio accessor
    import xarray as xr

    x, y = grid.xy_coords()
    ref = _spatial_ref(grid.crs.to_wkt(), tuple(grid.transform))
    out = xr.DataArray(data, dims=dims, coords={**coords, "y": y, "x": x, "spatial_ref": ref}, name=name,
                       attrs=attrs)
    out.encoding["grid_mapping"] = "spatial_ref"
    return out


@functools.lru_cache(maxsize=64)
def _spatial_ref(crs_wkt: str, transform: tuple[float, ...]) -> Any:
    """rioxarray's ``spatial_ref`` coordinate for a CRS and transform (its CF attributes are costly)."""
    import rioxarray  # noqa: F401
    import xarray as xr
    from affine import Affine

    probe = xr.DataArray(np.zeros((1, 1), np.uint8), dims=("y", "x"))
    probe = probe.rio.write_crs(crs_wkt).rio.write_transform(Affine(*transform[:6]))
    return probe.coords["spatial_ref"]


def open_image(paths: str | os.PathLike | Sequence[str | os.PathLike], *, profile: SensorProfile,
               grid: Grid | None = None, chunks: "Chunks" = 1024, date: dt.date | None = None,
               mosaic: str | MosaicMethod = DEFAULT_MOSAIC):
    """Open one image (one or several tiles of one acquisition) lazily.

    Returns
    -------
    (xarray.DataArray, Grid)
        Reflectance with dims ``("band", "y", "x")`` and the grid it is on (the
        tiles' own grid unless ``grid`` is given).

    Raises
    ------
    PixelBudgetError
        The grid has more pixels than :func:`sinks.budget.max_pixels`.
    """
    from .budget import bounded_chunks, check_pixels

    plist = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    tiles = tiles_from_files(plist, profile)
    target = grid or derive_grid(tiles)
    check_pixels(target.width, target.height, what=str(plist[0]))  # before any graph is built
    if isinstance(chunks, int):
        chunks = bounded_chunks(target.width, target.height, chunks)
    return open_scene(tiles, profile=profile, grid=target, date=date, chunks=chunks,
                      name=Path(str(plist[0])).stem, mosaic=mosaic), target


def open_epoch(scenes: Sequence[Scene], *, profile: SensorProfile, grid: Grid, chunks: "Chunks" = 1024,
               resampling: str = "nearest", name: str = "epoch", mosaic: str | MosaicMethod = DEFAULT_MOSAIC):
    """Lazy reflectance of all acquisitions of one epoch, dims ``("time", "band", "y", "x")``.

    The attributes (sensor, scale, offset, date) are the first acquisition's; ``mosaic``
    as in :func:`open_scene`.
    """
    import dask.array as da

    if isinstance(chunks, (int, np.integer)):  # one chunking for every acquisition, on the tiles' blocks
        chunks = aligned_chunks(grid, [t for sc in scenes for t in sc.tiles], int(chunks))
    arrays, scalings = [], []
    for k, sc in enumerate(scenes):
        arr, scaling = scene_array(sc.tiles, profile=profile, grid=grid, date=sc.date, chunks=chunks,
                                   resampling=resampling, name=f"{name}-{sc.date or k}", mosaic=mosaic)
        arrays.append(arr)
        scalings.append(scaling)
    times = np.array([np.datetime64(sc.date, "ns") if sc.date else np.datetime64("NaT", "ns") for sc in scenes])
    first = scenes[0].date
    attrs = dict(sensor=profile.name, scale=scalings[0][0], offset=scalings[0][1], date=str(first) if first else "",
                 radiometry=scene_radiometry_kind([t for sc in scenes for t in sc.tiles], profile))
    return grid_dataarray(da.stack(arrays, axis=0), ("time", "band", "y", "x"), grid, name=name, attrs=attrs,
                 time=times, band=list(profile.reflectance_roles))


def read_categorical(path: str | os.PathLike, *, chunks: "Chunks" = 1024, grid: Grid | None = None,
                     after: Any = None):
    """Open a single-band integer raster (land cover) lazily as a dask array.

    ``after``: a dask array on the same chunks whose blocks the reads wait for (see
    :func:`block_array`).

    Returns
    -------
    (dask.array.Array, Grid, nodata)
    """
    from dask.base import tokenize

    info = inspect_tile(path)
    if grid is not None and not grid.same_as(info.grid):
        from .errors import GridMismatchError

        raise GridMismatchError(f"{info.path}: grid differs from the expected grid")
    if np.dtype(info.dtype).kind not in "iub":
        raise BandMismatchError(f"{info.path}: land cover must be an integer raster, found {info.dtype}")
    g = info.grid
    key = (f"cat-{Path(info.path).stem}-"
           f"{tokenize(info.path, info.size_bytes, version_token(info.path), chunks, _name(after))}")
    env = task_options([info.path])
    arr = block_array(key, g.chunks(chunks), np.dtype(info.dtype),
                      lambda row, col, h, w: (in_env, env, _read_plain, info.path, row, col, h, w), after=after)
    return arr, g, info.nodata


def block_array(key: str, chunks: tuple[tuple[int, ...], tuple[int, ...]], dtype: Any,
                task: Callable[[int, int, int, int], tuple], *, after: Any = None) -> Any:
    """A 2-D dask array of block tasks: ``task(row, col, height, width)`` gives the task tuple
    (function and arguments) of the block at that window.

    ``after``, a dask array with the same chunks, makes each block task wait for the
    matching block of ``after`` (its value is not used).  A read that feeds a reduction
    together with a computed layer (the truth beside the land cover, the previous
    epoch's land cover beside this one) then runs as soon as that layer's block exists.
    Without it the reads are roots of the graph, which dask's ordering schedules late,
    so the computed blocks wait in memory for them: hundreds of blocks at 400 Mpx.
    """
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    ych, xch = chunks
    if after is not None and tuple(map(tuple, after.chunks)) != (tuple(ych), tuple(xch)):
        raise ValueError(f"{key}: chunks differ from those of the array to read after")
    dsk = {}
    row = 0
    for i, h in enumerate(ych):
        col = 0
        for j, w in enumerate(xch):
            t = task(row, col, h, w)
            dsk[(key, i, j)] = t if after is None else (_after, (after.name, i, j), *t)
            col += w
        row += h
    deps = [] if after is None else [after]
    return da.Array(HighLevelGraph.from_collections(key, dsk, dependencies=deps), key, chunks=(ych, xch),
                    dtype=np.dtype(dtype))


def _name(arr: Any) -> str | None:
    return None if arr is None else arr.name


def _after(_done: Any, func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)``, once the block passed first (ignored) has been computed."""
    return func(*args)


def read_categorical_on(path: str | os.PathLike, grid: Grid, *, chunks: "Chunks" = 1024, after: Any = None):
    """A single-band integer raster's values under ``grid``, lazily (dask array), or ``None``.

    ``grid`` must lie on the file's pixel lattice (same CRS and resolution, whole-pixel
    offset): a sub-grid, or one reaching beyond the file, whose pixels outside the file
    read as 0.  ``None`` when it does not (the values would need resampling).  ``after``:
    see :func:`block_array`.
    """
    from dask.base import tokenize

    info = inspect_tile(path)
    if np.dtype(info.dtype).kind not in "iub":
        raise BandMismatchError(f"{info.path}: expected an integer raster, found {info.dtype}")
    offset = info.grid.offset_in(grid)
    if offset is None:
        return None
    col0, row0 = offset
    blocks = grid.chunks(chunks)
    key = (f"cat-on-{Path(info.path).stem}-"
           f"{tokenize(info.path, info.size_bytes, version_token(info.path), grid.to_dict(), blocks, _name(after))}")
    env = task_options([info.path])
    return block_array(key, blocks, np.dtype(info.dtype),
                       lambda row, col, h, w: (in_env, env, _read_plain, info.path, row0 + row, col0 + col, h, w,
                                               True), after=after)


def _read_plain(path: str, row: int, col: int, h: int, w: int, boundless: bool = False) -> np.ndarray:
    got = _read_plain_blocks(path, row, col, h, w, boundless)
    if got is not None:
        return got
    try:
        with rasterio.open(path) as ds:
            if not boundless:
                return ds.read(1, window=Window(col, row, w, h))
            # the part inside the file, placed in a block of zeros (rasterio's boundless
            # read would go through a warped VRT even for windows inside the file)
            r0, c0 = max(row, 0), max(col, 0)
            r1, c1 = min(row + h, ds.height), min(col + w, ds.width)
            if r0 == row and c0 == col and r1 == row + h and c1 == col + w:
                return ds.read(1, window=Window(col, row, w, h))
            out = np.zeros((h, w), dtype=ds.dtypes[0])
            if r1 > r0 and c1 > c0:
                out[r0 - row:r1 - row, c0 - col:c1 - col] = ds.read(1, window=Window(c0, r0, c1 - c0, r1 - r0))
            return out
    except rasterio.errors.RasterioError as exc:
        raise TileReadError(f"{path}: read failed ({first_line(exc)})") from None


def _read_plain_blocks(path: str, row: int, col: int, h: int, w: int, boundless: bool) -> np.ndarray | None:
    """:func:`_read_plain` decoded from the file's tiles (:mod:`sinks.tiffblocks`, which
    spares a GDAL open per block), or ``None`` where GDAL reads it (another layout, a
    window outside a file read without ``boundless``, a tile that does not decode)."""
    from . import tiffblocks

    lay = tiffblocks.layout(path)
    if lay is None:
        return None
    r0, c0 = max(row, 0), max(col, 0)
    r1, c1 = min(row + h, lay.height), min(col + w, lay.width)
    inside = (r0, c0, r1, c1) == (row, col, row + h, col + w)
    if not (inside or boundless):
        return None
    try:
        if inside:
            return tiffblocks.read_window(path, lay, [1], row, col, h, w)[0]
        out = np.zeros((h, w), dtype=lay.dtype)
        if r1 > r0 and c1 > c0:
            out[r0 - row:r1 - row, c0 - col:c1 - col] = tiffblocks.read_window(path, lay, [1], r0, c0, r1 - r0,
                                                                                c1 - c0)[0]
        return out
    except tiffblocks.Undecodable:
        return None
    except OSError as exc:
        raise TileReadError(f"{path}: read failed ({first_line(exc)})") from None
