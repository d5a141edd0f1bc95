"""The sinks land-cover legend and mappings from other legends.

Codes are ``uint8``; ``0`` is nodata and never a class.  Colours follow the ESA
WorldCover palette where the classes coincide, so maps read familiar to analysts.

Cross-walks to other products (ESA WorldCover, CLCD, InVEST-style lucode tables)
let existing land-cover maps be used as input or as training labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .errors import ConfigError

__all__ = [
    "NODATA",
    "LandCoverClass",
    "CLASSES",
    "CODES",
    "NAMES",
    "ECOLOGICAL",
    "code_of",
    "name_of",
    "legend_json",
    "colormap",
    "WORLDCOVER_TO_SINKS",
    "CLCD_TO_SINKS",
    "remap_lut",
]

NODATA: int = 0
"""Land-cover nodata code."""


@dataclass(frozen=True)
class LandCoverClass:
    """One legend entry.

    Attributes
    ----------
    code : int
        uint8 code written to rasters.
    name : str
        Machine name (``forest``, ``built_up`` ...).
    label : str
        Human label for maps and reports.
    colour : str
        Hex colour ``#rrggbb``.
    """

    code: int
    name: str
    label: str
    colour: str


CLASSES: tuple[LandCoverClass, ...] = (
    LandCoverClass(1, "forest", "Forest", "#006400"),
    LandCoverClass(2, "grassland", "Grassland", "#c8c83c"),
    LandCoverClass(3, "wetland", "Wetland", "#0096a0"),
    LandCoverClass(4, "mangrove", "Mangrove", "#00cf75"),
    LandCoverClass(5, "water", "Water", "#0064c8"),
    LandCoverClass(6, "cropland", "Cropland", "#f096ff"),
    LandCoverClass(7, "built_up", "Built-up", "#fa0000"),
    LandCoverClass(8, "bare", "Bare", "#b4b4b4"),
)

CODES: dict[str, int] = {c.name: c.code for c in CLASSES}
NAMES: dict[int, str] = {c.code: c.name for c in CLASSES}

#: Classes that count as ecological land for encroachment (domain.md §3, DESIGN §2).
ECOLOGICAL: tuple[str, ...] = ("forest", "grassland", "wetland", "mangrove", "water")

#: ESA WorldCover (v100/v200) codes to sinks names.  Shrubland maps to grassland by
#: default: China counts only *specially designated* shrubland as forest
#: (domain.md §4), which a cover class alone cannot tell.
WORLDCOVER_TO_SINKS: dict[int, str] = {
    10: "forest",
    20: "grassland",
    30: "grassland",
    40: "cropland",
    50: "built_up",
    60: "bare",
    70: "bare",
    80: "water",
    90: "wetland",
    95: "mangrove",
    100: "grassland",
}

#: CLCD (Yang & Huang 2021, ESSD 13:3907) codes to sinks names.  CLCD has no
#: mangrove class; coastal mangroves fall in its forest or wetland classes.
CLCD_TO_SINKS: dict[int, str] = {
    1: "cropland",
    2: "forest",
    3: "grassland",
    4: "grassland",
    5: "water",
    6: "bare",
    7: "bare",
    8: "built_up",
    9: "wetland",
}

_NAMED_MAPPINGS: dict[str, Mapping[int, str]] = {
    "worldcover": WORLDCOVER_TO_SINKS,
    "esa_worldcover": WORLDCOVER_TO_SINKS,
    "clcd": CLCD_TO_SINKS,
}


def code_of(name: str) -> int:
    """Return the code of a class name, raising :class:`ConfigError` naming the legend."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in ("builtup", "built"):
        key = "built_up"
    try:
        return CODES[key]
    except KeyError:
        raise ConfigError(
            f"unknown land-cover class {name!r}; the legend has {', '.join(CODES)}"
        ) from None


def name_of(code: int) -> str:
    """Return the class name of ``code`` (``nodata`` for :data:`NODATA`)."""
    if int(code) == NODATA:
        return "nodata"
    try:
        return NAMES[int(code)]
    except KeyError:
        raise ConfigError(f"unknown land-cover code {code}") from None


def legend_json(*, with_colours: bool = False) -> dict:
    """Legend as a JSON-ready mapping ``{"<code>": "<name>"}`` (or name + colour)."""
    out: dict = {str(NODATA): "nodata" if not with_colours else {"name": "nodata", "label": "No data",
                                                                  "colour": "#00000000"}}
    for c in CLASSES:
        out[str(c.code)] = c.name if not with_colours else {"name": c.name, "label": c.label, "colour": c.colour}
    return out


def colormap() -> dict[int, tuple[int, int, int, int]]:
    """The legend's colours as a GDAL colour table, ``code -> (r, g, b, a)`` (nodata transparent)."""
    cmap = {NODATA: (0, 0, 0, 0)}
    for c in CLASSES:
        h = c.colour.lstrip("#")
        cmap[c.code] = (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), 255)
    return cmap


def remap_lut(mapping: Mapping[int, str] | str, *, max_code: int = 65535) -> np.ndarray:
    """Lookup table from another legend's codes to sinks codes.

    Parameters
    ----------
    mapping : mapping of int to str, or str
        ``{foreign_code: sinks_name}`` or the name of a packaged mapping
        (``"worldcover"``, ``"clcd"``).
    max_code : int
        Largest foreign code the table must cover.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array; unmapped codes map to :data:`NODATA`.
    """
    if isinstance(mapping, str):
        try:
            mapping = _NAMED_MAPPINGS[mapping.lower()]
        except KeyError:
            raise ConfigError(
                f"unknown legend mapping {mapping!r}; known: {', '.join(sorted(_NAMED_MAPPINGS))}"
            ) from None
    size = max(max(mapping, default=0), 0) + 1
    lut = np.zeros(max(size, 256) if max_code < 256 else size, dtype=np.uint8)
    for foreign, name in mapping.items():
        lut[int(foreign)] = code_of(name)
    return lut
