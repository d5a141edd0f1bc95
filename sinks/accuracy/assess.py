"""Assess a land-cover raster against a reference sample of points or polygons."""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import pandas as pd

from ..area import row_area_ha
from ..carbon.stock import count_codes
from ..errors import (
    ConfigError,
    CRSMismatchError,
    NoOverlapError,
    SinksWarning,
    TileReadError,
)
from ..grid import Grid
from ..landcover import CODES, NAMES, NODATA, code_of, name_of
from .counts import cohen_kappa, confusion_matrix
from .olofsson import area_adjusted
from .result import AccuracyResult

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

__all__ = ["assess_map", "mapped_area_ha", "read_stratum_sizes", "sample_pixels", "codes_at_pixels"]

log = logging.getLogger("sinks")

_STRIP_PIXELS = 1 << 22  # pixels read per window when counting mapped area



def _open_map(map_path: str | os.PathLike) -> Any:
    import rasterio

    path = Path(map_path)
    if not path.exists():
        raise TileReadError(f"{map_path}: map file not found")
    try:
        return rasterio.open(path)
    except Exception as exc:
        raise TileReadError(f"{map_path}: cannot open map: {' '.join(str(exc).split())}") from None


def _nodata_mask(a: np.ndarray, nodata: float | None) -> np.ndarray:
    mask = a == NODATA
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        mask |= a == nodata
    return mask


def mapped_area_ha(map_path: str | os.PathLike, *, pixel_area_ha: float | None = None) -> dict[str, float]:
    """Mapped area (ha) of each legend class in a land-cover raster, read block-wise.

    Parameters
    ----------
    map_path : str or path-like
        Land-cover GeoTIFF in legend codes (0 = nodata).
    pixel_area_ha : float, optional
        Override the pixel area; default from the grid (ellipsoidal per row for
        geographic CRSs).

    Returns
    -------
    dict
        ``{class name: area in ha}`` for the classes present.
    """
    with _open_map(map_path) as ds:
        areas, _ = _scan_map(ds, str(map_path), pixel_area_ha=pixel_area_ha, rows=None, cols=None)
    return {NAMES[c]: float(areas[c]) for c in sorted(NAMES) if areas[c] > 0}


def _sample_map(ds: Any, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Map codes at (row, col) pixels, nodata as 0: one small read per sample."""
    from rasterio.windows import Window

    out = np.zeros(rows.size, dtype=np.int64)
    for i, (r, c) in enumerate(zip(rows.tolist(), cols.tolist())):
        out[i] = int(ds.read(1, window=Window(c, r, 1, 1))[0, 0])
    if ds.nodata is not None:
        out[out == ds.nodata] = NODATA
    return out


def sample_pixels(geometry: Any, transform: Any, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, cols, inside)``: the pixel of each sample's representative point (a point is
    its own) on a raster with this ``transform`` and size, and whether it lies on it.
    ``geometry`` is a GeoSeries in the raster's CRS."""
    pts = geometry.representative_point()
    xs, ys = pts.x.to_numpy(), pts.y.to_numpy()
    inv = ~transform
    cols = np.floor(inv.a * xs + inv.b * ys + inv.c).astype(np.int64)
    rows = np.floor(inv.d * xs + inv.e * ys + inv.f).astype(np.int64)
    inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    return rows, cols, inside


def codes_at_pixels(landcover: Any, rows: np.ndarray, cols: np.ndarray) -> Any:
    """Lazy map codes at ``(rows, cols)`` pixels of a dask land-cover array (pixels on it):
    a Delayed ``(rows, cols, codes)``, each code picked from its block when the block is
    computed (a run's write pass), for :func:`assess_map`'s ``map_codes_at``."""
    from ..runtime.blocktasks import block_reduce

    data = getattr(landcover, "data", landcover)
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    row_edges = np.cumsum((0, *data.chunks[0]))
    col_edges = np.cumsum((0, *data.chunks[1]))
    bi = np.searchsorted(row_edges, rows, side="right") - 1
    bj = np.searchsorted(col_edges, cols, side="right") - 1
    where = np.lexsort((bj, bi))  # the samples grouped by block, one task per block that holds any
    starts = np.flatnonzero(np.r_[True, (np.diff(bi[where]) != 0) | (np.diff(bj[where]) != 0)]) if where.size else []
    picks = {}
    for a, b in zip(starts, [*starts[1:], where.size]):
        sel = where[a:b]
        i, j = int(bi[sel[0]]), int(bj[sel[0]])
        picks[i, j] = (rows[sel] - row_edges[i], cols[sel] - col_edges[j])
    return block_reduce(_pick, [data], blocks=list(picks), extra=lambda i, j, _r0, _c0: picks[i, j],
                        combine=_gathered, combine_args=(where, rows, cols), name="pick")


def _pick(block: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.asarray(block)[r, c].astype(np.int64)


def _gathered(parts: list[np.ndarray], where: np.ndarray, rows: np.ndarray,
              cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = np.zeros(rows.size, dtype=np.int64)
    if parts:
        codes[where] = np.concatenate(parts)
    return rows, cols, codes


def _codes_from(known: tuple[np.ndarray, np.ndarray, np.ndarray], ds: Any, rows: np.ndarray,
                cols: np.ndarray) -> np.ndarray:
    """Map codes at ``(rows, cols)``, nodata as 0: from ``known`` (rows, cols, codes picked
    from the map's blocks as they were computed), the pixels it lacks read from ``ds``."""
    k_rows, k_cols, k_codes = (np.asarray(a, dtype=np.int64) for a in known)
    lookup = dict(zip(zip(k_rows.tolist(), k_cols.tolist()), k_codes.tolist()))
    out = np.zeros(rows.size, dtype=np.int64)
    missing = []
    for i, key in enumerate(zip(rows.tolist(), cols.tolist())):
        code = lookup.get(key)
        if code is None:
            missing.append(i)
        else:
            out[i] = code
    if ds.nodata is not None:
        out[out == ds.nodata] = NODATA
    if missing:
        idx = np.asarray(missing)
        out[idx] = _sample_map(ds, rows[idx], cols[idx])
    return out


def _scan_map(ds: Any, name: str, *, pixel_area_ha: float | None, rows: np.ndarray | None,
              cols: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """One block-wise pass: mapped area per code (length 256) and map codes at (rows, cols)."""
    from rasterio.windows import Window

    if np.dtype(ds.dtypes[0]).kind not in "iu":
        raise TileReadError(f"{name}: not a land-cover map (band 1 is {ds.dtypes[0]}, expected integer codes)")
    width, height = ds.width, ds.height
    if pixel_area_ha is not None:
        if not (pixel_area_ha > 0 and math.isfinite(pixel_area_ha)):
            raise ConfigError(f"pixel area must be positive, got {pixel_area_ha}")
        row_area = np.full(height, float(pixel_area_ha))
    else:
        row_area = np.asarray(row_area_ha(Grid.from_dataset(ds)), dtype=np.float64)
    uniform = bool(np.all(row_area == row_area[0]))
    areas = np.zeros(256, dtype=np.float64)
    values = np.zeros(0 if rows is None else rows.size, dtype=np.int64)
    order = np.argsort(rows, kind="stable") if rows is not None else None
    strip = max(1, min(height, _STRIP_PIXELS // max(1, width)))
    bad: set[int] = set()
    for r0 in range(0, height, strip):
        nrows = min(strip, height - r0)
        a = ds.read(1, window=Window(0, r0, width, nrows))
        if a.dtype != np.uint8:  # codes as int64, nodata as 0, codes past 255 reported
            a = np.where(_nodata_mask(a, ds.nodata), 0, a).astype(np.int64)
            if a.min() < 0 or a.max() > 255:
                bad.update(int(v) for v in np.unique(a[(a < 0) | (a > 255)])[:10])
                a = np.where((a < 0) | (a > 255), 0, a)
        codes, counts, weighted = count_codes(a, None if uniform else row_area[r0:r0 + nrows])
        if a.dtype == np.uint8 and ds.nodata is not None and 0 <= ds.nodata < 256 and int(ds.nodata) == ds.nodata:
            keep = codes != int(ds.nodata)
            codes, counts, weighted = codes[keep], counts[keep], None if weighted is None else weighted[keep]
        areas[codes] += counts * row_area[0] if uniform else weighted
        if rows is not None and rows.size:
            lo, hi = np.searchsorted(rows[order], [r0, r0 + nrows])
            idx = order[lo:hi]
            got = a[rows[idx] - r0, cols[idx]].astype(np.int64)
            if a.dtype == np.uint8 and ds.nodata is not None:
                got[got == ds.nodata] = 0
            values[idx] = got
    areas[NODATA] = 0.0
    bad.update(c for c in np.nonzero(areas)[0].tolist() if c not in NAMES)
    if bad:
        raise ConfigError(f"{name}: map has codes not in the legend: {', '.join(map(str, sorted(bad)[:10]))} "
                          f"(legend codes are {', '.join(map(str, sorted(NAMES)))}; 0 = nodata)")
    return areas, values


def _label_codes(labels: pd.Series, *, name: str, label_field: str) -> np.ndarray:
    """Legend codes of reference labels (names, case-insensitive, or codes); -1 = no label."""
    out = np.full(len(labels), -1, dtype=np.int64)
    lookup: dict[Any, int] = {}
    unknown: list[str] = []
    for value in pd.unique(labels):
        if (isinstance(value, str) and not value.strip()) or (not isinstance(value, str) and pd.isna(value)):
            continue
        code = _label_code(value)
        if code is None:
            unknown.append(repr(value.item() if hasattr(value, "item") else value))
        else:
            lookup[value] = code
    if unknown:
        shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        raise ConfigError(f"{name}: unknown labels in {label_field!r}: {shown}; use class names "
                          f"({', '.join(CODES)}) or codes ({', '.join(map(str, sorted(NAMES)))})")
    for i, value in enumerate(labels.tolist()):
        if value in lookup:
            out[i] = lookup[value]
    return out


def _label_code(value: Any) -> int | None:
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer, float, np.floating)):
        v = float(value)
        if v.is_integer() and (int(v) in NAMES or int(v) == NODATA):
            return int(v)
        return None
    text = str(value).strip()
    if text.lstrip("+-").isdigit():
        return _label_code(int(text))
    key = text.lower().replace("-", "_").replace(" ", "_")
    if key == "nodata":
        return NODATA
    try:
        return code_of(key)
    except ConfigError:
        return None


def assess_map(map_path: str | os.PathLike, reference: "str | os.PathLike | gpd.GeoDataFrame", *,
               label_field: str, pixel_area_ha: float | None = None, layer: str | None = None,
               mapped_areas_ha: Mapping[int, float] | None = None, name: str | None = None,
               stratum_field: str | None = None, stratum_sizes: Mapping[Any, float] | str | os.PathLike | None = None,
               stratum_size_field: str | None = None, estimator: str = "auto",
               map_codes_at: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> AccuracyResult:
    """Assess a land-cover map against a reference sample.

    With the map classes as strata (or a simple random sample) the estimators are
    Olofsson et al.'s (2014); a sample stratified by anything else (a ``stratum``
    field, with the size of each stratum) gets Stehman's (2014).

    Parameters
    ----------
    map_path : str or path-like
        Land-cover raster in legend codes (uint8; 0 and the file's nodata = nodata).
    reference : str, path-like or geopandas.GeoDataFrame
        Reference sample: points, or polygons (sampled at their representative
        point), in any CRS (reprojected to the map's CRS).
    label_field : str
        Field with the reference class: legend names (case-insensitive) or codes.
    pixel_area_ha : float, optional
        Override the pixel area; default from the map's transform (per row on the
        ellipsoid for geographic CRSs).
    layer : str, optional
        Layer of the reference file.
    mapped_areas_ha : mapping, optional
        Mapped area (ha) of each legend code, when already counted (a run counts them
        once per map): the map is then only read at the samples, not scanned whole.
    name : str, optional
        How messages name an in-memory reference (e.g. the file it was read from).
    stratum_field : str, optional
        Field holding each sample's stratum; default ``stratum`` when the sample has
        such a field.
    stratum_sizes : mapping or path, optional
        Size (ha) of every stratum: ``{stratum: ha}`` or a CSV with columns
        ``stratum`` and ``area_ha``.
    stratum_size_field : str, optional
        Field holding the size (ha) of each sample's stratum (one value per stratum);
        default ``stratum_area_ha`` when the sample has such a field.
    estimator : {"auto", "olofsson", "stehman"}
        ``auto``: Stehman when the sample has strata, else Olofsson.
    map_codes_at : (rows, cols, codes), optional
        With ``mapped_areas_ha``: the map's codes at these pixels, when already picked
        (a run picks them from the blocks of its write pass, :func:`codes_at_pixels`);
        samples on other pixels are read from the map.

    Returns
    -------
    AccuracyResult
        Area-adjusted areas, UA, PA and OA with 95 % CIs, plus kappa.  When the
        sample's design does not fit the estimator (strata without sizes, the
        map-class estimator on a sample stratified otherwise, unsampled strata) the
        estimates that would be wrong are ``nan`` and a note says why in one line.

    Raises
    ------
    TileReadError
        The map is missing, unreadable or not integer-coded.
    VectorError
        The reference is missing, unreadable, empty, without CRS or without
        ``label_field`` (or a named stratum field).
    ConfigError
        Unknown labels (listed), map codes outside the legend, stratum sizes that are
        not numbers or differ within a stratum, an unknown estimator.
    NoOverlapError
        No sample falls on a valid map pixel.

    Notes
    -----
    Samples outside the map, on map nodata, or without a label are dropped with a
    :class:`SinksWarning` (with strata, samples outside the map or on nodata still
    count for the areas) and counted in ``n_dropped``.
    """
    if estimator not in ("auto", "olofsson", "stehman"):
        raise ConfigError(f"estimator must be 'auto', 'olofsson' or 'stehman', got {estimator!r}")
    smp = _read_sample(map_path, reference, label_field=label_field, pixel_area_ha=pixel_area_ha, layer=layer,
                       mapped_areas_ha=mapped_areas_ha, name=name, stratum_field=stratum_field,
                       stratum_sizes=stratum_sizes, stratum_size_field=stratum_size_field,
                       map_codes_at=map_codes_at)
    sources = {"map": smp.map_name, "reference": smp.ref_name, "label_field": label_field}
    use_strata = bool(smp.stratum_field) and estimator != "olofsson" or estimator == "stehman"
    if use_strata:
        if not smp.stratum_field:
            raise ConfigError(f"{smp.ref_name}: the Stehman estimator needs a stratum field "
                              "(none given, no 'stratum' field)")
        sources["stratum_field"] = smp.stratum_field
        return _assess_stratified(smp.gdf, smp.ref_codes, smp.map_codes, smp.inside, smp.areas,
                                  map_total_ha=smp.map_total_ha, unit_ha=smp.unit_ha, stratum_field=smp.stratum_field,
                                  stratum_sizes=stratum_sizes, stratum_size_field=smp.stratum_size_field,
                                  ref_name=smp.ref_name, map_name=smp.map_name, sources=sources)
    return _assess_by_map_class(smp, label_field=label_field, sources=sources)


@dataclasses.dataclass(frozen=True)
class _Sample:
    """A reference sample read against a map: codes on both sides, and the map's class areas."""

    gdf: Any
    ref_codes: np.ndarray  # legend code of each sample's label (-1: no label)
    map_codes: np.ndarray  # map code at each sample (0 where not read)
    inside: np.ndarray  # the sample falls on the map
    use: np.ndarray  # inside and labelled: read on the map
    areas: np.ndarray  # mapped area (ha) per code, length 256
    map_total_ha: float
    unit_ha: float
    map_name: str
    ref_name: str
    stratum_field: str | None
    stratum_size_field: str | None


def _read_sample(map_path: str | os.PathLike, reference: Any, *, label_field: str, pixel_area_ha: float | None,
                 layer: str | None, mapped_areas_ha: Mapping[int, float] | None, name: str | None,
                 stratum_field: str | None, stratum_sizes: Any, stratum_size_field: str | None,
                 map_codes_at: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> _Sample:
    """Read the reference in the map's CRS, its labels, the map code under each sample and
    the mapped area of each class (one pass over the map, or ``mapped_areas_ha``)."""
    from ..vectors import read_vector

    map_name = str(map_path)
    with _open_map(map_path) as ds:
        if ds.crs is None:
            raise CRSMismatchError(f"{map_name}: map has no CRS")
        required = [label_field] + [f for f in (stratum_field, stratum_size_field) if f]
        gdf = read_vector(reference, layer=layer, target_crs=ds.crs, what="reference", require_fields=required)
        ref_name = name or ("<GeoDataFrame>" if not isinstance(reference, (str, os.PathLike)) else str(reference))
        ref_codes = _label_codes(gdf[label_field], name=ref_name, label_field=label_field)
        if stratum_field is None and "stratum" in gdf.columns and label_field != "stratum":
            stratum_field = "stratum"
        if stratum_field and stratum_size_field is None and stratum_sizes is None and "stratum_area_ha" in gdf.columns:
            stratum_size_field = "stratum_area_ha"

        rows, cols, inside = sample_pixels(gdf.geometry, ds.transform, ds.width, ds.height)
        use = inside & (ref_codes >= 0)
        if mapped_areas_ha is None:
            areas, values = _scan_map(ds, map_name, pixel_area_ha=pixel_area_ha, rows=rows[use], cols=cols[use])
        else:
            areas = np.zeros(256, dtype=np.float64)
            for code, ha in mapped_areas_ha.items():
                if int(code) != NODATA:
                    areas[int(code)] = float(ha)
            values = (_sample_map(ds, rows[use], cols[use]) if map_codes_at is None
                      else _codes_from(map_codes_at, ds, rows[use], cols[use]))
        row_area = (np.full(ds.height, float(pixel_area_ha)) if pixel_area_ha is not None
                    else np.asarray(row_area_ha(Grid.from_dataset(ds)), dtype=np.float64))
        map_total_ha = float(row_area.sum()) * ds.width
        unit_ha = float(row_area.mean())
    map_codes = np.zeros(len(gdf), dtype=np.int64)
    map_codes[use] = values
    return _Sample(gdf, ref_codes, map_codes, inside, use, areas, map_total_ha, unit_ha, map_name, ref_name,
                   stratum_field, stratum_size_field)


def _assess_by_map_class(smp: _Sample, *, label_field: str, sources: dict[str, str]) -> AccuracyResult:
    """Olofsson's estimators (map classes as strata): drop the samples that cannot count
    (each reason warned once), count the confusion matrix, adjust the areas; withheld
    areas when the sample names strata that are not the map classes."""
    ref_codes, map_codes, use, ref_name, map_name = smp.ref_codes, smp.map_codes, smp.use, smp.ref_name, smp.map_name
    labelled = ref_codes >= 0
    dropped = {
        "unlabelled": int((~labelled).sum()),
        "reference_nodata": int((labelled & (ref_codes == NODATA)).sum()),
        "outside_map": int((labelled & (ref_codes != NODATA) & ~smp.inside).sum()),
        "map_nodata": int((use & (ref_codes != NODATA) & (map_codes == NODATA)).sum()),
    }
    reasons = {"unlabelled": f"without a {label_field!r} label", "reference_nodata": "labelled nodata",
               "outside_map": "outside the map", "map_nodata": "on map nodata"}
    for key, count in dropped.items():
        if count:
            warnings.warn(f"{ref_name}: dropped {count} reference sample(s) {reasons[key]} ({map_name})",
                          SinksWarning, stacklevel=3)
    valid = use & (ref_codes != NODATA) & (map_codes != NODATA)
    if not valid.any():
        raise NoOverlapError(f"{ref_name}: no reference sample falls on a valid pixel of {map_name} "
                             f"({len(smp.gdf)} sample(s): "
                             f"{', '.join(f'{v} {reasons[k]}' for k, v in dropped.items() if v)})")

    present = set(np.nonzero(smp.areas)[0].tolist()) | set(ref_codes[valid].tolist()) | set(map_codes[valid].tolist())
    codes = sorted(c for c in present if c != NODATA)
    cm = confusion_matrix(map_codes[valid], ref_codes[valid], classes=codes)
    log.info("%s: %d reference samples on %s, %d classes", ref_name, int(valid.sum()), map_name, len(codes))
    res = area_adjusted(cm, smp.areas[codes], classes=[name_of(c) for c in codes], n_dropped=dropped,
                        sources=sources)
    if smp.stratum_field:  # the map-class estimator was asked for a sample that names its strata
        strata = smp.gdf[smp.stratum_field].astype(str).str.strip().str.lower().to_numpy()[valid]
        mapped = np.array([name_of(c) for c in map_codes[valid]], dtype=object)
        differ = int(np.sum(strata != mapped))
        if differ:
            note = (f"{ref_name}: the sample is stratified by {smp.stratum_field!r}, not by map class ({differ} of "
                    f"{int(valid.sum())} samples differ): the map-class (Olofsson) areas and CIs would be wrong and are "
                    "withheld; use the Stehman estimator")
            warnings.warn(note, SinksWarning, stacklevel=3)
            res = dataclasses.replace(res, area_ha=np.full(len(codes), np.nan), area_se_ha=np.full(len(codes), np.nan),
                                      notes=(*res.notes, note))
    return res


def read_stratum_sizes(path: str | os.PathLike) -> dict[str, float]:
    """Stratum sizes (ha) from a CSV with columns ``stratum`` and ``area_ha``.

    Raises
    ------
    ConfigError
        Missing file or columns, a size that is not a non-negative number, a
        stratum listed twice.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: stratum sizes file not found")
    with open(p, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        cols = [c.strip() for c in reader.fieldnames or []]
        if "stratum" not in cols or "area_ha" not in cols:
            raise ConfigError(f"{p}: stratum sizes need columns 'stratum' and 'area_ha' (found {', '.join(cols) or 'none'})")
        out: dict[str, float] = {}
        for i, row in enumerate(reader, start=2):
            row = {(k or "").strip(): v for k, v in row.items()}
            key = str(row["stratum"]).strip()
            try:
                val = float(row["area_ha"])
            except (TypeError, ValueError):
                raise ConfigError(f"{p}: line {i}: area_ha must be a number, got {row['area_ha']!r}") from None
            if not math.isfinite(val) or val < 0:
                raise ConfigError(f"{p}: line {i}: area_ha must be finite and non-negative, got {row['area_ha']!r}")
            if key in out:
                raise ConfigError(f"{p}: line {i}: stratum {key!r} listed twice")
            out[key] = val
    if not out:
        raise ConfigError(f"{p}: no stratum sizes")
    return out


def _assess_stratified(gdf: Any, ref_codes: np.ndarray, map_codes: np.ndarray, inside: np.ndarray, areas: np.ndarray,
                       *, map_total_ha: float, unit_ha: float, stratum_field: str,
                       stratum_sizes: Mapping[Any, float] | str | os.PathLike | None, stratum_size_field: str | None,
                       ref_name: str, map_name: str, sources: dict[str, str]) -> AccuracyResult:
    """Stehman (2014) estimates of a sample stratified by ``stratum_field`` (see :func:`assess_map`)."""
    from .stehman import stratified_estimates

    raw = gdf[stratum_field]
    has_stratum = raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy()
    strata = raw.astype(str).str.strip().to_numpy()
    labelled = ref_codes > 0
    keep = labelled & has_stratum
    dropped = {"unlabelled": int((ref_codes < 0).sum()), "reference_nodata": int((ref_codes == NODATA).sum()),
               "no_stratum": int((labelled & ~has_stratum).sum()),
               "outside_map": 0, "map_nodata": 0}
    for key, what in (("unlabelled", "without a label"), ("reference_nodata", "labelled nodata"),
                      ("no_stratum", f"without a {stratum_field!r} value")):
        if dropped[key]:
            warnings.warn(f"{ref_name}: dropped {dropped[key]} reference sample(s) {what}", SinksWarning, stacklevel=3)
    # units off the map, or on its nodata, stay in the sample: they count for the areas, not the accuracies
    off = keep & (~inside | (map_codes == NODATA))
    dropped_acc = {"outside_map": int((keep & ~inside).sum()), "map_nodata": int((keep & inside & (map_codes == NODATA)).sum())}
    notes: list[str] = []
    if off.any():
        notes.append(f"{int(off.sum())} sample(s) outside the map or on its nodata count for the areas, "
                     "not for the accuracies")
    sizes = _stratum_sizes(gdf, strata, keep, stratum_sizes, stratum_size_field, ref_name)
    codes = sorted({int(c) for c in np.nonzero(areas)[0].tolist()} | set(ref_codes[keep].tolist())
                   | set(map_codes[keep & ~off].tolist()) - {NODATA})
    names = [name_of(c) for c in codes]
    mapped = {name_of(c): float(areas[c]) for c in codes}
    if not np.any(keep & ~off):
        raise NoOverlapError(f"{ref_name}: no reference sample falls on a valid pixel of {map_name}")
    if sizes is None:
        note = (f"{ref_name}: the sample is stratified by {stratum_field!r} but no stratum sizes are given "
                "(stratum_sizes, or a 'stratum_area_ha' field): area-weighted estimates and CIs are withheld")
        warnings.warn(note, SinksWarning, stacklevel=3)
        cm = confusion_matrix(map_codes[keep & ~off], ref_codes[keep & ~off], classes=codes).to_numpy()
        nan = np.full(len(codes), np.nan)
        return AccuracyResult(classes=tuple(names), counts=cm, mapped_area_ha=np.array([mapped[n] for n in names]),
                              proportions=np.full(cm.shape, np.nan), area_ha=nan, area_se_ha=nan, user_accuracy=nan,
                              user_accuracy_se=nan, producer_accuracy=nan, producer_accuracy_se=nan,
                              overall_accuracy=math.nan, overall_accuracy_se=math.nan, kappa=cohen_kappa(cm),
                              n_samples=int(cm.sum()), n_dropped={**dropped, **dropped_acc}, sources=sources,
                              notes=(note,), method="none: stratum sizes unknown, only sample counts are given")
    frame = float(sum(sizes.values()))
    if map_total_ha > 0 and abs(frame - map_total_ha) > 0.01 * map_total_ha:
        notes.append(f"the stratum sizes add up to {frame:,.1f} ha but the map covers {map_total_ha:,.1f} ha: "
                     "the areas are those of the sampling frame")
    mp = [name_of(c) if not o else None for c, o in zip(map_codes[keep], off[keep])]
    log.info("%s: %d reference samples in %d strata on %s (Stehman 2014)", ref_name, int(keep.sum()),
             len(set(strata[keep])), map_name)
    res = stratified_estimates(strata[keep], mp, [name_of(c) for c in ref_codes[keep]], sizes, classes=names,
                               unit_area=unit_ha, mapped_area=mapped, n_dropped={**dropped, **dropped_acc},
                               sources=sources, notes=notes)
    return dataclasses.replace(res, design={**res.design, "map_area_ha": map_total_ha})


def _stratum_sizes(gdf: Any, strata: np.ndarray, keep: np.ndarray, given: Mapping[Any, float] | str | os.PathLike | None,
                   field: str | None, ref_name: str) -> dict[str, float] | None:
    """Stratum sizes from a mapping, a CSV file, or a field of the sample (one value per stratum)."""
    if given is not None:
        if isinstance(given, (str, os.PathLike)):
            return read_stratum_sizes(given)
        return {str(k).strip(): float(v) for k, v in given.items()}
    if not field:
        return None
    vals = pd.to_numeric(gdf[field], errors="coerce").to_numpy(dtype=np.float64)
    bad = keep & ~np.isfinite(vals)
    if bad.any():
        raise ConfigError(f"{ref_name}: field {field!r} must hold the stratum size (ha) of every sample; "
                          f"{int(bad.sum())} sample(s) have none or a non-number")
    out: dict[str, float] = {}
    for h in sorted(set(strata[keep])):
        v = np.unique(vals[keep & (strata == h)])
        if len(v) > 1:
            raise ConfigError(f"{ref_name}: field {field!r} differs within stratum {h!r} "
                              f"({', '.join(f'{x:g}' for x in v[:3])})")
        out[h] = float(v[0])
    return out
