"""Zone class areas from tile counts made in the pass that computes the land cover.

The indicator tables need, per polygon and epoch, the area of every class and, per
pair of consecutive epochs, the area of every transition, with partial pixels weighted
by the share of them the polygon covers (:func:`sinks.zonal.joint_class_areas`).  Only
pixels on a polygon's edge are partial: every pixel of a square tile that lies wholly
inside the polygon counts in full.  So the write pass of each epoch counts, per tile of
``tile × tile`` pixels, the pixels of every class (the first epoch) or every
transition from the previous epoch (the later ones), from the land-cover blocks it has
in memory (:func:`tally_delayed`); and the tables then split each polygon into the tiles
it covers whole, whose counts add up, and pieces of it clipped to the tiles its edge
crosses, which exactextract measures exactly (:func:`split_zones`).  The two add up to
the same areas as exactextract over the whole polygon, up to floating-point rounding;
where a polygon's vertices lie within a nanometre of cell lines, exactextract over the
whole polygon may count a pixel too many or too few, and the pieces (cut at the tile
edge, such vertices put on the line) keep to the polygon's geometric area.

Only grids in a projected CRS without rotation are counted this way (each pixel has the
same area there); the tables of geographic grids keep the whole-polygon exactextract
pass.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["TileTally", "tally_side", "tally_delayed", "digit_lut", "split_zones", "presplit_zones", "TILE_SIDES"]

log = logging.getLogger("sinks")

#: Tile sides tried, smallest first: smaller tiles leave less of an edge to exactextract.
TILE_SIDES: tuple[int, ...] = (64, 128, 256, 512)
#: Most bytes the counts of one run may hold (one int64 per tile and class or transition).
MAX_TALLY_BYTES = 192 << 20


def digit_lut(mapping: Mapping[int, int], base: int, nodata: Sequence[Any] = (0,)) -> np.ndarray:
    """``uint8[256]``: the digit of every byte value (``mapping``; 0 for nodata; ``base - 1`` otherwise)."""
    lut = np.full(256, base - 1, dtype=np.uint8)
    for value, digit in mapping.items():
        if 0 <= int(value) < 256:
            lut[int(value)] = int(digit)
    lut[0] = 0
    for nd in nodata:
        if nd is not None and 0 <= int(nd) < 256:
            lut[int(nd)] = 0
    return lut


def _sparse(counts: np.ndarray) -> tuple[tuple[int, ...], str, np.ndarray, np.ndarray]:
    """``(shape, dtype, flat indices of the non-zero counts, their values)``."""
    flat = counts.reshape(-1)
    where = np.flatnonzero(flat)
    return counts.shape, counts.dtype.str, where, flat[where]


def _dense(packed: Any) -> np.ndarray:
    """The counts :func:`_sparse` packed (an array as it is)."""
    if isinstance(packed, np.ndarray):
        return packed
    shape, dtype, where, values = packed
    out = np.zeros(int(np.prod(shape)), dtype=np.dtype(dtype))
    out[where] = values
    return out.reshape(shape)


def _counted(grid: Any) -> bool:
    t = grid.transform
    return not grid.is_geographic and t.b == 0 and t.d == 0


def tally_side(grid: Any, *, base: int, epochs: int) -> int | None:
    """The tile side of a run's counts, or ``None`` when the grid is not counted by tiles
    (geographic or rotated) or even the largest tiles would hold too much."""
    if not _counted(grid) or epochs < 1:
        return None
    bins = base + (epochs - 1) * base * base
    for side in TILE_SIDES:
        tiles = -(-grid.height // side) * -(-grid.width // side)
        if tiles * bins * 8 <= MAX_TALLY_BYTES:
            return side
    return None


@dataclass
class TileTally:
    """Per-tile pixel counts of a run's land cover (see the module docstring).

    Attributes
    ----------
    grid : Grid
        The land cover's grid.
    tile : int
        Tile side in pixels (tiles start at the grid's first row and column).
    base : int
        Digits lie in ``0 .. base - 1`` (0 nodata, ``base - 1`` a code outside ``mapping``).
    mapping : dict
        Land-cover value → digit, as :func:`sinks.zonal.joint_class_areas` takes it.
    paths : list of str
        The land cover of each epoch, in the order counted.
    first : numpy.ndarray
        ``int64 (tile rows, tile cols, base)``: pixels of each digit in the first epoch.
    pairs : list of numpy.ndarray
        ``int64 (tile rows, tile cols, base²)`` per later epoch: pixels going from digit
        ``i`` in the previous epoch to ``j`` in this one, at ``i × base + j``.
    """

    grid: Any
    tile: int
    base: int
    mapping: dict[int, int]
    paths: list[str]
    first: np.ndarray
    pairs: list[np.ndarray] = field(default_factory=list)

    def epoch_counts(self, k: int) -> np.ndarray:
        """``(tiles, base)`` counts of epoch ``k`` (tiles in row-major order)."""
        if k == 0:
            return self.first.reshape(-1, self.base)
        return self.pairs[k - 1].reshape(-1, self.base, self.base).sum(axis=1)

    def pair_counts(self, k: int) -> np.ndarray:
        """``(tiles, base, base)`` transition counts from epoch ``k`` to ``k + 1``."""
        return self.pairs[k].reshape(-1, self.base, self.base)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (for the table child or a cluster worker) with the counts kept sparse: few
        tiles hold more than a handful of the ``base²`` transitions, so the dense arrays
        (24 MB per pair of epochs at 100 Mpx) pickle to about a hundredth of their size."""
        state = dict(self.__dict__)
        state["first"] = _sparse(self.first)
        state["pairs"] = [_sparse(p) for p in self.pairs]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["first"] = _dense(state["first"])
        state["pairs"] = [_dense(p) for p in state["pairs"]]
        self.__dict__.update(state)

    def fits(self, paths: Sequence[str], grid: Any, mapping: Mapping[int, int], base: int) -> bool:
        """Whether these counts describe ``paths`` (in that order) on ``grid`` with this legend,
        and hold no code outside it (whose values the tables must name)."""
        same = [os.path.abspath(str(p)) for p in paths] == [os.path.abspath(p) for p in self.paths]
        if not same or base != self.base or dict(mapping) != self.mapping:
            return False
        if grid.shape != self.grid.shape or tuple(grid.transform) != tuple(self.grid.transform) \
                or grid.crs != self.grid.crs or not _counted(grid):
            return False
        if self.first.shape[:2] != (-(-grid.height // self.tile), -(-grid.width // self.tile)):
            return False
        if len(self.pairs) != len(paths) - 1:
            return False
        odd = self.base - 1
        if self.first[..., odd].any():
            return False
        return not any(self.pair_counts(k)[:, odd, :].any() or self.pair_counts(k)[:, :, odd].any()
                       for k in range(len(self.pairs)))


# --------------------------------------------------------------------------------------
# counting in the pass
# --------------------------------------------------------------------------------------
def _block_part(a: np.ndarray, b: np.ndarray | None, lut: np.ndarray, base: int, row0: int, col0: int,
                tile: int) -> tuple[int, int, np.ndarray]:
    from ._kernels.codes import tile_hist

    a = np.asarray(a)
    part = tile_hist(a, None if b is None else np.asarray(b), lut, base=base, row_offset=row0 % tile,
                     col_offset=col0 % tile, tile=tile)
    return row0 // tile, col0 // tile, part


def _merge(parts: list[tuple[int, int, np.ndarray]], shape: tuple[int, int, int]) -> np.ndarray:
    out = np.zeros(shape, dtype=np.int64)
    for ty, tx, part in parts:
        out[ty:ty + part.shape[0], tx:tx + part.shape[1]] += part  # edge tiles shared by two blocks add up
    return out


def tally_delayed(landcover: Any, previous: Any, *, grid: Any, tile: int, lut: np.ndarray, base: int) -> Any:
    """A ``dask.delayed`` of the tile counts of ``landcover`` (``previous`` given: of the
    transitions from it), computed block by block in the pass that computes the blocks."""
    import dask.array as da

    from .runtime.blocktasks import block_reduce

    a = getattr(landcover, "data", landcover)
    b = getattr(previous, "data", previous) if previous is not None else None
    if b is not None and b.chunks != a.chunks:
        b = da.asarray(b).rechunk(a.chunks)
    bins = base * base if b is not None else base
    shape = (-(-grid.height // tile), -(-grid.width // tile), bins)
    if b is not None:  # previous epoch first: a pair counts at previous × base + this
        return block_reduce(_block_part, [b, a], extra=lambda _i, _j, r0, c0: (lut, base, r0, c0, tile),
                            combine=_merge, combine_args=(shape,), name="block_part")
    return block_reduce(_block_part, [a], extra=lambda _i, _j, r0, c0: (None, lut, base, r0, c0, tile),
                        combine=_merge, combine_args=(shape,), name="block_part")


# --------------------------------------------------------------------------------------
# splitting the polygons
# --------------------------------------------------------------------------------------
def _polygonal(geom: Any) -> Any:
    """The polygons of an overlay result (dropping the lines and points a clip can leave)."""
    import shapely

    if geom.geom_type in ("Polygon", "MultiPolygon") and not geom.is_empty:
        return geom
    if geom.is_empty:
        return None
    polys = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon") and not g.is_empty]
    if not polys:
        return None
    return shapely.union_all(polys) if len(polys) > 1 else polys[0]


#: Vertices closer than this share of a pixel to a cell line are moved onto it (see :func:`_snap`).
SNAP_PX = 1e-6


def _snap(geom: Any, t: Any) -> Any:
    """``geom`` with every coordinate within :data:`SNAP_PX` of a pixel of a cell line put on
    that line (``t``: the grid's transform, without rotation).

    Pieces clipped out of a polygon get vertices where its edges cross the tile edges, and
    one that falls a nanometre beside a cell corner makes exactextract count the whole cell
    across as covered.  Moving vertices by at most a millionth of a pixel changes a
    piece's area by far less than that cell.
    """
    import shapely

    def move(xy: np.ndarray) -> np.ndarray:
        out = xy.copy()
        for k, origin, step in ((0, t.c, t.a), (1, t.f, t.e)):
            pos = (xy[:, k] - origin) / step
            near = np.round(pos)
            on = np.abs(pos - near) < SNAP_PX
            out[on, k] = origin + near[on] * step
        return out

    return shapely.transform(geom, move)


#: Splits made ahead of their use by :func:`presplit_zones`, by :func:`_split_key`.
_PRESPLIT: dict[bytes, tuple[list[np.ndarray], list[Any], np.ndarray]] = {}
#: Most splits kept ahead (a run's redlines and regions).
MAX_PRESPLIT = 4


def _split_key(geoms: Sequence[Any], grid: Any, tile: int) -> bytes:
    """Digest of what a split depends on: every polygon's WKB, the grid's transform and size, the tile."""
    import hashlib

    import shapely

    t = grid.transform
    h = hashlib.blake2b(digest_size=20)
    h.update(np.asarray([t.a, t.b, t.c, t.d, t.e, t.f], dtype=np.float64).tobytes())
    h.update(np.asarray([grid.width, grid.height, tile, len(geoms)], dtype=np.int64).tobytes())
    for w in shapely.to_wkb(np.asarray(geoms, dtype=object)):
        b = b"" if w is None else bytes(w)
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.digest()


def presplit_zones(geoms: Sequence[Any], grid: Any, tile: int) -> None:
    """Split ``geoms`` now (:func:`split_zones`) and keep the result for the one call of
    :func:`split_zones` with the same polygons, grid and tile.

    A table child does this while the run's passes go on, as soon as the zones and the
    grid are known (:func:`sinks.runtime.child.prewarm`), so that its job, which needs the
    land cover of every epoch, starts from the split.
    """
    if len(_PRESPLIT) >= MAX_PRESPLIT:
        _PRESPLIT.pop(next(iter(_PRESPLIT)))
    _PRESPLIT[_split_key(geoms, grid, tile)] = _split(geoms, grid, tile)


def split_zones(geoms: Sequence[Any], grid: Any, tile: int) -> tuple[list[np.ndarray], list[Any], np.ndarray]:
    """Each polygon's tiles it covers whole, and pieces of it clipped to the tiles its edge crosses.

    A binary split of the tiles under the polygon's bounds: a run of tiles that the
    polygon contains is interior, one it misses is dropped, and the others split until
    single tiles, each keeping ``polygon ∩ tile``.  Each level clips the previous
    level's piece, so a polygon of ``n`` vertices costs about ``n × log(tiles)``.

    Returns
    -------
    (interior, pieces, owner)
        Per polygon the ``int64`` row-major indices of its interior tiles; the pieces
        (shapely polygons, on the grid's CRS); and the polygon index of each piece.
        A split made ahead by :func:`presplit_zones` for the same arguments is handed
        over (once) instead of being made again.
    """
    if _PRESPLIT:
        ahead = _PRESPLIT.pop(_split_key(geoms, grid, tile), None)
        if ahead is not None:
            log.debug("zonal: %d polygon(s) split ahead of the tables", len(geoms))
            return ahead
    return _split(geoms, grid, tile)


def _split(geoms: Sequence[Any], grid: Any, tile: int) -> tuple[list[np.ndarray], list[Any], np.ndarray]:
    """:func:`split_zones` without the splits made ahead.

    The binary split runs a level at a time over every polygon at once, each level's boxes,
    containment tests and clips as one call of shapely's vectorised functions.  Each part
    carries its path down the split (the half that a depth-first walk takes first as 0), and
    the results are put in the order of those paths, the order of a depth-first split of one
    polygon after another.
    """
    import shapely

    t = grid.transform
    ntx = -(-grid.width // tile)
    nty = -(-grid.height // tile)

    def tile_range(lo: float, hi: float, origin: float, step: float, n_px: int, n_tiles: int) -> tuple[int, int]:
        p0, p1 = sorted(((lo - origin) / step, (hi - origin) / step))
        a = int(np.clip(np.floor(p0), 0, n_px)) // tile
        b = min(n_tiles, -(-int(np.clip(np.ceil(p1), 0, n_px)) // tile))
        return a, b

    def edges(lo: np.ndarray, hi: np.ndarray, n_px: int, origin: float, step: float) -> tuple[np.ndarray, np.ndarray]:
        """The two world coordinates of tile ranges ``lo:hi`` along one axis, ascending."""
        a = origin + step * (lo * tile).astype(np.float64)
        b = origin + step * np.minimum(hi * tile, n_px).astype(np.float64)
        return np.minimum(a, b), np.maximum(a, b)

    n = len(geoms)
    # a private copy to prepare: the caller's polygons may be read by other threads (the
    # regions of a batch), and preparing a geometry changes it in place
    own = np.empty(n, dtype=object)
    # per part: polygon, tile rows a0:a1 and columns b0:b1, the geometry to clip, its path
    idx: list[int] = []
    ranges: list[tuple[int, int, int, int]] = []
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        own[i] = shapely.from_wkb(shapely.to_wkb(geom))
        minx, miny, maxx, maxy = own[i].bounds
        tx0, tx1 = tile_range(minx, maxx, t.c, t.a, grid.width, ntx)
        ty0, ty1 = tile_range(miny, maxy, t.f, t.e, grid.height, nty)
        idx.append(i)
        ranges.append((ty0, ty1, tx0, tx1))
    owner_of = np.asarray(idx, dtype=np.int64)
    part = own[owner_of]
    shapely.prepare(part)
    box = np.asarray(ranges, dtype=np.int64).reshape(-1, 4)
    paths: list[tuple[int, ...]] = [()] * len(idx)
    inside: list[tuple[int, tuple[int, ...], np.ndarray]] = []
    found: list[tuple[int, tuple[int, ...], Any, tuple[float, float, float, float]]] = []
    while len(owner_of):
        a0, a1, b0, b1 = box.T
        keep = (a1 > a0) & (b1 > b0)
        if not keep.all():
            owner_of, box, part = owner_of[keep], box[keep], part[keep]
            paths = [p for p, k in zip(paths, keep) if k]
            a0, a1, b0, b1 = box.T
        if not len(owner_of):
            break
        x0, x1 = edges(b0, b1, grid.width, t.c, t.a)
        y0, y1 = edges(a0, a1, grid.height, t.f, t.e)
        rects = shapely.box(x0, y0, x1, y1)
        whole = shapely.contains(own[owner_of], rects)
        for j in np.flatnonzero(whole):
            cells = np.arange(a0[j], a1[j], dtype=np.int64)[:, None] * ntx + np.arange(b0[j], b1[j], dtype=np.int64)
            inside.append((int(owner_of[j]), paths[j], cells.ravel()))
        rest = np.flatnonzero(~whole)
        sub = shapely.intersection(part[rest], rects[rest])
        hit = ~shapely.is_empty(sub)
        hit[hit] = shapely.area(sub[hit]) > 0
        rest, sub = rest[hit], sub[hit]
        single = (a1[rest] - a0[rest] == 1) & (b1[rest] - b0[rest] == 1)
        for j, s in zip(rest[single], sub[single]):
            found.append((int(owner_of[j]), paths[j], s, (x0[j], y0[j], x1[j], y1[j])))
        # the others split in two along their longer side; a depth-first walk takes the second half first
        go, sub = rest[~single], sub[~single]
        ga0, ga1, gb0, gb1 = a0[go], a1[go], b0[go], b1[go]
        rows = (ga1 - ga0) >= (gb1 - gb0)
        mid = np.where(rows, (ga0 + ga1) // 2, (gb0 + gb1) // 2)
        first = np.stack([ga0, np.where(rows, mid, ga1), gb0, np.where(rows, gb1, mid)], axis=1)
        second = np.stack([np.where(rows, mid, ga0), ga1, np.where(rows, gb0, mid), gb1], axis=1)
        owner_of = np.concatenate([owner_of[go], owner_of[go]])
        box = np.concatenate([second, first]).reshape(-1, 4)
        part = np.concatenate([sub, sub])
        paths = [paths[j] + (0,) for j in go] + [paths[j] + (1,) for j in go]
    # the single tiles' pieces: cut at the tile's edge, with vertices that near a cell line put
    # on it (the overlay may leave a vertex a nanometre beyond the tile's edge, and exactextract
    # counts a cell that a piece reaches by a nanometre as covered)
    found.sort(key=lambda f: (f[0], f[1]))
    snapped = _snap(np.asarray([f[2] for f in found], dtype=object), t) if found else []
    pieces: list[Any] = []
    owner: list[int] = []
    for (i, _path, _s, bounds), s in zip(found, snapped):
        s = shapely.clip_by_rect(s, *bounds)
        if not s.is_valid:  # a vertex moved onto an edge it nearly touched
            s = shapely.make_valid(s)
        s = _polygonal(s)
        if s is not None:
            pieces.append(s)
            owner.append(i)
    inside.sort(key=lambda f: (f[0], f[1]))
    interior: list[list[np.ndarray]] = [[] for _ in range(n)]
    for i, _path, cells in inside:
        interior[i].append(cells)
    return ([np.concatenate(c) if c else np.zeros(0, dtype=np.int64) for c in interior], pieces,
            np.asarray(owner, dtype=np.int64))
