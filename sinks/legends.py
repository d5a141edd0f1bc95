"""Legends of land-cover maps used as input to the indicators: codes → indicator classes.

The indicators (:mod:`sinks.indicators`) count the sinks classes (forest, grassland,
wetland, mangrove, water, cropland, built_up, bare) plus **shrubland**, kept apart
because China counts specially designated shrubland (国家特别规定灌木林地) as forest in
its coverage rate (domain.md §4).  For carbon, shrubland is carried at grassland
densities (the carbon table has no shrub row).

A legend maps every code of the input map to one of those classes; codes it does
not list, the map's nodata and code 0 are unobserved area.  Packaged legends:

``sinks``
    The sinks codes (``sinks legend``): 1 forest … 8 bare.  No shrub class.
``clcd``
    CLCD, China Land Cover Dataset (Yang & Huang 2021, ESSD 13:3907): 1 cropland,
    2 forest, 3 shrub, 4 grassland, 5 water, 6 snow/ice → bare, 7 barren → bare,
    8 impervious → built_up, 9 wetland.  CLCD has no mangrove class.
``worldcover``
    ESA WorldCover v100/v200: 10 tree cover → forest, 20 shrubland, 30 grassland,
    40 cropland, 50 built-up, 60 bare, 70 snow/ice → bare, 80 water, 90 herbaceous
    wetland → wetland, 95 mangroves → mangrove, 100 moss/lichen → grassland.

A user legend is a YAML mapping ``{code: class}`` (optionally under a ``classes:``
key) or a CSV with columns ``code`` and ``class``; a class of ``nodata`` marks a code
as unobserved (clouds, for instance).  Codes must lie in 1–255.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import ConfigError, first_line
from .landcover import CLCD_TO_SINKS, CODES, NAMES, WORLDCOVER_TO_SINKS

__all__ = ["INDICATOR_CLASSES", "SHRUBLAND", "IndicatorLegend", "resolve_legend", "LEGEND_NAMES", "carbon_code"]

#: The shrubland class of the indicators (not a sinks legend code).
SHRUBLAND = "shrubland"

#: Indicator classes by digit: the sinks codes 1–8, then shrubland as 9.
INDICATOR_CLASSES: dict[int, str] = {**{c: n for c, n in sorted(NAMES.items())}, max(NAMES) + 1: SHRUBLAND}
_DIGIT = {n: c for c, n in INDICATOR_CLASSES.items()}
_UNOBSERVED = ("nodata", "unobserved", "none", "")

#: Packaged legends.
LEGEND_NAMES: tuple[str, ...] = ("sinks", "clcd", "worldcover")


@dataclass(frozen=True)
class IndicatorLegend:
    """A legend of an input land-cover map.

    Attributes
    ----------
    name : str
        ``sinks``, ``clcd``, ``worldcover`` or the mapping file's path.
    classes : dict of int to str
        Input code → indicator class (:data:`INDICATOR_CLASSES` names).
    source : str
        Where the mapping comes from.
    unobserved : tuple of int
        Codes the legend marks as unobserved (``nodata``), e.g. a cloud code.
    """

    name: str
    classes: dict[int, str]
    source: str
    unobserved: tuple[int, ...] = ()

    @property
    def digits(self) -> dict[int, int]:
        """Input code → indicator digit (:data:`INDICATOR_CLASSES`; 0 for unobserved codes)."""
        return {**{code: 0 for code in self.unobserved}, **{code: _DIGIT[name] for code, name in self.classes.items()}}

    @property
    def has_shrubland(self) -> bool:
        return SHRUBLAND in self.classes.values()

    def lut(self) -> np.ndarray:
        """``uint8`` table of 256 entries: input code → indicator digit (0 = unobserved)."""
        out = np.zeros(256, dtype=np.uint8)
        for code, digit in self.digits.items():
            out[code] = digit
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "source": self.source,
                               "classes": {str(k): v for k, v in sorted(self.classes.items())}}
        if self.unobserved:
            out["unobserved_codes"] = list(self.unobserved)
        return out


def _class_name(value: Any, where: str) -> str | None:
    """Indicator class of a legend entry (``None`` = unobserved)."""
    text = "" if value is None else str(value).strip().lower().replace("-", "_").replace(" ", "_")
    if text in _UNOBSERVED:
        return None
    if text in ("builtup", "built", "impervious"):
        text = "built_up"
    if text in ("shrub", "shrubs"):
        text = SHRUBLAND
    if text not in _DIGIT:
        raise ConfigError(f"{where}: unknown class {value!r}; known: {', '.join(_DIGIT)} (or nodata)")
    return text


def _code(value: Any, where: str) -> int:
    try:
        f = float(str(value).strip())
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: code {value!r} is not a whole number") from None
    if not f.is_integer() or not 1 <= f <= 255:
        raise ConfigError(f"{where}: code {value!r} must be a whole number in 1..255 (0 is nodata)")
    return int(f)


def _from_pairs(pairs: list[tuple[Any, Any, str]], name: str, source: str) -> IndicatorLegend:
    classes: dict[int, str] = {}
    unobserved: list[int] = []
    for code, cls, where in pairs:
        c = _code(code, where)
        if c in classes or c in unobserved:
            raise ConfigError(f"{where}: code {c} listed twice")
        n = _class_name(cls, where)
        if n is None:
            unobserved.append(c)
        else:
            classes[c] = n
    if not classes:
        raise ConfigError(f"{source}: the legend maps no code to a class")
    return IndicatorLegend(name, classes, source, tuple(sorted(unobserved)))


def _read_file(path: Path) -> IndicatorLegend:
    if not path.is_file():
        raise ConfigError(f"{path}: legend file not found")
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            cols = [(c or "").strip().lower() for c in reader.fieldnames or []]
            if "code" not in cols or "class" not in cols:
                raise ConfigError(f"{path}: a legend CSV needs columns 'code' and 'class' (found {', '.join(cols) or 'none'})")
            pairs = []
            for i, row in enumerate(reader, start=2):
                row = {(k or "").strip().lower(): v for k, v in row.items()}
                pairs.append((row["code"], row["class"], f"{path}: line {i}"))
        return _from_pairs(pairs, str(path), str(path))
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise ConfigError(f"{path}: a legend file is YAML (.yaml, .yml) or CSV (.csv)")
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML syntax error: {first_line(exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read legend ({exc})") from None
    if isinstance(data, Mapping) and set(data) == {"classes"}:
        data = data["classes"]
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a legend file maps codes to classes ({{code: class}})")
    return _from_pairs([(k, v, f"{path}: code {k}") for k, v in data.items()], str(path), str(path))


def resolve_legend(legend: str | os.PathLike | Mapping[int, str] | IndicatorLegend = "sinks") -> IndicatorLegend:
    """An :class:`IndicatorLegend` from a packaged name, a YAML/CSV file or a mapping.

    Raises
    ------
    ConfigError
        Unknown legend name, missing or malformed file (the message names the file
        and the line or code), a code outside 1–255, an unknown class.
    """
    if isinstance(legend, IndicatorLegend):
        return legend
    if isinstance(legend, Mapping):
        return _from_pairs([(k, v, f"legend code {k}") for k, v in legend.items()], "mapping", "user mapping")
    text = str(legend)
    key = text.strip().lower()
    if key == "sinks":
        return IndicatorLegend("sinks", dict(sorted(NAMES.items())), "the sinks codes (sinks legend)")
    if key == "clcd":
        m = {c: (SHRUBLAND if c == 3 else n) for c, n in CLCD_TO_SINKS.items()}
        return IndicatorLegend("clcd", m, "CLCD (Yang & Huang 2021, ESSD 13:3907); 3 shrub kept as shrubland")
    if key in ("worldcover", "esa_worldcover"):
        m = {c: (SHRUBLAND if c == 20 else n) for c, n in WORLDCOVER_TO_SINKS.items()}
        return IndicatorLegend("worldcover", m, "ESA WorldCover v100/v200; 20 shrubland kept as shrubland")
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml", ".csv") or path.exists():
        return _read_file(path)
    raise ConfigError(f"unknown legend {text!r}; use {', '.join(LEGEND_NAMES)} or a YAML/CSV mapping file")


def carbon_code(digit: int) -> int:
    """The sinks code whose carbon densities an indicator class uses (shrubland: grassland)."""
    return CODES["grassland"] if INDICATOR_CLASSES[digit] == SHRUBLAND else digit
