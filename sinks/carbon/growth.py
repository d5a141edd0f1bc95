"""Growth coefficients of the gain–loss sink: forest remaining forest and new forest.

The packaged rows (``sinks/data/forest_growth_china.yaml``) give, per row, the gross
annual volume increment and the net stock change (gross − removals − mortality) in m³
per ha of forest per year from China's national forest inventories, and, for the whole
file, the marginal carbon per m³ and the growth rate of young stands.  Each value is a
:class:`Coefficient`: central value, ``low``–``high`` range with the confidence level it
is taken at (``level``; ``None`` when the sources give no interval: then the value is
drawn as a point, and the summary says so) and its source with the domain.md status flag.

Forest remaining forest (IPCC 2006 Vol.4 Eq. 2.4, 2.9–2.11)::

    ΔC_G = A × G_V × c_m                    gross gain
    ΔC_L = A × (G_V − N_V) × c_m            removals + mortality
    ΔC   = ΔC_G − ΔC_L = A × N_V × c_m      net

with ``G_V`` the gross increment and ``N_V`` the net stock change (m³/ha/yr) and ``c_m``
the marginal carbon per m³ of stock: ``0.5 × a`` of Fang's continuous BEF
``B = a·V + b`` for the forest type (whole-tree biomass, so no root:shoot factor).  The
default row ``national_8th_9th_nfi`` with the mixed conifer–broadleaf factor gives
1.846 × 0.4068 = 0.751 Mg C/ha/yr of biomass carbon: 165 Tg C/yr on 220 Mha, against
154.8 Tg C/yr (Yang et al. 2022, 2009–2018) and 114.5 Tg C/yr (Chen et al. 2023).

New forest: biomass accumulates at ``young_stand`` (Mg C/ha/yr; default 0.929, from the
rise of China's plantation carbon density, Fang & Chen 2001) from the conversion on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from ..errors import ConfigError

__all__ = ["Coefficient", "ForestGrowth", "forest_growth", "growth_rows", "DEFAULT_GROWTH_ROW"]

DEFAULT_GROWTH_ROW: str = "national_8th_9th_nfi"
"""Row of the packaged growth table used when none is named."""


@dataclass(frozen=True)
class Coefficient:
    """One coefficient with its range, the confidence level of the range, and its source.

    Attributes
    ----------
    name : str
        What it is (e.g. ``"net stock change"``).
    central, low, high : float
    unit : str
    level : float or None
        Confidence level the ``low``–``high`` range is taken at; ``None`` when the source
        gives no range (then ``low == high == central``).
    source : str
        Source, starting with the domain.md status flag.
    """

    name: str
    central: float
    low: float
    high: float
    unit: str
    level: float | None
    source: str

    def __post_init__(self) -> None:
        for v in (self.central, self.low, self.high):
            if not math.isfinite(v):
                raise ConfigError(f"{self.name}: {v} is not a finite number")
        if not self.low <= self.central <= self.high:
            raise ConfigError(f"{self.name}: range must satisfy low <= central <= high, got "
                              f"{self.low:g}, {self.central:g}, {self.high:g}")
        if self.level is not None and not 0 < self.level < 1:
            raise ConfigError(f"{self.name}: confidence level must lie between 0 and 1, got {self.level}")

    @property
    def has_range(self) -> bool:
        """True when the coefficient is drawn (a non-zero range at a stated level)."""
        return self.level is not None and self.high > self.low

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "central": self.central, "low": self.low, "high": self.high, "unit": self.unit,
                "level": self.level, "source": self.source}


@dataclass(frozen=True)
class ForestGrowth:
    """Coefficients of the gain–loss sink (module docstring).

    Attributes
    ----------
    row : str
        Row of the growth table (or ``"user"`` for a rate given directly).
    description : str
    forest_type : str
        Forest type of the marginal carbon factor.
    gross_increment : Coefficient or None
        ``G_V``, m³/ha/yr (``None`` when the sources give none for the row).
    net_stock_change : Coefficient
        ``N_V``, m³/ha/yr; for a ``"user"`` row the net carbon gain itself (Mg C/ha/yr,
        with ``marginal_carbon`` 1).
    marginal_carbon : Coefficient
        ``c_m``, t C/m³.
    young_rate : Coefficient
        Biomass growth of land converted to forest, Mg C/ha/yr.
    dom_transition_years : float
        Years for dead wood and litter of new forest to reach the forest density.
    """

    row: str
    description: str
    forest_type: str
    gross_increment: Coefficient | None
    net_stock_change: Coefficient
    marginal_carbon: Coefficient
    young_rate: Coefficient
    dom_transition_years: float
    dom_source: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def net_mg_c_per_ha_yr(self) -> float:
        """Net biomass carbon gain of forest remaining forest, Mg C/ha/yr."""
        return self.net_stock_change.central * self.marginal_carbon.central

    @property
    def gross_mg_c_per_ha_yr(self) -> float | None:
        """Gross gain ``G_V × c_m`` (``None`` without a gross increment)."""
        if self.gross_increment is None:
            return None
        return self.gross_increment.central * self.marginal_carbon.central

    @property
    def losses_mg_c_per_ha_yr(self) -> float | None:
        """Removals + mortality ``(G_V − N_V) × c_m`` (``None`` without a gross increment)."""
        g = self.gross_mg_c_per_ha_yr
        return None if g is None else g - self.net_mg_c_per_ha_yr

    def coefficients(self) -> list[Coefficient]:
        """Every coefficient used, in order."""
        return [c for c in (self.gross_increment, self.net_stock_change, self.marginal_carbon, self.young_rate)
                if c is not None]

    def without_ranges(self) -> list[str]:
        """Names of the coefficients that are drawn as points (no range in the sources)."""
        return [c.name for c in (self.net_stock_change, self.marginal_carbon, self.young_rate) if not c.has_range]

    def with_young_rate(self, rate: float, *, source: str = "user setting") -> "ForestGrowth":
        """Copy with the young-stand rate replaced by a point value (Mg C/ha/yr)."""
        return replace(self, young_rate=Coefficient("young-stand growth", float(rate), float(rate), float(rate),
                                                    "Mg C/ha/yr", None, source))

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row, "description": self.description, "forest_type": self.forest_type,
            "net_mg_c_per_ha_yr": self.net_mg_c_per_ha_yr, "gross_mg_c_per_ha_yr": self.gross_mg_c_per_ha_yr,
            "losses_mg_c_per_ha_yr": self.losses_mg_c_per_ha_yr,
            "young_stand_mg_c_per_ha_yr": self.young_rate.central,
            "dom_transition_years": self.dom_transition_years,
            "coefficients": [c.to_dict() for c in self.coefficients()],
            "without_range": self.without_ranges(), "notes": list(self.notes),
        }


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    import yaml

    from .packaged import data_path

    return yaml.safe_load(data_path("forest_growth_china.yaml").read_text(encoding="utf-8"))


def growth_rows() -> dict[str, str]:
    """Rows of the packaged growth table: ``{row: description}``."""
    return {k: v["description"] for k, v in _data()["rows"].items()}


def _triple(v: Any) -> tuple[float, float, float]:
    if isinstance(v, (list, tuple)):
        c, lo, hi = (float(x) for x in v)
        return c, lo, hi
    return float(v), float(v), float(v)


def forest_growth(row: str | None = None, *, forest_type: str | None = None,
                  net_mg_c_per_ha_yr: float | None = None, young_mg_c_per_ha_yr: float | None = None) -> ForestGrowth:
    """Coefficients of the gain–loss sink from the packaged table.

    Parameters
    ----------
    row : str, optional
        Row of ``forest_growth_china.yaml`` (default :data:`DEFAULT_GROWTH_ROW`):
        ``national_8th_9th_nfi``, ``national_8th_nfi``, ``national_9th_nfi``,
        ``natural_8th_9th_nfi``, ``plantation_8th_9th_nfi``.
    forest_type : str, optional
        Row of ``bef_china.csv`` whose ``a`` gives the marginal carbon ``0.5·a`` (no
        range: the sources give none per type).  Default: the mixed conifer–broadleaf
        factor with its range.
    net_mg_c_per_ha_yr : float, optional
        A net gain of forest remaining forest given directly (Mg C/ha/yr, no range);
        replaces the row (``row`` is then ``"user"``).
    young_mg_c_per_ha_yr : float, optional
        A young-stand growth rate given directly (Mg C/ha/yr, no range).

    Returns
    -------
    ForestGrowth

    Raises
    ------
    ConfigError
        Unknown row or forest type.
    """
    d = _data()
    yc, ylo, yhi = _triple(d["young_stand"]["mg_c_per_ha_yr"])
    young = Coefficient("young-stand growth", yc, ylo, yhi, "Mg C/ha/yr", d["young_stand"].get("level"),
                        d["young_stand"]["source"].strip())
    dom_years = float(d["dom_transition_years"])
    if net_mg_c_per_ha_yr is not None:
        v = float(net_mg_c_per_ha_yr)
        g = ForestGrowth(
            row="user", description="net gain of forest remaining forest given directly", forest_type="-",
            gross_increment=None,
            net_stock_change=Coefficient("net carbon gain (user)", v, v, v, "Mg C/ha/yr", None, "user setting"),
            marginal_carbon=Coefficient("marginal carbon (rate given in carbon)", 1.0, 1.0, 1.0, "-", None, "-"),
            young_rate=young, dom_transition_years=dom_years, dom_source=d["dom_transition_source"])
    else:
        name = row or d["default_row"]
        rows = d["rows"]
        if name not in rows:
            raise ConfigError(f"growth row {name!r} is not in the packaged table; known: {', '.join(rows)}")
        r = rows[name]
        gross = None
        if r.get("gross_increment_m3_per_ha_yr") is not None:
            gc, glo, ghi = _triple(r["gross_increment_m3_per_ha_yr"])
            gross = Coefficient("gross increment", gc, glo, ghi, "m3/ha/yr", None, r["gross_source"].strip())
        nc, nlo, nhi = _triple(r["net_stock_change_m3_per_ha_yr"])
        net = Coefficient("net stock change (gross - removals - mortality)", nc, nlo, nhi, "m3/ha/yr",
                          r.get("net_level") if nhi > nlo else None, r["net_source"].strip())
        ftype = forest_type or d["default_forest_type"]
        if forest_type is None or forest_type == d["default_forest_type"]:
            mc, mlo, mhi = _triple(d["marginal_carbon"]["t_c_per_m3"])
            marg = Coefficient("marginal carbon per m3 (0.5 a)", mc, mlo, mhi, "t C/m3",
                               d["marginal_carbon"].get("level"), d["marginal_carbon"]["source"].strip())
        else:
            from .volume import bef_parameters

            try:
                a, _b, src = bef_parameters(forest_type)  # type: ignore[misc]
            except ConfigError:
                raise
            marg = Coefficient("marginal carbon per m3 (0.5 a)", 0.5 * a, 0.5 * a, 0.5 * a, "t C/m3", None,
                               f"[D] 0.5 x a = 0.5 x {a:g}, {src}; no range in the sources")
        g = ForestGrowth(row=name, description=r["description"], forest_type=ftype, gross_increment=gross,
                         net_stock_change=net, marginal_carbon=marg, young_rate=young, dom_transition_years=dom_years,
                         dom_source=d["dom_transition_source"])
    if young_mg_c_per_ha_yr is not None:
        g = g.with_young_rate(young_mg_c_per_ha_yr)
    return g
