"""Monte Carlo uncertainty of carbon stocks and sinks.

The simulation works on per-class totals, never on rasters: a stock is
``Σ_k area_k × density_kp`` and a sink is a function of the transition matrix and
the densities (:mod:`sinks.carbon.sink`), so 10 000 draws over a table of tens of
classes take milliseconds.

Distributions (documented choices)
----------------------------------
Densities and growth coefficients (``distribution="ci"``, the default)
    A ``low``–``high`` range is a central confidence interval at a stated level (the
    table's per-cell ``levels``, 0.95 unless stated; a
    :class:`~sinks.carbon.growth.Coefficient`'s ``level``).  The distribution is fitted
    to it: a **normal** with mean ``central`` and ``sd = (high − low) / (2 z)``
    (``z`` the normal quantile of the level) when the range is symmetric about the
    central value (within 10 % of its width), truncated at 0 for densities (by inverse
    CDF); otherwise a **lognormal** whose quantiles at the level are ``low`` and
    ``high`` (``ln`` mean and sd from ``ln low``, ``ln high``), or the truncated normal
    when ``low`` is 0.  A zero-width range, or a coefficient without a level, is drawn
    as its central value; the sink's result lists such inputs (``without_range``).
    ``"triangular"``, ``"pert"`` and ``"uniform"`` shape the draws between ``low`` and
    ``high`` instead (kept for comparison; they do not read the range as an interval).
Growth coefficients
    Of the gain–loss sink (:mod:`sinks.carbon.growth`): the net stock change of
    persistent forest (gross increment − removals − mortality) is drawn as one quantity
    (the inventories measure the balance; drawing the gross increment and the removals
    apart would add a spread no source supports), times an independent draw of the
    marginal carbon per m³; the young-stand rate of new forest is drawn on its own.
Correlation
    Draws come from standard normal deviates shared within groups: the cells of a table
    with the same correlation label (e.g. the soil of every class taken from one IPCC
    SOC_ref), and, with ``pool_correlation="biomass"`` (default), the above- and
    below-ground biomass of one class (they are split from one total); ``"class"``
    shares one deviate among all four pools of a class, ``"none"`` only the labels.
    The same draw of a class's density is used in both epochs of a sink (the
    coefficient is uncertain, not the change of it).
Areas (optional)
    Class-area standard errors: normal truncated at 0 (inverse CDF).  Transition areas:
    independent truncated normals from ``transition_se_ha``, or a multivariate normal
    with the full covariance ``transition_cov_ha2`` (negative draws set to 0).  When a
    reference sample exists, :func:`adjusted_transitions` rakes the mapped transition
    matrix to the error-adjusted class areas of both epochs (the simulation is centred
    on them) and draws those class areas from their Olofsson covariance.

Intervals are the equal-tailed percentiles of the draws (``level=0.95`` → 2.5 % and
97.5 %).  The ``central`` value reported is the deterministic estimate from the
central coefficients (a lognormal's median is not its central value, so the interval
need not be centred on it).  The generator is ``numpy.random.default_rng(seed)``: the
same seed gives the same intervals.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from .carbon import (
    CO2_PER_C,  # through the package: keeps sinks.carbon.sink the function
)
from .carbon.stock import ClassAreas
from .carbon.tables import POOLS, CarbonTable
from .errors import CoefficientError, ConfigError
from .landcover import NAMES

__all__ = ["Interval", "UncertaintyResult", "monte_carlo", "sample_densities", "sample_range", "sample_fitted",
           "standard_normals", "truncated_normal", "multivariate_areas", "olofsson_area_cov", "rake",
           "RakeStatus", "adjusted_transitions"]

log = logging.getLogger("sinks")

#: How a coefficient's range is drawn (``ci``: normal or lognormal fitted to its stated interval).
Distribution = Literal["ci", "triangular", "pert", "uniform"]
#: Which pools of one class share their deviate.
PoolCorrelation = Literal["biomass", "class", "none"]

_SYMMETRY_TOLERANCE = 0.10


class Interval(BaseModel):
    """A Monte Carlo summary: deterministic central value, mean and the interval bounds."""

    model_config = ConfigDict(frozen=True)

    central: float
    mean: float
    low: float
    high: float


class UncertaintyResult(BaseModel):
    """Monte Carlo intervals; keys carry units (Mg C, Mg C/yr, t CO₂e/yr)."""

    model_config = ConfigDict(frozen=True)

    draws: int
    seed: int | None
    distribution: str
    level: float
    stock_mg_c: dict[str, Interval] | None = None
    stock_mg_c_alternate: dict[str, Interval] | None = None
    sink_mg_c_per_yr: Interval | None = None
    stock_difference_mg_c_per_yr: Interval | None = None
    net_emissions_tco2e_per_yr: Interval | None = None
    area_uncertainty: bool = False
    without_range: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


# --------------------------------------------------------------------------------------
# samplers
# --------------------------------------------------------------------------------------
def sample_range(u: np.ndarray, low: np.ndarray, mode: np.ndarray, high: np.ndarray, *,
                 distribution: Distribution = "triangular", rng: np.random.Generator | None = None) -> np.ndarray:
    """Transform uniforms ``u`` (or, for PERT, draw with ``rng``) into a range-shaped distribution.

    Broadcasts ``low``/``mode``/``high`` against ``u``; zero-width ranges give ``mode``.
    These shapes do not read the range as a confidence interval (see :func:`sample_fitted`).
    """
    low, mode, high = (np.asarray(a, dtype=np.float64) for a in (low, mode, high))
    width = high - low
    zero = width <= 0
    safe = np.where(zero, 1.0, width)
    if distribution == "uniform":
        out = low + u * width
    elif distribution == "triangular":
        fc = (mode - low) / safe
        left = low + np.sqrt(u * safe * (mode - low))
        right = high - np.sqrt((1.0 - u) * safe * (high - mode))
        out = np.where(u < fc, left, right)
    elif distribution == "pert":
        if rng is None:
            raise ConfigError("the PERT distribution needs a random generator")
        alpha = 1.0 + 4.0 * (mode - low) / safe
        beta = 1.0 + 4.0 * (high - mode) / safe
        out = low + width * rng.beta(np.broadcast_to(alpha, u.shape), np.broadcast_to(beta, u.shape))
    else:
        raise ConfigError(f"unknown distribution {distribution!r}; use ci, triangular, pert or uniform")
    return np.where(zero, mode, out)


def sample_fitted(z: np.ndarray, central: Any, low: Any, high: Any, level: Any, *,
                  nonnegative: bool = True) -> np.ndarray:
    """Values from standard normal deviates ``z``, by a normal or lognormal fitted to a CI.

    ``low``–``high`` is the central interval at ``level`` (module docstring).  All
    arguments broadcast against ``z``; cells with a zero-width range or a ``level`` of
    NaN give ``central``.
    """
    from scipy.special import ndtr, ndtri

    c, lo, hi, lv = (np.asarray(a, dtype=np.float64) for a in (central, low, high, level))
    width = hi - lo
    point = ~(width > 0) | ~np.isfinite(lv)
    q = ndtri((1.0 + np.where(point, 0.95, lv)) / 2.0)
    safe_w = np.where(point, 1.0, width)
    symmetric = np.abs((hi - c) - (c - lo)) <= _SYMMETRY_TOLERANCE * safe_w
    logn = ~symmetric & (lo > 0)
    sd = safe_w / (2.0 * q)
    if nonnegative:
        p0 = ndtr(-c / sd)
        normal = c + sd * ndtri(np.clip(p0 + ndtr(z) * (1.0 - p0), 1e-300, 1.0 - 1e-16))
        normal = np.maximum(normal, 0.0)
    else:
        normal = c + sd * z
    lo_s, hi_s = np.where(logn, lo, 1.0), np.where(logn, hi, np.e)
    mu = (np.log(lo_s) + np.log(hi_s)) / 2.0
    sig = (np.log(hi_s) - np.log(lo_s)) / (2.0 * q)
    lognormal = np.exp(mu + sig * z)
    out = np.where(logn, lognormal, normal)
    return np.where(point, np.broadcast_to(c, out.shape), out)


def standard_normals(rng: np.random.Generator, draws: int, labels: Sequence[Sequence[str]]) -> np.ndarray:
    """Standard normal deviates ``(draws, K, P)``; cells with the same non-empty label share one."""
    flat = [lab for row in labels for lab in row]
    cols: dict[str, int] = {}
    idx = np.empty(len(flat), dtype=np.int64)
    n = 0
    for i, lab in enumerate(flat):
        if lab:
            if lab not in cols:
                cols[lab] = n
                n += 1
            idx[i] = cols[lab]
        else:
            idx[i] = n
            n += 1
    z = rng.standard_normal((draws, n))
    k = len(labels)
    return z[:, idx].reshape(draws, k, len(flat) // max(k, 1))


def _cell_labels(table: CarbonTable, codes: Sequence[int], correlation: str) -> list[list[str]]:
    if correlation not in ("biomass", "class", "none"):
        raise ConfigError(f"pool_correlation must be biomass, class or none, got {correlation!r}")
    labels = []
    groups = table.group_labels()
    for code in codes:
        row = list(groups[table.index_of(code)]) if code in table else [""] * len(POOLS)
        for p, pool in enumerate(POOLS):
            if row[p]:
                continue
            if correlation == "class" or (correlation == "biomass" and pool in ("above", "below")):
                row[p] = f"class{code}:{'all' if correlation == 'class' else 'biomass'}"
        labels.append(row)
    return labels


def sample_densities(table: CarbonTable, codes: Sequence[int], *, draws: int, rng: np.random.Generator,
                     distribution: Distribution = "ci", missing: str = "error",
                     pool_correlation: PoolCorrelation = "biomass") -> np.ndarray:
    """Densities ``(draws, K, 4)`` (Mg C/ha) for ``codes`` in :data:`POOLS` order.

    The result is read-only: repeated calls with the same ranges and generator state
    return the same array from a small cache, and advance ``rng`` as sampling would.
    """
    k = len(codes)
    lo, c, hi = (np.zeros((k, len(POOLS))) for _ in range(3))
    lv = np.full((k, len(POOLS)), np.nan)
    miss = []
    levels = table.level_array()
    for i, code in enumerate(codes):
        if code in table:
            j = table.index_of(code)
            lo[i], c[i], hi[i], lv[i] = table.low[j], table.central[j], table.high[j], levels[j]
        else:
            miss.append(code)
    if miss and missing == "error":
        raise CoefficientError(f"land-cover codes missing from the carbon table {table.label}: "
                               f"{', '.join(map(str, miss))}; add them or pass missing='zero'")
    labels = _cell_labels(table, codes, pool_correlation)
    key = (lo.tobytes(), c.tobytes(), hi.tobytes(), lv.tobytes(), repr(labels), draws, distribution,
           repr(rng.bit_generator.state))
    with _CACHE_LOCK:
        hit = _DENSITY_CACHE.get(key)
        if hit is not None:
            _DENSITY_CACHE.move_to_end(key)
    if hit is not None:  # the same draws again: skip the sampling, leave the generator where it would be
        dens, after = hit
        rng.bit_generator.state = after
        return dens
    z = standard_normals(rng, draws, labels)
    if distribution == "ci":
        dens = sample_fitted(z, c, lo, hi, lv, nonnegative=True)
    else:
        from scipy.special import ndtr

        dens = sample_range(ndtr(z), lo, c, hi, distribution=distribution, rng=rng)
    dens = np.ascontiguousarray(dens)
    dens.setflags(write=False)
    if dens.nbytes <= _CACHE_BYTES // 8:
        with _CACHE_LOCK:
            _DENSITY_CACHE[key] = (dens, rng.bit_generator.state)
            while sum(d.nbytes for d, _ in _DENSITY_CACHE.values()) > _CACHE_BYTES:
                _DENSITY_CACHE.popitem(last=False)
    return dens


# Density draws are a pure function of the ranges, the draw count, the distribution and
# the generator's state, and every region of a batch (every polygon of an indicator
# table) asks for the same ones: keep the last few, at most _CACHE_BYTES in all.
_CACHE_BYTES = 32 * 2**20
_CACHE_LOCK = threading.Lock()
_DENSITY_CACHE: OrderedDict[tuple, tuple[np.ndarray, dict]] = OrderedDict()


def sample_coefficient(coef: Any, *, draws: int, rng: np.random.Generator, distribution: Distribution = "ci",
                       nonnegative: bool = False) -> np.ndarray:
    """Draws ``(draws,)`` of a :class:`~sinks.carbon.growth.Coefficient` (its central value
    when it has no range)."""
    z = rng.standard_normal(draws)
    if not coef.has_range:
        return np.full(draws, coef.central)
    if distribution == "ci":
        return sample_fitted(z, coef.central, coef.low, coef.high, coef.level, nonnegative=nonnegative)
    from scipy.special import ndtr

    return sample_range(ndtr(z), coef.low, coef.central, coef.high, distribution=distribution, rng=rng)


def truncated_normal(mean: np.ndarray, se: np.ndarray, *, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Normal(mean, se) truncated at 0, by inverse CDF; ``se = 0`` gives ``mean``."""
    from scipy.special import ndtr, ndtri

    mean = np.asarray(mean, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    if np.any(se < 0) or not np.all(np.isfinite(se)):
        raise ConfigError("area standard errors must be finite and non-negative")
    safe = np.where(se > 0, se, 1.0)
    p0 = ndtr((0.0 - mean) / safe)  # mass below zero
    u = rng.random(size)
    x = mean + safe * ndtri(p0 + u * (1.0 - p0))
    x = np.where(se > 0, np.maximum(x, 0.0), mean)
    return x


def multivariate_areas(mean: np.ndarray, cov: np.ndarray, *, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Draws ``(draws, *mean.shape)`` of areas from a multivariate normal with covariance
    ``cov`` over the flattened ``mean``; negative draws are set to 0."""
    m = np.asarray(mean, dtype=np.float64)
    c = np.asarray(cov, dtype=np.float64)
    n = m.size
    if c.shape != (n, n):
        raise ConfigError(f"area covariance must have shape {(n, n)}, got {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ConfigError("area covariance must be finite")
    c = (c + c.T) / 2.0
    w, v = np.linalg.eigh(c)
    if w.min(initial=0.0) < -1e-9 * max(abs(w).max(initial=0.0), 1.0):
        raise ConfigError("area covariance is not positive semi-definite")
    root = v * np.sqrt(np.clip(w, 0.0, None))
    x = m.ravel()[None, :] + rng.standard_normal((draws, n)) @ root.T
    return np.maximum(x, 0.0).reshape(draws, *m.shape)


def olofsson_area_cov(counts: np.ndarray, mapped_area_ha: np.ndarray) -> np.ndarray:
    """Covariance (ha²) of the error-adjusted class areas of a sample stratified by map class.

    With ``W_i = A_i / A``, ``p_ij = n_ij / n_i·``:
    ``Cov(Â_j, Â_k) = A² Σ_i W_i² (δ_jk p_ij − p_ij p_ik) / (n_i· − 1)`` (the diagonal is
    Olofsson et al. 2014's variance; strata without two samples add nothing).
    """
    n = np.asarray(counts, dtype=np.float64)
    a = np.asarray(mapped_area_ha, dtype=np.float64)
    tot = a.sum()
    ni = n.sum(axis=1)
    ok = ni > 1
    p = np.divide(n, ni[:, None], out=np.zeros_like(n), where=ni[:, None] > 0)
    w = a / tot if tot > 0 else np.zeros_like(a)
    cov = np.zeros((n.shape[1], n.shape[1]))
    for i in np.flatnonzero(ok):
        cov += w[i] ** 2 * (np.diag(p[i]) - np.outer(p[i], p[i])) / (ni[i] - 1)
    return tot ** 2 * cov


#: Matrices a thread fits together in :func:`rake`: a slice small enough to stay in the
#: processor's level-1 data cache with its sums (8 × 8 classes × 64 matrices × 8 bytes =
#: 32 KiB); 10,000 draws of 8 classes rake 15 % faster than in slices of 128.
RAKE_SLICE = 64


@dataclass(frozen=True)
class RakeStatus:
    """How a :func:`rake` ended: ``iterations`` run, the largest ``|factor - 1|`` of the
    last one over every row and column of every matrix, and whether that is within the
    tolerance (the fitted sums then match the targets)."""

    iterations: int
    max_factor_error: float
    converged: bool


def rake(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray, *, iterations: int = 1000,
         tol: float = 1e-10, threads: int = 2, full_output: bool = False) -> Any:
    """Iterative proportional fitting of ``matrix`` (``(..., K, K)``) to row and column sums.

    Cells that are zero stay zero; a target row or column whose cells are all zero is
    left unmatched.  ``rows``/``cols`` broadcast over the leading dimensions; all the
    matrices are fitted together and stop together, when every row and column factor of
    every matrix is within ``tol`` of 1 (or after ``iterations``).

    The matrices are held with the leading dimensions last, so each of the ``K × K``
    cells of all of them is one contiguous vector, and fitted a slice of
    :data:`RAKE_SLICE` matrices at a time by a compiled kernel
    (:func:`sinks._kernels.rake.rake_steps`), on up to ``threads`` threads; the slices
    are kept in step so that all the matrices stop at the same iteration.  The sums add
    in the order ``numpy.sum`` does (pairwise over a row's cells, in row order over a
    column's), so the result equals, to the bit, the plain formulation
    ``x *= rows / x.sum(-1); x *= cols / x.sum(-2)``.

    With ``full_output`` returns ``(fitted, RakeStatus)``: targets that the matrix's zero
    cells cannot reach stop at ``iterations`` with the sums matched only to
    ``max_factor_error``.
    """
    from concurrent.futures import ThreadPoolExecutor

    from ._kernels.rake import rake_steps

    x = np.asarray(matrix, dtype=np.float64)
    rows = np.asarray(rows, dtype=np.float64)
    cols = np.asarray(cols, dtype=np.float64)
    shape = np.broadcast_shapes(x.shape, rows.shape[:-1] + x.shape[-2:], cols.shape[:-1] + x.shape[-2:])
    k, lead = shape[-1], shape[:-2]
    n = math.prod(lead)
    if k > 128:
        raise ValueError("rake: more than 128 classes")
    y = np.moveaxis(np.broadcast_to(x, shape).reshape(n, k, k), 0, -1)  # (K, K, n), a view
    r = np.broadcast_to(rows, lead + (k,)).reshape(n, k).T
    c = np.broadcast_to(cols, lead + (k,)).reshape(n, k).T
    cuts = list(range(0, n, RAKE_SLICE)) + [n]
    # copies (fitted in place), contiguous slices of the matrices and their targets; the
    # targets copied too, writeable like the matrices: a read-only view (of broadcast
    # targets) is another type to numba, whose kernel the install step has not compiled
    parts = [(np.array(y[..., a:b], order="C"), np.array(r[:, a:b], order="C"), np.array(c[:, a:b], order="C"))
             for a, b in zip(cuts[:-1], cuts[1:])]
    workers = max(1, min(threads, len(parts)))

    def advance(steps: Sequence[int], stop: bool) -> list[tuple[int, float]]:
        """Run slice ``i`` for up to ``steps[i]`` iterations (stopping early with ``stop``)."""
        def one(i: int) -> tuple[int, float]:
            y_, r_, c_ = parts[i]
            return rake_steps(y_, r_, c_, steps[i], tol, stop)
        if workers == 1:
            return [one(i) for i in range(len(parts))]
        with ThreadPoolExecutor(workers) as ex:
            return list(ex.map(one, range(len(parts))))

    # each slice runs until its own factors are within tol (numpy's loop stops at the first
    # iteration where those of all the matrices are, which cannot come before the last
    # slice's); the slices that stopped early catch up with the last, then all go on in
    # step until the stop holds for all of them at once
    first = advance([iterations] * len(parts), True)
    at = max((t for t, _e in first), default=iterations)
    behind = advance([at - t for t, _e in first], False)
    errs = [e if t == at else e2 for (t, e), (_t2, e2) in zip(first, behind)]
    while at < iterations and not _all_within(errs, tol):
        errs = [e for _t, e in advance([1] * len(parts), False)]
        at += 1
    out = np.concatenate([p[0] for p in parts], axis=-1) if parts else np.empty((k, k, 0))
    # C order, as the plain formulation returns it: reductions over the result (the sink's
    # draws) then add in the same order too
    fitted = np.ascontiguousarray(np.moveaxis(out, -1, 0).reshape(shape))
    if not full_output:
        return fitted
    worst = (math.nan if any(e != e for e in errs) else max(errs)) if errs else 0.0
    return fitted, RakeStatus(int(at), float(worst), bool(_all_within(errs, tol)) or not errs)


def _all_within(errs: Sequence[float], tol: float) -> bool:
    """Whether the largest factor error over all slices is below ``tol`` (as numpy's
    ``max`` over the whole set would find it: a NaN anywhere fails)."""
    return bool(errs) and not any(e != e for e in errs) and max(errs) < tol


def adjusted_transitions(transitions: Any, accuracy_from: Any, accuracy_to: Any, *, draws: int = 0,
                         rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Transition areas centred on the error-adjusted class areas of both epochs.

    The mapped matrix is raked (:func:`rake`) to the adjusted areas of each epoch
    (scaled to the matrix's total); with ``draws`` the adjusted areas are drawn from
    their covariance (``area_cov_ha2`` of the accuracy result if it has one, else the
    Olofsson covariance of its counts) and the matrix is raked to each draw.

    Returns
    -------
    (central (K, K), draws (draws, K, K) or None, notes)
    """
    codes = list(transitions.codes)
    names = [NAMES.get(c, str(c)) for c in codes]
    notes: list[str] = []

    def margins(res: Any) -> tuple[np.ndarray, np.ndarray]:
        cls = list(res.classes)
        area = np.array([float(res.area_ha[cls.index(n)]) if n in cls else math.nan for n in names])
        if not np.isfinite(area).any():  # the estimator withheld its areas: the mapped ones, no area error
            notes.append("error-adjusted areas withheld by the accuracy assessment: mapped areas used")
            return area, np.zeros((len(codes), len(codes)))
        cov_full = getattr(res, "area_cov_ha2", None)
        if cov_full is None:
            cov_full = olofsson_area_cov(res.counts, res.mapped_area_ha)
        cov_full = np.asarray(cov_full, dtype=np.float64)
        ix = [cls.index(n) if n in cls else -1 for n in names]
        cov = np.zeros((len(codes), len(codes)))
        for a, ia in enumerate(ix):
            for b, ib in enumerate(ix):
                if ia >= 0 and ib >= 0:
                    cov[a, b] = cov_full[ia, ib]
        return area, np.nan_to_num(cov)

    total = transitions.total_ha
    r_c, r_cov = margins(accuracy_from)
    c_c, c_cov = margins(accuracy_to)
    mapped_r, mapped_c = transitions.from_ha, transitions.to_ha
    r_c = np.where(np.isfinite(r_c), r_c, mapped_r)
    c_c = np.where(np.isfinite(c_c), c_c, mapped_c)
    fr, fc = total / r_c.sum(), total / c_c.sum()
    central, status = rake(transitions.area_ha, r_c * fr, c_c * fc, full_output=True)
    _rake_note(notes, status, "the central areas")
    if draws <= 0:
        return central, None, notes
    assert rng is not None
    rd = multivariate_areas(r_c * fr, r_cov * fr ** 2, draws=draws, rng=rng)
    cd = multivariate_areas(c_c * fc, c_cov * fc ** 2, draws=draws, rng=rng)
    cd *= (rd.sum(axis=1) / np.where(cd.sum(axis=1) > 0, cd.sum(axis=1), 1.0))[:, None]
    fitted, status = rake(transitions.area_ha[None], rd, cd, full_output=True)
    _rake_note(notes, status, f"the {draws:,} drawn areas")
    return central, fitted, notes


def _rake_note(notes: list[str], status: RakeStatus, what: str) -> None:
    """Say so in ``notes`` when the raking to ``what`` stopped before the sums matched."""
    if not status.converged:
        notes.append(f"raking to {what} stopped at its limit of {status.iterations:,} iterations with the row "
                     f"and column sums within {status.max_factor_error:.1e} (relative) of their targets")


def _interval(samples: np.ndarray, central: float, level: float) -> Interval:
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(samples, [a, 1.0 - a])
    return Interval(central=float(central), mean=float(np.mean(samples)), low=float(lo), high=float(hi))


# --------------------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------------------
def _areas(areas: ClassAreas | Mapping[int, float]) -> tuple[list[int], np.ndarray]:
    if isinstance(areas, ClassAreas):
        return [int(c) for c in areas.codes], np.asarray(areas.area_ha, dtype=np.float64)
    codes = sorted(int(c) for c in areas)
    return codes, np.array([float(areas[c]) for c in codes], dtype=np.float64)


def _se_vector(codes: Sequence[int], se: Mapping[Any, float] | None) -> np.ndarray | None:
    if se is None:
        return None
    from .carbon.sink import _code_of

    out = np.zeros(len(codes))
    lookup = {_code_of(k): float(v) for k, v in se.items()}
    for i, c in enumerate(codes):
        out[i] = lookup.get(c, 0.0)
    return out


def monte_carlo(table: CarbonTable, *, areas_ha: ClassAreas | Mapping[int, float] | None = None,
                area_se_ha: Mapping[Any, float] | None = None,
                alternate_areas_ha: ClassAreas | Mapping[int, float] | None = None,
                alternate_area_se_ha: Mapping[Any, float] | None = None,
                transitions: Any = None, transition_se_ha: np.ndarray | None = None,
                transition_cov_ha2: np.ndarray | None = None, years: float | None = None,
                draws: int = 10_000, seed: int | None = 20261122, distribution: Distribution = "ci",
                level: float = 0.95, missing: str = "error", pool_correlation: PoolCorrelation = "biomass",
                **sink_options: Any) -> UncertaintyResult:
    """Monte Carlo intervals of stock totals and of the sink.

    Parameters
    ----------
    table : CarbonTable
        Densities with ``low``/``central``/``high`` ranges (and their ``levels``).
    areas_ha : ClassAreas or mapping, optional
        Class areas of the (baseline) map → interval of the stock per pool and total.
    area_se_ha : mapping, optional
        Standard error (ha) per class (code or legend name) of ``areas_ha``, e.g. from
        Olofsson estimates (95 % CI half-width / 1.96).
    alternate_areas_ha, alternate_area_se_ha : optional
        The same for a second map (→ ``stock_mg_c_alternate``).
    transitions : TransitionMatrix, optional
        With ``years``: interval of the sink (:func:`sinks.carbon.sink.sink`, which runs
        the simulation; ``sink_options`` are passed on, e.g. ``method``, ``growth``,
        ``growth_mg_c_per_ha_yr``, ``growth_range``, ``soil_unchanged_into``).
    transition_se_ha, transition_cov_ha2 : numpy.ndarray, optional
        ``(K, K)`` standard errors, or the ``(K², K²)`` covariance, of the transition areas.
    draws : int
    seed : int or None
    distribution : {"ci", "triangular", "pert", "uniform"}
    level : float
        Interval probability (0.95).
    missing : {"error", "zero"}
    pool_correlation : {"biomass", "class", "none"}

    Returns
    -------
    UncertaintyResult
    """
    if draws < 1:
        raise ConfigError(f"draws must be positive, got {draws}")
    if not 0 < level < 1:
        raise ConfigError(f"level must be between 0 and 1, got {level}")
    rng = np.random.default_rng(seed)
    result: dict[str, Any] = {}

    def stocks(areas: Any, se: Any) -> dict[str, Interval]:
        codes, a = _areas(areas)
        dens = sample_densities(table, codes, draws=draws, rng=rng, distribution=distribution, missing=missing,
                                pool_correlation=pool_correlation)
        sev = _se_vector(codes, se)
        a_draw = a[None, :] if sev is None else truncated_normal(a, sev, size=(draws, len(codes)), rng=rng)
        per_pool = (a_draw[:, None, :] @ dens)[:, 0, :]  # (draws or 1, 1, K) @ (draws, K, 4)
        cen = np.zeros(len(POOLS))
        for i, c in enumerate(codes):
            if c in table:
                cen += a[i] * table.central[table.index_of(c)]
        out = {"total": _interval(per_pool.sum(axis=1), math.fsum(cen), level)}
        for p, pool in enumerate(POOLS):
            out[pool] = _interval(per_pool[:, p], cen[p], level)
        return out

    if areas_ha is not None:
        result["stock_mg_c"] = stocks(areas_ha, area_se_ha)
    if alternate_areas_ha is not None:
        result["stock_mg_c_alternate"] = stocks(alternate_areas_ha, alternate_area_se_ha)
    if transitions is not None:
        if years is None:
            raise ConfigError("the sink needs the period length (years)")
        from .carbon.sink import sink as _sink

        s = _sink(transitions, table, years=years, missing=missing, draws=draws, level=level, rng=rng,
                  distribution=distribution, pool_correlation=pool_correlation, transition_se_ha=transition_se_ha,
                  transition_cov_ha2=transition_cov_ha2, **sink_options)
        iv = s.interval or {}
        result["sink_mg_c_per_yr"] = Interval(central=s.sink_mg_c_per_yr, mean=iv["mean"], low=iv["low"],
                                              high=iv["high"])
        sd = s.methods["stock-difference"]
        result["stock_difference_mg_c_per_yr"] = Interval(central=sd["sink_mg_c_per_yr"], mean=sd["mean"],
                                                          low=sd["low"], high=sd["high"])
        result["net_emissions_tco2e_per_yr"] = Interval(
            central=s.net_emissions_tco2e_per_yr, mean=-iv["mean"] * CO2_PER_C, low=-iv["high"] * CO2_PER_C,
            high=-iv["low"] * CO2_PER_C)
        result["without_range"] = list(s.without_range)
    if not result:
        raise ConfigError("monte_carlo needs areas_ha and/or transitions")
    return UncertaintyResult(draws=draws, seed=seed, distribution=distribution, level=level,
                             area_uncertainty=any(x is not None for x in (area_se_ha, alternate_area_se_ha,
                                                                           transition_se_ha, transition_cov_ha2)),
                             **result)
