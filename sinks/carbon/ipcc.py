"""IPCC Tier 1 carbon densities by ecological zone and climate, on the sinks legend.

Values live in ``sinks/data/ipcc_tier1.yaml`` with their sources and status flags
(domain.md §0–§1); :func:`ipcc_table` substitutes them into the China defaults.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import ConfigError
from ..landcover import CODES
from .packaged import china_table, ipcc_tier1
from .tables import CarbonTable

__all__ = ["ipcc_table", "IPCC_GEZ", "IPCC_CLIMATES"]


def _ipcc_keys() -> tuple[tuple[str, ...], tuple[str, ...]]:
    d = ipcc_tier1()
    return tuple(d["forest_gez"]), tuple(d["soc_ref"])


IPCC_GEZ: tuple[str, ...] = (
    "tropical_rain_forest", "tropical_moist_deciduous", "subtropical_humid", "subtropical_dry", "subtropical_steppe",
    "subtropical_mountain", "temperate_continental", "temperate_continental_young", "temperate_mountain",
    "temperate_mountain_young", "boreal_coniferous",
)
"""FAO global ecological zones with IPCC Tier 1 forest AGB (domain.md §1)."""

IPCC_CLIMATES: tuple[str, ...] = (
    "warm_temperate_moist", "warm_temperate_dry", "cold_temperate_moist", "cold_temperate_dry", "boreal",
    "tropical_moist",
)
"""IPCC climate regions with SOC_ref values (domain.md §0 note 3)."""


def ipcc_table(*, gez: str = "subtropical_humid", climate: str = "warm_temperate_moist", soil: str = "mean",
               grassland_climate: str | None = None, mangrove: str = "subtropical", mangrove_soil: str = "mineral",
               dom: str = "china", leaf: str = "needleleaf", soil_depth: str = "0-30") -> CarbonTable:
    """IPCC Tier 1 densities by zone, substituted into the China defaults.

    Replaced cells (all others keep the China value of :func:`china_table`):

    * forest ``above`` = AGB(GEZ) × 0.47 and ``below`` = above × root:shoot(GEZ)
      (IPCC 2006 Tables 4.7, 4.4, 4.3); ranges from the AGB range and R range;
    * forest, grassland ``soil`` (0–30 cm) = SOC_ref(climate, soil) of Table 2.3,
      cropland the same × its stock-change factor, wetland and mangrove ``soil`` = the
      "wetland soils" column (:func:`sinks.carbon.soil.apply_climate_zone`); ``soil="mean"`` averages the soil
      types and spans their min–max; a named type (``hac``, ``lac``, ``sandy``,
      ``spodic``, ``volcanic``) has no range.  With ``soil_depth="0-100"`` the soil
      stays the China 0–100 cm value (Table 2.3 is 0–30 cm only);
    * grassland ``above``/``below`` = Table 6.4 total non-woody biomass × 0.47 split
      with Table 6.1 root:shoot (by ``grassland_climate``, default ``climate``);
    * mangrove ``above``/``below``/``dead`` by zone (``tropical_wet``, ``tropical_dry``,
      ``subtropical``) and ``soil`` (``mineral``, ``organic``, ``pooled``; 0–30 cm taken
      as 30 % of the 0–100 cm value) from the IPCC 2013 Wetlands Supplement;
    * with ``dom="ipcc"`` forest ``dead`` = Table 2.2 litter for ``climate`` and
      ``leaf`` (``broadleaf``/``needleleaf``); these exceed China's measured DOM, so
      the default keeps the China value.

    Returns
    -------
    CarbonTable
        Named ``ipcc:gez=...,climate=...,...``.
    """
    d = ipcc_tier1()
    base = china_table(soil_depth=soil_depth)
    gezs, climates = _ipcc_keys()
    if gez not in gezs:
        raise ConfigError(f"unknown IPCC ecological zone {gez!r}; known: {', '.join(gezs)}")
    if climate not in climates:
        raise ConfigError(f"unknown IPCC climate region {climate!r}; known: {', '.join(climates)}")
    g_clim = grassland_climate or climate
    if g_clim not in d["grassland"]:
        raise ConfigError(f"unknown grassland climate {g_clim!r}; known: {', '.join(d['grassland'])}")
    if mangrove not in d["mangrove"]:
        raise ConfigError(f"unknown mangrove zone {mangrove!r}; known: {', '.join(d['mangrove'])}")
    if mangrove_soil not in d["mangrove_soil_0_100"]:
        raise ConfigError(f"unknown mangrove soil {mangrove_soil!r}; known: {', '.join(d['mangrove_soil_0_100'])}")
    if dom not in ("china", "ipcc"):
        raise ConfigError(f"dom must be 'china' or 'ipcc', got {dom!r}")
    cf = float(d["carbon_fraction"]["value"])
    t = base
    forest, grass, wet, mang = CODES["forest"], CODES["grassland"], CODES["wetland"], CODES["mangrove"]

    # forest biomass by GEZ
    z = d["forest_gez"][gez]
    (a_c, a_lo, a_hi), (r_c, r_lo, r_hi) = z["agb"], z["root_shoot"]
    src = z["source"] + f"; x CF {cf} [V]"
    t = t.with_values(forest, "above", a_c * cf, a_lo * cf, a_hi * cf, src)
    t = t.with_values(forest, "below", a_c * cf * r_c, a_lo * cf * min(r_lo, r_c), a_hi * cf * max(r_hi, r_c),
                      src + " x root:shoot")

    # soil by climate
    soc = d["soc_ref"][climate]
    mineral = {k: float(v) for k, v in soc.items() if k != "wetland"}
    if soil_depth == "0-30":
        if soil == "mean":
            vals = list(soc.values())
            s_c, s_lo, s_hi = float(np.mean(vals)), float(min(mineral.values())), float(max(mineral.values()))
            s_c = round(s_c, 6)
            s_lo, s_hi = min(s_lo, s_c), max(s_hi, s_c)
        elif soil in mineral:
            s_c = s_lo = s_hi = mineral[soil]
        else:
            raise ConfigError(f"unknown soil type {soil!r} for {climate}; known: mean, {', '.join(mineral)}")
        s_src = f"{d['soc_ref_source']}; climate {climate}, soil {soil}"
        t = t.with_values(forest, "soil", s_c, s_lo, s_hi, s_src)
        t = t.with_values(grass, "soil", s_c, s_lo, s_hi, s_src)
        w = float(soc["wetland"])
        t = t.with_values(wet, "soil", w, w, w, f"{d['soc_ref_source']}; climate {climate}, wetland soils")

    # grassland biomass
    gl = d["grassland"][g_clim]
    total_c, r = float(gl["biomass"]) * cf, float(gl["root_shoot"])
    g_src = f"{d['grassland_source']}; climate {g_clim}"
    t = t.with_values(grass, "above", total_c / (1 + r), None, None, g_src)
    t = t.with_values(grass, "below", total_c * r / (1 + r), None, None, g_src)

    # mangroves
    m = d["mangrove"][mangrove]
    mcf = float(d["mangrove_carbon_fraction"])
    agb = float(m["agb"]) * mcf
    t = t.with_values(mang, "above", agb, None, None, m["source"])
    t = t.with_values(mang, "below", agb * float(m["root_shoot"]), None, None, m["source"])
    t = t.with_values(mang, "dead", float(m["dom"]), None, None, m["source"])
    ms_c, ms_lo, ms_hi = (float(v) for v in d["mangrove_soil_0_100"][mangrove_soil])
    f = 0.3 if soil_depth == "0-30" else 1.0
    ms_src = d["mangrove_soil_source"] + f"; {mangrove_soil}" + (
        "; 0-30 cm = 30 % of 0-100 cm assuming carbon uniform with depth [A]" if f != 1.0 else "")
    t = t.with_values(mang, "soil", ms_c * f, ms_lo * f, ms_hi * f, ms_src)

    # optional IPCC litter
    if dom == "ipcc":
        lit = d["forest_litter"][climate]
        if leaf not in lit:
            raise ConfigError(f"leaf must be 'broadleaf' or 'needleleaf', got {leaf!r}")
        lv = float(lit[leaf])
        t = t.with_values(forest, "dead", lv, min(lit.values()), max(lit.values()),
                          f"{d['forest_litter_source']}; {climate} {leaf}")
    opts = dict(gez=gez, climate=climate, soil=soil, mangrove=mangrove, mangrove_soil=mangrove_soil, dom=dom)
    if grassland_climate:
        opts["grassland_climate"] = grassland_climate
    if dom == "ipcc":
        opts["leaf"] = leaf
    t = replace(t, name="ipcc:" + ",".join(f"{k}={v}" for k, v in opts.items()), soil_depth=soil_depth, _index={})
    if soil_depth == "0-30":  # cropland, wetland and mangrove soil from the same zone (sinks.carbon.soil)
        from .soil import apply_climate_zone

        t = apply_climate_zone(t, climate, soil_type=soil)
    return t
