"""The data files packaged with sinks (``sinks/data``) and the national default carbon table."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .tableio import read_table_csv
from .tables import SOIL_DEPTHS, CarbonTable

__all__ = ["data_path", "china_table", "ipcc_tier1"]


def data_path(name: str) -> Path:
    """Path of the packaged data file ``name`` (``sinks/data/<name>``)."""
    return Path(str(resources.files("sinks") / "data" / name))


@lru_cache(maxsize=4)
def china_table(*, soil_depth: str = "0-30") -> CarbonTable:
    """The packaged national defaults for China (domain.md §0) on the sinks legend.

    Parameters
    ----------
    soil_depth : {"0-30", "0-100"}
        0–30 cm SOC (IPCC default depth, for change accounting) or 0–100 cm (stock
        reporting).  Mangrove 0–30 cm and cropland 0–100 cm have no sourced value; the
        table flags the substitutes it uses as ``[A]``.
    """
    if soil_depth not in SOIL_DEPTHS:
        raise ConfigError(f"soil_depth must be one of {', '.join(SOIL_DEPTHS)}, got {soil_depth!r}")
    t = read_table_csv(data_path("carbon_china.csv"), soil_depth=soil_depth)
    return replace(t, name="china", path=None, _index={})


@lru_cache(maxsize=1)
def ipcc_tier1() -> dict[str, Any]:
    """The IPCC Tier 1 values of ``ipcc_tier1.yaml`` (read once), for :mod:`sinks.carbon.ipcc` and
    :mod:`sinks.carbon.soil`."""
    import yaml

    return yaml.safe_load(data_path("ipcc_tier1.yaml").read_text(encoding="utf-8"))
