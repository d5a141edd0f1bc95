"""Goal tracking: forest coverage and stock volume against China's targets, and the sink's growth.

Targets (``sinks/data/targets.yaml``, domain.md §3): 2025 cover 24.1 % and stock
19.0 × 10⁹ m³; 2030 cover about 25 % and stock 19 × 10⁹ m³; 2035 stock above
24 × 10⁹ m³.  Users may give per-region targets (:func:`load_targets`).

For the whole AOI and each region, each indicator gets: its value at the latest
epoch, the target, the gap (target − value), a linear trajectory fitted by least
squares over the epochs (slope per year, the projected value at each target year, the
year the target is reached), and whether it is on track (projected value at the
target year ≥ target).  A coverage *rate* target applies to any region; an *absolute*
national target (m³) is not comparable with a small area's volume, so for it only the
value and the trajectory are reported (``comparable: false``) unless per-region
targets give that region its own absolute target.

The official national series (``sinks/data/national_series.csv``) is returned as
context.  The 2021 figures are the first on the 3rd national land-survey base, a
break in the series: any trend fitted across it is flagged.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import ConfigError

__all__ = ["load_targets", "national_series", "trajectory", "track_goals", "INDICATORS"]

log = logging.getLogger("sinks")

_DATA = Path(__file__).resolve().parent / "data"

#: indicator → (unit, kind): rate targets compare anywhere, absolute ones only at their own scale
INDICATORS: dict[str, tuple[str, str]] = {"forest_coverage_pct": ("%", "rate"), "volume_m3": ("m3", "absolute")}


def national_series() -> list[dict[str, Any]]:
    """The official national series (NFI 4th … 2023), each row with its source and break flag."""
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


def _read_targets_file(path: Path) -> Any:
    import yaml

    if not path.exists():
        raise ConfigError(f"{path}: targets file not found")
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML syntax error: {str(exc).splitlines()[0]}") from None
    if isinstance(data, Mapping) and "targets" in data:
        data = data["targets"]
    return data


def load_targets(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """National targets, plus per-region targets from ``path`` (CSV or YAML rows).

    A row has ``year`` and one or more of ``forest_coverage_pct``, ``volume_m3``, and
    optionally ``region_id`` (rows without it replace national targets), ``comparison``
    (``at_least`` (default) or ``above``) and ``source``.

    Returns
    -------
    dict
        ``{"national": [rows], "regions": {region_id: [rows]}}``.
    """
    base = _read_targets_file(_DATA / "targets.yaml")
    out: dict[str, Any] = {"national": [_row(r, "targets.yaml", i) for i, r in enumerate(base)], "regions": {}}
    if path is None:
        return out
    p = Path(path)
    rows = _read_targets_file(p)
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"{p}: a targets file must hold a list of rows (year, forest_coverage_pct, volume_m3 ...)")
    user_nat = []
    for i, r in enumerate(rows):
        if not isinstance(r, Mapping):
            raise ConfigError(f"{p}: row {i + 1}: expected a mapping")
        row = _row(r, str(p), i)
        rid = r.get("region_id")
        if rid not in (None, ""):
            out["regions"].setdefault(str(rid), []).append(row)
        else:
            user_nat.append(row)
    if user_nat:
        out["national"] = user_nat
    return out


def _row(r: Mapping[str, Any], where: str, i: int) -> dict[str, Any]:
    known = {"year", "forest_coverage_pct", "volume_m3", "region_id", "comparison", "source", "name"}
    extra = [k for k in r if k not in known]
    if extra:
        raise ConfigError(f"{where}: row {i + 1}: unknown key(s) {', '.join(map(str, extra))}")
    try:
        year = int(r["year"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{where}: row {i + 1}: 'year' must be a whole number") from None
    row: dict[str, Any] = {"year": year, "comparison": str(r.get("comparison") or "at_least"),
                           "source": str(r.get("source") or where)}
    if row["comparison"] not in ("at_least", "above"):
        raise ConfigError(f"{where}: row {i + 1}: comparison must be 'at_least' or 'above'")
    for key in INDICATORS:
        v = r.get(key)
        if v in (None, ""):
            continue
        try:
            row[key] = float(v)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: row {i + 1}: {key} must be a number, got {v!r}") from None
    return row


def trajectory(years: list[float], values: list[float]) -> dict[str, Any]:
    """Least-squares line through ``(year, value)``: slope per year and intercept."""
    pts = [(float(y), float(v)) for y, v in zip(years, values) if v is not None and math.isfinite(float(v))]
    if len(pts) < 2:
        return {"slope_per_year": None, "intercept": None, "n_points": len(pts)}
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    slope, intercept = np.polyfit(x, y, 1)
    return {"slope_per_year": float(slope), "intercept": float(intercept), "n_points": len(pts)}


def _assess(name: str, years: list[int], values: list[float | None], targets: list[dict[str, Any]],
            comparable: bool, reason: str = "") -> dict[str, Any]:
    unit, _kind = INDICATORS[name]
    last = next(((y, v) for y, v in zip(reversed(years), reversed(values)) if v is not None), (None, None))
    traj = trajectory(years, values)
    res: dict[str, Any] = {"unit": unit, "series": {str(y): v for y, v in zip(years, values)},
                           "latest_year": last[0], "value": last[1], "trajectory": traj, "targets": []}
    for t in targets:
        if name not in t:
            continue
        target = t[name]
        proj = (traj["slope_per_year"] * t["year"] + traj["intercept"]) if traj["slope_per_year"] is not None else None
        entry: dict[str, Any] = {"year": t["year"], "target": target, "comparison": t["comparison"],
                                 "source": t["source"], "comparable": comparable}
        if comparable and last[1] is not None:
            entry["gap"] = target - last[1]
            entry["projected"] = proj
            entry["met_now"] = bool(last[1] > target if t["comparison"] == "above" else last[1] >= target)
            entry["on_track"] = (bool(proj > target if t["comparison"] == "above" else proj >= target)
                                 if proj is not None else None)
            entry["year_reached"] = _year_reached(traj, target, last)
        else:
            entry["projected"] = proj
            entry["reason"] = reason
        res["targets"].append(entry)
    return res


def _year_reached(traj: dict[str, Any], target: float, last: tuple[Any, Any]) -> float | None:
    if last[1] is not None and last[1] >= target:
        return float(last[0])
    s, b = traj["slope_per_year"], traj["intercept"]
    if s is None or s <= 0:
        return None
    return float((target - b) / s)


def _scope(years: list[int], series: Mapping[str, list[float | None]], targets: list[dict[str, Any]], *,
           national_scale: bool) -> dict[str, Any]:
    out = {}
    for name, (_unit, kind) in INDICATORS.items():
        if name not in series:
            continue
        comparable = kind == "rate" or national_scale
        reason = "" if comparable else "an absolute national target does not apply to a sub-national area; give per-region targets to compare"
        out[name] = _assess(name, years, series[name], targets, comparable, reason)
    return out


def _sink_growth(summary: Mapping[str, Any]) -> dict[str, Any]:
    sinks = ((summary.get("carbon") or {}).get("sink") or {})
    out: dict[str, Any] = {}
    prev = None
    for key, s in sinks.items():
        v = s.get("sink_mg_c_per_yr")
        row = {"sink_mg_c_per_yr": v, "sink_tco2e_per_yr": s.get("sink_tco2e_per_yr"),
               "ci95_mg_c_per_yr": s.get("sink_mg_c_per_yr_ci95")}
        if prev is not None and v is not None and prev is not None:
            row["growth_mg_c_per_yr"] = v - prev
            row["growth_pct"] = 100.0 * (v - prev) / abs(prev) if prev else None
        out[key] = row
        prev = v
    return out


def track_goals(summary: Mapping[str, Any], *, targets: dict[str, Any] | None = None, regions: Any = None,
                id_field: str | None = None) -> dict[str, Any]:
    """Goal tracking of a run (``summary.json`` content) and, optionally, its region table."""
    targets = targets or load_targets()
    epochs = [(e["name"], int(e["year"])) for e in summary.get("epochs", [])]
    years = [y for _n, y in epochs]
    notes = []
    series: dict[str, list[float | None]] = {}
    lc = summary.get("landcover") or {}
    if lc:
        series["forest_coverage_pct"] = [(lc.get(n) or {}).get("forest_coverage_pct") for n, _y in epochs]
    else:
        notes.append("no land-cover section: coverage goals skipped")
    ce = ((summary.get("carbon") or {}).get("epochs") or {})
    if ce:
        series["volume_m3"] = [(ce.get(n) or {}).get("volume_m3") for n, _y in epochs]
    else:
        notes.append("no carbon section: stock-volume goals skipped")
    out: dict[str, Any] = {
        "aoi": _scope(years, series, targets["national"], national_scale=False),
        "sink": _sink_growth(summary),
        "national_series": national_series(),
        "national_trend": _national_trend(),
        "targets": targets["national"],
        "notes": notes,
    }
    if regions is not None and id_field and len(regions):
        unknown = sorted(set(targets["regions"]) - set(regions[id_field].astype(str)))
        if unknown:
            raise ConfigError(f"targets: unknown region id(s) {', '.join(unknown[:10])}")
        per: dict[str, Any] = {}
        for _, row in regions.iterrows():
            rid = str(row[id_field])
            rs = {name: [_num(row.get(f"{name}_{n}")) for n, _y in epochs] for name in INDICATORS
                  if any(f"{name}_{n}" in row for n, _y in epochs)}
            own = targets["regions"].get(rid)
            per[rid] = _scope(years, rs, own or targets["national"], national_scale=own is not None)
            per[rid]["targets_source"] = "region" if own else "national"
        out["regions"] = per
    return out


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _national_trend() -> dict[str, Any]:
    """Linear trend of the national series, before the 2021 break (flagged)."""
    rows = [r for r in national_series() if r["year"] < 2021]
    return {"forest_coverage_pct": trajectory([r["year"] for r in rows], [r["forest_coverage_pct"] for r in rows]),
            "volume_m3": trajectory([r["year"] for r in rows if r["volume_m3"]],
                                    [r["volume_m3"] for r in rows if r["volume_m3"]]),
            "fitted_years": [rows[0]["year"], rows[-1]["year"]],
            "series_break": "2021: first figures on the 3rd national land-survey base; not fitted across"}
