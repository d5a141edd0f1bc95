"""Transition matrix, sink, valuation and stock volume with hand-computed values."""

from __future__ import annotations

import json
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS

from sinks.carbon import (
    ClassAreas,
    load_table,
    sink,
    stock_volume,
    transition_matrix,
    valuation,
    volume_from_raster,
    volume_to_carbon,
)
from sinks.carbon.valuation import valuation_factor
from sinks.carbon.volume import bef_parameters, growing_stock, volume_carbon_density
from sinks.errors import CoefficientError, ConfigError
from sinks.grid import Grid

TABLE = {"classes": {1: {"above": 10, "below": 2, "soil": 50, "dead": 1},
                     2: {"above": 1, "below": 4, "soil": 40, "dead": 0},
                     3: {"above": 2, "below": 2, "soil": 80, "dead": 0}}}
T1 = np.array([[1, 1, 2], [3, 0, 1], [2, 2, 1]], dtype=np.uint8)
T2 = np.array([[1, 2, 2], [3, 0, 1], [3, 2, 0]], dtype=np.uint8)
# pixels: 1→1: 2, 1→2: 1, 2→2: 2, 2→3: 1, 3→3: 1; nodata in either map: 2
UTM30 = Grid(CRS.from_epsg(32650), Affine(30, 0, 500000, 0, -30, 2500000), 3, 3)
G = 1.846 * 0.4068  # default gain-loss row: net stock change x marginal carbon


@pytest.fixture
def table():
    return load_table(TABLE)


def test_transition_matrix(table) -> None:
    tm = transition_matrix(T1, T2, UTM30, nodata=(0, 0))
    assert tm.codes == (1, 2, 3)
    np.testing.assert_array_equal(tm.pixels, [[2, 1, 0], [0, 2, 1], [0, 0, 1]])
    np.testing.assert_allclose(tm.area_ha, tm.pixels * 0.09)
    assert tm.nodata_ha == pytest.approx(0.18)
    assert tm.other_ha == 0
    assert tm.area(2, 3) == pytest.approx(0.09)
    json.dumps(tm.to_dict())
    lazy = transition_matrix(da.from_array(T1, chunks=2), da.from_array(T2.astype(np.int16), chunks=(1, 3)),
                             UTM30, nodata=(0, 0))
    np.testing.assert_array_equal(lazy.pixels, tm.pixels)
    only = transition_matrix(T1, T2, UTM30, codes=[1, 2], nodata=(0, 0))
    assert only.other_ha == pytest.approx(0.18)  # 2→3 and 3→3


def test_sink_by_hand(table) -> None:
    tm = transition_matrix(T1, T2, UTM30, nodata=(0, 0))
    r = sink(tm, table, years=10)
    # instant changes: above 1→2 -0.81, 2→3 +0.09; dead 1→2 -0.09; below 0; soil -0.9 + 3.6 = 2.7
    assert r.stock_change_mg_c["above"] == pytest.approx(-0.72)
    assert r.stock_change_mg_c["below"] == pytest.approx(0.0, abs=1e-12)
    assert r.stock_change_mg_c["dead"] == pytest.approx(-0.09)
    assert r.stock_change_mg_c["soil"] == pytest.approx(2.7)
    assert r.soil_change_counted_mg_c == pytest.approx(1.35)  # 2.7 x min(10, 20)/20
    assert r.soil_change_committed_mg_c == pytest.approx(1.35)
    assert r.stock_difference_mg_c_per_yr["soil"] == pytest.approx(0.135)
    assert r.stock_difference_mg_c_per_yr["total"] == pytest.approx((-0.72 - 0.09 + 1.35) / 10)
    assert r.gain_area_ha == pytest.approx(0.18)
    assert r.gain_mg_c_per_yr == pytest.approx(0.18 * G)
    assert r.sink_mg_c_per_yr == pytest.approx(0.054 + 0.18 * G)
    assert r.sink_tco2e_per_yr == pytest.approx(r.sink_mg_c_per_yr * 44 / 12)
    assert r.net_emissions_tco2e_per_yr == pytest.approx(-r.sink_tco2e_per_yr)
    assert r.net_emissions_tco2e_per_yr < 0  # a removal has the inventory's negative sign
    d = r.to_dict()
    json.dumps(d)
    descriptive = ("sign_convention", "method", "method_label", "interval", "methods", "persistent_forest",
                   "new_forest", "forest_lost", "growth_row", "coefficients", "table", "climate_zone", "without_range")
    assert all(k in descriptive or any(u in k for u in ("_mg_c", "_ha", "_years", "_tco2e")) for k in d)
    assert d["method"] == "gain-loss" and set(d["methods"]) == {"gain-loss", "stock-difference"}
    assert d["methods"]["stock-difference"]["sink_mg_c_per_yr"] == pytest.approx(0.054)


def test_sink_long_period_and_soil_rules(table) -> None:
    tm = transition_matrix(T1, T2, UTM30, nodata=(0, 0))
    long = sink(tm, table, years=30, growth_mg_c_per_ha_yr=0)
    assert long.soil_change_counted_mg_c == pytest.approx(2.7) and long.soil_change_committed_mg_c == 0
    assert long.sink_mg_c_per_yr == pytest.approx((-0.81 + 2.7) / 30)
    kept = sink(tm, table, years=10, growth_mg_c_per_ha_yr=0, soil_unchanged_into=("wetland",))
    assert kept.stock_change_mg_c["soil"] == pytest.approx(-0.9)
    per_class = sink(tm, table, years=10, growth_mg_c_per_ha_yr={"forest": 1.0, "wetland": 2.0})
    assert per_class.gain_mg_c_per_yr == pytest.approx(0.18 * 1.0 + 0.09 * 2.0)
    with pytest.raises(ConfigError):
        sink(tm, table, years=0)
    small = load_table({"classes": {1: {"above": 1, "below": 0, "soil": 0, "dead": 0}}})
    with pytest.raises(CoefficientError, match="2, 3"):
        sink(tm, small, years=5)
    assert sink(tm, small, years=5, missing="zero").stock_change_mg_c["above"] == pytest.approx(-0.09)


# -- valuation -------------------------------------------------------------------------
def test_valuation_by_hand() -> None:
    assert valuation_factor(years=5) == 5
    v = valuation(-100.0, years=5, price=10.0)
    assert v.npv == pytest.approx(-1000.0)
    f = sum(1.1 ** -t for t in range(5))
    v = valuation(-100.0, years=5, price=10.0, discount_rate=0.10)
    assert v.valuation_factor == pytest.approx(f) and v.npv == pytest.approx(-100 * 10 / 5 * f)
    q = 1 / (1.05 * 1.03)
    assert valuation_factor(years=3, discount_rate=0.05, price_change=0.03) == pytest.approx(1 + q + q * q)
    co2 = valuation(12.0, years=1, price=3.0, price_unit="t_co2e")
    assert co2.price_per_t_c == pytest.approx(11.0) and co2.npv == pytest.approx(132.0)
    for bad in (dict(years=0), dict(years=2.5), dict(years=3, discount_rate=-1.5)):
        with pytest.raises(ConfigError):
            valuation(1.0, price=1.0, **bad)


def test_willamette_style_valuation_matches_invest_constant() -> None:
    # InVEST: constant = price / n x (1 - ratio**n)/(1 - ratio), ratio = 1/((1+r/100)(1+c/100))
    price, r_pct, c_pct, n = 43.0, 7.0, 0.0, 10
    ratio = 1 / ((1 + r_pct / 100) * (1 + c_pct / 100))
    constant = price / n * (1 - ratio ** n) / (1 - ratio)
    v = valuation(-3_526_095.105, years=n, price=price, discount_rate=0.07)
    assert v.npv == pytest.approx(-3_526_095.105 * constant, rel=1e-12)


# -- stock volume ----------------------------------------------------------------------
def test_stock_volume_default_and_presets() -> None:
    v = stock_volume(1000.0)
    assert v.volume_m3 == pytest.approx(94_830.0)
    assert growing_stock("forest_9th_nfi") == 79.7
    assert stock_volume(1000.0, m3_per_ha="arbor_8th_nfi").volume_m3 == pytest.approx(89_790.0)
    by_type = stock_volume({"natural": 10.0, "plantation": 20.0},
                           m3_per_ha={"natural": "natural_9th_nfi", "default": 43.1})
    assert by_type.volume_m3 == pytest.approx(10 * 100.5 + 20 * 43.1)
    areas = ClassAreas(np.array([1, 2]), np.array([3, 4]), np.array([30.0, 40.0]))
    assert stock_volume(areas).volume_m3 == pytest.approx(30 * 94.83)
    with pytest.raises(ConfigError):
        stock_volume(1.0, m3_per_ha="lots")
    with pytest.raises(ConfigError):
        stock_volume({"a": 1.0}, m3_per_ha={"b": 2.0})


def test_volume_to_carbon_methods() -> None:
    assert volume_to_carbon(94_830.0) == pytest.approx(94_830 * 0.523)
    a, b, src = bef_parameters("mixed_conifer_broadleaf")
    assert src.startswith("[R]")
    assert volume_to_carbon(94_830.0, method="bef", area_ha=1000.0) == pytest.approx(0.5 * (a * 94_830 + b * 1000))
    assert volume_to_carbon(100.0, method="bef", area_ha=1.0, forest_type="quercus") == pytest.approx(
        0.5 * (1.3288 * 100 - 3.8999))
    with pytest.raises(ConfigError):
        volume_to_carbon(1.0, method="bef")
    with pytest.raises(ConfigError):
        volume_to_carbon(1.0, method="bef", area_ha=1.0, forest_type="baobab")
    dens = volume_carbon_density(np.array([[100.0, 0.0]]), method="bef", forest_type="larix")
    assert dens[0, 0] == pytest.approx(0.5 * (0.6096 * 100 + 33.806)) and dens[0, 1] == 0


def test_volume_from_raster(make_tile, tmp_path: Path) -> None:
    vol = np.array([[100.0, 50.0], [np.nan, 0.0]], dtype=np.float32)
    g = Grid(UTM30.crs, UTM30.transform, 2, 2)
    assert volume_from_raster(vol, g) == pytest.approx(150 * 0.09)
    assert volume_from_raster(vol, g, units="m3_per_pixel") == pytest.approx(150)
    assert volume_from_raster(vol, g, mask=np.array([[True, False], [True, True]])) == pytest.approx(9.0)
    assert volume_from_raster(da.from_array(vol, chunks=1), g) == pytest.approx(13.5)
    path = make_tile("vol.tif", np.array([[100.0, -1.0], [20.0, 0.0]], dtype=np.float32), res=30, nodata=-1.0)
    assert volume_from_raster(path) == pytest.approx(120 * 0.09)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), with_area=st.booleans())
def test_byte_pair_counts_equal_the_generic_count(seed, with_area):
    """The uint8 path (byte pairs counted by a kernel, then added to their cells) gives the
    pixel counts of the generic path exactly, and the areas to the bit, with codes outside
    the legend (one "other" cell) and nodata on either side."""
    from sinks.carbon.sink import _tm_block

    rng = np.random.default_rng(seed)
    codes = np.array([1, 2, 3, 5, 9])
    a = rng.choice(np.array([0, 1, 2, 3, 5, 9, 17, 255], dtype=np.uint8), size=(37, 53))
    b = rng.choice(np.array([0, 1, 2, 3, 4, 5, 9, 200], dtype=np.uint8), size=(37, 53))
    row_area = rng.uniform(0.009, 0.011, size=37) if with_area else None
    fast = _tm_block(a, b, row_area, codes, (0, 200))
    slow = _tm_block(a.astype(np.uint16), b.astype(np.uint16), row_area, codes, (0, 200))
    assert fast[0].dtype == np.int64 and np.array_equal(fast[0], slow[0])
    assert fast[0].sum() == a.size
    if with_area:
        # each cell of the legend gets one byte pair's summed area, as the one-hot matrix
        # product that the sums replace gave it (bit for bit); the "other" cell adds several
        from sinks._kernels.codes import hist2_u8
        from sinks.carbon.sink import _compact_index

        _pair, weighted = hist2_u8(a, b, row_area)
        one = [np.eye(7)[_compact_index(np.arange(256, dtype=np.uint8), codes, nd)] for nd in (0, 200)]
        product = one[0].T @ weighted @ one[1]
        assert np.array_equal(fast[1][:5, :5], product[:5, :5])
        assert np.array_equal(fast[1][6], product[6]) and np.array_equal(fast[1][:, 6], product[:, 6])
        assert np.allclose(fast[1], slow[1], rtol=1e-12, atol=0)
        assert np.isclose(fast[1].sum(), row_area.sum() * a.shape[1], rtol=1e-12)
    else:
        assert fast[1] is None and slow[1] is None
