"""Exact zonal statistics, class areas, `sinks zonal`: hand-computed cases, exactextract parity, partitions."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from sinks.cli import main
from sinks.errors import EmptyZoneWarning, GeometryRepairedWarning
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
@given(xs=st.lists(st.floats(0.3, 499.7), min_size=1, max_size=4),
       ys=st.lists(st.floats(0.3, 399.7), min_size=0, max_size=3))
@example(xs=[0.30000000000000004, 0.3], ys=[0.3])   # a zero-width zone: repaired into an empty zone, not a line
def test_partition_sums_equal_raster_total(tmp_path_factory, xs, ys):
    """Random vertical and horizontal cut lines (almost never on pixel edges) partition the raster."""
    import rasterio
    from rasterio.transform import from_origin

    tmp = tmp_path_factory.mktemp("p")
    a = np.arange(40 * 50, dtype=np.float64).reshape(40, 50) / 7.0
    a[3, 4] = -1.0  # one nodata pixel
    path = tmp / "t.tif"
    with rasterio.open(path, "w", driver="GTiff", width=50, height=40, count=1, dtype="float64", nodata=-1.0,
                       crs="EPSG:32649", transform=from_origin(X0, Y0, 10, 10)) as ds:
        ds.write(a, 1)
    xe = [X0, *sorted(X0 + x for x in set(xs)), X0 + 500]
    ye = [Y0 - 400, *sorted(Y0 - 400 + y for y in set(ys)), Y0]
    parts = [box(x0, y0, x1, y1) for x0, x1 in zip(xe, xe[1:]) for y0, y1 in zip(ye, ye[1:])]
    z = tmp / "z.gpkg"
    gpd.GeoDataFrame({"zid": [f"p{i}" for i in range(len(parts))]}, geometry=parts, crs="EPSG:32649").to_file(z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyZoneWarning)
        warnings.simplefilter("ignore", GeometryRepairedWarning)
        df = zonal_stats(path, z, id_field="zid", stats=["sum", "count"])
    valid = a[a != -1.0]
    assert df["sum"].sum() == pytest.approx(valid.sum(), rel=1e-6)
    assert df["count"].sum() == pytest.approx(valid.size, rel=1e-6)


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
        df = zonal_stats(three, z, id_field="zid", stats=["sum", "mean", "count"])
    assert df["count"].iloc[0] == 0 and df["sum"].iloc[0] == 0 and np.isnan(df["mean"].iloc[0])
    assert df["nodata_fraction"].iloc[0] == 1.0
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


def test_vector_formats_agree(three, tmp_path):
    geoms = [box(X0 + 2.5, Y0 - 27, X0 + 17, Y0 - 4), box(X0 + 12, Y0 - 30, X0 + 30, Y0 - 12.5)]
    g = gpd.GeoDataFrame({"zid": ["a", "b"]}, geometry=geoms, crs="EPSG:32649")
    results = []
    for ext in ("gpkg", "geojson", "fgb", "parquet", "shp"):
        p = tmp_path / f"z.{ext}"
        g.to_parquet(p) if ext == "parquet" else g.to_file(p)
        # FlatGeobuf written with a spatial index may reorder features: compare by id
        results.append(zonal_stats(three, p, id_field="zid", stats=["sum", "mean", "count"]).set_index("zid")
                       .sort_index())
    for r in results[1:]:
        for c in ("sum", "mean", "count", "nodata_fraction"):
            np.testing.assert_allclose(r[c].to_numpy(), results[0][c].to_numpy(), rtol=1e-12)
    # a: 14.5 m x 23 m; b: 18 m x 17.5 m less 7.5 m x 10 m over the nodata pixel
    assert results[0]["count"].tolist() == pytest.approx([14.5 * 23 / 100, 18 * 17.5 / 100 - 0.75])
    assert results[1]["nodata_fraction"].loc["b"] == pytest.approx(0.75 / 3.15)


def test_results_do_not_depend_on_chunking(make_tile, tmp_path, monkeypatch):
    import sinks.zonal as zmod

    rng = np.random.default_rng(2)
    a = rng.integers(1, 9, (70, 90)).astype(np.uint8)
    paths = [make_tile(f"b{b}.tif", a, block=b) for b in (16, 64, 128)]  # 128 > size: striped
    geoms = [box(X0 + 33.3, Y0 - 517.7, X0 + 611.1, Y0 - 71.2), box(X0 + 200.5, Y0 - 690, X0 + 899, Y0 - 300.4)]
    z = _zones(tmp_path, geoms, ["a", "b"])
    ref = class_areas(paths[0], z, id_field="zid")
    num = ref.select_dtypes("number").columns
    for p in paths[1:]:
        np.testing.assert_allclose(class_areas(p, z, id_field="zid")[num].to_numpy(), ref[num].to_numpy(), rtol=1e-12)
    monkeypatch.setattr(zmod, "_STRATEGY", "feature-sequential")
    np.testing.assert_allclose(class_areas(paths[0], z, id_field="zid")[num].to_numpy(), ref[num].to_numpy(),
                               rtol=1e-12)


def test_partly_outside_and_overlapping(three, tmp_path):
    # half of the polygon lies west of the raster; the other half is the left column
    z = _zones(tmp_path, [box(X0 - 10, Y0 - 30, X0 + 10, Y0), box(X0, Y0 - 30, X0 + 20, Y0)], ["edge", "over"])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        df = zonal_stats(three, z, id_field="zid", stats=["sum", "mean", "count"]).set_index("zid")
    assert not any(issubclass(x.category, EmptyZoneWarning) for x in w)
    assert df.loc["edge", "count"] == pytest.approx(3.0) and df.loc["edge", "sum"] == pytest.approx(12.0)
    assert df.loc["edge", "nodata_fraction"] == pytest.approx(0.5)
    assert df.loc["over", "sum"] == pytest.approx(1 + 4 + 7 + 2 + 5 + 8)


def test_geographic_partition_matches_ellipsoidal_areas(make_tile, tmp_path):
    from sinks.area import row_area_ha
    from sinks.grid import Grid

    rng = np.random.default_rng(5)
    a = rng.integers(1, 9, (60, 80)).astype(np.uint8)
    res, x0, y0 = 0.0025, 110.0, 35.0
    path = make_tile("geo.tif", a, x0=x0, y0=y0, res=res, crs="EPSG:4326")
    cx, cy = x0 + 0.0771, y0 - 0.0913
    x1, y1 = x0 + 80 * res, y0 - 60 * res
    parts = [box(x0, cy, cx, y0), box(cx, cy, x1, y0), box(x0, y1, cx, cy), box(cx, y1, x1, cy)]
    z = _zones(tmp_path, parts, list("abcd"), name="geo.gpkg", crs="EPSG:4326")
    df = class_areas(path, z, id_field="zid")
    import rasterio

    with rasterio.open(path) as ds:
        rows = row_area_ha(Grid.from_dataset(ds))
    for code, name in ((1, "forest"), (5, "water"), (8, "bare")):
        expect = float((rows[:, None] * (a == code)).sum())
        assert df[f"area_ha_{name}"].sum() == pytest.approx(expect, rel=1e-8)
    assert df["nodata_fraction"].max() < 1e-6


def test_cli_categorical_and_more_bad_inputs(make_tile, three, tmp_path, capsys):
    lc = np.array([[1, 1, 2], [5, 0, 2], [1, 6, 6]], dtype=np.uint8)
    path = make_tile("lc.tif", lc)
    z = _zones(tmp_path, [box(X0, Y0 - 30, X0 + 30, Y0)], ["all"])
    out = tmp_path / "cat.csv"
    with pytest.raises(SystemExit) as ei:
        main(["zonal", str(path), "--zones", str(z), "--id-field", "zid", "--categorical", "-o", str(out)])
    assert ei.value.code == 0
    t = pd.read_csv(out)
    assert t.columns[0] == "zid"
    assert t["area_ha_forest"].iloc[0] == pytest.approx(0.03) and t["frac_cropland"].iloc[0] == pytest.approx(0.25)
    assert t["nodata_fraction"].iloc[0] == pytest.approx(1 / 9)
    # bad inputs: exit 2, one line naming the culprit, nothing written
    empty = tmp_path / "empty.gpkg"
    gpd.GeoDataFrame({"zid": []}, geometry=[], crs="EPSG:32649").to_file(empty)
    nocrs = tmp_path / "nocrs.gpkg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gpd.GeoDataFrame({"zid": ["a"]}, geometry=[box(X0, Y0 - 10, X0 + 10, Y0)]).to_file(nocrs)
    notras = tmp_path / "notraster.tif"
    notras.write_text("hello")
    cases = [
        ([str(three), "--zones", str(empty)], "empty.gpkg"),
        ([str(three), "--zones", str(nocrs)], "CRS"),
        ([str(tmp_path / "gone.tif"), "--zones", str(z)], "gone.tif"),
        ([str(notras), "--zones", str(z)], "notraster.tif"),
    ]
    for args, needle in cases:
        bad = tmp_path / "bad.gpkg"
        with pytest.raises(SystemExit) as ei:
            main(["zonal", *args, "--id-field", "zid", "-o", str(bad)])
        err = capsys.readouterr().err
        assert ei.value.code == 2 and needle in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1, err
        assert not bad.exists()
    with pytest.raises(SystemExit) as ei:
        main(["zonal", str(three), "--zones", str(z), "--id-field", "nope", "-o", str(tmp_path / "x.csv")])
    assert ei.value.code == 2 and "zid" in capsys.readouterr().err  # lists the available fields
    before = out.read_bytes()
    with pytest.raises(SystemExit) as ei:
        main(["zonal", str(path), "--zones", str(z), "--id-field", "zid", "-o", str(out)])
    assert ei.value.code == 2 and out.read_bytes() == before


def test_processes_share_the_polygons(make_tile, tmp_path, monkeypatch):
    """``workers=2`` splits the polygons between two processes: same rows, same values."""
    from shapely import voronoi_polygons
    from shapely.geometry import MultiPoint

    rng = np.random.default_rng(3)
    x0, y0 = 500000.0, 2400000.0
    vals = rng.gamma(2.0, 10.0, (64, 80)).astype(np.float32)
    ras = make_tile("v.tif", vals, nodata=-1)
    ext = box(x0, y0 - 640, x0 + 800, y0)
    pts = MultiPoint(np.column_stack([rng.uniform(x0, x0 + 800, 90), rng.uniform(y0 - 640, y0, 90)]))
    cells = [c.intersection(ext) for c in voronoi_polygons(pts, extend_to=ext).geoms]
    z = gpd.GeoDataFrame({"zid": [f"z{i:03d}" for i in range(len(cells))]}, geometry=cells, crs="EPSG:32649")
    one = zonal_stats(ras, z, id_field="zid", stats=["sum", "mean", "count", "max"])
    two = zonal_stats(ras, z, id_field="zid", stats=["sum", "mean", "count", "max"], workers=2)
    pd.testing.assert_frame_equal(one.drop(columns="geometry"), two.drop(columns="geometry"))
    assert one["sum"].sum() == pytest.approx(float(vals.astype(np.float64).sum()), rel=1e-6)
    import threading

    monkeypatch.setattr(threading, "active_count", lambda: 3)  # other threads alive: fresh child processes
    fresh = zonal_stats(ras, z, id_field="zid", stats=["sum", "mean", "count", "max"], workers=2)
    pd.testing.assert_frame_equal(one.drop(columns="geometry"), fresh.drop(columns="geometry"))
    monkeypatch.undo()
    lc = make_tile("lc.tif", rng.integers(1, 9, (64, 80)).astype(np.uint8))
    pd.testing.assert_frame_equal(class_areas(lc, z, id_field="zid").drop(columns="geometry"),
                                  class_areas(lc, z, id_field="zid", workers=2).drop(columns="geometry"))


def test_infinite_values_are_nodata_with_one_warning(make_tile, tmp_path, capsys):
    a = np.array([[1, np.inf, 3], [4, np.nan, -np.inf], [7, 8, 9]], dtype=np.float32)
    r = make_tile("inf.tif", a, nodata=None)
    z = _zones(tmp_path, [box(X0, Y0 - 30, X0 + 30, Y0), box(X0, Y0 - 30, X0 + 10, Y0)], ["all", "left"])
    from sinks.errors import NonFiniteWarning

    with pytest.warns(NonFiniteWarning, match="inf.tif: holds infinite values") as rec:
        df = zonal_stats(r, z, id_field="zid", stats=["sum", "mean", "count", "min", "max"]).set_index("zid")
    assert len([w for w in rec if issubclass(w.category, NonFiniteWarning)]) == 1
    assert df.loc["all", "count"] == pytest.approx(6) and df.loc["all", "sum"] == pytest.approx(32)
    assert df.loc["all", "min"] == 1 and df.loc["all", "max"] == 9
    assert df.loc["all", "nodata_fraction"] == pytest.approx(3 / 9)
    assert df.loc["left", "sum"] == pytest.approx(12) and df.loc["left", "nodata_fraction"] == 0
    # a finite float raster gives no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonFiniteWarning)
        zonal_stats(make_tile("fin.tif", np.ones((3, 3), np.float32), nodata=None), z, id_field="zid")
    # the CLI prints it once, and writes finite figures
    out = tmp_path / "o.csv"
    with pytest.raises(SystemExit) as ei:
        main(["zonal", str(r), "--zones", str(z), "--id-field", "zid", "--stats", "min,max", "-o", str(out)])
    assert ei.value.code == 0
    assert capsys.readouterr().err.count("infinite values") == 1
    got = pd.read_csv(out).set_index("zid")
    assert np.isfinite(got[["min", "max"]].to_numpy()).all()


def test_block_cache_slices_small_windows_from_whole_blocks(tmp_path):
    """Windows inside one block come from that block, read once, with the pixels a direct
    read gives; a window across blocks, or a large one, is left to the caller."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from sinks.zonal import _BlockCache

    rng = np.random.default_rng(5)
    a = rng.integers(0, 9, (300, 260), dtype=np.uint8)
    p = tmp_path / "lc.tif"
    with rasterio.open(p, "w", driver="GTiff", width=260, height=300, count=1, dtype="uint8", crs="EPSG:32650",
                       transform=from_origin(0, 0, 10, 10), tiled=True, blockxsize=128, blockysize=128) as ds:
        ds.write(a, 1)
    with rasterio.open(p) as ds:
        cache = _BlockCache([ds], blocks=2)
        for x0, y0, nx, ny in [(0, 0, 5, 7), (100, 20, 28, 108), (130, 140, 64, 64), (256, 256, 4, 44)]:
            got = cache.read(0, x0, y0, nx, ny)
            assert np.array_equal(got, a[y0:y0 + ny, x0:x0 + nx])
            assert np.array_equal(got, ds.read(1, window=Window(x0, y0, nx, ny)))
        assert cache.loads == 3  # blocks (0, 0), (1, 1), (2, 2); the second window is in the first block
        assert cache.read(0, 120, 0, 16, 4) is None  # across two blocks
        assert cache.read(0, 250, 290, 20, 20) is None  # beyond the raster
        cache.read(0, 1, 1, 2, 2)  # block (0, 0) again: dropped as the oldest of two, read again
        assert cache.loads == 4 and len(cache.cached[0]) == 2
