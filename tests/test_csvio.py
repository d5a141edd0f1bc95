"""CSV formula injection: text cells a spreadsheet would run are escaped in every CSV sinks writes."""

from __future__ import annotations

import csv

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import box

from sinks.cli import main
from sinks.csvio import FORMULA_PREFIXES, escape_cell, read_csv, unescape_cell

X0, Y0 = 500000.0, 2400000.0
EVIL = ["=cmd|' /C calc'!A0", "+1+1", "@SUM(A1:A9)", "-2+3", "\tTAB", "\rCR", "'=quoted", "plain", "'s-Hertogenbosch"]


def _raw_rows(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _assert_safe(cells: list[str]) -> None:
    for c in cells:
        assert not c.startswith(FORMULA_PREFIXES), c


@given(st.text())
def test_escape_round_trips_and_is_safe(s):
    e = escape_cell(s)
    assert not e.startswith(FORMULA_PREFIXES)
    assert unescape_cell(e) == s


def test_escape_leaves_numbers_and_plain_text():
    assert escape_cell(-2.5) == -2.5 and escape_cell("plain") == "plain" and escape_cell("'s-Hertogenbosch") == \
        "'s-Hertogenbosch"
    assert escape_cell("-2+3") == "'-2+3"


def test_zonal_csv_escapes_ids_keeps_negative_numbers(make_tile, tmp_path):
    r = make_tile("neg.tif", np.full((4, 4), -2.5, np.float32), nodata=None)
    ids = EVIL[:4]
    zones = tmp_path / "z.gpkg"
    gpd.GeoDataFrame({"zid": ids}, geometry=[box(X0 + 10 * i, Y0 - 10, X0 + 10 * (i + 1), Y0) for i in range(4)],
                     crs="EPSG:32649").to_file(zones)
    out = tmp_path / "z.csv"
    with pytest.raises(SystemExit) as ei:
        main(["zonal", str(r), "--zones", str(zones), "--id-field", "zid", "--stats", "sum,mean", "-o", str(out)])
    assert ei.value.code == 0
    rows = _raw_rows(out)
    assert rows[0][:3] == ["zid", "sum", "mean"]
    body = rows[1:]
    _assert_safe([c for row in body for c in row[:1]])
    assert [row[0] for row in body] == ["'" + i for i in ids]
    assert [row[2] for row in body] == ["-2.5"] * 4  # a negative number stays a number
    assert read_csv(out, dtype={"zid": str})["zid"].tolist() == ids
    # GeoPackage keeps the raw values
    main_gpkg = tmp_path / "z.gpkg.out.gpkg"
    with pytest.raises(SystemExit):
        main(["zonal", str(r), "--zones", str(zones), "--id-field", "zid", "-o", str(main_gpkg)])
    assert gpd.read_file(main_gpkg)["zid"].tolist() == ids


def test_indicator_tables_and_write_vector_escape(tmp_path):
    from sinks.indicators import write_indicator_tables
    from sinks.vectors import write_vector

    gdf = gpd.GeoDataFrame({"rid": EVIL, "name": EVIL[::-1], "sink_mg_c_per_yr": np.linspace(-2.5, 2.5, len(EVIL))},
                           geometry=[box(i, 0, i + 1, 1) for i in range(len(EVIL))], crs="EPSG:32649")
    paths = write_indicator_tables(gdf, tmp_path / "tables" / "regions", formats=("gpkg", "parquet", "csv"))
    rows = _raw_rows(paths[2])
    _assert_safe([c for row in rows for c in row[:2]])
    assert rows[1][2] == "-2.5"
    back = read_csv(paths[2], dtype={"rid": str, "name": str})
    assert back["rid"].tolist() == EVIL and back["name"].tolist() == EVIL[::-1]
    assert gpd.read_file(paths[0])["rid"].tolist() == EVIL
    assert gpd.read_parquet(paths[1])["rid"].tolist() == EVIL
    p = write_vector(gdf, tmp_path / "v.csv", overwrite=False)
    rows = _raw_rows(p)
    _assert_safe([c for row in rows for c in row[:2]])
    assert rows[1][2] == "-2.5"


def test_batch_summary_csv_escapes_region_ids(make_tile, tmp_path):
    from sinks.batch import run_batch
    from test_batch import _scene

    spec, regions = _scene(make_tile, tmp_path)
    gdf = gpd.read_file(regions)
    ids = ["=cmd|' /C calc'!A0", "+1+1", "@SUM(A1)", "-2+3"]
    gdf["region_id"] = ids
    gdf.to_file(regions)
    out = tmp_path / "b"
    res = run_batch(spec, regions=str(regions), id_field="region_id", out=out)
    assert [r.status for r in res.results] == ["done"] * 4
    rows = _raw_rows(out / "batch_summary.csv")
    _assert_safe([c for row in rows for c in row])
    assert [row[0] for row in rows[1:]] == ["'" + i for i in ids]
    assert read_csv(out / "batch_summary.csv", dtype={0: str})["region_id"].tolist() == ids
    assert gpd.read_file(out / "batch_summary.gpkg")["region_id"].tolist() == ids


def test_carbon_table_csv_escapes_names(tmp_path):
    from sinks.carbon.tableio import read_table_csv, write_table_csv
    from sinks.carbon import load_table

    t = load_table("china")
    from dataclasses import replace

    names = list(t.names)
    names[0] = "=HYPERLINK(\"http://x\")"
    t2 = replace(t, names=tuple(names) if isinstance(t.names, tuple) else names)
    p = write_table_csv(t2, tmp_path / "c.csv")
    _assert_safe([c for row in _raw_rows(p) for c in row[:3]])
    assert read_table_csv(p).names[0] == names[0]
