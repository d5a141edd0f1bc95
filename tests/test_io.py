"""Reading and mosaicking tiles: hand-checked pixel values, chunk independence, bad tiles."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from conftest import s2_stack
from sinks.errors import BandMismatchError, CRSMismatchError, NoOverlapError, TileReadError
from sinks.grid import Grid, derive_grid
from sinks.io import open_image, open_scene
from sinks.tiles import inspect_tile, tiles_from_files, tiles_from_stac
from sinks.sensors import get_profile, resolve_profile

S2 = get_profile("sentinel2_l2a_pre2022")
CRS32649 = rasterio.crs.CRS.from_epsg(32649)


def test_mosaic_first_valid_tile_wins(make_tile):
    a = s2_stack([100, 200, 300, 400, 500, 600], (20, 30))
    a[:, 0, 0] = 0  # nodata pixel in tile a
    b = s2_stack([1100, 1200, 1300, 1400, 1500, 1600], (20, 30))
    pa = make_tile("a.tif", a)  # x 500000..500300
    pb = make_tile("b.tif", b, x0=500200)  # overlaps a by 10 columns
    refl, grid = open_image([pa, pb], profile=S2, chunks=16)
    assert grid.shape == (20, 50)
    assert list(refl.band.values) == ["blue", "green", "red", "nir", "swir1", "swir2"]
    v = refl.values
    assert np.isnan(v[:, 0, 0]).all()  # nodata in a, b does not cover (0, 0)
    np.testing.assert_allclose(v[:, 0, 1], [0.01, 0.02, 0.03, 0.04, 0.05, 0.06], rtol=1e-6)
    np.testing.assert_allclose(v[3, 5, 25], 0.04, rtol=1e-6)  # overlap: first tile wins
    np.testing.assert_allclose(v[3, 5, 35], 0.14, rtol=1e-6)  # only b
    assert refl.dtype == np.float32


@pytest.mark.parametrize("dn", [False, True])
def test_mosaic_method_last_valid_tile_wins(make_tile, dn):
    """The named 'last' method: the later tile wins the overlap, a nodata pixel there falls back
    to the earlier tile; the same in the reflectance and the digital-number readers."""
    from sinks.digital import open_scene_dn

    a = s2_stack([100] * 6, (20, 30))
    b = s2_stack([900] * 6, (20, 30))
    b[:, 4, 5] = 0  # nodata in b inside the overlap
    pa = make_tile("a.tif", a)
    pb = make_tile("b.tif", b, x0=500200)  # overlaps a's columns 20..29
    tiles = tiles_from_files([pa, pb], S2)
    grid = derive_grid(tiles)
    if dn:
        first = open_scene_dn(tiles, profile=S2, grid=grid, chunks=16).values
        last = open_scene_dn(tiles, profile=S2, grid=grid, chunks=16, mosaic="last").values
        want = {"a": 100, "b": 900}
    else:
        first = open_scene(tiles, profile=S2, grid=grid, chunks=16).values
        last = open_scene(tiles, profile=S2, grid=grid, chunks=16, mosaic="last").values
        want = {"a": np.float32(100) * np.float32(1e-4), "b": np.float32(900) * np.float32(1e-4)}
    assert first[0, 5, 25] == want["a"] and last[0, 5, 25] == want["b"]   # the overlap
    assert first[0, 5, 5] == last[0, 5, 5] == want["a"]                   # a alone
    assert first[0, 5, 45] == last[0, 5, 45] == want["b"]                 # b alone
    assert last[0, 4, 25] == want["a"] and last[0, 4, 26] == want["b"]    # b's nodata pixel: a fills it


def test_unknown_mosaic_method_is_a_config_error(make_tile):
    from sinks.errors import ConfigError

    pa = make_tile("a.tif", s2_stack([100] * 6, (8, 8)))
    with pytest.raises(ConfigError, match="mosaic method 'median'"):
        open_image(pa, profile=S2, mosaic="median")


def test_read_onto_clips_on_the_lattice_and_warps_elsewhere(make_tile):
    """One windowed read for every reader: a file on the target's lattice is read directly and
    placed where it starts; a file in another CRS comes through a warp with its validity mask."""
    from affine import Affine

    from sinks.warp import read_onto

    data = np.arange(1, 6 * 8 * 10 + 1, dtype=np.uint16).reshape(6, 8, 10)
    p = make_tile("a.tif", data)  # 10 m pixels from (500000, 2400000)
    target = Grid(CRS32649, Affine(10, 0, 499970, 0, -10, 2400020), 8, 6)  # 3 px left, 2 px above
    got = read_onto(str(p), [1, 4], target)
    assert (got.row, got.col, got.valid) == (2, 3, None)
    np.testing.assert_array_equal(got.data, data[[0, 3], :4, :5])
    full = got.filled((6, 8), 0)
    assert full.shape == (2, 6, 8) and full[0, 2, 3] == data[0, 0, 0] and full[0, 0, 0] == 0
    assert read_onto(str(p), [1], Grid(CRS32649, Affine(10, 0, 600000, 0, -10, 2400000), 4, 4)) is None
    from rasterio.warp import transform_bounds

    w, s_, e, n = transform_bounds(CRS32649, "EPSG:4326", 500000, 2399920, 500100, 2400000)
    geo = Grid(rasterio.crs.CRS.from_epsg(4326), Affine((e - w) / 4, 0, w, 0, -(n - s_) / 4, n), 4, 4)
    warped = read_onto(str(p), [1], geo, src_nodata=0)
    assert warped.data.shape == (1, 4, 4) and warped.valid is not None and warped.valid.shape == (4, 4)


def test_nodata_in_first_tile_filled_by_second(make_tile):
    a = s2_stack([100] * 6, (16, 16))
    a[:, 3, 12] = 0
    b = s2_stack([900] * 6, (16, 16))
    pa = make_tile("a.tif", a)
    pb = make_tile("b.tif", b, x0=500080)  # covers a's columns 8..15
    refl, _ = open_image([pa, pb], profile=S2, chunks=8)
    v = refl.values
    assert v[0, 3, 12] == pytest.approx(0.09)
    assert v[0, 3, 11] == pytest.approx(0.01)


@pytest.mark.parametrize("chunks", [64, 128, 1024])
def test_result_independent_of_chunk_size(make_tile, chunks):
    rng = np.random.default_rng(1)
    a = rng.integers(1, 5000, size=(6, 150, 170)).astype(np.uint16)
    b = rng.integers(1, 5000, size=(6, 140, 160)).astype(np.uint16)
    pa = make_tile("a.tif", a)
    pb = make_tile("b.tif", b, x0=501000, y0=2399500)
    ref, _ = open_image([pa, pb], profile=S2, chunks=64)
    got, _ = open_image([pa, pb], profile=S2, chunks=chunks)
    np.testing.assert_array_equal(ref.values, got.values)


def test_post_2022_offset_by_date(make_tile):
    import datetime as dt

    pa = make_tile("a.tif", s2_stack([1500] * 6, (8, 8)))
    prof = get_profile("sentinel2_l2a")
    tiles = tiles_from_files([pa], prof)
    grid = derive_grid(tiles)
    old = open_scene(tiles, profile=prof, grid=grid, date=dt.date(2020, 5, 1)).values
    new = open_scene(tiles, profile=prof, grid=grid, date=dt.date(2025, 5, 1)).values
    assert old[0, 0, 0] == pytest.approx(0.15)
    assert new[0, 0, 0] == pytest.approx(0.05)


def test_bands_matched_by_description(make_tile):
    data = s2_stack([1, 2, 3, 4, 5, 6], (8, 8))[::-1].copy()  # stored in reverse order
    p = make_tile("rev.tif", data, descriptions=["B12", "B11", "B08", "B04", "B03", "B02"])
    refl, _ = open_image(p, profile=S2)
    np.testing.assert_allclose(refl.values[:, 0, 0], np.array([1, 2, 3, 4, 5, 6]) * 1e-4, rtol=1e-6)


def test_generic_bands_with_ignored_band(make_tile):
    data = np.stack([np.full((8, 8), v, np.uint16) for v in (10, 20, 30, 40, 50, 60, 70)])
    p = make_tile("seven.tif", data)
    prof = resolve_profile(bands="-,blue,green,red,nir,swir1,swir2", scale=0.001)
    refl, _ = open_image(p, profile=prof)
    np.testing.assert_allclose(refl.values[:, 0, 0], [0.02, 0.03, 0.04, 0.05, 0.06, 0.07], rtol=1e-6)


def test_tile_in_other_crs_is_warped_explicitly(make_tile):
    # a UTM tile and the same area in another UTM zone's CRS: both land on the target grid
    a = s2_stack([1000] * 6, (32, 32))
    pa = make_tile("utm49.tif", a)
    pb = make_tile("other.tif", s2_stack([2000] * 6, (32, 32)), x0=600000, y0=2400300, crs="EPSG:32650")
    tiles = tiles_from_files([pa, pb], S2)
    grid = Grid.from_bounds((499000, 2399000, 500400, 2400400), 10, "EPSG:32649")
    v = open_scene(tiles, profile=S2, grid=grid, chunks=64).values
    assert np.nanmax(v[0]) == pytest.approx(0.1)  # zone-50 tile lies far east: not on this grid
    from rasterio.warp import transform_bounds

    b = transform_bounds("EPSG:32649", "EPSG:32650", 500000, 2399680, 500320, 2400000)
    pc = make_tile("same_area.tif", s2_stack([3000] * 6, (40, 40)), x0=b[0] - 40, y0=b[3] + 40, crs="EPSG:32650")
    grid2 = Grid.from_bounds((500000, 2399680, 500320, 2400000), 10, "EPSG:32649")
    v2 = open_scene(tiles_from_files([pc], S2), profile=S2, grid=grid2).values
    assert np.isfinite(v2).all() and np.allclose(v2[0], 0.3)
    # what a run says about it: one tile warped (nearest), one read on the lattice
    from sinks.pipeline import grid_reading

    said = grid_reading(grid2, [*tiles_from_files([pc], S2), *tiles_from_files([pa], S2)], resampling="nearest")
    assert (said["tiles"], said["warped"], said["resampling"]) == (2, 1, "nearest")
    assert "1 of 2 tile(s) warped onto it (nearest resampling, from EPSG:32650 10 m)" in said["note"]
    assert grid_reading(grid2, tiles_from_files([pa], S2), resampling="bilinear")["warped"] == 0


def test_grid_from_tiles_snaps_to_tile_lattice(make_tile):
    p = make_tile("odd.tif", s2_stack([5] * 6, (10, 10)), x0=500003.0, y0=2400007.0)
    tiles = tiles_from_files([p], S2)
    g = derive_grid(tiles, aoi_bounds=(500020, 2399930, 500060, 2399990))
    assert g.transform.c == pytest.approx(500013.0) and g.transform.f == pytest.approx(2399997.0)
    assert g.shape == (7, 5)
    assert g.offset_in(tiles[0].grid) is not None


# ------------------------------------------------------------------ bad input
def test_missing_tile(tmp_path):
    with pytest.raises(TileReadError, match="missing.tif: file not found"):
        inspect_tile(tmp_path / "missing.tif")


def test_zero_byte_tile(tmp_path):
    p = tmp_path / "empty.tif"
    p.write_bytes(b"")
    with pytest.raises(TileReadError, match="empty.tif: file is empty"):
        inspect_tile(p)


def test_text_file_named_tif(tmp_path):
    p = tmp_path / "notes.tif"
    p.write_text("this is not a raster\n")
    with pytest.raises(TileReadError, match="notes.tif"):
        inspect_tile(p)


def test_truncated_tif(make_tile, tmp_path):
    rng = np.random.default_rng(0)
    p = make_tile("full.tif", rng.integers(1, 60000, size=(6, 64, 64)).astype(np.uint16))
    data = p.read_bytes()
    t = tmp_path / "trunc.tif"
    t.write_bytes(data[: len(data) // 2])
    with pytest.raises(TileReadError, match="trunc.tif"):
        inspect_tile(t)


def test_tile_without_crs(make_tile):
    p = make_tile("nocrs.tif", s2_stack([1] * 6, (8, 8)), crs=None)
    with pytest.raises(CRSMismatchError, match="nocrs.tif: raster has no CRS"):
        inspect_tile(p)


def test_band_count_mismatch(make_tile):
    p = make_tile("four.tif", np.ones((4, 8, 8), np.uint16))
    with pytest.raises(BandMismatchError, match="four.tif: has 4 bands but sensor"):
        tiles_from_files([p], S2)
    with pytest.raises(BandMismatchError, match="has 4 bands"):
        tiles_from_files([p], resolve_profile(bands="blue,green,red,nir,swir1"))


def test_unknown_band_role():
    with pytest.raises(BandMismatchError, match="unknown band role 'purple'"):
        resolve_profile(bands="blue,green,purple,nir")


def test_tiles_not_overlapping_grid(make_tile):
    p = make_tile("far.tif", s2_stack([1] * 6, (8, 8)), x0=700000)
    grid = Grid.from_bounds((500000, 2399000, 501000, 2400000), 10, "EPSG:32649")
    with pytest.raises(NoOverlapError):
        open_scene(tiles_from_files([p], S2), profile=S2, grid=grid)


def test_stac_static_catalog(make_tile, tmp_path):
    import pystac

    paths = {}
    for role_name, v in zip(["B02", "B03", "B04", "B08", "B11", "B12"], [1, 2, 3, 4, 5, 6]):
        paths[role_name] = make_tile(f"item1/{role_name}.tif", np.full((1, 8, 8), v * 100, np.uint16))
    import datetime as dt

    cat = pystac.Catalog("c", "test catalog")
    item = pystac.Item("item1", geometry=None, bbox=None, datetime=dt.datetime(2020, 5, 1), properties={})
    for name, p in paths.items():
        item.add_asset(name, pystac.Asset(href=str(p), media_type=pystac.MediaType.COG))
    cat.add_item(item)
    cat.normalize_hrefs(str(tmp_path / "stac"))
    cat.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    tiles = tiles_from_stac(tmp_path / "stac" / "catalog.json", S2)
    assert len(tiles) == 1 and set(tiles[0].roles) == {"blue", "green", "red", "nir", "swir1", "swir2"}
    grid = derive_grid(tiles)
    v = open_scene(tiles, profile=S2, grid=grid).values
    np.testing.assert_allclose(v[:, 2, 2], [0.01, 0.02, 0.03, 0.04, 0.05, 0.06], rtol=1e-6)


def test_read_error_during_compute_names_file(make_tile, tmp_path):
    rng = np.random.default_rng(0)
    p = make_tile("late.tif", rng.integers(1, 60000, size=(6, 64, 64)).astype(np.uint16))
    refl, _ = open_image(p, profile=S2, chunks=32)
    p.write_bytes(b"garbage")  # file replaced after the graph was built
    with pytest.raises(TileReadError, match="late.tif"):
        refl.values


def test_chunks_cut_on_each_tiles_blocks(make_tile):
    """Chunk edges fall on the block lattice of the tile serving each part (first tile wins)."""
    from sinks.grid import _axis_chunks, aligned_chunks

    # two tiles overlapping by 8 px: the first serves 0..40, the second (blocks from 32) the rest
    assert _axis_chunks(100, [(0, 40, 16), (32, 100, 16)], 32, 4) == (32, 8, 24, 32, 4)
    assert _axis_chunks(100, [], 32, 4) == (32, 32, 32, 4)
    assert _axis_chunks(70, [(0, 70, 16)], 20, 8) == (16, 16, 16, 22)      # a 6-px sliver is folded in
    assert _axis_chunks(50, [(0, 43, 16)], 32, 8) == (32, 18)              # 11 to the tile's end + 7 beyond
    assert sum(_axis_chunks(1000, [(3, 500, 256), (480, 1000, 128)], 300, 64)) == 1000
    a = make_tile("a.tif", s2_stack([100] * 6, (40, 40)), block=16)
    b = make_tile("b.tif", s2_stack([200] * 6, (40, 40)), x0=500320, y0=2399680, block=16)  # offset 32 px
    tiles = tiles_from_files([a, b], S2)
    assert tiles[0].blocksize == (16, 16)
    grid = derive_grid(tiles)
    rows, cols = aligned_chunks(grid, tiles, 32)
    assert sum(rows) == grid.height == 72 and sum(cols) == grid.width == 72
    edges = np.cumsum((0,) + cols)
    assert all(e % 16 == 0 or e in (40, 72) for e in edges)   # tile a's lattice to 40, then tile b's
    refl, _g = open_image([a, b], profile=S2, chunks=32)
    assert refl.data.chunks[1:] == (rows, cols)
    np.testing.assert_allclose(refl.values[0, :40, :40], 0.01)
    np.testing.assert_allclose(refl.values[0, 40:, 40:], 0.02)


def test_header_remembered_until_the_file_changes(make_tile, monkeypatch):
    """A second inspection of an unchanged file does not reopen it; a rewritten one is read again."""
    import sinks.tiles as sio

    path = make_tile("lc.tif", np.ones((1, 32, 32), np.uint8))
    first = inspect_tile(path)
    opened = []
    real = sio._inspect
    monkeypatch.setattr(sio, "_inspect", lambda *a, **k: opened.append(a[0]) or real(*a, **k))
    assert inspect_tile(path) is first
    assert inspect_tile(path, check_truncation=False) is first  # a full check also answers a header check
    assert opened == []
    noise = np.random.default_rng(0).integers(1, 60000, size=(1, 48, 40)).astype(np.uint16)
    make_tile("lc.tif", noise, x0=600000.0)  # rewritten: new size and mtime
    second = inspect_tile(path)
    assert opened == [str(path)]
    assert (second.grid.width, second.grid.height, second.grid.transform.c) == (40, 48, 600000.0)
    with open(path, "r+b") as fh:  # truncated after a successful inspection: caught again
        fh.truncate(second.size_bytes // 2)
    with pytest.raises(TileReadError, match="lc.tif"):
        inspect_tile(path)


def test_gdal_cache_capped_for_every_gdal_unless_the_user_set_it(monkeypatch):
    """The cap reaches the environment (exactextract's and pyogrio's own GDAL, child processes)."""
    import sinks.gdalenv as sio

    monkeypatch.setattr(sio, "_CACHE_ENV_SET_HERE", False)
    monkeypatch.setenv("GDAL_CACHEMAX", "512")
    assert sio.gdal_cache_options() == {}  # the user's value stands
    assert os.environ["GDAL_CACHEMAX"] == "512"
    monkeypatch.delenv("GDAL_CACHEMAX")
    assert sio.gdal_cache_options() == {"GDAL_CACHEMAX": sio.GDAL_CACHE_MB * 1024 * 1024}
    assert os.environ["GDAL_CACHEMAX"] == str(sio.GDAL_CACHE_MB)
    assert sio.gdal_cache_options() == {"GDAL_CACHEMAX": sio.GDAL_CACHE_MB * 1024 * 1024}  # still ours next run


def _write_codes(path: Path, data: np.ndarray) -> Path:
    from affine import Affine

    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype="uint8", crs="EPSG:32649", transform=Affine(10, 0, 400000, 0, -10, 2380000)) as ds:
        ds.write(data, 1)
    return path


def test_read_after_waits_for_each_block_and_frees_it_early(tmp_path):
    """A read that feeds a reduction beside a computed layer waits for that layer's block
    (same values as a plain read), so the computed blocks do not pile up in memory
    waiting for reads that dask orders late (as in an epoch pass: the layer is stored
    and reduced with the previous epoch's land cover or the truth)."""
    import dask
    import dask.array as da
    from dask.callbacks import Callback

    from sinks.io import read_categorical

    codes = np.random.default_rng(3).integers(1, 9, size=(160, 160), dtype=np.uint8)
    path = _write_codes(tmp_path / "prev.tif", codes)
    src = da.from_array(codes[::-1].copy(), chunks=20)
    layer = (da.stack([src, src + 1]).map_blocks(lambda b: b.max(axis=0), drop_axis=0)
             .map_overlap(lambda b: b, depth=1, boundary="none"))
    plain, _g, _nd = read_categorical(path, chunks=layer.chunks)
    after, _g, _nd = read_categorical(path, chunks=layer.chunks, after=layer)
    np.testing.assert_array_equal(after.compute(), codes)
    assert after.__dask_graph__().dependencies[after.name] == {layer.name}

    class Sink:
        def __setitem__(self, key: Any, value: np.ndarray) -> None:
            pass

    def held(read: Any) -> int:
        """Most layer blocks in memory at once while the layer is stored, counted and
        compared with ``read`` block by block."""
        pairs = [dask.delayed(lambda a, b: int((a == b).sum()), pure=True)(a, b)
                 for a, b in zip(layer.to_delayed().ravel(), read.to_delayed().ravel())]
        counts = [dask.delayed(lambda a: np.bincount(a.ravel(), minlength=9), pure=True)(a)
                  for a in layer.to_delayed().ravel()]
        stored = da.store([layer], [Sink()], lock=False, compute=False)
        most = [0]

        class Count(Callback):
            def _posttask(self, key, result, dsk, state, id):
                most[0] = max(most[0], sum(1 for k in state["cache"] if isinstance(k, tuple) and k[0] == layer.name))
        with Count():
            _s, same, _c = dask.compute(stored, dask.delayed(sum)(pairs), dask.delayed(sum)(counts),
                                        scheduler="sync")
        assert same == int((codes[::-1] + 1 == codes).sum())
        return most[0]

    assert held(after) <= 2
    # without it, dask's ordering kept 33-45 of the 64 blocks (dask 2026.8; the tie-breaks
    # follow the random task names)
    assert held(plain) >= 16


def test_read_after_needs_matching_chunks(tmp_path):
    import dask.array as da

    from sinks.io import read_categorical

    path = _write_codes(tmp_path / "prev.tif", np.ones((40, 40), dtype=np.uint8))
    layer = da.ones((40, 40), dtype=np.uint8, chunks=20)
    with pytest.raises(ValueError, match="chunks differ"):
        read_categorical(path, chunks=10, after=layer)


def test_spec_mosaic_reaches_the_run(make_tile, tmp_path):
    """``grid.mosaic: last`` in a spec: the run's reflectance takes the later tile in the overlap."""
    from sinks.pipeline import prepare
    from sinks.spec import PipelineSpec
    from sinks.stages.read import stage_read

    pa = make_tile("a.tif", s2_stack([100] * 6, (20, 30)))
    pb = make_tile("b.tif", s2_stack([900] * 6, (20, 30)), x0=500200)
    for method, want in (("first", 100), ("last", 900)):
        spec = PipelineSpec.model_validate({
            "name": f"m-{method}", "sensor": "sentinel2_l2a_pre2022", "grid": {"mosaic": method},
            "epochs": [{"name": "e", "year": 2020, "scenes": [{"date": "2020-08-01", "tiles": [str(pa), str(pb)]}]}],
            "classification": {"enabled": False}, "carbon": {"enabled": False}})
        ctx = prepare(spec, spec_path=None, out=tmp_path / method, overwrite=True)
        ep = ctx.epochs[0]
        stage_read(ctx, ep)
        assert float(ep.refl.isel(time=0).sel(band="blue").values[5, 25]) == pytest.approx(want * 1e-4)


def test_bands_at_two_resolutions_read_like_their_10m_copies(make_tile):
    """A tile whose SWIR bands and SCL are 20 m files beside 10 m ones (Sentinel-2 as STAC lists
    it) reads exactly as the same tile with those bands repeated 2 x 2 at 10 m: reflectance,
    digital numbers, the QA mask and the threshold sample."""
    from sinks.classify.sample import overview_sample
    from sinks.digital import open_scene_dn
    from sinks.tiles import BandRef, Scene, Tile

    rng = np.random.default_rng(7)
    fine = {b: rng.integers(1, 5000, (1, 32, 48)).astype(np.uint16) for b in ("B02", "B03", "B04", "B08")}
    coarse = {b: rng.integers(1, 5000, (1, 16, 24)).astype(np.uint16) for b in ("B11", "B12")}
    scl = np.full((1, 16, 24), 4, np.uint8)
    scl[0, 3, 5] = 9  # a cloudy 20 m pixel: 2 x 2 pixels at 10 m
    up = lambda a: np.kron(a, np.ones((1, 2, 2), a.dtype))  # noqa: E731
    roles = dict(zip(["B02", "B03", "B04", "B08", "B11", "B12"], ["blue", "green", "red", "nir", "swir1", "swir2"]))
    mixed, same = [], []
    for b, arr in fine.items():
        p = make_tile(f"f/{b}.tif", arr)
        mixed.append((roles[b], BandRef(str(p), 1, 0)))
        same.append((roles[b], BandRef(str(p), 1, 0)))
    for b, arr in coarse.items():
        mixed.append((roles[b], BandRef(str(make_tile(f"c/{b}.tif", arr, res=20.0)), 1, 0)))
        same.append((roles[b], BandRef(str(make_tile(f"u/{b}.tif", up(arr))), 1, 0)))
    mixed.append(("scl", BandRef(str(make_tile("c/SCL.tif", scl, res=20.0, nodata=None)), 1, None)))
    same.append(("scl", BandRef(str(make_tile("u/SCL.tif", up(scl), nodata=None)), 1, None)))
    head = tiles_from_files([make_tile("f/stack.tif", np.concatenate(list(fine.values()) * 2)[:6])], S2)[0]
    t_mixed = Tile("mixed", tuple(mixed), head.grid, head.blocksize)
    t_same = Tile("same", tuple(same), head.grid, head.blocksize)
    grid = head.grid
    a = open_scene([t_mixed], profile=S2, grid=grid, chunks=16).values
    b = open_scene([t_same], profile=S2, grid=grid, chunks=16).values
    np.testing.assert_array_equal(a, b)
    assert np.isnan(a[:, 6:8, 10:12]).all() and not np.isnan(a[:, 5, 9]).any()  # the cloud, at 10 m
    np.testing.assert_array_equal(open_scene_dn([t_mixed], profile=S2, grid=grid, chunks=16).values,
                                  open_scene_dn([t_same], profile=S2, grid=grid, chunks=16).values)
    sa, _ = overview_sample(Scene(None, (t_mixed,)), profile=S2, grid=grid)
    sb, _ = overview_sample(Scene(None, (t_same,)), profile=S2, grid=grid)
    np.testing.assert_array_equal(sa, sb)
