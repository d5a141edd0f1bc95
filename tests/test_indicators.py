"""Region indicators: hand-computed class areas, coverage, stocks, sink and eco-land loss; partitions."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from sinks.carbon import stock_totals
from sinks.carbon.sink import TransitionMatrix, sink, transition_matrix
from sinks.carbon.stock import class_areas_ha
from sinks.carbon.tableio import table_from_mapping
from sinks.errors import InputError, OutputExistsError
from sinks.grid import Grid
from sinks.indicators import region_indicators, sink_method, write_indicator_tables

X0, Y0 = 500000.0, 2400000.0
PX = 0.01  # ha per 10 m pixel
CODES = list(range(1, 9))

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
TOTAL = {1: 165.0, 2: 71.0, 3: 217.0, 4: 385.0, 5: 0.0, 6: 54.0, 7: 20.0, 8: 10.0}

LC_A = np.array([[1, 1, 2, 2], [1, 1, 6, 2], [5, 5, 6, 7], [0, 8, 3, 4]], dtype=np.uint8)
LC_B = np.array([[1, 1, 2, 7], [1, 6, 6, 2], [5, 5, 6, 7], [0, 8, 3, 1]], dtype=np.uint8)


@pytest.fixture
def maps(make_tile):
    return {"a": make_tile("a.tif", LC_A), "b": make_tile("b.tif", LC_B)}


def _zones(crs="EPSG:32649"):
    geoms = [box(X0, Y0 - 40, X0 + 20, Y0), box(X0 + 15, Y0 - 20, X0 + 40, Y0)]
    return gpd.GeoDataFrame({"rid": ["w", "half"], "name": ["West", "Half"]}, geometry=geoms, crs="EPSG:32649").to_crs(crs)


def _run(maps, zones=None, **kw):
    return region_indicators(zones if zones is not None else _zones(), id_field="rid",
                             landcover={"a": maps["a"], "b": maps["b"]}, years={"a": 2010, "b": 2020}, table=TABLE,
                             growth_mg_c_per_ha_yr=2.0, **kw).set_index("rid", drop=False)


def test_areas_coverage_stocks_by_hand(maps):
    df = _run(maps)
    assert list(df.columns[:1]) == ["rid"]
    w, h = df.loc["w"], df.loc["half"]
    # west: columns 0-1 -> forest 4, water 2, bare 1, nodata 1 pixel
    assert w["area_ha_forest_a"] == pytest.approx(4 * PX)
    assert w["area_ha_water_a"] == pytest.approx(2 * PX)
    # official rate: forest over the whole zone (water and the unobserved pixel included)
    assert w["zone_area_ha"] == pytest.approx(8 * PX)
    assert w["forest_coverage_pct_a"] == pytest.approx(50.0)
    assert w["unobserved_ha_a"] == pytest.approx(1 * PX)
    assert w["unobserved_fraction_a"] == pytest.approx(1 / 8)
    assert w["forest_coverage_pct_max_a"] == pytest.approx(62.5)
    assert bool(w["coverage_flagged_a"]) is True          # 12.5 % unobserved > 5 %
    assert w["stock_mg_c_total_a"] == pytest.approx(PX * (4 * 165 + 10))
    # half: half of column 1 (rows 0-1) plus columns 2-3 (rows 0-1)
    assert h["area_ha_forest_a"] == pytest.approx(1.0 * PX)
    assert h["area_ha_grassland_a"] == pytest.approx(3 * PX)
    assert h["area_ha_cropland_a"] == pytest.approx(1 * PX)
    assert h["forest_coverage_pct_a"] == pytest.approx(20.0)
    assert h["unobserved_fraction_a"] == pytest.approx(0.0) and not h["coverage_flagged_a"]
    assert h["stock_mg_c_above_a"] == pytest.approx(PX * (50 + 3 * 5 + 3))
    assert h["stock_mg_c_total_a"] == pytest.approx(PX * (165 + 3 * 71 + 54))
    assert h["area_ha_forest_b"] == pytest.approx(0.5 * PX)
    assert h["area_ha_built_up_b"] == pytest.approx(1 * PX)
    assert h["volume_m3_b"] == pytest.approx(0.5 * PX * 94.83)
    for p in ("above", "below", "dead", "soil"):
        assert f"stock_mg_c_{p}_b" in df


def test_sink_and_eco_land_lost(maps):
    df = _run(maps)
    h = df.loc["half"]
    # 2 -> 7 on a whole pixel, 1 -> 6 on half a pixel
    assert h["eco_land_lost_ha_a_b"] == pytest.approx(1.5 * PX)
    assert df.loc["w", "eco_land_lost_ha_a_b"] == pytest.approx(1 * PX)
    # by hand: forest->cropland 0.005 ha: biomass+DOM 4-65, soil (50-100)/2 (10 of 20 years);
    # grassland->built-up 0.01 ha: biomass+DOM 0-11, soil (20-60)/2; gain 0.005 ha x 2
    change = 0.005 * (4 - 65) + 0.005 * (50 - 100) / 2 + 0.01 * (0 - 11) + 0.01 * (20 - 60) / 2
    assert h["stock_difference_mg_c_per_yr_a_b"] == pytest.approx(change / 10)
    assert h["gain_mg_c_per_yr_a_b"] == pytest.approx(0.005 * 2.0)
    assert h["sink_mg_c_per_yr_a_b"] == pytest.approx(change / 10 + 0.01)
    assert h["sink_tco2e_per_yr_a_b"] == pytest.approx((change / 10 + 0.01) * 44 / 12)
    m = np.zeros((8, 8))
    for f, t, a in [(1, 1, 0.005), (1, 6, 0.005), (2, 2, 0.02), (2, 7, 0.01), (6, 6, 0.01)]:
        m[f - 1, t - 1] = a
    ref = sink(TransitionMatrix(tuple(CODES), m, np.zeros((8, 8), np.int64)), TABLE, years=10,
               growth_mg_c_per_ha_yr=2.0)
    assert h["sink_mg_c_per_yr_a_b"] == pytest.approx(ref.sink_mg_c_per_yr, rel=1e-12)
    assert (df["sink_method_a_b"] == sink_method(ref)).all() and sink_method(ref) == "gain-loss"


def test_uncertainty_and_stock_difference_without_transitions(maps):
    df = _run(maps, uncertainty={"draws": 500, "seed": 3, "distribution": "triangular"})
    for rid in ("w", "half"):
        r = df.loc[rid]
        assert r["sink_mg_c_per_yr_a_b_lo"] < r["sink_mg_c_per_yr_a_b_hi"]
        assert r["sink_mg_c_per_yr_a_b_lo"] <= r["sink_mg_c_per_yr_a_b"] <= r["sink_mg_c_per_yr_a_b_hi"]
    fb = _run(maps, transitions=False)
    diff = (fb["stock_mg_c_total_b"] - fb["stock_mg_c_total_a"]) / 10
    np.testing.assert_allclose(fb["sink_mg_c_per_yr_a_b"], diff)
    assert fb["gain_mg_c_per_yr_a_b"].isna().all() and fb["eco_land_lost_ha_a_b"].isna().all()
    assert (fb["sink_method_a_b"] == "stock-difference").all()


def test_zones_in_other_crs_and_outside(maps):
    z = _zones("EPSG:4326")
    df = _run(maps, zones=z)
    assert df.loc["half", "area_ha_grassland_a"] == pytest.approx(3 * PX, rel=1e-6)
    out = gpd.GeoDataFrame({"rid": ["edge"]}, geometry=[box(X0 - 40, Y0 - 40, X0 + 40, Y0)], crs="EPSG:32649")
    e = _run(maps, zones=out).iloc[0]
    assert e["unobserved_fraction_a"] == pytest.approx(0.5 + 0.5 / 16)  # half outside + 1 nodata pixel of 16
    assert e["zone_area_ha"] == pytest.approx(32 * PX)                  # the whole zone, outside part included
    assert e["forest_coverage_pct_a"] == pytest.approx(100 * 5 / 32)


def test_partition_sums_equal_whole_raster(make_tile):
    rng = np.random.default_rng(7)
    a = rng.integers(0, 9, (30, 40)).astype(np.uint8)
    b = np.where(rng.random(a.shape) < 0.3, rng.integers(1, 9, a.shape), a).astype(np.uint8)
    pa, pb = make_tile("pa.tif", a), make_tile("pb.tif", b)
    # cuts through pixels at fractions exact in float32 (exactextract stores coverage as float32;
    # arbitrary cuts agree to ~1e-8, see test_zonal.py)
    cx, cy = X0 + 137.5, Y0 - 211.25
    x1, y1 = X0 + 400, Y0 - 300
    parts = [box(X0, cy, cx, Y0), box(cx, cy, x1, Y0), box(X0, y1, cx, cy), box(cx, y1, x1, cy)]
    z = gpd.GeoDataFrame({"rid": list("pqrs")}, geometry=parts, crs="EPSG:32649")
    df = region_indicators(z, id_field="rid", landcover={"a": pa, "b": pb}, years={"a": 2000, "b": 2015},
                           table=TABLE)
    with __import__("rasterio").open(pa) as ds:
        grid = Grid.from_dataset(ds)
    for ep, arr in (("a", a), ("b", b)):
        ca = class_areas_ha(arr, grid, nodata=0)
        for code, name in zip(CODES, ["forest", "grassland", "wetland", "mangrove", "water", "cropland",
                                      "built_up", "bare"]):
            assert df[f"area_ha_{name}_{ep}"].sum() == pytest.approx(ca.area_of(code), rel=1e-9)
        tot = stock_totals(ca, TABLE)
        for p in ("above", "below", "dead", "soil", "total"):
            assert df[f"stock_mg_c_{p}_{ep}"].sum() == pytest.approx(tot.stock_mg_c[p], rel=1e-9)
    tm = transition_matrix(a, b, grid, codes=CODES, nodata=(0, 0))
    whole = sink(tm, TABLE, years=15)
    assert df["sink_mg_c_per_yr_a_b"].sum() == pytest.approx(whole.sink_mg_c_per_yr, rel=1e-9)


def test_bad_inputs(maps, make_tile):
    with pytest.raises(InputError, match="outside the sinks legend: 9"):
        _run({"a": maps["a"], "b": make_tile("b9.tif", np.where(LC_B == 8, 9, LC_B).astype(np.uint8))})
    other = make_tile("other.tif", LC_B, x0=X0 + 5)
    with pytest.raises(InputError, match="other.tif"):
        region_indicators(_zones(), id_field="rid", landcover={"a": maps["a"], "b": other},
                          years={"a": 2010, "b": 2020}, table=TABLE)
    with pytest.raises(InputError, match="rid"):
        _run(maps, zones=_zones().assign(rid=["x", "x"]))


def test_write_tables(maps, tmp_path):
    df = _run(maps).reset_index(drop=True)
    base = tmp_path / "tables" / "regions"
    paths = write_indicator_tables(df, base)
    assert [p.name for p in paths] == ["regions.gpkg", "regions.parquet", "regions.csv"]
    csv = pd.read_csv(base.with_suffix(".csv"))
    assert csv.columns[0] == "rid" and "geometry" not in csv
    assert csv["area_ha_forest_a"].tolist() == pytest.approx(df["area_ha_forest_a"].tolist())
    pq = gpd.read_parquet(base.with_suffix(".parquet"))
    assert pq.geometry.iloc[1].area == pytest.approx(500.0) and pq.columns[0] == "rid"
    assert gpd.read_file(base.with_suffix(".gpkg"))["rid"].tolist() == ["w", "half"]
    (tmp_path / "t2").mkdir()
    (tmp_path / "t2" / "r.csv").write_text("x")
    with pytest.raises(OutputExistsError):
        write_indicator_tables(df, tmp_path / "t2" / "r")
    assert sorted(p.name for p in (tmp_path / "t2").iterdir()) == ["r.csv"]


def test_wide_codes_outside_the_legend(maps, make_tile):
    """A uint16 land cover with a code beyond a byte: an error, or unobserved area with missing='zero'."""
    wide = LC_B.astype(np.uint16)
    wide[0, 0] = 300                                   # was forest, in polygon "w"
    lcs = {"a": maps["a"], "b": make_tile("wide.tif", wide, nodata=65535)}
    with pytest.raises(InputError, match="outside the sinks legend: 300"):
        _run(lcs)
    df = _run(lcs, missing="zero")
    ref = _run(maps)
    w, rw = df.loc["w"], ref.loc["w"]
    assert w["area_ha_forest_b"] == pytest.approx(rw["area_ha_forest_b"] - PX)
    assert w["unobserved_ha_b"] == pytest.approx(rw["unobserved_ha_b"] + PX)  # no class: unobserved
    assert w["area_ha_forest_a"] == pytest.approx(rw["area_ha_forest_a"])    # the other epoch is untouched
