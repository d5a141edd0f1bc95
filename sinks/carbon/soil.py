"""Soil organic carbon from one IPCC climate zone (IPCC 2006 Vol.4 Eq. 2.25).

``SOC = SOC_ref(zone) × F_LU × F_MG × F_I`` for every class with an IPCC Tier 1 soil
default, all from the same zone, so that a conversion books only the change the factors
give: grassland → forest books none (both factors are 1), cropland → forest books
``SOC_ref × (1 − F_cropland)`` over the 20-year transition.  The reference values are
IPCC 2006 Table 2.3 (0–30 cm, native vegetation) for the zone, either the mean of its
soil-type columns (the default, as in domain.md §0 note 3, ranged by their min–max) or
one soil type; the factors are in ``sinks/data/ipcc_tier1.yaml`` (``soil_factors``):

==========  =====================================================================
class       soil 0–30 cm
==========  =====================================================================
forest      SOC_ref × 1 (managed forest, IPCC Tier 1)
grassland   SOC_ref × 1 (nominally managed grassland)
cropland    SOC_ref × 0.530 [D] (Chinese cropland 37.4 / 70.6; IPCC Table 5.5 is not
            in the reference notes)
wetland     the zone's "wetland soils" column (one value, no range)
mangrove    the same column (Table 2.3; the 0–100 cm mangrove soils of the 2013
            Wetlands Supplement are for stock reporting)
others      unchanged (water, built-up and bare land keep the table's value)
==========  =====================================================================

The soil cells of forest, grassland and cropland share one correlation label, so the
Monte Carlo draws SOC_ref once per iteration for all of them (a conversion between
them does not book noise from independent draws).

Default zone: ``warm_temperate_moist`` — the zone the packaged forest soil default
already came from (domain.md §0 note 3), the IPCC climate of most of central and
southern China where most plantation and new forest lies.  Set ``carbon.climate_zone``
(``--climate-zone``) to the zone of the area mapped; one run uses one zone.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from ..errors import ConfigError
from ..landcover import CODES
from .tables import CarbonTable

__all__ = ["DEFAULT_CLIMATE_ZONE", "CLIMATE_ZONES", "apply_climate_zone", "resolve_climate_zone", "soil_factors"]

log = logging.getLogger("sinks")

DEFAULT_CLIMATE_ZONE: str = "warm_temperate_moist"
"""IPCC climate zone of the soil when none is set (see the module docstring)."""

CLIMATE_ZONES: tuple[str, ...] = (
    "warm_temperate_moist", "warm_temperate_dry", "cold_temperate_moist", "cold_temperate_dry", "boreal",
    "tropical_moist",
)
"""IPCC climate zones with SOC_ref values (domain.md §0 note 3)."""

_PACKAGED = ("china", "ipcc")
_RANGE_NOTE = "; the soil-type min-max is taken as a 95 % interval [A]"


def soil_factors() -> dict[str, Any]:
    """Packaged stock-change factors per class: ``{class: {"f_lu": [c, lo, hi], ..., "source"}}``."""
    from .packaged import ipcc_tier1

    return dict(ipcc_tier1()["soil_factors"])


def resolve_climate_zone(setting: str | None, table: CarbonTable) -> str | None:
    """The zone to apply: ``None`` → the table's own zone if it has one (``ipcc:climate=...``),
    else the default zone for the packaged ``china`` table with 0–30 cm soil and no zone
    for other tables; ``"none"`` → none; a zone name → that zone."""
    if setting is None:
        if table.climate_zone is not None:
            return table.climate_zone
        packaged = table.path is None and table.name.split(":")[0] in _PACKAGED
        return DEFAULT_CLIMATE_ZONE if packaged and table.soil_depth in (None, "0-30") else None
    if str(setting).lower() == "none":
        return None
    if setting not in CLIMATE_ZONES:
        raise ConfigError(f"climate_zone: unknown IPCC climate zone {setting!r}; known: {', '.join(CLIMATE_ZONES)}, none")
    return str(setting)


def apply_climate_zone(table: CarbonTable, zone: str, *, soil_type: str = "mean") -> CarbonTable:
    """Soil cells of ``table`` from one IPCC climate zone (module docstring).

    Parameters
    ----------
    table : CarbonTable
        Table on the sinks legend (codes of :data:`sinks.landcover.CODES`); classes it
        lacks are skipped.
    zone : str
        One of :data:`CLIMATE_ZONES`.
    soil_type : str
        ``"mean"`` (mean of the zone's Table 2.3 columns, range min–max of the mineral
        soil types) or one column: ``hac``, ``lac``, ``sandy``, ``spodic``, ``volcanic``
        (no range).

    Returns
    -------
    CarbonTable
        Same codes, soil cells replaced, ``climate_zone`` set; sources name the zone.

    Raises
    ------
    ConfigError
        Unknown zone or soil type, or a 0–100 cm table (Table 2.3 is 0–30 cm).
    """
    from .packaged import ipcc_tier1

    if zone not in CLIMATE_ZONES:
        raise ConfigError(f"climate_zone: unknown IPCC climate zone {zone!r}; known: {', '.join(CLIMATE_ZONES)}")
    if table.soil_depth == "0-100":
        raise ConfigError("climate_zone: IPCC SOC_ref values are for 0-30 cm soil; the table is 0-100 cm "
                          "(use soil_depth 0-30, or climate_zone none)")
    d = ipcc_tier1()
    soc = {k: float(v) for k, v in d["soc_ref"][zone].items()}
    mineral = {k: v for k, v in soc.items() if k != "wetland"}
    if soil_type == "mean":
        ref = sum(soc.values()) / len(soc)
        lo, hi = min(min(mineral.values()), ref), max(max(mineral.values()), ref)
        what = f"mean of the Table 2.3 columns of {zone} ({', '.join(f'{k} {v:g}' for k, v in soc.items())})"
    elif soil_type in mineral:
        ref = lo = hi = mineral[soil_type]
        what = f"{zone}, soil type {soil_type}"
    else:
        raise ConfigError(f"soil_type: unknown soil type {soil_type!r} for {zone}; known: mean, {', '.join(mineral)}")
    ref_src = f"{d['soc_ref_source']}; SOC_ref = {ref:.2f} Mg C/ha, {what}"
    group = f"soc_ref:{zone}"
    t = table
    for cls, f in soil_factors().items():
        code = CODES[cls]
        if code not in t:
            continue
        prod = [1.0, 1.0, 1.0]
        for key in ("f_lu", "f_mg", "f_i"):
            c, flo, fhi = (float(v) for v in f[key])
            prod = [prod[0] * c, prod[1] * flo, prod[2] * fhi]
        factor = prod[0]
        note = (f"{ref_src} x F_LU x F_MG x F_I = {factor:.3f} ({f['source']}; factor range "
                f"{prod[1]:.3f}-{prod[2]:.3f} shown, not drawn)" if factor != 1 else f"{ref_src} x factors 1 ({f['source']})")
        t = t.with_values(code, "soil", ref * factor, lo * factor, hi * factor, note + _RANGE_NOTE,
                          level=0.95, group=group)
    wet = soc["wetland"]
    for cls in ("wetland", "mangrove"):
        code = CODES[cls]
        if code in t:
            t = t.with_values(code, "soil", wet, wet, wet, f"{d['soil_factors_wetland_source']}; {zone}: {wet:g} Mg C/ha",
                              group="")
    log.info("soil organic carbon from IPCC climate zone %s (%s)", zone, soil_type)
    return replace(t, climate_zone=zone, _index={})
