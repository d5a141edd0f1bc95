"""Carbon coefficient tables: densities per land-cover class and pool, with ranges and sources.

A :class:`CarbonTable` holds, for each land-cover code, the carbon density (Mg C/ha)
of four pools — ``above`` (above-ground biomass), ``below`` (below-ground biomass),
``soil`` (soil organic carbon) and ``dead`` (dead wood + litter) — each as a central
value, a plausible ``low``–``high`` range and a source string.  Source strings start
with the status flag of ``domain.md``: ``[V]`` read in a located source, ``[D]``
derived by arithmetic from such values, ``[R]`` recalled and not verified, plus
``[A]`` for an explicit assumption (no source).

Tables come from

* ``"china"`` (default): the packaged national defaults of domain.md §0 for the
  sinks legend (``sinks/data/carbon_china.csv``); soil 0–30 cm by default (IPCC
  change accounting), 0–100 cm with ``soil_depth="0-100"`` (stock reporting).
* ``"ipcc"`` or ``"ipcc:gez=...,climate=...,soil=...,mangrove=...,dom=...,leaf=..."``:
  IPCC Tier 1 values by zone substituted into the China table, see :func:`ipcc_table`.
* a CSV file: InVEST's carbon-pool table (``lucode,c_above,c_below,c_soil,c_dead``,
  headers case-insensitive, extra columns such as ``LULC_Name`` ignored; optional
  ``c_above_low``/``c_above_high``/``c_above_source`` ... columns; ``class`` with
  legend names may replace ``lucode``), or the packaged long format
  (``code,class,pool,central,low,high,source``).
* a YAML or JSON file, or a mapping::

      name: my table
      classes:
        forest: {above: 36.5, below: [9.3, 8, 13], soil: 70.6,
                 dead: {central: 6.0, low: 5.6, high: 6.3, source: "[V] ..."}}
        12: {above: 1, below: 0, soil: 20, dead: 0}      # integer keys are codes

  A number is the central value, a list is ``[central, low, high]``.

Every validation failure raises :class:`~sinks.errors.CoefficientError` with one line
naming the file and the line (or key) and column: non-numeric, non-finite or negative
densities, a missing pool column, duplicate codes, ``low > central > high``.

``lucode_map`` relates another legend's codes (e.g. InVEST lucodes) to sinks legend
names: ``{lucode: "forest", ...}`` (the inverse ``{"forest": lucode}`` is accepted
too), or a CSV file with columns ``lucode,class``.  :func:`read_invest_csv` uses it to
re-key a lucode table onto the legend; :func:`write_invest_csv` to write legend rows
under lucodes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import CoefficientError, ConfigError
from ..landcover import CODES

__all__ = ["POOLS", "SOIL_DEPTHS", "DEFAULT_LEVEL", "CarbonTable", "pool_index"]

log = logging.getLogger("sinks")

POOLS: tuple[str, ...] = ("above", "below", "soil", "dead")
"""Carbon pools, in InVEST's column order."""

SOIL_DEPTHS: tuple[str, ...] = ("0-30", "0-100")

_WHICH = ("central", "low", "high")

DEFAULT_LEVEL: float = 0.95
"""Confidence level a ``low``–``high`` range is taken at when none is stated."""


# --------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CarbonTable:
    """Carbon densities (Mg C/ha) per land-cover code and pool.

    Attributes
    ----------
    codes : tuple of int
        Land-cover codes, one per row.
    names : tuple of str
        Class name (legend name, or InVEST's ``LULC_Name``) per row; may be ``""``.
    central, low, high : numpy.ndarray
        ``float64`` arrays of shape ``(len(codes), 4)``, columns in :data:`POOLS` order.
    sources : tuple of tuple of str
        Source string per row and pool, starting with the status flag.
    name : str
        Table name (``"china"``, ``"ipcc:..."`` or the file name).
    path : str or None
        File the table was read from.
    soil_depth : str or None
        ``"0-30"`` or ``"0-100"`` when known.
    levels : numpy.ndarray or None
        Confidence level at which each cell's ``low``–``high`` range is stated
        (``(len(codes), 4)``); ``None``: every range is taken as a 95 % interval.
        The Monte Carlo of :mod:`sinks.uncertainty` fits a normal or lognormal
        distribution to the range at this level.
    groups : tuple of tuple of str, or None
        Correlation label per cell: cells with the same non-empty label are drawn
        from one normal deviate in the Monte Carlo (e.g. the soil of every class
        derived from one IPCC SOC_ref).  ``None``: no shared labels.
    climate_zone : str or None
        IPCC climate zone the soil cells were taken from (:func:`sinks.carbon.soil.apply_climate_zone`).
    """

    codes: tuple[int, ...]
    names: tuple[str, ...]
    central: np.ndarray
    low: np.ndarray
    high: np.ndarray
    sources: tuple[tuple[str, ...], ...]
    name: str = "custom"
    path: str | None = None
    soil_depth: str | None = None
    levels: np.ndarray | None = None
    groups: tuple[tuple[str, ...], ...] | None = None
    climate_zone: str | None = None
    _index: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        n = len(self.codes)
        for attr in ("central", "low", "high"):
            arr = np.asarray(getattr(self, attr), dtype=np.float64).reshape(n, len(POOLS))
            arr.setflags(write=False)
            object.__setattr__(self, attr, arr)
        if self.levels is not None:
            lv = np.asarray(self.levels, dtype=np.float64).reshape(n, len(POOLS))
            if np.any(~((lv > 0) & (lv < 1))):
                raise CoefficientError(f"{self.label}: confidence levels must lie between 0 and 1")
            lv.setflags(write=False)
            object.__setattr__(self, "levels", lv)
        if self.groups is not None and (len(self.groups) != n or any(len(g) != len(POOLS) for g in self.groups)):
            raise ValueError("groups must have one label per code and pool")
        if len(self.names) != n or len(self.sources) != n:
            raise ValueError("names and sources must have one entry per code")
        object.__setattr__(self, "_index", {int(c): i for i, c in enumerate(self.codes)})
        if len(self._index) != n:
            raise CoefficientError(f"{self.label}: duplicate codes in table")

    # -- access -----------------------------------------------------------------------
    @property
    def label(self) -> str:
        """The file the table came from, or its name."""
        return self.path or self.name

    def __len__(self) -> int:
        return len(self.codes)

    def __contains__(self, code: object) -> bool:
        try:
            return int(code) in self._index  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return False

    def index_of(self, code: int) -> int:
        """Row of ``code``; raises :class:`KeyError` if absent."""
        return self._index[int(code)]

    def values(self, pool: str = "total", which: str = "central") -> np.ndarray:
        """Densities of one pool (or ``"total"``) for every row, Mg C/ha (``float64``)."""
        arr = {"central": self.central, "low": self.low, "high": self.high}[_check_which(which)]
        if pool == "total":
            return arr.sum(axis=1)
        return arr[:, pool_index(pool)]

    def density(self, code: int, pool: str = "total", which: str = "central") -> float:
        """Density of one class and pool (Mg C/ha)."""
        return float(self.values(pool, which)[self.index_of(code)])

    def level_array(self) -> np.ndarray:
        """Confidence level of every cell's range, ``(len(codes), 4)`` (0.95 where not stated)."""
        if self.levels is None:
            return np.full((len(self.codes), len(POOLS)), DEFAULT_LEVEL)
        return np.asarray(self.levels)

    def group_labels(self) -> tuple[tuple[str, ...], ...]:
        """Correlation label of every cell (``""``: none)."""
        if self.groups is None:
            return tuple(("",) * len(POOLS) for _ in self.codes)
        return self.groups

    def code_array(self) -> np.ndarray:
        """Codes as an ``int64`` array."""
        return np.asarray(self.codes, dtype=np.int64)

    # -- derived tables ---------------------------------------------------------------
    def with_values(self, code: int, pool: str, central: float, low: float | None = None,
                    high: float | None = None, source: str = "", *, level: float | None = None,
                    group: str | None = None) -> "CarbonTable":
        """Copy with one cell replaced (``level``: confidence level of the range; ``group``:
        correlation label; both kept from the old cell when ``None``)."""
        i, p = self.index_of(code), pool_index(pool)
        c, lo, hi = (np.array(a) for a in (self.central, self.low, self.high))
        levels = np.array(self.level_array())
        if level is not None:
            levels[i, p] = level
        groups = [list(r) for r in self.group_labels()]
        if group is not None:
            groups[i][p] = group
        c[i, p] = central
        lo[i, p] = central if low is None else low
        hi[i, p] = central if high is None else high
        _check_cell(self.label, f"code {code}", pool, float(c[i, p]), float(lo[i, p]), float(hi[i, p]))
        src = [list(r) for r in self.sources]
        src[i][p] = source
        return replace(self, central=c, low=lo, high=hi, sources=tuple(tuple(r) for r in src), levels=levels,
                       groups=tuple(tuple(r) for r in groups), _index={})

    # -- export -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (for manifests): every cell with its range and source."""
        classes: dict[str, Any] = {}
        for i, code in enumerate(self.codes):
            entry: dict[str, Any] = {"name": self.names[i]}
            for p, pool in enumerate(POOLS):
                entry[f"{pool}_mg_c_per_ha"] = {
                    "central": float(self.central[i, p]), "low": float(self.low[i, p]),
                    "high": float(self.high[i, p]), "level": float(self.level_array()[i, p]),
                    "source": self.sources[i][p],
                }
            classes[str(code)] = entry
        return {"name": self.name, "path": self.path, "soil_depth": self.soil_depth,
                "climate_zone": self.climate_zone, "units": "Mg C/ha",
                "ranges": "low-high taken as a central interval at each cell's level (0.95 unless stated)",
                "classes": classes}

    def has_ranges(self) -> bool:
        """True when any cell has a non-zero range."""
        return bool(np.any(self.high > self.low))


def pool_index(pool: str) -> int:
    """Column of ``pool`` in :data:`POOLS`; raises :class:`ConfigError` for unknown pools."""
    try:
        return POOLS.index(pool)
    except ValueError:
        raise ConfigError(f"unknown carbon pool {pool!r}; pools are {', '.join(POOLS)} (or 'total')") from None


def _check_which(which: str) -> str:
    if which not in _WHICH:
        raise ConfigError(f"unknown value kind {which!r}; use one of {', '.join(_WHICH)}")
    return which


def _check_cell(where: str, row: str, column: str, central: float, low: float, high: float) -> None:
    for label, v in (("", central), ("low ", low), ("high ", high)):
        if not math.isfinite(v):
            raise CoefficientError(f"{where}: {row}, column {column!r}: {label}density {v} is not a finite number")
        if v < 0:
            raise CoefficientError(f"{where}: {row}, column {column!r}: negative {label}density {v:g}")
    if not low <= central <= high:
        raise CoefficientError(
            f"{where}: {row}, column {column!r}: range must satisfy low <= central <= high, got {low:g}, {central:g}, {high:g}"
        )


def _number(text: Any, where: str, row: str, column: str) -> float:
    if isinstance(text, bool):
        raise CoefficientError(f"{where}: {row}, column {column!r}: {text!r} is not a number")
    if isinstance(text, (int, float)):
        v = float(text)
    else:
        s = str(text).strip()
        if not s:
            raise CoefficientError(f"{where}: {row}, column {column!r}: missing value")
        try:
            v = float(s)
        except ValueError:
            raise CoefficientError(f"{where}: {row}, column {column!r}: {s!r} is not a number") from None
    if not math.isfinite(v):
        raise CoefficientError(f"{where}: {row}, column {column!r}: {text!r} is not a finite number")
    return v


def _code(text: Any, where: str, row: str, column: str) -> int:
    v = _number(text, where, row, column)
    if v != int(v):
        raise CoefficientError(f"{where}: {row}, column {column!r}: code {text!r} is not an integer")
    return int(v)


def _class_code(text: str, where: str, row: str, column: str) -> int:
    name = str(text).strip()
    if not name:
        raise CoefficientError(f"{where}: {row}, column {column!r}: missing class name")
    if name.lstrip("-").isdigit():
        return int(name)
    key = name.lower().replace("-", "_").replace(" ", "_")
    if key in ("builtup", "built"):
        key = "built_up"
    if key not in CODES:
        raise CoefficientError(
            f"{where}: {row}, column {column!r}: unknown land-cover class {name!r} (legend: {', '.join(CODES)})"
        )
    return CODES[key]


class _Builder:
    """Accumulates validated rows, rejecting duplicate codes."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.rows: dict[int, dict[str, Any]] = {}
        self.origin: dict[int, str] = {}

    def add(self, code: int, row: str, name: str) -> dict[str, Any]:
        if code in self.rows:
            raise CoefficientError(f"{self.where}: {row}: duplicate code {code} (first on {self.origin[code]})")
        self.origin[code] = row
        entry: dict[str, Any] = {"name": name, "cells": {}}
        self.rows[code] = entry
        return entry

    def build(self, *, name: str, path: str | None, soil_depth: str | None) -> CarbonTable:
        if not self.rows:
            raise CoefficientError(f"{self.where}: the table has no rows")
        codes = sorted(self.rows)
        n = len(codes)
        c, lo, hi = (np.zeros((n, len(POOLS))) for _ in range(3))
        sources = []
        for i, code in enumerate(codes):
            cells = self.rows[code]["cells"]
            src = []
            for p, pool in enumerate(POOLS):
                if pool not in cells:
                    raise CoefficientError(f"{self.where}: {self.origin[code]}: code {code} has no {pool!r} pool value")
                c[i, p], lo[i, p], hi[i, p], s = cells[pool]
                src.append(s)
            sources.append(tuple(src))
        return CarbonTable(codes=tuple(codes), names=tuple(self.rows[k]["name"] for k in codes), central=c, low=lo,
                           high=hi, sources=tuple(sources), name=name, path=path, soil_depth=soil_depth)
