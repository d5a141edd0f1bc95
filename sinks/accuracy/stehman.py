"""Stehman (2014) estimators: a stratified random sample whose strata are not the map classes.

Stehman, S. V. (2014). Estimating area and map accuracy for stratified random sampling
when the strata are different from the map classes.  *Int. J. Remote Sens.* 35(13),
4923–4939.  doi:10.1080/01431161.2014.930207 (domain.md §6).

The strata ``h = 1 … H`` (sizes ``N_h``, ``N = Σ N_h``; ``n_h`` sample units drawn at
random in each) may be anything: the classes of an older map, of a reference map, a
region.  Every quantity is the population total of an indicator ``y_u`` of the sample
unit, estimated stratum by stratum, or the ratio of two such totals::

    Ŷ      = Σ_h N_h ȳ_h                                      (total)
    V̂(Ŷ)   = Σ_h N_h² (1 − n_h/N_h) s²_yh / n_h
    R̂      = Ŷ / X̂                                            (ratio)
    V̂(R̂)   = X̂⁻² Σ_h N_h² (1 − n_h/N_h) (s²_yh + R̂² s²_xh − 2 R̂ s_xyh) / n_h

with the sample means ``ȳ_h``, variances ``s²_yh`` and covariance ``s_xyh`` of the
units of stratum ``h``.  The indicators:

=========================  ==========================================  =====================
estimate                   ``y_u``                                     ``x_u``
=========================  ==========================================  =====================
proportion of class ``k``  reference is ``k``                          (total ÷ ``N``)
cell ``p_ij``              map is ``i`` and reference is ``j``         (total ÷ ``N``)
overall accuracy           map equals reference                        map has a class
user's accuracy of ``i``   map and reference are ``i``                 map is ``i``
producer's accuracy        map and reference are ``j``                 reference is ``j``, map has a class
=========================  ==========================================  =====================

Area of class ``k`` = ``N p̂_k``, so the areas cover the sampling frame (the sum of
the stratum sizes), whatever the map says there: a unit on map nodata (a cloud)
still counts towards the reference class areas, and is left out of the accuracies
(the ``x_u`` above), which are those of the map where it has a class.  The finite
population correction ``1 − n_h/N_h`` needs the size of one sample unit
(``unit_area``); without it the correction is left out (as it is negligible for a
pixel sample, ``n_h ≪ N_h``).  95 % confidence intervals are ± 1.96 standard errors.

With the map classes as strata these estimators give Olofsson et al.'s (2014)
estimates (:mod:`sinks.accuracy.olofsson`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ConfigError, SinksWarning
from .counts import cohen_kappa
from .result import AccuracyResult

__all__ = ["STEHMAN", "stratified_estimates", "stratified_total", "stratified_ratio"]

#: ``AccuracyResult.method`` of these estimators.
STEHMAN = ("Stehman 2014 (IJRS 35:4923) stratified estimators, strata different from the map classes; "
           "95 % CI = ±1.96 SE")


def _stratum_moments(y: np.ndarray, x: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """``(H, 5)``: per stratum the means of ``y`` and ``x``, their variances and covariance.

    Variances use ``n_h − 1``; a stratum with a single unit has ``nan`` (co)variances.
    """
    out = np.full((len(groups), 5), np.nan)
    for k, idx in enumerate(groups):
        yk, xk = y[idx], x[idx]
        out[k, 0], out[k, 1] = yk.mean(), xk.mean()
        if len(idx) > 1:
            dy, dx = yk - yk.mean(), xk - xk.mean()
            out[k, 2:] = [(dy * dy).sum(), (dx * dx).sum(), (dy * dx).sum()]
            out[k, 2:] /= len(idx) - 1
    return out


def stratified_total(y: np.ndarray, groups: list[np.ndarray], sizes: np.ndarray, fpc: np.ndarray
                     ) -> tuple[float, float]:
    """Estimated total ``Ŷ = Σ N_h ȳ_h`` and its variance (``nan`` if a stratum has one unit)."""
    y = np.asarray(y, dtype=np.float64)
    mom = _stratum_moments(y, y, groups)
    n = np.array([len(g) for g in groups], dtype=np.float64)
    total = float(np.sum(sizes * mom[:, 0]))
    var = float(np.sum(sizes ** 2 * fpc * mom[:, 2] / n))
    return total, var


def stratified_ratio(y: np.ndarray, x: np.ndarray, groups: list[np.ndarray], sizes: np.ndarray, fpc: np.ndarray
                     ) -> tuple[float, float]:
    """Estimated ratio ``R̂ = Ŷ / X̂`` and its variance (``nan`` when ``X̂ = 0``)."""
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    mom = _stratum_moments(y, x, groups)
    my, mx, vy, vx, cxy = mom.T
    n = np.array([len(g) for g in groups], dtype=np.float64)
    yt, xt = float(np.sum(sizes * my)), float(np.sum(sizes * mx))
    if xt <= 0:
        return math.nan, math.nan
    r = yt / xt
    var = float(np.sum(sizes ** 2 * fpc * (vy + r * r * vx - 2.0 * r * cxy) / n)) / xt ** 2
    return r, max(var, 0.0) if math.isfinite(var) else var


def stratified_estimates(strata: Sequence[Any], map_classes: Sequence[Any], ref_classes: Sequence[Any],
                         stratum_sizes: Mapping[Any, float], *, classes: Sequence[str] | None = None,
                         unit_area: float | None = None, mapped_area: Mapping[str, float] | None = None,
                         n_dropped: Mapping[str, int] | None = None, sources: Mapping[str, str] | None = None,
                         notes: Sequence[str] = ()) -> AccuracyResult:
    """Stehman (2014) area and accuracy estimates (module docstring).

    Parameters
    ----------
    strata : sequence
        Stratum of each sample unit (compared as text).
    map_classes : sequence
        Map class of each unit; ``None``, ``""`` or ``"nodata"`` where the map has no
        class (the unit counts for the areas, not for the accuracies).
    ref_classes : sequence of str
        Reference class of each unit.
    stratum_sizes : mapping
        Size of every stratum (ha, or any area unit: the areas come out in it).
    classes : sequence of str, optional
        Class order of the result (default: every class seen, sorted).
    unit_area : float, optional
        Size of one sample unit in the unit of ``stratum_sizes`` (a pixel's area):
        gives the finite population correction.  Without it the correction is left
        out.
    mapped_area : mapping, optional
        Mapped area of each class, carried into the result.
    n_dropped, sources : mapping, optional
        Carried into the result.
    notes : sequence of str
        Caveats found by the caller, put first.

    Returns
    -------
    AccuracyResult
        ``area_ha`` are reference-class areas over the frame (``frame_area_ha`` =
        Σ stratum sizes); ``proportions`` the estimated error matrix ``p̂_ij``.

    Raises
    ------
    ConfigError
        Lengths differ, a sampled stratum has no size, a size is negative or not a
        number, or a stratum holds more units than its size allows.
    """
    s = np.array([str(v) for v in strata], dtype=object)
    m = np.array(["" if v is None or str(v).strip().lower() in ("", "nodata", "nan") else str(v)
                  for v in map_classes], dtype=object)
    r = np.array([str(v) for v in ref_classes], dtype=object)
    sizes_in = _checked_sizes(s, m, r, stratum_sizes)
    out_notes = list(notes)
    names = sorted(sizes_in)
    unsampled = [h for h in names if float(sizes_in[h]) > 0 and not np.any(s == h)]
    sampled = [h for h in names if np.any(s == h)]
    groups = [np.flatnonzero(s == h) for h in sampled]
    sizes = np.array([float(sizes_in[h]) for h in sampled])
    n_h = np.array([len(g) for g in groups], dtype=np.float64)
    fpc = _fpc(sampled, sizes, n_h, unit_area)
    empty = [h for h, size in zip(sampled, sizes) if size <= 0]
    if empty:
        raise ConfigError(f"strata with samples but a size of 0: {', '.join(empty[:10])}")
    frame = float(sum(float(v) for v in sizes_in.values()))
    if frame <= 0:
        raise ConfigError("stratum sizes add up to 0")

    single = [h for h, k in zip(sampled, n_h) if k == 1]
    if unsampled:
        out_notes.append(f"strata without a sample unit ({', '.join(unsampled)}) are not represented: "
                         "the area estimates and their CIs are withheld")
    if single:
        out_notes.append(f"strata with a single sample unit ({', '.join(single)}) have no variance estimate: "
                         "CIs are withheld")
    for note in out_notes[len(notes):]:
        warnings.warn(note, SinksWarning, stacklevel=2)

    seen = sorted(set(r.tolist()) | set(m[m != ""].tolist()))
    if classes is None:
        classes = seen
    classes = tuple(str(c) for c in classes)
    extra = sorted(set(seen) - set(classes))
    if extra:
        raise ConfigError(f"samples of classes not listed in classes: {', '.join(extra)}")
    k = len(classes)
    valid = (m != "").astype(np.float64)
    big_n = float(sizes.sum())  # the sampled strata (all of the frame unless some are unsampled)

    def prop(y: np.ndarray) -> tuple[float, float]:
        t, v = stratified_total(y, groups, sizes, fpc)
        return t / big_n, math.sqrt(v) / big_n if v >= 0 else math.nan

    p = np.zeros((k, k))
    area = np.zeros(k)
    area_se = np.zeros(k)
    ua, ua_se, pa, pa_se = (np.full(k, np.nan) for _ in range(4))
    for j, cj in enumerate(classes):
        is_ref = (r == cj).astype(np.float64)
        pj, sj = prop(is_ref)
        area[j], area_se[j] = pj * big_n, sj * big_n
        for i, ci in enumerate(classes):
            p[i, j] = prop(((m == ci) & (r == cj)).astype(np.float64))[0]
        hit = ((m == cj) & (r == cj)).astype(np.float64)
        if np.any(m == cj):
            ua[j], v = stratified_ratio(hit, (m == cj).astype(np.float64), groups, sizes, fpc)
            ua_se[j] = math.sqrt(v) if v >= 0 else math.nan
        if np.any((r == cj) & (valid > 0)):
            pa[j], v = stratified_ratio(hit, is_ref * valid, groups, sizes, fpc)
            pa_se[j] = math.sqrt(v) if v >= 0 else math.nan
    area_cov = _area_covariance([(r == cj).astype(np.float64) for cj in classes], groups, sizes, fpc)
    oa, v = stratified_ratio((m == r).astype(np.float64) * valid, valid, groups, sizes, fpc)
    oa_se = math.sqrt(v) if v >= 0 else math.nan
    if unsampled:
        area[:] = np.nan
        area_se[:] = np.nan
        area_cov[:] = np.nan
    counts = np.zeros((k, k), dtype=np.int64)
    pos = {c: i for i, c in enumerate(classes)}
    for mi, ri in zip(m, r):
        if mi:
            counts[pos[mi], pos[ri]] += 1
    mapped = np.array([float((mapped_area or {}).get(c, math.nan)) for c in classes])
    design = {"estimator": "stehman2014", "frame_area_ha": frame,
              "strata": {h: {"size_ha": float(sizes_in[h]), "n": int(np.sum(s == h))} for h in names},
              "finite_population_correction": unit_area is not None}
    if unit_area is not None:
        design["unit_area_ha"] = float(unit_area)
    return AccuracyResult(
        classes=classes, counts=counts, mapped_area_ha=mapped, proportions=p, area_ha=area, area_se_ha=area_se,
        user_accuracy=ua, user_accuracy_se=ua_se, producer_accuracy=pa, producer_accuracy_se=pa_se,
        overall_accuracy=float(oa), overall_accuracy_se=float(oa_se), kappa=cohen_kappa(counts),
        n_samples=int(counts.sum()), n_dropped=dict(n_dropped or {}), sources=dict(sources or {}),
        notes=tuple(out_notes), method=STEHMAN, design=design, frame_area_ha=frame, area_cov_ha2=area_cov)


def _checked_sizes(s: np.ndarray, m: np.ndarray, r: np.ndarray, stratum_sizes: Mapping[Any, float]
                   ) -> dict[str, Any]:
    """The stratum sizes keyed by text, after checking the sample's lengths and that every
    sampled stratum has a size that is a finite, non-negative number."""
    if not (len(s) == len(m) == len(r)):
        raise ConfigError(f"strata, map classes and reference classes differ in length ({len(s)}, {len(m)}, {len(r)})")
    if not len(s):
        raise ConfigError("no reference samples")
    sizes_in = {str(k): v for k, v in stratum_sizes.items()}
    missing = sorted(set(s.tolist()) - set(sizes_in))
    if missing:
        raise ConfigError(f"stratum sizes missing for sampled strata: {', '.join(missing[:10])}")
    for k, v in sizes_in.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ConfigError(f"stratum {k!r}: size must be a number, got {v!r}") from None
        if not math.isfinite(f) or f < 0:
            raise ConfigError(f"stratum {k!r}: size must be finite and non-negative, got {v!r}")
    return sizes_in


def _fpc(sampled: list[str], sizes: np.ndarray, n_h: np.ndarray, unit_area: float | None) -> np.ndarray:
    """Finite population correction ``1 − n_h u / N_h`` of each sampled stratum (1 without
    ``unit_area``); a stratum cannot hold more units than its size."""
    if unit_area is None:
        return np.ones(len(sampled))
    if not (unit_area > 0 and math.isfinite(unit_area)):
        raise ConfigError(f"unit area must be positive, got {unit_area}")
    cap = sizes / unit_area
    over = [h for h, c, k in zip(sampled, cap, n_h) if k > c * (1 + 1e-9)]
    if over:
        raise ConfigError(f"strata with more sample units than their size holds: {', '.join(over[:10])}")
    return np.clip(1.0 - n_h * unit_area / np.where(sizes > 0, sizes, 1.0), 0.0, 1.0)


def _area_covariance(ind: list[np.ndarray], groups: list[np.ndarray], sizes: np.ndarray, fpc: np.ndarray
                     ) -> np.ndarray:
    """Covariance of the class areas: Σ_h N_h² (1 − n_h/N_h) s_jk,h / n_h of the reference
    indicators ``ind`` (one per class)."""
    k = len(ind)
    n_units = np.array([len(g) for g in groups], dtype=np.float64)
    area_cov = np.zeros((k, k))
    for j in range(k):
        for q in range(j, k):
            cjq = _stratum_moments(ind[j], ind[q], groups)[:, 4]
            area_cov[j, q] = area_cov[q, j] = float(np.sum(sizes ** 2 * fpc * cjq / n_units))
    return area_cov
