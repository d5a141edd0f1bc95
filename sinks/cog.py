"""Cloud-Optimized GeoTIFFs written in one pass from dask, tile by tile.

Each block task compresses its own 512-px tiles under the creation options of the final
file (DEFLATE and ZSTD tiles directly through libdeflate and libzstd, other layouts
with GDAL's GeoTIFF encoder on an in-memory GeoTIFF of the block) and hands the
compressed bytes back in its result, or, on a cluster and for uncompressed tiles,
writes them to a part file of its own (see :func:`plan_cog`); it also picks the pixels
of the first overview level that fall in its block.  Overview tiles are built level by level from
the level below, each tile task picking the pixels of the next level from its tile, so
what waits in memory is a row of small pieces, never a whole level.  Once every tile
is compressed, :func:`assemble` lays the file out as the COG layout wants it (the image
file directories of every level first, then the tiles from the smallest overview to the
full resolution) and copies the compressed bytes in: no pixel is decoded or compressed
twice, and there is no intermediate raster.

Overviews are nearest-neighbour, exactly as GDAL's COG driver makes them: level ``k``
halves level ``k - 1`` (rounding down) and takes the pixel ``int(0.5 + i × n_{k-1} /
n_k)`` of it in each direction, so every overview pixel is one full-resolution pixel
and the files equal, pixel for pixel and level for level, the ones GDAL writes (a test
compares them).  Layers with averaged overviews (smooth indices and reflectance) are
written the same way without overviews, as a tiled GeoTIFF that GDAL's COG driver then
copies with its averaged overviews (:mod:`sinks.outputs`).

The tasks hold no open file, lock or thread of the process that built the graph: they
take the block and a small picklable plan and return their tiles (or write them to part
files under the output's temporary folder and return byte counts), so the same graph
runs on dask's threads, on processes, or on a ``dask.distributed`` cluster whose workers
share the output folder's file system.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import shutil
import struct
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

__all__ = ["CogPlan", "plan_cog", "cog_graph", "encode_array", "encode_pieces", "lattice_chunks", "assemble",
           "describe_band", "nearest_index", "overview_shapes"]

log = logging.getLogger("sinks")

#: TIFF tag numbers used here.
_NEW_SUBFILE, _WIDTH, _HEIGHT, _BITS, _COMPRESSION, _PHOTOMETRIC = 254, 256, 257, 258, 259, 262
_SAMPLES, _PLANAR, _PREDICTOR, _COLORMAP = 277, 284, 317, 320
_TILE_W, _TILE_H, _TILE_OFFSETS, _TILE_COUNTS, _SAMPLE_FORMAT = 322, 323, 324, 325, 339
#: Tags copied from a GDAL-written template: geo-referencing, GDAL metadata and nodata.
_GEO_TAGS = (33550, 33922, 34264, 34735, 34736, 34737, 42112)
_NODATA_TAG = 42113
_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8, 17: 8, 18: 8}


def overview_shapes(height: int, width: int, blocksize: int) -> list[tuple[int, int]]:
    """``(height, width)`` of each overview level as GDAL's COG driver makes them with
    ``OVERVIEWS=AUTO``: halve (rounding down) until the level fits in one block."""
    shapes: list[tuple[int, int]] = []
    h, w = height, width
    while max(h, w) > blocksize:
        h, w = max(h // 2, 1), max(w // 2, 1)
        shapes.append((h, w))
    return shapes


def nearest_index(n_prev: int, n_cur: int) -> np.ndarray:
    """Index into the previous level of each pixel of a level ``n_cur`` long (GDAL's nearest:
    ``int(0.5 + i × n_prev / n_cur)``, in double precision as GDAL computes it)."""
    ratio = n_prev / n_cur
    return np.minimum((0.5 + np.arange(n_cur, dtype=np.float64) * ratio).astype(np.int64), n_prev - 1)


@dataclass(frozen=True)
class CogPlan:
    """Everything a tile task needs to know about one output (small and picklable).

    ``levels[0]`` is the full resolution; ``src_y[k]``/``src_x[k]`` (``k >= 1``) index
    level ``k - 1`` for each pixel of level ``k``.
    """

    final: str
    parts: str  # "" : the tiles travel in the tasks' records
    levels: tuple[tuple[int, int], ...]
    blocksize: int
    dtype: str
    nodata: float | int | None
    gtiff_options: tuple[tuple[str, str], ...]
    src_y: tuple[np.ndarray, ...] = field(repr=False)
    src_x: tuple[np.ndarray, ...] = field(repr=False)
    template: bytes = field(repr=False, default=b"")

    def tiles(self, level: int) -> tuple[int, int]:
        """Tiles down and across at ``level``."""
        h, w = self.levels[level]
        return math.ceil(h / self.blocksize), math.ceil(w / self.blocksize)


def plan_cog(out: Any, grid: Any, *, blocksize: int, options: dict[str, str], parts: Path | None,
             overviews: bool = True) -> CogPlan:
    """The plan of one :class:`~sinks.outputs.RasterOutput` (``options``: COG creation
    options as :func:`sinks.outputs._cog_options` gives them; only nearest overviews).

    ``parts``: the folder where the tile tasks write their compressed tiles, which
    :func:`assemble` reads back; ``None`` when the tasks run in this process (local threads),
    whose records then carry the tiles' bytes themselves.

    ``overviews=False`` plans a tiled GeoTIFF of the full resolution alone: the
    intermediate from which GDAL's COG driver makes a layer with averaged overviews.
    """
    h, w = grid.height, grid.width
    levels = ((h, w), *(overview_shapes(h, w, blocksize) if overviews else ()))
    src_y = tuple(nearest_index(levels[k - 1][0], levels[k][0]) for k in range(1, len(levels)))
    src_x = tuple(nearest_index(levels[k - 1][1], levels[k][1]) for k in range(1, len(levels)))
    gopts = {"TILED": "YES", "BLOCKXSIZE": str(blocksize), "BLOCKYSIZE": str(blocksize),
             "COMPRESS": options["compress"].upper(), "INTERLEAVE": "BAND"}
    pred = options.get("predictor", "NO").upper()
    kind = np.dtype(out.data.dtype).kind
    gopts["PREDICTOR"] = {"NO": "1", "YES": "3" if kind == "f" else "2"}.get(pred, pred)
    if "level" in options:
        gopts[{"ZSTD": "ZSTD_LEVEL", "DEFLATE": "ZLEVEL", "LZW": "ZLEVEL"}.get(gopts["COMPRESS"], "ZLEVEL")] = \
            str(options["level"])
    return CogPlan(final=str(out.path), parts="" if parts is None else str(parts), levels=levels,
                   blocksize=blocksize,
                   dtype=np.dtype(out.data.dtype).name, nodata=out.nodata, gtiff_options=tuple(gopts.items()),
                   src_y=(np.arange(0),) + src_y, src_x=(np.arange(0),) + src_x,
                   template=_template(out, grid))


def _template(out: Any, grid: Any) -> bytes:
    """A tiny GDAL-written GeoTIFF with the output's georeferencing, nodata, colour map,
    description and tags: the source of the tags GDAL would write (parsed by :func:`_tags_of`)."""
    from rasterio.io import MemoryFile

    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=1, height=1, count=1, dtype=np.dtype(out.data.dtype).name,
                      crs=grid.crs, transform=grid.transform, nodata=out.nodata) as ds:
            describe_band(ds, out)
        return bytes(mem.getbuffer())


def describe_band(ds: Any, out: Any) -> None:
    """Give band 1 of the open dataset ``ds`` the description, tags and colour map of ``out``
    (a :class:`~sinks.outputs.RasterOutput`)."""
    if out.description:
        ds.set_band_description(1, out.description)
    if out.tags:
        ds.update_tags(**{k: str(v) for k, v in out.tags.items()})
    if out.colormap:
        ds.write_colormap(1, dict(out.colormap))


# --------------------------------------------------------------------------------------
# tile tasks
# --------------------------------------------------------------------------------------
def _encode(data: np.ndarray, plan: CogPlan) -> tuple[bytes, list[tuple[int, int]]]:
    """GDAL's compressed tiles of ``data`` (a block whose origin is on the tile lattice):
    the in-memory GeoTIFF's bytes and each tile's (offset, size), row by row."""
    from affine import Affine
    from rasterio.io import MemoryFile

    h, w = data.shape
    opts = dict(plan.gtiff_options)
    with MemoryFile() as mem:
        # any transform: only the tiles are kept (without one rasterio warns at every block)
        with mem.open(driver="GTiff", width=w, height=h, count=1, dtype=plan.dtype, nodata=plan.nodata,
                      transform=Affine(1.0, 0.0, 0.0, 0.0, -1.0, float(h)), **opts) as ds:
            ds.write(np.ascontiguousarray(data), 1)
        raw = bytes(mem.getbuffer())
    ntiles = math.ceil(h / plan.blocksize) * math.ceil(w / plan.blocksize)
    return raw, _tile_spans(raw, ntiles)


def _tile_spans(tiff: bytes, ntiles: int) -> list[tuple[int, int]]:
    """(offset, size) of each tile of a one-band tiled TIFF, row by row, from its
    TileOffsets and TileByteCounts tags (0, 0 for a tile it left out)."""
    tags = _tags_of(tiff)
    codes = {3: "H", 4: "I", 16: "Q"}

    def values(tag: int) -> tuple[int, ...]:
        typ, count, data = tags[tag]
        return struct.unpack(f"<{count}{codes[typ]}", data)

    offsets, sizes = values(_TILE_OFFSETS), values(_TILE_COUNTS)
    if len(offsets) != ntiles or len(sizes) != ntiles:
        raise ValueError(f"GDAL wrote {len(offsets)} tiles where {ntiles} were expected")
    return list(zip(offsets, sizes))


def _direct_tiles(data: np.ndarray, plan: CogPlan) -> list[bytes] | None:
    """The compressed tiles of ``data`` (row by row), made without a GDAL dataset per block
    for the plain layouts (no predictor), edge tiles padded with zeros as GDAL pads them:

    * DEFLATE at GDAL's default level through libdeflate (:mod:`imagecodecs`): byte for
      byte the tiles GDAL writes;
    * ZSTD at the layout's ``ZSTD_LEVEL`` (GDAL's default 9 without one) through libzstd
      (:mod:`imagecodecs`): one-shot frames, which carry the tile's size where libtiff's
      streaming frames do not and may cut their blocks elsewhere, so the bytes differ from
      GDAL's while every reader decodes them to the same pixels;
    * no compression.

    ``None`` for any other layout (GDAL encodes it, :func:`_encode`)."""
    opts = dict(plan.gtiff_options)
    codec = opts.get("COMPRESS", "NONE")
    if opts.get("PREDICTOR", "1") != "1" or "ZLEVEL" in opts:
        return None
    if codec == "DEFLATE":
        level = _gdal_deflate_level()
        if level is None:
            return None
        from imagecodecs import deflate_encode

        encode = functools.partial(deflate_encode, level=level)
    elif codec == "ZSTD":
        level = opts.get("ZSTD_LEVEL", str(GDAL_ZSTD_LEVEL))
        if not level.lstrip("-").isdigit():
            return None
        from imagecodecs import zstd_encode

        encode = functools.partial(zstd_encode, level=int(level))
    elif codec == "NONE":
        encode = None
    else:
        return None
    b = plan.blocksize
    h, w = data.shape
    dtype = np.dtype(plan.dtype).newbyteorder("<")
    pad = np.zeros((b, b), dtype=dtype)
    tiles: list[bytes] = []
    for y0 in range(0, h, b):
        for x0 in range(0, w, b):
            t = data[y0:y0 + b, x0:x0 + b]
            if t.shape != (b, b):
                pad[:] = 0
                pad[:t.shape[0], :t.shape[1]] = t
                t = pad
            t = np.ascontiguousarray(t, dtype=dtype)
            tiles.append(bytes(encode(t)) if encode is not None else t.tobytes())
    return tiles


#: GDAL's ZSTD level when the creation options name none.
GDAL_ZSTD_LEVEL = 9


@functools.lru_cache(maxsize=1)
def _gdal_deflate_level() -> int | None:
    """The libdeflate level (as :mod:`imagecodecs` numbers them) whose streams are, byte for
    byte, GDAL's DEFLATE tiles without a ``ZLEVEL``, found once per process on a probe tile
    of runs and noise; ``None`` when no level gives GDAL's bytes (the libraries' builds
    differ), and GDAL then encodes every tile.  With the wheels of 2026 the level is 7."""
    from imagecodecs import deflate_encode

    rng = np.random.default_rng(0)
    probe = np.repeat(rng.integers(0, 9, (512, 64), dtype=np.uint8), 8, axis=1)
    probe[rng.random(probe.shape) < 0.02] = 3
    plan = SimpleNamespace(gtiff_options=(("TILED", "YES"), ("BLOCKXSIZE", "512"), ("BLOCKYSIZE", "512"),
                                          ("COMPRESS", "DEFLATE"), ("INTERLEAVE", "BAND"), ("PREDICTOR", "1")),
                           dtype="uint8", nodata=None, blocksize=512)
    raw, ((off, size),) = _encode(probe, plan)  # type: ignore[arg-type]
    want = raw[off:off + size]
    for level in (7, 6, 8, 9, 5, 4, 3, 2, 1, 10, 11, 12):
        if bytes(deflate_encode(probe, level=level)) == want:
            return level
    log.info("libdeflate here does not reproduce GDAL's DEFLATE tiles; GDAL encodes them")
    return None


def _encode_tiles(data: np.ndarray, plan: CogPlan) -> list[bytes] | memoryview:
    """Each compressed tile of ``data`` (a block whose origin is on the tile lattice), row by row."""
    tiles = _direct_tiles(data, plan)
    if tiles is not None:
        return tiles
    raw, spans = _encode(data, plan)
    view = memoryview(raw)
    return [view[off:off + size] for off, size in spans]


def _store_tiles(plan: CogPlan, name: str, tiles: list[Any]) -> tuple[str | bytes, list[int]]:
    """The tiles' bytes, back to back, and their sizes: written to a part file whose path is
    returned, or, with a plan without a parts folder (``plan.parts == ""``: the tasks run in
    the process that assembles the file), returned themselves in the path's place."""
    sizes = [len(t) for t in tiles]
    if not plan.parts:
        return b"".join(tiles), sizes
    path = os.path.join(plan.parts, name)
    with open(path, "wb") as fh:
        for tile in tiles:
            fh.write(tile)
    return path, sizes


def encode_block(block: np.ndarray, plan: CogPlan, r0: int, c0: int, fuse: bool = False) -> tuple[Any, Any]:
    """Task: compress one block's full-resolution tiles, and pick its pixels of level 1.

    Returns the tiles' record ``{"level", "row", "col", "part", "sizes"}`` and the level-1
    piece ``(j0, i0, array)`` (``None`` without overviews).  With ``fuse`` (the block holds
    every source pixel of the level-1 tiles it reaches, so those are whole tiles) the
    level-1 tiles are compressed here too: the records of both levels, as a list, and the
    level-2 piece.
    """
    b = plan.blocksize
    path, sizes = _store_tiles(plan, f"l0_{r0}_{c0}.bin", _encode_tiles(block, plan))
    rec = {"level": 0, "row": r0 // b, "col": c0 // b, "ntiles": (math.ceil(block.shape[0] / b),
                                                                   math.ceil(block.shape[1] / b)),
           "part": path, "sizes": sizes}
    piece = _piece(block, plan, 1, r0, c0)
    if not fuse or piece is None:
        return rec, piece
    j0, i0, level1 = piece
    path1, sizes1 = _store_tiles(plan, f"l1_{j0}_{i0}.bin", _encode_tiles(level1, plan))
    rec1 = {"level": 1, "row": j0 // b, "col": i0 // b, "ntiles": (math.ceil(level1.shape[0] / b),
                                                                    math.ceil(level1.shape[1] / b)),
            "part": path1, "sizes": sizes1}
    return [rec, rec1], _piece(level1, plan, 2, j0, i0)


def _piece(arr: np.ndarray, plan: CogPlan, level: int, r0: int, c0: int) -> Any:
    """The pixels of ``level`` whose source pixel (in ``level - 1``) lies in ``arr`` placed at
    ``(r0, c0)`` of that level: ``(j0, i0, array)``, or ``None``."""
    if level >= len(plan.levels):
        return None
    sy, sx = plan.src_y[level], plan.src_x[level]
    j0, j1 = np.searchsorted(sy, [r0, r0 + arr.shape[0]])
    i0, i1 = np.searchsorted(sx, [c0, c0 + arr.shape[1]])
    if j1 <= j0 or i1 <= i0:
        return None
    return int(j0), int(i0), _pick(arr, sy[j0:j1] - r0, sx[i0:i1] - c0)


def _as_slice(index: np.ndarray) -> slice | np.ndarray:
    """``index`` (increasing) as a slice when it steps evenly, as it does wherever a level is
    exactly half the one below; otherwise unchanged."""
    if len(index) < 2:
        return slice(int(index[0]), int(index[0]) + 1) if len(index) else slice(0, 0)
    step = int(index[1] - index[0])
    if step > 0 and bool(np.all(np.diff(index) == step)):
        return slice(int(index[0]), int(index[-1]) + 1, step)
    return index


def _pick(arr: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``arr[np.ix_(rows, cols)]`` as a new C-ordered array, by strided slicing where the
    indices step evenly (a plain copy instead of numpy's fancy indexing)."""
    r, c = _as_slice(rows), _as_slice(cols)
    if isinstance(r, slice) and isinstance(c, slice):
        return arr[r, c].copy()
    return arr[np.ix_(rows, cols)]


def encode_overview_tile(plan: CogPlan, level: int, ty: int, tx: int, *pieces: Any) -> tuple[dict[str, Any], Any]:
    """Task: assemble one overview tile from the pieces of the level below, compress it, and
    pick its pixels of the next level."""
    b = plan.blocksize
    h, w = plan.levels[level]
    y0, x0 = ty * b, tx * b
    th, tw = min(b, h - y0), min(b, w - x0)
    tile = np.empty((th, tw), dtype=plan.dtype)
    filled = 0
    for p in pieces:
        if p is None:
            continue
        j0, i0, arr = p
        ya, xa = max(j0, y0), max(i0, x0)
        yb, xb = min(j0 + arr.shape[0], y0 + th), min(i0 + arr.shape[1], x0 + tw)
        if yb > ya and xb > xa:
            tile[ya - y0:yb - y0, xa - x0:xb - x0] = arr[ya - j0:yb - j0, xa - i0:xb - i0]
            filled += (yb - ya) * (xb - xa)
    if filled != th * tw:
        raise RuntimeError(f"{plan.final}: overview {level} tile {ty},{tx}: {filled} of {th * tw} pixels")
    path, sizes = _store_tiles(plan, f"l{level}_{ty}_{tx}.bin", _encode_tiles(tile, plan))
    rec = {"level": level, "row": ty, "col": tx, "ntiles": (1, 1), "part": path, "sizes": sizes}
    return rec, _piece(tile, plan, level + 1, y0, x0)


def _contributors(plan: CogPlan, level: int, ty: int, tx: int, sources: list[tuple[int, int, int, int, Any]]
                  ) -> list[Any]:
    """The sources (``(r0, r1, c0, c1, key)`` of level ``level - 1``) holding a pixel of tile ``ty, tx``."""
    b = plan.blocksize
    h, w = plan.levels[level]
    sy, sx = plan.src_y[level], plan.src_x[level]
    ry = sy[ty * b], sy[min(ty * b + b, h) - 1]
    rx = sx[tx * b], sx[min(tx * b + b, w) - 1]
    return [key for r0, r1, c0, c1, key in sources if r0 <= ry[1] and r1 > ry[0] and c0 <= rx[1] and c1 > rx[0]]


def _overview_task(plan: CogPlan, level: int, ty: int, tx: int, below: list[tuple[dict[str, Any], Any]]
                   ) -> tuple[dict[str, Any], Any]:
    """Task: :func:`encode_overview_tile` from the whole results (record, piece) of the tasks below."""
    return encode_overview_tile(plan, level, ty, tx, *(piece for _rec, piece in below))


def lattice_chunks(chunks: tuple[int, ...], blocksize: int) -> tuple[int, ...]:
    """Chunk sizes along one axis with every inner edge on a multiple of ``blocksize``, each
    about as large as the median of ``chunks`` (rounded to whole tiles); ``chunks`` itself
    when its edges are on the lattice already."""
    total = sum(chunks)
    edges = np.cumsum(chunks)[:-1]
    if not any(int(e) % blocksize for e in edges):
        return tuple(chunks)
    step = max(blocksize, int(round(float(np.median(chunks)) / blocksize)) * blocksize)
    sizes = [step] * (total // step)
    if total % step:
        sizes.append(total % step)
    return tuple(sizes)


def _spans(edges: np.ndarray, a: int, b: int) -> list[tuple[int, int, int]]:
    """``(chunk, start, stop)`` of each chunk (cut at ``edges``, cumulative from 0) that
    overlaps ``[a, b)``, with the overlap in the chunk's own coordinates."""
    first = int(np.searchsorted(edges, a, side="right")) - 1
    out = []
    for k in range(first, len(edges) - 1):
        lo, hi = int(edges[k]), int(edges[k + 1])
        if lo >= b:
            break
        out.append((k, max(a, lo) - lo, min(b, hi) - lo))
    return out


def encode_pieces(parts: list[np.ndarray], where: np.ndarray, plan: CogPlan, r0: int, c0: int, h: int,
                  w: int, fuse: bool = False) -> tuple[Any, Any]:
    """Task: :func:`encode_block` of the block at ``(r0, c0)``, ``h`` × ``w``, put together
    from the chunks it overlaps (``where``: for each part, the rows and columns it fills in
    the block, then where they start in the part)."""
    block = np.empty((h, w), dtype=parts[0].dtype)
    for part, (ya, yb, xa, xb, sy, sx) in zip(parts, where.tolist()):
        block[ya:yb, xa:xb] = part[sy:sy + yb - ya, sx:sx + xb - xa]
    return encode_block(block, plan, r0, c0, fuse)


def cog_graph(arr: Any, plan: CogPlan) -> Any:
    """A dask ``Delayed`` that writes every tile of ``arr`` (a 2-D dask array) and returns
    the records :func:`assemble` needs.

    The graph is written out as plain tasks (a few thousand for a large layer, built in
    milliseconds): the plan is one node of it, which every tile task reads, and each tile
    task returns its record with the pixels it passes to the next overview level.  The
    records are taken out of those results by tasks of their own, so that the pixels are
    freed as soon as the level above has used them.  Full-resolution tiles are compressed
    in blocks on the tile lattice (:func:`lattice_chunks`): a chunk that is such a block
    is compressed as it is, other blocks are put together from the chunks they overlap in
    their own task (no rechunking pass).
    """
    import operator

    from dask.delayed import Delayed
    from dask.highlevelgraph import HighLevelGraph

    b = plan.blocksize
    src_rows = np.cumsum((0,) + tuple(arr.chunks[0]))
    src_cols = np.cumsum((0,) + tuple(arr.chunks[1]))
    rows = np.cumsum((0,) + lattice_chunks(tuple(arr.chunks[0]), b))
    cols = np.cumsum((0,) + lattice_chunks(tuple(arr.chunks[1]), b))
    name = f"cog-{uuid.uuid4().hex[:10]}"
    plan_key = f"{name}-plan"
    dsk: dict[Any, Any] = {plan_key: plan}
    done: list[str] = []
    blocks = [(int(rows[i]), int(rows[i + 1]), int(cols[j]), int(cols[j + 1]), (i, j))
              for i in range(len(rows) - 1) for j in range(len(cols) - 1)]
    # level 1 made by the block tasks themselves when each of its tiles takes its pixels
    # from one block (blocks of 2 x 2 tiles or more, on a level exactly half the one below)
    fuse = len(plan.levels) > 1 and all(
        len(_contributors(plan, 1, ty, tx, blocks)) == 1
        for ty in range(plan.tiles(1)[0]) for tx in range(plan.tiles(1)[1]))
    sources: list[tuple[int, int, int, int, str]] = []
    for r0, r1, c0, c1, (i, j) in blocks:
        down = _spans(src_rows, r0, r1)
        across = _spans(src_cols, c0, c1)
        key = f"{name}-0-{i}-{j}"
        if (len(down) == 1 == len(across) and (src_rows[down[0][0]], src_rows[down[0][0] + 1]) == (r0, r1)
                and (src_cols[across[0][0]], src_cols[across[0][0] + 1]) == (c0, c1)):  # the chunk is the block
            dsk[key] = (encode_block, (arr.name, down[0][0], across[0][0]), plan_key, r0, c0, fuse)
        else:
            parts = [(arr.name, si, sj) for si, _, _ in down for sj, _, _ in across]
            where = np.array([(int(src_rows[si]) + ya - r0, int(src_rows[si]) + yb - r0,
                               int(src_cols[sj]) + xa - c0, int(src_cols[sj]) + xb - c0, ya, xa)
                              for si, ya, yb in down for sj, xa, xb in across], dtype=np.int64)
            dsk[key] = (encode_pieces, parts, where, plan_key, r0, c0, r1 - r0, c1 - c0, fuse)
        dsk[f"{key}-record"] = (operator.getitem, key, 0)
        done.append(f"{key}-record")
        if fuse:  # the block's level-1 tiles, whose pixels of level 2 it hands on
            j0, j1 = np.searchsorted(plan.src_y[1], [r0, r1])
            i0, i1 = np.searchsorted(plan.src_x[1], [c0, c1])
            if j1 > j0 and i1 > i0:
                sources.append((int(j0), int(j1), int(i0), int(i1), key))
        else:
            sources.append((r0, r1, c0, c1, key))
    for level in range(2 if fuse else 1, len(plan.levels)):
        ny, nx = plan.tiles(level)
        h, w = plan.levels[level]
        nxt = []
        for ty in range(ny):
            for tx in range(nx):
                key = f"{name}-{level}-{ty}-{tx}"
                dsk[key] = (_overview_task, plan_key, level, ty, tx, _contributors(plan, level, ty, tx, sources))
                dsk[f"{key}-record"] = (operator.getitem, key, 0)
                done.append(f"{key}-record")
                nxt.append((ty * b, min(ty * b + b, h), tx * b, min(tx * b + b, w), key))
        sources = nxt
    out = f"{name}-records"
    dsk[out] = (_flat_records, done)
    return Delayed(out, HighLevelGraph.from_collections(out, dsk, dependencies=[arr]))


def _flat_records(records: list[Any]) -> list[dict[str, Any]]:
    """The tasks' records as one list (a block task that made level 1 too hands on two)."""
    out: list[dict[str, Any]] = []
    for rec in records:
        out.extend(rec if isinstance(rec, list) else [rec])
    return out


def encode_array(arr: Any, plan: CogPlan) -> list[dict[str, Any]]:
    """Compress every tile of an in-memory layer (no dask) and return the records
    :func:`assemble` needs: the tiles :func:`cog_graph`'s tasks write, level by level.

    ``arr`` is a numpy array or anything ``numpy.asarray`` computes (such as
    :class:`~sinks.carbon.stock.LazyLayer`).  Each level is compressed in one call (a
    tiled GeoTIFF compresses tile by tile, so the bytes are those of the per-block
    tasks), and the next level is picked from it with GDAL's nearest rule.
    """
    level = np.asarray(arr)
    records: list[dict[str, Any]] = []
    for k in range(len(plan.levels)):
        if k:
            level = _pick(level, plan.src_y[k], plan.src_x[k])
        path, sizes = _store_tiles(plan, f"l{k}_all.bin", _encode_tiles(level, plan))
        records.append({"level": k, "row": 0, "col": 0, "ntiles": plan.tiles(k), "part": path, "sizes": sizes})
    return records


# --------------------------------------------------------------------------------------
# the file
# --------------------------------------------------------------------------------------
def _tags_of(tiff: bytes) -> dict[int, tuple[int, int, bytes]]:
    """``{tag: (type, count, value bytes)}`` of the first directory of a little-endian TIFF."""
    if tiff[:4] == b"II*\x00":
        (ifd,) = struct.unpack_from("<I", tiff, 4)
        (n,) = struct.unpack_from("<H", tiff, ifd)
        entry, head, inline = 12, 2, 4
        fmt = "<HHII"
    elif tiff[:4] == b"II+\x00":
        (ifd,) = struct.unpack_from("<Q", tiff, 8)
        (n,) = struct.unpack_from("<Q", tiff, ifd)
        entry, head, inline = 20, 8, 8
        fmt = "<HHQQ"
    else:
        raise ValueError("not a little-endian TIFF")
    tags = {}
    for k in range(n):
        pos = ifd + head + k * entry
        tag, typ, count, value = struct.unpack_from(fmt, tiff, pos)
        size = _TYPE_SIZE.get(typ, 1) * count
        start = pos + (8 if inline == 4 else 12)  # the value field, after tag, type and count
        data = tiff[start:start + size] if size <= inline else tiff[value:value + size]
        tags[tag] = (typ, count, bytes(data))
    return tags


def _directory(tags: dict[int, tuple[int, int, bytes]], *, big: bool, at: int) -> bytes:
    """One image file directory placed at ``at``: its entries, a zero next-directory offset,
    then the values that do not fit in an entry."""
    n = len(tags)
    entry, head, inline = (20, 8, 8) if big else (12, 2, 4)
    size = head + n * entry + (8 if big else 4)
    out = bytearray(struct.pack("<Q" if big else "<H", n))
    extra = bytearray()
    for tag in sorted(tags):
        typ, count, data = tags[tag]
        if len(data) <= inline:
            out += struct.pack("<HHQ" if big else "<HHI", tag, typ, count) + data.ljust(inline, b"\0")
        else:
            off = at + size + len(extra)
            out += struct.pack("<HHQQ" if big else "<HHII", tag, typ, count, off)
            extra += data
            if len(extra) % 2:
                extra += b"\0"
    out += b"\0" * (8 if big else 4)
    return bytes(out + extra)


def _array(values: list[int], big: bool) -> tuple[int, int, bytes]:
    if big:
        return 16, len(values), struct.pack(f"<{len(values)}Q", *values)
    return 4, len(values), struct.pack(f"<{len(values)}I", *values)


def assemble(plan: CogPlan, records: list[dict[str, Any]], dst: str | os.PathLike) -> None:
    """Write the COG ``dst`` from the compressed tiles the tasks wrote (then remove their parts)
    or, with a plan without a parts folder, handed back in their records."""
    b = plan.blocksize
    nlev = len(plan.levels)
    sizes: list[np.ndarray] = [np.zeros(plan.tiles(k), dtype=np.int64) for k in range(nlev)]
    where: dict[tuple[int, int, int], tuple[str, int]] = {}
    for rec in records:
        k, ty0, tx0 = rec["level"], rec["row"], rec["col"]
        ny, nx = rec["ntiles"]
        off = 0
        for n, size in enumerate(rec["sizes"]):
            ty, tx = ty0 + n // nx, tx0 + n % nx
            sizes[k][ty, tx] = size
            where[(k, ty, tx)] = (rec["part"], off)
            off += size
    template = _tags_of(plan.template)
    dt = np.dtype(plan.dtype)
    base: dict[int, tuple[int, int, bytes]] = {
        _BITS: (3, 1, struct.pack("<H", dt.itemsize * 8)),
        _COMPRESSION: (3, 1, struct.pack("<H", {"DEFLATE": 8, "ZSTD": 50000, "LZW": 5, "NONE": 1}[
            dict(plan.gtiff_options)["COMPRESS"]])),
        _PHOTOMETRIC: template.get(_PHOTOMETRIC, (3, 1, struct.pack("<H", 1))),
        _SAMPLES: (3, 1, struct.pack("<H", 1)),
        _PLANAR: (3, 1, struct.pack("<H", 1)),
        _TILE_W: (3, 1, struct.pack("<H", b)),
        _TILE_H: (3, 1, struct.pack("<H", b)),
        _SAMPLE_FORMAT: (3, 1, struct.pack("<H", {"u": 1, "i": 2, "f": 3}[dt.kind])),
    }
    pred = int(dict(plan.gtiff_options).get("PREDICTOR", "1"))
    if pred != 1:
        base[_PREDICTOR] = (3, 1, struct.pack("<H", pred))
    if _COLORMAP in template:
        base[_COLORMAP] = template[_COLORMAP]
    if _NODATA_TAG in template:
        base[_NODATA_TAG] = template[_NODATA_TAG]
    total = int(sum(s.sum() for s in sizes))
    big = total + 64 * 1024 * nlev > 2**32 - 2**20

    def dirs(offsets: list[list[int]]) -> list[bytes]:
        out, at = [], (16 if big else 8)
        for k in range(nlev):
            h, w = plan.levels[k]
            tags = dict(base)
            tags[_NEW_SUBFILE] = (4, 1, struct.pack("<I", 0 if k == 0 else 1))
            tags[_WIDTH] = (4, 1, struct.pack("<I", w))
            tags[_HEIGHT] = (4, 1, struct.pack("<I", h))
            if k == 0:
                tags.update({t: template[t] for t in _GEO_TAGS if t in template})
            tags[_TILE_OFFSETS] = _array(offsets[k], big)
            tags[_TILE_COUNTS] = _array([int(v) for v in sizes[k].ravel()], big)
            blob = _directory(tags, big=big, at=at)
            out.append(blob)
            at += len(blob)
        return out

    # directories first (their size does not depend on the offsets' values), then the
    # tiles from the smallest overview to the full resolution, row by row
    zero = [[0] * int(sizes[k].size) for k in range(nlev)]
    header_len = (16 if big else 8) + sum(len(d) for d in dirs(zero))
    offsets: list[list[int]] = [[] for _ in range(nlev)]
    pos = header_len
    for k in reversed(range(nlev)):
        for s in sizes[k].ravel():
            offsets[k].append(pos if s else 0)
            pos += int(s)
    blobs = dirs(offsets)
    with open(dst, "wb") as fh:
        fh.write(b"II+\x00" + struct.pack("<HHQ", 8, 0, 16) if big else b"II*\x00" + struct.pack("<I", 8))
        at = 16 if big else 8
        for k, blob in enumerate(blobs):
            nxt = at + len(blob) if k + 1 < nlev else 0
            n = len(blob)
            entries = struct.unpack_from("<Q" if big else "<H", blob)[0]
            slot = (8 + entries * 20) if big else (2 + entries * 12)
            blob = blob[:slot] + struct.pack("<Q" if big else "<I", nxt) + blob[slot + (8 if big else 4):]
            assert len(blob) == n
            fh.write(blob)
            at += n
        for k in reversed(range(nlev)):
            ny, nx = sizes[k].shape
            for ty in range(ny):
                for tx in range(nx):
                    size = int(sizes[k][ty, tx])
                    if size:
                        part, off = where[(k, ty, tx)]
                        if isinstance(part, bytes):  # kept in memory by its task
                            fh.write(memoryview(part)[off:off + size])
                            continue
                        with open(part, "rb") as src:
                            src.seek(off)
                            fh.write(src.read(size))
    if plan.parts:
        shutil.rmtree(plan.parts, ignore_errors=True)
