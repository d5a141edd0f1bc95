"""Goal tracking on hand-made summaries and region tables; the packaged targets and series; `sinks goals`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sinks.cli import main
from sinks.errors import ConfigError
from sinks.goals import (SERIES_BREAK_YEAR, load_targets, national_series, national_trend, sink_growth,
                         track_goals, trajectory)

EPOCHS = [{"name": "a", "year": 2015}, {"name": "b", "year": 2020}, {"name": "c", "year": 2025}]


def _summary(**over):
    s = {"epochs": EPOCHS,
         "landcover": {"a": {"forest_coverage_pct": 20.0}, "b": {"forest_coverage_pct": 22.0},
                       "c": {"forest_coverage_pct": 24.0}},
         "carbon": {"epochs": {"a": {"volume_m3": 1.0e6}, "b": {"volume_m3": 1.1e6}, "c": {"volume_m3": 1.2e6}},
                    # deliberately out of time order: growth follows the epochs, not the dict order
                    "sink": {"b_c": {"sink_mg_c_per_yr": 150.0, "sink_mg_c_per_yr_ci95": [120.0, 180.0]},
                             "a_b": {"sink_mg_c_per_yr": 100.0}}}}
    s.update(over)
    return s


def test_trajectory_by_hand():
    t = trajectory([2015, 2020, 2025], [20.0, 22.0, 24.0])
    assert t["slope_per_year"] == pytest.approx(0.4) and t["intercept"] == pytest.approx(-786.0)
    # least squares, not end points: (0,0) (1,1) (2,5) -> slope 2.5
    assert trajectory([0, 1, 2], [0, 1, 5])["slope_per_year"] == pytest.approx(2.5)
    assert trajectory([2020, 2025], [1.0, None])["slope_per_year"] is None
    assert trajectory([2020, 2020], [1.0, 2.0])["slope_per_year"] is None


def test_packaged_targets_and_national_series():
    nat = load_targets()["national"]
    by = {t["year"]: t for t in nat}
    assert by[2025]["forest_coverage_pct"] == 24.1 and by[2025]["volume_m3"] == 19.0e9
    assert by[2030]["forest_coverage_pct"] == 25.0 and by[2030]["volume_m3"] == 19.0e9
    assert by[2035]["volume_m3"] == 24.0e9 and by[2035]["comparison"] == "above"
    assert "forest_coverage_pct" not in by[2035]
    assert all(len(t["source"]) > 20 for t in nat)
    rows = national_series()
    assert [r["year"] for r in rows if r["series_break"]] == [SERIES_BREAK_YEAR] == [2021]
    r21 = next(r for r in rows if r["year"] == 2021)
    assert r21["forest_coverage_pct"] == 24.02 and r21["volume_m3"] == 194.93e8
    r23 = rows[-1]
    assert r23["year"] == 2023 and r23["forest_coverage_pct"] == 25.0 and r23["forest_coverage_lower_bound"]
    assert r23["volume_m3"] == 206.76e8
    seventh = next(r for r in rows if r["period"].startswith("7th"))
    assert (seventh["forest_coverage_pct"], seventh["volume_m3"]) == (20.36, 137.21e8)
    assert rows[0]["period"].startswith("4th") and all(r["source"] for r in rows)
    tr = national_trend()
    pre = [r for r in rows if r["year"] < 2021]
    slope = np.polyfit([r["year"] for r in pre], [r["forest_coverage_pct"] for r in pre], 1)[0]
    assert tr["forest_coverage_pct"]["slope_per_year"] == pytest.approx(slope)
    assert tr["fitted_years"] == [1991, 2020] and tr["crosses_series_break"] is False
    assert tr["whole_series"]["crosses_series_break"] is True and tr["whole_series"]["fitted_years"][-1] == 2023


NATIONAL = load_targets(aoi="national")   # the whole area mapped to the national set


def test_aoi_goals_by_hand():
    g = track_goals(_summary(), targets=NATIONAL)
    cov = g["aoi"]["forest_coverage_pct"]
    assert cov["value"] == 24.0 and cov["latest_epoch"] == "c" and cov["series"] == {"a": 20.0, "b": 22.0, "c": 24.0}
    t25, t30 = cov["targets"]
    assert t25["year"] == 2025 and t25["gap"] == pytest.approx(0.1) and t25["projected"] == pytest.approx(24.0)
    assert t25["on_track"] is False and t25["met_now"] is False
    assert t25["year_reached"] == pytest.approx(2025.25)            # (24.1 + 786) / 0.4
    assert t30["projected"] == pytest.approx(26.0) and t30["on_track"] is True
    assert t30["year_reached"] == pytest.approx(2027.5)             # (25 + 786) / 0.4
    vol = g["aoi"]["volume_m3"]
    # mapped to the set, the AOI is the set's territory: absolute targets compare too
    assert [t["year"] for t in vol["targets"]] == [2025, 2030, 2035]
    assert all(t["comparable"] is True and t["on_track"] is False for t in vol["targets"])
    assert vol["targets"][1]["projected"] == pytest.approx(1.3e6)
    assert g["mapping"]["aoi"] == "national" and cov["targets_source"] == "national"
    assert list(g["sink"]) == ["a_b", "b_c"]
    assert "growth_pct" not in g["sink"]["a_b"]
    assert g["sink"]["b_c"]["growth_mg_c_per_yr"] == pytest.approx(50.0)
    assert g["sink"]["b_c"]["growth_pct"] == pytest.approx(50.0)
    assert g["sink"]["b_c"]["ci95_mg_c_per_yr"] == [120.0, 180.0]
    assert any("2021" in n for n in g["notes"])                    # epochs straddle the series break
    json.dumps(g, allow_nan=False)


def test_missing_sections_declining_trend_and_above():
    s = {"epochs": EPOCHS[:2], "landcover": {"a": {"forest_coverage_pct": 30.0}, "b": {"forest_coverage_pct": 28.0}}}
    g = track_goals(s, targets=NATIONAL)
    assert "volume_m3" not in g["aoi"] and g["sink"] == {}
    assert any("carbon" in n for n in g["notes"]) and not any("2021" in n for n in g["notes"])
    t = g["aoi"]["forest_coverage_pct"]["targets"][0]
    assert t["met_now"] is True and t["year_reached"] == 2020.0     # already above 24.1 %
    t30 = g["aoi"]["forest_coverage_pct"]["targets"][1]
    assert t30["projected"] == pytest.approx(28.0 - 0.4 * 10) and t30["on_track"] is False
    g2 = track_goals({"epochs": EPOCHS[:2], "landcover": {"a": {"forest_coverage_pct": 30.0},
                                                          "b": {"forest_coverage_pct": 20.0}}}, targets=NATIONAL)
    assert g2["aoi"]["forest_coverage_pct"]["targets"][1]["year_reached"] is None   # falling, never reached
    growth = sink_growth([("p1", -50.0), ("p2", 25.0), ("p3", 0.0), ("p4", 10.0), ("p5", 15.0)])
    # an emission turned into a removal: no percentage, the sign change and the difference instead
    assert growth["p2"]["growth_pct"] is None and growth["p2"]["sign_changed"] is True
    assert growth["p2"]["growth_mg_c_per_yr"] == pytest.approx(75.0)
    assert growth["p4"]["growth_pct"] is None and growth["p5"]["growth_pct"] == pytest.approx(50.0)
    assert growth["p5"]["sign_changed"] is False


def _regions():
    return pd.DataFrame({"county": ["A", "B"],
                         "forest_coverage_pct_a": [10.0, 40.0], "forest_coverage_pct_b": [20.0, 40.0],
                         "forest_coverage_pct_c": [30.0, 40.0],
                         "volume_m3_a": [1.0, 100.0], "volume_m3_b": [2.0, 200.0], "volume_m3_c": [3.0, 300.0],
                         "sink_mg_c_per_yr_a_b": [5.0, 10.0], "sink_mg_c_per_yr_b_c": [10.0, 5.0]})


def test_region_goals_with_own_targets(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("regions:\n  B:\n    - {year: 2030, volume_m3: 500, source: county plan}\n"
                 "    - {year: 2031, volume_m3: 300, comparison: above}\n")
    tg = load_targets(f)
    assert tg["regions"]["B"]["rows"][0]["source"] == "county plan" and tg["national"][0]["year"] == 2025
    g = track_goals(_summary(), targets=tg, regions=_regions())     # id field: first column
    a, b = g["regions"]["A"], g["regions"]["B"]
    # A is mapped to no set: its own trend, no target
    assert a["forest_coverage_pct"]["trajectory"]["slope_per_year"] == pytest.approx(2.0)
    assert a["forest_coverage_pct"]["targets"] == [] and a["forest_coverage_pct"]["targets_source"] == "none"
    assert a["volume_m3"]["targets"] == [] and "own trend" in a["volume_m3"]["note"]
    vb = b["volume_m3"]
    assert vb["targets_source"] == "region" and [t["year"] for t in vb["targets"]] == [2030, 2031]
    v30, v31 = vb["targets"]
    assert v30["comparable"] and v30["projected"] == pytest.approx(400.0) and v30["on_track"] is False
    assert v30["year_reached"] == pytest.approx(2035.0) and v30["gap"] == pytest.approx(200.0)
    assert v31["met_now"] is False and v31["year_reached"] == pytest.approx(2025.0)   # 300 is not > 300
    assert b["forest_coverage_pct"]["targets_source"] == "none"
    assert b["sink"]["b_c"]["growth_pct"] == pytest.approx(-50.0)
    assert g["aoi"]["forest_coverage_pct"]["targets"] == [] and any("whole area" in n for n in g["notes"])
    json.dumps(g, allow_nan=False)


def test_desert_county_gets_no_national_target_unless_mapped(tmp_path):
    """A 4.5 % county rising 0.05 points a year: no "25 % reached in 2226" unless the user asks for it."""
    s = {"epochs": EPOCHS[:2], "landcover": {"a": {"forest_coverage_pct": 4.25}, "b": {"forest_coverage_pct": 4.5}}}
    regions = pd.DataFrame({"county": ["desert", "province"], "forest_coverage_pct_a": [4.25, 60.0],
                            "forest_coverage_pct_b": [4.5, 61.0], "volume_m3_a": [1e5, 3e8], "volume_m3_b": [1e5, 4e8]})
    g = track_goals(s, regions=regions)
    d = g["regions"]["desert"]["forest_coverage_pct"]
    assert d["targets"] == [] and d["trajectory"]["slope_per_year"] == pytest.approx(0.05)
    assert g["mapping"] == {"aoi": None, "regions": {}}
    f = tmp_path / "t.yaml"
    f.write_text("sets:\n  province:\n    - {year: 2025, forest_coverage_pct: 62.0, volume_m3: 5.0e8, source: plan}\n"
                 "regions:\n  desert: national\n  province: province\n")
    g2 = track_goals(s, targets=load_targets(f), regions=regions)
    d2 = g2["regions"]["desert"]
    assert d2["forest_coverage_pct"]["targets_source"] == "national"
    # asked for, so shown: 25 % at 0.05 points a year from 4.5 % in 2020
    assert d2["forest_coverage_pct"]["targets"][1]["year_reached"] == pytest.approx(2430.0)
    assert all(not t["comparable"] and "whole territory" in t["reason"] for t in d2["volume_m3"]["targets"])
    p = g2["regions"]["province"]
    assert p["volume_m3"]["targets"][0]["comparable"] is True          # the set is named after the region
    assert p["forest_coverage_pct"]["targets"][0]["gap"] == pytest.approx(1.0)
    assert g2["mapping"]["regions"] == {"desert": "national", "province": "province"}
    f.write_text("regions:\n  desert: guangxi\n")
    with pytest.raises(ConfigError, match="regions.desert: unknown target set 'guangxi'"):
        load_targets(f)


def test_region_target_errors(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("region_id,year,forest_coverage_pct\nZZ,2030,30\nYY,2030,30\nA,2030,30\n")
    with pytest.raises(ConfigError, match="YY, ZZ"):
        track_goals(_summary(), targets=load_targets(f), regions=_regions())
    with pytest.raises(ConfigError, match="no region table"):
        track_goals(_summary(), targets=load_targets(f))


@pytest.mark.parametrize("text, key", [
    ("year,volume_m3,colour\n2030,1,red\n", "colour"),
    ("year,volume_m3\n2030,lots\n", "volume_m3"),
    ("year,forest_coverage_pct\n2030,130\n", "forest_coverage_pct"),
    ("year,forest_coverage_pct\nsoon,30\n", "year"),
    ("year,forest_coverage_pct,comparison\n2030,30,about\n", "comparison"),
    ("year,source\n2030,x\n", "no target value"),
])
def test_malformed_targets_name_the_key(tmp_path, text, key):
    f = tmp_path / "t.csv"
    f.write_text(text)
    with pytest.raises(ConfigError, match=key):
        load_targets(f)


def test_malformed_yaml_targets(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("targets: [year: 2030\n")
    with pytest.raises(ConfigError, match="YAML"):
        load_targets(f)
    f.write_text("goals: []\n")
    with pytest.raises(ConfigError, match="goals"):
        load_targets(f)
    with pytest.raises(ConfigError, match="not found"):
        load_targets(tmp_path / "missing.yaml")


@pytest.fixture
def run(tmp_path):
    run = tmp_path / "run"
    (run / "tables").mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({**_summary(), "zonal": {"regions": {"id_field": "county"}}}))
    _regions().to_csv(run / "tables" / "regions.csv", index=False)
    return run


def test_cli_json_and_text(run, tmp_path, capsys):
    tg = tmp_path / "t.csv"
    tg.write_text("region_id,year,volume_m3,source\nA,2030,4,county plan\n")
    with pytest.raises(SystemExit) as ei:
        main(["goals", str(run), "--targets", str(tg), "--aoi-targets", "national", "--json"])
    assert ei.value.code == 0
    res = json.loads(capsys.readouterr().out)
    va = res["regions"]["A"]["volume_m3"]["targets"][0]
    assert va["comparable"] is True and va["projected"] == pytest.approx(4.0) and va["on_track"] is True
    assert res["aoi"]["forest_coverage_pct"]["targets"][1]["on_track"] is True
    with pytest.raises(SystemExit) as ei:
        main(["goals", str(run), "--targets", str(tg), "--aoi-targets", "national"])
    out = capsys.readouterr().out
    assert ei.value.code == 0
    assert "Whole area" in out and "Region B" in out and "off track" in out and "on track" in out
    assert "no target mapped" in out and "[series break]" in out and "+50.0 %" in out
    # linear trend crossing 24.1 % at 2025.25 and 25 % at 2027.5: the first whole years
    assert "on track, reached in 2028" in out and "reached in 2026" in out and ".5" not in out.split("reached")[1][:8]


def test_cli_bad_inputs(run, tmp_path, capsys):
    def fails(*args):
        with pytest.raises(SystemExit) as ei:
            main(["goals", *args])
        err = capsys.readouterr().err.strip()
        assert ei.value.code == 2 and len(err.splitlines()) == 1, err
        return err

    assert "nowhere" in fails(str(tmp_path / "nowhere"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "summary.json" in fails(str(empty))
    (empty / "summary.json").write_text("{not json")
    assert "JSON" in fails(str(empty))
    bad = tmp_path / "b.csv"
    bad.write_text("region_id,year,volume_m3\nZZ,2030,1\nQQ,2030,1\n")
    assert "QQ, ZZ" in fails(str(run), "--targets", str(bad))
    bad.write_text("year,volume_m3,colour\n2030,1,red\n")
    assert "colour" in fails(str(run), "--targets", str(bad))


def test_cli_text_sign_change_points_and_met_targets(tmp_path, capsys):
    """A sink turning from emission to removal gets no percentage; rate gaps and trends are in
    percentage points; a target already met shows as met, not as a negative gap; years are whole."""
    run = tmp_path / "run"
    run.mkdir()
    s = _summary()
    s["landcover"]["c"]["forest_coverage_pct"] = 30.0
    s["carbon"]["sink"] = {"a_b": {"sink_mg_c_per_yr": -33.0}, "b_c": {"sink_mg_c_per_yr": 2158.0}}
    (run / "summary.json").write_text(json.dumps(s))
    with pytest.raises(SystemExit) as ei:
        main(["goals", str(run), "--aoi-targets", "national"])
    out = capsys.readouterr().out
    assert ei.value.code == 0, out
    assert "from an emission to a removal, +2,191.0 Mg C/yr" in out and "vs previous period" not in out
    assert "trend +1.00 pp/yr" in out and "met now (5.90 pp above the target)" in out   # 30 vs 24.1
    assert "-5.90" not in out and "2025.0" not in out and "not reached before 2100" in out
    assert "%/yr" not in out
