"""Reading and writing carbon tables: CSV (InVEST and long format), YAML/JSON, lucode maps.

See :mod:`sinks.carbon.tables` for the formats and :func:`sinks.carbon.load.load_table` for the
entry point.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..csvio import escape_cell, unescape_cell
from ..errors import CoefficientError, ConfigError, first_line
from ..landcover import CODES, NAMES
from .tables import POOLS, SOIL_DEPTHS, CarbonTable, _Builder, _check_cell, _class_code, _code, _number

__all__ = [
    "read_table_csv",
    "read_invest_csv",
    "write_invest_csv",
    "write_table_csv",
    "table_from_mapping",
    "parse_lucode_map",
    "rekey_table",
    "read_table_mapping",
]

log = logging.getLogger("sinks")


# --------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------
_WIDE_POOL_COLUMNS: dict[str, tuple[str, ...]] = {
    "above": ("c_above", "above", "c_above_mg_c_per_ha"),
    "below": ("c_below", "below", "c_below_mg_c_per_ha"),
    "soil": ("c_soil", "soil", "c_soil_mg_c_per_ha"),
    "dead": ("c_dead", "dead", "c_dead_mg_c_per_ha"),
}
_LONG_POOLS = {"above": "above", "c_above": "above", "below": "below", "c_below": "below", "dead": "dead",
               "c_dead": "dead", "soil": "soil", "c_soil": "soil", "soil_0_30": "soil_0_30",
               "soil_0_100": "soil_0_100"}


def _read_csv_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CoefficientError(f"{path}: carbon table not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CoefficientError(f"{path}: cannot read carbon table ({exc})") from None
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for rec in reader:
        if not rec or all(not c.strip() for c in rec):
            continue
        if header is None:
            header = [unescape_cell(c.strip()).lower() for c in rec]
            continue
        rows.append((reader.line_num, [unescape_cell(c.strip()) for c in rec]))
    if header is None:
        raise CoefficientError(f"{path}: carbon table is empty")
    dup = {h for h in header if h and header.count(h) > 1}
    if dup:
        raise CoefficientError(f"{path}: duplicate column {sorted(dup)[0]!r} (headers are case-insensitive)")
    return header, rows


def read_table_csv(path: str | os.PathLike, *, soil_depth: str | None = None,
                   lucode_map: Mapping[int, str] | str | os.PathLike | None = None) -> CarbonTable:
    """Read a CSV table in InVEST's wide format or the packaged long format.

    Parameters
    ----------
    path : path
    soil_depth : {"0-30", "0-100"}, optional
        For long tables with ``soil_0_30``/``soil_0_100`` rows, which one is the soil pool.
    lucode_map : mapping or path, optional
        Re-key lucodes onto legend codes (see :func:`parse_lucode_map`).
    """
    p = Path(path)
    header, rows = _read_csv_rows(p)
    if "pool" in header and "central" in header:
        table = _long_table(p, header, rows, soil_depth=soil_depth)
    else:
        table = _wide_table(p, header, rows)
    if lucode_map is not None:
        table = rekey_table(table, parse_lucode_map(lucode_map))
    return table


def read_invest_csv(path: str | os.PathLike, *, lucode_map: Mapping[int, str] | str | os.PathLike | None = None
                    ) -> CarbonTable:
    """Read InVEST's carbon-pool CSV (``lucode,c_above,c_below,c_soil,c_dead``, Mg C/ha).

    Headers are case-insensitive and extra columns are ignored; ``LULC_Name`` (or
    ``name``) becomes the class name.  Optional ``c_<pool>_low``, ``c_<pool>_high`` and
    ``c_<pool>_source`` columns give ranges and sources (otherwise the range is the
    central value and the source ``"[user] <file>"``).

    Parameters
    ----------
    path : path
    lucode_map : mapping or path, optional
        ``{lucode: legend_name}``: return a table keyed by sinks legend codes instead.
        Lucodes that map to the same class must carry identical values.

    Raises
    ------
    CoefficientError
        Non-numeric or negative densities, a missing pool column, duplicate lucodes.
    """
    return read_table_csv(path, lucode_map=lucode_map)


def _wide_table(path: Path, header: list[str], rows: list[tuple[int, list[str]]]) -> CarbonTable:
    where = str(path)
    key_col = next((k for k in ("lucode", "code", "class") if k in header), None)
    if key_col is None:
        raise CoefficientError(f"{where}: missing column 'lucode' (columns: {', '.join(header)})")
    pool_cols: dict[str, str] = {}
    for pool, options in _WIDE_POOL_COLUMNS.items():
        col = next((c for c in options if c in header), None)
        if col is None:
            raise CoefficientError(
                f"{where}: missing pool column {options[0]!r} (columns: {', '.join(h for h in header if h)})"
            )
        pool_cols[pool] = col
    name_col = next((k for k in ("lulc_name", "name", "lulc_desc", "description", "class")
                     if k in header and k != key_col), None)
    pos = {h: i for i, h in enumerate(header)}
    b = _Builder(where)

    def cell(rec: list[str], col: str) -> str:
        i = pos[col]
        return rec[i] if i < len(rec) else ""

    for line, rec in rows:
        row = f"line {line}"
        raw_key = cell(rec, key_col)
        code = _class_code(raw_key, where, row, key_col) if key_col == "class" else _code(raw_key, where, row, key_col)
        name = cell(rec, name_col) if name_col else (NAMES.get(code, "") if key_col == "class" else "")
        entry = b.add(code, row, name)
        for pool, col in pool_cols.items():
            central = _number(cell(rec, col), where, f"{row} ({key_col} {raw_key})", col)
            lo = _optional(rec, pos, f"{col}_low", central, where, f"{row} ({key_col} {raw_key})")
            hi = _optional(rec, pos, f"{col}_high", central, where, f"{row} ({key_col} {raw_key})")
            src = cell(rec, f"{col}_source") if f"{col}_source" in pos else ""
            _check_cell(where, f"{row} ({key_col} {raw_key})", col, central, lo, hi)
            entry["cells"][pool] = (central, lo, hi, src or f"[user] {path.name}")
    return b.build(name=path.name, path=where, soil_depth=None)


def _optional(rec: list[str], pos: dict[str, int], col: str, default: float, where: str, row: str) -> float:
    i = pos.get(col)
    if i is None or i >= len(rec) or not rec[i].strip():
        return default
    return _number(rec[i], where, row, col)


def _long_table(path: Path, header: list[str], rows: list[tuple[int, list[str]]], *,
                soil_depth: str | None) -> CarbonTable:
    where = str(path)
    if "code" not in header and "class" not in header:
        raise CoefficientError(f"{where}: missing column 'code' or 'class' (columns: {', '.join(header)})")
    pos = {h: i for i, h in enumerate(header)}

    def cell(rec: list[str], col: str) -> str:
        i = pos.get(col)
        return rec[i] if i is not None and i < len(rec) else ""

    cells: dict[int, dict[str, tuple[float, float, float, str]]] = {}
    names: dict[int, str] = {}
    first: dict[int, str] = {}
    origin: dict[tuple[int, str], str] = {}
    for line, rec in rows:
        row = f"line {line}"
        if "code" in pos and cell(rec, "code"):
            code = _code(cell(rec, "code"), where, row, "code")
        else:
            code = _class_code(cell(rec, "class"), where, row, "class")
        raw_pool = cell(rec, "pool").lower()
        pool = _LONG_POOLS.get(raw_pool)
        if pool is None:
            raise CoefficientError(f"{where}: {row}, column 'pool': unknown pool {raw_pool!r} "
                                   f"(above, below, dead, soil, soil_0_30, soil_0_100)")
        if (code, pool) in origin:
            raise CoefficientError(f"{where}: {row}: duplicate code {code} pool {pool!r} (first on {origin[code, pool]})")
        origin[code, pool] = row
        first.setdefault(code, row)
        central = _number(cell(rec, "central"), where, row, "central")
        lo = _number(cell(rec, "low"), where, row, "low") if cell(rec, "low") else central
        hi = _number(cell(rec, "high"), where, row, "high") if cell(rec, "high") else central
        _check_cell(where, f"{row} (code {code}, pool {pool})", "central", central, lo, hi)
        cells.setdefault(code, {})[pool] = (central, lo, hi, cell(rec, "source") or f"[user] {path.name}")
        names.setdefault(code, cell(rec, "class") or NAMES.get(code, ""))
    depth = soil_depth or "0-30"
    if depth not in SOIL_DEPTHS:
        raise ConfigError(f"soil_depth must be one of {', '.join(SOIL_DEPTHS)}, got {depth!r}")
    want = "soil_0_30" if depth == "0-30" else "soil_0_100"
    b = _Builder(where)
    any_depth = any(p in c for c in cells.values() for p in ("soil_0_30", "soil_0_100"))
    for code in sorted(cells):
        entry = b.add(code, first[code], names[code])
        got = cells[code]
        for pool in POOLS:
            key = pool
            if pool == "soil" and any_depth:
                key = want if want in got else "soil"
                if key not in got:
                    raise CoefficientError(f"{where}: code {code} has no {want!r} row (soil depth {depth} cm)")
            if key not in got:
                raise CoefficientError(f"{where}: code {code} has no {pool!r} pool row")
            entry["cells"][pool] = got[key]
    return b.build(name=path.stem, path=where, soil_depth=depth if any_depth else None)


def write_invest_csv(table: CarbonTable, path: str | os.PathLike, *, lucode_map: Mapping | str | os.PathLike | None = None,
                     ranges: bool = False, overwrite: bool = False) -> Path:
    """Write ``table`` as InVEST's carbon-pool CSV (``lucode,LULC_Name,C_above,C_below,C_soil,C_dead``).

    Parameters
    ----------
    table : CarbonTable
    path : path
    lucode_map : mapping or path, optional
        ``{lucode: legend_name}``: write one row per lucode with the values of its legend
        class (for running InVEST on a map in another legend).  Without it the table's
        own codes are the lucodes.
    ranges : bool
        Also write ``C_<pool>_low`` and ``C_<pool>_high`` columns (InVEST ignores them).
    overwrite : bool
        Replace an existing file.
    """
    from ..outputs import atomic_write_text

    header = ["lucode", "LULC_Name"] + [f"C_{p}" for p in POOLS]
    if ranges:
        header += [f"C_{p}_{w}" for p in POOLS for w in ("low", "high")]
    if lucode_map is None:
        items = [(code, i) for i, code in enumerate(table.codes)]
    else:
        items = []
        for lucode, cls in sorted(parse_lucode_map(lucode_map).items()):
            code = CODES[cls]
            if code not in table:
                raise CoefficientError(f"{table.label}: no row for class {cls!r} (lucode {lucode})")
            items.append((lucode, table.index_of(code)))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for lucode, i in items:
        row: list[Any] = [lucode, escape_cell(table.names[i] or NAMES.get(table.codes[i], ""))]
        row += [_fmt(table.central[i, p]) for p in range(len(POOLS))]
        if ranges:
            row += [_fmt(a[i, p]) for p in range(len(POOLS)) for a in (table.low, table.high)]
        w.writerow(row)
    return atomic_write_text(path, buf.getvalue(), overwrite=overwrite)


def write_table_csv(table: CarbonTable, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``table`` in the long format (``code,class,pool,central,low,high,source``) with every source."""
    from ..outputs import atomic_write_text

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["code", "class", "pool", "central", "low", "high", "source"])
    for i, code in enumerate(table.codes):
        for p, pool in enumerate(POOLS):
            w.writerow([code, escape_cell(table.names[i]), pool, _fmt(table.central[i, p]), _fmt(table.low[i, p]),
                        _fmt(table.high[i, p]), escape_cell(table.sources[i][p])])
    return atomic_write_text(path, buf.getvalue(), overwrite=overwrite)


def _fmt(v: float) -> str:
    return repr(float(v)) if v != int(v) else str(int(v))


# --------------------------------------------------------------------------------------
# YAML / JSON / mappings
# --------------------------------------------------------------------------------------
def table_from_mapping(data: Mapping[str, Any], *, where: str = "<mapping>", path: str | None = None) -> CarbonTable:
    """Build a table from the YAML/JSON structure of the module docstring."""
    if not isinstance(data, Mapping) or not isinstance(data.get("classes"), Mapping):
        raise CoefficientError(f"{where}: expected a mapping with a 'classes' key")
    b = _Builder(where)
    for key, spec in data["classes"].items():
        row = f"classes.{key}"
        code = key if isinstance(key, int) else _class_code(str(key), where, row, "class")
        if not isinstance(spec, Mapping):
            raise CoefficientError(f"{where}: {row}: expected a mapping of pools")
        name = str(spec.get("name", NAMES.get(code, "") if not isinstance(key, int) else ""))
        entry = b.add(code, row, name)
        unknown = set(spec) - set(POOLS) - {"name"} - {f"c_{p}" for p in POOLS}
        if unknown:
            raise CoefficientError(f"{where}: {row}: unknown key {sorted(map(str, unknown))[0]!r} (pools: {', '.join(POOLS)})")
        for pool in POOLS:
            val = spec.get(pool, spec.get(f"c_{pool}"))
            if val is None:
                raise CoefficientError(f"{where}: {row}: missing pool {pool!r}")
            src = f"[user] {Path(where).name}"
            if isinstance(val, Mapping):
                central = _number(val.get("central"), where, row, pool)
                lo = _number(val["low"], where, row, f"{pool}.low") if "low" in val else central
                hi = _number(val["high"], where, row, f"{pool}.high") if "high" in val else central
                src = str(val.get("source") or src)
            elif isinstance(val, (list, tuple)):
                if len(val) != 3:
                    raise CoefficientError(f"{where}: {row}, {pool}: a list must be [central, low, high]")
                central, lo, hi = (_number(v, where, row, pool) for v in val)
            else:
                central = lo = hi = _number(val, where, row, pool)
            _check_cell(where, row, pool, central, lo, hi)
            entry["cells"][pool] = (central, lo, hi, src)
    depth = data.get("soil_depth")
    return b.build(name=str(data.get("name") or Path(where).stem), path=path,
                   soil_depth=str(depth) if depth is not None else None)


def read_table_mapping(path: Path) -> CarbonTable:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CoefficientError(f"{path}: carbon table not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CoefficientError(f"{path}: cannot read carbon table ({exc})") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - yaml/json raise many types
        first = first_line(exc)
        raise CoefficientError(f"{path}: not valid {path.suffix.lstrip('.').upper()} ({first})") from None
    return table_from_mapping(data, where=str(path), path=str(path))


# --------------------------------------------------------------------------------------
# lucode maps
# --------------------------------------------------------------------------------------
def parse_lucode_map(value: Mapping | str | os.PathLike) -> dict[int, str]:
    """Normalise a lucode ↔ legend-name mapping to ``{lucode: legend_name}``.

    Parameters
    ----------
    value : mapping or path
        ``{lucode: name}``, ``{name: lucode}`` or a CSV file with columns
        ``lucode,class`` (case-insensitive; ``name`` or ``legend`` also accepted for
        ``class``).

    Raises
    ------
    CoefficientError
        Unknown legend names, non-integer lucodes, a lucode given twice.
    """
    where = "lucode map"
    if isinstance(value, (str, os.PathLike)):
        p = Path(value)
        header, rows = _read_csv_rows(p)
        where = str(p)
        if "lucode" not in header:
            raise CoefficientError(f"{p}: missing column 'lucode' (columns: {', '.join(header)})")
        cls_col = next((c for c in ("class", "legend", "name", "sinks_class") if c in header), None)
        if cls_col is None:
            raise CoefficientError(f"{p}: missing column 'class' (columns: {', '.join(header)})")
        i, j = header.index("lucode"), header.index(cls_col)
        pairs = [(f"line {ln}", rec[i] if i < len(rec) else "", rec[j] if j < len(rec) else "") for ln, rec in rows]
    else:
        pairs = []
        for k, v in dict(value).items():
            if isinstance(k, str) and not k.strip().lstrip("-").isdigit():
                k, v = v, k
            pairs.append((f"key {k}", k, v))
    out: dict[int, str] = {}
    for row, lucode, cls in pairs:
        code = _code(lucode, where, row, "lucode")
        legend = NAMES[_class_code(str(cls), where, row, "class")]
        if code in out:
            raise CoefficientError(f"{where}: {row}: lucode {code} given twice")
        out[code] = legend
    return out


def rekey_table(table: CarbonTable, lucode_map: dict[int, str]) -> CarbonTable:
    """Table keyed by legend codes from a lucode table."""
    rows: dict[int, int] = {}
    for lucode, cls in sorted(lucode_map.items()):
        if lucode not in table:
            log.info("%s: lucode %d (%s) of the lucode map is not in the table", table.label, lucode, cls)
            continue
        code = CODES[cls]
        i = table.index_of(lucode)
        if code in rows:
            j = rows[code]
            if not (np.array_equal(table.central[i], table.central[j]) and np.array_equal(table.low[i], table.low[j])
                    and np.array_equal(table.high[i], table.high[j])):
                raise CoefficientError(
                    f"{table.label}: lucodes {table.codes[j]} and {lucode} both map to {cls!r} but carry different densities"
                )
            continue
        rows[code] = i
    if not rows:
        raise CoefficientError(f"{table.label}: no lucode of the table appears in the lucode map")
    order = sorted(rows)
    idx = [rows[c] for c in order]
    return CarbonTable(codes=tuple(order), names=tuple(NAMES[c] for c in order), central=table.central[idx],
                       low=table.low[idx], high=table.high[idx], sources=tuple(table.sources[i] for i in idx),
                       name=table.name, path=table.path, soil_depth=table.soil_depth)
