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
