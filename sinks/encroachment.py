"""Encroachment on ecological conservation redlines between two dates.

A pixel is *encroached* when

* it lies inside a redline: its centre is inside the polygon (``rasterize`` without
  ``all_touched``), so a patch that straddles the redline only counts its inside part;
* it was ecological land at the first date (forest, grassland, wetland, mangrove,
  water: :data:`sinks.landcover.ECOLOGICAL`);
* it is built-up, cropland or bare at the second (:data:`sinks.change.LOSS_TARGETS`).

Encroached pixels with the same from → to pair form patches (8- or 4-connected).
Each patch carries its redline id, the from/to class names, its pixel count, its area
(pixel count × pixel area, row by row on a geographic grid, :mod:`sinks.area`) and the
longitude/latitude of its centroid (WGS 84), which is what field inspection teams
need.  Patches smaller than ``min_patch_ha`` are dropped.

Memory follows the window size, not the raster: each redline is processed over its
bounding box only, cut into windows of ``chunks`` × ``chunks`` pixels aligned on the
raster grid, read under a small GDAL block cache (:data:`_SEARCH_CACHE_MB`; the caller's
cache size is restored afterwards).  Within a window, on the rows and columns that hold
encroached pixels, patches are labelled (one compiled
pass for every change code, :func:`sinks._kernels.label.label_equal`), pieces too small
to keep that cannot continue into a neighbouring window are dropped, and the rest are
polygonised in *pixel coordinates* (:func:`rasterio.features.shapes`, 4-connected, so
every polygon is valid; an 8-connected patch whose pixels meet only at a corner becomes a
MultiPolygon).  Pieces of one patch in different windows are found from the labels along the window
borders: pixels of the same change code facing each other across a border (or, under
8-connectivity, touching diagonally, also across a window corner) join their pieces, as
connected components of a sparse graph.  Such a patch is then drawn again from the rasters over
its bounding box (or, when that box is too large for memory, dissolved from its
pieces).  Pixel coordinates are exact integers, so pixel counts, areas and geometries
do not depend on the window size.  Geometries are converted to the raster CRS at the
end and written as MultiPolygons.

Overlapping redlines: a patch belongs to *each* redline it lies in, so the same pixels
may appear under two redline ids; per-redline totals are then right for each
redline, and the grand total counts those pixels once per redline.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from rasterio.env import get_gdal_config
from rasterio.features import rasterize, shapes
from rasterio.windows import Window
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .area import pixel_area_ha
from .change import change_codes, is_eco_loss
from .errors import ConfigError, GridMismatchError, VectorError
from .grid import Grid
from .landcover import NAMES
from .vectors import write_vector

__all__ = ["find_encroachment", "encroachment_summary", "summary_table", "write_patches", "PATCH_COLUMNS"]

log = logging.getLogger("sinks")

#: Largest bounding box (pixels) of a patch spanning windows that is drawn again from the rasters
#: in memory (about 8 bytes a pixel); larger ones are dissolved from their window pieces.
_REDRAW_MAX_PX = 16_000_000

#: GDAL block cache while the search reads (MB), when the process allows more: every window
#: is read once (a redraw reads its box again), so a larger cache only holds blocks that are
#: not read again, and at 400 Mpx it grew the search by ~100 MB.
_SEARCH_CACHE_MB = 16

#: Attribute columns of the patch table, in order (the redline id column follows ``patch_id``).
PATCH_COLUMNS = ("patch_id", "from_class", "to_class", "area_ha", "pixels", "lon", "lat")


def _tiles(win: Any, size: int) -> Iterator[tuple[int, int, int, int]]:
    """``(row, col, height, width)`` of the grid-aligned ``size`` tiles covering ``win``."""
    r0, c0 = int(win.row_off), int(win.col_off)
    r1, c1 = r0 + int(win.height), c0 + int(win.width)
    for r in range((r0 // size) * size, r1, size):
        for c in range((c0 // size) * size, c1, size):
            rr, cc = max(r, r0), max(c, c0)
            yield rr, cc, min(r + size, r1) - rr, min(c + size, c1) - cc


def _polygons(found: Iterable[tuple[dict[str, Any], Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Shapely polygons and values of ``rasterio.features.shapes`` output (GeoJSON-like dicts).

    The features are consumed one at a time and each ring's coordinates go straight into
    a float array: a patch of a million vertices then costs 16 bytes a vertex instead of
    a Python tuple of two floats each (~100 bytes).  The polygons are built in one
    vectorised call (3x faster than parsing GeoJSON).
    """
    coords: list[np.ndarray] = []
    counts: list[int] = []
    owner: list[int] = []
    values: list[int] = []
    for k, (g, v) in enumerate(found):
        values.append(int(v))
        for ring in g["coordinates"]:
            coords.append(np.fromiter(itertools.chain.from_iterable(ring), dtype=np.float64, count=2 * len(ring)))
            counts.append(len(ring))
            owner.append(k)
    keys = np.asarray(values, dtype=np.int64)
    if not coords:
        return np.empty(0, dtype=object), keys
    xy = np.concatenate(coords).reshape(-1, 2)
    del coords
    lines = shapely.linearrings(xy, indices=np.repeat(np.arange(len(counts)), counts))
    return shapely.polygons(lines, indices=np.asarray(owner)), keys  # first ring of each: the shell


def _span(flags: np.ndarray) -> tuple[int, int]:
    """``(first, last + 1)`` of the true entries of ``flags`` (which has one)."""
    hit = np.flatnonzero(flags)
    return int(hit[0]), int(hit[-1]) + 1


def _window_pieces(code: np.ndarray, mask: np.ndarray, row: int, col: int, area: float | np.ndarray,
                   connectivity: int, min_ha: float = 0.0) -> dict[str, np.ndarray] | None:
    """Connected pieces (per change code) of ``mask`` (at least one pixel) in one window, in
    global pixel coordinates.

    Pieces smaller than ``min_ha`` that do not touch the window border are dropped before
    they are polygonised (they cannot grow by joining a neighbouring window's piece).

    Returns arrays ``code``, ``geom``, ``pixels``, ``ha``, ``seed`` (a pixel of each piece),
    the ``window`` ``(row, col, height, width)``, and the piece number under each pixel of
    the window's ``top`` and ``bottom`` rows and ``left`` and ``right`` columns (-1 for
    none), from which :func:`_join` finds pieces continuing across windows; or ``None``.
    """
    from ._kernels.label import label_equal

    height, width = code.shape
    # the work is done on the rows and columns that hold the mask: the labels, their order
    # (scan order) and the polygons are those of the whole window, whose other pixels are
    # background; the window's borders are rebuilt below for the join
    m0, m1 = _span(mask.any(axis=1))
    n0, n1 = _span(mask.any(axis=0))
    sub = mask[m0:m1, n0:n1]
    labels, pixels, codes, first = label_equal(np.where(sub, code[m0:m1, n0:n1], 0).astype(code.dtype, copy=False),
                                               connectivity=connectivity)
    if np.ndim(area) == 0:
        ha = pixels * float(area)  # type: ignore[arg-type]
    else:
        rows = np.asarray(area)[row + m0:row + m1]
        ha = np.bincount(labels.ravel(), weights=np.broadcast_to(rows[:, None], labels.shape).ravel(),
                         minlength=len(codes))
    # the labels along each of the window's borders that the crop reaches (views: they follow
    # the filtering below), and where they sit along that border
    borders = [(side, line, where) for side, reached, line, where in (
        ("top", m0 == 0, labels[0], slice(n0, n1)), ("bottom", m1 == height, labels[-1], slice(n0, n1)),
        ("left", n0 == 0, labels[:, 0], slice(m0, m1)), ("right", n1 == width, labels[:, -1], slice(m0, m1)))
        if reached]
    edge = np.zeros(len(codes), dtype=bool)  # touching the window's border
    for _side, line, _where in borders:
        edge[line] = True
    keep = (ha + 1e-12 >= min_ha) | edge
    keep[0] = False
    if not keep.any():
        return None
    if not keep[1:].all():
        labels[~keep[labels]] = 0
    # Polygonise 4-connected pieces (always valid polygons); an 8-connected patch whose pixels
    # meet only at corners becomes a MultiPolygon of its pieces, which touch at points (valid).
    # (GDAL's 4-connected polygons are valid: 0 invalid in 330 000 random patches, and
    # tests/test_encroachment.py checks every output geometry)
    # only the rows and columns that hold a kept piece: GDAL's polygoniser scans every pixel
    # it is given
    held = labels > 0
    r0, r1 = _span(held.any(axis=1))
    c0, c1 = _span(held.any(axis=0))
    geoms, keys = _polygons(shapes(labels[r0:r1, c0:c1], mask=held[r0:r1, c0:c1], connectivity=4,
                                   transform=Affine.translation(col + n0 + c0, row + m0 + r0)))
    uniq, inverse = np.unique(keys, return_inverse=True)
    if len(uniq) < len(keys):  # one component in several 4-connected pieces
        order = np.argsort(inverse, kind="stable")
        parts, owner = shapely.get_parts(geoms[order], return_index=True)
        poly = shapely.get_type_id(parts) == 3
        geoms = shapely.multipolygons(parts[poly], indices=inverse[order][owner[poly]])
    else:
        geoms = geoms[np.argsort(inverse)]
    seed_r, seed_c = np.divmod(first[uniq], labels.shape[1])
    index = np.full(len(codes), -1, dtype=np.int64)  # label -> piece number (-1: background, dropped)
    index[uniq] = np.arange(len(uniq))
    sides = {side: np.full(width if side in ("top", "bottom") else height, -1, dtype=np.int64)
             for side in ("top", "bottom", "left", "right")}
    for side, line, where in borders:
        sides[side][where] = index[line]
    return {"code": np.asarray(codes, dtype=np.int64)[uniq], "geom": geoms, "pixels": pixels[uniq].astype(np.int64),
            "ha": np.asarray(ha, dtype=np.float64)[uniq],
            "seed": np.column_stack([seed_r + row + m0, seed_c + col + n0]),
            "window": (row, col, height, width), **sides}


def _join(parts: list[dict[str, Any]], connectivity: int) -> dict[str, np.ndarray]:
    """Join the pieces of one redline that continue across window borders (same change code).

    Works on the label rows and columns along the borders, not on the polygons: two
    pieces of neighbouring windows join when two of their pixels with the same code
    face each other across the border (or, under 8-connectivity, touch diagonally,
    also across a window corner).
    """
    start = np.cumsum([0] + [len(p["code"]) for p in parts])
    code = np.concatenate([p["code"] for p in parts])
    geom = np.concatenate([p["geom"] for p in parts])
    seed = np.concatenate([p["seed"] for p in parts])
    pixels = np.concatenate([p["pixels"] for p in parts])
    ha = np.concatenate([p["ha"] for p in parts])
    at = {p["window"][:2]: k for k, p in enumerate(parts)}  # by the (row, col) of the top-left pixel
    ends = {(p["window"][0], p["window"][1] + p["window"][3]): k for k, p in enumerate(parts)}  # by (row, end col)

    def glob(k: int, side: str) -> np.ndarray:
        v = parts[k][side]
        return np.where(v >= 0, v + start[k], -1)

    pairs: list[tuple[np.ndarray, np.ndarray]] = []

    def facing(a: np.ndarray, b: np.ndarray) -> None:
        """Pixels ``a[i]`` and ``b[i]`` face each other across a border (and, 8-connected,
        ``a[i]`` touches ``b[i ± 1]``)."""
        pairs.append((a, b))
        if connectivity == 8:
            pairs.append((a[1:], b[:-1]))
            pairs.append((a[:-1], b[1:]))

    for k, p in enumerate(parts):
        r, c, h, w = p["window"]
        if (j := at.get((r, c + w))) is not None:  # the window to the right
            facing(glob(k, "right"), glob(j, "left"))
        if (j := at.get((r + h, c))) is not None:  # the window below
            facing(glob(k, "bottom"), glob(j, "top"))
        if connectivity == 8:
            if (j := at.get((r + h, c + w))) is not None:  # below right: corner pixels touch
                pairs.append((glob(k, "bottom")[-1:], glob(j, "top")[:1]))
            if (j := ends.get((r + h, c))) is not None:  # below left
                pairs.append((glob(k, "bottom")[:1], glob(j, "top")[-1:]))
    n = len(code)
    if pairs:
        i = np.concatenate([a for a, _b in pairs])
        j = np.concatenate([b for _a, b in pairs])
        ok = (i >= 0) & (j >= 0)
        i, j = i[ok], j[ok]
        ok = code[i] == code[j]
        i, j = i[ok], j[ok]
    else:
        i = j = np.empty(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    _n, inverse = connected_components(graph, directed=False)
    first = np.full(_n, n, dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(n))
    # number the groups by their first piece, as before (deterministic order)
    order_of_group = np.argsort(first, kind="stable")
    rank = np.empty(_n, dtype=np.int64)
    rank[order_of_group] = np.arange(_n)
    inverse = rank[inverse]
    groups = first[order_of_group]
    sizes = np.bincount(inverse, minlength=_n)
    members = np.empty(_n, dtype=object)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for g in np.flatnonzero(sizes > 1):
        members[g] = geom[order[starts[g]:starts[g + 1]]]
    return {"code": code[groups], "geom": geom[groups].copy(), "seed": seed[groups],
            "pixels": np.bincount(inverse, weights=pixels, minlength=_n).astype(np.int64),
            "ha": np.bincount(inverse, weights=ha, minlength=_n),
            "bounds": _group_bounds(geom, inverse, _n), "members": members}


def _dissolve(pieces: np.ndarray) -> Any:
    """Union of one patch's window pieces (for patches too large to draw again in memory).

    Pieces of different windows never overlap; with every edge cut at pixel corners
    (pixel coordinates: unit segments) they are a correctly noded coverage, whose union
    is fast.  Collinear vertices are removed again afterwards.
    """
    u = shapely.simplify(shapely.coverage_union_all(shapely.segmentize(pieces, 1.0)), 0.0, preserve_topology=False)
    return u if shapely.is_valid(u) else shapely.make_valid(u)


def _group_bounds(geom: np.ndarray, inverse: np.ndarray, n: int) -> np.ndarray:
    """``(minx, miny, maxx, maxy)`` of each group's pieces (pixel coordinates)."""
    b = shapely.bounds(geom)
    out = np.empty((n, 4))
    out[:, :2] = np.inf
    out[:, 2:] = -np.inf
    np.minimum.at(out[:, 0], inverse, b[:, 0])
    np.minimum.at(out[:, 1], inverse, b[:, 1])
    np.maximum.at(out[:, 2], inverse, b[:, 2])
    np.maximum.at(out[:, 3], inverse, b[:, 3])
    return out


def _redraw(codes_at: Any, geom: Any, grid: Any, bounds: np.ndarray, code: int, seed: np.ndarray,
            connectivity: int) -> Any:
    """The polygon of a patch spanning several windows, drawn again from the rasters over its box.

    Cheaper and simpler than dissolving its window pieces: the patch is the component
    of its change code (inside the redline) holding its seed pixel.
    """
    from ._kernels.label import label_equal

    c0, r0, c1, r1 = (int(round(v)) for v in bounds)
    win = Window(c0, r0, c1 - c0, r1 - r0)
    codes = codes_at(win)
    mask = rasterize([(geom, 1)], out_shape=codes.shape, transform=grid.subgrid(win).transform, fill=0,
                     dtype="uint8", all_touched=False)
    np.logical_and(mask.view(bool), codes == code, out=mask.view(bool))  # inside, with the patch's code
    del codes
    labels, _sizes, _values, _first = label_equal(mask, connectivity=connectivity)
    del mask
    own = labels == labels[int(seed[0]) - r0, int(seed[1]) - c0]
    del labels
    found = shapes(own.view(np.uint8), mask=own, connectivity=4, transform=Affine.translation(c0, r0))
    polys, _values = _polygons(found)
    return shapely.normalize(shapely.multipolygons(polys))


def _to_multi(geoms: np.ndarray) -> np.ndarray:
    """Every geometry as a MultiPolygon (polygon parts of collections kept)."""
    out = geoms.copy()
    kind = shapely.get_type_id(geoms)
    poly = np.flatnonzero(kind == 3)
    if len(poly):
        out[poly] = shapely.multipolygons(geoms[poly], indices=np.arange(len(poly)))
    for k in np.flatnonzero((kind != 3) & (kind != 6)):
        parts = shapely.get_parts(shapely.get_parts(geoms[k]))
        out[k] = shapely.multipolygons(parts[shapely.get_type_id(parts) == 3])
    return out


def _search_cache_bytes() -> int:
    """GDAL's block cache for the search: :data:`_SEARCH_CACHE_MB`, or the process's own if smaller."""
    cap = _SEARCH_CACHE_MB * 2**20
    try:
        return min(cap, int(get_gdal_config("GDAL_CACHEMAX")))
    except (TypeError, ValueError):  # not set as a number of bytes
        return cap


def _redline_patches(codes_at: Any, geom: Any, grid: Any, area: Any, *, size: int, connectivity: int,
                     min_patch_ha: float) -> dict[str, np.ndarray] | None:
    """The patches of ecological loss inside one redline polygon, joined across windows and
    filtered by area: ``geom`` (in pixel coordinates), ``code``, ``pixels``, ``ha``; ``None`` without any."""
    win = grid.window(geom.bounds)
    if win.width == 0 or win.height == 0:
        return None
    parts: list[dict[str, np.ndarray]] = []
    for r, c, h, w in _tiles(win, size):
        wt = Window(c, r, w, h)
        code = codes_at(wt)
        loss = is_eco_loss(code)
        if not loss.any():
            continue
        mask = rasterize([(geom, 1)], out_shape=(h, w), transform=grid.subgrid(wt).transform,
                         fill=0, dtype="uint8", all_touched=False).view(bool)  # 0/1: the centre is inside
        mask &= loss
        if mask.any():
            piece = _window_pieces(code, mask, r, c, area, connectivity, min_patch_ha)
            if piece is not None:
                parts.append(piece)
    if not parts:
        return None
    p = _join(parts, connectivity)
    if np.ndim(area) == 0:  # whole-pixel areas: exact whatever the windows were
        p["ha"] = p["pixels"] * float(area)
    keep = p["ha"] + 1e-12 >= min_patch_ha
    spans = np.array([m is not None for m in p["members"]], dtype=bool)
    for g in np.flatnonzero(keep & spans):  # patches spanning windows
        c0, r0, c1, r1 = p["bounds"][g]
        if (c1 - c0) * (r1 - r0) <= _REDRAW_MAX_PX:
            p["geom"][g] = _redraw(codes_at, geom, grid, p["bounds"][g], int(p["code"][g]), p["seed"][g],
                                   connectivity)
        else:
            p["geom"][g] = _dissolve(p["members"][g])
    if not keep.any():
        return None
    return {"geom": shapely.normalize(p["geom"][keep]), **{n: p[n][keep] for n in ("code", "pixels", "ha")}}


def _patch_table(found: list[dict[str, np.ndarray]], redlines: Any, *, id_field: str, grid: Any) -> Any:
    """The patches of every redline as the GeoDataFrame :func:`find_encroachment` returns, in its order."""
    crs, t = grid.crs, grid.transform
    cols = [id_field, "from_class", "to_class", "area_ha", "pixels"]
    if found:
        cat = {n: np.concatenate([f[n] for f in found]) for n in found[0]}
        cen = shapely.centroid(cat["geom"])  # pixel coordinates (column, row): a deterministic tie-break
        frm, to = np.divmod(cat["code"], 16)
        df = pd.DataFrame({id_field: redlines[id_field].to_numpy()[cat["redline"]],
                           "from_class": [NAMES[int(v)] for v in frm], "to_class": [NAMES[int(v)] for v in to],
                           "area_ha": cat["ha"], "pixels": cat["pixels"],
                           "_key": redlines[id_field].astype(str).to_numpy()[cat["redline"]],
                           "_area": np.round(cat["ha"], 9),  # window sums may differ in the last bit
                           "_row": shapely.get_y(cen), "_col": shapely.get_x(cen)})
        order = df.sort_values(["_key", "_area", "_row", "_col", "from_class", "to_class"],
                               ascending=[True, False, True, True, True, True], kind="mergesort").index.to_numpy()
        geom = shapely.transform(cat["geom"][order],
                                 lambda xy: xy @ np.array([[t.a, t.d], [t.b, t.e]]) + np.array([t.c, t.f]))
        gdf = gpd.GeoDataFrame(df.loc[order, cols].reset_index(drop=True), geometry=_to_multi(geom), crs=crs)
        lonlat = gpd.GeoSeries(shapely.centroid(gdf.geometry.values), crs=crs).to_crs("EPSG:4326")
        gdf["lon"], gdf["lat"] = lonlat.x.round(6).to_numpy(), lonlat.y.round(6).to_numpy()
    else:
        gdf = gpd.GeoDataFrame({id_field: pd.Series([], dtype=redlines[id_field].dtype),
                                "from_class": pd.Series([], dtype=object), "to_class": pd.Series([], dtype=object),
                                "area_ha": pd.Series([], dtype="float64"), "pixels": pd.Series([], dtype="int64"),
                                "lon": pd.Series([], dtype="float64"), "lat": pd.Series([], dtype="float64")},
                               geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    gdf["pixels"] = gdf["pixels"].astype("int64")
    gdf.insert(0, "patch_id", [f"P{i + 1:05d}" for i in range(len(gdf))])
    return gdf[["patch_id", *cols, "lon", "lat", "geometry"]]


def find_encroachment(lc1: str | os.PathLike, lc2: str | os.PathLike, redlines: Any, *, id_field: str,
                      min_patch_ha: float = 0.05, connectivity: int = 8, chunks: int = 2048,
                      change: str | os.PathLike | None = None) -> Any:
    """Encroachment patches inside each redline.

    Parameters
    ----------
    lc1, lc2 : path
        Land cover at the first and second date (uint8 legend codes, 0 = nodata) on one grid.
    redlines : geopandas.GeoDataFrame
        Redline polygons, in the rasters' CRS (a layer in another CRS is reprojected;
        one without a CRS is taken to be in the rasters' CRS).
    id_field : str
        Redline id column, copied to the patches.
    min_patch_ha : float
        Smallest patch kept (default 0.05 ha); compared with the patch's whole area,
        after the pieces from different windows are joined.
    connectivity : {8, 4}
        Pixel connectivity of a patch.
    chunks : int
        Window size in pixels (memory bound; the result does not depend on it).
    change : path, optional
        The change map of ``lc1`` → ``lc2`` already written (codes ``from × 16 + to``,
        :func:`sinks.change.change_codes`, on their grid): read instead of both land
        covers, one read per window and no recomputation.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``patch_id``, ``<id_field>``, ``from_class``, ``to_class``, ``area_ha``,
        ``pixels``, ``lon``, ``lat`` (WGS 84 centroid) and MultiPolygon geometry in the
        rasters' CRS; sorted by redline id, then area (largest first).

    Raises
    ------
    ConfigError
        Bad ``connectivity``, ``chunks`` or ``min_patch_ha``.
    VectorError
        ``id_field`` not a column of ``redlines``.
    GridMismatchError
        The rasters are not on one grid.
    """
    if connectivity not in (4, 8):
        raise ConfigError(f"connectivity must be 4 or 8, got {connectivity!r}")
    if int(chunks) < 1:
        raise ConfigError(f"chunks must be a positive number of pixels, got {chunks!r}")
    if not (min_patch_ha >= 0 and math.isfinite(min_patch_ha)):
        raise ConfigError(f"min_patch_ha must be a number >= 0, got {min_patch_ha!r}")
    if id_field not in redlines.columns:
        raise VectorError(f"redlines: no field {id_field!r} (fields: {', '.join(map(str, redlines.columns))})")
    size = int(chunks)

    found: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(rasterio.Env(GDAL_CACHEMAX=_search_cache_bytes()))  # the caller's size comes back after
        a, b = stack.enter_context(rasterio.open(lc1)), stack.enter_context(rasterio.open(lc2))
        grid = Grid.from_dataset(a)
        if not grid.same_as(Grid.from_dataset(b)):
            raise GridMismatchError(f"{lc1} and {lc2} are not on the same grid")
        chg = stack.enter_context(rasterio.open(change)) if change is not None else None
        if chg is not None and not grid.same_as(Grid.from_dataset(chg)):
            raise GridMismatchError(f"{change} is not on the grid of {lc1}")

        def codes_at(w: Any) -> np.ndarray:
            if chg is not None:
                return chg.read(1, window=w)
            return change_codes(a.read(1, window=w), b.read(1, window=w))

        if redlines.crs is not None and not redlines.crs.equals(grid.crs.to_wkt()):
            log.info("encroachment: redlines reprojected to %s", grid.crs.to_string())
            redlines = redlines.to_crs(grid.crs)
        area = pixel_area_ha(grid)
        for k, geom in enumerate(redlines.geometry):
            if geom is None or geom.is_empty:
                continue
            kept = _redline_patches(codes_at, geom, grid, area, size=size, connectivity=connectivity,
                                    min_patch_ha=min_patch_ha)
            if kept is not None:
                found.append({"redline": np.full(len(kept["code"]), k), **kept})
    gdf = _patch_table(found, redlines, id_field=id_field, grid=grid)
    log.info("encroachment: %d patches, %.2f ha", len(gdf), float(gdf["area_ha"].sum()) if len(gdf) else 0.0)
    return gdf


def encroachment_summary(patches: Any, redlines: Any, *, id_field: str) -> dict[str, Any]:
    """Counts and areas: overall, per redline (every redline listed, zero if untouched) and per transition.

    Returns
    -------
    dict
        ``{"patches": n, "area_ha": total, "by_transition": {"forest->built_up": {...}},
        "by_redline": {rid: {"patches", "area_ha", "by_transition"}}}`` (JSON-ready).
        Under overlapping redlines the totals count shared pixels once per redline.
    """
    def transitions(sel: Any) -> dict[str, Any]:
        if not len(sel):
            return {}
        return {f"{f}->{t}": {"patches": int(len(grp)), "area_ha": float(grp["area_ha"].sum())}
                for (f, t), grp in sel.groupby(["from_class", "to_class"])}

    keys = patches[id_field].astype(str) if len(patches) else None
    by: dict[str, Any] = {}
    for rid in redlines[id_field]:
        sel = patches[keys == str(rid)] if keys is not None else patches
        by[str(rid)] = {"patches": int(len(sel)), "area_ha": float(sel["area_ha"].sum()) if len(sel) else 0.0,
                        "by_transition": transitions(sel)}
    total = float(patches["area_ha"].sum()) if len(patches) else 0.0
    return {"patches": int(len(patches)), "area_ha": total if math.isfinite(total) else 0.0,
            "by_transition": transitions(patches), "by_redline": by}


def summary_table(patches: Any, redlines: Any, *, id_field: str) -> Any:
    """Per-redline counts and areas as a DataFrame (``<id_field>``, ``patches``, ``area_ha``)."""
    s = encroachment_summary(patches, redlines, id_field=id_field)["by_redline"]
    return pd.DataFrame({id_field: list(s), "patches": [v["patches"] for v in s.values()],
                         "area_ha": [v["area_ha"] for v in s.values()]})


def write_patches(patches: Any, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write patches atomically (GeoPackage by default; format by extension, :func:`sinks.vectors.write_vector`)."""
    return write_vector(patches, path, overwrite=overwrite)
