"""Zone areas from the pass's tile counts: the same areas as exactextract over whole polygons."""

from __future__ import annotations

import dask
import dask.array as da
import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.transform import from_origin
from shapely.geometry import Point, Polygon

from sinks._kernels.codes import tile_hist
from sinks.tiles import inspect_tile
from sinks.zonal import _ZONE, joint_class_areas, read_zones
from sinks.zonal_tiles import TileTally, digit_lut, split_zones, tally_delayed, tally_side

H, W = 300, 420
X0, Y1 = 500_000.0, 3_000_000.0
MAPPING = {c: c for c in range(1, 9)}
BASE = 10


@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    """Three land-cover maps (10 m, blocky classes, speckle and nodata) and their arrays."""
    rng = np.random.default_rng(3)
    d = tmp_path_factory.mktemp("tiles")
    paths, arrays = [], []
    for k in range(3):
        a = np.kron(rng.integers(0, 9, (H // 10 + 1, W // 10 + 1)), np.ones((10, 10)))[:H, :W].astype(np.uint8)
        speck = rng.random((H, W)) < 0.05
        a[speck] = rng.integers(0, 9, int(speck.sum()))
        p = d / f"lc{k}.tif"
        with rasterio.open(p, "w", driver="GTiff", width=W, height=H, count=1, dtype="uint8", crs="EPSG:32650",
                           transform=from_origin(X0, Y1, 10, 10), nodata=0, tiled=True, blockxsize=128,
                           blockysize=128) as ds:
            ds.write(a, 1)
        paths.append(str(p))
        arrays.append(a)
    return paths, arrays


def _poly(coords):
    return Polygon([(X0 + x * 10, Y1 - y * 10) for x, y in coords])


def _zones():
    big = _poly([(13.3, 20.7), (400.2, 30.1), (350.5, 280.9), (30.4, 260.2)]).difference(
        Point(X0 + 2000, Y1 - 1500).buffer(400))  # with a hole
    multi = shapely.MultiPolygon([_poly([(5, 5), (90, 5), (90, 60), (5, 60)]),
                                  _poly([(200.5, 150.5), (260.25, 160), (240, 220)])])
    partly = _poly([(380, 200), (500, 210), (490, 400), (370, 380)])  # mostly off the grid
    tiny = _poly([(70.2, 70.2), (80.7, 70.2), (75, 79.9)])  # inside one tile
    overlap = _poly([(100, 100), (300, 120), (250, 250), (90, 230)])
    aligned = _poly([(64, 64), (192, 64), (192, 192), (64, 192)])  # edges on tile lines
    off = _poly([(600, 600), (700, 600), (700, 700)])  # beyond the grid
    gdf = gpd.GeoDataFrame({"zid": ["big", "multi", "partly", "tiny", "overlap", "aligned", "off"]},
                           geometry=[big, multi, partly, tiny, overlap, aligned, off], crs="EPSG:32650")
    return read_zones(gdf, id_field="zid", crs="EPSG:32650")[[_ZONE, "geometry"]]


def _tally(paths, arrays, tile, chunks):
    grid = inspect_tile(paths[0]).grid
    lut = digit_lut(MAPPING, BASE)
    lcs = [da.from_array(a, chunks=chunks) for a in arrays]
    first = tally_delayed(lcs[0], None, grid=grid, tile=tile, lut=lut, base=BASE)
    pairs = [tally_delayed(lcs[k], lcs[k - 1], grid=grid, tile=tile, lut=lut, base=BASE) for k in (1, 2)]
    first, *pairs = dask.compute(first, *pairs)
    return TileTally(grid=grid, tile=tile, base=BASE, mapping=dict(MAPPING), paths=list(paths), first=first,
                     pairs=pairs)


@pytest.mark.parametrize("tile,chunks", [(64, (128, 128)), (37, (100, 150)), (512, (300, 420))])
def test_tile_counts_and_edge_pieces_equal_whole_polygons(maps, tile, chunks):
    """Class areas, transitions and nodata shares from interior tiles plus exactextract on
    the edge pieces equal exactextract on the whole polygons (tiles not aligned with the
    blocks, a hole, a multipolygon, polygons off and partly off the grid, one inside a tile)."""
    paths, arrays = maps
    zones = _zones()
    exact = joint_class_areas(paths, zones, id_field="zid", legend=MAPPING, max_digit=8)
    tally = _tally(paths, arrays, tile, chunks)
    fused = joint_class_areas(paths, zones, id_field="zid", legend=MAPPING, max_digit=8, tallies=tally)
    for name in ("area_ha", "transition_ha", "nodata_fraction", "zone_area_ha"):
        np.testing.assert_allclose(getattr(fused, name), getattr(exact, name), rtol=1e-10, atol=1e-8, err_msg=name)
    assert exact.area_ha[:, :, 0].sum() == 0 and exact.area_ha[0, 0, 1:].sum() > 100
    assert exact.nodata_fraction[-1].tolist() == [1.0, 1.0, 1.0]  # off the grid
    assert 0.6 < exact.nodata_fraction[2, 0] < 0.95  # two thirds off the grid


def test_tile_counts_of_the_whole_grid_equal_the_arrays(maps):
    paths, arrays = maps
    t = _tally(paths, arrays, 64, (100, 90))
    assert t.first.shape == (5, 7, BASE) and t.first.sum() == H * W
    for k in range(3):
        np.testing.assert_array_equal(t.epoch_counts(k).sum(axis=0), np.bincount(arrays[k].ravel(), minlength=BASE))
    pair = t.pair_counts(0).sum(axis=0)
    np.testing.assert_array_equal(pair, np.bincount(arrays[0].ravel() * BASE + arrays[1].ravel(),
                                                    minlength=BASE * BASE).reshape(BASE, BASE))


def test_counts_pickle_sparse_and_come_back_the_same(maps):
    """The table child and cluster workers get the counts pickled: kept sparse, they come back
    as the same int64 arrays and still describe the rasters."""
    import pickle

    paths, arrays = maps
    t = _tally(paths, arrays, 16, (100, 90))
    raw = sum(a.nbytes for a in [t.first, *t.pairs])
    blob = pickle.dumps(t, protocol=pickle.HIGHEST_PROTOCOL)
    back = pickle.loads(blob)
    assert len(blob) < raw / 2
    for a, b in zip([t.first, *t.pairs], [back.first, *back.pairs]):
        assert b.dtype == a.dtype and b.flags.c_contiguous and np.array_equal(a, b)
    assert back.fits(paths, t.grid, MAPPING, BASE) == t.fits(paths, t.grid, MAPPING, BASE)
    assert (back.tile, back.base, back.mapping, back.paths) == (t.tile, t.base, t.mapping, t.paths)


def test_counts_that_do_not_describe_the_rasters_are_not_used(maps, tmp_path):
    """Other paths, another legend, a code outside the legend: the whole-polygon pass runs."""
    paths, arrays = maps
    t = _tally(paths, arrays, 64, (128, 128))
    grid = inspect_tile(paths[0]).grid
    assert t.fits(paths, grid, MAPPING, BASE)
    assert not t.fits(paths[::-1], grid, MAPPING, BASE)
    assert not t.fits(paths, grid, {**MAPPING, 8: 7}, BASE)
    assert not t.fits(paths, grid, MAPPING, BASE + 1)
    odd = [a.copy() for a in arrays]
    odd[1][5, 5] = 200  # outside the legend: the tables must name it, which only the full pass can
    t2 = _tally(paths, odd, 64, (128, 128))
    assert not t2.fits(paths, grid, MAPPING, BASE)


def test_split_covers_each_polygon_once(maps):
    """Interior tiles and edge pieces add up to the polygon's area inside the grid, and
    the interior tiles lie inside it."""
    paths, _ = maps
    grid = inspect_tile(paths[0]).grid
    zones = _zones()
    ext = shapely.box(X0, Y1 - H * 10, X0 + W * 10, Y1)
    inner, pieces, owner = split_zones(zones.geometry.to_numpy(), grid, 64)
    for i, geom in enumerate(zones.geometry):
        tiles_area = 0.0
        for t in inner[i]:
            ty, tx = divmod(int(t), 7)
            cell = shapely.box(X0 + tx * 640, Y1 - min((ty + 1) * 64, H) * 10, X0 + min((tx + 1) * 64, W) * 10,
                               Y1 - ty * 640)
            assert geom.contains(cell)
            tiles_area += cell.area
        edge = sum(p.area for p, o in zip(pieces, owner) if o == i)
        assert tiles_area + edge == pytest.approx(geom.intersection(ext).area, rel=1e-9, abs=1e-6)
    assert len(inner[-1]) == 0 and not (owner == len(zones) - 1).any()  # off the grid: nothing


def _depth_first_split(geoms, grid, tile):
    """The split one polygon and one part at a time, depth first (the second half of a
    part first): the order in which the tables add the pieces' coverage."""
    t = grid.transform
    ntx, nty = -(-grid.width // tile), -(-grid.height // tile)

    def axis(lo, hi, origin, step, n_px, n_tiles):
        p0, p1 = sorted(((lo - origin) / step, (hi - origin) / step))
        return int(np.clip(np.floor(p0), 0, n_px)) // tile, min(n_tiles, -(-int(np.clip(np.ceil(p1), 0, n_px)) // tile))

    def rect(a0, a1, b0, b1):
        xa, xb = t.c + t.a * (b0 * tile), t.c + t.a * min(b1 * tile, grid.width)
        ya, yb = t.f + t.e * (a0 * tile), t.f + t.e * min(a1 * tile, grid.height)
        return shapely.box(min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))

    from sinks.zonal_tiles import _polygonal, _snap

    interior, pieces, owner = [], [], []
    for i, geom in enumerate(geoms):
        inside = []
        if geom is None or geom.is_empty:
            interior.append(np.zeros(0, dtype=np.int64))
            continue
        b0, b1 = axis(geom.bounds[0], geom.bounds[2], t.c, t.a, grid.width, ntx)
        a0, a1 = axis(geom.bounds[1], geom.bounds[3], t.f, t.e, grid.height, nty)
        stack = [(geom, a0, a1, b0, b1)]
        while stack:
            part, a0, a1, b0, b1 = stack.pop()
            if a1 <= a0 or b1 <= b0:
                continue
            r = rect(a0, a1, b0, b1)
            if geom.contains(r):
                inside.append((np.arange(a0, a1)[:, None] * ntx + np.arange(b0, b1)).ravel())
                continue
            sub = part.intersection(r)
            if sub.is_empty or sub.area <= 0:
                continue
            if a1 - a0 == 1 and b1 - b0 == 1:
                sub = shapely.clip_by_rect(_snap(sub, t), *r.bounds)
                sub = _polygonal(sub if sub.is_valid else shapely.make_valid(sub))
                if sub is not None:
                    pieces.append(sub)
                    owner.append(i)
            elif a1 - a0 >= b1 - b0:
                m = (a0 + a1) // 2
                stack += [(sub, a0, m, b0, b1), (sub, m, a1, b0, b1)]
            else:
                m = (b0 + b1) // 2
                stack += [(sub, a0, a1, b0, m), (sub, a0, a1, m, b1)]
        interior.append(np.concatenate(inside).astype(np.int64) if inside else np.zeros(0, dtype=np.int64))
    return interior, pieces, np.asarray(owner, dtype=np.int64)


@pytest.mark.parametrize("tile", [64, 37, 16])
def test_split_equals_a_depth_first_split_in_its_order(maps, tile):
    """The level-at-a-time split gives the pieces and interior tiles of a depth-first split,
    the same to the bit and in the same order (the tables' sums add in that order)."""
    paths, _ = maps
    grid = inspect_tile(paths[0]).grid
    geoms = list(_zones().geometry.to_numpy()) + [None, shapely.Polygon()]
    want = _depth_first_split(geoms, grid, tile)
    got = split_zones(np.asarray(geoms, dtype=object), grid, tile)
    assert len(got[0]) == len(want[0]) == len(geoms)
    for a, b in zip(got[0], want[0]):
        assert a.dtype == np.int64 and np.array_equal(a, b)
    assert np.array_equal(got[2], want[2]) and len(got[1]) == len(want[1]) > 20
    assert all(shapely.to_wkb(a) == shapely.to_wkb(b) for a, b in zip(got[1], want[1]))


def test_a_split_made_ahead_is_handed_over_once_and_only_for_its_arguments(maps, monkeypatch):
    """presplit_zones(): the next split_zones() with the same polygons, grid and tile gets
    that split (equal to one made then) without splitting again; other polygons or another
    tile are split afresh, and the split is handed over once."""
    import sinks.zonal_tiles as zt

    paths, _ = maps
    grid = inspect_tile(paths[0]).grid
    geoms = _zones().geometry.to_numpy()
    fresh = split_zones(geoms, grid, 64)
    zt.presplit_zones(geoms, grid, 64)
    calls = []
    real = zt._split
    monkeypatch.setattr(zt, "_split", lambda *a: calls.append(a) or real(*a))
    same = [shapely.from_wkb(shapely.to_wkb(g)) for g in geoms]  # equal polygons, other objects
    got = split_zones(same, grid, 64)
    assert not calls
    for a, b in zip(got[0], fresh[0]):
        np.testing.assert_array_equal(a, b)
    assert shapely.to_wkb(np.asarray(got[1], dtype=object)).tolist() == \
        shapely.to_wkb(np.asarray(fresh[1], dtype=object)).tolist()
    np.testing.assert_array_equal(got[2], fresh[2])
    split_zones(geoms, grid, 64)  # handed over already
    assert len(calls) == 1
    zt.presplit_zones(geoms, grid, 64)
    calls.clear()
    split_zones(geoms, grid, 32)  # another tile
    moved = geoms.copy()
    moved[3] = shapely.affinity.translate(moved[3], 0.5)
    split_zones(moved, grid, 64)  # one polygon moved by half a metre
    assert len(calls) == 2 and len(zt._PRESPLIT) == 1
    zt._PRESPLIT.clear()


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 40), cols=st.integers(1, 40), r_off=st.integers(0, 15), c_off=st.integers(0, 15),
       tile=st.integers(1, 16), pair=st.booleans(), seed=st.integers(0, 2**16))
def test_tile_hist_counts_every_pixel_in_its_tile(rows, cols, r_off, c_off, tile, pair, seed):
    r_off, c_off = r_off % tile, c_off % tile
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 12, (rows, cols)).astype(np.uint8)
    b = rng.integers(0, 12, (rows, cols)).astype(np.uint8)
    lut = np.minimum(np.arange(256), 5).astype(np.uint8)
    got = tile_hist(a, b if pair else None, lut, base=6, row_offset=r_off, col_offset=c_off, tile=tile)
    want = np.zeros_like(got)
    for y in range(rows):
        for x in range(cols):
            d = lut[a[y, x]] * 6 + lut[b[y, x]] if pair else lut[a[y, x]]
            want[(y + r_off) // tile, (x + c_off) // tile, d] += 1
    np.testing.assert_array_equal(got, want)


def test_tile_side_bounds_the_counts():
    from sinks.grid import Grid
    from rasterio.crs import CRS

    utm = Grid(crs=CRS.from_epsg(32650), transform=from_origin(X0, Y1, 10, 10), width=10_000, height=10_000)
    assert tally_side(utm, base=11, epochs=3) == 64
    huge = Grid(crs=CRS.from_epsg(32650), transform=from_origin(X0, Y1, 10, 10), width=100_000, height=100_000)
    side = tally_side(huge, base=11, epochs=3)
    assert side is not None and side > 64 and (100_000 // side) ** 2 * (11 + 2 * 121) * 8 <= 192 << 20
    geo = Grid(crs=CRS.from_epsg(4326), transform=from_origin(110, 30, 1e-4, 1e-4), width=1000, height=1000)
    assert tally_side(geo, base=11, epochs=3) is None


def test_edge_pieces_stop_at_the_tile_edge(tmp_path):
    """A redline whose vertices lie a fraction of a nanometre off the grid lines (as
    reprojected or digitised boundaries do): clipping it to a tile left a vertex 1e-9 m
    beyond the tile's edge, exactextract then counted the cell across as covered, and the
    zone gained a pixel.  Pieces are cut at the tile edge, so the areas agree."""
    from shapely import wkt

    shape = wkt.loads(
        "MULTIPOLYGON (((424000 2378999.9999999995, 448999.9999999996 2379000, "
        "448999.99999999953 2364999.9999999995, 423999.9999999999 2363000.0000000005, "
        "424000 2378999.9999999995), (437000.0000000006 2375000, 441000.0000000013 2375000, "
        "440999.9999999997 2371000, 437000.00000000064 2370999.9999999995, 437000.0000000006 2375000)))")
    h, w = 1800, 5000
    rng = np.random.default_rng(5)
    a = np.kron(rng.integers(1, 9, (h // 20, w // 20)), np.ones((20, 20))).astype(np.uint8)
    path = tmp_path / "lc.tif"
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="uint8", crs="EPSG:32649",
                       transform=from_origin(400_000, 2_380_000, 10, 10), nodata=0, tiled=True, blockxsize=512,
                       blockysize=512) as ds:
        ds.write(a, 1)
    grid = inspect_tile(path).grid
    first = dask.compute(tally_delayed(da.from_array(a, chunks=1024), None, grid=grid, tile=64,
                                       lut=digit_lut(MAPPING, BASE), base=BASE))[0]
    tally = TileTally(grid=grid, tile=64, base=BASE, mapping=dict(MAPPING), paths=[str(path)], first=first)
    zones = read_zones(gpd.GeoDataFrame({"zid": ["HL-003"]}, geometry=[shape], crs="EPSG:32649"), id_field="zid",
                       crs="EPSG:32649")[[_ZONE, "geometry"]]
    exact = joint_class_areas([str(path)], zones, id_field="zid", legend=MAPPING, max_digit=8)
    fused = joint_class_areas([str(path)], zones, id_field="zid", legend=MAPPING, max_digit=8, tallies=tally)
    np.testing.assert_allclose(fused.area_ha, exact.area_ha, rtol=0, atol=1e-6)
    assert exact.area_ha.sum() == pytest.approx(shape.area / 1e4, rel=1e-12)
    _inner, pieces, _owner = split_zones([shape], grid, 64)
    for piece in pieces:  # every piece inside its tile, to the last bit
        x0, y0, x1, y1 = piece.bounds
        assert (x0 - 400_000) // 640 == -(-(x1 - 400_000) // 640) - 1
        assert (2_380_000 - y1) // 640 == -(-(2_380_000 - y0) // 640) - 1


def test_areas_equal_the_geometry_for_vertices_a_nanometre_off_cell_lines(tmp_path):
    """Polygons with vertices on or a nanometre beside cell and tile lines, over a map
    without nodata: the class areas of each add up to its area inside the grid to a
    millionth of a pixel (exactextract over such whole polygons can be a pixel off)."""
    rng = np.random.default_rng(11)
    a = np.kron(rng.integers(1, 9, (H // 10 + 1, W // 10 + 1)), np.ones((10, 10)))[:H, :W].astype(np.uint8)
    path = tmp_path / "lc.tif"
    with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=1, dtype="uint8", crs="EPSG:32650",
                       transform=from_origin(X0, Y1, 10, 10), nodata=0) as ds:
        ds.write(a, 1)
    grid = inspect_tile(path).grid
    first = dask.compute(tally_delayed(da.from_array(a, chunks=128), None, grid=grid, tile=32,
                                       lut=digit_lut(MAPPING, BASE), base=BASE))[0]
    tally = TileTally(grid=grid, tile=32, base=BASE, mapping=dict(MAPPING), paths=[str(path)], first=first)
    geoms = []
    while len(geoms) < 60:
        n = rng.integers(3, 9)
        xs = X0 + 10 * rng.integers(-20, W + 20, n) + rng.choice([0, 1e-9, -1e-9, 3e-10, 0.37], n)
        ys = Y1 - 10 * rng.integers(-20, H + 20, n) + rng.choice([0, 1e-9, -1e-9, 3e-10, 0.61], n)
        g = shapely.make_valid(Polygon(np.c_[xs, ys]))
        parts = [q for q in shapely.get_parts(g) if q.geom_type == "Polygon" and q.area > 0]
        if parts:
            geoms.append(shapely.union_all(parts))
    zones = read_zones(gpd.GeoDataFrame({"zid": [str(i) for i in range(len(geoms))]}, geometry=geoms,
                                        crs="EPSG:32650"), id_field="zid", crs="EPSG:32650")[[_ZONE, "geometry"]]
    fused = joint_class_areas([str(path)], zones, id_field="zid", legend=MAPPING, max_digit=8, tallies=tally)
    ext = shapely.box(X0, Y1 - H * 10, X0 + W * 10, Y1)
    inside_px = np.array([g.intersection(ext).area / 100 for g in zones.geometry])
    np.testing.assert_allclose(fused.area_ha.sum(axis=(1, 2)) * 100, inside_px, rtol=0, atol=1e-5)
