"""The target grid: one immutable object instead of loose (crs, transform, shape) triples.

Also the grid maths of a run: the target grid derived from the tiles
(:func:`derive_grid`), which tiles reach into it (:func:`overlaps`), dask chunks cut on
the tiles' internal blocks (:func:`aligned_chunks`), and a batch region's mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from .errors import CRSMismatchError, ConfigError, NoOverlapError

if TYPE_CHECKING:
    from .tiles import Tile

__all__ = ["Grid", "region_mask", "derive_grid", "footprint", "overlaps", "aligned_chunks"]


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid.

    Attributes
    ----------
    crs : rasterio.crs.CRS
    transform : affine.Affine
        Pixel-corner transform (north-up: ``b == d == 0``, ``e < 0``).
    width, height : int
    """

    crs: CRS
    transform: Affine
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.crs is None:
            raise CRSMismatchError("grid has no CRS")
        if self.transform.b != 0 or self.transform.d != 0:
            raise ConfigError("rotated grids are not supported")
        if self.width <= 0 or self.height <= 0:
            raise ConfigError(f"empty grid ({self.width} x {self.height})")

    # -- constructors -----------------------------------------------------------------
    @classmethod
    def from_bounds(cls, bounds: tuple[float, float, float, float], resolution: float | tuple[float, float],
                    crs: CRS | str | int, *, snap: bool = True) -> "Grid":
        """Grid covering ``bounds`` (left, bottom, right, top) at ``resolution``.

        With ``snap`` the edges are snapped outward to multiples of the resolution, so
        grids built from overlapping bounds share pixel edges.
        """
        rx, ry = (resolution, resolution) if np.isscalar(resolution) else resolution
        rx, ry = float(rx), float(abs(ry))
        if rx <= 0 or ry <= 0:
            raise ConfigError(f"resolution must be positive, got {resolution}")
        left, bottom, right, top = map(float, bounds)
        if snap:
            left = math.floor(left / rx + 1e-9) * rx
            bottom = math.floor(bottom / ry + 1e-9) * ry
            right = math.ceil(right / rx - 1e-9) * rx
            top = math.ceil(top / ry - 1e-9) * ry
        width = int(round((right - left) / rx))
        height = int(round((top - bottom) / ry))
        return cls(_crs(crs), Affine(rx, 0.0, left, 0.0, -ry, top), width, height)

    @classmethod
    def from_dataset(cls, ds) -> "Grid":  # noqa: ANN001 - rasterio dataset
        """Grid of an open rasterio dataset."""
        if ds.crs is None:
            raise CRSMismatchError(f"{ds.name}: raster has no CRS")
        return cls(CRS.from_user_input(ds.crs), ds.transform, ds.width, ds.height)

    # -- properties -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return (self.height, self.width)

    @property
    def res(self) -> tuple[float, float]:
        """(x resolution, y resolution), both positive."""
        return (abs(self.transform.a), abs(self.transform.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top)."""
        t = self.transform
        return (t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f)

    @property
    def is_geographic(self) -> bool:
        return bool(self.crs.is_geographic)

    def xy_coords(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre coordinates ``(x, y)`` as 1-D arrays."""
        t = self.transform
        x = t.c + t.a * (np.arange(self.width) + 0.5)
        y = t.f + t.e * (np.arange(self.height) + 0.5)
        return x, y

    # -- relations --------------------------------------------------------------------
    def same_as(self, other: "Grid", *, tol: float = 1e-6) -> bool:
        """True when both grids have the same CRS, shape and transform (within ``tol`` pixels)."""
        if self.shape != other.shape or self.crs != other.crs:
            return False
        a, b = self.transform, other.transform
        rx, ry = self.res
        return (abs(a.a - b.a) <= tol * rx and abs(a.e - b.e) <= tol * ry
                and abs(a.c - b.c) <= tol * rx and abs(a.f - b.f) <= tol * ry)

    def offset_in(self, other: "Grid", *, tol: float = 1e-6) -> tuple[int, int] | None:
        """Integer pixel offset (col, row) of ``other``'s origin on this grid, if aligned.

        Returns ``None`` when the two grids differ in CRS or resolution or are not
        pixel-aligned, i.e. when reading ``other`` needs warping.
        """
        if self.crs != other.crs:
            return None
        a, b = self.transform, other.transform
        if abs(a.a - b.a) > tol * abs(a.a) or abs(a.e - b.e) > tol * abs(a.e):
            return None
        col = (b.c - a.c) / a.a
        row = (b.f - a.f) / a.e
        if abs(col - round(col)) > 1e-3 or abs(row - round(row)) > 1e-3:
            return None
        return int(round(col)), int(round(row))

    def window(self, bounds: tuple[float, float, float, float]) -> Window:
        """Window of this grid covering ``bounds`` (pixel edges rounded outward, clipped)."""
        inv = ~self.transform
        left, bottom, right, top = bounds
        c0, r0 = inv * (left, top)
        c1, r1 = inv * (right, bottom)
        c0, c1 = sorted((c0, c1))
        r0, r1 = sorted((r0, r1))
        c0 = max(0, math.floor(c0 + 1e-9))
        r0 = max(0, math.floor(r0 + 1e-9))
        c1 = min(self.width, math.ceil(c1 - 1e-9))
        r1 = min(self.height, math.ceil(r1 - 1e-9))
        return Window(c0, r0, max(0, c1 - c0), max(0, r1 - r0))

    def subgrid(self, window: Window) -> "Grid":
        """The grid of ``window`` (which must lie inside this grid)."""
        col, row = int(window.col_off), int(window.row_off)
        return Grid(self.crs, self.transform @ Affine.translation(col, row), int(window.width), int(window.height))

    def clip_to_bounds(self, bounds: tuple[float, float, float, float]) -> "Grid":
        """Sub-grid covering ``bounds``; raises :class:`ConfigError` if they miss the grid."""
        win = self.window(bounds)
        if win.width == 0 or win.height == 0:
            raise ConfigError(f"bounds {bounds} do not overlap the grid {self.bounds}")
        return self.subgrid(win)

    def chunks(self, size: "int | tuple[tuple[int, ...], tuple[int, ...]]"
               ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Dask chunks (rows, cols) of ``size`` pixels, or explicit chunks checked against the grid."""
        if not isinstance(size, (int, np.integer)):
            rows, cols = (tuple(int(v) for v in axis) for axis in size)
            if sum(rows) != self.height or sum(cols) != self.width or min(rows + cols) <= 0:
                raise ValueError(f"chunks {size!r} do not tile a {self.height} x {self.width} grid")
            return rows, cols
        size = int(size)

        def split(n: int) -> tuple[int, ...]:
            full, rest = divmod(n, size)
            return tuple([size] * full + ([rest] if rest else []))
        return split(self.height), split(self.width)

    def windows(self, size: int) -> Iterator[Window]:
        """Row-major windows of ``size`` × ``size`` pixels."""
        for r in range(0, self.height, size):
            for c in range(0, self.width, size):
                yield Window(c, r, min(size, self.width - c), min(size, self.height - r))

    def to_dict(self) -> dict:
        """JSON-ready description (for manifests and summaries)."""
        return {
            "crs": self.crs.to_string(),
            "transform": list(self.transform)[:6],
            "width": self.width,
            "height": self.height,
            "resolution": list(self.res),
            "bounds": list(self.bounds),
        }


def _block_within(geometry: Any, sub: Grid) -> bool | None:
    """``True`` when ``geometry`` covers the whole of ``sub``'s footprint, ``False`` when it
    misses it, ``None`` when its edge crosses it (then the pixels must be rasterized).

    Every pixel centre lies half a pixel inside the footprint, so in the first two cases
    the centre-in rule gives every pixel the same answer, far from any rounding.
    """
    from shapely.geometry import Polygon

    t, h, w = sub.transform, sub.height, sub.width
    foot = Polygon([t * (0, 0), t * (w, 0), t * (w, h), t * (0, h)])
    if not geometry.intersects(foot):
        return False
    if geometry.contains(foot):
        return True
    return None


def region_mask(grid: Grid, geometry: Any, *, chunks: Any) -> Any:
    """Lazy boolean ``(y, x)`` dask mask on ``grid``: True where a pixel centre is inside ``geometry``.

    Parameters
    ----------
    grid : Grid
    geometry : shapely geometry
        In the grid's CRS.
    chunks : int or tuple of tuples
        The mask's chunks, as :meth:`Grid.chunks` takes them.
    """
    import dask.array as da
    from rasterio.features import geometry_mask

    def block(block_info: dict | None = None) -> np.ndarray:
        (r0, r1), (c0, c1) = block_info[None]["array-location"]
        sub = grid.subgrid(Window(c0, r0, c1 - c0, r1 - r0))
        whole = _block_within(geometry, sub)
        if whole is not None:
            return np.full(sub.shape, whole)
        return ~geometry_mask([geometry], out_shape=sub.shape, transform=sub.transform)

    return da.map_blocks(block, chunks=grid.chunks(chunks), dtype=bool, meta=np.zeros((0, 0), bool))


def footprint(tile_grid: Grid, crs: CRS) -> tuple[float, float, float, float]:
    """Bounds of ``tile_grid`` in ``crs`` (densified, so a reprojected edge's bulge is kept)."""
    if tile_grid.crs == crs:
        return tile_grid.bounds
    from rasterio.warp import transform_bounds

    return transform_bounds(tile_grid.crs, crs, *tile_grid.bounds, densify_pts=21)


def derive_grid(tiles: Sequence[Tile], *, crs: CRS | str | int | None = None,
                resolution: float | None = None,
                bounds: tuple[float, float, float, float] | None = None,
                aoi_bounds: tuple[float, float, float, float] | None = None) -> Grid:
    """Target grid from explicit settings, filling gaps from the tiles.

    CRS and resolution default to the first tile's.  Bounds default to the union of
    the tiles' footprints, clipped to ``aoi_bounds`` (in the target CRS) when given.
    Edges are snapped to the first tile's pixel lattice so tiles on that lattice
    are read without warping.
    """
    if not tiles:
        raise NoOverlapError("no tiles given")
    ref = tiles[0].grid
    target_crs = ref.crs if crs is None else (crs if isinstance(crs, CRS) else CRS.from_user_input(crs))
    if resolution:
        rx = ry = float(resolution)
    elif ref.crs == target_crs:  # the tiles' own pixel size, square or not
        rx, ry = ref.res
    else:
        raise CRSMismatchError("grid.resolution is required when the grid CRS differs from the tiles' CRS")
    if bounds is None:
        fps = np.array([footprint(t.grid, target_crs) for t in tiles])
        bounds = (fps[:, 0].min(), fps[:, 1].min(), fps[:, 2].max(), fps[:, 3].max())
        if aoi_bounds is not None:
            bounds = (max(bounds[0], aoi_bounds[0]), max(bounds[1], aoi_bounds[1]),
                      min(bounds[2], aoi_bounds[2]), min(bounds[3], aoi_bounds[3]))
            if bounds[0] >= bounds[2] or bounds[1] >= bounds[3]:
                raise NoOverlapError("the tiles do not overlap the AOI")
    if ref.crs == target_crs and abs(ref.res[0] - rx) < 1e-9 * rx and abs(ref.res[1] - ry) < 1e-9 * ry:
        ox, oy = ref.transform.c, ref.transform.f
    else:
        ox, oy = 0.0, 0.0
    left = ox + np.floor((bounds[0] - ox) / rx + 1e-9) * rx
    right = ox + np.ceil((bounds[2] - ox) / rx - 1e-9) * rx
    top = oy + np.ceil((bounds[3] - oy) / ry - 1e-9) * ry
    bottom = oy + np.floor((bounds[1] - oy) / ry + 1e-9) * ry
    return Grid.from_bounds((left, bottom, right, top), (rx, ry), target_crs, snap=False)


def overlaps(tile: Tile, grid: Grid) -> bool:
    """Whether ``tile``'s footprint reaches into ``grid``'s bounds."""
    a = footprint(tile.grid, grid.crs)
    b = grid.bounds
    return a[0] < b[2] and a[2] > b[0] and a[1] < b[3] and a[3] > b[1]


def aligned_chunks(grid: Grid, tiles: Sequence[Tile], size: int, *, minimum: int = 64
                   ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Dask chunks of about ``size`` pixels whose edges fall on the tiles' internal blocks.

    A task that reads a window cutting through a compressed block decodes the whole
    block, and its neighbour decodes it again; tiles that overlap (as Sentinel-2 MGRS
    tiles do) cannot all share one regular chunk lattice.  Along each axis, the part of
    the grid that a tile serves (first tile wins, in the order given) is chunked on that
    tile's block lattice; chunks end where the next tile takes over.  Tiles off the
    grid's pixel lattice (warped) do not constrain the chunks.  Chunks are at most
    ``size`` pixels and, except at the grid's edge, at least ``minimum``.

    Returns
    -------
    (row chunks, column chunks)
    """
    rows: list[tuple[int, int, int]] = []
    cols: list[tuple[int, int, int]] = []
    for t in tiles:
        off = grid.offset_in(t.grid)
        if off is None or min(t.blocksize) <= 0:
            continue
        col0, row0 = off
        rows.append((row0, row0 + t.grid.height, t.blocksize[0]))
        cols.append((col0, col0 + t.grid.width, t.blocksize[1]))
    return _axis_chunks(grid.height, rows, size, minimum), _axis_chunks(grid.width, cols, size, minimum)


def _axis_chunks(n: int, spans: list[tuple[int, int, int]], size: int, minimum: int) -> tuple[int, ...]:
    """Chunk lengths along one axis of ``n`` pixels, cut on the block lattice of the span serving each part."""
    size = max(int(size), 1)
    cuts = [0]
    p = 0
    while p < n:
        span = next((sp for sp in spans if sp[0] <= p < sp[1]), None)
        if span is None:  # no tile here: a plain step, up to where the next tile starts
            cut = min((sp[0] for sp in spans if sp[0] > p), default=n)
            cut = min(cut, p + size)
        else:
            start, end, block = span
            cut = start + block * ((p + size - start) // block)
            if cut <= p:  # blocks larger than the chunk size
                cut = p + size
            cut = min(cut, end)  # the next tile takes over here
        p = min(cut, n)
        cuts.append(p)
    lengths = [b - a for a, b in zip(cuts, cuts[1:])]
    merged: list[int] = []
    for length in lengths:  # fold slivers into the previous chunk (kept at most size + minimum)
        if merged and length < min(minimum, size):
            merged[-1] += length
        else:
            merged.append(length)
    return tuple(merged)


def _crs(value: CRS | str | int) -> CRS:
    try:
        return value if isinstance(value, CRS) else CRS.from_user_input(value)
    except Exception as exc:
        raise CRSMismatchError(f"invalid CRS {value!r}: {exc}") from None
