"""``sinks carbon``: JSON contract, outputs, InVEST parity and bad input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sinks.cli import main

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "invest_carbon"
WILLAMETTE = pytest.mark.skipif(
    not (SHARED / "lulc_current_willamette.tif").exists(),
    reason=f"InVEST Willamette sample data not found in {SHARED} (see shared/invest_carbon/PROVENANCE.md)",
)

# InVEST 3.20.2 on its Willamette sample (DESIGN §9)
INVEST_CURRENT = 41_401_390.815
INVEST_FUTURE = 37_875_295.71
INVEST_CHANGE = -3_526_095.105

POOLS_CSV = "lucode,LULC_Name,C_above,C_below,C_soil,C_dead\n1,forest,10,2,50,1\n2,grass,1,4,40,0\n3,wet,2,2,80,0\n"
LC = np.array([[1, 1, 2], [3, 0, 1], [2, 2, 1]], dtype=np.uint8)
ALT = np.array([[1, 2, 2], [3, 0, 1], [3, 2, 0]], dtype=np.uint8)


def run(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["carbon", *map(str, args)])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture
def pools(tmp_path: Path) -> Path:
    p = tmp_path / "pools.csv"
    p.write_text(POOLS_CSV)
    return p


@pytest.fixture
def maps(make_tile) -> tuple[Path, Path]:
    return make_tile("lc.tif", LC, res=30, nodata=0), make_tile("alt.tif", ALT, res=30, nodata=0)


def test_json_shape_and_hand_values(maps, pools, capsys) -> None:
    code, out, err = run([maps[0], "--pools", pools, "--alt", maps[1], "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert list(doc) == ["baseline", "alternate", "change_mg_c"]
    assert list(doc["baseline"]) == ["stock_mg_c", "area_ha"]
    assert list(doc["baseline"]["stock_mg_c"]) == ["total", "above", "below", "soil", "dead"]
    assert doc["baseline"]["stock_mg_c"]["total"] == pytest.approx(0.09 * 471)
    assert doc["baseline"]["area_ha"] == pytest.approx(0.72)
    # alternate: 1:2 px (63), 2:3 px (45), 3:2 px (84)
    assert doc["alternate"]["stock_mg_c"]["total"] == pytest.approx(0.09 * (126 + 135 + 168))
    assert doc["change_mg_c"]["total"] == pytest.approx(0.09 * (429 - 471))
    assert set(doc["change_mg_c"]) == {"total", "above", "below", "soil", "dead"}
    code, out, _ = run([maps[0], "--pools", pools, "--json"], capsys)
    assert code == 0 and list(json.loads(out)) == ["baseline"]


def test_outputs_and_overwrite(maps, pools, tmp_path: Path, capsys) -> None:
    out_dir = tmp_path / "out"
    code, out, err = run([maps[0], "--pools", pools, "--alt", maps[1], "-o", out_dir, "--pool-layers"], capsys)
    assert code == 0, err
    names = sorted(p.name for p in out_dir.iterdir() if not p.name.endswith(".aux.xml"))
    assert "carbon_summary.json" in names and len(names) == 15
    # every layer carries its unit for GDAL and QGIS
    with rasterio.open(out_dir / "carbon_density_total_baseline.tif") as ds:
        assert ds.units == ("Mg C/ha",)
    with rasterio.open(out_dir / "carbon_stock_total_baseline.tif") as ds:
        assert ds.units == ("Mg C",)
    assert "carbon_stock_total_baseline.tif" in names and "carbon_density_change_total.tif" in names
    summary = json.loads((out_dir / "carbon_summary.json").read_text())
    assert summary["baseline"]["stock_mg_c"]["total"] == pytest.approx(42.39)
    assert summary["class_areas"]["baseline"]["1"]["pixels"] == 4
    with rasterio.open(out_dir / "carbon_density_total_alternate.tif") as ds:
        assert ds.read(1)[2, 0] == 84
    code, _, err = run([maps[0], "--pools", pools, "--alt", maps[1], "-o", out_dir, "--pool-layers"], capsys)
    assert code == 2 and "exists" in err and "--overwrite" in err
    code, _, err = run([maps[0], "--pools", pools, "--alt", maps[1], "-o", out_dir, "--overwrite"], capsys)
    assert code == 0, err
    only = tmp_path / "only"
    code, _, _ = run([maps[0], "--pools", pools, "-o", only, "--no-rasters"], capsys)
    assert code == 0 and [p.name for p in only.iterdir()] == ["carbon_summary.json"]
    single = tmp_path / "single"  # by default the totals only: pool densities are lookups, written on request
    code, _, _ = run([maps[0], "--pools", pools, "-o", single], capsys)
    assert sorted(p.name for p in single.iterdir()) == [
        "carbon_density_total.tif", "carbon_density_total.tif.aux.xml", "carbon_stock_total.tif",
        "carbon_stock_total.tif.aux.xml", "carbon_summary.json"]
    two = tmp_path / "two"
    code, _, _ = run([maps[0], "--pools", pools, "--alt", maps[1], "-o", two], capsys)
    assert len([p for p in two.iterdir() if p.suffix == ".tif"]) == 6


def test_no_rasters_without_out(maps, pools, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.rglob("*"))
    code, out, _ = run([maps[0], "--pools", pools], capsys)
    assert code == 0 and "Mg C" in out
    assert set(tmp_path.rglob("*")) == before


def test_engines_agree_and_packaged_table(maps, pools, capsys) -> None:
    docs = []
    for engine in ("numpy", "dask"):
        code, out, err = run([maps[0], "--pools", pools, "--alt", maps[1], "--json", "--engine", engine], capsys)
        assert code == 0, err
        docs.append(json.loads(out))
    assert docs[0] == docs[1]
    code, out, _ = run([maps[0], "--json"], capsys)  # default: the packaged China table on legend codes
    assert code == 0
    assert json.loads(out)["baseline"]["stock_mg_c"]["total"] == pytest.approx(0.09 * (4 * 122.4 + 3 * 75.63 + 93.0))
    # (grassland soil = the default zone's SOC_ref 70.6, as forest's: one climate zone)


def test_valuation_and_uncertainty(maps, pools, tmp_path: Path, capsys) -> None:
    code, out, err = run([maps[0], "--pools", pools, "--alt", maps[1], "--json", "--years", 2020, 2030,
                          "--price", 10, "--discount-rate", 0.1], capsys)
    assert code == 0, err
    doc = json.loads(out)
    f = sum(1.1 ** -t for t in range(10))
    assert doc["valuation"]["npv"] == pytest.approx(doc["change_mg_c"]["total"] * 10 / 10 * f)
    code, out, err = run([maps[0], "--json", "--draws", 1000], capsys)
    assert code == 0, err
    iv = json.loads(out)["uncertainty"]["stock_mg_c"]["total"]
    assert iv["low"] <= iv["central"] <= iv["high"]
    code, _, err = run([maps[0], "--pools", pools, "--price", 10], capsys)
    assert code == 2 and "--years" in err


# -- InVEST parity ---------------------------------------------------------------------
@WILLAMETTE
def test_willamette_parity(tmp_path: Path, capsys) -> None:
    args = [SHARED / "lulc_current_willamette.tif", "--pools", SHARED / "carbon_pools_willamette.csv",
            "--alt", SHARED / "lulc_future_willamette.tif"]
    code, out, err = run([*args, "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["baseline"]["stock_mg_c"]["total"] == pytest.approx(INVEST_CURRENT, rel=1e-9)
    assert doc["alternate"]["stock_mg_c"]["total"] == pytest.approx(INVEST_FUTURE, rel=1e-9)
    assert doc["change_mg_c"]["total"] == pytest.approx(INVEST_CHANGE, rel=1e-9)
    # the same through the dask engine, writing every layer
    code, out, err = run([*args, "--json", "--engine", "dask", "--chunks", 512, "-o", tmp_path / "o"], capsys)
    assert code == 0, err
    assert json.loads(out)["baseline"]["stock_mg_c"]["total"] == pytest.approx(INVEST_CURRENT, rel=1e-9)
    with rasterio.open(tmp_path / "o" / "carbon_stock_change_total.tif") as ds:
        assert float(np.nansum(ds.read(1).astype(np.float64))) == pytest.approx(INVEST_CHANGE, rel=1e-6)


@WILLAMETTE
def test_willamette_library_api() -> None:
    from sinks.carbon import class_areas_ha, load_table, open_landcover, stock_totals

    table = load_table(SHARED / "carbon_pools_willamette.csv")
    cur = open_landcover(SHARED / "lulc_current_willamette.tif")
    fut = open_landcover(SHARED / "lulc_future_willamette.tif", grid=cur.grid)
    assert (cur.nodata, fut.nodata, str(fut.data.dtype)) == (128, 0, "int8")
    tc = stock_totals(class_areas_ha(cur.data, cur.grid, nodata=cur.nodata), table).stock_mg_c["total"]
    tf = stock_totals(class_areas_ha(fut.data, fut.grid, nodata=fut.nodata), table).stock_mg_c["total"]
    assert tc == pytest.approx(INVEST_CURRENT, rel=1e-12)
    assert tf == pytest.approx(INVEST_FUTURE, rel=1e-12)


# -- bad input: exit 2, one line, nothing written --------------------------------------
@pytest.mark.parametrize(
    ("csv_text", "pattern"),
    [
        ("lucode,c_above,c_below,c_soil,c_dead\n1,1,1,x,1\n2,1,1,1,1\n3,1,1,1,1\n", r"pools\.csv: line 2 .*'c_soil': 'x' is not a number"),
        ("lucode,c_above,c_below,c_soil,c_dead\n1,1,1,-2,1\n2,1,1,1,1\n3,1,1,1,1\n", r"negative density -2"),
        ("lucode,c_above,c_below,c_soil\n1,1,1,1\n", r"missing pool column 'c_dead'"),
        ("lucode,c_above,c_below,c_soil,c_dead\n1,1,1,1,1\n1,1,1,1,1\n", r"duplicate code 1"),
        ("lucode,c_above,c_below,c_soil,c_dead\n1,1,1,1,1\n", r"codes missing from the carbon table .*2 \(3 px\), 3 \(1 px\)"),
    ],
)
def test_bad_tables_exit_2(maps, tmp_path: Path, capsys, csv_text: str, pattern: str) -> None:
    import re

    p = tmp_path / "pools.csv"
    p.write_text(csv_text)
    out_dir = tmp_path / "out"
    code, out, err = run([maps[0], "--pools", p, "-o", out_dir, "--json"], capsys)
    assert code == 2
    assert re.search(pattern, err), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_missing_zero(maps, tmp_path: Path, capsys) -> None:
    p = tmp_path / "pools.csv"
    p.write_text("lucode,c_above,c_below,c_soil,c_dead\n1,10,2,50,1\n")
    code, out, err = run([maps[0], "--pools", p, "--json", "--missing", "zero"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["baseline"]["stock_mg_c"]["total"] == pytest.approx(0.09 * 4 * 63)
    assert doc["baseline"]["area_ha"] == pytest.approx(0.72)


def test_bad_rasters_exit_2(make_tile, pools, tmp_path: Path, capsys) -> None:
    good = make_tile("lc.tif", LC, res=30, nodata=0)
    cases = [
        ([make_tile("float.tif", LC.astype(np.float32), res=30, nodata=0)], "integer raster, found float32"),
        ([make_tile("nan.tif", np.full((3, 3), np.nan, np.float32), res=30, nodata=None)], "integer raster"),
        ([tmp_path / "missing.tif"], "missing.tif: file not found"),
        ([good, "--alt", make_tile("shift.tif", LC, res=30, x0=500010.0, nodata=0)],
         r"grid differs .*; pass --align to warp it onto the baseline grid"),
        ([good, "--alt", make_tile("res.tif", np.kron(LC, np.ones((2, 2), np.uint8)), res=15, nodata=0)],
         "grid differs"),
    ]
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00garbage")
    cases.append(([junk], "junk.tif"))
    for args, pattern in cases:
        code, _, err = run([*args, "--pools", pools, "--json"], capsys)
        assert code == 2, (args, err)
        import re

        assert re.search(pattern, err), err
        assert "Traceback" not in err


def test_align_warps_alternate(make_tile, pools, capsys) -> None:
    good = make_tile("lc.tif", LC, res=30, nodata=0)
    fine = make_tile("fine.tif", np.kron(ALT, np.ones((2, 2), np.uint8)), res=15, nodata=0)
    code, out, err = run([good, "--pools", pools, "--alt", fine, "--align", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["alternate"]["stock_mg_c"]["total"] == pytest.approx(0.09 * (126 + 135 + 168))


def test_currency_draws_without_ranges_and_help(maps, pools, capsys) -> None:
    code, out, err = run([maps[0], "--pools", pools, "--alt", maps[1], "--years", 2020, 2030, "--price", 50,
                          "--currency", "USD"], capsys)
    assert code == 0, err
    assert " USD (NPV over 10 yr)" in out and "CNY" not in out
    code, out, _err = run([maps[0], "--pools", pools, "--alt", maps[1], "--years", 2020, 2030, "--price", 50], capsys)
    assert code == 0 and " CNY (NPV" in out
    # an InVEST table has no ranges: the intervals are single values, and the command says so
    code, out, err = run([maps[0], "--pools", pools, "--draws", 200], capsys)
    assert code == 0
    assert "Warning:" in err and "zero width" in err and len(err.strip().splitlines()) == 1
    assert "95 % interval 42.4 – 42.4 Mg C (200 draws)" in out
    # the packaged table has ranges: an interval, no warning
    code, out, err = run([maps[0], "--draws", 200], capsys)
    assert code == 0 and "Warning" not in err and "95 % interval" in out
    with pytest.raises(SystemExit):
        main(["carbon", "--help"])
    text = capsys.readouterr().out
    assert "95 % intervals" in text and "%%" not in text and "--currency" in text


def test_engines_write_the_same_files(make_tile, pools, tmp_path: Path, capsys, monkeypatch) -> None:
    """In-memory maps are written by the one-pass COG writer that streams large dask maps:
    the files are byte for byte equal."""
    import sinks.outputs

    monkeypatch.setattr(sinks.outputs, "IN_MEMORY_BYTES", 0)  # dask layers streamed, as a large map's are
    rng = np.random.default_rng(5)
    lc = make_tile("big.tif", rng.integers(1, 4, size=(1100, 700)).astype(np.uint8), res=30, nodata=0)
    alt = make_tile("alt.tif", rng.integers(1, 4, size=(1100, 700)).astype(np.uint8), res=30, nodata=0)
    for engine in ("numpy", "dask"):
        code, _, err = run([lc, "--alt", alt, "--pools", pools, "--engine", engine, "--chunks", 512,
                            "-o", tmp_path / engine], capsys)
        assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "numpy").glob("*.tif"))
    assert len(names) == 6 and "carbon_stock_change_total.tif" in names
    for name in names:
        assert (tmp_path / "numpy" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()
