"""Olofsson et al. (2014, RSE 148:42–57) estimators: stratified sample with the map classes as strata.

With map-class weights ``W_i = A_m,i / A_tot`` and counts ``n_ij`` (row = map class
``i``, column = reference class ``j``)::

    p̂_ij   = W_i n_ij / n_i·
    Â_j    = A_tot Σ_i p̂_ij
    S(p̂_·j) = sqrt( Σ_i W_i² (n_ij/n_i·)(1 − n_ij/n_i·) / (n_i· − 1) )
    OA     = Σ_j p̂_jj,       V(OA)   = Σ_i W_i² U_i (1 − U_i) / (n_i· − 1)
    UA_i   = p̂_ii / p̂_i·,    V(UA_i) = U_i (1 − U_i) / (n_i· − 1)
    PA_j   = p̂_jj / p̂_·j
    V(PA_j) = N̂_·j⁻² [ N_j·² (1 − P_j)² U_j (1 − U_j) / (n_j· − 1)
                       + P_j² Σ_{i≠j} N_i·² (n_ij/n_i·)(1 − n_ij/n_i·) / (n_i· − 1) ]

with ``N_i·`` the mapped size of class ``i`` and ``N̂_·j = Σ_i N_i· n_ij / n_i·``
(areas are used, so per-row pixel areas of geographic grids are handled).  The 95 %
confidence intervals are ± 1.96 standard errors; :func:`sample_size` plans
``n = (Σ W_i S_i / S(Ô))²`` with ``S_i = sqrt(U_i (1 − U_i))``.

These formulas hold for a stratified random sample whose strata are the map classes
(or a simple random sample).  A sample stratified otherwise (by a reference map, an
older map, a region) needs :mod:`sinks.accuracy.stehman`.
"""

from __future__ import annotations

import math
import warnings
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError, SinksWarning
from .counts import _matrix, cohen_kappa
from .result import AccuracyResult

__all__ = ["area_adjusted", "sample_size"]


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
    n, classes, area = _checked(counts, mapped_area, classes)
    k = n.shape[0]
    a_tot = float(area.sum())

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
        pa_se = _producers_se(pa, col, area, f, var_f)

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


def _checked(counts: pd.DataFrame | np.ndarray, mapped_area: Sequence[float] | Mapping[str, float] | np.ndarray,
             classes: Sequence[str] | None) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """The count matrix, class names and mapped areas of :func:`area_adjusted`, checked."""
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
    if float(area.sum()) <= 0:
        raise ConfigError("no mapped area: every class has zero area")
    if n.sum() <= 0:
        raise ConfigError("no reference samples")
    return n, classes, area


def _producers_se(pa: np.ndarray, col: np.ndarray, area: np.ndarray, f: np.ndarray, var_f: np.ndarray) -> np.ndarray:
    """Standard errors of the producer's accuracies (the ``V(PA_j)`` of the module docstring)."""
    k = len(pa)
    n_hat = (area[:, None] * f).sum(axis=0)  # N̂_·j in area units
    pa_se = np.full(k, np.nan)
    for j in range(k):
        if not col[j] > 0:
            continue
        t1 = 0.0 if area[j] == 0 else area[j] ** 2 * (1.0 - pa[j]) ** 2 * var_f[j, j]
        others = [i for i in range(k) if i != j]
        t2 = pa[j] ** 2 * float(np.sum(area[others] ** 2 * var_f[others, j]))
        pa_se[j] = math.sqrt((t1 + t2) / n_hat[j] ** 2) if n_hat[j] > 0 else math.nan
    return pa_se


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


