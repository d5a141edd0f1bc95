"""Rule-based classification, Otsu thresholds, coastal zone, minimum mapping unit, `sinks classify`."""

from __future__ import annotations

import pickle

import dask.array as da
import numpy as np
import pytest
import rasterio
import xarray as xr

from sinks.classify import classify
from sinks.classify.mmu import min_pixels, sieve_block, sieve_mmu
from sinks.classify.rules import classify_block, load_rules
from sinks.classify.thresholds import otsu
from sinks.cli import main
from sinks.errors import ConfigError
from sinks.grid import Grid
from sinks.landcover import CODES

ROLES = ["blue", "green", "red", "nir", "swir1", "swir2"]
UTM49 = rasterio.crs.CRS.from_epsg(32649)
# typical published surface reflectance (dry season, growing season) per class, bands as ROLES
SPEC = {
    "forest": ([0.03, 0.055, 0.035, 0.30, 0.15, 0.065], [0.028, 0.058, 0.032, 0.33, 0.155, 0.065]),
    "grassland": ([0.06, 0.085, 0.09, 0.18, 0.25, 0.17], [0.045, 0.08, 0.08, 0.26, 0.23, 0.135]),
    "wetland": ([0.06, 0.08, 0.065, 0.085, 0.045, 0.025], [0.035, 0.07, 0.045, 0.26, 0.14, 0.065]),
    "mangrove": ([0.025, 0.043, 0.03, 0.26, 0.09, 0.037], [0.024, 0.045, 0.028, 0.285, 0.092, 0.038]),
    "water": ([0.075, 0.09, 0.07, 0.03, 0.012, 0.008], [0.08, 0.095, 0.075, 0.035, 0.012, 0.008]),
    "cropland": ([0.09, 0.12, 0.15, 0.21, 0.29, 0.235], [0.035, 0.075, 0.045, 0.38, 0.22, 0.105]),
    "built_up": ([0.12, 0.13, 0.14, 0.195, 0.25, 0.225], [0.12, 0.132, 0.142, 0.2, 0.255, 0.228]),
    "bare": ([0.17, 0.21, 0.26, 0.30, 0.36, 0.31], [0.17, 0.21, 0.26, 0.30, 0.36, 0.31]),
}
NAMES = list(SPEC)
GRID = Grid.from_bounds((500000, 2399920, 500080, 2400000), 10, "EPSG:32649")  # 8 x 8


def _scenes(layout: np.ndarray, *, chunks: int = 4) -> list[xr.DataArray]:
    out = []
    for season in (0, 1):
        arr = np.zeros((6, *layout.shape), np.float32)
        for k, name in enumerate(NAMES):
            arr[:, layout == k] = np.array(SPEC[name][season], np.float32)[:, None]
        out.append(xr.DataArray(da.from_array(arr, chunks=(6, chunks, chunks)), dims=("band", "y", "x"),
                                coords={"band": ROLES}))
    return out


def test_otsu_splits_a_bimodal_histogram():
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.normal(-0.4, 0.05, 5000), rng.normal(0.6, 0.05, 3000)])
    t = otsu(v)
    assert -0.2 < t < 0.4
    assert otsu(np.array([1.0])) is None


def test_each_class_from_its_spectra_and_nodata():
    layout = np.repeat(np.arange(8), 8).reshape(8, 8)  # one class per row
    scenes = _scenes(layout)
    from shapely.geometry import box

    everywhere = box(*GRID.bounds)
    res = classify(scenes, grid=GRID, coastal=everywhere, wetland=everywhere, mmu_ha={}, chunks=4)
    lc = res.landcover.compute()
    expect = np.array([CODES[n] for n in NAMES])[layout]
    np.testing.assert_array_equal(lc, expect)
    assert res.method == "rules" and res.coastal_source == "polygon"
    # mangrove outside the coastal zone is not mangrove; a marsh flooded on one date only is
    # wetland inside a wetland layer, not without one; NaN everywhere -> nodata
    res2 = classify(scenes, grid=GRID, coastal=box(0, 0, 1, 1), mmu_ha={}, chunks=4)
    lc2 = res2.landcover.compute()
    assert CODES["mangrove"] not in np.unique(lc2) and CODES["wetland"] not in np.unique(lc2)
    assert (lc2[layout == NAMES.index("mangrove")] == CODES["forest"]).all()
    nan = [s.where(False) for s in scenes]
    lc3 = classify_block(np.stack([s.values for s in nan]), cfg=load_rules(), mndwi_t=0.0, mvi_t=4.5, coastal=None)
    assert (lc3 == 0).all()


def test_one_clear_acquisition_is_enough_and_cloud_is_not_counted():
    layout = np.full((8, 8), NAMES.index("forest"))
    scenes = _scenes(layout)
    dry = scenes[0].values.copy()
    dry[:, :4] = np.nan          # top half missing in the dry season
    dry[:, 4:, :2] = np.array(CLOUD, np.float32)[:, None, None]   # a bright cloud in the dry season
    stack = np.stack([dry, scenes[1].values])
    lc = classify_block(stack, cfg=load_rules(), mndwi_t=0.0, mvi_t=4.5, coastal=None)
    assert (lc == CODES["forest"]).all()


# Surfaces the old rules got wrong, as typical surface reflectance (blue, green, red, nir, swir1, swir2)
CLOUD = (0.55, 0.55, 0.56, 0.60, 0.45, 0.35)
CASES = {
    # deciduous forest: leaf-on, and leaf-off (NDVI 0.33: a swing of 0.5, dark, no bare soil)
    "deciduous": ([(0.03, 0.06, 0.035, 0.38, 0.165, 0.075), (0.05, 0.07, 0.085, 0.17, 0.18, 0.12)], "forest"),
    # sparse forest: max NDVI 0.55, canopy dark in SWIR
    "sparse_forest": ([(0.04, 0.065, 0.06, 0.21, 0.16, 0.075)], "forest"),
    # paddy: flooded at transplanting, then a green crop
    "paddy": ([(0.07, 0.09, 0.07, 0.06, 0.03, 0.02), (0.035, 0.075, 0.045, 0.38, 0.22, 0.105)], "cropland"),
    # a marsh flooded twice and green once is wetland without any layer
    "marsh": ([(0.06, 0.08, 0.065, 0.085, 0.045, 0.025), (0.06, 0.08, 0.065, 0.09, 0.05, 0.03),
               (0.035, 0.07, 0.045, 0.26, 0.14, 0.065)], "wetland"),
    # winter terrain shadow (dark in every band) over grassland
    "shadowed_grass": ([(0.02, 0.025, 0.02, 0.05, 0.03, 0.02), (0.045, 0.08, 0.08, 0.26, 0.23, 0.135)], "grassland"),
    # bright sand: blue above 0.2, but red well above blue (not cloud), not grey (not built-up)
    "sand": ([(0.22, 0.27, 0.33, 0.38, 0.45, 0.38)], "bare"),
    # dense urban: unvegetated, grey, SWIR1 > NIR: built-up before bare
    "dense_urban": ([(0.14, 0.145, 0.15, 0.17, 0.22, 0.2), (0.13, 0.14, 0.145, 0.165, 0.21, 0.19)], "built_up"),
    # snow in winter over evergreen forest; permanent snow is bare
    "snowy_forest": ([(0.8, 0.85, 0.82, 0.75, 0.1, 0.08), (0.028, 0.058, 0.032, 0.33, 0.155, 0.065)], "forest"),
    "glacier": ([(0.8, 0.85, 0.82, 0.75, 0.1, 0.08)], "bare"),
    # a cloud on one date does not count; a vigorous crop on the one clear date is cropland
    "clouded_crop": ([CLOUD, (0.035, 0.075, 0.045, 0.38, 0.22, 0.105)], "cropland"),
    "lake": ([(0.075, 0.09, 0.07, 0.03, 0.012, 0.008)], "water"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_surfaces_the_rules_must_get_right(case):
    obs, want = CASES[case]
    stack = np.stack([np.broadcast_to(np.array(o, np.float32)[:, None, None], (6, 2, 3)) for o in obs])
    lc = classify_block(stack, cfg=load_rules(), mndwi_t=0.0, mvi_t=4.5, coastal=np.ones((2, 3), bool))
    assert (lc == CODES[want]).all(), f"{case}: {lc[0, 0]} instead of {CODES[want]}"


def test_single_date_classes_from_the_growing_season_alone():
    layout = np.repeat(np.arange(8), 8).reshape(8, 8)
    aug = _scenes(layout)[1].values
    lc = classify_block(aug[None], cfg=load_rules(), mndwi_t=0.0, mvi_t=4.5, coastal=np.ones((8, 8), bool))
    for k, name in enumerate(NAMES):
        want = {"wetland": "forest"}.get(name, name)   # a green marsh on one date is a dark canopy
        assert (lc[layout == k] == CODES[want]).all(), name


def test_mangrove_threshold_is_the_floor_unless_the_histogram_is_bimodal():
    from sinks.classify import _mangrove_threshold

    cfg = load_rules()
    rng = np.random.default_rng(0)
    inland = rng.normal(4.9, 0.4, 5000)               # a tropical forest canopy (TOA): unimodal around 5
    assert _mangrove_threshold(inland, cfg) == (4.5, "floor")
    coast = np.concatenate([rng.normal(2.2, 0.3, 8000), rng.normal(7.5, 0.8, 2000)])
    t, how = _mangrove_threshold(coast, cfg)
    assert how == "otsu" and 4.5 < t < 6.5
    low = np.concatenate([rng.normal(1.5, 0.2, 8000), rng.normal(3.5, 0.3, 2000)])   # a split below the floor
    assert _mangrove_threshold(low, cfg) == (4.5, "floor")


def test_derived_coastal_zone_needs_sea_and_mangrove_latitudes():
    from affine import Affine

    from sinks.classify.coastal import derive_coarse_zone

    water = np.zeros((50, 50), bool)
    water[30:, :] = True                                   # sea along the southern edge, 40 % of the scene
    tropics = Grid(UTM49, Affine(100, 0, 400000, 0, -100, 2400000), 50, 50)       # 21.7 N
    zone, why = derive_coarse_zone(water, tropics, buffer_m=1000)
    assert why is None and zone[20:30].all() and not zone[:15].any()
    north = Grid(rasterio.crs.CRS.from_epsg(32633), Affine(100, 0, 460000, 0, -100, 5080000), 50, 50)  # 45.9 N
    zone, why = derive_coarse_zone(water, north, buffer_m=1000)
    assert not zone.any() and "mangrove latitudes" in why
    lake = np.zeros((50, 50), bool)
    lake[20:27, 10:50] = True                              # a reservoir arm reaching the edge: 11 %
    zone, why = derive_coarse_zone(lake, tropics, buffer_m=1000)
    assert not zone.any() and "no sea" in why


def test_coastline_lines_are_buffered_into_a_zone():
    from shapely.geometry import LineString

    from sinks.classify.coastal import coarse_polygon_mask

    line = LineString([(500000, 2399960), (500080, 2399960)])       # across the 8 x 8 grid, row 4
    zone = coarse_polygon_mask(line, GRID, buffer_m=15)
    assert zone[2:6].all() and not zone[:2].any() and not zone[6:].any()


@pytest.mark.parametrize("chunks", [4, 3, 8])
def test_polygon_masks_skip_rasterizing_blocks_wholly_in_or_out(chunks, monkeypatch):
    """Blocks the polygon covers or misses are filled without GDAL; blocks its edge (or a
    hole's) crosses are rasterized; the mask equals one rasterization of the whole grid."""
    from rasterio.features import geometry_mask
    from shapely.geometry import Polygon

    import sinks.grid as grid_mod

    big = Grid.from_bounds((500000, 2399840, 500160, 2400000), 10, "EPSG:32649")  # 16 x 16
    shell = [(500000, 2399840), (500085, 2399840), (500085, 2400000), (500000, 2400000)]
    hole = [(500020, 2399960), (500040, 2399960), (500040, 2399980), (500020, 2399980)]
    geom = Polygon(shell, [hole])
    calls = []
    real = grid_mod._block_within
    monkeypatch.setattr(grid_mod, "_block_within", lambda g, sub: calls.append(real(g, sub)) or calls[-1])
    got = grid_mod.region_mask(big, geom, chunks=chunks).compute(scheduler="synchronous")
    want = ~geometry_mask([geom], out_shape=big.shape, transform=big.transform)
    assert np.array_equal(got, want)
    assert got[:, :8].sum() > 0 and not got[:, 9:].any() and not got[2:4, 2:4].any()  # shell, outside, hole
    if chunks == 4:  # 16 blocks: the 4 right ones outside, 4 the shell's edge crosses, 1 the hole's
        assert calls.count(False) == 4 and calls.count(None) == 4 + 1 and calls.count(True) == 7


def test_rules_override_and_unknown_key(tmp_path):
    cfg = load_rules({"forest": {"min_ndvi": 0.9}})
    assert cfg.forest.min_ndvi == 0.9 and cfg.water.min_frequency == 0.75
    p = tmp_path / "r.yaml"
    p.write_text("forest: {min_ndiv: 0.7}\n")
    with pytest.raises(ConfigError, match="forest.min_ndiv: unknown key"):
        load_rules(p)


def test_mmu_one_mu_is_seven_pixels_eight_connected():
    assert min_pixels(0.0667, GRID) == 7
    a = np.full((12, 12), CODES["grassland"], np.uint8)
    a[1:3, 1:4] = CODES["forest"]            # 6 px: removed
    a[6:8, 6:9] = CODES["forest"]            # 6 px ...
    a[8, 9] = CODES["forest"]                # ... + 1 diagonal neighbour = 7 px: kept
    out = sieve_block(a, {CODES["forest"]: 7})
    assert (out[1:3, 1:4] == CODES["grassland"]).all()
    assert (out[6:8, 6:9] == CODES["forest"]).all() and out[8, 9] == CODES["forest"]


def test_mmu_does_not_depend_on_chunks():
    rng = np.random.default_rng(1)
    a = rng.choice([CODES["forest"], CODES["grassland"], CODES["cropland"]], size=(64, 64), p=[0.3, 0.5, 0.2])
    a = a.astype(np.uint8)
    g = Grid.from_bounds((0, 0, 640, 640), 10, "EPSG:32649")
    ref = sieve_mmu(a, g, {"forest": 0.0667})
    for c in (16, 23, 64):
        got = sieve_mmu(da.from_array(a, chunks=c), g, {"forest": 0.0667}).compute()
        np.testing.assert_array_equal(got, ref)


def _tile(make_tile, name, layout, season, **kw):
    arr = np.zeros((6, *layout.shape), np.uint16)
    for k, n in enumerate(NAMES):
        arr[:, layout == k] = (np.array(SPEC[n][season]) * 10000).astype(np.uint16)[:, None]
    return make_tile(name, arr, **kw)


def test_classify_cli_end_to_end(make_tile, tmp_path, capsys):
    layout = np.kron(np.arange(8).reshape(8, 1), np.ones((4, 32), int)).astype(int)  # 32 x 32, 8 bands of rows
    t0 = _tile(make_tile, "jan.tif", layout, 0, descriptions=["B02", "B03", "B04", "B08", "B11", "B12"])
    t1 = _tile(make_tile, "aug.tif", layout, 1, descriptions=["B02", "B03", "B04", "B08", "B11", "B12"])
    out = tmp_path / "lc.tif"
    import geopandas as gpd
    from shapely.geometry import box

    marsh = tmp_path / "wetlands.gpkg"   # a wetland layer over the marsh rows
    gpd.GeoDataFrame({"name": ["marsh"]}, geometry=[box(500000, 2400000 - 12 * 10, 500320, 2400000 - 8 * 10)],
                     crs="EPSG:32649").to_file(marsh)
    with pytest.raises(SystemExit) as ei:
        main(["classify", str(t0), str(t1), "-o", str(out), "--sensor", "sentinel2_l2a_pre2022", "--mmu", "none",
              "--wetlands", str(marsh)])
    assert ei.value.code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "nodata" in printed and "wetland" in printed
    with rasterio.open(out) as ds:
        lc = ds.read(1)
        assert ds.dtypes[0] == "uint8" and ds.nodata == 0 and ds.colormap(1)[CODES["forest"]][:3] == (0, 100, 0)
    expect = np.array([CODES[n] for n in NAMES])[layout]
    ok = lc[expect != CODES["mangrove"]] == expect[expect != CODES["mangrove"]]
    assert ok.mean() > 0.95  # no sea here, so no derived coastal zone: mangrove rows fall to forest
    # refuses to overwrite; bad --bands; text file named .tif
    with pytest.raises(SystemExit) as ei:
        main(["classify", str(t0), "-o", str(out), "--sensor", "sentinel2_l2a"])
    assert ei.value.code == 2
    with pytest.raises(SystemExit) as ei:
        main(["classify", str(t0), "-o", str(tmp_path / "x.tif"), "--bands", "blue,green,red,nir,swir1"])
    assert ei.value.code == 2 and "--bands names 5 band(s)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as ei:  # digital numbers without --scale: refused, not all-cloud nodata
        main(["classify", str(t0), "-o", str(tmp_path / "x.tif"), "--bands", "blue,green,red,nir,swir1,swir2"])
    assert ei.value.code == 2 and "--scale" in capsys.readouterr().err
    with pytest.raises(SystemExit) as ei:
        main(["classify", str(t0), "-o", str(tmp_path / "x.tif"), "--bands", "blue,green,red,nir,swir1,purple"])
    assert ei.value.code == 2 and "purple" in capsys.readouterr().err
    txt = tmp_path / "notes.tif"
    txt.write_text("not a raster")
    with pytest.raises(SystemExit) as ei:
        main(["classify", str(txt), "-o", str(tmp_path / "y.tif")])
    assert ei.value.code == 2 and "notes.tif" in capsys.readouterr().err
    assert not (tmp_path / "x.tif").exists() and not (tmp_path / "y.tif").exists()


def test_pickle_model_is_refused_without_unpickling(make_tile, tmp_path, capsys):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    bad = tmp_path / "model.pkl"
    bad.write_bytes(pickle.dumps(Evil()))
    t0 = _tile(make_tile, "a.tif", np.zeros((16, 16), int), 1)
    with pytest.raises(SystemExit) as ei:
        main(["classify", str(t0), "-o", str(tmp_path / "o.tif"), "--model", str(bad), "--sensor", "sentinel2_l2a"])
    assert ei.value.code == 2
    assert "model" in capsys.readouterr().err.lower()
    assert not marker.exists()


def test_coastal_zone_lands_on_a_region_of_the_scene():
    """A zone derived on the scene's coarse sample grid maps onto any window of the scene by coordinates."""
    from affine import Affine

    from sinks.classify.coastal import upsample_mask
    from sinks.grid import Grid

    scene = Grid(UTM49, Affine(10, 0, 500000, 0, -10, 2400000), 40, 30)
    coarse_grid = Grid(UTM49, scene.transform * Affine.scale(4), 10, 8)   # factor 4, last row partial
    coarse = np.random.default_rng(1).random((8, 10)) < 0.5
    whole = upsample_mask(coarse, coarse_grid, scene, chunks=16).compute()
    np.testing.assert_array_equal(whole, np.kron(coarse, np.ones((4, 4), bool))[:30, :40])
    region = Grid(UTM49, scene.transform * Affine.translation(7, 5), 20, 13)
    part = upsample_mask(coarse, coarse_grid, region, chunks=8).compute()
    np.testing.assert_array_equal(part, whole[5:18, 7:27])
    beyond = Grid(UTM49, scene.transform * Affine.translation(35, -3), 10, 6)      # partly off the sample
    out = upsample_mask(coarse, coarse_grid, beyond, chunks=8).compute()
    assert not out[:3].any() and not out[:, 5:].any()
    np.testing.assert_array_equal(out[3:, :5], whole[0:3, 35:40])


def test_sieve_of_a_map_smaller_than_its_halo():
    """A 3 x 2 map (a tiny batch region) is sieved in one block rather than failing on the halo."""
    from affine import Affine

    grid = Grid(UTM49, Affine(10, 0, 500000, 0, -10, 2400000), 2, 3)
    lc = np.array([[1, 2], [2, 2], [2, 2]], np.uint8)
    out = sieve_mmu(da.from_array(lc, chunks=1), grid, {"forest": 0.0667}).compute()
    np.testing.assert_array_equal(out, np.full((3, 2), 2, np.uint8))   # the lone forest pixel goes
