"""Carbon coefficient tables: packaged China/IPCC tables, InVEST CSV, YAML, validation."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from sinks.carbon import (
    POOLS,
    china_table,
    density_lut,
    ipcc_table,
    load_table,
    parse_lucode_map,
    read_invest_csv,
    write_invest_csv,
    write_table_csv,
)
from sinks.errors import CoefficientError, ConfigError, OutputExistsError
from sinks.landcover import CODES

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "invest_carbon"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# -- packaged tables -----------------------------------------------------------------
def test_china_table_covers_the_legend_with_flagged_sources() -> None:
    t = china_table()
    assert t.codes == tuple(range(1, 9))
    assert [t.names[i] for i in range(8)] == list(CODES)
    assert t.soil_depth == "0-30"
    assert np.all(t.low <= t.central) and np.all(t.central <= t.high)
    for row in t.sources:
        for src in row:
            assert re.match(r"^\[(V|D|R|A)\] ", src), src
    f = t.index_of(CODES["forest"])
    assert tuple(t.central[f]) == (36.5, 9.3, 70.6, 6.0)
    assert t.density(CODES["forest"]) == pytest.approx(122.4)


def test_china_soil_depth_option() -> None:
    t30, t100 = china_table(), load_table("china", soil_depth="0-100")
    assert t100.soil_depth == "0-100"
    assert t100.density(CODES["forest"], "soil") == 124.0
    assert t100.density(CODES["wetland"], "soil") == 312.0
    assert t30.density(CODES["mangrove"], "soil") == pytest.approx(85.8)
    np.testing.assert_array_equal(t30.values("above"), t100.values("above"))
    with pytest.raises(ConfigError):
        china_table(soil_depth="0-50")


def test_ipcc_table_by_zone() -> None:
    t = ipcc_table(gez="temperate_continental", climate="cold_temperate_dry")
    f, g, w = CODES["forest"], CODES["grassland"], CODES["wetland"]
    assert t.density(f, "above") == pytest.approx(120 * 0.47)
    assert t.density(f, "below") == pytest.approx(120 * 0.47 * 0.29)
    assert t.density(f, "soil") == pytest.approx(44.8)  # mean of 50, 33, 34, 20, 87
    assert t.density(w, "soil") == 87
    assert t.density(g, "above") + t.density(g, "below") == pytest.approx(6.5 * 0.47)
    assert t.density(f, "dead") == 6.0  # keeps the China DOM by default
    assert "[R]" in t.sources[t.index_of(f)][0]
    same = load_table("ipcc:gez=temperate_continental,climate=cold_temperate_dry")
    np.testing.assert_array_equal(same.central, t.central)
    assert same.name.startswith("ipcc:gez=temperate_continental")
    # mangrove zone and IPCC litter
    m = ipcc_table(mangrove="tropical_wet", dom="ipcc", leaf="broadleaf", climate="warm_temperate_moist")
    assert m.density(CODES["mangrove"], "above") == pytest.approx(192 * 0.45)
    assert m.density(f, "dead") == 13


@pytest.mark.parametrize("source", ["ipcc:gez=nowhere", "ipcc:climate=lunar", "ipcc:colour=red", "ipcc:gez"])
def test_ipcc_bad_options(source: str) -> None:
    with pytest.raises(ConfigError):
        load_table(source)


def test_unknown_named_table() -> None:
    with pytest.raises(CoefficientError, match="not found"):
        load_table("atlantis")


# -- InVEST CSV ----------------------------------------------------------------------
def test_invest_csv_headers_are_case_insensitive(tmp_path: Path) -> None:
    p = write(tmp_path, "pools.csv",
              "\ufeffLUCODE, LULC_Name ,C_Above,c_BELOW,C_SOIL,C_dead,notes\n"
              "1,Forest,140,70,35,12,x\n"
              " 2 ,Grass,15,35,30,4,\n")
    t = read_invest_csv(p)
    assert t.codes == (1, 2)
    assert t.names == ("Forest", "Grass")
    np.testing.assert_array_equal(t.central, [[140, 70, 35, 12], [15, 35, 30, 4]])
    np.testing.assert_array_equal(t.low, t.central)
    # the LUT used for maps holds exactly the CSV totals
    lut = density_lut(t, "total", dtype=np.uint8)
    assert lut[1] == 257 and lut[2] == 84 and np.isnan(lut[3])
    lut_soil = density_lut(t, "soil", dtype=np.int16, nodata=2)
    assert lut_soil[1] == 35 and np.isnan(lut_soil[2])


def test_invest_csv_optional_ranges(tmp_path: Path) -> None:
    p = write(tmp_path, "pools.csv", "lucode,c_above,c_above_low,c_above_high,c_below,c_soil,c_dead\n"
                                     "5,10,8,12,1,2,3\n")
    t = read_invest_csv(p)
    assert t.low[0, 0] == 8 and t.high[0, 0] == 12 and t.low[0, 1] == 1


@pytest.mark.skipif(not (SHARED / "carbon_pools_willamette.csv").exists(),
                    reason="InVEST sample data not found in ../shared/invest_carbon")
def test_willamette_table() -> None:
    t = load_table(SHARED / "carbon_pools_willamette.csv")
    assert len(t) == 66
    assert t.names[0] == "Residential 0-4 units/acre"
    assert tuple(t.central[0]) == (15, 10, 60, 1)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("lucode,c_above,c_below,c_soil,c_dead\n1,10,2,abc,1\n", r"pools\.csv: line 2 \(lucode 1\), column 'c_soil': 'abc' is not a number"),
        ("lucode,c_above,c_below,c_soil,c_dead\n1,10,2,5,1\n7,-3,0,0,0\n", r"pools\.csv: line 3 .*'c_above': negative density -3"),
        ("lucode,c_above,c_below,c_soil\n1,10,2,5\n", r"pools\.csv: missing pool column 'c_dead'"),
        ("lucode,c_above,c_below,c_soil,c_dead\n1,1,1,1,1\n2,1,1,1,1\n1,2,2,2,2\n", r"pools\.csv: line 4: duplicate code 1 \(first on line 2\)"),
        ("lucode,c_above,c_below,c_soil,c_dead\n1,1,,1,1\n", r"line 2 .*'c_below': missing value"),
        ("lucode,c_above,c_below,c_soil,c_dead\n1,1,nan,1,1\n", r"'c_below': 'nan' is not a finite number"),
        ("lucode,c_above,c_below,c_soil,c_dead\n1.5,1,1,1,1\n", r"code '1.5' is not an integer"),
        ("c_above,c_below,c_soil,c_dead\n1,1,1,1\n", r"missing column 'lucode'"),
        ("lucode,c_above,c_below,c_soil,c_dead\n", r"has no rows"),
        ("", r"empty"),
        ("lucode,c_above,c_above_low,c_below,c_soil,c_dead\n1,5,6,1,1,1\n", r"low <= central <= high"),
        ("lucode,C_above,c_ABOVE,c_below,c_soil,c_dead\n1,5,6,1,1,1\n", r"duplicate column 'c_above'"),
    ],
)
def test_invest_csv_errors_name_file_row_and_column(tmp_path: Path, text: str, pattern: str) -> None:
    p = write(tmp_path, "pools.csv", text)
    with pytest.raises(CoefficientError, match=pattern) as exc:
        load_table(p)
    assert "\n" not in str(exc.value)


def test_missing_table_file(tmp_path: Path) -> None:
    with pytest.raises(CoefficientError, match="not found"):
        load_table(tmp_path / "nope.csv")


def test_invest_round_trip(tmp_path: Path) -> None:
    t = china_table()
    p = write_invest_csv(t, tmp_path / "china_invest.csv")
    header = p.read_text().splitlines()[0]
    assert header == "lucode,LULC_Name,C_above,C_below,C_soil,C_dead"
    back = read_invest_csv(p)
    assert back.codes == t.codes
    np.testing.assert_allclose(back.central, t.central)
    with pytest.raises(OutputExistsError):
        write_invest_csv(t, p)
    ranged = read_invest_csv(write_invest_csv(t, tmp_path / "ranged.csv", ranges=True))
    np.testing.assert_allclose(ranged.low, t.low)
    np.testing.assert_allclose(ranged.high, t.high)


def test_lucode_map_both_ways(tmp_path: Path) -> None:
    p = write(tmp_path, "pools.csv", "lucode,LULC_Name,c_above,c_below,c_soil,c_dead\n"
                                     "11,conifer,100,20,60,8\n12,broadleaf,100,20,60,8\n"
                                     "30,grass,1,4,40,0\n99,other,0,0,0,0\n")
    lmap = {11: "forest", 12: "forest", 30: "grassland"}
    t = read_invest_csv(p, lucode_map=lmap)
    assert t.codes == (CODES["forest"], CODES["grassland"])
    assert t.density(CODES["forest"]) == 188
    # inverse orientation and a CSV file are accepted too
    assert parse_lucode_map({"grassland": 30}) == {30: "grassland"}
    mp = write(tmp_path, "map.csv", "LUCODE,Class\n11,forest\n30,Grassland\n")
    assert parse_lucode_map(mp) == {11: "forest", 30: "grassland"}
    assert load_table(p, lucode_map=mp).codes == (1, 2)
    # writing legend rows under lucodes
    out = write_invest_csv(china_table(), tmp_path / "lucodes.csv", lucode_map=lmap)
    rows = out.read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["11", "12", "30"]
    # conflicting densities for one class
    bad = write(tmp_path, "bad.csv", "lucode,c_above,c_below,c_soil,c_dead\n11,1,1,1,1\n12,2,1,1,1\n")
    with pytest.raises(CoefficientError, match="both map to 'forest'"):
        read_invest_csv(bad, lucode_map={11: "forest", 12: "forest"})
    with pytest.raises(CoefficientError, match="unknown land-cover class 'jungle'"):
        parse_lucode_map({5: "jungle"})


def test_class_names_instead_of_lucodes(tmp_path: Path) -> None:
    p = write(tmp_path, "pools.csv", "class,c_above,c_below,c_soil,c_dead\nForest,1,2,3,4\nbuilt-up,0,0,0,0\n")
    t = load_table(p)
    assert t.codes == (CODES["forest"], CODES["built_up"])


# -- YAML / long format -----------------------------------------------------------------
def test_yaml_table_forms(tmp_path: Path) -> None:
    p = write(tmp_path, "t.yaml", """
name: mine
soil_depth: 0-100
classes:
  forest:
    above: 40
    below: [10, 8, 12]
    soil: {central: 100, low: 90, high: 110, source: "[V] my plots"}
    dead: 5
  12: {above: 1, below: 1, soil: 1, dead: 0}
""")
    t = load_table(p)
    assert t.name == "mine" and t.soil_depth == "0-100"
    assert t.codes == (1, 12)
    i = t.index_of(1)
    assert (t.low[i, 1], t.central[i, 1], t.high[i, 1]) == (8, 10, 12)
    assert t.sources[i][POOLS.index("soil")] == "[V] my plots"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("classes:\n  forest: {above: 1, below: 1, soil: 1}\n", r"t\.yaml: classes\.forest: missing pool 'dead'"),
        ("classes:\n  forest: {above: x, below: 1, soil: 1, dead: 1}\n", r"classes\.forest, column 'above': 'x' is not a number"),
        ("classes:\n  forest: {above: -1, below: 1, soil: 1, dead: 1}\n", r"negative density"),
        ("classes: [1, 2]\n", r"expected a mapping with a 'classes' key"),
        ("classes:\n  forest: {above: 1\n", r"not valid YAML"),
        ("classes:\n  forest: {above: 1, below: 1, soil: 1, dead: 1, leaves: 2}\n", r"unknown key 'leaves'"),
    ],
)
def test_yaml_errors(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(CoefficientError, match=pattern):
        load_table(write(tmp_path, "t.yaml", text))


def test_long_format_round_trip(tmp_path: Path) -> None:
    t = china_table()
    p = write_table_csv(t, tmp_path / "long.csv")
    back = load_table(p)
    np.testing.assert_allclose(back.central, t.central)
    np.testing.assert_allclose(back.low, t.low)
    assert back.sources == t.sources


def test_to_dict_is_json_ready() -> None:
    import json

    d = china_table().to_dict()
    assert d["classes"]["1"]["above_mg_c_per_ha"]["central"] == 36.5
    json.dumps(d)
