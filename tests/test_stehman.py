"""Stehman (2014) estimators: the paper's numerical example, agreement with Olofsson, design checks."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from sinks.accuracy import area_adjusted
from sinks.accuracy.stehman import STEHMAN, stratified_estimates
from sinks.errors import ConfigError, SinksWarning

# -- Stehman 2014 (IJRS 35:4923), section 4's numerical example: 4 strata of 10 units ---------------
# The 40 units (stratum, map class, reference class) as transcribed in the examples of
# the R package mapaccuracy (Costa, stehman2014.R) and of PyMapAccuracy; N_h in pixels.
S14_STRATA = ["A"] * 10 + ["B"] * 10 + ["C"] * 10 + ["D"] * 10
S14_MAP = ["A"] * 7 + ["B"] * 3 + ["A"] + ["B"] * 11 + ["C"] * 6 + ["B"] * 2 + ["D"] * 10
S14_REF = (["A"] * 5 + ["C", "B", "A", "B", "C"] + ["A"] + ["B"] * 5 + ["A", "A", "B", "B"]
           + ["C"] * 5 + ["D", "D", "B", "B", "A"] + ["D"] * 7 + ["C", "C", "B"])
S14_SIZES = {"A": 40000, "B": 30000, "C": 20000, "D": 10000}


@pytest.fixture(scope="module")
def s14():
    return stratified_estimates(S14_STRATA, S14_MAP, S14_REF, S14_SIZES, unit_area=1.0)


def test_stehman2014_example_point_estimates(s14) -> None:
    """The estimates printed in the paper (pp. 4932–4935), to their printed precision."""
    n = 100000
    assert round(s14.area_ha[0] / n, 2) == 0.35          # p̂_A
    assert round(s14.area_ha[2] / n, 2) == 0.20          # p̂_C
    assert round(s14.overall_accuracy, 2) == 0.63        # Ô
    assert round(s14.user_accuracy[1], 3) == 0.574       # Û_B
    assert round(s14.producer_accuracy[1], 3) == 0.794   # P̂_B
    assert round(s14.proportions[1, 2], 2) == 0.08       # p̂_23 (map B, reference C)
    assert s14.frame_area_ha == n and s14.method == STEHMAN


def test_stehman2014_example_standard_errors(s14) -> None:
    """Standard errors printed in the paper (pp. 4935–4936), to their printed precision."""
    n = 100000
    assert round(s14.area_se_ha[0] / n, 3) == 0.082      # SE(p̂_A)
    assert round(s14.area_se_ha[2] / n, 3) == 0.064      # SE(p̂_C)
    assert round(s14.overall_accuracy_se, 3) == 0.085    # SE(Ô)
    assert round(s14.user_accuracy_se[1], 3) == 0.125    # SE(Û_B)
    # SE(P̂_B): Eq. 28 gives 0.1165, as the two public implementations do (mapaccuracy
    # 0.1165479, PyMapAccuracy 0.1165479); a transcription of the paper prints 0.114.
    assert s14.producer_accuracy_se[1] == pytest.approx(0.1165479, abs=1e-7)
    # full-precision values of the same public implementations (finite population correction on)
    assert s14.area_se_ha[0] / n == pytest.approx(0.0822478, abs=1e-7)
    assert s14.area_se_ha[2] / n == pytest.approx(0.06427977, abs=1e-8)
    assert s14.overall_accuracy_se == pytest.approx(0.08464219, abs=1e-8)
    assert s14.user_accuracy_se[1] == pytest.approx(0.1247822, abs=1e-7)


def test_stehman2014_example_by_hand() -> None:
    """p̂_A by hand: stratum means of 'reference is A' are 6/10, 3/10, 1/10, 0/10."""
    res = stratified_estimates(S14_STRATA, S14_MAP, S14_REF, S14_SIZES)
    assert res.area_ha[0] == pytest.approx(40000 * 0.6 + 30000 * 0.3 + 20000 * 0.1)
    assert res.area_ha.sum() == pytest.approx(100000)
    # without the finite population correction: Σ N_h² s²_h / n_h, s² of 0/1 data = p(1 − p) n/(n − 1)
    var = sum(nh ** 2 * (p * (1 - p) * 10 / 9) / 10 for nh, p in ((40000, .6), (30000, .3), (20000, .1), (10000, 0)))
    assert res.area_se_ha[0] == pytest.approx(math.sqrt(var))
    assert res.counts.sum() == 40 and res.counts[0, 0] == 6


def test_stehman_with_map_class_strata_is_olofsson() -> None:
    """Strata = map classes with their mapped sizes: Olofsson 2014 Table 8's estimates."""
    counts = np.array([[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]])
    area = np.array([200000, 150000, 3200000, 6450000]) * 0.09
    names = ["forest", "grassland", "wetland", "mangrove"]
    strata, mp, rf = [], [], []
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            strata += [a] * counts[i, j]
            mp += [a] * counts[i, j]
            rf += [b] * counts[i, j]
    st = stratified_estimates(strata, mp, rf, dict(zip(names, area)), classes=names)
    ol = area_adjusted(counts, area, classes=names)
    assert np.round(st.area_ha).tolist() == [21158, 11686, 285770, 581386]
    assert st.area_ha == pytest.approx(ol.area_ha)
    assert st.area_se_ha == pytest.approx(ol.area_se_ha)
    assert st.user_accuracy == pytest.approx(ol.user_accuracy)
    assert st.user_accuracy_se == pytest.approx(ol.user_accuracy_se)
    assert st.producer_accuracy == pytest.approx(ol.producer_accuracy)
    assert st.producer_accuracy_se == pytest.approx(ol.producer_accuracy_se, rel=1e-6)
    assert st.overall_accuracy == pytest.approx(ol.overall_accuracy)
    assert st.overall_accuracy_se == pytest.approx(ol.overall_accuracy_se)


def test_units_on_map_nodata_count_for_areas_not_accuracy() -> None:
    strata = ["x"] * 4 + ["y"] * 4
    ref = ["forest", "forest", "cropland", "cropland", "water", "water", "water", "forest"]
    mp = ["forest", "forest", "cropland", "forest", "water", "water", None, "nodata"]
    res = stratified_estimates(strata, mp, ref, {"x": 100.0, "y": 300.0}, classes=["forest", "cropland", "water"])
    assert res.area_ha.tolist() == pytest.approx([100 * .5 + 300 * .25, 100 * .5, 300 * .75])
    assert res.n_samples == 6
    # OA over the units with a map class: x: 3/4 right; y: 2/2 right of 2 valid
    assert res.overall_accuracy == pytest.approx((100 * 3 / 4 + 300 * 2 / 4) / (100 + 300 * 2 / 4))


def test_design_problems_withhold_or_refuse() -> None:
    with pytest.raises(ConfigError, match="stratum sizes missing for sampled strata: y"):
        stratified_estimates(["x", "y"], ["forest"] * 2, ["forest"] * 2, {"x": 10.0})
    with pytest.raises(ConfigError, match="more sample units than their size"):
        stratified_estimates(["x"] * 3, ["forest"] * 3, ["forest"] * 3, {"x": 2.0}, unit_area=1.0)
    with pytest.raises(ConfigError, match="size must be finite"):
        stratified_estimates(["x"], ["forest"], ["forest"], {"x": -1})
    with pytest.warns(SinksWarning, match="without a sample unit \\(z\\)"):
        res = stratified_estimates(["x", "x", "y", "y"], ["forest"] * 4, ["forest", "water", "forest", "forest"],
                                   {"x": 10.0, "y": 10.0, "z": 5.0})
    assert np.all(np.isnan(res.area_ha)) and np.all(np.isnan(res.area_se_ha))
    assert any("withheld" in n for n in res.notes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = stratified_estimates(["x", "x", "y"], ["forest"] * 3, ["forest", "water", "forest"],
                                   {"x": 10.0, "y": 10.0})
    assert np.isnan(one.area_se_ha).all() and not np.isnan(one.area_ha).any()
    assert any("single sample unit (y)" in n for n in one.notes)
    d = one.to_dict()
    assert d["area_ci95_ha"]["forest"] is None and d["design"]["strata"]["y"]["n"] == 1


# -- assess_map and `sinks accuracy` with a stratum field -----------------------------------------
X0, Y0, RES = 500000.0, 2400000.0, 10.0
MAP = np.array([[1, 1, 1, 2],
                [1, 1, 2, 2],
                [3, 3, 2, 2],
                [3, 3, 0, 0]], dtype=np.uint8)
# strata "north" (rows 0-1) and "south" (rows 2-3), 0.08 ha each; (row, col, reference, stratum)
STRAT = [(0, 0, "forest", "north"), (0, 3, "grassland", "north"), (1, 2, "forest", "north"),
         (2, 0, "wetland", "south"), (3, 2, "forest", "south"), (2, 2, "grassland", "south")]


def _strat_sample(path, rows=STRAT, *, sizes: bool = True):
    import geopandas as gpd
    from shapely.geometry import Point

    data = {"label": [r[2] for r in rows], "stratum": [r[3] for r in rows]}
    if sizes:
        data["stratum_area_ha"] = [0.08] * len(rows)
    geoms = [Point(X0 + RES * (c + 0.5), Y0 - RES * (r + 0.5)) for r, c, *_ in rows]
    gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:32649").to_file(path, engine="pyogrio")
    return path


@pytest.fixture
def strat_map(make_tile):
    return make_tile("lc.tif", MAP, x0=X0, y0=Y0, res=RES)


def test_assess_map_with_strata_by_hand(strat_map, tmp_path) -> None:
    from sinks.accuracy import assess_map

    ref = _strat_sample(tmp_path / "ref.gpkg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = assess_map(strat_map, ref, label_field="label")
    assert res.method == STEHMAN and res.sources["stratum_field"] == "stratum"
    assert res.classes == ("forest", "grassland", "wetland")
    assert res.area_ha.tolist() == pytest.approx([0.08 * 2 / 3 + 0.08 / 3, 0.08 / 3 * 2, 0.08 / 3])
    assert res.frame_area_ha == pytest.approx(0.16)
    # map-valid units: north 3 of 3 (2 right), south 2 of 3 (2 right)
    assert res.overall_accuracy == pytest.approx((0.08 * 2 / 3 + 0.08 * 2 / 3) / (0.08 + 0.08 * 2 / 3))
    assert res.n_samples == 5 and res.n_dropped["map_nodata"] == 1
    assert any("count for the areas, not for the accuracies" in n for n in res.notes)
    assert res.mapped_area_ha.tolist() == pytest.approx([0.05, 0.05, 0.04])
    # the same sample through the library estimator directly (finite population correction, 0.01-ha units)
    direct = stratified_estimates([r[3] for r in STRAT], ["forest", "grassland", "grassland", "wetland", None,
                                                           "grassland"], [r[2] for r in STRAT],
                                  {"north": 0.08, "south": 0.08}, classes=res.classes, unit_area=0.01)
    assert res.area_se_ha == pytest.approx(direct.area_se_ha)
    assert res.producer_accuracy_se == pytest.approx(direct.producer_accuracy_se, nan_ok=True)


def test_assess_map_design_mismatch_withholds(strat_map, tmp_path) -> None:
    from sinks.accuracy import assess_map

    ref = _strat_sample(tmp_path / "nosize.gpkg", sizes=False)
    with pytest.warns(SinksWarning, match="no stratum sizes are given"):
        res = assess_map(strat_map, ref, label_field="label")
    assert np.isnan(res.area_ha).all() and np.isnan(res.area_se_ha).all() and math.isnan(res.overall_accuracy)
    assert res.counts.sum() == 5 and res.to_dict()["area_ci95_ha"]["forest"] is None
    # sizes from a CSV instead
    csv = tmp_path / "sizes.csv"
    csv.write_text("stratum,area_ha\nnorth,0.08\nsouth,0.08\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok = assess_map(strat_map, ref, label_field="label", stratum_sizes=csv)
    assert ok.area_ha.tolist() == pytest.approx([0.08, 0.16 / 3, 0.08 / 3])
    # the map-class estimator forced on a sample stratified otherwise: areas and CIs withheld
    with pytest.warns(SinksWarning, match="not by map class .* withheld"):
        ol = assess_map(strat_map, _strat_sample(tmp_path / "s.gpkg"), label_field="label", estimator="olofsson")
    assert np.isnan(ol.area_ha).all() and np.isnan(ol.area_ci95_ha).all()
    assert any("Stehman" in n for n in ol.notes)
    bad = tmp_path / "bad.csv"
    bad.write_text("stratum,area_ha\nnorth,lots\n")
    with pytest.raises(ConfigError, match="bad.csv: line 2: area_ha must be a number"):
        assess_map(strat_map, ref, label_field="label", stratum_sizes=bad)


def test_cli_accuracy_stehman(strat_map, tmp_path, capsys) -> None:
    import json

    from sinks.cli import main

    def run(args):
        try:
            main(args)
        except SystemExit as exc:
            return exc.code
        return 0

    ref = _strat_sample(tmp_path / "ref.gpkg")
    assert run(["accuracy", str(strat_map), "-r", str(ref), "--label-field", "label"]) == 0
    out, err = capsys.readouterr()
    assert "Stehman 2014" in out and "north (3 samples, 0.08 ha)" in out
    assert run(["accuracy", str(strat_map), "-r", str(ref), "--label-field", "label", "--json"]) == 0
    data = json.loads(capsys.readouterr()[0])
    assert data["area_ha"]["forest"] == pytest.approx(0.08) and data["design"]["frame_area_ha"] == pytest.approx(0.16)
    nosize = _strat_sample(tmp_path / "nosize.gpkg", sizes=False)
    assert run(["accuracy", str(strat_map), "-r", str(nosize), "--label-field", "label"]) == 0
    out, err = capsys.readouterr()
    warn = [ln for ln in err.splitlines() if "no stratum sizes" in ln]
    assert len(warn) == 1 and "withheld" in warn[0]
    assert "n/a" in out
    assert run(["accuracy", str(strat_map), "-r", str(ref), "--label-field", "label",
                "--stratum-sizes", str(tmp_path / "none.csv")]) == 2
    assert "none.csv: stratum sizes file not found" in capsys.readouterr()[1]


def test_stratified_by_another_map_is_unbiased_with_95_percent_coverage() -> None:
    """Strata from one map, reference of another date: over repeated samples the area estimate
    centres on the truth and its 95 % CI covers it about 95 % of the time."""
    rng = np.random.default_rng(3)
    strata_map = rng.choice([0, 1, 2], size=20000, p=[0.6, 0.3, 0.1])
    later = np.where(rng.random(20000) < 0.25, rng.choice([0, 1, 2], size=20000), strata_map)
    truth = float((later == 2).sum())
    sizes = {str(h): float((strata_map == h).sum()) for h in range(3)}
    hits, ests = 0, []
    for _ in range(300):
        idx = np.concatenate([rng.choice(np.flatnonzero(strata_map == h), 40, replace=False) for h in range(3)])
        lab = [str(v) for v in later[idx]]
        r = stratified_estimates([str(v) for v in strata_map[idx]], lab, lab, sizes, classes=["0", "1", "2"],
                                 unit_area=1.0)
        ests.append(r.area_ha[2])
        hits += abs(r.area_ha[2] - truth) <= r.area_ci95_ha[2]
    assert np.mean(ests) == pytest.approx(truth, rel=0.03)
    assert 0.90 <= hits / 300 <= 0.99


def test_stehman_area_covariance_matches_the_standard_errors():
    """The area covariance the sink's Monte Carlo draws from: its diagonal is SE², rows sum to ~0."""
    from sinks.accuracy.stehman import stratified_estimates

    rng = np.random.default_rng(4)
    strata = rng.choice(["A", "B", "C"], 200)
    ref = rng.choice(["forest", "grassland", "water"], 200, p=[0.5, 0.3, 0.2])
    mp = np.where(rng.random(200) < 0.8, ref, "grassland")
    res = stratified_estimates(strata, mp, ref, stratum_sizes={"A": 500.0, "B": 300.0, "C": 200.0})
    np.testing.assert_allclose(np.diag(res.area_cov_ha2), res.area_se_ha ** 2, rtol=1e-12)
    np.testing.assert_allclose(res.area_cov_ha2.sum(axis=1), 0.0, atol=1e-8)   # the areas add up to the frame
