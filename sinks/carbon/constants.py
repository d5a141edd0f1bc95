"""National ratios of the volume and sink arithmetic, declared once in ``sinks/data/carbon_constants.yaml``.

:func:`carbon_constants` reads and checks that file (and the growing-stock preset it
names in ``growing_stock_china.csv``) into a :class:`CarbonConstants`; the module
constants of :mod:`sinks.carbon.volume` and :mod:`sinks.carbon.sink`, the defaults of
the spec (:class:`sinks.spec.CarbonSpec`) and of the indicator tables derive from it.

``CO2_PER_C`` (44/12, t CO₂ per t C) is a ratio of molar masses, not a sourced
coefficient: it is defined here, once.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .packaged import data_path

__all__ = ["CO2_PER_C", "Constant", "CarbonConstants", "carbon_constants", "growing_stock_presets"]

CO2_PER_C: float = 44.0 / 12.0
"""t CO₂ per t C (molar masses)."""


class Constant(BaseModel):
    """One sourced number."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: float = Field(ge=0)
    unit: str
    source: str


class CarbonConstants(BaseModel):
    """The ratios of ``carbon_constants.yaml`` (see its comments and domain.md §2, §6)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: preset of ``growing_stock_china.csv`` used when a spec gives no growing stock
    growing_stock_preset: str
    #: forest-vegetation carbon per m³ of stock (t C/m³)
    carbon_per_m3: Constant
    #: gross annual volume increment of arbor forest (m³/ha/yr); not a sink rate
    growth_m3_per_ha_yr: Constant
    #: years for soil carbon to reach its new equilibrium after a conversion
    soil_transition_years: Constant
    #: carbon fraction of dry matter with the continuous BEF
    bef_carbon_fraction: Constant

    @property
    def growing_stock_m3_per_ha(self) -> float:
        """Growing stock (m³/ha) of the default preset."""
        return float(growing_stock_presets()[self.growing_stock_preset]["m3_per_ha"])


@lru_cache(maxsize=1)
def carbon_constants() -> CarbonConstants:
    """The packaged constants (read once)."""
    import yaml

    text = data_path("carbon_constants.yaml").read_text(encoding="utf-8")
    return CarbonConstants.model_validate(yaml.safe_load(text))


@lru_cache(maxsize=1)
def growing_stock_presets() -> dict[str, dict[str, Any]]:
    """Packaged growing-stock presets (``growing_stock_china.csv``): ``{name: {"m3_per_ha", "basis", "source"}}``."""
    with data_path("growing_stock_china.csv").open(newline="", encoding="utf-8") as fh:
        return {r["preset"]: {"m3_per_ha": float(r["m3_per_ha"]), "basis": r["basis"], "source": r["source"]}
                for r in csv.DictReader(fh)}
