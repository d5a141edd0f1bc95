"""Stock maps and totals on tiny rasters with hand-computed values."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS

from sinks.area import row_area_ha
from sinks.carbon import (
    LazyLayer,
    change_layers,
    china_table,
    class_areas_ha,
    density,
    load_table,
    open_landcover,
    stock,
    stock_layers,
    stock_totals,
)
from sinks.errors import BandMismatchError, CoefficientError, GridMismatchError, OutputExistsError, TileReadError
from sinks.grid import Grid
from sinks.outputs import write_rasters

# densities (Mg C/ha): totals 63, 45, 84
TABLE = {"classes": {1: {"above": 10, "below": 2, "soil": 50, "dead": 1},
                     2: {"above": 1, "below": 4, "soil": 40, "dead": 0},
                     3: {"above": 2, "below": 2, "soil": 80, "dead": 0}}}
LC = np.array([[1, 1, 2],
               [3, 0, 1],
               [2, 2, 1]], dtype=np.uint8)  # 0 = nodata; counts 1:4, 2:3, 3:1
UTM30 = Grid(CRS.from_epsg(32650), Affine(30, 0, 500000, 0, -30, 2500000), 3, 3)
GEO1 = Grid(CRS.from_epsg(4326), Affine(1, 0, 100, 0, -1, 3), 3, 3)


@pytest.fixture
def table():
    return load_table(TABLE)


def test_hand_totals_projected(table) -> None:
    areas = class_areas_ha(LC, UTM30, nodata=0)
    assert areas.codes.tolist() == [1, 2, 3]
    assert areas.pixels.tolist() == [4, 3, 1]
    assert areas.nodata_pixels == 1
    tot = stock_totals(areas, table)
    # 0.09 ha x (4 x 63 + 3 x 45 + 1 x 84) = 0.09 x 471
    assert tot.stock_mg_c["total"] == pytest.approx(42.39, rel=1e-14)
    assert tot.stock_mg_c["above"] == pytest.approx(0.09 * (40 + 3 + 2), rel=1e-14)
    assert tot.stock_mg_c["soil"] == pytest.approx(0.09 * (200 + 120 + 80), rel=1e-14)
    assert tot.stock_mg_c["dead"] == pytest.approx(0.09 * 4, rel=1e-14)
    assert tot.area_ha == pytest.approx(0.72)
    assert set(tot.to_dict()) == {"stock_mg_c", "area_ha"}
    assert list(tot.to_dict()["stock_mg_c"]) == ["total", "above", "below", "soil", "dead"]


def test_hand_totals_geographic(table) -> None:
    rows = row_area_ha(GEO1)  # ha per pixel in rows 0, 1, 2
    areas = class_areas_ha(LC, GEO1, nodata=0)
    want = (2 * 63 + 45) * rows[0] + (84 + 63) * rows[1] + (2 * 45 + 63) * rows[2]
    assert stock_totals(areas, table).stock_mg_c["total"] == pytest.approx(want, rel=1e-13)
    assert areas.area_of(1) == pytest.approx(2 * rows[0] + rows[1] + rows[2], rel=1e-14)
    # the per-pixel stock map carries the row areas
    s = stock(LC, GEO1, table, nodata=0)
    assert s[1, 0] == pytest.approx(84 * rows[1], rel=1e-6)
    assert s[2, 2] == pytest.approx(63 * rows[2], rel=1e-6)


def test_density_and_stock_maps(table) -> None:
    d = density(LC, table, nodata=0)
    assert d.dtype == np.float32
    np.testing.assert_array_equal(d, [[63, 63, 45], [84, np.nan, 63], [45, 45, 63]])
    np.testing.assert_array_equal(density(LC, table, "soil", nodata=0)[0], [50, 50, 40])
    np.testing.assert_allclose(stock(LC, UTM30, table, nodata=0), d * 0.09, rtol=1e-6)
    # unmapped codes: NaN, or zero on request
    lc = LC.copy()
    lc[0, 0] = 9
    assert np.isnan(density(lc, table, nodata=0)[0, 0])
    assert density(lc, table, nodata=0, missing="zero")[0, 0] == 0
    assert np.isnan(density(lc, table, nodata=0, missing="zero")[1, 1])  # nodata stays NaN


def test_dask_and_xarray_inputs(table) -> None:
    import xarray as xr

    lazy = da.from_array(LC, chunks=2)
    d = density(lazy, table, nodata=0)
    assert isinstance(d, da.Array)
    np.testing.assert_array_equal(d.compute(), density(LC, table, nodata=0))
    xa = xr.DataArray(lazy, dims=("y", "x"), coords={"y": [3, 2, 1], "x": [1, 2, 3]})
    dx = density(xa, table, nodata=0)
    assert dx.attrs["units"] == "Mg C/ha" and list(dx.y.values) == [3, 2, 1]
    assert class_areas_ha(xa, UTM30, nodata=0).pixels.tolist() == [4, 3, 1]
    delayed = class_areas_ha(lazy, UTM30, nodata=0, compute=False)
    assert delayed.compute().pixels.tolist() == [4, 3, 1]


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64])
def test_integer_types(table, dtype) -> None:
    lc = LC.astype(dtype)
    for arr in (lc, da.from_array(lc, chunks=2)):
        assert stock_totals(class_areas_ha(arr, UTM30, nodata=0), table).stock_mg_c["total"] == pytest.approx(42.39)
        np.testing.assert_array_equal(np.asarray(density(arr, table, nodata=0)), density(LC, table, nodata=0))


def test_negative_and_large_codes() -> None:
    t = load_table({"classes": {-5: {"above": 1, "below": 0, "soil": 0, "dead": 0},
                                300: {"above": 3, "below": 0, "soil": 0, "dead": 0}}})
    lc = np.array([[-5, 300], [-5, -1]], dtype=np.int16)
    np.testing.assert_array_equal(density(lc, t, nodata=-1), [[1, 3], [1, np.nan]])
    a = class_areas_ha(lc, UTM30.subgrid(rasterio.windows.Window(0, 0, 2, 2)), nodata=-1)
    assert a.codes.tolist() == [-5, 300] and a.pixels.tolist() == [2, 1]


def test_missing_codes_are_listed(table) -> None:
    lc = LC.copy()
    lc[0, :] = 7
    lc[2, 2] = 9
    areas = class_areas_ha(lc, UTM30, nodata=0)
    with pytest.raises(CoefficientError, match=r"lc\.tif: land-cover codes missing .*: 7 \(3 px\), 9 \(1 px\)"):
        stock_totals(areas, table, label="lc.tif")
    zero = stock_totals(areas, table, missing="zero")
    assert zero.missing_pixels == {7: 3, 9: 1}
    assert zero.stock_mg_c["total"] == pytest.approx(0.09 * (84 + 63 + 2 * 45))


def test_layers_and_change(table, tmp_path: Path) -> None:
    layers = stock_layers(LC, UTM30, table, out_dir=tmp_path, suffix="_2020", nodata=0)
    names = [p.path.name for p in layers]
    assert names == ["carbon_density_above_2020.tif", "carbon_density_below_2020.tif", "carbon_density_soil_2020.tif",
                     "carbon_density_dead_2020.tif", "carbon_density_total_2020.tif", "carbon_stock_total_2020.tif"]
    assert all(isinstance(lay.data, LazyLayer) for lay in layers)
    np.testing.assert_array_equal(layers[4].data[1:, :2], [[84, np.nan], [45, 45]])
    alt = np.where(LC == 1, 2, LC).astype(np.uint8)
    ch = change_layers(LC, alt, UTM30, table, out_dir=tmp_path, nodata=(0, 0))
    dch = np.asarray(ch[0].data)
    assert dch[0, 0] == 45 - 63 and dch[1, 0] == 0 and np.isnan(dch[1, 1])
    np.testing.assert_allclose(np.asarray(ch[1].data), dch * 0.09, rtol=1e-6)
    # dask land cover gives dask layers with the same values
    dl = stock_layers(da.from_array(LC, chunks=2), UTM30, table, nodata=0, pools=())
    assert len(dl) == 2 and isinstance(dl[0].data, da.Array)
    np.testing.assert_array_equal(dl[0].data.compute(), np.asarray(layers[4].data))
    # a LazyLayer can be chunked by dask
    np.testing.assert_array_equal(da.from_array(layers[4].data, chunks=2).compute(), np.asarray(layers[4].data))


@pytest.mark.parametrize("lazy", [False, True])
def test_write_rasters_of_carbon_layers(table, tmp_path: Path, lazy: bool) -> None:
    from rio_cogeo.cogeo import cog_validate

    lc = np.tile(LC, (300, 300))  # 900 x 900: gets overviews
    grid = Grid(UTM30.crs, UTM30.transform, 900, 900)
    data = da.from_array(lc, chunks=256) if lazy else lc
    layers = stock_layers(data, grid, table, out_dir=tmp_path / "out", nodata=0, pools=())
    paths = write_rasters(layers, grid, overwrite=False)
    for p in paths:
        assert cog_validate(str(p), quiet=True)[0]
    with rasterio.open(paths[1]) as ds:
        assert ds.tags()["units"] == "Mg C per pixel" and ds.overviews(1)
        np.testing.assert_allclose(ds.read(1)[:3, :3], np.asarray(stock(LC, UTM30, table, nodata=0)), rtol=1e-6)
    with pytest.raises(OutputExistsError):
        write_rasters(layers, grid, overwrite=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["carbon_density_total.tif", "carbon_stock_total.tif"]


# -- property: totals = Σ class area × density, independent of chunking ------------------
@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    shape=st.tuples(st.integers(1, 23), st.integers(1, 23)),
    geographic=st.booleans(),
)
def test_total_is_class_area_times_density_for_any_chunks(data, shape, geographic) -> None:
    t = china_table()
    lc = np.asarray(data.draw(st.lists(st.integers(0, 8), min_size=shape[0] * shape[1],
                                        max_size=shape[0] * shape[1])), dtype=np.uint8).reshape(shape)
    grid = (Grid(CRS.from_epsg(4326), Affine(0.5, 0, 100, 0, -0.5, 50), shape[1], shape[0]) if geographic
            else Grid(CRS.from_epsg(32650), Affine(10, 0, 0, 0, -10, 0), shape[1], shape[0]))
    rows = row_area_ha(grid)
    # brute force: every pixel's area × its class density
    want = sum(rows[r] * t.density(int(lc[r, c])) for r in range(shape[0]) for c in range(shape[1]) if lc[r, c])
    ref = stock_totals(class_areas_ha(lc, grid, nodata=0), t).stock_mg_c["total"]
    assert ref == pytest.approx(want, rel=1e-12, abs=1e-9)
    chunks = (data.draw(st.integers(1, shape[0])), data.draw(st.integers(1, shape[1])))
    got = stock_totals(class_areas_ha(da.from_array(lc, chunks=chunks), grid, nodata=0), t).stock_mg_c["total"]
    if geographic:
        assert got == pytest.approx(ref, rel=1e-14, abs=1e-9)
    else:
        assert got == ref  # exact: integer counts × area × density


# -- reading ---------------------------------------------------------------------------
def test_open_landcover_checks(make_tile, tmp_path: Path) -> None:
    good = make_tile("lc.tif", LC, nodata=0)
    lc = open_landcover(good)
    assert lc.nodata == 0 and lc.grid.shape == (3, 3) and isinstance(lc.data, np.ndarray)
    lazy = open_landcover(good, in_memory=False, chunks=2)
    np.testing.assert_array_equal(lazy.data.compute(), LC)
    with pytest.raises(BandMismatchError, match="integer raster, found float32"):
        open_landcover(make_tile("f.tif", np.array([[1, np.nan], [2, 3]], dtype=np.float32), nodata=None))
    with pytest.raises(TileReadError, match="missing.tif"):
        open_landcover(tmp_path / "missing.tif")
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"not a tiff at all")
    with pytest.raises(TileReadError, match="junk.tif"):
        open_landcover(junk)
    shifted = make_tile("shifted.tif", LC, x0=500005.0)
    with pytest.raises(GridMismatchError, match=r"pass align=True to warp it"):  # the CLI says --align
        open_landcover(shifted, grid=lc.grid)


@pytest.mark.parametrize("in_memory", [True, False])
def test_align_warps_with_nearest(make_tile, in_memory: bool) -> None:
    base = open_landcover(make_tile("base.tif", np.ones((4, 4), np.uint8), res=10))
    # the same classes at 5 m resolution: nearest neighbour onto 10 m picks the right class
    fine = np.kron(np.array([[1, 2], [3, 1]], np.uint8), np.ones((4, 4), np.uint8))
    alt = open_landcover(make_tile("fine.tif", fine, res=5), grid=base.grid, align=True, in_memory=in_memory,
                         chunks=2)
    got = np.asarray(alt.data if in_memory else alt.data.compute())
    np.testing.assert_array_equal(got, np.kron(np.array([[1, 2], [3, 1]]), np.ones((2, 2))))
    assert alt.warped
