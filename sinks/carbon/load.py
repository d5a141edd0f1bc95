"""The entry point for carbon tables: :func:`load_table` (named tables, files, mappings)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from ..errors import CoefficientError, ConfigError
from .ipcc import ipcc_table
from .packaged import china_table
from .soil import apply_climate_zone, resolve_climate_zone
from .tableio import parse_lucode_map, read_table_csv, read_table_mapping, rekey_table, table_from_mapping
from .tables import CarbonTable

__all__ = ["load_table"]


def _parse_named(source: str) -> tuple[str, dict[str, str]]:
    name, _, rest = source.partition(":")
    opts: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        k, eq, v = part.partition("=")
        if not eq:
            raise ConfigError(f"carbon table {source!r}: expected key=value, got {part!r}")
        opts[k.strip()] = v.strip()
    return name.strip().lower(), opts



def load_table(source: "CarbonTable | str | os.PathLike | Mapping[str, Any]" = "china", *,
               soil_depth: str | None = None, lucode_map: Mapping | str | os.PathLike | None = None,
               climate_zone: str | None = None, soil_type: str = "mean") -> CarbonTable:
    """Load a carbon coefficient table.

    Parameters
    ----------
    source : CarbonTable, str, path or mapping
        ``"china"`` (packaged defaults), ``"ipcc"`` / ``"ipcc:gez=...,climate=..."``
        (:func:`ipcc_table` keyword options), a ``.csv`` (InVEST or long format),
        ``.yaml``/``.yml``/``.json`` file, a mapping in the YAML structure, or a table.
    soil_depth : {"0-30", "0-100"}, optional
        Soil depth for the packaged and long-format tables (default ``"0-30"``).
    lucode_map : mapping or path, optional
        Re-key a lucode table onto the sinks legend (:func:`parse_lucode_map`).
    climate_zone : str, optional
        IPCC climate zone of the soil (:func:`sinks.carbon.soil.apply_climate_zone`).
        ``None``: the default zone (``warm_temperate_moist``) for the packaged tables with
        0–30 cm soil, none for files, mappings and tables passed in (their soil is kept,
        so InVEST tables keep InVEST's values); ``"none"``: keep the table's soil; a zone
        name: that zone for any table on the sinks legend.
    soil_type : str
        ``"mean"`` of the zone's soil types, or one type (``hac``, ``lac``, ``sandy``, ...).

    Returns
    -------
    CarbonTable

    Raises
    ------
    CoefficientError
        The table is missing or malformed (one line naming the file, row and column).
    ConfigError
        Unknown named table or option.
    """
    if isinstance(source, CarbonTable):
        table = source
    elif isinstance(source, Mapping):
        table = table_from_mapping(source)
    else:
        text = os.fspath(source)
        lower = text.lower()
        if lower.endswith((".yaml", ".yml", ".json")):
            table = read_table_mapping(Path(text))
        elif lower.endswith((".csv", ".txt")) or os.sep in text or os.path.exists(text):
            table = read_table_csv(text, soil_depth=soil_depth)
        else:
            name, opts = _parse_named(text)
            if name == "china":
                if opts:
                    raise ConfigError(f"carbon table 'china' takes no options, got {text!r}")
                table = china_table(soil_depth=soil_depth or "0-30")
            elif name == "ipcc":
                try:
                    table = ipcc_table(soil_depth=soil_depth or "0-30", **opts)
                except TypeError:
                    raise ConfigError(
                        f"carbon table {text!r}: unknown option; use gez, climate, soil, grassland_climate, "
                        f"mangrove, mangrove_soil, dom, leaf"
                    ) from None
            else:
                raise CoefficientError(f"{text}: carbon table not found (and not a named table: china, ipcc)")
    if lucode_map is not None:
        table = rekey_table(table, parse_lucode_map(lucode_map))
    zone = resolve_climate_zone(climate_zone, table)
    if zone is not None and table.climate_zone != zone:
        table = apply_climate_zone(table, zone, soil_type=soil_type)
    return table
