"""Exact zonal statistics, class areas, `sinks zonal`: hand-computed cases, exactextract parity, partitions."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from sinks.cli import main
from sinks.errors import EmptyZoneWarning
from sinks.zonal import class_areas, zonal_stats

X0, Y0 = 500000.0, 2400000.0


@pytest.fixture
def three(make_tile):
    # 3 x 3 raster, 10 m pixels, nodata 0 in the middle-right pixel
    a = np.array([[1, 2, 3], [4, 5, 0], [7, 8, 9]], dtype=np.float32)
    return make_tile("r.tif", a, nodata=0)


def _zones(tmp_path, geoms, ids, name="z.gpkg", crs="EPSG:32649"):
    p = tmp_path / name
    gpd.GeoDataFrame({"zid": ids}, geometry=geoms, crs=crs).to_file(p)
    return p


def test_partial_coverage_by_hand(three, tmp_path):
    # left half of the left column (half of pixels 1, 4, 7) and the whole middle column
    z = _zones(tmp_path, [box(X0, Y0 - 30, X0 + 5, Y0), box(X0 + 10, Y0 - 30, X0 + 20, Y0)], ["half", "mid"])
    df = zonal_stats(three, z, id_field="zid", stats=["sum", "mean", "count"]).set_index("zid")
    assert df.loc["half", "count"] == pytest.approx(1.5)
    assert df.loc["half", "sum"] == pytest.approx(0.5 * (1 + 4 + 7))
    assert df.loc["half", "mean"] == pytest.approx(4.0)
    assert df.loc["mid", "sum"] == pytest.approx(15.0) and df.loc["mid", "nodata_fraction"] == pytest.approx(0.0)
    # right column: one of three pixels is nodata
    z2 = _zones(tmp_path, [box(X0 + 20, Y0 - 30, X0 + 30, Y0)], ["right"], name="z2.gpkg")
    r = zonal_stats(three, z2, id_field="zid", stats=["count"]).iloc[0]
    assert r["count"] == pytest.approx(2.0) and r["nodata_fraction"] == pytest.approx(1 / 3)


def test_equals_exactextract_and_reprojects(make_tile, tmp_path):
    from exactextract import exact_extract

    rng = np.random.default_rng(4)
    path = make_tile("v.tif", rng.random((40, 50)).astype(np.float32), nodata=None)
    geoms = [box(X0 + 13, Y0 - 377, X0 + 211, Y0 - 55), box(X0 + 100.5, Y0 - 399, X0 + 499, Y0 - 3.3)]
    z = _zones(tmp_path, [g for g in gpd.GeoSeries(geoms, crs="EPSG:32649").to_crs(4326)], ["a", "b"],
               crs="EPSG:4326")
    ours = zonal_stats(path, z, id_field="zid", stats=["sum", "mean", "count", "min", "max"])
    zones = gpd.read_file(z).to_crs("EPSG:32649")
    ref = exact_extract(str(path), zones, ["sum", "mean", "count", "min", "max"], output="pandas")
    for s in ("sum", "mean", "count", "min", "max"):
        np.testing.assert_allclose(ours[s].to_numpy(), ref[s].to_numpy(), rtol=1e-9)


@settings(max_examples=15, deadline=None)
@given(cx=st.floats(5.3, 494.7), cy=st.floats(5.3, 394.7))
def test_partition_sums_equal_raster_total(tmp_path_factory, cx, cy):
    tmp = tmp_path_factory.mktemp("p")
    a = np.arange(40 * 50, dtype=np.float64).reshape(40, 50) / 7.0
    path = tmp / "t.tif"
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=50, height=40, count=1, dtype="float64",
                       crs="EPSG:32649", transform=from_origin(X0, Y0, 10, 10)) as ds:
        ds.write(a, 1)
    x, y = X0 + cx, Y0 - 400 + cy
    parts = [box(X0, Y0 - 400, x, y), box(x, Y0 - 400, X0 + 500, y), box(X0, y, x, Y0), box(x, y, X0 + 500, Y0)]
    z = tmp / "z.gpkg"
    gpd.GeoDataFrame({"zid": list("abcd")}, geometry=parts, crs="EPSG:32649").to_file(z)
    df = zonal_stats(path, z, id_field="zid", stats=["sum", "count"])
    assert df["sum"].sum() == pytest.approx(a.sum(), rel=1e-6)
    assert df["count"].sum() == pytest.approx(a.size, rel=1e-6)


def test_class_areas_and_geographic_weights(make_tile, tmp_path):
    lc = np.array([[1, 1, 2, 2], [1, 5, 5, 2], [0, 5, 5, 2], [1, 1, 1, 1]], dtype=np.uint8)
    path = make_tile("lc.tif", lc, nodata=0, block=16)
    z = _zones(tmp_path, [box(X0, Y0 - 40, X0 + 40, Y0), box(X0, Y0 - 20, X0 + 15, Y0)], ["all", "nw"])
    df = class_areas(path, z, id_field="zid").set_index("zid")
    assert df.loc["all", "area_ha_forest"] == pytest.approx(7 * 0.01)
    assert df.loc["all", "area_ha_water"] == pytest.approx(4 * 0.01)
    assert df.loc["all", "nodata_fraction"] == pytest.approx(1 / 16)
    # nw: pixels (0,0)=1, (0,1)=1 half, (1,0)=1, (1,1)=5 half -> forest 2.5 px, water 0.5 px
    assert df.loc["nw", "area_ha_forest"] == pytest.approx(0.025)
    assert df.loc["nw", "frac_water"] == pytest.approx(0.5 / 3)
    # geographic raster: the same polygon near the pole weighs less than at the equator
    g1 = make_tile("eq.tif", np.ones((10, 10), np.uint8), x0=100.0, y0=1.0, res=0.1, crs="EPSG:4326")
    g2 = make_tile("po.tif", np.ones((10, 10), np.uint8), x0=100.0, y0=80.0, res=0.1, crs="EPSG:4326")
    zz = _zones(tmp_path, [box(100, 0, 101, 1)], ["q"], name="eq.gpkg", crs="EPSG:4326")
    zp = _zones(tmp_path, [box(100, 79, 101, 80)], ["q"], name="po.gpkg", crs="EPSG:4326")
    a_eq = class_areas(g1, zz, id_field="zid")["area_ha_forest"].iloc[0]
    a_po = class_areas(g2, zp, id_field="zid")["area_ha_forest"].iloc[0]
    assert a_eq == pytest.approx(1_236_000, rel=0.01)   # ~111.3 km x 110.6 km
    assert a_po / a_eq == pytest.approx(np.cos(np.deg2rad(79.5)), rel=0.02)


def test_zone_off_the_raster_warns_and_counts_zero(three, tmp_path):
    z = _zones(tmp_path, [box(X0 + 1000, Y0, X0 + 1100, Y0 + 100)], ["away"])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        df = zonal_stats(three, z, id_field="zid", stats=["sum", "count"])
    assert df["count"].iloc[0] == 0 and df["sum"].iloc[0] == 0
    assert any(issubclass(x.category, EmptyZoneWarning) and "away" in str(x.message) for x in w)


def test_cli_formats_and_bad_inputs(three, tmp_path, capsys):
    z = _zones(tmp_path, [box(X0, Y0 - 30, X0 + 30, Y0)], ["all"])
    for ext in ("csv", "gpkg", "parquet"):
        out = tmp_path / f"o.{ext}"
        with pytest.raises(SystemExit) as ei:
            main(["zonal", str(three), "--zones", str(z), "--id-field", "zid", "--stats", "sum,mean,count",
                  "-o", str(out)])
        assert ei.value.code == 0, capsys.readouterr().err
    t = pd.read_csv(tmp_path / "o.csv")
    assert list(t.columns) == ["zid", "sum", "mean", "count", "nodata_fraction"]
    assert t["sum"].iloc[0] == pytest.approx(39.0)
    assert gpd.read_parquet(tmp_path / "o.parquet").geometry.iloc[0].area == pytest.approx(900.0)
    dup = _zones(tmp_path, [box(X0, Y0 - 10, X0 + 10, Y0)] * 2, ["x", "x"], name="dup.gpkg")
    cases = [
        (["--zones", str(tmp_path / "missing.gpkg"), "--id-field", "zid"], "missing.gpkg"),
        (["--zones", str(z), "--id-field", "nope"], "zid"),
        (["--zones", str(dup), "--id-field", "zid"], "x"),
        (["--zones", str(z), "--id-field", "zid", "--stats", "sum,wibble"], "wibble"),
    ]
    for args, needle in cases:
        out = tmp_path / "bad.csv"
        with pytest.raises(SystemExit) as ei:
            main(["zonal", str(three), *args, "-o", str(out)])
        err = capsys.readouterr().err
        assert ei.value.code == 2 and needle in err and "Traceback" not in err, err
        assert not out.exists()
    with pytest.raises(SystemExit) as ei:
        main(["zonal", str(three), "--zones", str(z), "--id-field", "zid", "-o", str(tmp_path / "o.csv")])
    assert ei.value.code == 2
