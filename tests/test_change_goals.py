"""Change codes, encroachment patches, region indicators and goal tracking on hand-made inputs."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from sinks.carbon import table_from_mapping
from sinks.change import change_codes, decode, is_eco_loss
from sinks.cli import main
from sinks.encroachment import encroachment_summary, find_encroachment
from sinks.goals import load_targets, national_series, track_goals, trajectory
from sinks.indicators import region_indicators
from sinks.landcover import CODES

X0, Y0 = 500000.0, 2400000.0
F, G, W, B, C = CODES["forest"], CODES["grassland"], CODES["water"], CODES["built_up"], CODES["cropland"]


def test_change_codes_roundtrip_and_nodata():
    a = np.array([[F, G, 0], [W, B, C]], np.uint8)
    b = np.array([[B, G, F], [W, F, B]], np.uint8)
    c = change_codes(a, b)
    assert c[0, 2] == 0 and c[0, 0] == F * 16 + B
    f, t = decode(c[1])
    np.testing.assert_array_equal(f, a[1]) and np.testing.assert_array_equal(t, b[1])
    np.testing.assert_array_equal(is_eco_loss(c), [[True, False, False], [False, False, False]])


def _pair(make_tile):
    a = np.full((8, 8), F, np.uint8)
    a[6:, :] = C                    # cropland: not ecological
    b = a.copy()
    b[2, 2:4] = B                   # L-shaped patch of 3 px (forest -> built-up) ...
    b[3, 3] = B
    b[5, 6:8] = B                   # 2 px forest -> built-up, half outside the redline
    b[7, 0:3] = B                   # cropland -> built-up: not encroachment
    b[0, 7] = G                     # forest -> grassland: eco -> eco, ignored
    return make_tile("lc1.tif", a, block=16), make_tile("lc2.tif", b, block=16)


def test_encroachment_patches(make_tile):
    lc1, lc2 = _pair(make_tile)
    red = gpd.GeoDataFrame({"rid": ["R1", "R2"]}, crs="EPSG:32649",
                           geometry=[box(X0, Y0 - 80, X0 + 70, Y0), box(X0 + 500, Y0 - 80, X0 + 600, Y0)])
    p = find_encroachment(lc1, lc2, red, id_field="rid", min_patch_ha=0.0)
    assert len(p) == 2
    assert sorted(p["pixels"]) == [1, 3]                    # the 2-px patch counts only its inside pixel
    assert set(p["from_class"]) == {"forest"} and set(p["to_class"]) == {"built_up"}
    assert p["area_ha"].sum() == pytest.approx(0.04)
    big = find_encroachment(lc1, lc2, red, id_field="rid", min_patch_ha=0.02)
    assert list(big["pixels"]) == [3]
    s = encroachment_summary(big, red, id_field="rid")
    assert s["patches"] == 1 and s["by_redline"]["R2"] == {"patches": 0, "area_ha": 0.0, "by_transition": {}}
    assert s["by_redline"]["R1"]["by_transition"]["forest->built_up"]["area_ha"] == pytest.approx(0.03)
    assert 100 < big["lon"].iloc[0] < 120 and 15 < big["lat"].iloc[0] < 30


def test_region_indicators_by_hand(make_tile):
    lc1, lc2 = _pair(make_tile)
    table = table_from_mapping({"classes": {"forest": {"above": 10, "below": 2, "dead": 1, "soil": 50},
                                "grassland": {"above": 1, "below": 1, "dead": 0, "soil": 40},
                                "cropland": {"above": 2, "below": 0, "dead": 0, "soil": 30},
                                "built_up": {"above": 0, "below": 0, "dead": 0, "soil": 0}}})
    zones = gpd.GeoDataFrame({"zid": ["top", "all"]}, crs="EPSG:32649",
                             geometry=[box(X0, Y0 - 40, X0 + 80, Y0), box(X0, Y0 - 80, X0 + 80, Y0)])
    df = region_indicators(zones, id_field="zid", landcover={"2015": lc1, "2020": lc2},
                           years={"2015": 2015, "2020": 2020}, table=table,
                           growth_mg_c_per_ha_yr=2.0)
    top = df.set_index("zid").loc["top"]
    # top half, 2020: 32 px, 3 built-up, 1 grassland -> 28 forest
    assert top["area_ha_forest_2020"] == pytest.approx(0.28)
    assert top["forest_coverage_pct_2020"] == pytest.approx(100 * 28 / 32)
    assert top["stock_mg_c_total_2020"] == pytest.approx(0.28 * 63 + 0.01 * 42)
    assert top["volume_m3_2020"] == pytest.approx(0.28 * 94.83)
    assert top["eco_land_lost_ha_2015_2020"] == pytest.approx(0.03)
    # sink = stock difference (biomass now, soil over 20 yr) / 5 yr + gain 2 Mg C/ha/yr on persistent forest
    bio = 0.03 * (0 - 13) + 0.01 * (2 - 13)
    soil = (0.03 * (0 - 50) + 0.01 * (40 - 50)) * 5 / 20
    assert top["sink_mg_c_per_yr_2015_2020"] == pytest.approx((bio + soil) / 5 + 0.28 * 2.0)
    whole = df.set_index("zid").loc["all"]
    assert whole["zone_area_ha"] == pytest.approx(0.64) and whole["unobserved_ha_2015"] == pytest.approx(0.0)


def test_goals_trajectory_targets_and_series():
    t = trajectory([2015, 2020, 2025], [20.0, 22.0, 24.0])
    assert t["slope_per_year"] == pytest.approx(0.4)
    summary = {"epochs": [{"name": "a", "year": 2015}, {"name": "b", "year": 2020}, {"name": "c", "year": 2025}],
               "landcover": {"a": {"forest_coverage_pct": 20.0}, "b": {"forest_coverage_pct": 22.0},
                             "c": {"forest_coverage_pct": 24.0}},
               "carbon": {"epochs": {"a": {"volume_m3": 1e6}, "b": {"volume_m3": 1.1e6}, "c": {"volume_m3": 1.2e6}},
                          "sink": {"a_b": {"sink_mg_c_per_yr": 100.0}, "b_c": {"sink_mg_c_per_yr": 150.0}}}}
    assert track_goals(summary)["aoi"]["forest_coverage_pct"]["targets"] == []   # mapped to no set
    g = track_goals(summary, targets=load_targets(aoi="national"))
    cov = g["aoi"]["forest_coverage_pct"]
    t25, t30 = cov["targets"][0], cov["targets"][1]
    assert t25["gap"] == pytest.approx(0.1) and t25["on_track"] is False and t25["met_now"] is False
    assert t30["projected"] == pytest.approx(26.0) and t30["on_track"] is True
    assert t30["year_reached"] == pytest.approx(2027.5)
    assert all(t["comparable"] for t in g["aoi"]["volume_m3"]["targets"])   # the AOI is the set's territory
    assert g["sink"]["b_c"]["growth_pct"] == pytest.approx(50.0)
    assert [r["year"] for r in national_series() if r["series_break"]] == [2021]
    assert g["national_trend"]["fitted_years"][-1] < 2021


def test_region_targets_and_cli(tmp_path, capsys):
    import pandas as pd

    run = tmp_path / "run"
    (run / "tables").mkdir(parents=True)
    summary = {"epochs": [{"name": "x", "year": 2020}, {"name": "y", "year": 2025}],
               "landcover": {"x": {"forest_coverage_pct": 30.0}, "y": {"forest_coverage_pct": 31.0}},
               "zonal": {"regions": {"id_field": "region_id"}}}
    (run / "summary.json").write_text(json.dumps(summary))
    pd.DataFrame({"region_id": ["A"], "forest_coverage_pct_x": [10.0], "forest_coverage_pct_y": [20.0],
                  "volume_m3_x": [100.0], "volume_m3_y": [200.0]}).to_csv(run / "tables" / "regions.csv", index=False)
    tg = tmp_path / "t.csv"
    tg.write_text("region_id,year,volume_m3,source\nA,2030,250,county plan\n")
    with pytest.raises(SystemExit) as ei:
        main(["goals", str(run), "--targets", str(tg), "--json"])
    assert ei.value.code == 0
    res = json.loads(capsys.readouterr().out)
    vol = res["regions"]["A"]["volume_m3"]["targets"][0]
    assert vol["comparable"] is True and vol["projected"] == pytest.approx(300.0) and vol["on_track"] is True
    bad = tmp_path / "b.csv"
    bad.write_text("region_id,year,volume_m3\nZZ,2030,1\n")
    with pytest.raises(SystemExit) as ei:
        main(["goals", str(run), "--targets", str(bad)])
    assert ei.value.code == 2 and "ZZ" in capsys.readouterr().err
    with pytest.raises(SystemExit) as ei:
        main(["goals", str(tmp_path / "nowhere")])
    assert ei.value.code == 2
    bad.write_text("year,volume_m3,colour\n2030,1,red\n")
    with pytest.raises(SystemExit) as ei:
        main(["goals", str(run), "--targets", str(bad)])
    assert ei.value.code == 2 and "colour" in capsys.readouterr().err
    assert load_targets()["national"][0]["year"] == 2025
