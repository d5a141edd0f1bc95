"""Map accuracy and area estimation from a reference sample.

Two families of numbers come out of a reference sample:

Sample-count statistics
    :func:`confusion_matrix`, :func:`overall_accuracy`, :func:`cohen_kappa`,
    :func:`users_accuracy` and :func:`producers_accuracy` treat every sample alike.
    They describe the sample, and are unbiased for the map only when the sample is
    a simple random one.

Area-adjusted estimators (Olofsson et al. 2014, RSE 148:42–57)
    :func:`area_adjusted` implements the good-practice stratified estimators with the
    map classes as strata (domain.md §6).  With map-class weights
    ``W_i = A_m,i / A_tot`` and counts ``n_ij`` (row = map class ``i``, column =
    reference class ``j``)::

        p̂_ij   = W_i n_ij / n_i·
        Â_j    = A_tot Σ_i p̂_ij
        S(p̂_·j) = sqrt( Σ_i W_i² (n_ij/n_i·)(1 − n_ij/n_i·) / (n_i· − 1) )
        OA     = Σ_j p̂_jj,       V(OA)   = Σ_i W_i² U_i (1 − U_i) / (n_i· − 1)
        UA_i   = p̂_ii / p̂_i·,    V(UA_i) = U_i (1 − U_i) / (n_i· − 1)
        PA_j   = p̂_jj / p̂_·j
        V(PA_j) = N̂_·j⁻² [ N_j·² (1 − P_j)² U_j (1 − U_j) / (n_j· − 1)
                           + P_j² Σ_{i≠j} N_i·² (n_ij/n_i·)(1 − n_ij/n_i·) / (n_i· − 1) ]

    with ``N_i·`` the mapped size of class ``i`` and ``N̂_·j = Σ_i N_i· n_ij / n_i·``
    (areas are used, so per-row pixel areas of geographic grids are handled).  The
    95 % confidence intervals are ± 1.96 standard errors; :func:`sample_size` plans
    ``n = (Σ W_i S_i / S(Ô))²`` with ``S_i = sqrt(U_i (1 − U_i))``.

:func:`assess_map` does the whole job for a land-cover raster and a reference
vector: it samples the map at the reference points, counts the mapped area of each
class block by block, and returns an :class:`AccuracyResult`.

A map class with mapped area but no reference sample cannot be corrected; its area
is carried as mapped (without variance) and the result's ``notes`` say so.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError, CRSMismatchError, NoOverlapError, SinksWarning, TileReadError
from .landcover import CODES, NAMES, NODATA, code_of, name_of

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

__all__ = [
    "Z95",
    "confusion_matrix",
    "overall_accuracy",
    "cohen_kappa",
    "users_accuracy",
    "producers_accuracy",
    "AccuracyResult",
    "area_adjusted",
    "sample_size",
    "assess_map",
    "mapped_area_ha",
]

log = logging.getLogger("sinks")

#: Normal quantile of the 95 % confidence intervals (as in Olofsson et al. 2014).
Z95: float = 1.96

_STRIP_PIXELS = 1 << 22  # pixels read per window when counting mapped area


# --------------------------------------------------------------------------------------
# sample-count statistics
# --------------------------------------------------------------------------------------
def _as_codes(values: Any, what: str) -> np.ndarray:
    """Legend codes from integer codes or (case-insensitive) class names."""
    arr = np.asarray(values)
    if arr.dtype.kind in "OUS":
        return np.array([NODATA if str(v).strip().lower() == "nodata" else code_of(str(v)) for v in arr.ravel()],
                        dtype=np.int64).reshape(arr.shape)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ConfigError(f"{what}: codes must be integers")
    elif arr.dtype.kind not in "iub":
        raise ConfigError(f"{what}: expected land-cover codes or class names, got {arr.dtype}")
    return arr.astype(np.int64)


def confusion_matrix(map_codes: Sequence[int] | np.ndarray, ref_codes: Sequence[int] | np.ndarray, *,
                     classes: Sequence[int | str] | None = None) -> pd.DataFrame:
    """Confusion matrix of sample counts: rows = map class, columns = reference class.

    Parameters
    ----------
    map_codes, ref_codes : array_like
        Legend codes (or class names) of the map and the reference at each sample.
    classes : sequence of int or str, optional
        Classes (codes or names) and their order; default every class present,
        by code.

    Returns
    -------
    pandas.DataFrame
        ``int64`` counts indexed by class name (index ``"map"``, columns
        ``"reference"``).  ``df.attrs["n_dropped_nodata"]`` counts the samples
        dropped because either side is nodata (code 0).

    Raises
    ------
    ConfigError
        Lengths differ, a code is not in the legend, or a sample's class is not in
        ``classes``.
    """
    m = _as_codes(map_codes, "map codes").ravel()
    r = _as_codes(ref_codes, "reference codes").ravel()
    if m.shape != r.shape:
        raise ConfigError(f"map and reference codes differ in length ({m.size} != {r.size})")
    keep = (m != NODATA) & (r != NODATA)
    dropped = int((~keep).sum())
    m, r = m[keep], r[keep]
    if classes is None:
        codes = sorted({int(c) for c in np.unique(np.concatenate([m, r]))})
    else:
        codes = [int(c) for c in _as_codes(list(classes), "classes")]
        if len(set(codes)) != len(codes) or NODATA in codes:
            raise ConfigError(f"classes must be distinct legend classes, got {list(classes)}")
        extra = sorted(set(np.unique(np.concatenate([m, r])).tolist()) - set(codes))
        if extra:
            raise ConfigError(f"samples of classes not listed in classes: {', '.join(_name(c) for c in extra)}")
    names = [name_of(c) for c in codes]
    pos = np.full(max(codes, default=0) + 1, -1, dtype=np.int64)
    pos[codes] = np.arange(len(codes))
    k = len(codes)
    counts = np.bincount(pos[m] * k + pos[r], minlength=k * k).reshape(k, k) if k else np.zeros((0, 0), np.int64)
    df = pd.DataFrame(counts.astype(np.int64), index=pd.Index(names, name="map"),
                      columns=pd.Index(names, name="reference"))
    df.attrs["n_dropped_nodata"] = dropped
    return df


def _name(code: int) -> str:
    try:
        return name_of(code)
    except ConfigError:
        return str(code)


def _matrix(cm: pd.DataFrame | np.ndarray) -> np.ndarray:
    a = np.asarray(cm, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ConfigError(f"confusion matrix must be square, got shape {a.shape}")
    if np.any(a < 0) or not np.all(np.isfinite(a)):
        raise ConfigError("confusion matrix counts must be finite and non-negative")
    return a


def overall_accuracy(cm: pd.DataFrame | np.ndarray) -> float:
    """Share of samples on the diagonal (``nan`` for an empty matrix)."""
    a = _matrix(cm)
    total = a.sum()
    return float(np.trace(a) / total) if total else math.nan


def cohen_kappa(cm: pd.DataFrame | np.ndarray) -> float:
    """Cohen's kappa of a confusion matrix of sample counts.

    ``κ = (p_o − p_e) / (1 − p_e)`` with ``p_e = Σ_k (row_k · col_k) / n²``; ``nan``
    when undefined (empty matrix, or ``p_e = 1``).
    """
    a = _matrix(cm)
    n = a.sum()
    if not n:
        return math.nan
    po = np.trace(a) / n
    pe = float((a.sum(axis=1) * a.sum(axis=0)).sum() / (n * n))
    return float((po - pe) / (1.0 - pe)) if pe < 1.0 else math.nan


def _labels_of(cm: pd.DataFrame | np.ndarray) -> list:
    return list(cm.index) if isinstance(cm, pd.DataFrame) else list(range(np.asarray(cm).shape[0]))


def users_accuracy(cm: pd.DataFrame | np.ndarray) -> pd.Series:
    """User's accuracy per map class: ``n_ii / n_i·`` (``nan`` for unsampled classes)."""
    a = _matrix(cm)
    rows = a.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ua = np.where(rows > 0, np.diag(a) / rows, np.nan)
    return pd.Series(ua, index=_labels_of(cm), name="user_accuracy")


def producers_accuracy(cm: pd.DataFrame | np.ndarray) -> pd.Series:
    """Producer's accuracy per reference class: ``n_jj / n_·j`` (``nan`` when absent)."""
    a = _matrix(cm)
    cols = a.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pa = np.where(cols > 0, np.diag(a) / cols, np.nan)
    return pd.Series(pa, index=_labels_of(cm), name="producer_accuracy")


# --------------------------------------------------------------------------------------
# area-adjusted estimators (Olofsson et al. 2014)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class AccuracyResult:
    """Accuracy and area estimates from a stratified reference sample.

    Arrays are indexed like :attr:`classes`; areas are in hectares (or in the unit of
    the mapped areas given to :func:`area_adjusted`).  Standard errors are given as
    ``*_se``; the ``*_ci95`` properties are half-widths (estimate ± value).

    Attributes
    ----------
    classes : tuple of str
        Class names (rows = map, columns = reference of :attr:`counts`).
    counts : numpy.ndarray
        Sample counts ``n_ij``.
    mapped_area_ha : numpy.ndarray
        Mapped area ``A_m,i`` of each class.
    proportions : numpy.ndarray
        Estimated area proportions ``p̂_ij``.
    area_ha, area_se_ha : numpy.ndarray
        Area-adjusted area ``Â_j`` and its standard error ``A_tot S(p̂_·j)``.
    user_accuracy, user_accuracy_se : numpy.ndarray
        ``UA_i`` and ``S(UA_i)`` (``nan`` for map classes without samples).
    producer_accuracy, producer_accuracy_se : numpy.ndarray
        ``PA_j`` and ``S(PA_j)`` (``nan`` when the class has no estimated area).
    overall_accuracy, overall_accuracy_se : float
    kappa : float
        Cohen's kappa of the sample counts (not area-weighted).
    n_samples : int
        Samples in the matrix.
    n_dropped : dict
        Samples left out, by reason.
    sources : dict
        Inputs (``map``, ``reference``, ``label_field``) when known.
    notes : tuple of str
        Caveats (unsampled strata, strata with a single sample).
    """

    classes: tuple[str, ...]
    counts: np.ndarray
    mapped_area_ha: np.ndarray
    proportions: np.ndarray
    area_ha: np.ndarray
    area_se_ha: np.ndarray
    user_accuracy: np.ndarray
    user_accuracy_se: np.ndarray
    producer_accuracy: np.ndarray
    producer_accuracy_se: np.ndarray
    overall_accuracy: float
    overall_accuracy_se: float
    kappa: float
    n_samples: int
    n_dropped: dict[str, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    # -- derived -----------------------------------------------------------------------
    @property
    def total_area_ha(self) -> float:
        """``A_tot``: the mapped area of all classes."""
        return float(self.mapped_area_ha.sum())

    @property
    def weights(self) -> np.ndarray:
        """Map-class weights ``W_i = A_m,i / A_tot``."""
        total = self.total_area_ha
        return self.mapped_area_ha / total if total else np.zeros_like(self.mapped_area_ha)

    @property
    def area_ci95_ha(self) -> np.ndarray:
        """Half-width of the 95 % CI of :attr:`area_ha`."""
        return Z95 * self.area_se_ha

    @property
    def user_accuracy_ci95(self) -> np.ndarray:
        """Half-width of the 95 % CI of :attr:`user_accuracy`."""
        return Z95 * self.user_accuracy_se

    @property
    def producer_accuracy_ci95(self) -> np.ndarray:
        """Half-width of the 95 % CI of :attr:`producer_accuracy`."""
        return Z95 * self.producer_accuracy_se

    @property
    def overall_accuracy_ci95(self) -> float:
        """Half-width of the 95 % CI of :attr:`overall_accuracy`."""
        return Z95 * self.overall_accuracy_se

    # -- views -------------------------------------------------------------------------
    def confusion_dataframe(self) -> pd.DataFrame:
        """Sample counts as a DataFrame (index ``map``, columns ``reference``)."""
        return pd.DataFrame(self.counts.astype(np.int64), index=pd.Index(self.classes, name="map"),
                            columns=pd.Index(self.classes, name="reference"))

    def class_table(self) -> pd.DataFrame:
        """One row per class: mapped and adjusted areas with CIs, UA and PA with CIs."""
        return pd.DataFrame(
            {
                "n_map": self.counts.sum(axis=1).astype(np.int64),
                "n_reference": self.counts.sum(axis=0).astype(np.int64),
                "mapped_area_ha": self.mapped_area_ha,
                "area_ha": self.area_ha,
                "area_ci95_ha": self.area_ci95_ha,
                "user_accuracy": self.user_accuracy,
                "user_accuracy_ci95": self.user_accuracy_ci95,
                "producer_accuracy": self.producer_accuracy,
                "producer_accuracy_ci95": self.producer_accuracy_ci95,
            },
            index=pd.Index(self.classes, name="class"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready result: per-class values keyed by class name, ``nan`` as ``None``.

        ``confusion_matrix`` is nested ``{map_class: {reference_class: count}}``;
        ``*_ci95`` values are half-widths of 95 % confidence intervals.
        """
        def per_class(values: np.ndarray) -> dict[str, float | None]:
            return {c: _num(v) for c, v in zip(self.classes, values)}

        return {
            "n_samples": int(self.n_samples),
            "n_dropped": {k: int(v) for k, v in self.n_dropped.items()},
            "overall_accuracy": _num(self.overall_accuracy),
            "overall_accuracy_se": _num(self.overall_accuracy_se),
            "overall_accuracy_ci95": _num(self.overall_accuracy_ci95),
            "kappa": _num(self.kappa),
            "total_area_ha": _num(self.total_area_ha),
            "mapped_area_ha": per_class(self.mapped_area_ha),
            "area_ha": per_class(self.area_ha),
            "area_se_ha": per_class(self.area_se_ha),
            "area_ci95_ha": per_class(self.area_ci95_ha),
            "user_accuracy": per_class(self.user_accuracy),
            "user_accuracy_se": per_class(self.user_accuracy_se),
            "user_accuracy_ci95": per_class(self.user_accuracy_ci95),
            "producer_accuracy": per_class(self.producer_accuracy),
            "producer_accuracy_se": per_class(self.producer_accuracy_se),
            "producer_accuracy_ci95": per_class(self.producer_accuracy_ci95),
            "confusion_matrix": {
                m: {r: int(self.counts[i, j]) for j, r in enumerate(self.classes)}
                for i, m in enumerate(self.classes)
            },
            "confusion_matrix_axes": {"rows": "map", "columns": "reference"},
            "method": "Olofsson et al. 2014 (RSE 148:42) stratified estimators, map classes as strata; "
                      "95 % CI = ±1.96 SE",
            "sources": dict(self.sources),
            "notes": list(self.notes),
        }


def _num(v: Any) -> float | None:
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else v


def area_adjusted(counts: pd.DataFrame | np.ndarray, mapped_area: Sequence[float] | Mapping[str, float] | np.ndarray,
                  *, classes: Sequence[str] | None = None, n_dropped: Mapping[str, int] | None = None,
                  sources: Mapping[str, str] | None = None) -> AccuracyResult:
    """Olofsson et al. (2014) area-adjusted accuracy and area estimates.

    Parameters
    ----------
    counts : pandas.DataFrame or array_like
        Square matrix of sample counts, rows = map class (stratum), columns =
        reference class, in the same class order.
    mapped_area : sequence of float or mapping
        Mapped area of each map class (ha), in row order, or ``{class: area}``.
        Pixel counts work too when every pixel has the same area; the areas of the
        result are then in pixels.
    classes : sequence of str, optional
        Class names; default the DataFrame's index, else ``class_1, class_2 ...``.
    n_dropped, sources : mapping, optional
        Carried into the result.

    Returns
    -------
    AccuracyResult

    Raises
    ------
    ConfigError
        Shapes disagree, negative areas or counts, no mapped area or no samples.

    Notes
    -----
    A map class with area but no samples keeps its mapped area (no variance); a
    class with a single sample has an undefined variance (``nan`` standard errors).
    Both cases are listed in ``notes`` and warned about with :class:`SinksWarning`.
    """
    n = _matrix(counts)
    k = n.shape[0]
    if classes is None:
        classes = [str(c) for c in counts.index] if isinstance(counts, pd.DataFrame) else \
            [f"class_{i + 1}" for i in range(k)]
    classes = tuple(str(c) for c in classes)
    if len(classes) != k:
        raise ConfigError(f"{len(classes)} class names for a {k}×{k} matrix")
    if isinstance(mapped_area, Mapping):
        unknown = sorted(set(map(str, mapped_area)) - set(classes))
        if unknown:
            raise ConfigError(f"mapped area given for classes not in the matrix: {', '.join(unknown)}")
        area = np.array([float(mapped_area.get(c, 0.0)) for c in classes])
    else:
        area = np.asarray(mapped_area, dtype=np.float64).ravel()
    if area.shape != (k,):
        raise ConfigError(f"{area.size} mapped areas for {k} classes")
    if np.any(area < 0) or not np.all(np.isfinite(area)):
        raise ConfigError("mapped areas must be finite and non-negative")
    a_tot = float(area.sum())
    if a_tot <= 0:
        raise ConfigError("no mapped area: every class has zero area")
    if n.sum() <= 0:
        raise ConfigError("no reference samples")

    notes: list[str] = []
    w = area / a_tot
    n_i = n.sum(axis=1)
    unsampled = (n_i == 0) & (area > 0)
    if unsampled.any():
        names = ", ".join(c for c, u in zip(classes, unsampled) if u)
        notes.append(f"map classes without reference samples keep their mapped area (no variance): {names}")
    single = n_i == 1
    if single.any():
        names = ", ".join(c for c, s in zip(classes, single) if s)
        notes.append(f"map classes with a single reference sample have undefined variance: {names}")
    for note in notes:
        warnings.warn(note, SinksWarning, stacklevel=2)

    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(n_i[:, None] > 0, n / np.where(n_i > 0, n_i, 1)[:, None], 0.0)  # n_ij / n_i·
        f[unsampled] = np.eye(k)[unsampled]
        p = w[:, None] * f
        # per-stratum variance factor (n_ij/n_i·)(1 − n_ij/n_i·)/(n_i· − 1), zero where no samples
        denom = n_i - 1.0
        var_f = np.where((n_i > 1)[:, None], f * (1.0 - f) / np.where(denom > 0, denom, 1.0)[:, None], 0.0)
        var_f[single] = np.nan
        # zero-area strata contribute nothing, even if undefined
        var_f[(area == 0)] = 0.0

        area_ha = a_tot * p.sum(axis=0)
        area_se = a_tot * np.sqrt((w[:, None] ** 2 * var_f).sum(axis=0))

        u = np.diag(f).copy()
        u[n_i == 0] = np.nan
        var_u = np.diag(var_f).copy()
        var_u[n_i == 0] = np.nan
        ua_se = np.sqrt(var_u)

        oa = float(np.trace(p))
        oa_se = float(np.sqrt(np.sum(w ** 2 * np.diag(var_f))))

        col = p.sum(axis=0)
        pa = np.where(col > 0, np.diag(p) / np.where(col > 0, col, 1.0), np.nan)
        n_hat = (area[:, None] * f).sum(axis=0)  # N̂_·j in area units
        pa_se = np.full(k, np.nan)
        for j in range(k):
            if not col[j] > 0:
                continue
            t1 = 0.0 if area[j] == 0 else area[j] ** 2 * (1.0 - pa[j]) ** 2 * var_f[j, j]
            others = [i for i in range(k) if i != j]
            t2 = pa[j] ** 2 * float(np.sum(area[others] ** 2 * var_f[others, j]))
            pa_se[j] = math.sqrt((t1 + t2) / n_hat[j] ** 2) if n_hat[j] > 0 else math.nan

    return AccuracyResult(
        classes=classes,
        counts=n.astype(np.int64),
        mapped_area_ha=area,
        proportions=p,
        area_ha=area_ha,
        area_se_ha=area_se,
        user_accuracy=u,
        user_accuracy_se=ua_se,
        producer_accuracy=pa,
        producer_accuracy_se=pa_se,
        overall_accuracy=oa,
        overall_accuracy_se=oa_se,
        kappa=cohen_kappa(n),
        n_samples=int(n.sum()),
        n_dropped=dict(n_dropped or {}),
        sources=dict(sources or {}),
        notes=tuple(notes),
    )


def sample_size(weights: Sequence[float] | np.ndarray, expected_ua: Sequence[float] | np.ndarray,
                target_se_oa: float) -> int:
    """Total sample size for a target standard error of overall accuracy.

    ``n = (Σ W_i S_i / S(Ô))²`` with ``S_i = sqrt(U_i (1 − U_i))`` (Olofsson et al.
    2014, Eq. 13, after Cochran 1977).

    Parameters
    ----------
    weights : array_like
        Map-class weights ``W_i`` (mapped areas are normalised to sum to one).
    expected_ua : array_like
        Anticipated user's accuracy ``U_i`` of each class, in [0, 1].
    target_se_oa : float
        Target standard error of overall accuracy (e.g. 0.01).

    Returns
    -------
    int
        ``n`` rounded up.  Allocating it to strata (e.g. at least 50–100 per rare
        class) is a separate decision.
    """
    w = np.asarray(weights, dtype=np.float64).ravel()
    u = np.asarray(expected_ua, dtype=np.float64).ravel()
    if w.shape != u.shape or w.size == 0:
        raise ConfigError(f"{w.size} weights but {u.size} expected user's accuracies")
    if np.any(w < 0) or w.sum() <= 0 or not np.all(np.isfinite(w)):
        raise ConfigError("weights must be non-negative with a positive sum")
    if np.any((u < 0) | (u > 1)) or not np.all(np.isfinite(u)):
        raise ConfigError("expected user's accuracies must lie in [0, 1]")
    if not (target_se_oa > 0 and math.isfinite(target_se_oa)):
        raise ConfigError(f"target standard error must be positive, got {target_se_oa}")
    w = w / w.sum()
    n = (float(np.sum(w * np.sqrt(u * (1.0 - u)))) / target_se_oa) ** 2
    return max(1, math.ceil(n - 1e-9))


# --------------------------------------------------------------------------------------
# assessing a land-cover raster
# --------------------------------------------------------------------------------------
def _row_area_ha(grid: Any) -> np.ndarray:
    """Pixel area (ha) of each row; ellipsoidal for geographic grids."""
    try:
        from .area import row_area_ha
    except ImportError:  # pragma: no cover - sinks.area is part of the package
        return _row_area_ha_geod(grid)
    return np.asarray(row_area_ha(grid), dtype=np.float64)


def _row_area_ha_geod(grid: Any) -> np.ndarray:
    """Fallback of :func:`sinks.area.row_area_ha` using :class:`pyproj.Geod`."""
    import pyproj

    crs = pyproj.CRS.from_wkt(grid.crs.to_wkt())
    t = grid.transform
    if not crs.is_geographic:
        factor = float(crs.axis_info[0].unit_conversion_factor or 1.0) if crs.axis_info else 1.0
        return np.full(grid.height, abs(t.a * t.e) * factor * factor / 1e4)
    geod = crs.get_geod() or pyproj.Geod(ellps="WGS84")
    dx = abs(t.a)
    out = np.empty(grid.height)
    steps = max(2, int(math.ceil(dx / 0.01)))
    for r in range(grid.height):
        y0, y1 = t.f + t.e * r, t.f + t.e * (r + 1)
        xs = np.linspace(0.0, dx, steps)
        lons = np.concatenate([xs, xs[::-1]])
        lats = np.concatenate([np.full(steps, y0), np.full(steps, y1)])
        out[r] = abs(geod.polygon_area_perimeter(lons, lats)[0]) / 1e4
    return out


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


def _scan_map(ds: Any, name: str, *, pixel_area_ha: float | None, rows: np.ndarray | None,
              cols: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """One block-wise pass: mapped area per code (length 256) and map codes at (rows, cols)."""
    from rasterio.windows import Window

    from .grid import Grid

    if np.dtype(ds.dtypes[0]).kind not in "iu":
        raise TileReadError(f"{name}: not a land-cover map (band 1 is {ds.dtypes[0]}, expected integer codes)")
    width, height = ds.width, ds.height
    if pixel_area_ha is not None:
        if not (pixel_area_ha > 0 and math.isfinite(pixel_area_ha)):
            raise ConfigError(f"pixel area must be positive, got {pixel_area_ha}")
        row_area = np.full(height, float(pixel_area_ha))
    else:
        row_area = _row_area_ha(Grid.from_dataset(ds))
    uniform = bool(np.all(row_area == row_area[0]))
    areas = np.zeros(256, dtype=np.float64)
    values = np.zeros(0 if rows is None else rows.size, dtype=np.int64)
    order = np.argsort(rows, kind="stable") if rows is not None else None
    strip = max(1, min(height, _STRIP_PIXELS // max(1, width)))
    bad: set[int] = set()
    for r0 in range(0, height, strip):
        nrows = min(strip, height - r0)
        a = ds.read(1, window=Window(0, r0, width, nrows))
        if a.dtype == np.uint8:  # one compiled pass; the nodata count is dropped below
            from ._kernels.codes import hist_u8

            counts, weighted = hist_u8(a, None if uniform else row_area[r0:r0 + nrows])
            if ds.nodata is not None and 0 <= ds.nodata < 256 and int(ds.nodata) == ds.nodata:
                counts[int(ds.nodata)] = 0
                if weighted is not None:
                    weighted[int(ds.nodata)] = 0.0
            areas += counts * row_area[0] if uniform else weighted
            if rows is not None and rows.size:
                lo, hi = np.searchsorted(rows[order], [r0, r0 + nrows])
                idx = order[lo:hi]
                got = a[rows[idx] - r0, cols[idx]].astype(np.int64)
                if ds.nodata is not None:
                    got[got == ds.nodata] = 0
                values[idx] = got
            continue
        a = np.where(_nodata_mask(a, ds.nodata), 0, a).astype(np.int64)
        if a.min() < 0 or a.max() > 255:
            bad.update(int(v) for v in np.unique(a[(a < 0) | (a > 255)])[:10])
            a = np.where((a < 0) | (a > 255), 0, a)
        if uniform:
            areas += np.bincount(a.ravel(), minlength=256)[:256] * row_area[0]
        else:
            areas += np.bincount(a.ravel(), weights=np.repeat(row_area[r0:r0 + nrows], width), minlength=256)[:256]
        if rows is not None and rows.size:
            lo, hi = np.searchsorted(rows[order], [r0, r0 + nrows])
            idx = order[lo:hi]
            values[idx] = a[rows[idx] - r0, cols[idx]]
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
               mapped_areas_ha: Mapping[int, float] | None = None, name: str | None = None) -> AccuracyResult:
    """Assess a land-cover map against a reference sample (Olofsson et al. 2014).

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

    Returns
    -------
    AccuracyResult
        Area-adjusted areas, UA, PA and OA with 95 % CIs, plus kappa.

    Raises
    ------
    TileReadError
        The map is missing, unreadable or not integer-coded.
    VectorError
        The reference is missing, unreadable, empty, without CRS or without
        ``label_field``.
    ConfigError
        Unknown labels (listed) or map codes outside the legend.
    NoOverlapError
        No sample falls on a valid map pixel.

    Notes
    -----
    Samples outside the map, on map nodata, or without a label are dropped with a
    :class:`SinksWarning`; the result counts them in ``n_dropped``.  The map's
    classes are the strata: the estimators assume a stratified random sample by map
    class (or a simple random sample).
    """
    from .vectors import read_vector

    map_name = str(map_path)
    with _open_map(map_path) as ds:
        if ds.crs is None:
            raise CRSMismatchError(f"{map_name}: map has no CRS")
        gdf = read_vector(reference, layer=layer, target_crs=ds.crs, what="reference",
                          require_fields=[label_field], columns=[label_field])
        ref_name = name or ("<GeoDataFrame>" if not isinstance(reference, (str, os.PathLike)) else str(reference))
        ref_codes = _label_codes(gdf[label_field], name=ref_name, label_field=label_field)

        geoms = gdf.geometry
        pts = geoms.representative_point()  # a point is its own representative point
        xs, ys = pts.x.to_numpy(), pts.y.to_numpy()
        inv = ~ds.transform
        cols = np.floor(inv.a * xs + inv.b * ys + inv.c).astype(np.int64)
        rows = np.floor(inv.d * xs + inv.e * ys + inv.f).astype(np.int64)
        inside = (cols >= 0) & (cols < ds.width) & (rows >= 0) & (rows < ds.height)
        labelled = ref_codes >= 0
        use = inside & labelled
        if mapped_areas_ha is None:
            areas, values = _scan_map(ds, map_name, pixel_area_ha=pixel_area_ha, rows=rows[use], cols=cols[use])
        else:
            areas = np.zeros(256, dtype=np.float64)
            for code, ha in mapped_areas_ha.items():
                if int(code) != NODATA:
                    areas[int(code)] = float(ha)
            values = _sample_map(ds, rows[use], cols[use])

    map_codes = np.zeros(len(gdf), dtype=np.int64)
    map_codes[use] = values
    dropped = {
        "unlabelled": int((~labelled).sum()),
        "reference_nodata": int((labelled & (ref_codes == NODATA)).sum()),
        "outside_map": int((labelled & (ref_codes != NODATA) & ~inside).sum()),
        "map_nodata": int((use & (ref_codes != NODATA) & (map_codes == NODATA)).sum()),
    }
    reasons = {"unlabelled": f"without a {label_field!r} label", "reference_nodata": "labelled nodata",
               "outside_map": "outside the map", "map_nodata": "on map nodata"}
    for key, count in dropped.items():
        if count:
            warnings.warn(f"{ref_name}: dropped {count} reference sample(s) {reasons[key]} ({map_name})",
                          SinksWarning, stacklevel=2)
    valid = use & (ref_codes != NODATA) & (map_codes != NODATA)
    if not valid.any():
        raise NoOverlapError(f"{ref_name}: no reference sample falls on a valid pixel of {map_name} "
                             f"({len(gdf)} sample(s): {', '.join(f'{v} {reasons[k]}' for k, v in dropped.items() if v)})")

    present = set(np.nonzero(areas)[0].tolist()) | set(ref_codes[valid].tolist()) | set(map_codes[valid].tolist())
    codes = sorted(c for c in present if c != NODATA)
    cm = confusion_matrix(map_codes[valid], ref_codes[valid], classes=codes)
    log.info("%s: %d reference samples on %s, %d classes", ref_name, int(valid.sum()), map_name, len(codes))
    return area_adjusted(
        cm, areas[codes], classes=[name_of(c) for c in codes], n_dropped=dropped,
        sources={"map": map_name, "reference": ref_name, "label_field": label_field},
    )
