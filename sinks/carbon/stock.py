"""Carbon density and stock maps, class areas and stock totals.

Maps
    :func:`density` looks each pixel's land-cover code up in a numpy table
    (``lut[codes]``) inside ``map_blocks``: ``float32`` Mg C/ha, ``NaN`` for nodata and
    (by default) for codes absent from the carbon table.  :func:`stock` multiplies by
    the pixel area (:mod:`sinks.area`) to give Mg C per pixel.  :func:`stock_layers`
    and :func:`change_layers` return the layers to write as
    :class:`~sinks.outputs.RasterOutput` objects, still lazy.

Totals
    Totals are never sums of ``float32`` rasters.  :func:`class_areas_ha` counts the
    pixels of each code (``np.bincount`` per block; per-row ellipsoidal weights on
    geographic grids), :func:`stock_totals` then adds ``area × density`` per class in
    ``float64`` (``math.fsum``).  On a projected grid this is exactly how InVEST's carbon
    model totals its maps (pixel area from the transform in ha × density, summed in
    float64) and reproduces its Willamette figures to 1e-15.

All functions accept numpy arrays, dask arrays or xarray DataArrays and return the
same kind.  Nodata is the raster's nodata value (``nodata=``); pixels holding it are
never counted as a class.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from ..area import pixel_area_ha
from ..errors import BandMismatchError, CoefficientError, ConfigError, GridMismatchError
from ..grid import Grid
from ..outputs import RasterOutput
from .tables import POOLS, CarbonTable, pool_index

__all__ = [
    "ClassAreas",
    "StockTotals",
    "LazyLayer",
    "density",
    "stock",
    "density_lut",
    "stock_layers",
    "change_layers",
    "class_areas_ha",
    "count_codes",
    "missing_codes",
    "check_codes",
    "stock_totals",
]

log = logging.getLogger("sinks")

Missing = Literal["error", "zero", "nan"]


# --------------------------------------------------------------------------------------
# code → table index
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Indexer:
    """Turns a block of codes into indices of a lookup table.

    ``view`` mode (8- and 16-bit codes): the block is viewed as unsigned and used as
    the index directly (256 or 65 536 slots; slot = code modulo 2^bits).  ``search``
    mode (wider types): ``np.searchsorted`` into the sorted table codes; slot ``K`` is
    "not in the table", ``K + 1`` nodata.
    """

    dtype: np.dtype
    codes: np.ndarray
    nodata: int | None

    @property
    def view(self) -> bool:
        return self.dtype.kind == "b" or self.dtype.itemsize <= 2

    @property
    def size(self) -> int:
        return 1 << (8 * max(self.dtype.itemsize, 1)) if self.view else len(self.codes) + 2

    def slot(self, code: int) -> int | None:
        """Slot of one code, or ``None`` if the dtype cannot hold it."""
        if self.dtype.kind == "b":
            return int(code) if code in (0, 1) else None
        info = np.iinfo(self.dtype)
        if not info.min <= code <= info.max:
            return None
        if self.view:
            return int(code) % self.size
        pos = int(np.searchsorted(self.codes, code))
        return pos if pos < len(self.codes) and self.codes[pos] == code else None

    def index(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block)
        if self.view:
            unsigned = np.uint8 if self.dtype.itemsize == 1 else np.uint16
            return np.ascontiguousarray(block).view(unsigned)
        k = len(self.codes)
        pos = np.searchsorted(self.codes, block)
        np.minimum(pos, k - 1, out=pos)
        out = np.where(self.codes[pos] == block, pos, k)
        if self.nodata is not None:
            out[block == self.nodata] = k + 1
        return out

    def lut(self, values: np.ndarray, *, fill: float, dtype: Any = np.float32) -> np.ndarray:
        """Table over slots: ``values`` (one per table code), ``fill`` elsewhere, NaN at nodata."""
        lut = np.full(self.size, fill, dtype=np.float64)
        if self.view:
            for code, v in zip(self.codes.tolist(), values.tolist()):
                s = self.slot(code)
                if s is not None:
                    lut[s] = v
            if self.nodata is not None and (s := self.slot(self.nodata)) is not None:
                lut[s] = np.nan
        else:
            lut[: len(self.codes)] = values
            lut[-1] = np.nan
        return lut.astype(dtype)

    def slot_codes(self) -> np.ndarray:
        """Code of every slot (view mode)."""
        if self.dtype.kind == "b":
            return np.array([0, 1], dtype=np.int64)
        unsigned = np.uint8 if self.dtype.itemsize == 1 else np.uint16
        return np.arange(self.size, dtype=unsigned).view(self.dtype).astype(np.int64)


def _indexer(dtype: Any, table: CarbonTable | None, nodata: int | None) -> _Indexer:
    dtype = np.dtype(dtype)
    if dtype.kind not in "iub":
        raise BandMismatchError(f"land cover must be an integer raster, found {dtype}")
    codes = table.code_array() if table is not None else np.zeros(0, dtype=np.int64)
    return _Indexer(dtype, np.sort(codes), nodata)


# --------------------------------------------------------------------------------------
# array plumbing (numpy / dask / xarray)
# --------------------------------------------------------------------------------------
def _unwrap(arr: Any) -> tuple[Any, Any]:
    """(data, template) where template is the xarray object to re-wrap into, if any."""
    if hasattr(arr, "dims") and hasattr(arr, "data") and hasattr(arr, "coords"):
        if arr.ndim != 2:
            raise ConfigError(f"land cover must be 2-D (y, x), got dims {arr.dims}")
        return arr.data, arr
    return arr, None


def _wrap(data: Any, template: Any, name: str, units: str) -> Any:
    if template is None:
        return data
    import xarray as xr

    return xr.DataArray(data, coords=template.coords, dims=template.dims, name=name,
                        attrs={"units": units, **{k: v for k, v in template.attrs.items() if k in ("crs", "transform")}})


def _is_dask(arr: Any) -> bool:
    return type(arr).__module__.startswith("dask")


@dataclass(frozen=True, eq=False)
class _LutMap:
    """Block function ``lut[codes]`` (× a per-row scale when ``scaled``), ``float32``.

    Called as ``f(codes)`` or, when ``scaled``, ``f(codes, scale)`` with ``scale`` of
    shape ``(rows, 1)`` (pixel areas on geographic grids).
    """

    lut: np.ndarray
    indexer: _Indexer
    scaled: bool = False
    __name__ = "carbon-lut"  # dask task names

    def __call__(self, block: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
        idx = self.indexer.index(block)
        # the compiled lookup (no widening of the codes to 64-bit indices) where the process
        # already has numba loaded, as a pipeline run does; `sinks carbon` alone stays on
        # numpy rather than load numba and the kernel's machine code for one lookup (0.6 s)
        if idx.dtype == np.uint8 and idx.ndim == 2 and self.lut.shape == (256,) and "numba" in sys.modules:
            from .._kernels.codes import take_u8

            out = take_u8(self.lut, idx)
        else:
            out = np.take(self.lut, idx)
        if self.scaled:
            return (out.astype(np.float64) * np.asarray(scale, dtype=np.float64)).astype(np.float32)
        return out.astype(np.float32, copy=False)


@dataclass(frozen=True, eq=False)
class _DiffMap:
    """Block function ``alt(b) − base(a)``."""

    base: _LutMap
    alt: _LutMap
    __name__ = "carbon-change"

    def __call__(self, a: np.ndarray, b: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
        return self.alt(b, scale) - self.base(a, scale)


class LazyLayer:
    """A 2-D ``float32`` layer over numpy inputs, computed block by block on access.

    ``stock_layers``/``change_layers`` return these for numpy land cover so that many
    layers can be listed without holding them all in memory; ``numpy.asarray(layer)``
    (or ``layer.compute()``) computes the whole layer, ``layer[rows, cols]`` a window —
    so :func:`dask.array.from_array` can chunk it too.
    """

    def __init__(self, func: Any, arrays: Sequence[np.ndarray], *, rows: np.ndarray | None = None) -> None:
        self._func = func
        self._arrays = [np.asarray(a) for a in arrays]
        self._rows = None if rows is None else np.asarray(rows, dtype=np.float64)
        self.shape: tuple[int, ...] = tuple(self._arrays[0].shape)
        self.dtype = np.dtype(np.float32)
        self.ndim = 2

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key, slice(None))
        parts = [a[key] for a in self._arrays]
        if self._rows is None:
            return self._func(*parts)
        rows = self._rows[key[0]]
        return self._func(*parts, np.reshape(rows, (-1, 1)) if np.ndim(rows) else rows)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:, :]
        return out if dtype is None else out.astype(dtype, copy=False)

    def compute(self) -> np.ndarray:
        """The whole layer as a numpy array."""
        return np.asarray(self)

    def __repr__(self) -> str:
        return f"LazyLayer(shape={self.shape}, dtype={self.dtype})"


def _layer(func: Any, arrays: Sequence[Any], rows: np.ndarray | None) -> Any:
    """Apply a block function lazily: dask ``map_blocks`` or a :class:`LazyLayer`."""
    if any(_is_dask(a) for a in arrays):
        import dask.array as da

        first = next(a for a in arrays if _is_dask(a))
        arrs = [a if _is_dask(a) and a.chunks == first.chunks else da.asarray(a).rechunk(first.chunks)
                for a in arrays]
        if rows is not None:
            arrs.append(da.from_array(rows[:, None], chunks=(first.chunks[0], 1)))
        return da.map_blocks(func, *arrs, dtype=np.float32)
    return LazyLayer(func, arrays, rows=rows)


def _density_map(table: CarbonTable, pool: str, dtype: Any, nodata: Any, missing: str) -> _LutMap:
    if pool != "total":
        pool_index(pool)
    ix = _indexer(dtype, table, _nodata_int(nodata))
    return _LutMap(ix.lut(_values_sorted(table, pool, "central"), fill=_fill(missing)), ix)


def _stock_map(table: CarbonTable, pool: str, dtype: Any, nodata: Any, missing: str,
               grid: Grid) -> tuple[_LutMap, np.ndarray | None]:
    if pool != "total":
        pool_index(pool)
    ix = _indexer(dtype, table, _nodata_int(nodata))
    area = pixel_area_ha(grid)
    vals = _values_sorted(table, pool, "central")
    if np.isscalar(area):
        return _LutMap(ix.lut(vals * float(area), fill=_fill(missing)), ix), None
    return _LutMap(ix.lut(vals, fill=_fill(missing), dtype=np.float64), ix, scaled=True), np.asarray(area)


def _fill(missing: str) -> float:
    if missing in ("error", "nan"):
        return np.nan
    if missing == "zero":
        return 0.0
    raise ConfigError(f"missing must be 'error', 'zero' or 'nan', got {missing!r}")


def _nodata_int(nodata: Any) -> int | None:
    if nodata is None:
        return None
    v = float(nodata)
    if not math.isfinite(v) or v != int(v):
        return None
    return int(v)


# --------------------------------------------------------------------------------------
# maps
# --------------------------------------------------------------------------------------
def density_lut(table: CarbonTable, pool: str = "total", *, dtype: Any = np.uint8, nodata: int | None = None,
                missing: Missing = "nan", which: str = "central") -> np.ndarray:
    """The ``float32`` lookup table used by :func:`density` for codes of ``dtype``.

    For 8- and 16-bit codes the table has 256 / 65 536 entries indexed by the code
    (signed codes through their unsigned view); wider types use a compact table.
    """
    ix = _indexer(dtype, table, _nodata_int(nodata))
    return ix.lut(_values_sorted(table, pool, which), fill=_fill(missing))


def _values_sorted(table: CarbonTable, pool: str, which: str) -> np.ndarray:
    vals = table.values(pool, which)
    order = np.argsort(table.code_array(), kind="stable")
    return vals[order]


def density(landcover: Any, table: CarbonTable, pool: str = "total", *, nodata: Any = None,
            missing: Missing = "nan") -> Any:
    """Carbon density (Mg C/ha, ``float32``) of each pixel for one pool or the total.

    Parameters
    ----------
    landcover : numpy.ndarray, dask.array.Array or xarray.DataArray
        2-D integer land-cover codes.
    table : CarbonTable
    pool : {"above", "below", "soil", "dead", "total"}
    nodata : int, optional
        Land-cover nodata value (→ NaN).
    missing : {"nan", "zero", "error"}
        Value for codes absent from the table: NaN (``"error"`` also gives NaN here;
        :func:`check_codes` is where missing codes raise) or 0.
    """
    data, tmpl = _unwrap(landcover)
    out = _layer(_density_map(table, pool, data.dtype, nodata, missing), [data], None)
    if not _is_dask(out):
        out = np.asarray(out)
    return _wrap(out, tmpl, f"carbon_density_{pool}", "Mg C/ha")


def stock(landcover: Any, grid: Grid, table: CarbonTable, pool: str = "total", *, nodata: Any = None,
          missing: Missing = "nan") -> Any:
    """Carbon stock per pixel (Mg C, ``float32``) = density × pixel area (ha).

    On geographic grids the area varies by row (ellipsoidal cell area).
    """
    data, tmpl = _unwrap(landcover)
    _check_shape(data, grid)
    func, rows = _stock_map(table, pool, data.dtype, nodata, missing, grid)
    out = _layer(func, [data], rows)
    if not _is_dask(out):
        out = np.asarray(out)
    return _wrap(out, tmpl, f"carbon_stock_{pool}", "Mg C")


def _check_shape(data: Any, grid: Grid) -> None:
    if tuple(data.shape) != grid.shape:
        raise GridMismatchError(f"land cover shape {tuple(data.shape)} does not match the grid {grid.shape}")


def _tags(table: CarbonTable, pool: str, units: str, **extra: str) -> dict[str, str]:
    return {"units": units, "pool": pool, "carbon_table": table.name,
            "soil_depth_cm": table.soil_depth or "as given", **extra}


def stock_layers(landcover: Any, grid: Grid, table: CarbonTable, *, out_dir: str | os.PathLike = ".",
                 suffix: str = "", nodata: Any = None, missing: Missing = "nan",
                 pools: Sequence[str] = POOLS, stock_pools: bool = False,
                 totals: Sequence[str] = ("density", "stock")) -> list:
    """The carbon layers of one land-cover map, lazily, as :class:`~sinks.outputs.RasterOutput`.

    With dask land cover the layers are dask arrays; with numpy land cover they are
    :class:`LazyLayer` objects computed when written (``numpy.asarray``).

    Layers (``float32``, NaN nodata), named ``<name><suffix>.tif`` in ``out_dir``:

    * ``carbon_density_<pool>`` for each of ``pools`` (Mg C/ha);
    * ``carbon_density_total`` (Mg C/ha, the sum of all four pools);
    * ``carbon_stock_total`` (Mg C per pixel); with ``stock_pools`` also
      ``carbon_stock_<pool>``.

    Parameters
    ----------
    landcover : array
        2-D integer codes on ``grid`` (numpy or dask; xarray is unwrapped).
    grid : Grid
    table : CarbonTable
    out_dir : path
    suffix : str
        Appended to each name (e.g. ``"_2020"``).
    nodata : int, optional
    missing : {"nan", "zero", "error"}
        See :func:`density`.
    pools : sequence of str
        Pools to write density layers for (``()`` for totals only).
    stock_pools : bool
        Also write the stock layer of every pool.
    totals : sequence of {"density", "stock"}
        Which total layers to include (both by default).

    Returns
    -------
    list of RasterOutput
    """
    data, _ = _unwrap(landcover)
    _check_shape(data, grid)
    out = Path(out_dir)
    layers = []
    # piecewise constant (a lookup of the classes): compressed without a predictor
    for pool in (*pools, *(("total",) if "density" in totals else ())):
        layers.append(RasterOutput(out / f"carbon_density_{pool}{suffix}.tif",
                                   _layer(_density_map(table, pool, data.dtype, nodata, missing), [data], None),
                                   nodata=np.nan, smooth=False,
                                   description=f"carbon density, {pool} (Mg C/ha)",
                                   tags=_tags(table, pool, "Mg C/ha")))
    for pool in (*(POOLS if stock_pools else ()), *(("total",) if "stock" in totals else ())):
        func, rows = _stock_map(table, pool, data.dtype, nodata, missing, grid)
        layers.append(RasterOutput(out / f"carbon_stock_{pool}{suffix}.tif", _layer(func, [data], rows), nodata=np.nan,
                                   smooth=False, description=f"carbon stock per pixel, {pool} (Mg C)",
                                   tags=_tags(table, pool, "Mg C per pixel")))
    return layers


def change_layers(baseline: Any, alternate: Any, grid: Grid, table: CarbonTable, *, out_dir: str | os.PathLike = ".",
                  suffix: str = "", nodata: tuple[Any, Any] = (None, None), missing: Missing = "nan") -> list:
    """Lazy change layers ``alternate − baseline``: ``carbon_density_change_total`` (Mg C/ha)
    and ``carbon_stock_change_total`` (Mg C per pixel); NaN where either map is nodata."""
    b, _ = _unwrap(baseline)
    a, _ = _unwrap(alternate)
    _check_shape(b, grid)
    _check_shape(a, grid)
    out = Path(out_dir)
    d = _layer(_DiffMap(_density_map(table, "total", b.dtype, nodata[0], missing),
                        _density_map(table, "total", a.dtype, nodata[1], missing)), [b, a], None)
    sb, rows = _stock_map(table, "total", b.dtype, nodata[0], missing, grid)
    sa, _rows = _stock_map(table, "total", a.dtype, nodata[1], missing, grid)
    s = _layer(_DiffMap(sb, sa), [b, a], rows)
    # lookups of the (baseline, alternate) class pair, piecewise constant like the stock
    # layers: nearest overviews (each overview pixel a change the table gives), no predictor
    return [
        RasterOutput(out / f"carbon_density_change_total{suffix}.tif", d, nodata=np.nan, smooth=False,
                     description="carbon density change, alternate - baseline (Mg C/ha)",
                     tags=_tags(table, "total", "Mg C/ha")),
        RasterOutput(out / f"carbon_stock_change_total{suffix}.tif", s, nodata=np.nan, smooth=False,
                     description="carbon stock change per pixel, alternate - baseline (Mg C)",
                     tags=_tags(table, "total", "Mg C per pixel")),
    ]


# --------------------------------------------------------------------------------------
# class areas
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClassAreas:
    """Pixel count and area (ha) of each land-cover code present (nodata excluded).

    Attributes
    ----------
    codes : numpy.ndarray
        ``int64`` codes with at least one pixel, ascending.
    pixels : numpy.ndarray
        ``int64`` pixel counts.
    area_ha : numpy.ndarray
        ``float64`` areas (count × pixel area, or the sum of per-row ellipsoidal areas).
    nodata_pixels : int
    nodata : int or None
    """

    codes: np.ndarray
    pixels: np.ndarray
    area_ha: np.ndarray
    nodata_pixels: int = 0
    nodata: int | None = None

    @property
    def total_ha(self) -> float:
        """Area of all valid pixels (ha)."""
        return math.fsum(self.area_ha.tolist())

    def as_dict(self) -> dict[int, float]:
        """``{code: area_ha}``."""
        return {int(c): float(a) for c, a in zip(self.codes, self.area_ha)}

    def area_of(self, code: int) -> float:
        hit = np.nonzero(self.codes == int(code))[0]
        return float(self.area_ha[hit[0]]) if hit.size else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"<code>": {"pixels": n, "area_ha": a}, ...}``."""
        return {str(int(c)): {"pixels": int(n), "area_ha": float(a)}
                for c, n, a in zip(self.codes, self.pixels, self.area_ha)}

    @classmethod
    def from_mapping(cls, areas: Mapping[int, float]) -> "ClassAreas":
        """From ``{code: area_ha}`` (pixel counts unknown, set to 0)."""
        codes = np.array(sorted(int(k) for k in areas), dtype=np.int64)
        return cls(codes, np.zeros(len(codes), dtype=np.int64),
                   np.array([float(areas[k]) for k in sorted(areas, key=int)], dtype=np.float64))


def count_codes(block: np.ndarray, row_area: np.ndarray | None = None, dtype: Any = None) -> tuple:
    """The codes present in one block of a land-cover map, their pixel counts, and their
    areas when ``row_area`` (the area of a pixel in each of the block's rows) is given.

    The counting step of :func:`class_areas_ha` (one compiled pass for ``uint8``).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray or None)
        Codes (``int64``, sorted), counts (``int64``) and areas (``float64``, or ``None``
        without ``row_area``).
    """
    block = np.asarray(block)
    dtype = block.dtype if dtype is None else dtype
    if block.size == 0:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), None if row_area is None else np.zeros(0))
    ix = _Indexer(np.dtype(dtype), np.zeros(0, np.int64), None)
    if block.dtype == np.uint8:  # one compiled pass
        from .._kernels.codes import hist_u8

        counts, weighted = hist_u8(block, None if row_area is None else np.asarray(row_area, dtype=np.float64))
        present = np.nonzero(counts)[0]
        return (present.astype(np.int64), counts[present],
                None if weighted is None else weighted[present])
    if ix.view:
        idx = ix.index(block).ravel()
        counts = np.bincount(idx, minlength=ix.size)
        present = np.nonzero(counts)[0]
        codes = ix.slot_codes()[present]
        areas = None
        if row_area is not None:
            w = np.repeat(np.asarray(row_area, dtype=np.float64), block.shape[1])
            areas = np.bincount(idx, weights=w, minlength=ix.size)[present]
        return codes, counts[present].astype(np.int64), areas
    if row_area is None:
        codes, counts = np.unique(block, return_counts=True)
        return codes.astype(np.int64), counts.astype(np.int64), None
    codes, inv, counts = np.unique(block, return_inverse=True, return_counts=True)
    w = np.repeat(np.asarray(row_area, dtype=np.float64), block.shape[1])
    return codes.astype(np.int64), counts.astype(np.int64), np.bincount(inv.ravel(), weights=w)


def _merge_counts(parts: list[tuple], nodata: int | None, pixel_area: float | None) -> ClassAreas:
    codes = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    counts = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    uniq, inv = np.unique(codes, return_inverse=True)
    tot = np.zeros(len(uniq), dtype=np.int64)
    np.add.at(tot, inv, counts)
    if pixel_area is None:
        areas_all = np.concatenate([p[2] for p in parts])
        area = np.zeros(len(uniq), dtype=np.float64)
        for i in range(len(uniq)):  # fsum per class: exact regardless of block order
            area[i] = math.fsum(areas_all[inv == i].tolist())
    else:
        area = tot.astype(np.float64) * pixel_area
    nd = 0
    if nodata is not None:
        hit = uniq == nodata
        nd = int(tot[hit].sum())
        keep = ~hit
        uniq, tot, area = uniq[keep], tot[keep], area[keep]
    return ClassAreas(uniq.astype(np.int64), tot, area, nd, nodata)


def class_areas_ha(landcover: Any, grid: Grid, *, nodata: Any = None, compute: bool = True,
                   strip_rows: int = 2048) -> Any:
    """Pixel count and area (ha) of every land-cover code present.

    Parameters
    ----------
    landcover : numpy.ndarray, dask.array.Array or xarray.DataArray
        2-D integer codes on ``grid``.
    grid : Grid
    nodata : int, optional
        Excluded from the classes (its count is reported as ``nodata_pixels``).
    compute : bool
        For dask input: compute now (default) or return a :class:`dask.delayed.Delayed`
        producing the :class:`ClassAreas`, to compute together with other results.
    strip_rows : int
        Rows per strip when counting a numpy array (bounds temporary memory).

    Returns
    -------
    ClassAreas
        Areas are ``count × pixel area`` on projected grids (exact) and sums of
        per-row ellipsoidal cell areas on geographic grids.
    """
    data, _ = _unwrap(landcover)
    _check_shape(data, grid)
    dtype = np.dtype(data.dtype)
    _indexer(dtype, None, None)  # validates the dtype
    nd = _nodata_int(nodata)
    area = pixel_area_ha(grid)
    uniform = np.isscalar(area)
    rows = None if uniform else np.asarray(area)
    if _is_dask(data):
        from ..runtime.blocktasks import block_reduce

        # Unoptimised blocks: optimising here would fuse a private copy of the land cover's
        # graph under other keys, so a pass that also writes the land cover (or counts it
        # again) would compute its blocks once per copy (the sieve ran 2-3 times a block).
        # The graph is optimised once, when everything is computed together.
        heights = data.chunks[0]

        def extra(i: int, _j: int, r0: int, _c0: int) -> tuple:
            return (None if uniform else rows[r0:r0 + heights[i]], dtype)

        result = block_reduce(count_codes, [data], extra=extra, combine=_merge_counts,
                              combine_args=(nd, float(area) if uniform else None), name="count_codes")
        return result.compute() if compute else result
    arr = np.asarray(data)
    parts = []
    for r0 in range(0, arr.shape[0], max(1, strip_rows)):
        r1 = min(arr.shape[0], r0 + strip_rows)
        parts.append(count_codes(arr[r0:r1], None if uniform else rows[r0:r1], dtype))
    return _merge_counts(parts, nd, float(area) if uniform else None)


# --------------------------------------------------------------------------------------
# totals
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StockTotals:
    """Carbon stock totals of one map.

    Attributes
    ----------
    stock_mg_c : dict
        ``{"total": .., "above": .., "below": .., "soil": .., "dead": ..}`` in Mg C.
    area_ha : float
        Area of valid (non-nodata) pixels.
    by_class : dict
        ``{code: {"area_ha": .., "total": .., "above": .., ...}}`` (Mg C).
    missing_pixels : dict
        Codes absent from the table and their pixel counts (counted at zero density).
    table : str
        Name of the carbon table.
    """

    stock_mg_c: dict[str, float]
    area_ha: float
    by_class: dict[int, dict[str, float]] = field(default_factory=dict)
    missing_pixels: dict[int, int] = field(default_factory=dict)
    table: str = ""

    def to_dict(self, *, detail: bool = False) -> dict[str, Any]:
        """``{"stock_mg_c": {...}, "area_ha": ..}`` (plus per-class detail if asked)."""
        out: dict[str, Any] = {"stock_mg_c": dict(self.stock_mg_c), "area_ha": self.area_ha}
        if detail:
            out["by_class"] = {str(k): {("area_ha" if kk == "area_ha" else f"{kk}_mg_c"): vv for kk, vv in v.items()}
                               for k, v in self.by_class.items()}
            if self.missing_pixels:
                out["missing_codes_pixels"] = {str(k): v for k, v in self.missing_pixels.items()}
        return out


def missing_codes(areas: ClassAreas, table: CarbonTable) -> dict[int, int]:
    """Codes present in ``areas`` but absent from ``table``, with their pixel counts."""
    return {int(c): int(n) for c, n in zip(areas.codes, areas.pixels) if int(c) not in table}


def check_codes(areas: ClassAreas, table: CarbonTable, *, label: str = "land cover", limit: int = 12) -> None:
    """Raise :class:`CoefficientError` listing land-cover codes absent from ``table``.

    The message is one line: the raster, the table, each missing code with its pixel
    count, and the two remedies.
    """
    miss = missing_codes(areas, table)
    if not miss:
        return
    items = sorted(miss.items())
    shown = ", ".join(f"{c} ({n:,} px)" for c, n in items[:limit])
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    raise CoefficientError(
        f"{label}: land-cover codes missing from the carbon table {table.label}: {shown}{more}; "
        f"add them to the table or pass --missing zero (missing='zero')"
    )


def stock_totals(areas: ClassAreas | Mapping[int, float], table: CarbonTable, *, missing: Missing = "error",
                 label: str = "land cover") -> StockTotals:
    """Total stock per pool: Σ over classes of area (ha) × density (Mg C/ha), in float64.

    Parameters
    ----------
    areas : ClassAreas or mapping
        From :func:`class_areas_ha`, or ``{code: area_ha}`` (e.g. Olofsson-adjusted areas).
    table : CarbonTable
    missing : {"error", "zero"}
        Codes absent from the table raise :class:`CoefficientError` (listing codes and
        pixel counts) or count at zero density.
    label : str
        Raster name for messages.

    Returns
    -------
    StockTotals
    """
    if not isinstance(areas, ClassAreas):
        areas = ClassAreas.from_mapping(areas)
    if missing == "error":
        check_codes(areas, table, label=label)
    elif missing not in ("zero", "nan"):
        raise ConfigError(f"missing must be 'error' or 'zero', got {missing!r}")
    terms: dict[str, list[float]] = {p: [] for p in (*POOLS, "total")}
    by_class: dict[int, dict[str, float]] = {}
    for code, a in zip(areas.codes.tolist(), areas.area_ha.tolist()):
        row: dict[str, float] = {"area_ha": a}
        if code in table:
            i = table.index_of(code)
            for p, pool in enumerate(POOLS):
                row[pool] = a * float(table.central[i, p])
            row["total"] = a * float(table.central[i].sum())
        else:
            row.update({pool: 0.0 for pool in (*POOLS, "total")})
        for pool in (*POOLS, "total"):
            terms[pool].append(row[pool])
        by_class[code] = row
    stock_mg_c = {"total": math.fsum(terms["total"]), **{p: math.fsum(terms[p]) for p in POOLS}}
    return StockTotals(stock_mg_c=stock_mg_c, area_ha=areas.total_ha, by_class=by_class,
                       missing_pixels=missing_codes(areas, table), table=table.name)
