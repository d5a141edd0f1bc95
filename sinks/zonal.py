"""Per-polygon statistics with exact partial-pixel coverage (exactextract).

Every statistic weights each pixel by the fraction of it that the polygon covers
(never ``all_touched``): ``count`` is the coverage-weighted number of valid pixels and
``sum`` the coverage-weighted sum of pixel values.  On rasters in a geographic CRS the
averaging statistics (``mean``, ``stdev``, ``median`` ...) are weighted by cell area on
the sphere (``coverage_weight="area_spherical_m2"``) so that a cell near the pole does
not weigh like one at the equator; ``sum`` and ``count`` stay in pixel units.

Each row also reports ``nodata_fraction``: the share of the polygon's area holding no
valid pixel.  Area of the polygon outside the raster counts as nodata, so a polygon
half off the raster has a fraction of at least 0.5.  Inside the raster the fraction is
``1 - count / count(default_value)`` with the same (area) weights, so it is exact and
never mixes two measures of area.  Fractions below ``1e-9`` are reported as 0.

Polygons may overlap (each is summarised on its own); a polygon that covers no valid
pixel gives a row with ``count`` 0, ``sum`` 0, ``mean`` NaN and an
:class:`~sinks.errors.EmptyZoneWarning` naming it.  In float rasters NaN is nodata and
so are ±inf: when the polygons meet an infinite value the statistics are computed again
with every non-finite pixel as nodata, and one
:class:`~sinks.errors.NonFiniteWarning` names the raster.

Categorical rasters (:func:`class_areas`) give the area (ha) and the fraction of the
valid area of each class.  Areas follow :mod:`sinks.area`: ``|a·e|`` per pixel for
projected grids; for geographic grids the ellipsoidal (WGS84) area of each row's
pixels, passed to exactextract as a one-column weight raster — so polygon sums over a
partition equal :func:`sinks.carbon.class_areas_ha` of the whole raster.

Nothing here loops over pixels in Python or builds per-polygon rasters: one
exactextract pass over all polygons reads the raster block by block; memory grows with
the number of polygons (and classes), not with the raster.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import warnings
from typing import Any, Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from exactextract import exact_extract
from exactextract._exactextract import Feature
from exactextract.feature import FeatureSource
from exactextract.raster import NumPyRasterSource, RasterSource
from rasterio.windows import Window
from shapely.geometry import box

from .area import pixel_area_ha, row_area_ha
from .errors import ConfigError, EmptyZoneWarning, NonFiniteWarning, TileReadError
from .gdalenv import gdal_cache_options
from .landcover import NAMES
from .tiles import inspect_tile
from .vectors import read_vector

__all__ = ["STATS", "zonal_stats", "class_areas", "joint_class_areas", "JointAreas", "read_zones", "zonal_total"]

log = logging.getLogger("sinks")

#: Statistics offered (exactextract operation names).
STATS: tuple[str, ...] = ("sum", "mean", "count", "min", "max", "median", "stdev", "variance", "minority",
                          "majority", "variety", "coefficient_of_variation", "min_center_x", "min_center_y",
                          "max_center_x", "max_center_y")

#: Statistics whose value depends on the relative weight of the cells (area-weighted on geographic grids).
_AREA_WEIGHTED = frozenset({"mean", "median", "stdev", "variance", "minority", "majority",
                            "coefficient_of_variation"})

_ZONE = "_sinks_zone"
_SNAP = 1e-9
_STRATEGY = "raster-sequential"
#: Raster cells exactextract holds at once (its window): bounds memory whatever the raster size.
_MAX_CELLS = 8_000_000
#: Class and transition areas below this share of a pixel are reported as 0 (:func:`joint_class_areas`).
_SLIVER_PX = 1e-5
#: Windows up to this many cells combine their codes with numpy rather than the compiled kernel.
_SMALL_WINDOW = 1 << 20
#: Fewest polygons worth sharing between processes.
_PARALLEL_MIN = 64


def check_stats(stats: Sequence[str]) -> list[str]:
    """Normalise statistic names; raise :class:`ConfigError` listing the known ones."""
    wanted = [s.strip().lower() for s in stats if s and s.strip()]
    bad = [s for s in wanted if s not in STATS]
    if bad or not wanted:
        raise ConfigError(f"unknown statistic(s) {', '.join(bad) or '(none given)'}; known: {', '.join(STATS)}")
    return list(dict.fromkeys(wanted))


def _open_raster(raster: str | os.PathLike) -> Any:
    return inspect_tile(raster)


def read_zones(zones: Any, *, id_field: str, crs: Any, layer: str | None = None) -> Any:
    """Read and check polygons (any GDAL source or GeoDataFrame), reprojected to ``crs``."""
    gdf = read_vector(zones, layer=layer, id_field=id_field, target_crs=crs, what="zones")
    gdf = gdf.reset_index(drop=True)
    gdf[_ZONE] = np.arange(len(gdf), dtype=np.int64)
    return gdf


def _row_weights(grid: Any) -> Any:
    """One-column raster of per-row pixel areas (ha) on ``grid``'s extent (geographic grids)."""
    t = grid.transform
    xs = (t.c, t.c + t.a * grid.width)
    ys = (t.f, t.f + t.e * grid.height)
    return NumPyRasterSource(row_area_ha(grid).reshape(-1, 1), xmin=min(xs), xmax=max(xs), ymin=min(ys),
                             ymax=max(ys), srs_wkt=grid.crs.to_wkt())


def _extract(raster: Any, gdf: Any, ops: list[str], *, weights: Any = None, workers: int = 1,
             strategy: str = _STRATEGY) -> pd.DataFrame:
    gdal_cache_options()  # exactextract's GDAL would otherwise cache 5 % of RAM of raster blocks
    if workers > 1 and isinstance(raster, (str, os.PathLike)) and weights is None and len(gdf) >= _PARALLEL_MIN:
        return _extract_parallel(str(raster), gdf, ops, workers)
    # raster-sequential: each raster chunk is read once and offered to every polygon touching it
    # (faster than one read per polygon; the results are identical, see tests/test_zonal.py)
    df = exact_extract(raster, _wkb_features(gdf), ops, weights=weights, include_cols=[_ZONE],
                       output="pandas", strategy=strategy, max_cells_in_memory=_MAX_CELLS)
    return df.sort_values(_ZONE).reset_index(drop=True)


def _wkb_features(gdf: Any) -> Any:
    """The polygons as an exactextract feature source handing over WKB.

    exactextract's own GeoDataFrame source turns every polygon into GeoJSON text in
    Python and parses it again in C++; WKB from one vectorised shapely call skips both.
    """
    class _Feature(Feature):  # type: ignore[misc]
        def __init__(self, props: dict[str, Any] | None = None, wkb: bytes | None = None) -> None:
            Feature.__init__(self)
            self.props = {} if props is None else props
            self.wkb = wkb

        def get(self, name: str) -> Any:
            return self.props[name]

        def set(self, name: str, value: Any) -> None:
            self.props[name] = value

        def geometry(self) -> bytes | None:
            return self.wkb

        def set_geometry(self, wkb: bytes | None) -> None:
            self.wkb = wkb

        def set_geometry_format(self) -> str:
            return "wkb"

        def fields(self) -> list[str]:
            return list(self.props)

    class _Source(FeatureSource):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.zones = gdf[_ZONE].tolist()
            self.wkbs = shapely.to_wkb(gdf.geometry.to_numpy())
            self.crs_wkt = gdf.crs.to_wkt() if gdf.crs is not None else None

        def count(self) -> int:
            return len(self.zones)

        def __iter__(self) -> Any:
            for zone, wkb in zip(self.zones, self.wkbs):
                yield _Feature({_ZONE: zone}, wkb)

        def srs_wkt(self) -> str | None:
            return self.crs_wkt

    return _Source()


def _on_grid(grid: Any) -> type:
    """An exactextract ``RasterSource`` base class that lies on ``grid`` (resolution, extent, CRS)."""
    t = grid.transform
    xs = sorted((t.c, t.c + t.a * grid.width))
    ys = sorted((t.f, t.f + t.e * grid.height))
    wkt = grid.crs.to_wkt()

    class _OnGrid(RasterSource):  # type: ignore[misc]
        def res(self) -> tuple[float, float]:
            return abs(t.a), abs(t.e)

        def extent(self) -> tuple[float, float, float, float]:
            return xs[0], ys[0], xs[1], ys[1]

        def srs_wkt(self) -> str:
            return wkt

    return _OnGrid


def _finite_source(info: Any) -> Any:
    """An exactextract raster source reading band 1 of ``info.path`` with ±inf turned to NaN (nodata)."""
    class _Finite(_on_grid(info.grid)):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.ds = rasterio.open(info.path)

        def nodata_value(self) -> Any:
            return self.ds.nodata

        def read_window(self, x0: int, y0: int, nx: int, ny: int) -> np.ndarray:
            a = self.ds.read(1, window=Window(x0, y0, nx, ny))
            a[np.isinf(a)] = np.nan
            return a

        def close(self) -> None:
            self.ds.close()

    return _Finite()


def _extract_part(raster: str, part: Any, ops: list[str]) -> pd.DataFrame:
    """One worker's share of the polygons (runs in a child process)."""
    return _extract(raster, part, ops)


def _extract_parallel(raster: str, gdf: Any, ops: list[str], workers: int) -> pd.DataFrame:
    """exactextract on ``workers`` processes, each with a band of the polygons (it holds the GIL).

    Polygons are split into bands of equal count ordered by centroid row, so each
    process reads about its own share of the raster.  Child processes are forked when
    this process runs no other thread (cheap: nothing to import again), otherwise
    started fresh (:class:`sinks.runtime.child.ChildProcess`).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    order = np.argsort(-gdf.geometry.centroid.y.to_numpy(), kind="stable")
    parts = [gdf.iloc[idx][[_ZONE, "geometry"]] for idx in np.array_split(order, workers)]
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as ex:
            frames = list(ex.map(_extract_part, [raster] * len(parts), parts, [ops] * len(parts)))
        how = "forked"
    else:
        from .runtime.child import ChildProcess

        jobs = [ChildProcess(_extract_part, raster, part, ops) for part in parts]
        try:
            frames = [job.result() for job in jobs]
        finally:
            for job in jobs:
                job.cancel()
        how = "started"
    log.info("zonal: %d polygons on %d %s processes", len(gdf), workers, how)
    return pd.concat(frames, ignore_index=True).sort_values(_ZONE).reset_index(drop=True)


def _footprint(gdf: Any, grid: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each polygon's area and the part of it inside the raster's extent (m² on the
    ellipsoid for geographic grids, CRS units² otherwise)."""
    t = grid.transform
    xs = sorted((t.c, t.c + t.a * grid.width))
    ys = sorted((t.f, t.f + t.e * grid.height))
    ext = box(xs[0], ys[0], xs[1], ys[1])
    geoms = gdf.geometry
    inside = geoms.intersection(ext)
    if grid.is_geographic:
        from pyproj import Geod

        geod = Geod(ellps="WGS84")
        area = np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in geoms])
        ins = np.array([abs(geod.geometry_area_perimeter(g)[0]) if not g.is_empty else 0.0 for g in inside])
        return area, ins
    return geoms.area.to_numpy(), inside.area.to_numpy()


def _coverage(df: pd.DataFrame, footprint: tuple[np.ndarray, np.ndarray], grid: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(all cells, inside share)``: the coverage-weighted count of every cell (valid or
    not) each polygon covers inside the raster, and the share of its area inside.

    On projected grids exact coverage fractions add up to the polygon's area inside the
    raster over the cell area, so that area gives the count without a second statistic
    pass in exactextract; on geographic grids (cells weighted by their area) it is the
    ``_all`` operation.
    """
    area, ins = footprint
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = np.where(area > 0, np.clip(ins / area, 0.0, 1.0), 0.0)
    if "_all" in df:
        return df["_all"].to_numpy(dtype=np.float64), inside
    return ins / abs(grid.transform.a * grid.transform.e), inside


def _nodata_fraction(valid: np.ndarray, everything: np.ndarray, inside: np.ndarray) -> np.ndarray:
    valid = np.asarray(valid, dtype=np.float64)
    everything = np.asarray(everything, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(everything > 0, valid / everything, 0.0)
    frac = np.clip(1.0 - share * inside, 0.0, 1.0)
    return np.where(frac < _SNAP, 0.0, frac)


def _warn_empty(ids: Sequence[Any], raster: str) -> None:
    if len(ids):
        shown = ", ".join(str(i) for i in list(ids)[:10]) + (" ..." if len(ids) > 10 else "")
        warnings.warn(f"{raster}: {len(ids)} zone(s) cover no valid pixel: {shown}", EmptyZoneWarning, stacklevel=3)


def _area_ops(grid: Any) -> list[str]:
    """Named ops giving the (area-)weighted valid and total coverage used for ``nodata_fraction``
    (the total comes from the geometry on projected grids, see :func:`_coverage`)."""
    if not grid.is_geographic:
        return ["_valid=count"]
    w = "coverage_weight=area_spherical_m2"
    return [f"_valid=count({w})", f"_all=count({w},default_value=0)"]


def zonal_stats(raster: str | os.PathLike, zones: Any, *, id_field: str, stats: Sequence[str] = ("sum", "mean", "count"),
                layer: str | None = None, categorical: bool = False, workers: int = 1) -> Any:
    """Exact zonal statistics, one row per polygon.

    Parameters
    ----------
    raster : path
        Single-band raster (band 1 is used).
    zones : path or GeoDataFrame
        Polygons (any GDAL vector source or GeoParquet); reprojected to the raster's
        CRS (logged), invalid geometries repaired with a warning.
    id_field : str
        Unique id column (first column of the result).
    stats : sequence of str
        Any of :data:`STATS` (ignored with ``categorical``).
    layer : str, optional
        Layer of a multi-layer source.
    categorical : bool
        Return :func:`class_areas` instead.
    workers : int
        Processes sharing the polygons (exactextract is single-threaded and holds the
        GIL); the result does not depend on it.

    Returns
    -------
    geopandas.GeoDataFrame
        ``<id_field>, <stats...>, nodata_fraction, geometry`` (polygons in the raster CRS).

    Raises
    ------
    ConfigError
        Unknown statistic.
    TileReadError, VectorError
        Unreadable raster, bad zones (missing, empty, no CRS, missing or duplicate ids).
    """
    if categorical:
        return class_areas(raster, zones, id_field=id_field, layer=layer, workers=workers)
    stats = check_stats(stats)
    info = _open_raster(raster)
    gdf = read_zones(zones, id_field=id_field, crs=info.grid.crs, layer=layer)
    geo = info.grid.is_geographic
    ops = [f"{s}={s}(coverage_weight=area_spherical_m2)" if geo and s in _AREA_WEIGHTED else s for s in stats]
    ops += _area_ops(info.grid)
    is_float = np.dtype(info.dtype).kind == "f"
    # exactextract takes NaN as nodata but counts ±inf as values: min and max show whether any
    # polygon meets one, and only then is the raster read again with them masked
    probe = ["_sinks_min=min", "_sinks_max=max"] if is_float else []
    df = _extract(info.path, gdf, [*ops, *probe], workers=workers)
    if is_float and (np.isinf(df["_sinks_min"].to_numpy(dtype=np.float64)).any()
                     or np.isinf(df["_sinks_max"].to_numpy(dtype=np.float64)).any()):
        warnings.warn(f"{info.path}: holds infinite values; they are treated as nodata", NonFiniteWarning,
                      stacklevel=2)
        src = _finite_source(info)
        try:
            df = _extract(src, gdf, ops)
        finally:
            src.close()
    out = pd.DataFrame({id_field: gdf[id_field].to_numpy()})
    for s in stats:
        out[s] = df[s].to_numpy()
    empty = df["_valid"].to_numpy() == 0
    if "sum" in out:
        out.loc[empty, "sum"] = 0.0
    out["nodata_fraction"] = _nodata_fraction(df["_valid"], *_coverage(df, _footprint(gdf, info.grid), info.grid))
    _warn_empty(out.loc[empty, id_field].tolist(), info.path)
    return gpd.GeoDataFrame(out, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)


def zonal_total(raster: str | os.PathLike, zones: Any, *, id_field: str, per_ha: bool = True) -> np.ndarray:
    """Total of a quantity mapped per hectare (or per pixel) inside each polygon.

    ``Σ value × covered fraction × pixel area (ha)`` with ``per_ha`` (a raster of
    m³/ha gives m³), or ``Σ value × covered fraction`` without.  Exact partial
    coverage; per-row ellipsoidal cell areas on geographic grids; the raster's nodata
    (and NaN) is left out.

    Parameters
    ----------
    raster : path
        Single-band raster (band 1), on any grid.
    zones : path or GeoDataFrame
        Polygons (reprojected to the raster's CRS).
    id_field : str
    per_ha : bool
        Values are per hectare (else per pixel).

    Returns
    -------
    numpy.ndarray
        One total per polygon, in the zones' order.
    """
    info = _open_raster(raster)
    gdf = read_zones(zones, id_field=id_field, crs=info.grid.crs)
    if per_ha and info.grid.is_geographic:
        df = _extract(info.path, gdf, ["weighted_sum", "_valid=count"], weights=_row_weights(info.grid))
        total = df["weighted_sum"].to_numpy(dtype=np.float64)
    else:
        df = _extract(info.path, gdf, ["sum", "_valid=count"])
        total = df["sum"].to_numpy(dtype=np.float64) * (float(pixel_area_ha(info.grid)) if per_ha else 1.0)
    return np.where(df["_valid"].to_numpy() > 0, np.nan_to_num(total), 0.0)


def class_areas(raster: str | os.PathLike, zones: Any, *, id_field: str, classes: dict[int, str] | None = None,
                layer: str | None = None, warn_empty: bool = True, workers: int = 1) -> Any:
    """Area (ha) and fraction of each class of a categorical raster, per polygon.

    One exactextract pass over all polygons (``unique`` + ``frac``, or ``weighted_frac``
    with per-row ellipsoidal areas on geographic grids).

    Parameters
    ----------
    raster : path
        Integer raster; its nodata value (if any) is not a class.
    zones : path or GeoDataFrame
        Polygons; a GeoDataFrame from :func:`read_zones` is used as is.
    id_field : str
    classes : dict, optional
        Code → name (default: the sinks legend).  Listed classes always get columns;
        codes outside it are reported as ``area_ha_<code>``.
    layer : str, optional
    warn_empty : bool
        Warn (:class:`EmptyZoneWarning`) about polygons without a valid pixel.
    workers : int
        Processes sharing the polygons (projected grids; see :func:`zonal_stats`).

    Returns
    -------
    geopandas.GeoDataFrame
        ``<id_field>``, ``area_ha_<class>`` ..., ``frac_<class>`` ... (of the valid
        area), ``valid_area_ha``, ``nodata_fraction`` and the geometry.
    """
    names = dict(NAMES if classes is None else classes)
    info = _open_raster(raster)
    if np.dtype(info.dtype).kind not in "iub":
        raise TileReadError(f"{info.path}: a categorical raster must hold integers, found {info.dtype}")
    if _ZONE in getattr(zones, "columns", []):
        gdf = zones
    else:
        gdf = read_zones(zones, id_field=id_field, crs=info.grid.crs, layer=layer)
    grid = info.grid
    if grid.is_geographic:
        # class area = weighted_frac × T with T = Σ valid cover × area; weighted_sum = Σ code × area,
        # so T = weighted_sum / Σ code × weighted_frac (codes are > 0 once nodata 0 is excluded).
        df = _extract(info.path, gdf, ["unique", "frac=weighted_frac", "weighted_sum", *_area_ops(grid)],
                      weights=_row_weights(grid))
        total = np.zeros(len(df))
        for i, (u, f, ws) in enumerate(zip(df["unique"], df["frac"], df["weighted_sum"])):
            if u is not None and len(u):
                denom = float(np.dot(np.asarray(u, dtype=np.float64), np.asarray(f, dtype=np.float64)))
                total[i] = float(ws) / denom if denom else 0.0
        if any(int(c) <= 0 for u in df["unique"] if u is not None for c in u):
            raise TileReadError(f"{info.path}: class codes must be positive on a geographic grid "
                                "(set the raster's nodata to 0)")
    else:
        df = _extract(info.path, gdf, ["unique", "frac", *_area_ops(grid)], workers=workers)
        total = df["_valid"].to_numpy(dtype=np.float64) * float(pixel_area_ha(grid))
    seen = sorted({int(c) for u in df["unique"] if u is not None for c in u} | set(names))
    fracs = {code: np.zeros(len(gdf)) for code in seen}
    for i, (u, f) in enumerate(zip(df["unique"], df["frac"])):
        if u is None:
            continue
        for code, frac in zip(u, f):
            fracs[int(code)][i] = float(frac)
    data: dict[str, Any] = {id_field: gdf[id_field].to_numpy()}
    for code in seen:
        data[f"area_ha_{names.get(code, str(code))}"] = fracs[code] * total
    for code in seen:
        data[f"frac_{names.get(code, str(code))}"] = fracs[code]
    data["valid_area_ha"] = total
    data["nodata_fraction"] = _nodata_fraction(df["_valid"], *_coverage(df, _footprint(gdf, grid), grid))
    out = pd.DataFrame(data)
    if warn_empty:
        _warn_empty(out.loc[df["_valid"].to_numpy() == 0, id_field].tolist(), info.path)
    return gpd.GeoDataFrame(out, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)


# --------------------------------------------------------------------------------------
# several categorical rasters in one pass
# --------------------------------------------------------------------------------------
#: Decoded blocks :class:`_BlockCache` keeps per raster (512² bytes each for a land-cover COG);
#: keeping 48 or 128 was no faster on the 100 Mpx benchmark scene.
BLOCK_CACHE_BLOCKS = 16


class _BlockCache:
    """The last decoded blocks of each of several single-band rasters, for the small windows
    of edge pieces.

    exactextract asks for one window per polygon piece, a few thousand windows of at most a
    tile of the split (:mod:`sinks.zonal_tiles`) each, in the order of the split, so that
    neighbouring pieces follow one another.  A window inside one block of a raster is
    sliced from the block, read whole once (GDAL decodes whole blocks anyway); rasterio's
    own read of a small window costs about 0.15 ms of Python, more than the slice.
    """

    def __init__(self, dss: Sequence[Any], *, blocks: int = BLOCK_CACHE_BLOCKS) -> None:
        from collections import OrderedDict

        self.dss = list(dss)
        self.shapes = [tuple(ds.block_shapes[0]) if ds.count == 1 else None for ds in self.dss]
        self.cached: list[OrderedDict[tuple[int, int], np.ndarray]] = [OrderedDict() for _ in self.dss]
        self.limit = int(blocks)
        self.loads = 0

    def read(self, k: int, x0: int, y0: int, nx: int, ny: int) -> np.ndarray | None:
        """Band 1 of raster ``k`` in the window, or ``None`` unless the window lies in one
        of its blocks and is small."""
        shape, ds = self.shapes[k], self.dss[k]
        if shape is None or nx * ny > _SMALL_WINDOW or x0 < 0 or y0 < 0 or nx <= 0 or ny <= 0 \
                or x0 + nx > ds.width or y0 + ny > ds.height:
            return None
        bh, bw = shape
        r, c = y0 // bh, x0 // bw
        if (y0 + ny - 1) // bh != r or (x0 + nx - 1) // bw != c:
            return None
        cache = self.cached[k]
        block = cache.get((r, c))
        if block is None:
            block = ds.read(1, window=Window(c * bw, r * bh, min(bw, ds.width - c * bw), min(bh, ds.height - r * bh)))
            cache[(r, c)] = block
            self.loads += 1
            if len(cache) > self.limit:
                cache.popitem(last=False)
        else:
            cache.move_to_end((r, c))
        oy, ox = y0 - r * bh, x0 - c * bw
        return block[oy:oy + ny, ox:ox + nx]


def _code_stack_source(paths: Sequence[str], grid: Any, base: int, legend: Mapping[int, int], nodata: Sequence[Any],
                       seen: set[int]) -> Any:
    """An exactextract raster source whose value is ``Σ digit_k × base^k`` over the rasters.

    ``digit_k`` is ``legend[value]`` of raster ``k``'s value, 0 for its nodata (and for a
    value the legend maps to 0) and ``base - 1`` for any other value (recorded in
    ``seen``); 0 overall only where every raster is nodata.
    """
    luts = []
    for nd in nodata:
        lut = np.full(256, base - 1, dtype=np.int32)
        lut[list(legend)] = list(legend.values())
        lut[0] = 0  # the legend's nodata
        if nd is not None and 0 <= int(nd) < 256:
            lut[int(nd)] = 0
        luts.append(lut)
    identity = np.minimum(np.arange(256, dtype=np.int32), base - 1)

    class _Stack(_on_grid(grid)):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.dss = [rasterio.open(p) for p in paths]
            self.blocks = _BlockCache(self.dss)

        def nodata_value(self) -> int:
            return 0

        def read_window(self, x0: int, y0: int, nx: int, ny: int) -> np.ndarray:
            win = Window(x0, y0, nx, ny)
            blocks, rows = [], []
            for k, (ds, lut) in enumerate(zip(self.dss, luts)):
                a = self.blocks.read(k, x0, y0, nx, ny)
                if a is None:
                    a = ds.read(1, window=win)
                if a.dtype == np.uint8:
                    blocks.append(a)
                    rows.append(lut)
                    continue
                # wider codes: digits computed here, then passed through an identity table
                wide = a.astype(np.int64)
                d = np.full(wide.shape, base - 1, dtype=np.uint8)
                small = (wide >= 0) & (wide < 256)
                d[small] = lut[wide[small]]
                d[wide == (int(ds.nodata) if ds.nodata is not None else 0)] = 0
                seen.update(int(v) for v in np.unique(wide[d == base - 1]))
                blocks.append(d)
                rows.append(identity)
            table = np.stack(rows)
            if nx * ny <= _SMALL_WINDOW:  # an edge piece's window: numpy, no compiled kernel to load
                codes = np.zeros((ny, nx), dtype=np.int32)
                weight = 1
                for block, row in zip(blocks, rows):
                    codes += row[block] * np.int32(weight)
                    weight *= base
                hist = np.stack([np.bincount(b.ravel(), minlength=256) for b in blocks])
            else:
                from ._kernels.codes import combine_codes

                codes, hist = combine_codes(blocks, table, base)
            odd = (hist > 0) & (table == base - 1)
            for k in np.flatnonzero(odd.any(axis=1)):
                if rows[k] is not identity:  # wide rasters record their own codes above
                    seen.update(int(v) for v in np.flatnonzero(odd[k]))
            return codes

        def close(self) -> None:
            for ds in self.dss:
                ds.close()

    return _Stack()


class JointAreas:
    """Class areas of several categorical rasters per polygon, and the transitions between consecutive ones.

    Attributes
    ----------
    area_ha : numpy.ndarray
        ``(polygons, rasters, base)``: area per code digit (digit = legend code;
        ``base - 1`` collects codes outside the legend).  Digit 0 (nodata) is always
        0: the area without a valid pixel is measured by ``nodata_fraction``.  Areas below
        10⁻⁵ of a pixel (rounding of the coverage fractions) are 0.
    transition_ha : numpy.ndarray
        ``(polygons, rasters - 1, base, base)``: area going from digit ``i`` in raster
        ``k`` to digit ``j`` in raster ``k + 1`` where both are valid (row and column 0
        are 0).
    nodata_fraction : numpy.ndarray
        ``(polygons, rasters)``: share of each polygon with no valid pixel in raster ``k``
        (area outside the raster counts as nodata).
    outside : list of int
        Codes found outside the legend (and not nodata).
    zone_area_ha : numpy.ndarray
        ``(polygons,)``: each polygon's whole area (ha), inside the rasters or not
        (ellipsoidal for geographic grids).
    """

    def __init__(self, area_ha: np.ndarray, transition_ha: np.ndarray, nodata_fraction: np.ndarray,
                 outside: list[int], zone_area_ha: np.ndarray | None = None) -> None:
        self.area_ha = area_ha
        self.transition_ha = transition_ha
        self.nodata_fraction = nodata_fraction
        self.outside = outside
        self.zone_area_ha = np.zeros(area_ha.shape[0]) if zone_area_ha is None else zone_area_ha


def _groups(n: int, size: int) -> list[list[int]]:
    """Runs of at most ``size`` consecutive indices, each sharing its first with the previous run's last."""
    if n <= size:
        return [list(range(n))]
    out, start = [], 0
    while start < n - 1:
        out.append(list(range(start, min(n, start + size))))
        start += size - 1
    return out


def joint_class_areas(rasters: Sequence[str | os.PathLike], zones: Any, *, id_field: str,
                      legend: Sequence[int] | Mapping[int, int] | None = None, max_digit: int | None = None,
                      tallies: Any = None) -> JointAreas:
    """Class areas of every raster and transitions between consecutive ones, in one exact pass.

    The rasters (land cover of successive epochs on one grid) are read together as one
    raster of combined codes, so exactextract visits each polygon's pixels once for all
    of them (instead of once per land-cover map and once per change map); per polygon,
    the coverage fraction of each combined code is split back into each raster's class
    areas and each consecutive pair's transition areas.  Up to four rasters share a
    pass; longer series run in overlapping groups.

    Parameters
    ----------
    rasters : sequence of path
        Integer rasters on one grid (legend codes; their nodata is not a class).
    zones : GeoDataFrame
        Polygons from :func:`read_zones` (in the rasters' CRS).
    id_field : str
    legend : sequence of int or mapping, optional
        Class codes (default: the sinks legend, 1–8), or ``{raster value: digit}``
        grouping the rasters' values (1–255) into digits 1 … (0: unobserved), which
        the result is then indexed by.
    max_digit : int, optional
        Largest digit of a mapping ``legend`` (default: its largest value), so that
        results of several legends share one layout.
    tallies : TileTally, optional
        Tile counts of these rasters made while they were computed
        (:mod:`sinks.zonal_tiles`): tiles a polygon covers whole are summed from them
        and exactextract measures only the pieces of the polygon on the tiles its edge
        crosses.  Ignored unless they describe these rasters, this grid and legend.

    Returns
    -------
    JointAreas
    """
    if isinstance(legend, Mapping):
        mapping = {int(k): int(v) for k, v in legend.items()}
        if not mapping or min(mapping) < 1 or max(mapping) > 255 or min(mapping.values()) < 0 \
                or max(mapping.values()) > 254:
            raise ConfigError("legend values must lie in 1..255 and digits in 0..254")
        top = max(max(mapping.values()), 1) if max_digit is None else int(max_digit)
        if top < max(mapping.values()) or top > 254:
            raise ConfigError(f"max_digit {max_digit} must cover the legend's digits and be at most 254")
        base = top + 2
    else:
        codes = sorted(NAMES) if legend is None else sorted(int(c) for c in legend)
        if not codes or codes[0] < 1 or codes[-1] > 254:
            raise ConfigError("legend codes must lie in 1..254")
        mapping = {c: c for c in codes}
        base = codes[-1] + 2
    infos = [inspect_tile(r) for r in rasters]
    grid = infos[0].grid
    for info in infos:
        if np.dtype(info.dtype).kind not in "iub":
            raise TileReadError(f"{info.path}: a categorical raster must hold integers, found {info.dtype}")
    size = max(1, min(4, int(math.log(2**31 - 1) // math.log(base))))
    n, e = len(zones), len(infos)
    area = np.zeros((n, e, base))
    trans = np.zeros((n, max(e - 1, 0), base, base))
    nodata_frac = np.ones((n, e))
    seen: set[int] = set()
    footprint = _footprint(zones, grid)
    features, owner = zones, np.arange(n)
    interior_valid = np.zeros((n, e))
    if tallies is not None and tallies.fits([i.path for i in infos], grid, mapping, base):
        from .zonal_tiles import split_zones

        inner, pieces, owner = split_zones(zones.geometry.to_numpy(), grid, tallies.tile)
        px = float(pixel_area_ha(grid))
        for k in range(e):
            counts = tallies.epoch_counts(k)
            pairs = tallies.pair_counts(k) if k < e - 1 else None
            for i, tiles in enumerate(inner):
                if len(tiles):
                    c = counts[tiles].sum(axis=0)
                    area[i, k] += c * px
                    interior_valid[i, k] = float(c[1:].sum())
                    if pairs is not None:
                        trans[i, k] += pairs[tiles].sum(axis=0) * px
        features = gpd.GeoDataFrame({_ZONE: np.arange(len(pieces), dtype=np.int64)},
                                    geometry=pieces, crs=zones.crs)
        log.info("zonal: %d polygon(s), %d interior tile(s) of %d px counted in the pass, %d edge piece(s)",
                 n, sum(len(x) for x in inner), tallies.tile, len(pieces))
    rows = len(features)
    done: set[int] = set()
    valid_rows = np.zeros((rows, e))
    for group in _groups(e, size) if rows else []:
        src = _code_stack_source([infos[k].path for k in group], grid, base, mapping,
                                 [infos[k].nodata for k in group], seen)
        try:
            if grid.is_geographic:
                df = _extract(src, features, ["unique", "frac=weighted_frac", "weighted_sum", *_area_ops(grid)],
                              weights=_row_weights(grid))
                total = np.zeros(rows)
                for i, (u, f, ws) in enumerate(zip(df["unique"], df["frac"], df["weighted_sum"])):
                    if u is not None and len(u):
                        denom = float(np.dot(np.asarray(u, dtype=np.float64), np.asarray(f, dtype=np.float64)))
                        total[i] = float(ws) / denom if denom else 0.0
            else:
                df = _extract(src, features, ["unique", "frac", *_area_ops(grid)],
                              strategy=_STRATEGY if features is zones else "feature-sequential")
                total = df["_valid"].to_numpy(dtype=np.float64) * float(pixel_area_ha(grid))
        finally:
            src.close()
        lengths = [0 if u is None else len(u) for u in df["unique"]]
        row = np.repeat(np.arange(rows), lengths)
        poly = owner[row]
        combo = np.concatenate([np.asarray(u, dtype=np.int64) for u in df["unique"] if u is not None and len(u)]
                               or [np.zeros(0, np.int64)])
        frac = np.concatenate([np.asarray(f, dtype=np.float64) for f in df["frac"] if f is not None and len(f)]
                              or [np.zeros(0)])
        ha = frac * total[row]
        digits = [(combo // base**j) % base for j in range(len(group))]
        for j, k in enumerate(group):
            if k in done:
                continue
            done.add(k)
            np.add.at(area[:, k], (poly, digits[j]), ha)
            share = np.bincount(row, weights=frac * (digits[j] != 0), minlength=rows)
            valid_rows[:, k] = df["_valid"].to_numpy() * share
        for j in range(len(group) - 1):
            np.add.at(trans[:, group[j]], (poly, digits[j], digits[j + 1]), ha)
    if rows or features is not zones:
        if grid.is_geographic:
            everything, inside = _coverage(df, footprint, grid)
        else:
            everything, inside = _coverage(pd.DataFrame(), footprint, grid)
        for k in range(e):
            valid = valid_rows[:, k] if features is zones else \
                interior_valid[:, k] + np.bincount(owner, weights=valid_rows[:, k], minlength=n)
            nodata_frac[:, k] = _nodata_fraction(valid, everything, inside)
    # slivers below a hundred-thousandth of a pixel are rounding of the coverage fractions
    # (and of the edge pieces' vertices put on cell lines): zero, so that whether a class is
    # present in a zone, and so the Monte Carlo draws of its intervals, cannot hang on them
    tiny = _SLIVER_PX * float(np.min(pixel_area_ha(grid)))
    area[area < tiny] = 0.0
    trans[trans < tiny] = 0.0
    area[:, :, 0] = 0.0  # nodata is no class (nodata_fraction measures it)
    trans[:, :, 0, :] = 0.0
    trans[:, :, :, 0] = 0.0
    return JointAreas(area, trans, nodata_frac, sorted(seen), _area_ha(footprint[0], grid))


def _area_ha(area: np.ndarray, grid: Any) -> np.ndarray:
    """Polygon areas from :func:`_footprint` (m² on geographic grids, CRS units² otherwise) in ha."""
    if grid.is_geographic:
        return np.asarray(area, dtype=np.float64) / 1e4

    return np.asarray(area, dtype=np.float64) * float(pixel_area_ha(grid)) / abs(grid.transform.a * grid.transform.e)
