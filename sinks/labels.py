"""Readable labels for the indicator columns (``stock_mg_c_total_2015`` → ``carbon stock 2015 (Mg C)``).

Column names carry their unit and epoch or period (``docs/outputs.md``); reports, maps,
popups and the field aliases of the GeoPackage tables show them as words with the unit
in brackets.  Unknown names come back unchanged.
"""

from __future__ import annotations

import re

__all__ = ["class_label", "column_label", "column_unit", "header_label"]

# (pattern, label template, unit); {t} is the epoch or period ("2015", "2015–2020")
_RULES: tuple[tuple[str, str, str], ...] = (
    (r"forest_coverage_pct_max_(?P<t>.+)", "forest coverage, upper bound {t}", "%"),
    (r"forest_coverage_pct_(?P<t>.+)", "forest coverage {t}", "%"),
    (r"forest_area_ha_(?P<t>.+)", "forest area {t}", "ha"),
    (r"zone_area_ha(?:_(?P<t>.+))?", "zone area {t}", "ha"),
    (r"unobserved_fraction_(?P<t>.+)", "unobserved share {t}", "fraction"),
    (r"unobserved_ha_(?P<t>.+)", "unobserved {t}", "ha"),
    (r"coverage_flagged_(?P<t>.+)", "coverage flagged {t}", ""),
    (r"area_ha_(?P<c>[a-z_]+?)_(?P<t>\d.*)", "class area, {c} {t}", "ha"),
    (r"stock_mg_c_total_(?P<t>.+?)_lo", "carbon stock {t}, 95 % low", "Mg C"),
    (r"stock_mg_c_total_(?P<t>.+?)_hi", "carbon stock {t}, 95 % high", "Mg C"),
    (r"stock_mg_c_total_(?P<t>.+)", "carbon stock {t}", "Mg C"),
    (r"stock_mg_c_(?P<c>above|below|dead|soil)_(?P<t>.+)", "carbon stock, {c} {t}", "Mg C"),
    (r"stock_mg_c_(?P<t>\d.*)", "carbon stock {t}", "Mg C"),
    (r"volume_m3_(?P<t>.+)", "stock volume {t}", "m³"),
    (r"sink_mg_c_per_yr_(?P<t>.+?)_lo", "sink {t}, 95 % low", "Mg C/yr"),
    (r"sink_mg_c_per_yr_(?P<t>.+?)_hi", "sink {t}, 95 % high", "Mg C/yr"),
    (r"sink_mg_c_per_yr_(?P<t>.+)", "sink {t}", "Mg C/yr"),
    (r"sink_tco2e_per_yr_(?P<t>.+)", "sink {t}", "t CO₂e/yr"),
    (r"sink_method_(?P<t>.+)", "sink method {t}", ""),
    (r"stock_difference_mg_c_per_yr_(?P<t>.+)", "stock difference {t}", "Mg C/yr"),
    (r"gain_mg_c_per_yr_(?P<t>.+)", "gain of forest {t}", "Mg C/yr"),
    (r"eco_land_lost_ha_(?P<t>.+)", "ecological land lost {t}", "ha"),
    (r"encroachment_ha_(?P<t>.+)", "encroachment {t}", "ha"),
)
_COMPILED = tuple((re.compile(p + r"$"), label, unit) for p, label, unit in _RULES)


def _period(t: str | None) -> str:
    return "" if not t else t.replace("_", "–")


def _match(name: str) -> tuple[str, str] | None:
    for rx, label, unit in _COMPILED:
        m = rx.match(name)
        if m:
            groups = m.groupdict()
            text = label.format(t=_period(groups.get("t")), c=(groups.get("c") or "").replace("_", "-"))
            return " ".join(text.split()).replace(" ,", ","), unit
    return None


def column_label(name: str, *, unit: bool = True) -> str:
    """The readable label of an indicator column, with its unit in brackets (``unit=True``).

    >>> column_label("stock_mg_c_total_2015")
    'carbon stock 2015 (Mg C)'
    >>> column_label("sink_mg_c_per_yr_2020_2025")
    'sink 2020–2025 (Mg C/yr)'
    >>> column_label("region_id")
    'region_id'
    """
    got = _match(name)
    if got is None:
        return name
    text, u = got
    return f"{text} ({u})" if unit and u else text


def column_unit(name: str) -> str:
    """The unit of an indicator column (``""`` when unknown or unitless)."""
    got = _match(name)
    return got[1] if got else ""


def header_label(name: str) -> str:
    """A table header or popup label: :func:`column_label` for an indicator column, otherwise
    the name in words (``region_id`` → ``region id``).

    >>> header_label("region_id"), header_label("forest_coverage_pct_2025")
    ('region id', 'forest coverage 2025 (%)')
    """
    got = column_label(name)
    return got if got != name else name.replace("_", " ")


def class_label(name: str) -> str:
    """The legend's label of a land-cover class (``built_up`` → ``Built-up``); other names unchanged."""
    from .landcover import CLASSES

    return next((c.label for c in CLASSES if c.name == name), name)
