"""Carbon sink between two land-cover epochs: transition matrix, gain–loss and stock difference.

Method (IPCC 2006 Vol.4 Ch.2 and Ch.4, domain.md §2 and §6)
-----------------------------------------------------------
With ``A_ij`` the area (ha) of class ``i`` at ``t1`` that is class ``j`` at ``t2``
(pixels valid in both maps), per-class densities ``D_kp`` (Mg C/ha, pools ``above``,
``below``, ``soil``, ``dead``), ``B = above + below`` and ``T = t2 − t1`` years.
Conversions are dated to the start of the period.

``method="gain-loss"`` (default; Eq. 2.4)
    * **Forest remaining forest** gains its net biomass increment:
      ``A_ff × N_V × c_m`` per year (gross increment − removals − mortality, by the
      marginal carbon per m³; :mod:`sinks.carbon.growth`, default row
      ``national_8th_9th_nfi``: 0.751 Mg C/ha/yr); reported as gross gain, losses and
      net.  Dead organic matter and soil of forest remaining forest: no change (Tier 1).
    * **Land converted to forest** loses the biomass it had at once and grows at the
      young-stand rate ``g_y`` (0.929 Mg C/ha/yr): ``min(g_y × T, B_forest)`` by ``t2``;
      dead wood and litter move to the forest's density linearly over 20 years
      (``× min(T, 20)/20``); soil as below.
    * **Forest lost** and every other conversion: biomass and DOM change at once to the
      new class's density (forest lost emits its biomass at once); soil as below.
    * Soil organic carbon moves to its new equilibrium linearly over ``D = 20`` years:
      ``ΔSOC × min(T, D)/D`` is counted in the period, the rest is reported as
      ``soil_change_committed_mg_c``.  Classes listed in ``soil_unchanged_into`` keep
      the soil carbon of the class they replace.  Take the soil of every class from one
      IPCC climate zone (:func:`sinks.carbon.soil.apply_climate_zone`) so that a
      conversion books only what the stock-change factors give.
``method="stock-difference"`` (Eq. 2.5, the second figure)
    ``Σ_ij A_ij (D_j − D_i)`` per pool at once (soil as above), divided by ``T``.  With
    one density per class it sees land-cover change only: persistent forest books
    nothing and new forest its mature density at once.

Both figures are always computed and reported side by side (``methods``); ``method``
picks the headline ``sink_mg_c_per_yr``.  With ``draws`` a Monte Carlo
(:mod:`sinks.uncertainty`) gives the interval of both.

Sign convention
---------------
``sink_mg_c_per_yr`` (and every ``*_mg_c_per_yr`` here) is **positive for a removal
from the atmosphere** (carbon stocks growing).  ``net_emissions_tco2e_per_yr`` follows
the inventory sign: ``= −sink × 44/12``, **negative = removal**.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from ..area import pixel_area_ha
from ..errors import CoefficientError, ConfigError, GridMismatchError
from ..grid import Grid
from ..landcover import CODES, NAMES
from .constants import CO2_PER_C, carbon_constants
from .tables import POOLS, CarbonTable

if TYPE_CHECKING:  # pragma: no cover
    from .growth import ForestGrowth

__all__ = [
    "CO2_PER_C",
    "SOIL_TRANSITION_YEARS",
    "METHODS",
    "TransitionMatrix",
    "SinkResult",
    "transition_matrix",
    "sink",
    "density_matrix",
    "growth_vector",
]

log = logging.getLogger("sinks")

SOIL_TRANSITION_YEARS: float = carbon_constants().soil_transition_years.value
"""IPCC default time for soil carbon to reach a new equilibrium (years; ``carbon_constants.yaml``)."""

METHODS: tuple[str, ...] = ("gain-loss", "stock-difference")
"""Sink methods: IPCC gain–loss (default) and stock difference of the class densities."""


# --------------------------------------------------------------------------------------
# transition matrix
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TransitionMatrix:
    """Areas (ha) of every from → to class pair between two land-cover maps.

    Attributes
    ----------
    codes : tuple of int
        Class codes of the rows (from, ``t1``) and columns (to, ``t2``).
    area_ha : numpy.ndarray
        ``float64`` ``(K, K)``; ``area_ha[i, j]`` is class ``codes[i]`` → ``codes[j]``.
    pixels : numpy.ndarray
        ``int64`` ``(K, K)`` pixel counts.
    other_ha : float
        Area valid in both maps whose code is not among ``codes`` (excluded).
    nodata_ha : float
        Area that is nodata in either map (excluded).
    """

    codes: tuple[int, ...]
    area_ha: np.ndarray
    pixels: np.ndarray
    other_ha: float = 0.0
    nodata_ha: float = 0.0

    def index(self, code: int) -> int:
        return self.codes.index(int(code))

    def area(self, from_code: int, to_code: int) -> float:
        """Area (ha) of one transition (0 when a code is absent)."""
        if from_code not in self.codes or to_code not in self.codes:
            return 0.0
        return float(self.area_ha[self.index(from_code), self.index(to_code)])

    @property
    def from_ha(self) -> np.ndarray:
        """Area of each class at ``t1`` (row sums)."""
        return self.area_ha.sum(axis=1)

    @property
    def to_ha(self) -> np.ndarray:
        """Area of each class at ``t2`` (column sums)."""
        return self.area_ha.sum(axis=0)

    @property
    def total_ha(self) -> float:
        return float(math.fsum(self.area_ha.ravel().tolist()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: codes, names and ``area_ha`` as nested ``{from: {to: ha}}``."""
        names = [NAMES.get(c, str(c)) for c in self.codes]
        return {
            "codes": list(self.codes),
            "names": names,
            "area_ha": {str(c): {str(d): float(self.area_ha[i, j]) for j, d in enumerate(self.codes)}
                        for i, c in enumerate(self.codes)},
            "other_ha": self.other_ha,
            "nodata_ha": self.nodata_ha,
        }


def _compact_index(block: np.ndarray, codes: np.ndarray, nodata: int | None) -> np.ndarray:
    """Index 0..K-1 of each pixel's code in ``codes``; K for other codes, K+1 for nodata."""
    block = np.asarray(block)
    k = len(codes)
    dt = block.dtype
    if dt.kind in "iub" and dt.itemsize <= 2:
        from .stock import _Indexer

        ix = _Indexer(dt, codes, None)
        lut = np.full(ix.size, k, dtype=np.int32)
        for i, c in enumerate(codes.tolist()):
            s = ix.slot(c)
            if s is not None:
                lut[s] = i
        if nodata is not None and (s := ix.slot(nodata)) is not None:
            lut[s] = k + 1
        return lut[ix.index(block)]
    pos = np.searchsorted(codes, block)
    np.minimum(pos, max(k - 1, 0), out=pos)
    out = np.where(codes[pos] == block, pos, k) if k else np.zeros(block.shape, dtype=np.int64)
    if nodata is not None:
        out[block == nodata] = k + 1
    return out


def _tm_block(a: np.ndarray, b: np.ndarray, row_area: np.ndarray | None, codes: np.ndarray,
              nodata: tuple[int | None, int | None]) -> tuple[np.ndarray, np.ndarray | None]:
    m = len(codes) + 2
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == np.uint8 and b.dtype == np.uint8:  # one compiled pass over the byte pairs
        from .._kernels.codes import hist2_u8

        pair, weighted = hist2_u8(a, b, None if row_area is None else np.asarray(row_area, dtype=np.float64))
        ia = _compact_index(np.arange(256, dtype=np.uint8), codes, nodata[0])
        ib = _compact_index(np.arange(256, dtype=np.uint8), codes, nodata[1])
        # the byte pairs that occur (a few dozen of 65,536), each added to its (from, to)
        # cell; no matrix product, which would wake the BLAS library's threads in every
        # block task and leave them spinning beside dask's
        seen = np.flatnonzero(pair)
        cell = ia[seen >> 8].astype(np.int64) * m + ib[seen & 255]
        counts = np.zeros(m * m, dtype=np.int64)
        np.add.at(counts, cell, pair.ravel()[seen])
        areas = None
        if weighted is not None:
            areas = np.bincount(cell, weights=weighted.ravel()[seen], minlength=m * m).reshape(m, m)
        return counts.reshape(m, m), areas
    ia = _compact_index(a, codes, nodata[0]).astype(np.int64)
    ib = _compact_index(b, codes, nodata[1]).astype(np.int64)
    key = (ia * m + ib).ravel()
    counts = np.bincount(key, minlength=m * m).reshape(m, m)
    areas = None
    if row_area is not None:
        w = np.repeat(np.asarray(row_area, dtype=np.float64), np.asarray(a).shape[1])
        areas = np.bincount(key, weights=w, minlength=m * m).reshape(m, m)
    return counts, areas


def _tm_merge(parts: list, codes: np.ndarray, pixel_area: float | None) -> TransitionMatrix:
    k = len(codes)
    pixels = np.sum([p[0] for p in parts], axis=0).astype(np.int64)
    if pixel_area is None:
        areas = np.sum([p[1] for p in parts], axis=0)
    else:
        areas = pixels.astype(np.float64) * pixel_area
    other = float(areas[:k + 1, :k + 1].sum() - areas[:k, :k].sum())
    nodata = float(areas[k + 1, :].sum() + areas[:, k + 1].sum() - areas[k + 1, k + 1])
    return TransitionMatrix(tuple(int(c) for c in codes), areas[:k, :k].copy(), pixels[:k, :k].copy(), other, nodata)


def transition_matrix(from_landcover: Any, to_landcover: Any, grid: Grid, *, codes: Sequence[int] | None = None,
                      nodata: tuple[Any, Any] = (None, None), compute: bool = True) -> Any:
    """Transition matrix (ha) between two land-cover maps on the same grid.

    Computed blockwise with ``np.bincount(from_index × K + to_index)`` (pixel counts ×
    pixel area on projected grids; per-row ellipsoidal area weights on geographic ones).

    Parameters
    ----------
    from_landcover, to_landcover : array
        2-D integer codes (numpy, dask or xarray) at ``t1`` and ``t2``.
    grid : Grid
    codes : sequence of int, optional
        Classes to tabulate; default: every code present in either map (an extra
        counting pass).  Other codes are excluded and reported as ``other_ha``.
    nodata : (int or None, int or None)
        Nodata of each map; pixels nodata in either map are excluded (``nodata_ha``).
    compute : bool
        For dask input, ``False`` returns a Delayed.

    Returns
    -------
    TransitionMatrix
    """
    from .stock import _is_dask, _nodata_int, _unwrap, class_areas_ha

    a, _ = _unwrap(from_landcover)
    b, _ = _unwrap(to_landcover)
    if tuple(a.shape) != grid.shape or tuple(b.shape) != grid.shape:
        raise GridMismatchError(f"land-cover shapes {tuple(a.shape)} and {tuple(b.shape)} must both be {grid.shape}")
    nd = (_nodata_int(nodata[0]), _nodata_int(nodata[1]))
    if codes is None:
        ca = class_areas_ha(a, grid, nodata=nd[0])
        cb = class_areas_ha(b, grid, nodata=nd[1])
        codes = sorted(set(ca.codes.tolist()) | set(cb.codes.tolist()))
    code_arr = np.array(sorted(int(c) for c in codes), dtype=np.int64)
    area = pixel_area_ha(grid)
    uniform = np.isscalar(area)
    rows = None if uniform else np.asarray(area)
    pa = float(area) if uniform else None
    if _is_dask(a) or _is_dask(b):
        import dask.array as da

        if not _is_dask(a):
            a = da.from_array(np.asarray(a), chunks=b.chunks)
        if not _is_dask(b) or b.chunks != a.chunks:
            b = da.asarray(b).rechunk(a.chunks)
        from ..runtime.blocktasks import block_reduce

        # unoptimised: see carbon.stock.class_areas_ha
        heights = a.chunks[0]

        def extra(i: int, _j: int, r0: int, _c0: int) -> tuple:
            return (None if uniform else rows[r0:r0 + heights[i]], code_arr, nd)

        result = block_reduce(_tm_block, [a, b], extra=extra, combine=_tm_merge, combine_args=(code_arr, pa),
                              name="tm_block")
        return result.compute() if compute else result
    a, b = np.asarray(a), np.asarray(b)
    parts = []
    step = 2048
    for r0 in range(0, a.shape[0], step):
        r1 = min(a.shape[0], r0 + step)
        parts.append(_tm_block(a[r0:r1], b[r0:r1], None if uniform else rows[r0:r1], code_arr, nd))
    return _tm_merge(parts, code_arr, pa)


# --------------------------------------------------------------------------------------
# sink
# --------------------------------------------------------------------------------------
class SinkResult(BaseModel):
    """Carbon sink of one period; every key carries its unit.  Positive sink = removal.

    Headline
        ``method`` (``"gain-loss"`` or ``"stock-difference"``), ``sink_mg_c_per_yr``,
        ``sink_tco2e_per_yr``, ``net_emissions_tco2e_per_yr`` (inventory sign) and, with
        Monte Carlo draws, ``interval`` = ``{"low", "high", "mean", "level", "draws",
        "seed", "distribution", "area_uncertainty", "varied"}`` (Mg C/yr).
    Both methods
        ``methods[name]`` = ``{"sink_mg_c_per_yr", "by_pool_mg_c_per_yr", "low", "high",
        "mean", "label"}`` (``low``/``high``/``mean`` only with draws).
    Parts of the gain–loss figure
        ``persistent_forest`` (area, rates per ha, gross gain, losses, net), ``new_forest``
        (area entering forest, young-stand growth, biomass lost at conversion, DOM and
        soil), ``forest_lost`` (area, biomass change at once).
    Stock-difference parts (as before)
        ``stock_change_mg_c`` (instant change per pool, soil in full),
        ``soil_change_counted_mg_c``, ``soil_change_committed_mg_c``,
        ``stock_difference_mg_c_per_yr`` (per pool), ``gain_area_ha`` /
        ``gain_mg_c_per_yr`` (net gain of persistent land).
    Provenance
        ``growth_row``, ``coefficients`` (every growth coefficient with its range, level
        and source), ``table``, ``climate_zone``, ``without_range`` (inputs drawn as points:
        the interval does not include their uncertainty).
    """

    model_config = ConfigDict(frozen=True)

    period_years: float
    soil_transition_years: float
    dom_transition_years: float
    area_ha: float
    method: str = "gain-loss"
    method_label: str = ""
    sink_mg_c_per_yr: float
    sink_tco2e_per_yr: float
    net_emissions_tco2e_per_yr: float
    interval: dict[str, Any] | None = None
    methods: dict[str, dict[str, Any]] = {}
    persistent_forest: dict[str, Any] = {}
    new_forest: dict[str, Any] = {}
    forest_lost: dict[str, Any] = {}
    stock_change_mg_c: dict[str, float]
    soil_change_counted_mg_c: float
    soil_change_committed_mg_c: float
    stock_difference_mg_c_per_yr: dict[str, float]
    gain_loss_mg_c_per_yr: dict[str, float] = {}
    gain_area_ha: float
    gain_mg_c_per_yr: float
    stock_difference_tco2e_per_yr: float
    gain_tco2e_per_yr: float
    growth_row: str | None = None
    coefficients: list[dict[str, Any]] = []
    table: str = ""
    climate_zone: str | None = None
    without_range: list[str] = []
    sign_convention: str = ("sink_* > 0: removal from the atmosphere; net_emissions_tco2e_per_yr follows the "
                            "inventory sign (< 0: removal)")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


def density_matrix(table: CarbonTable, codes: Sequence[int], *, which: str = "central", missing: str = "error",
                   label: str = "transition matrix") -> np.ndarray:
    """Densities ``(K, 4)`` (Mg C/ha) of ``codes`` in :data:`POOLS` order (0 for missing codes
    with ``missing="zero"``)."""
    arr = {"central": table.central, "low": table.low, "high": table.high}[which]
    miss = [c for c in codes if c not in table]
    if miss and missing == "error":
        raise CoefficientError(f"{label}: land-cover codes missing from the carbon table {table.label}: "
                               f"{', '.join(map(str, miss))}; add them or pass --missing zero (missing='zero')")
    out = np.zeros((len(codes), len(POOLS)))
    for k, c in enumerate(codes):
        if c in table:
            out[k] = arr[table.index_of(c)]
    return out


def growth_vector(codes: Sequence[int], growth: float | Mapping[str | int, float],
                  growth_classes: Sequence[str | int] = ("forest",)) -> np.ndarray:
    """Per-class net gain rate (Mg C/ha/yr) of persistent land, aligned with ``codes``."""
    if isinstance(growth, Mapping):
        rates = {(_code_of(k)): float(v) for k, v in growth.items()}
    else:
        rates = {_code_of(c): float(growth) for c in growth_classes}
    for k, v in rates.items():
        if not math.isfinite(v):
            raise ConfigError(f"growth rate of class {k} must be a finite number")
    return np.array([rates.get(int(c), 0.0) for c in codes], dtype=np.float64)


def _code_of(c: str | int) -> int:
    if isinstance(c, str) and not c.lstrip("-").isdigit():
        if c not in CODES:
            raise ConfigError(f"unknown land-cover class {c!r}; the legend has {', '.join(CODES)}")
        return CODES[c]
    return int(c)


_A, _B, _S, _D = (POOLS.index(p) for p in ("above", "below", "soil", "dead"))


def _sink_core(area: np.ndarray, dens: np.ndarray, *, years: float, soil_years: float, growth: np.ndarray,
               keep_soil: np.ndarray, young: Any = 0.0, into: np.ndarray | None = None, dom_years: float,
               parts: bool = False) -> dict[str, Any]:
    """Vectorised sink, both methods.

    ``area`` (..., K, K), ``dens`` (..., K, 4), ``growth`` (..., K) persistent net rates,
    ``young`` (...) young-stand rate, ``into`` (K,) classes new forest enters; leading
    dims broadcast (Monte Carlo draws).
    """
    k = area.shape[-1]
    d_from = (area.sum(axis=-1)[..., None, :] @ dens)[..., 0, :]
    d_to = (area.sum(axis=-2)[..., None, :] @ dens)[..., 0, :]
    change = d_to - d_from  # (..., 4) instant change per pool
    area_soil = area * (1.0 - keep_soil)[..., None, :]
    soil = ((area_soil.sum(axis=-2) * dens[..., _S]).sum(axis=-1)
            - (area_soil.sum(axis=-1) * dens[..., _S]).sum(axis=-1))
    frac = min(years, soil_years) / soil_years
    counted = change.copy()
    counted[..., _S] = soil * frac
    sd_pools = counted / years
    stock_diff = sd_pools.sum(axis=-1)

    # gain-loss: correct the new-forest cells, add the net gain of persistent land
    bio = dens[..., _A] + dens[..., _B]
    share = np.divide(dens[..., _A], bio, out=np.ones_like(bio), where=bio > 0)
    into_v = np.zeros(k) if into is None else into.astype(np.float64)
    a_new = area * (1.0 - np.eye(k)) * into_v[None, :]
    new_to = a_new.sum(axis=-2)  # (..., K) area entering each class from others
    grown = np.minimum(np.asarray(young, dtype=np.float64)[..., None] * years, bio)
    corr_bio = new_to * (grown - bio)
    fdom = min(years, dom_years) / dom_years
    dom_in = (new_to * dens[..., _D]).sum(axis=-1) - (a_new.sum(axis=-1) * dens[..., _D]).sum(axis=-1)
    gl_pools = counted.copy()
    gl_pools[..., _A] += (corr_bio * share).sum(axis=-1)
    gl_pools[..., _B] += (corr_bio * (1.0 - share)).sum(axis=-1)
    gl_pools[..., _D] += (fdom - 1.0) * dom_in
    gl_pools = gl_pools / years
    diag = np.diagonal(area, axis1=-2, axis2=-1)
    pg = diag * growth
    gl_pools[..., _A] += (pg * share).sum(axis=-1)
    gl_pools[..., _B] += (pg * (1.0 - share)).sum(axis=-1)
    gain = pg.sum(axis=-1)
    out: dict[str, Any] = {"change": change, "soil_full": soil, "soil_counted": soil * frac, "per_yr": sd_pools,
                           "stock_diff": stock_diff, "gain": gain, "gl_pools": gl_pools,
                           "gain_loss": gl_pools.sum(axis=-1)}
    if parts:
        s_new = ((a_new * (1.0 - keep_soil)[None, :]).sum(axis=-2) * dens[..., _S]).sum(axis=-1) - (
            (a_new * (1.0 - keep_soil)[None, :]).sum(axis=-1) * dens[..., _S]).sum(axis=-1)
        out["new"] = {"area_ha": float(new_to.sum()),
                      "young_growth_mg_c_per_yr": float((new_to * grown).sum() / years),
                      "previous_biomass_lost_mg_c_per_yr": float(-(a_new.sum(axis=-1) * bio).sum() / years),
                      "dom_mg_c_per_yr": float(fdom * dom_in / years),
                      "soil_mg_c_per_yr": float(s_new * frac / years),
                      "reached_forest_density": bool(np.any((grown >= bio) & (new_to > 0)))}
    return out


def _label(method: str, years: float, dy: float, dom_years: float) -> str:
    if method == "gain-loss":
        return (f"gain-loss (IPCC 2006 Eq. 2.4): net biomass gain of persistent forest (gross increment - removals - "
                f"mortality, x marginal carbon per m3); land converted to forest grows at the young-stand rate, its "
                f"DOM over {dom_years:g} yr; other conversions change biomass and DOM at once; soil over {dy:g} yr "
                f"(x min(T, {dy:g})/{dy:g}); T = {years:g} yr")
    return (f"stock difference (IPCC 2006 Eq. 2.5) of the class densities over {years:g} yr: biomass and DOM at once, "
            f"soil over {dy:g} yr; persistent land books nothing")


def sink(transitions: TransitionMatrix, table: CarbonTable, *, years: float, method: str = "gain-loss",
         growth: "ForestGrowth | str | None" = None,
         growth_mg_c_per_ha_yr: float | Mapping[str | int, float] | None = None,
         growth_classes: Sequence[str | int] = ("forest",), growth_range: tuple[float, float] | None = None,
         new_forest_classes: Sequence[str | int] = ("forest",),
         soil_transition_years: float = SOIL_TRANSITION_YEARS, soil_unchanged_into: Sequence[str | int] = (),
         missing: str = "error", draws: int = 0, seed: int | None = 20261122, level: float = 0.95,
         distribution: str = "ci", pool_correlation: str = "biomass",
         transition_se_ha: np.ndarray | None = None, transition_cov_ha2: np.ndarray | None = None,
         transition_draws_ha: np.ndarray | None = None, rng: np.random.Generator | None = None) -> SinkResult:
    """Carbon sink of a period from its transition matrix (see the module docstring).

    Parameters
    ----------
    transitions : TransitionMatrix
        Areas (ha) from each class to each class (error-adjusted ones when a reference
        sample exists: :func:`sinks.uncertainty.adjusted_transitions`).
    table : CarbonTable
        Densities (Mg C/ha) with ranges.
    years : float
        Length of the period ``t2 − t1`` (> 0).
    method : {"gain-loss", "stock-difference"}
        Which figure is the headline ``sink_mg_c_per_yr``; both are in ``methods``.
    growth : ForestGrowth or str, optional
        Coefficients of persistent and new forest (:func:`sinks.carbon.growth.forest_growth`)
        or the name of a packaged row; default the ``national_8th_9th_nfi`` row.
    growth_mg_c_per_ha_yr : float or mapping, optional
        Net gain of persistent land given directly: one rate for ``growth_classes``, or
        ``{class: rate}``; replaces the row's rate (``0`` switches it off).
    growth_classes : sequence
        Classes whose persistent area gains (default forest).
    growth_range : (float, float), optional
        95 % interval of a scalar ``growth_mg_c_per_ha_yr`` for the Monte Carlo.
    new_forest_classes : sequence
        Classes that land converted into grows in at the young-stand rate (default
        forest; ``()`` books every conversion at once).
    soil_transition_years : float
        IPCC soil transition period ``D`` (default 20).
    soil_unchanged_into : sequence
        Classes that keep the soil carbon of the class they replace.
    missing : {"error", "zero"}
        Codes absent from the table raise, or count at zero density.
    draws : int
        Monte Carlo draws (0: no interval).
    seed, level, distribution, pool_correlation
        Monte Carlo settings (:mod:`sinks.uncertainty`): seed, interval probability,
        ``"ci"`` (normal/lognormal fitted to each stated interval), correlation of pools.
    transition_se_ha, transition_cov_ha2, transition_draws_ha : numpy.ndarray, optional
        Uncertainty of the areas: ``(K, K)`` standard errors, the ``(K², K²)``
        covariance, or ready draws ``(draws, K, K)`` (e.g. raked to error-adjusted
        class areas).
    rng : numpy.random.Generator, optional
        Generator to draw from (instead of ``seed``).

    Returns
    -------
    SinkResult
        Fields in the class docstring.  JSON: :meth:`SinkResult.to_dict`.
    """
    from .growth import ForestGrowth, forest_growth

    if method not in METHODS:
        raise ConfigError(f"sink method must be one of {', '.join(METHODS)}, got {method!r}")
    t = float(years)
    if not math.isfinite(t) or t <= 0:
        raise ConfigError(f"the period must be a positive number of years, got {years!r}")
    dy = float(soil_transition_years)
    if not math.isfinite(dy) or dy <= 0:
        raise ConfigError(f"soil_transition_years must be positive, got {soil_transition_years!r}")
    codes = list(transitions.codes)
    dens = density_matrix(table, codes, missing=missing)
    gr = growth if isinstance(growth, ForestGrowth) else forest_growth(growth)
    forest_code = CODES["forest"]
    user_rate = growth_mg_c_per_ha_yr is not None
    if user_rate:
        g = growth_vector(codes, growth_mg_c_per_ha_yr, growth_classes)  # type: ignore[arg-type]
    else:
        g = growth_vector(codes, gr.net_mg_c_per_ha_yr, growth_classes)
    into = np.array([c in {_code_of(x) for x in new_forest_classes} for c in codes])
    keep_codes = {_code_of(c) for c in soil_unchanged_into}
    keep = np.array([1.0 if c in keep_codes else 0.0 for c in codes])
    dom_years = gr.dom_transition_years
    young = gr.young_rate.central
    r = _sink_core(transitions.area_ha, dens, years=t, soil_years=dy, growth=g, keep_soil=keep, young=young,
                   into=into, dom_years=dom_years, parts=True)
    change = {p: float(r["change"][k]) for k, p in enumerate(POOLS)}
    change["soil"] = float(r["soil_full"])
    change = {"total": math.fsum(change.values()), **change}
    sd_pools = {"total": float(r["stock_diff"]), **{p: float(r["per_yr"][k]) for k, p in enumerate(POOLS)}}
    gl_pools = {"total": float(r["gain_loss"]), **{p: float(r["gl_pools"][k]) for k, p in enumerate(POOLS)}}
    sd, gl, gain = float(r["stock_diff"]), float(r["gain_loss"]), float(r["gain"])
    gain_area = float(sum(transitions.area_ha[i, i] for i in range(len(codes)) if g[i] != 0))
    methods: dict[str, dict[str, Any]] = {
        "gain-loss": {"sink_mg_c_per_yr": gl, "by_pool_mg_c_per_yr": gl_pools, "label": _label("gain-loss", t, dy, dom_years)},
        "stock-difference": {"sink_mg_c_per_yr": sd, "by_pool_mg_c_per_yr": sd_pools,
                             "label": _label("stock-difference", t, dy, dom_years)},
    }
    headline = methods[method]["sink_mg_c_per_yr"]
    f_area = transitions.area(forest_code, forest_code)
    f_rate = float(g[codes.index(forest_code)]) if forest_code in codes else (
        0.0 if user_rate else gr.net_mg_c_per_ha_yr)
    persistent = {"area_ha": f_area, "net_mg_c_per_ha_yr": f_rate, "net_mg_c_per_yr": f_area * f_rate,
                  "row": "user" if user_rate else gr.row}
    if not user_rate and gr.gross_mg_c_per_ha_yr is not None:
        persistent.update(gross_mg_c_per_ha_yr=gr.gross_mg_c_per_ha_yr, losses_mg_c_per_ha_yr=gr.losses_mg_c_per_ha_yr,
                          gross_gain_mg_c_per_yr=f_area * gr.gross_mg_c_per_ha_yr,
                          losses_mg_c_per_yr=-f_area * (gr.losses_mg_c_per_ha_yr or 0.0))
    new = {**r["new"], "young_stand_mg_c_per_ha_yr": young}
    lost_cells = [(i, j) for i, c in enumerate(codes) for j, d in enumerate(codes)
                  if c == forest_code and d != c and not into[j]]
    bio = dens[:, _A] + dens[:, _B]
    lost = {"area_ha": math.fsum(float(transitions.area_ha[i, j]) for i, j in lost_cells),
            "biomass_change_mg_c": math.fsum(float(transitions.area_ha[i, j] * (bio[j] - bio[i])) for i, j in lost_cells)}
    coefs = [c.to_dict() for c in gr.coefficients()]
    without = [] if user_rate else list(gr.without_ranges())
    if user_rate:
        coefs.insert(0, {"name": "net gain of persistent land (user)", "central": growth_mg_c_per_ha_yr,
                         "low": None if growth_range is None else growth_range[0],
                         "high": None if growth_range is None else growth_range[1], "unit": "Mg C/ha/yr",
                         "level": None if growth_range is None else 0.95, "source": "user setting"})
        if growth_range is None:
            without.append("net gain of persistent land (user)")
    if not table.has_ranges():
        without.append(f"carbon densities ({table.label})")
    else:
        used = transitions.area_ha.sum(axis=0) + transitions.area_ha.sum(axis=1) > 0
        for k, c in enumerate(codes):
            if used[k] and c in table:
                i = table.index_of(c)
                without += [f"{NAMES.get(c, str(c))} {p} density" for q, p in enumerate(POOLS)
                            if table.central[i, q] > 0 and table.high[i, q] <= table.low[i, q]]
    interval = None
    if draws:
        interval = _simulate(transitions, table, codes, methods, method=method, years=t, soil_years=dy, g=g,
                             keep=keep, into=into, gr=gr, user_rate=user_rate, growth_range=growth_range,
                             growth_mg_c_per_ha_yr=growth_mg_c_per_ha_yr, draws=draws, seed=seed, level=level,
                             distribution=distribution, pool_correlation=pool_correlation, missing=missing,
                             se=transition_se_ha, cov=transition_cov_ha2, area_draws=transition_draws_ha, rng=rng)
        interval["without_range"] = list(without)
    return SinkResult(
        period_years=t, soil_transition_years=dy, dom_transition_years=dom_years, area_ha=transitions.total_ha,
        method=method, method_label=methods[method]["label"], sink_mg_c_per_yr=headline,
        sink_tco2e_per_yr=headline * CO2_PER_C, net_emissions_tco2e_per_yr=-headline * CO2_PER_C,
        interval=interval, methods=methods, persistent_forest=persistent, new_forest=new, forest_lost=lost,
        stock_change_mg_c=change, soil_change_counted_mg_c=float(r["soil_counted"]),
        soil_change_committed_mg_c=float(r["soil_full"] - r["soil_counted"]), stock_difference_mg_c_per_yr=sd_pools,
        gain_loss_mg_c_per_yr=gl_pools, gain_area_ha=gain_area, gain_mg_c_per_yr=gain,
        stock_difference_tco2e_per_yr=sd * CO2_PER_C, gain_tco2e_per_yr=gain * CO2_PER_C,
        growth_row=None if user_rate else gr.row, coefficients=coefs, table=table.name,
        climate_zone=table.climate_zone, without_range=without,
    )


def _simulate(transitions: TransitionMatrix, table: CarbonTable, codes: list[int], methods: dict[str, dict[str, Any]],
              *, method: str, years: float, soil_years: float, g: np.ndarray, keep: np.ndarray, into: np.ndarray,
              gr: "ForestGrowth", user_rate: bool, growth_range: tuple[float, float] | None,
              growth_mg_c_per_ha_yr: Any, draws: int, seed: int | None, level: float, distribution: str,
              pool_correlation: str, missing: str, se: np.ndarray | None, cov: np.ndarray | None,
              area_draws: np.ndarray | None, rng: np.random.Generator | None) -> dict[str, Any]:
    """Monte Carlo of both methods; fills ``low``/``high``/``mean`` of ``methods``, returns the headline interval."""
    from ..uncertainty import (multivariate_areas, sample_coefficient, sample_densities, sample_range,
                               truncated_normal)

    if draws < 1:
        raise ConfigError(f"draws must be positive, got {draws}")
    if not 0 < level < 1:
        raise ConfigError(f"level must be between 0 and 1, got {level}")
    rng = rng if rng is not None else np.random.default_rng(seed)
    varied = ["carbon densities"] if table.has_ranges() else []
    dens = sample_densities(table, codes, draws=draws, rng=rng, distribution=distribution,  # type: ignore[arg-type]
                            missing=missing, pool_correlation=pool_correlation)  # type: ignore[arg-type]
    shape = transitions.area_ha.shape
    area: np.ndarray = transitions.area_ha[None]
    area_unc = False
    if area_draws is not None:
        area = np.asarray(area_draws, dtype=np.float64)
        if area.shape != (draws, *shape):
            raise ConfigError(f"transition area draws must have shape {(draws, *shape)}, got {area.shape}")
        area_unc = True
    elif cov is not None:
        area = multivariate_areas(transitions.area_ha, cov, draws=draws, rng=rng)
        area_unc = True
    elif se is not None:
        s = np.asarray(se, dtype=np.float64)
        if s.shape != shape:
            raise ConfigError(f"transition_se_ha must have shape {shape}, got {s.shape}")
        area = truncated_normal(transitions.area_ha, s, size=(draws, *shape), rng=rng)
        area_unc = True
    if area_unc:
        varied.append("transition areas")
    fi = [i for i, c in enumerate(codes) if g[i] != 0]
    gd = np.broadcast_to(g, (draws, len(codes))).copy()
    if not user_rate:
        net = sample_coefficient(gr.net_stock_change, draws=draws, rng=rng, distribution=distribution)  # type: ignore[arg-type]
        cm = sample_coefficient(gr.marginal_carbon, draws=draws, rng=rng, distribution=distribution,  # type: ignore[arg-type]
                                nonnegative=True)
        gd[:, fi] = (net * cm)[:, None]
        varied += [c.name for c in (gr.net_stock_change, gr.marginal_carbon) if c.has_range]
    elif growth_range is not None and not isinstance(growth_mg_c_per_ha_yr, Mapping):
        lo, hi = (float(v) for v in growth_range)
        mode = float(growth_mg_c_per_ha_yr)
        if not lo <= mode <= hi:
            raise ConfigError(f"growth_range {growth_range} must contain the rate {mode}")
        if distribution == "ci":
            from ..uncertainty import sample_fitted

            rate = sample_fitted(rng.standard_normal(draws), mode, lo, hi, level, nonnegative=False)
        else:
            rate = sample_range(rng.random(draws), lo, mode, hi, distribution=distribution, rng=rng)  # type: ignore[arg-type]
        gd[:, fi] = rate[:, None]
        varied.append("net gain of persistent land (user range)")
    young = sample_coefficient(gr.young_rate, draws=draws, rng=rng, distribution=distribution,  # type: ignore[arg-type]
                               nonnegative=True)
    if gr.young_rate.has_range:
        varied.append(gr.young_rate.name)
    r = _sink_core(area, dens, years=years, soil_years=soil_years, growth=gd, keep_soil=keep, young=young, into=into,
                   dom_years=gr.dom_transition_years)
    a = (1.0 - level) / 2.0
    for name, key in (("gain-loss", "gain_loss"), ("stock-difference", "stock_diff")):
        x = np.broadcast_to(r[key], (draws,))
        lo_q, hi_q = np.quantile(x, [a, 1.0 - a])
        methods[name].update(low=float(lo_q), high=float(hi_q), mean=float(np.mean(x)), level=level)
    m = methods[method]
    return {"low": m["low"], "high": m["high"], "mean": m["mean"], "level": level, "draws": draws, "seed": seed,
            "distribution": distribution, "pool_correlation": pool_correlation, "area_uncertainty": area_unc,
            "varied": varied}
