"""Official forest coverage rate, legends of input maps, ``sinks indicators`` end to end."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from sinks.carbon.tableio import table_from_mapping
from sinks.cli import main
from sinks.coverage import coverage_rate
from sinks.errors import ConfigError
from sinks.indicators import compute_indicators, sink_interval, sink_method, to_json
from sinks.legends import resolve_legend

X0, Y0, PX = 500000.0, 2400000.0, 0.01  # 10 m pixels: 0.01 ha

TABLE = table_from_mapping({"name": "hand", "classes": {
    "forest": {"above": [50, 40, 60], "below": 10, "dead": 5, "soil": 100},
    "grassland": {"above": 5, "below": 5, "dead": 1, "soil": 60},
    "wetland": {"above": 10, "below": 5, "dead": 2, "soil": 200},
    "mangrove": {"above": 60, "below": 20, "dead": 5, "soil": 300},
    "water": {"above": 0, "below": 0, "dead": 0, "soil": 0},
    "cropland": {"above": 3, "below": 1, "dead": 0, "soil": 50},
    "built_up": {"above": 0, "below": 0, "dead": 0, "soil": 20},
    "bare": {"above": 0, "below": 0, "dead": 0, "soil": 10},
}})


def _grid(counts: list[tuple[int, int]], *, dtype=np.uint8) -> np.ndarray:
    """A 10 × 10 map filled row by row with ``(code, pixels)`` runs."""
    flat = np.concatenate([np.full(n, c) for c, n in counts])
    assert flat.size == 100
    return flat.reshape(10, 10).astype(dtype)


def _zone(path: Path, geom=None, **fields) -> Path:
    geom = geom if geom is not None else box(X0, Y0 - 100, X0 + 100, Y0)
    gpd.GeoDataFrame({"zid": ["z"], **{k: [v] for k, v in fields.items()}}, geometry=[geom],
                     crs="EPSG:32649").to_file(path, engine="pyogrio")
    return path


def _ind(maps: dict[str, Path], zones, **kw):
    years = {e: int(e) for e in maps}
    return compute_indicators(zones, id_field="zid", landcover=maps, years=years, table=TABLE, **kw)


def test_coverage_rate_formula() -> None:
    r = coverage_rate(forest_ha=30.0, mangrove_ha=0.0, zone_area_ha=100.0, unobserved_ha=0.0)
    assert r["forest_coverage_pct"] == 30.0 and r["unobserved_fraction"] == 0.0 and r["coverage_flagged"] is False
    # the national check of domain.md §4: 220.45 Mha over 960 Mha
    assert round(coverage_rate(forest_ha=220.45e6, mangrove_ha=0, zone_area_ha=960e6,
                               unobserved_ha=0)["forest_coverage_pct"], 2) == 22.96
    cloudy = coverage_rate(forest_ha=30.0, mangrove_ha=0.0, zone_area_ha=100.0, unobserved_ha=10.0)
    assert cloudy["forest_coverage_pct"] == 30.0 and cloudy["forest_coverage_pct_max"] == 40.0
    assert cloudy["coverage_flagged"] is True
    assert coverage_rate(forest_ha=30.0, mangrove_ha=0.0, zone_area_ha=100.0, unobserved_ha=10.0,
                         max_unobserved=0.2)["coverage_flagged"] is False


def test_zone_30_forest_10_water_60_cropland_reports_30(make_tile, tmp_path) -> None:
    lc = make_tile("lc.tif", _grid([(1, 30), (5, 10), (6, 60)]))
    ind = _ind({"2020": lc}, _zone(tmp_path / "z.gpkg"))
    assert ind.zone_area_ha[0] == pytest.approx(100 * PX)
    assert round(float(ind.coverage["2020"]["forest_coverage_pct"][0]), 1) == 30.0
    assert ind.coverage["2020"]["forest_coverage_pct"][0] == pytest.approx(30.0, abs=1e-9)
    assert ind.unobserved_ha["2020"][0] == 0.0 and not ind.coverage["2020"]["coverage_flagged"][0]


def test_mangroves_count_as_forest(make_tile, tmp_path) -> None:
    lc = make_tile("lc.tif", _grid([(1, 20), (4, 10), (5, 10), (6, 60)]))
    ind = _ind({"2020": lc}, _zone(tmp_path / "z.gpkg"))
    assert ind.coverage["2020"]["forest_coverage_pct"][0] == pytest.approx(30.0)
    assert ind.coverage["2020"]["forest_area_ha"][0] == pytest.approx(30 * PX)
    # stock volume counts arbor forest (the forest class) only
    assert ind.volume_m3["2020"][0] == pytest.approx(20 * PX * 94.83)


def test_unobserved_area_stays_in_the_denominator_and_is_flagged(make_tile, tmp_path) -> None:
    lc = make_tile("lc.tif", _grid([(1, 30), (0, 10), (6, 60)]))   # 10 % nodata (clouds)
    half_out = box(X0, Y0 - 100, X0 + 200, Y0)                      # half of the zone beyond the raster
    ind = _ind({"2020": lc}, _zone(tmp_path / "z.gpkg"))
    cov = ind.coverage["2020"]
    assert cov["forest_coverage_pct"][0] == pytest.approx(30.0)
    assert cov["unobserved_fraction"][0] == pytest.approx(0.1) and bool(cov["coverage_flagged"][0])
    assert cov["forest_coverage_pct_max"][0] == pytest.approx(40.0)
    wide = _ind({"2020": lc}, _zone(tmp_path / "w.gpkg", half_out))
    assert wide.zone_area_ha[0] == pytest.approx(200 * PX)
    assert wide.coverage["2020"]["forest_coverage_pct"][0] == pytest.approx(15.0)
    assert wide.unobserved_ha["2020"][0] == pytest.approx(110 * PX)


def test_special_shrubland_from_a_zone_layer_or_a_flag(make_tile, tmp_path) -> None:
    # CLCD codes: 2 forest, 3 shrub, 1 cropland; shrub fills rows 2-3 (20 pixels)
    lc = make_tile("clcd.tif", _grid([(2, 20), (3, 20), (1, 60)]))
    zone = _zone(tmp_path / "z.gpkg", flag=1)
    plain = _ind({"2020": lc}, zone, legend="clcd")
    assert plain.coverage["2020"]["forest_coverage_pct"][0] == pytest.approx(20.0)
    assert plain.class_area_ha["2020"]["shrubland"][0] == pytest.approx(20 * PX)
    designated = tmp_path / "special.gpkg"   # the west half of the scene
    gpd.GeoDataFrame(geometry=[box(X0, Y0 - 100, X0 + 50, Y0)], crs="EPSG:32649").to_file(designated)
    part = _ind({"2020": lc}, zone, legend="clcd", special_shrub=designated)
    assert part.special_shrub_ha["2020"][0] == pytest.approx(10 * PX)
    assert part.coverage["2020"]["forest_coverage_pct"][0] == pytest.approx(30.0)
    flagged = _ind({"2020": lc}, zone, legend="clcd", special_shrub_field="flag")
    assert flagged.coverage["2020"]["forest_coverage_pct"][0] == pytest.approx(40.0)
    # carbon: shrubland at grassland densities
    assert plain.stock_mg_c["2020"]["total"][0] == pytest.approx(PX * (20 * 165 + 20 * 71 + 60 * 54))
    # the sinks legend has no shrub class: the setting counts nothing and says so
    sinks_lc = make_tile("s.tif", _grid([(1, 20), (2, 20), (6, 60)]))
    none = _ind({"2020": sinks_lc}, zone, special_shrub_field="flag")
    assert none.coverage["2020"]["forest_coverage_pct"][0] == pytest.approx(20.0)
    assert any("no shrub class" in n for n in none.notes)


def test_worldcover_legend_and_codes_outside_it(make_tile, tmp_path) -> None:
    lc = make_tile("wc.tif", _grid([(10, 25), (95, 5), (80, 10), (40, 55), (11, 5)]))
    ind = _ind({"2021": lc}, _zone(tmp_path / "z.gpkg"), legend="worldcover")
    assert ind.coverage["2021"]["forest_coverage_pct"][0] == pytest.approx(30.0)
    assert ind.unobserved_ha["2021"][0] == pytest.approx(5 * PX)
    assert ind.class_area_ha["2021"]["water"][0] == pytest.approx(10 * PX)
    assert any("outside the worldcover legend count as unobserved area: 11" in n for n in ind.notes)


def test_user_legends(tmp_path) -> None:
    y = tmp_path / "l.yaml"
    y.write_text("classes:\n  11: Forest\n  12: shrub\n  13: Built-up\n  255: nodata\n")
    leg = resolve_legend(y)
    assert leg.classes == {11: "forest", 12: "shrubland", 13: "built_up"} and leg.unobserved == (255,)
    assert leg.digits[255] == 0
    c = tmp_path / "l.csv"
    c.write_text("code,class\n1,forest\n2,water\n")
    assert resolve_legend(c).classes == {1: "forest", 2: "water"}
    for text, match in [("code,klass\n1,forest\n", "needs columns 'code' and 'class'"),
                        ("code,class\n1,jungle\n", "line 2: unknown class 'jungle'"),
                        ("code,class\n300,forest\n", "line 2: code '300' must be a whole number in 1..255"),
                        ("code,class\n1,forest\n1,water\n", "line 3: code 1 listed twice")]:
        c.write_text(text)
        with pytest.raises(ConfigError, match=match):
            resolve_legend(c)
    y.write_text("11: [forest\n")
    with pytest.raises(ConfigError, match="l.yaml: YAML syntax error"):
        resolve_legend(y)
    with pytest.raises(ConfigError, match="unknown legend 'corine'"):
        resolve_legend("corine")


def test_volume_raster_is_summed_per_zone(make_tile, tmp_path) -> None:
    lc = make_tile("lc.tif", _grid([(1, 50), (6, 50)]))
    vol = make_tile("vol.tif", np.where(_grid([(1, 50), (6, 50)]) == 1, 120.0, 0.0).astype(np.float32),
                    nodata=-1)
    west = box(X0, Y0 - 100, X0 + 50, Y0)   # 5 forest rows of 5 pixels = 25 forest pixels
    ind = _ind({"2020": lc}, _zone(tmp_path / "z.gpkg", west), volume_rasters={"2020": vol})
    assert ind.volume_m3["2020"][0] == pytest.approx(25 * PX * 120.0)
    assert "zonal sum" in ind.volume_source["2020"]


def test_sink_results_are_read_defensively() -> None:
    from sinks.uncertainty import Interval

    class Old:
        method = "stock difference over 5 yr (...) + gain of persistent land"
        sink_mg_c_per_yr = 3.0

    class New:
        method = "gain-loss"
        sink_mg_c_per_yr = 3.0
        sink_mg_c_per_yr_ci95 = [1.0, 5.0]

    assert sink_method(Old()) == "stock-difference+growth" and sink_interval(Old()) is None
    assert sink_method(New()) == "gain-loss" and sink_interval(New()) == (1.0, 5.0)
    assert sink_method({"method_label": "gain-loss", "method": "a long text"}) == "gain-loss"
    assert sink_interval({"interval": Interval(central=2, mean=2, low=1, high=4)}) == (1.0, 4.0)
    assert sink_interval({"sink_mg_c_per_yr_low": 1, "sink_mg_c_per_yr_high": 2}) == (1.0, 2.0)


# -- sinks indicators ---------------------------------------------------------------------------
def _run(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture
def pair(make_tile, tmp_path):
    """2015: 30 forest, 10 water, 60 cropland; 2020: 20 of the cropland pixels became forest."""
    a = _grid([(1, 30), (5, 10), (6, 60)])
    b = a.copy()
    b[4:6, :] = 1
    zones = tmp_path / "zones.gpkg"
    gpd.GeoDataFrame({"county": ["north", "south"]},
                     geometry=[box(X0, Y0 - 50, X0 + 100, Y0), box(X0, Y0 - 100, X0 + 100, Y0 - 50)],
                     crs="EPSG:32649").to_file(zones)
    return make_tile("lc2015.tif", a), make_tile("lc2020.tif", b), zones


def test_cli_indicators_json_shape_and_figures(pair, tmp_path, capsys) -> None:
    a, b, zones = pair
    assert _run(["indicators", str(a), str(b), "--years", "2015,2020", "--zones", str(zones), "--id-field", "county",
                 "--json", "--draws", "300"]) == 0
    doc = json.loads(capsys.readouterr()[0])
    assert doc["years"] == [2015, 2020]
    assert [z["id"] for z in doc["zones"]] == ["north", "south"]
    keys = {"id", "area_ha", "unobserved_ha", "forest_area_ha", "forest_coverage_pct", "stock_mg_c", "volume_m3",
            "sink_mg_c_per_yr"}
    for z in (*doc["zones"], doc["total"]):
        assert keys <= set(z)
        assert set(z["stock_mg_c"]["2015"]) >= {"value", "low", "high"}
        assert set(z["sink_mg_c_per_yr"]["2015-2020"]) >= {"value", "low", "high", "method"}
    tot = doc["total"]
    assert tot["id"] == "total" and tot["area_ha"] == pytest.approx(1.0)
    assert tot["forest_coverage_pct"] == {"2015": pytest.approx(30.0), "2020": pytest.approx(50.0)}
    assert tot["unobserved_ha"] == {"2015": 0.0, "2020": 0.0}
    north = doc["zones"][0]                       # rows 0-4: 30 forest, 10 water, 10 cropland → 20 forest in 2020
    assert north["forest_coverage_pct"]["2015"] == pytest.approx(60.0)
    assert north["forest_coverage_pct"]["2020"] == pytest.approx(80.0)
    s = tot["sink_mg_c_per_yr"]["2015-2020"]
    assert s["value"] > 0                         # cropland → forest: a removal, positive
    assert s["low"] < s["value"] < s["high"] and s["method"]
    from sinks.carbon import load_table, stock_totals

    china = load_table("china")
    st = tot["stock_mg_c"]["2015"]
    want = stock_totals({1: 30 * PX, 5: 10 * PX, 6: 60 * PX}, china).stock_mg_c["total"]
    assert st["value"] == pytest.approx(want) and st["low"] < st["value"] < st["high"]
    assert tot["volume_m3"]["2020"] == pytest.approx(50 * PX * 94.83)
    # the sink through the public function, on the whole-input transition matrix
    from sinks.carbon.sink import TransitionMatrix, sink

    m = np.zeros((3, 3))
    m[0, 0], m[1, 1], m[2, 2], m[2, 0] = 30 * PX, 10 * PX, 40 * PX, 20 * PX
    ref = sink(TransitionMatrix((1, 5, 6), m, np.zeros((3, 3), np.int64)), china, years=5)
    assert s["value"] == pytest.approx(ref.sink_mg_c_per_yr, rel=1e-9) and s["method"] == sink_method(ref)


def test_cli_indicators_writes_dir_and_text(pair, tmp_path, capsys) -> None:
    a, b, zones = pair
    out = tmp_path / "ind"
    args = ["indicators", str(a), str(b), "--years", "2015,2020", "--zones", str(zones), "--id-field", "county",
            "-o", str(out), "--draws", "200"]
    assert _run(args) == 0
    text = capsys.readouterr()[0]
    assert "cover 2015 %" in text and "north" in text and "total" in text and "sink Mg C/yr" in text
    assert sorted(p.name for p in out.iterdir()) == ["class_areas.csv", "indicators.json", "zones.csv", "zones.gpkg"]
    import pandas as pd

    wide = pd.read_csv(out / "zones.csv")
    assert wide.columns[0] == "county" and wide["forest_coverage_pct_2015"].tolist() == pytest.approx([60.0, 0.0])
    long = pd.read_csv(out / "class_areas.csv")
    assert set(long["class"]) >= {"forest", "water", "unobserved"} and "total" in set(long["county"])
    assert gpd.read_file(out / "zones.gpkg")["county"].tolist() == ["north", "south"]
    assert json.loads((out / "indicators.json").read_text())["years"] == [2015, 2020]
    assert _run(args) == 2
    assert "--overwrite" in capsys.readouterr()[1]
    assert _run([*args, "--overwrite"]) == 0


@pytest.mark.parametrize("case, expected", [
    ("missing", "nope.tif: file not found"),
    ("years", "--years gives 1 year(s) for 2 land-cover map(s)"),
    ("grid", "is not on the grid of"),
    ("legend", "unknown legend 'corine'"),
    ("mapping", "bad.csv: a legend CSV needs columns 'code' and 'class'"),
    ("id_field", "has no field 'district'"),
    ("zones", "nozones.gpkg: zones file not found"),
])
def test_cli_indicators_bad_input_exit_2(case, expected, pair, make_tile, tmp_path, capsys) -> None:
    a, b, zones = pair
    args = {"maps": [str(a), str(b)], "years": "2015,2020", "zones": str(zones), "id": "county", "legend": "sinks"}
    if case == "missing":
        args["maps"] = [str(a), str(tmp_path / "nope.tif")]
    elif case == "years":
        args["years"] = "2015"
    elif case == "grid":
        args["maps"] = [str(a), str(make_tile("shifted.tif", _grid([(1, 100)]), x0=X0 + 5))]
    elif case == "legend":
        args["legend"] = "corine"
    elif case == "mapping":
        (tmp_path / "bad.csv").write_text("value,name\n1,forest\n")
        args["legend"] = str(tmp_path / "bad.csv")
    elif case == "id_field":
        args["id"] = "district"
    elif case == "zones":
        args["zones"] = str(tmp_path / "nozones.gpkg")
    code = _run(["indicators", *args["maps"], "--years", args["years"], "--zones", args["zones"], "--id-field",
                 args["id"], "--legend", args["legend"]])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert expected in err and err.startswith("Error: ") and len(err.strip().splitlines()) == 1
    assert out == ""


def test_to_json_is_json_ready(make_tile, tmp_path) -> None:
    lc = make_tile("lc.tif", _grid([(1, 30), (0, 10), (6, 60)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ind = _ind({"2020": lc}, _zone(tmp_path / "z.gpkg"), total=True)
    doc = json.loads(json.dumps(to_json(ind)))
    assert doc["zones"][0]["coverage_flagged"]["2020"] is True and doc["total"]["id"] == "total"
    assert doc["zones"][0]["stock_mg_c"]["2020"]["low"] is None  # no intervals asked for
