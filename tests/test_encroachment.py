"""Encroachment patches inside redlines on a hand-drawn 10 × 10 pair of land-cover maps.

Legend: F forest, G grassland, C cropland, B built-up; 10 m pixels (0.01 ha), origin (X0, Y0).
Hand-drawn changes (row, col):

* L-shape forest -> built-up at (3,3) (3,4) (4,4): 3 px = 0.03 ha, one patch whatever the window size;
* forest -> built-up on row 1, cols 3..7, of which only cols 3..5 have their centre in R1 (x < 64 m);
* forest -> cropland at (7,1) and (8,2): one 8-connected patch of 2 px, two 4-connected patches;
* cropland -> built-up on row 9 (not ecological land: ignored), forest -> grassland at (0,0) (eco -> eco:
  ignored), nodata at (5,0) in the first map (ignored).
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from sinks.area import row_area_ha
from sinks.encroachment import encroachment_summary, find_encroachment, summary_table, write_patches
from sinks.errors import ConfigError, GridMismatchError, OutputExistsError, VectorError
from sinks.grid import Grid
from sinks.landcover import CODES

X0, Y0 = 500000.0, 2400000.0
F, G, C, B = CODES["forest"], CODES["grassland"], CODES["cropland"], CODES["built_up"]


@pytest.fixture
def pair(make_tile):
    a = np.full((10, 10), F, np.uint8)
    a[9, :] = C
    a[5, 0] = 0
    b = a.copy()
    b[3, 3] = b[3, 4] = b[4, 4] = B
    b[1, 3:8] = B
    b[7, 1] = b[8, 2] = C
    b[9, 0:3] = B
    b[0, 0] = G
    b[5, 0] = B
    return make_tile("lc1.tif", a), make_tile("lc2.tif", b)


@pytest.fixture
def redlines():
    return gpd.GeoDataFrame({"rid": ["R1", "R2", "R3"]}, crs="EPSG:32649",
                            geometry=[box(X0, Y0 - 100, X0 + 64, Y0),             # cols 0..5 by pixel centre
                                      box(X0 + 25, Y0 - 50, X0 + 50, Y0 - 25),    # rows 3-4, cols 3-4
                                      box(X0 + 90, Y0 - 20, X0 + 100, Y0)])       # untouched


def _rows(p):
    return sorted((r.rid, r.from_class, r.to_class, r.pixels, round(r.area_ha, 9)) for r in p.itertuples())


def test_patches_by_hand(pair, redlines):
    p = find_encroachment(*pair, redlines, id_field="rid", min_patch_ha=0.0)
    assert list(p.columns) == ["patch_id", "rid", "from_class", "to_class", "area_ha", "pixels", "lon", "lat",
                               "geometry"]
    assert _rows(p) == [("R1", "forest", "built_up", 3, 0.03),      # L-shape
                        ("R1", "forest", "built_up", 3, 0.03),      # row 1: inside part only
                        ("R1", "forest", "cropland", 2, 0.02),      # diagonal pair, 8-connected
                        ("R2", "forest", "built_up", 3, 0.03)]      # overlapping redline gets the L too
    assert list(p["patch_id"]) == ["P00001", "P00002", "P00003", "P00004"]
    lshape = p[(p.rid == "R2")].geometry.iloc[0]
    assert lshape.area == pytest.approx(300.0) and lshape.bounds == (X0 + 30, Y0 - 50, X0 + 50, Y0 - 30)
    row1 = p[(p.rid == "R1") & (p.geometry.bounds.maxy == Y0 - 10)].geometry.iloc[0]
    assert row1.bounds == (X0 + 30, Y0 - 20, X0 + 60, Y0 - 10)      # not to x+64 (no all_touched)
    assert p.crs.to_epsg() == 32649 and set(p.geom_type) == {"MultiPolygon"} and p.is_valid.all()
    # UTM 49N at easting 500 000: the central meridian, 111 E; northing 2 400 km ~ 21.7 N
    assert p["lon"].between(111.0, 111.001).all() and p["lat"].between(21.69, 21.71).all()


def test_min_size_and_connectivity(pair, redlines):
    big = find_encroachment(*pair, redlines, id_field="rid", min_patch_ha=0.025)
    assert sorted(big["pixels"]) == [3, 3, 3]                       # the 2-px patch is dropped
    four = find_encroachment(*pair, redlines, id_field="rid", min_patch_ha=0.0, connectivity=4)
    crop = four[four.to_class == "cropland"]
    assert sorted(crop["pixels"]) == [1, 1]
    assert find_encroachment(*pair, redlines, id_field="rid", min_patch_ha=1.0).empty


@pytest.mark.parametrize("connectivity", [8, 4])
def test_window_size_does_not_matter(pair, redlines, connectivity):
    ref = find_encroachment(*pair, redlines, id_field="rid", min_patch_ha=0.0, connectivity=connectivity)
    for chunks in (1, 2, 3, 4):
        p = find_encroachment(*pair, redlines, id_field="rid", min_patch_ha=0.0, connectivity=connectivity,
                              chunks=chunks)
        assert _rows(p) == _rows(ref), chunks
        assert list(p["patch_id"]) == list(ref["patch_id"])
        for g1, g2 in zip(p.geometry, ref.geometry):
            assert g1.equals(g2), chunks
        np.testing.assert_allclose(p[["lon", "lat"]].to_numpy(), ref[["lon", "lat"]].to_numpy())


@pytest.mark.parametrize("flip", [False, True])
def test_joins_across_window_sides_and_corners(make_tile, flip):
    """Pieces meeting across a window's side, and (8-connected) diagonally across its
    corner in both directions, are one patch; 4-connected, the diagonal ones are not."""
    a = np.full((8, 8), F, np.uint8)
    b = a.copy()
    b[1, 1] = b[2, 2] = B          # down-right diagonal across the corner of 2x2 windows
    b[1:3, 3:5] = C                # a square cut by a window side
    b[5, 6] = b[6, 5] = B          # down-left diagonal across a corner
    if flip:
        a, b = a[:, ::-1].copy(), b[:, ::-1].copy()
    lc1, lc2 = make_tile("j1.tif", a), make_tile("j2.tif", b)
    red = gpd.GeoDataFrame({"rid": ["all"]}, geometry=[box(X0, Y0 - 80, X0 + 80, Y0)], crs="EPSG:32649")
    for chunks in (1, 2, 3):
        eight = find_encroachment(lc1, lc2, red, id_field="rid", min_patch_ha=0.0, chunks=chunks)
        assert sorted(eight["pixels"]) == [2, 2, 4], chunks
        four = find_encroachment(lc1, lc2, red, id_field="rid", min_patch_ha=0.0, chunks=chunks, connectivity=4)
        assert sorted(four["pixels"]) == [1, 1, 1, 1, 4], chunks


def test_geographic_grid_area_per_row(make_tile):
    a = np.full((6, 6), F, np.uint8)
    b = a.copy()
    b[1, 1] = b[1, 2] = b[2, 2] = B
    lc1 = make_tile("g1.tif", a, x0=110.0, y0=22.0, res=0.001, crs="EPSG:4326")
    lc2 = make_tile("g2.tif", b, x0=110.0, y0=22.0, res=0.001, crs="EPSG:4326")
    red = gpd.GeoDataFrame({"rid": [7]}, crs="EPSG:4326", geometry=[box(110.0, 21.994, 110.006, 22.0)])
    with __import__("rasterio").open(lc1) as ds:
        ra = row_area_ha(Grid.from_dataset(ds))
    assert ra[1] != ra[2]
    for chunks in (2, 64):
        p = find_encroachment(lc1, lc2, red, id_field="rid", min_patch_ha=0.0, chunks=chunks)
        assert len(p) == 1 and p["pixels"].iloc[0] == 3 and p["rid"].iloc[0] == 7
        assert p["area_ha"].iloc[0] == pytest.approx(2 * ra[1] + ra[2], rel=1e-12)
        assert p["lon"].iloc[0] == pytest.approx(110.0 + 0.001 * (1.5 + 2.5 + 2.5) / 3, abs=1e-6)


def test_summary_and_gpkg(pair, redlines, tmp_path):
    p = find_encroachment(*pair, redlines, id_field="rid", min_patch_ha=0.025)
    s = encroachment_summary(p, redlines, id_field="rid")
    assert s["patches"] == 3 and s["area_ha"] == pytest.approx(0.09)
    assert s["by_redline"]["R1"]["patches"] == 2 and s["by_redline"]["R1"]["area_ha"] == pytest.approx(0.06)
    assert s["by_redline"]["R3"] == {"patches": 0, "area_ha": 0.0, "by_transition": {}}
    assert s["by_transition"]["forest->built_up"]["patches"] == 3
    t = summary_table(p, redlines, id_field="rid")
    assert list(t["patches"]) == [2, 1, 0]
    path = write_patches(p, tmp_path / "encroachment_a_b.gpkg")
    back = gpd.read_file(path)
    assert list(back["patch_id"]) == list(p["patch_id"]) and back["area_ha"].sum() == pytest.approx(0.09)
    with pytest.raises(OutputExistsError):
        write_patches(p, path)
    empty = find_encroachment(*pair, redlines.iloc[[2]], id_field="rid")
    assert empty.empty and list(empty.columns) == list(p.columns)
    write_patches(empty, tmp_path / "empty.gpkg")
    assert encroachment_summary(empty, redlines, id_field="rid")["area_ha"] == 0.0


def test_reprojected_redlines_and_bad_inputs(pair, redlines, make_tile):
    p = find_encroachment(*pair, redlines.to_crs("EPSG:4326"), id_field="rid", min_patch_ha=0.025)
    assert sorted(p["pixels"]) == [3, 3, 3]
    with pytest.raises(ConfigError, match="connectivity"):
        find_encroachment(*pair, redlines, id_field="rid", connectivity=6)
    with pytest.raises(VectorError, match="nope"):
        find_encroachment(*pair, redlines, id_field="nope")
    other = make_tile("other.tif", np.full((10, 10), F, np.uint8), x0=X0 + 10)
    with pytest.raises(GridMismatchError):
        find_encroachment(pair[0], other, redlines, id_field="rid")


def test_random_maps_valid_geometry_and_window_independent(make_tile, monkeypatch):
    """Noisy maps: every patch a valid MultiPolygon, areas and shapes equal for any window size."""
    rng = np.random.default_rng(11)
    a = rng.choice(np.array([F, G, C], np.uint8), size=(60, 70), p=[0.6, 0.3, 0.1])
    b = np.where(rng.random(a.shape) < 0.35, rng.choice(np.array([B, C], np.uint8), size=a.shape), a)
    lc1, lc2 = make_tile("n1.tif", a), make_tile("n2.tif", b.astype(np.uint8))
    red = gpd.GeoDataFrame({"rid": ["all"]}, crs="EPSG:32649", geometry=[box(X0, Y0 - 600, X0 + 700, Y0)])
    ref = find_encroachment(lc1, lc2, red, id_field="rid", min_patch_ha=0.0)
    assert len(ref) > 20 and ref.is_valid.all()
    assert ref["pixels"].sum() == int(((a == F) | (a == G)).__and__((b == B) | (b == C)).sum())
    for chunks in (7, 16, 33):
        p = find_encroachment(lc1, lc2, red, id_field="rid", min_patch_ha=0.0, chunks=chunks)
        assert p.is_valid.all() and _rows(p) == _rows(ref)
        assert all(g1.equals(g2) for g1, g2 in zip(p.geometry, ref.geometry))
    # patches spanning windows are drawn again from the rasters; too large ones are dissolved from their pieces
    import sinks.encroachment as enc

    monkeypatch.setattr(enc, "_REDRAW_MAX_PX", 0)
    p = find_encroachment(lc1, lc2, red, id_field="rid", min_patch_ha=0.0, chunks=7)
    assert p.is_valid.all() and _rows(p) == _rows(ref)
    assert all(g1.equals(g2) for g1, g2 in zip(p.geometry, ref.geometry))


def test_reading_the_written_change_map_gives_the_same_patches(pair, redlines, make_tile, tmp_path):
    """With ``change=`` the codes come from the change map instead of both land covers."""
    import rasterio

    from sinks.change import change_codes

    with rasterio.open(pair[0]) as a, rasterio.open(pair[1]) as b:
        codes = change_codes(a.read(1), b.read(1))
    change = make_tile("change.tif", codes)
    for chunks in (2, 64):
        ref = find_encroachment(*pair, redlines, id_field="rid", min_patch_ha=0.0, chunks=chunks)
        got = find_encroachment(*pair, redlines, id_field="rid", min_patch_ha=0.0, chunks=chunks, change=change)
        assert _rows(got) == _rows(ref)
        assert all(g1.equals(g2) for g1, g2 in zip(got.geometry, ref.geometry))
    other = make_tile("other.tif", codes[:5])
    with pytest.raises(GridMismatchError, match="other.tif"):
        find_encroachment(*pair, redlines, id_field="rid", change=other)


@pytest.mark.parametrize("outer_mb", [8, 64])
def test_search_caps_gdal_cache_and_gives_it_back(pair, redlines, monkeypatch, outer_mb):
    """The search reads under a small GDAL block cache (or the caller's, if smaller) and the
    caller's size is back afterwards, after an error too."""
    import rasterio
    from rasterio.env import get_gdal_config

    import sinks.encroachment as enc

    seen = []
    pieces = enc._window_pieces

    def spy(*args, **kwargs):
        seen.append(int(get_gdal_config("GDAL_CACHEMAX")))
        return pieces(*args, **kwargs)

    monkeypatch.setattr(enc, "_window_pieces", spy)
    with rasterio.Env(GDAL_CACHEMAX=outer_mb * 2**20):
        ref = find_encroachment(*pair, redlines, id_field="rid", min_patch_ha=0.0)
        assert int(get_gdal_config("GDAL_CACHEMAX")) == outer_mb * 2**20
        assert seen and set(seen) == {min(outer_mb, enc._SEARCH_CACHE_MB) * 2**20}

        def boom(*args, **kwargs):
            raise RuntimeError("boom")

        monkeypatch.setattr(enc, "_window_pieces", boom)
        with pytest.raises(RuntimeError):
            find_encroachment(*pair, redlines, id_field="rid")
        assert int(get_gdal_config("GDAL_CACHEMAX")) == outer_mb * 2**20
    assert len(ref) == 4


@pytest.fixture(scope="module")
def three_epochs(tmp_path_factory):
    from sinks.sampledata import write_sample_data

    data = tmp_path_factory.mktemp("enc3") / "scene"
    write_sample_data(data, size=256, seed=7)
    return data


def _run(spec, out):
    from sinks.cli import main

    with pytest.raises(SystemExit) as ei:
        main(["-q", "run", str(spec), "--out", str(out)])
    return ei.value.code


def test_period_searched_beside_the_next_pass_equals_the_search_at_the_end(three_epochs, tmp_path, monkeypatch):
    """The periods' patches, searched on threads (the first during the last pass, the last
    beside the stages after the passes), are those of the search at the end of the run, and
    the summary is the same."""
    import threading

    import sinks.pipeline as pipeline
    import sinks.stages.encroachment as stage

    started = set()
    real = stage.start_early_search

    def spy(ctx, k):
        real(ctx, k)
        started.update(ctx.early_encroachment)

    monkeypatch.setattr(pipeline, "start_early_search", spy)
    assert _run(three_epochs / "pipeline.yaml", tmp_path / "early") == 0
    assert started == {"2015_2020", "2020_2025"}
    assert not [t for t in threading.enumerate() if t.name.startswith("sinks-encroachment")]
    monkeypatch.setattr(pipeline, "start_early_search", lambda ctx, k: None)
    assert _run(three_epochs / "pipeline.yaml", tmp_path / "late") == 0
    early = json.loads((tmp_path / "early" / "summary.json").read_text())["encroachment"]
    late = json.loads((tmp_path / "late" / "summary.json").read_text())["encroachment"]
    assert early == late and early["2015_2020"]["patches"] > 0 and early["2020_2025"]["patches"] > 0
    for key in ("2015_2020", "2020_2025"):
        a = gpd.read_file(tmp_path / "early" / f"encroachment_{key}.gpkg")
        b = gpd.read_file(tmp_path / "late" / f"encroachment_{key}.gpkg")
        assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
        assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all()


def test_an_early_search_that_fails_fails_the_run_in_one_line(three_epochs, tmp_path, capsys, monkeypatch):
    import threading

    import sinks.stages.encroachment as stage
    from sinks.errors import VectorError

    real = stage._search

    def search(ctx, e1, e2, key):
        if threading.current_thread().name.startswith("sinks-encroachment"):
            raise VectorError(f"redlines: period {key} refused")
        return real(ctx, e1, e2, key)

    monkeypatch.setattr(stage, "_search", search)
    out = tmp_path / "run"
    assert _run(three_epochs / "pipeline.yaml", out) == 2
    err = capsys.readouterr().err
    assert err.strip() == "Error: redlines: period 2015_2020 refused"
    assert not (out / "summary.json").exists() and not list(out.glob("encroachment_*"))


@pytest.mark.parametrize("seed", range(6))
def test_window_pieces_of_a_mask_in_part_of_the_window_are_those_of_the_whole_window(seed):
    """The pieces are labelled and drawn on the rows and columns that hold the mask only; their
    geometry, seeds and the window-border labels the join reads are those of the whole window."""
    import shapely
    import shapely.geometry
    from affine import Affine
    from rasterio.features import shapes as all_shapes

    from sinks.encroachment import _window_pieces

    rng = np.random.default_rng(seed)
    h, w = 40, 50
    code = rng.choice(np.array([0x13, 0x17, 0x24], dtype=np.uint8), size=(h, w))
    mask = np.zeros((h, w), bool)
    r0, c0 = rng.integers(0, 20, 2)
    r1, c1 = r0 + rng.integers(1, 20), c0 + rng.integers(1, 30)
    mask[r0:r1, c0:c1] = rng.random((r1 - r0, c1 - c0)) < 0.6
    if seed % 2:  # reaching the window's bottom and right borders too
        mask[-3:, :] |= rng.random((3, w)) < 0.5
        mask[:, -2:] |= rng.random((h, 2)) < 0.5
    if not mask.any():
        mask[r0, c0] = True
    got = _window_pieces(code, mask, 100, 200, 1.0, 8)
    assert got is not None
    # every piece covers its pixels: the union of the pieces of one code is that code's mask
    for value in np.unique(code[mask]):
        want = shapely.union_all([shapely.geometry.shape(g) for g, _v in
                                  all_shapes((mask & (code == value)).astype(np.uint8), mask=mask & (code == value),
                                             connectivity=4, transform=Affine.translation(200, 100))])
        mine = shapely.union_all(got["geom"][got["code"] == value])
        assert mine.symmetric_difference(want).area == 0
    for k, (r, c) in enumerate(got["seed"]):
        assert mask[r - 100, c - 200] and code[r - 100, c - 200] == got["code"][k]
        assert shapely.intersects(got["geom"][k], shapely.box(c, r, c + 1, r + 1).centroid)
    assert got["pixels"].sum() == mask.sum()
    for side, line in (("top", mask[0]), ("bottom", mask[-1]), ("left", mask[:, 0]), ("right", mask[:, -1])):
        assert len(got[side]) == len(line) and ((got[side] >= 0) == line).all()
