"""Carbon sink between two land-cover epochs: transition matrix, stock difference, gain, CO₂e.

Method (IPCC 2006 Vol.4 Ch.2, domain.md §6)
-------------------------------------------
With ``A_ij`` the area (ha) of class ``i`` at ``t1`` that is class ``j`` at ``t2``
(pixels valid in both maps), per-class densities ``D_kp`` (Mg C/ha) and
``T = t2 − t1`` years:

* Biomass and dead organic matter (``above``, ``below``, ``dead``) change at once:
  ``ΔC_p = Σ_ij A_ij (D_jp − D_ip)`` (stock-difference, Eq. 2.5/2.15).
* Soil organic carbon moves to its new equilibrium linearly over the IPCC transition
  period ``D = 20`` years (Eq. 2.25).  **Convention:** conversions are dated to the
  start of the period, so the annual soil flux is ``ΔSOC / D`` for the ``D`` years
  after ``t1`` and the soil change counted in the period is
  ``ΔSOC × min(T, D) / D``; the rest, ``ΔSOC × (1 − min(T, D)/D)``, is reported as
  ``soil_change_committed_mg_c`` (it happens after ``t2``).  For ``T ≤ 20`` the annual
  soil term is simply ``ΔSOC / 20``.  Classes listed in ``soil_unchanged_into`` keep
  the soil carbon of the class they replace (e.g. ``("built_up",)``: "no change on
  conversion", a configuration choice of domain.md §0 note 12).
* Stock difference per year: ``ΔC_p / T`` for each pool (soil: the counted part / T).
* Gain of persistent forest: with fixed densities the stock difference cannot see
  growth inside forest that stays forest, China's main sink.  ``gain = A_ff × g`` with
  ``g`` = 4.23 m³/ha/yr × 0.523 t C/m³ = 2.212 Mg C/ha/yr by default (8th NFI
  increment × 9th NFI carbon per m³, [D, rough]), configurable per class.
* Combined sink ``sink_mg_c_per_yr`` = stock difference + gain.

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
from typing import Any, Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from ..area import pixel_area_ha
from ..errors import CoefficientError, ConfigError, GridMismatchError
from ..grid import Grid
from ..landcover import CODES, NAMES
from .tables import POOLS, CarbonTable

__all__ = [
    "CO2_PER_C",
    "SOIL_TRANSITION_YEARS",
    "DEFAULT_GROWTH_MG_C_PER_HA_YR",
    "TransitionMatrix",
    "SinkResult",
    "transition_matrix",
    "sink",
    "density_matrix",
    "growth_vector",
]

log = logging.getLogger("sinks")

CO2_PER_C: float = 44.0 / 12.0
"""t CO₂ per t C."""

SOIL_TRANSITION_YEARS: float = 20.0
"""IPCC default time for soil carbon to reach a new equilibrium (years)."""

DEFAULT_GROWTH_MG_C_PER_HA_YR: float = 4.23 * 0.523
"""Gain of forest remaining forest: 4.23 m³/ha/yr × 0.523 t C/m³ ≈ 2.212 Mg C/ha/yr [D]."""


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
        one_a = np.zeros((256, m))
        one_a[np.arange(256), ia] = 1.0
        one_b = np.zeros((256, m))
        one_b[np.arange(256), ib] = 1.0
        counts = np.rint(one_a.T @ pair.astype(np.float64) @ one_b).astype(np.int64)
        return counts, (None if weighted is None else one_a.T @ weighted @ one_b)
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
        import dask
        import dask.array as da

        if not _is_dask(a):
            a = da.from_array(np.asarray(a), chunks=b.chunks)
        if not _is_dask(b) or b.chunks != a.chunks:
            b = da.asarray(b).rechunk(a.chunks)
        # unoptimised: see carbon.stock.class_areas_ha
        ba, bb = a.to_delayed(optimize_graph=False), b.to_delayed(optimize_graph=False)
        parts = []
        r0 = 0
        for i, h in enumerate(a.chunks[0]):
            ra = None if uniform else rows[r0:r0 + h]
            for j in range(len(a.chunks[1])):
                parts.append(dask.delayed(_tm_block, pure=True)(ba[i, j], bb[i, j], ra, code_arr, nd))
            r0 += h
        result = dask.delayed(_tm_merge, pure=True)(parts, code_arr, pa)
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
    """Carbon sink of one period; every key carries its unit.  Positive sink = removal."""

    model_config = ConfigDict(frozen=True)

    period_years: float
    soil_transition_years: float
    area_ha: float
    stock_change_mg_c: dict[str, float]
    soil_change_counted_mg_c: float
    soil_change_committed_mg_c: float
    stock_difference_mg_c_per_yr: dict[str, float]
    gain_area_ha: float
    gain_mg_c_per_yr: float
    sink_mg_c_per_yr: float
    stock_difference_tco2e_per_yr: float
    gain_tco2e_per_yr: float
    sink_tco2e_per_yr: float
    net_emissions_tco2e_per_yr: float
    sign_convention: str = ("sink_* > 0: removal from the atmosphere; net_emissions_tco2e_per_yr follows the "
                            "inventory sign (< 0: removal)")
    method: str = ""

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
    """Per-class gain rate (Mg C/ha/yr) of persistent land, aligned with ``codes``."""
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


def _sink_core(area: np.ndarray, dens: np.ndarray, *, years: float, soil_years: float, growth: np.ndarray,
               keep_soil: np.ndarray) -> dict[str, np.ndarray]:
    """Vectorised sink.  ``area`` (..., K, K), ``dens`` (..., K, 4); leading dims broadcast (Monte Carlo)."""
    # Row sums (area leaving each class) and column sums (area ending in each class) are
    # taken once, before the densities are broadcast over the draws: (..., K) @ (..., K, 4).
    d_from = (area.sum(axis=-1)[..., None, :] @ dens)[..., 0, :]
    d_to = (area.sum(axis=-2)[..., None, :] @ dens)[..., 0, :]
    change = d_to - d_from  # (..., 4) instant change per pool
    s = POOLS.index("soil")
    area_soil = area * (1.0 - keep_soil)[..., None, :]
    soil = ((area_soil.sum(axis=-2) * dens[..., s]).sum(axis=-1)
            - (area_soil.sum(axis=-1) * dens[..., s]).sum(axis=-1))
    frac = min(years, soil_years) / soil_years
    counted = change.copy()
    counted[..., s] = soil * frac
    gain = np.diagonal(area, axis1=-2, axis2=-1) @ growth
    per_yr = counted / years
    stock_diff = per_yr.sum(axis=-1)
    return {"change": change, "soil_full": soil, "soil_counted": soil * frac, "per_yr": per_yr,
            "stock_diff": stock_diff, "gain": gain, "sink": stock_diff + gain}


def sink(transitions: TransitionMatrix, table: CarbonTable, *, years: float,
         soil_transition_years: float = SOIL_TRANSITION_YEARS,
         growth_mg_c_per_ha_yr: float | Mapping[str | int, float] = DEFAULT_GROWTH_MG_C_PER_HA_YR,
         growth_classes: Sequence[str | int] = ("forest",), soil_unchanged_into: Sequence[str | int] = (),
         missing: str = "error") -> SinkResult:
    """Carbon sink of a period from its transition matrix (see the module docstring).

    Parameters
    ----------
    transitions : TransitionMatrix
    table : CarbonTable
    years : float
        Length of the period ``t2 − t1`` (> 0).
    soil_transition_years : float
        IPCC soil transition period ``D`` (default 20).
    growth_mg_c_per_ha_yr : float or mapping
        Gain rate of persistent land: one rate for ``growth_classes`` (default
        2.212 Mg C/ha/yr for forest), or ``{class: rate}``; ``0`` switches the gain off.
    growth_classes : sequence
        Classes whose persistent area gains at the scalar rate.
    soil_unchanged_into : sequence
        Classes that keep the soil carbon of the class they replace.
    missing : {"error", "zero"}
        Codes absent from the table raise, or count at zero density.

    Returns
    -------
    SinkResult
    """
    t = float(years)
    if not math.isfinite(t) or t <= 0:
        raise ConfigError(f"the period must be a positive number of years, got {years!r}")
    dy = float(soil_transition_years)
    if not math.isfinite(dy) or dy <= 0:
        raise ConfigError(f"soil_transition_years must be positive, got {soil_transition_years!r}")
    codes = list(transitions.codes)
    dens = density_matrix(table, codes, missing=missing)
    g = growth_vector(codes, growth_mg_c_per_ha_yr, growth_classes)
    keep_codes = {_code_of(c) for c in soil_unchanged_into}
    keep = np.array([1.0 if c in keep_codes else 0.0 for c in codes])
    r = _sink_core(transitions.area_ha, dens, years=t, soil_years=dy, growth=g, keep_soil=keep)
    change = {p: float(r["change"][k]) for k, p in enumerate(POOLS)}
    change["soil"] = float(r["soil_full"])
    change = {"total": math.fsum(change.values()), **change}
    per_yr = {p: float(r["per_yr"][k]) for k, p in enumerate(POOLS)}
    per_yr = {"total": float(r["stock_diff"]), **per_yr}
    sd, gain, total = float(r["stock_diff"]), float(r["gain"]), float(r["sink"])
    gain_area = float(sum(transitions.area_ha[i, i] for i in range(len(codes)) if g[i] != 0))
    method = (f"stock difference over {t:g} yr (biomass and DOM at once; soil change spread over "
              f"{dy:g} yr, counted x min(T, {dy:g})/{dy:g}) + gain of persistent land")
    return SinkResult(
        period_years=t, soil_transition_years=dy, area_ha=transitions.total_ha, stock_change_mg_c=change,
        soil_change_counted_mg_c=float(r["soil_counted"]),
        soil_change_committed_mg_c=float(r["soil_full"] - r["soil_counted"]),
        stock_difference_mg_c_per_yr=per_yr, gain_area_ha=gain_area, gain_mg_c_per_yr=gain, sink_mg_c_per_yr=total,
        stock_difference_tco2e_per_yr=sd * CO2_PER_C, gain_tco2e_per_yr=gain * CO2_PER_C,
        sink_tco2e_per_yr=total * CO2_PER_C, net_emissions_tco2e_per_yr=-total * CO2_PER_C, method=method,
    )
