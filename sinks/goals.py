"""Goal tracking: forest coverage and stock volume against targets, and the sink's growth.

Targets come in named *sets*.  The packaged set ``national`` (``sinks/data/targets.yaml``,
domain.md §3): 2025 cover 24.1 % and stock 19.0 × 10⁹ m³ (14th Five-Year Plan
forestry-grassland outline); 2030 cover about 25 % and stock 19 × 10⁹ m³ (Action Plan
for CO₂ Peaking Before 2030); 2035 stock above 24 × 10⁹ m³ (China's NDC, September
2025).  A user's targets file (:func:`load_targets`) adds sets — a province's published
targets, say — and **maps** areas to them: the whole AOI (``aoi:``) and each region
(``regions: {id: set name or own rows}``).  A target applies only where it is mapped:
an area mapped to no set gets its own trend and no target (a national 25 % says
nothing about a desert county).  No provincial table is packaged: the provinces'
published 2025 targets could not be checked against their sources here, so they are
left to the user's file, each row with its ``source``.

For the AOI and each region, each indicator gets its value at the latest epoch, a
linear trajectory fitted by least squares over the epochs (slope per year), and per
mapped target: the gap (target − value), the projected value at the target year, the
year the target is reached on that line, and whether it is on track (projected value
at the target year ≥ target; > for "above" targets).  A coverage *rate* target
compares wherever it is mapped.  An *absolute* target (m³) compares only for the
territory it was set for: the AOI mapped to a set (the user says the AOI is that
territory), a region given its own rows, or a region mapped to a set named after
its id; otherwise it is reported with ``comparable: false`` and the reason.

The official national series (``sinks/data/national_series.csv``, 4th NFI … 2023) is
returned as context.  The 2021 figures are the first on the 3rd national land-survey
base, a break in the series: the national trend is fitted on the figures before it
and, separately, over the whole series with ``crosses_series_break: true``.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import ConfigError, first_line

__all__ = ["load_targets", "national_series", "national_trend", "trajectory", "track_goals", "sink_growth",
           "INDICATORS", "SERIES_BREAK_YEAR"]

log = logging.getLogger("sinks")

_DATA = Path(__file__).resolve().parent / "data"

#: indicator → (unit, kind): rate targets compare anywhere, absolute ones only at their own scale
INDICATORS: dict[str, tuple[str, str]] = {"forest_coverage_pct": ("%", "rate"), "volume_m3": ("m3", "absolute")}

#: First year of the official figures on the 3rd national land-survey base.
SERIES_BREAK_YEAR = 2021

_NOT_COMPARABLE = ("an absolute target (m3) of the set {set!r} applies to its whole territory, not to a part of "
                   "it; give this region its own rows to compare")


# --------------------------------------------------------------------------- national series


def national_series() -> list[dict[str, Any]]:
    """The official national series (4th NFI … 2023), each row with its source and break flag.

    Returns
    -------
    list of dict
        ``period``, ``year`` (mid-year of an inventory), ``forest_coverage_pct``,
        ``forest_coverage_lower_bound`` (True where the source says "above"),
        ``volume_m3`` (None if not published), ``series_break`` (True for the first
        figures on a new base), ``source``.
    """
    rows = []
    with open(_DATA / "national_series.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows.append({
                "period": r["period"], "year": int(r["year"]),
                "forest_coverage_pct": float(r["forest_coverage_pct"]),
                "forest_coverage_lower_bound": r["forest_coverage_lower_bound"] == "true",
                "volume_m3": float(r["volume_m3"]) if r["volume_m3"] else None,
                "series_break": r["series_break"] == "true", "source": r["source"],
            })
    return rows


def national_trend() -> dict[str, Any]:
    """Linear trends of the national series: before the 2021 break, and across it (flagged).

    Returns
    -------
    dict
        The fit before the break (a :func:`trajectory` per indicator, ``fitted_years``,
        ``crosses_series_break: false``), plus ``whole_series`` (the same over every
        figure, ``crosses_series_break: true``), ``series_break_year`` and ``note``.
    """
    rows = national_series()

    def fit(sel: list[dict[str, Any]]) -> dict[str, Any]:
        vol = [r for r in sel if r["volume_m3"] is not None]
        years = [r["year"] for r in sel]
        return {"forest_coverage_pct": trajectory(years, [r["forest_coverage_pct"] for r in sel]),
                "volume_m3": trajectory([r["year"] for r in vol], [r["volume_m3"] for r in vol]),
                "fitted_years": [min(years), max(years)],
                "crosses_series_break": min(years) < SERIES_BREAK_YEAR <= max(years)}

    return {**fit([r for r in rows if r["year"] < SERIES_BREAK_YEAR]),
            "whole_series": fit(rows),
            "series_break_year": SERIES_BREAK_YEAR,
            "note": f"{SERIES_BREAK_YEAR}: first official figures on the 3rd national land-survey base; "
                    "a trend across it mixes two bases (2023 coverage is a lower bound, '>25 %')"}


# --------------------------------------------------------------------------- targets


def _read_targets_file(path: Path) -> Any:
    import yaml

    if not path.is_file():
        raise ConfigError(f"{path}: targets file not found")
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML syntax error: {first_line(exc)}") from None


def _rows_of(data: Any, where: str) -> dict[str, Any]:
    """The parts of a parsed targets file: ``targets`` (rows), ``sets``, ``regions``, ``aoi``."""
    if isinstance(data, list):
        return {"targets": data, "sets": {}, "regions": {}, "aoi": None}
    if isinstance(data, Mapping):
        extra = [k for k in data if k not in ("targets", "sets", "regions", "aoi")]
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, extra))} "
                              "(expected 'targets', 'sets', 'regions', 'aoi')")
        nat = data.get("targets") or []
        sets = data.get("sets") or {}
        reg = data.get("regions") or {}
        if not isinstance(nat, list):
            raise ConfigError(f"{where}: 'targets' must be a list of rows")
        if not isinstance(sets, Mapping) or not all(isinstance(v, list) for v in sets.values()):
            raise ConfigError(f"{where}: 'sets' must map each set name to a list of rows")
        if not isinstance(reg, Mapping) or not all(isinstance(v, (list, str)) for v in reg.values()):
            raise ConfigError(f"{where}: 'regions' must map each region id to a set name or a list of rows")
        aoi = data.get("aoi")
        if aoi is not None and not isinstance(aoi, (list, str)):
            raise ConfigError(f"{where}: 'aoi' must be a set name or a list of rows")
        return {"targets": nat, "sets": {str(k): v for k, v in sets.items()},
                "regions": {str(k): v for k, v in reg.items()}, "aoi": aoi}
    raise ConfigError(f"{where}: a targets file holds a list of rows (year, forest_coverage_pct, volume_m3 ...) "
                      "or a mapping {targets, sets, regions, aoi}")


def load_targets(path: str | os.PathLike | None = None, *, aoi: str | None = None) -> dict[str, Any]:
    """Target sets, and which area is mapped to which.

    ``path`` is a CSV with columns ``year`` and one or more of ``forest_coverage_pct``,
    ``volume_m3``, and optionally ``region_id``, ``comparison`` (``at_least``, the
    default, or ``above``) and ``source``: rows with a region id are that region's own
    targets, rows without replace the packaged national set.  Or a YAML file holding
    such a list, or a mapping::

        targets: [rows]            # replaces the national set
        sets: {name: [rows]}       # more sets, e.g. a province's published targets
        regions: {id: name | [rows]}
        aoi: name | [rows]         # what the whole AOI is compared with

    Parameters
    ----------
    path : path, optional
        The targets file (default: the packaged national set, mapped to nothing).
    aoi : str, optional
        Set name the AOI is mapped to (overrides the file's ``aoi``).

    Returns
    -------
    dict
        ``{"national": [rows], "sets": {name: [rows]}, "regions": {id: {"set": name or
        None, "rows": [rows]}}, "aoi": {"set": .., "rows": [..]} or None}``.

    Raises
    ------
    ConfigError
        Missing or malformed file, a mapping to an unknown set; the message names the
        row and key.
    """
    base = _rows_of(_read_targets_file(_DATA / "targets.yaml"), "targets.yaml")
    national = [_row(r, "targets.yaml", i) for i, r in enumerate(base["targets"])]
    sets: dict[str, list[dict[str, Any]]] = {"national": national}
    regions: dict[str, dict[str, Any]] = {}
    aoi_map: Any = None
    where = "targets"
    if path is not None:
        p = Path(path)
        where = str(p)
        parts = _rows_of(_read_targets_file(p), where)
        if not parts["targets"] and not parts["sets"] and not parts["regions"] and parts["aoi"] is None:
            raise ConfigError(f"{p}: no targets")
        user_nat = []
        for i, r in enumerate(parts["targets"]):
            row = _row(r, where, i)
            rid = r.get("region_id")
            if rid not in (None, ""):
                regions.setdefault(str(rid), {"set": None, "rows": []})["rows"].append(row)
            else:
                user_nat.append(row)
        if user_nat:
            sets["national"] = user_nat
        for name, rows in parts["sets"].items():
            sets[name] = [_row(r, f"{p}: sets.{name}", i) for i, r in enumerate(rows)]
        for rid, v in parts["regions"].items():
            if isinstance(v, str):
                regions[rid] = {"set": _set_name(v, sets, f"{p}: regions.{rid}"), "rows": []}
            else:
                rows = [_row(r, f"{p}: regions.{rid}", i) for i, r in enumerate(v)]
                regions.setdefault(rid, {"set": None, "rows": []})["rows"].extend(rows)
        aoi_map = parts["aoi"]
    if aoi is not None:
        aoi_map = aoi
    aoi_entry = None
    if isinstance(aoi_map, str):
        aoi_entry = {"set": _set_name(aoi_map, sets, f"{where}: aoi"), "rows": []}
    elif isinstance(aoi_map, list):
        aoi_entry = {"set": None, "rows": [_row(r, f"{where}: aoi", i) for i, r in enumerate(aoi_map)]}
    for entry in (*regions.values(), aoi_entry):
        if entry is not None and entry["set"] is not None:
            entry["rows"] = sets[entry["set"]]
    return {"national": sets["national"], "sets": sets, "regions": regions, "aoi": aoi_entry}


def _set_name(name: str, sets: Mapping[str, Any], where: str) -> str:
    if name not in sets:
        raise ConfigError(f"{where}: unknown target set {name!r}; sets: {', '.join(sets)}")
    return name


def _row(r: Any, where: str, i: int) -> dict[str, Any]:
    if not isinstance(r, Mapping):
        raise ConfigError(f"{where}: row {i + 1}: expected a mapping of year, forest_coverage_pct, volume_m3 ...")
    known = {"year", "forest_coverage_pct", "volume_m3", "region_id", "comparison", "source", "name"}
    extra = [str(k) for k in r if k not in known and k is not None]
    if extra:
        raise ConfigError(f"{where}: row {i + 1}: unknown key(s) {', '.join(extra)} "
                          f"(known: {', '.join(sorted(known))})")
    try:
        year = int(str(r["year"]).strip())
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{where}: row {i + 1}: 'year' must be a whole number, got {r.get('year')!r}") from None
    row: dict[str, Any] = {"year": year, "comparison": str(r.get("comparison") or "at_least"),
                           "source": str(r.get("source") or where)}
    if row["comparison"] not in ("at_least", "above"):
        raise ConfigError(f"{where}: row {i + 1}: 'comparison' must be 'at_least' or 'above', "
                          f"got {row['comparison']!r}")
    for key in INDICATORS:
        v = r.get(key)
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: row {i + 1}: '{key}' must be a number, got {v!r}") from None
        if not math.isfinite(f) or f < 0 or (key == "forest_coverage_pct" and f > 100):
            raise ConfigError(f"{where}: row {i + 1}: '{key}' out of range: {v!r}")
        row[key] = f
    if not any(k in row for k in INDICATORS):
        raise ConfigError(f"{where}: row {i + 1}: no target value (give forest_coverage_pct or volume_m3)")
    return row


# --------------------------------------------------------------------------- assessment


def trajectory(years: Sequence[float], values: Sequence[float | None]) -> dict[str, Any]:
    """Least-squares line through ``(year, value)`` (missing values skipped).

    Returns
    -------
    dict
        ``slope_per_year``, ``intercept`` (None with fewer than two points or one year)
        and ``n_points``.
    """
    pts = [(float(y), float(v)) for y, v in zip(years, values) if v is not None and math.isfinite(float(v))]
    if len(pts) < 2 or len({p[0] for p in pts}) < 2:
        return {"slope_per_year": None, "intercept": None, "n_points": len(pts)}
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    xm = x.mean()
    slope = float(((x - xm) * (y - y.mean())).sum() / ((x - xm) ** 2).sum())
    return {"slope_per_year": slope, "intercept": float(y.mean() - slope * xm), "n_points": len(pts)}


def _met(value: float, target: float, comparison: str) -> bool:
    return bool(value > target if comparison == "above" else value >= target)


def _year_reached(traj: dict[str, Any], target: float, comparison: str, last: tuple[Any, Any]) -> float | None:
    """First year the target is met: the latest epoch if already met, else where the line crosses it."""
    if last[1] is not None and _met(last[1], target, comparison):
        return float(last[0])
    s, b = traj["slope_per_year"], traj["intercept"]
    if s is None or s <= 0:
        return None
    return float(max((target - b) / s, last[0]))


def _assess(name: str, epochs: list[tuple[str, int]], values: list[float | None], targets: list[dict[str, Any]],
            *, absolute_ok: bool, set_name: str | None) -> dict[str, Any]:
    unit, kind = INDICATORS[name]
    years = [y for _n, y in epochs]
    last = next(((y, v) for y, v in zip(reversed(years), reversed(values)) if v is not None), (None, None))
    last_name = next((n for (n, _y), v in zip(reversed(epochs), reversed(values)) if v is not None), None)
    traj = trajectory(years, values)
    res: dict[str, Any] = {"unit": unit, "kind": kind, "series": {n: v for (n, _y), v in zip(epochs, values)},
                           "years": {n: y for n, y in epochs}, "latest_epoch": last_name, "latest_year": last[0],
                           "value": last[1], "trajectory": traj, "targets": []}
    comparable = kind == "rate" or absolute_ok
    for t in targets:
        if name not in t:
            continue
        target = t[name]
        proj = (traj["slope_per_year"] * t["year"] + traj["intercept"]) if traj["slope_per_year"] is not None else None
        entry: dict[str, Any] = {"year": t["year"], "target": target, "comparison": t["comparison"],
                                 "source": t["source"], "comparable": comparable, "projected": proj}
        if comparable and last[1] is not None:
            entry["gap"] = target - last[1]
            entry["met_now"] = _met(last[1], target, t["comparison"])
            entry["on_track"] = _met(proj, target, t["comparison"]) if proj is not None else None
            entry["year_reached"] = _year_reached(traj, target, t["comparison"], last)
        elif not comparable:
            entry["reason"] = _NOT_COMPARABLE.format(set=set_name)
        else:
            entry["reason"] = "no value at any epoch"
        res["targets"].append(entry)
    return res


def _scope(epochs: list[tuple[str, int]], series: Mapping[str, list[float | None]], entry: Mapping[str, Any] | None,
           *, area_id: str | None) -> dict[str, Any]:
    """Every indicator of one area against the targets mapped to it (none: its own trend only).

    ``area_id`` is the region id (``None`` for the AOI, which its mapping identifies
    with the set's territory).
    """
    out: dict[str, Any] = {}
    set_name = None if entry is None else entry["set"]
    absolute_ok = entry is not None and (area_id is None or set_name is None or set_name == area_id)
    for name in INDICATORS:
        if name not in series:
            continue
        mine = [t for t in (entry or {}).get("rows", []) if name in t]
        out[name] = _assess(name, epochs, list(series[name]), mine, absolute_ok=absolute_ok, set_name=set_name)
        out[name]["targets_source"] = ("none" if entry is None or not mine else
                                       set_name if set_name is not None else ("aoi" if area_id is None else "region"))
        if entry is None:
            out[name]["note"] = "no target mapped to this area: its own trend only"
    return out


def sink_growth(sinks: Mapping[str, Any] | Sequence[tuple[str, float | None]]) -> dict[str, Any]:
    """Sink per period and its growth from one period to the next.

    Parameters
    ----------
    sinks : mapping or sequence of (period, value)
        ``summary["carbon"]["sink"]`` (period → entry with ``sink_mg_c_per_yr``), or
        ``(period, sink Mg C/yr)`` pairs, in time order.

    Returns
    -------
    dict
        period → ``sink_mg_c_per_yr`` (plus ``sink_tco2e_per_yr`` and ``ci95_mg_c_per_yr``
        when given) and, from the second period on, ``growth_mg_c_per_yr``, ``sign_changed``
        (a removal became an emission or back) and ``growth_pct`` (relative to the previous
        sink; None if it was 0 or the sign changed).
    """
    items = list(sinks.items()) if isinstance(sinks, Mapping) else list(sinks)
    out: dict[str, Any] = {}
    prev: float | None = None
    for i, (key, s) in enumerate(items):
        if isinstance(s, Mapping):
            v = _num(s.get("sink_mg_c_per_yr"))
            row = {"sink_mg_c_per_yr": v, "sink_tco2e_per_yr": _num(s.get("sink_tco2e_per_yr")),
                   "ci95_mg_c_per_yr": s.get("sink_mg_c_per_yr_ci95")}
        else:
            v = _num(s)
            row = {"sink_mg_c_per_yr": v}
        if i > 0 and v is not None and prev is not None:
            row["growth_mg_c_per_yr"] = v - prev
            row["sign_changed"] = bool(v * prev < 0)
            # a relative growth is meaningless when the sink turns into a source (or back)
            row["growth_pct"] = 100.0 * (v - prev) / abs(prev) if prev and v * prev > 0 else None
        out[str(key)] = row
        prev = v
    return out


def track_goals(summary: Mapping[str, Any], *, targets: dict[str, Any] | None = None, regions: Any = None,
                id_field: str | None = None) -> dict[str, Any]:
    """Goal tracking of a run and, optionally, of its regions.

    Parameters
    ----------
    summary : mapping
        ``summary.json`` content: ``epochs`` (name, year), ``landcover.<epoch>.forest_coverage_pct``,
        ``carbon.epochs.<epoch>.volume_m3``, ``carbon.sink.<period>.sink_mg_c_per_yr``.
        Missing sections skip their goals with a note.
    targets : dict, optional
        From :func:`load_targets` (default: the packaged national set, mapped to
        nothing: every area gets its own trend only).
    regions : pandas.DataFrame, optional
        Region indicator table (columns ``forest_coverage_pct_<epoch>``,
        ``volume_m3_<epoch>``, ``sink_mg_c_per_yr_<e1>_<e2>``).
    id_field : str, optional
        Region id column (default: the table's first column).

    Returns
    -------
    dict
        JSON-ready: ``aoi`` (indicator → assessment), ``sink`` (per period, growth),
        ``regions`` (id → same as ``aoi`` plus ``sink``), ``targets`` (the national
        set), ``target_sets``, ``mapping`` (which set each area is compared with),
        ``national_series``, ``national_trend``, ``notes``.

    Raises
    ------
    ConfigError
        Per-region targets for ids that are not in the region table (all listed), or
        per-region targets without a region table.
    """
    targets = targets or load_targets()
    epochs = [(str(e["name"]), int(e["year"])) for e in summary.get("epochs", []) if "year" in e]
    notes: list[str] = []
    if not epochs:
        notes.append("no epochs in the summary: nothing to track")
    series: dict[str, list[float | None]] = {}
    lc = summary.get("landcover") or {}
    if lc and epochs:
        series["forest_coverage_pct"] = [_num((lc.get(n) or {}).get("forest_coverage_pct")) for n, _y in epochs]
    elif epochs:
        notes.append("no land-cover section: coverage goals skipped")
    carbon = summary.get("carbon") or {}
    ce = carbon.get("epochs") or {}
    if ce and epochs:
        series["volume_m3"] = [_num((ce.get(n) or {}).get("volume_m3")) for n, _y in epochs]
    elif epochs:
        notes.append("no carbon section: stock-volume goals skipped")
    sink = carbon.get("sink") or {}
    if not sink:
        notes.append("no carbon sink section: sink growth skipped")
    if epochs and min(y for _n, y in epochs) < SERIES_BREAK_YEAR <= max(y for _n, y in epochs):
        notes.append(f"the epochs span {SERIES_BREAK_YEAR}, where the official national series changes base "
                     "(3rd national land survey): compare this area's trend with the national figures with care")
    aoi_entry = targets.get("aoi")
    if aoi_entry is None:
        notes.append("no target set is mapped to the whole area: its own trend only (map it, e.g. "
                     "goals.aoi_targets: national, when the area is the territory a set was made for)")
    out: dict[str, Any] = {
        "aoi": _scope(epochs, series, aoi_entry, area_id=None),
        "sink": sink_growth(_ordered_periods(sink, epochs)),
        "targets": targets["national"],
        "target_sets": targets.get("sets", {"national": targets["national"]}),
        "mapping": {"aoi": _mapped(aoi_entry),
                    "regions": {rid: _mapped(e) for rid, e in targets["regions"].items()}},
        "national_series": national_series(),
        "national_trend": national_trend(),
        "notes": notes,
    }
    if targets["regions"] and (regions is None or not len(regions)):
        raise ConfigError("targets: per-region targets given but the run has no region table "
                          f"(region ids {_few(sorted(targets['regions']))})")
    if regions is not None and len(regions):
        id_field = id_field or str(regions.columns[0])
        if id_field not in regions.columns:
            raise ConfigError(f"region table: no id column {id_field!r}")
        ids = regions[id_field].astype(str)
        unknown = sorted(set(targets["regions"]) - set(ids))
        if unknown:
            raise ConfigError(f"targets: unknown region id(s) {_few(unknown)} (not in the region table)")
        periods = [f"{a}_{b}" for (a, _x), (b, _y) in zip(epochs, epochs[1:])]
        per: dict[str, Any] = {}
        for rid, (_, row) in zip(ids, regions.iterrows()):
            rs = {name: [_num(row.get(f"{name}_{n}")) for n, _y in epochs] for name in INDICATORS
                  if any(f"{name}_{n}" in row.index for n, _y in epochs)}
            block = _scope(epochs, rs, targets["regions"].get(rid), area_id=rid)
            pk = [p for p in periods if f"sink_mg_c_per_yr_{p}" in row.index]
            block["sink"] = sink_growth([(p, row.get(f"sink_mg_c_per_yr_{p}")) for p in pk])
            per[rid] = block
        out["regions"] = per
    return _clean(out)


def _mapped(entry: Mapping[str, Any] | None) -> str | None:
    """How an area is mapped: a set name, ``"own rows"``, or ``None``."""
    if entry is None:
        return None
    return entry["set"] if entry["set"] is not None else "own rows"


def _ordered_periods(sink: Mapping[str, Any], epochs: list[tuple[str, int]]) -> list[tuple[str, Any]]:
    """Sink periods in time order (by the position of their first epoch; unknown keys last, as given)."""
    pos = {n: i for i, (n, _y) in enumerate(epochs)}

    def key(item: tuple[int, str]) -> tuple[int, int]:
        i, k = item
        first = next((pos[n] for n in pos if k.startswith(f"{n}_") and k[len(n) + 1:] in pos), None)
        return (first if first is not None else len(pos), i)

    order = sorted(enumerate(sink), key=key)
    return [(k, sink[k]) for _i, k in order]


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _few(items: Sequence[str], limit: int = 10) -> str:
    head = ", ".join(items[:limit])
    return head + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _clean(obj: Any) -> Any:
    """JSON-ready copy: numpy scalars to Python, NaN/inf to None."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(float(obj)) else None
    return obj
