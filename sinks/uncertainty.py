"""Monte Carlo uncertainty of carbon stocks and sinks.

The simulation works on per-class totals, never on rasters: a stock is
``Σ_k area_k × density_kp`` and a sink is a function of the transition matrix and
the densities (:mod:`sinks.carbon.sink`), so 10 000 draws over a table of tens of
classes take milliseconds.

Distributions (documented choices)
----------------------------------
Densities
    One draw per class and pool per iteration, independent across cells, from the
    table's ``(low, central, high)`` range:

    * ``"triangular"`` (default): triangular with mode ``central`` on ``[low, high]``;
    * ``"pert"``: Beta-PERT, ``low + (high − low) × Beta(α, β)`` with
      ``α = 1 + 4 (central − low)/(high − low)``, ``β = 1 + 4 (high − central)/(high − low)``
      (mean ``(low + 4·central + high)/6``);
    * ``"uniform"``: uniform on ``[low, high]``.

    A zero-width range (``low = high``) always gives the central value.  The same
    draw of a class's density is used in both epochs of a sink (the coefficient is
    uncertain, not the change of it).
Areas (optional)
    Olofsson et al. (2014) area estimates with standard errors: normal with mean the
    estimate and the given SE, **truncated at 0** (sampled by inverse CDF, so no
    mass piles up at zero).  An SE of 0 keeps the area fixed.
Gain rate (optional)
    ``growth_range=(low, high)``: the persistent-forest gain rate drawn with the same
    distribution as the densities.

Intervals are the equal-tailed percentiles of the draws (``level=0.95`` → 2.5 % and
97.5 %).  The ``central`` value reported is the deterministic estimate from the
central coefficients, which lies inside the interval except for pathological ranges.
The generator is ``numpy.random.default_rng(seed)``: the same seed gives the same
intervals.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from typing import Any, Literal, Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from .carbon.sink import (
    CO2_PER_C,
    DEFAULT_GROWTH_MG_C_PER_HA_YR,
    SOIL_TRANSITION_YEARS,
    TransitionMatrix,
    _code_of,
    _sink_core,
    growth_vector,
)
from .carbon.stock import ClassAreas
from .carbon.tables import POOLS, CarbonTable
from .errors import CoefficientError, ConfigError

__all__ = ["Interval", "UncertaintyResult", "monte_carlo", "sample_densities", "sample_range",
           "truncated_normal"]

log = logging.getLogger("sinks")

Distribution = Literal["triangular", "pert", "uniform"]


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

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


# --------------------------------------------------------------------------------------
# samplers
# --------------------------------------------------------------------------------------
def sample_range(u: np.ndarray, low: np.ndarray, mode: np.ndarray, high: np.ndarray, *,
                 distribution: Distribution = "triangular", rng: np.random.Generator | None = None) -> np.ndarray:
    """Transform uniforms ``u`` (or, for PERT, draw with ``rng``) into the chosen distribution.

    Broadcasts ``low``/``mode``/``high`` against ``u``; zero-width ranges give ``mode``.
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
        raise ConfigError(f"unknown distribution {distribution!r}; use triangular, pert or uniform")
    return np.where(zero, mode, out)


def sample_densities(table: CarbonTable, codes: Sequence[int], *, draws: int, rng: np.random.Generator,
                     distribution: Distribution = "triangular", missing: str = "error") -> np.ndarray:
    """Densities ``(draws, K, 4)`` (Mg C/ha) for ``codes`` in :data:`POOLS` order.

    The result is read-only: repeated calls with the same ranges and generator state
    return the same array from a small cache, and advance ``rng`` as sampling would.
    """
    k = len(codes)
    lo, c, hi = (np.zeros((k, len(POOLS))) for _ in range(3))
    miss = []
    for i, code in enumerate(codes):
        if code in table:
            j = table.index_of(code)
            lo[i], c[i], hi[i] = table.low[j], table.central[j], table.high[j]
        else:
            miss.append(code)
    if miss and missing == "error":
        raise CoefficientError(f"land-cover codes missing from the carbon table {table.label}: "
                               f"{', '.join(map(str, miss))}; add them or pass missing='zero'")
    key = (lo.tobytes(), c.tobytes(), hi.tobytes(), draws, distribution, repr(rng.bit_generator.state))
    with _CACHE_LOCK:
        hit = _DENSITY_CACHE.get(key)
        if hit is not None:
            _DENSITY_CACHE.move_to_end(key)
    if hit is not None:  # the same draws again: skip the sampling, leave the generator where it would be
        dens, after = hit
        rng.bit_generator.state = after
        return dens
    u = rng.random((draws, k, len(POOLS)))
    dens = sample_range(u, lo, c, hi, distribution=distribution, rng=rng)
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
    out = np.zeros(len(codes))
    lookup = {_code_of(k): float(v) for k, v in se.items()}
    for i, c in enumerate(codes):
        out[i] = lookup.get(c, 0.0)
    return out


def monte_carlo(table: CarbonTable, *, areas_ha: ClassAreas | Mapping[int, float] | None = None,
                area_se_ha: Mapping[Any, float] | None = None,
                alternate_areas_ha: ClassAreas | Mapping[int, float] | None = None,
                alternate_area_se_ha: Mapping[Any, float] | None = None,
                transitions: TransitionMatrix | None = None, transition_se_ha: np.ndarray | None = None,
                years: float | None = None, soil_transition_years: float = SOIL_TRANSITION_YEARS,
                growth_mg_c_per_ha_yr: float | Mapping[str | int, float] = DEFAULT_GROWTH_MG_C_PER_HA_YR,
                growth_classes: Sequence[str | int] = ("forest",), growth_range: tuple[float, float] | None = None,
                soil_unchanged_into: Sequence[str | int] = (), draws: int = 10_000, seed: int | None = 20261122,
                distribution: Distribution = "triangular", level: float = 0.95,
                missing: str = "error") -> UncertaintyResult:
    """Monte Carlo intervals of stock totals and of the sink.

    Parameters
    ----------
    table : CarbonTable
        Densities with ``low``/``central``/``high`` ranges.
    areas_ha : ClassAreas or mapping, optional
        Class areas of the (baseline) map → interval of the stock per pool and total.
    area_se_ha : mapping, optional
        Standard error (ha) per class (code or legend name) of ``areas_ha``, e.g. from
        Olofsson estimates (95 % CI half-width / 1.96).
    alternate_areas_ha, alternate_area_se_ha : optional
        The same for a second map (→ ``stock_mg_c_alternate``).
    transitions : TransitionMatrix, optional
        With ``years``: interval of the sink (:func:`sinks.carbon.sink.sink` rules).
    transition_se_ha : numpy.ndarray, optional
        ``(K, K)`` standard errors of the transition areas.
    years, soil_transition_years, growth_mg_c_per_ha_yr, growth_classes, soil_unchanged_into
        As for :func:`sinks.carbon.sink.sink`.
    growth_range : (float, float), optional
        Range of the scalar gain rate (drawn like the densities).
    draws : int
    seed : int or None
    distribution : {"triangular", "pert", "uniform"}
    level : float
        Interval probability (0.95).
    missing : {"error", "zero"}

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
        dens = sample_densities(table, codes, draws=draws, rng=rng, distribution=distribution, missing=missing)
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
        from .carbon.sink import density_matrix, sink as _sink

        codes = list(transitions.codes)
        central = _sink(transitions, table, years=years, soil_transition_years=soil_transition_years,
                        growth_mg_c_per_ha_yr=growth_mg_c_per_ha_yr, growth_classes=growth_classes,
                        soil_unchanged_into=soil_unchanged_into, missing=missing)
        density_matrix(table, codes, missing=missing, label="sink")  # same error as the sink
        dens = sample_densities(table, codes, draws=draws, rng=rng, distribution=distribution, missing=missing)
        area = transitions.area_ha[None]
        if transition_se_ha is not None:
            se = np.asarray(transition_se_ha, dtype=np.float64)
            if se.shape != transitions.area_ha.shape:
                raise ConfigError(f"transition_se_ha must have shape {transitions.area_ha.shape}, got {se.shape}")
            area = truncated_normal(transitions.area_ha, se, size=(draws, *se.shape), rng=rng)
        g = growth_vector(codes, growth_mg_c_per_ha_yr, growth_classes)
        keep_codes = {_code_of(c) for c in soil_unchanged_into}
        keep = np.array([1.0 if c in keep_codes else 0.0 for c in codes])
        if growth_range is not None and not isinstance(growth_mg_c_per_ha_yr, Mapping):
            lo, hi = (float(v) for v in growth_range)
            mode = float(growth_mg_c_per_ha_yr)
            if not lo <= mode <= hi:
                raise ConfigError(f"growth_range {growth_range} must contain the rate {mode}")
            rate = sample_range(rng.random(draws), lo, mode, hi, distribution=distribution, rng=rng)
            scale = np.where(g > 0, 1.0, 0.0)
            r = _sink_core(area, dens, years=float(years), soil_years=float(soil_transition_years), growth=scale,
                           keep_soil=keep)
            gain = r["gain"] * rate
            sink_draws = r["stock_diff"] + gain
            stock_diff = r["stock_diff"]
        else:
            r = _sink_core(area, dens, years=float(years), soil_years=float(soil_transition_years), growth=g,
                           keep_soil=keep)
            sink_draws, stock_diff = r["sink"], r["stock_diff"]
        sink_draws = np.broadcast_to(sink_draws, (draws,))
        result["sink_mg_c_per_yr"] = _interval(sink_draws, central.sink_mg_c_per_yr, level)
        result["stock_difference_mg_c_per_yr"] = _interval(np.broadcast_to(stock_diff, (draws,)),
                                                           central.stock_difference_mg_c_per_yr["total"], level)
        result["net_emissions_tco2e_per_yr"] = _interval(-sink_draws * CO2_PER_C, central.net_emissions_tco2e_per_yr,
                                                         level)
    if not result:
        raise ConfigError("monte_carlo needs areas_ha and/or transitions")
    return UncertaintyResult(draws=draws, seed=seed, distribution=distribution, level=level,
                             area_uncertainty=any(x is not None for x in (area_se_ha, alternate_area_se_ha,
                                                                           transition_se_ha)), **result)
