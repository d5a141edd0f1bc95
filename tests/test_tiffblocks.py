"""Windows decoded from a tiled GeoTIFF's tiles (sinks.tiffblocks) against GDAL's reads."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.transform import from_origin
from rasterio.windows import Window

from sinks import tiffblocks
from sinks._kernels.blocks import place_tile
from sinks.errors import TileReadError
from sinks.grid import Grid
from sinks.warp import read_onto

CRS = "EPSG:32649"


def _write(path, data, *, block=32, compress="deflate", predictor=1, interleave="pixel", **extra):
    count, h, w = data.shape
    profile = dict(driver="GTiff", width=w, height=h, count=count, dtype=data.dtype.name, crs=CRS,
                   transform=from_origin(500000.0, 2500000.0, 10.0, 10.0), tiled=True, blockxsize=block,
                   blockysize=block, interleave=interleave, **extra)
    if compress:
        profile.update(compress=compress, predictor=predictor)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
    return str(path)


def _gdal(path, bands, row, col, h, w):
    with rasterio.open(path) as ds:
        return ds.read(bands, window=Window(col, row, w, h))


def _data(dtype, shape=(3, 75, 90), seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.normal(0, 1000, shape).astype(dtype)
    info = np.iinfo(dtype)
    # smooth rows plus noise, with the extremes present, so that predictor sums wrap
    base = rng.integers(info.min, info.max, shape, dtype=np.int64, endpoint=True)
    base[:, ::7, ::5] = info.max
    base[:, 3::11, 2::9] = info.min
    return base.astype(dtype)


WINDOWS = [(0, 0, 75, 90), (0, 0, 32, 32), (5, 7, 40, 50), (31, 31, 2, 2), (64, 64, 11, 26), (74, 89, 1, 1),
           (10, 0, 1, 90), (0, 60, 75, 30)]


@pytest.mark.parametrize("interleave", ["pixel", "band"])
@pytest.mark.parametrize("dtype,compress,predictor", [
    (d, c, p) for d in ("uint8", "uint16", "int16", "uint32", "int32", "float32")
    for c, p in (("deflate", 1), ("deflate", 2), (None, 1)) if not (p == 2 and d == "float32")])
def test_windows_equal_gdal_reads(tmp_path, dtype, compress, predictor, interleave):
    """Every window and band order, tile edges and partial edge tiles included, is GDAL's."""
    path = _write(tmp_path / "t.tif", _data(dtype), compress=compress, predictor=predictor, interleave=interleave)
    lay = tiffblocks.layout(path)
    assert lay is not None and lay.separate == (interleave == "band") and lay.predictor == predictor
    for bands in ([1, 2, 3], [3, 1], [2]):
        for row, col, h, w in WINDOWS:
            got = tiffblocks.read_window(path, lay, bands, row, col, h, w)
            want = _gdal(path, bands, row, col, h, w)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want, err_msg=f"{bands} {(row, col, h, w)}")


@settings(max_examples=60, deadline=None)
@given(row=st.integers(0, 99), col=st.integers(0, 130), h=st.integers(1, 100), w=st.integers(1, 131),
       bands=st.lists(st.integers(1, 4), min_size=1, max_size=6))
def test_any_window_equals_gdal(tmp_path_factory, row, col, h, w, bands):
    path = str(tmp_path_factory.getbasetemp() / "prop.tif")
    if not os.path.exists(path):
        _write(path, _data("uint16", shape=(4, 100, 131), seed=3), block=16, predictor=2)
    h, w = min(h, 100 - row), min(w, 131 - col)
    got = tiffblocks.read_window(path, tiffblocks.layout(path), bands, row, col, h, w)
    np.testing.assert_array_equal(got, _gdal(path, bands, row, col, h, w))


@pytest.mark.parametrize("dtype,compress,predictor", [
    ("uint16", "deflate", 2), ("uint16", "deflate", 1), ("uint8", "deflate", 2), ("int16", None, 1),
    ("float32", "deflate", 1)])
def test_six_band_stacks_equal_gdal_reads(tmp_path, dtype, compress, predictor):
    """Six-sample tiles (every packaged sensor's stack) have a kernel of their own: all six bands
    in any order, and subsets through the general kernel, are GDAL's."""
    path = _write(tmp_path / "s.tif", _data(dtype, shape=(6, 75, 90), seed=5), compress=compress, predictor=predictor)
    lay = tiffblocks.layout(path)
    for bands in ([1, 2, 3, 4, 5, 6], [6, 4, 2, 1, 3, 5], [2, 3, 4, 5, 6], [1, 1, 2, 3, 4, 5]):
        for row, col, h, w in WINDOWS:
            got = tiffblocks.read_window(path, lay, bands, row, col, h, w)
            np.testing.assert_array_equal(got, _gdal(path, bands, row, col, h, w), err_msg=f"{bands} {(row, col, h, w)}")


def _placed(values, src, dst, bands, shape, dy, dx):
    """numpy's answer for place_tile: ``values`` (rows, cols, samples) of a tile put at (dy, dx)."""
    out = np.zeros((bands, *shape), values.dtype)
    th, tw = values.shape[:2]
    y0, y1, x0, x1 = max(0, -dy), min(th, shape[0] - dy), max(0, -dx), min(tw, shape[1] - dx)
    for s, d in zip(src, dst):
        if y1 > y0 and x1 > x0:
            out[d, dy + y0:dy + y1, dx + x0:dx + x1] = values[y0:y1, x0:x1, s]
    return out


@settings(max_examples=150, deadline=None)
@given(samples=st.sampled_from([1, 2, 3, 6, 6, 6, 7]), th=st.integers(1, 9), tw=st.integers(1, 12),
       dy=st.integers(-10, 8), dx=st.integers(-13, 10), predictor=st.sampled_from([1, 2]),
       dtype=st.sampled_from(["uint8", "uint16", "uint32"]), seed=st.integers(0, 2**16), data=st.data())
def test_place_tile_equals_numpy(samples, th, tw, dy, dx, predictor, dtype, seed, data):
    """Any tile, clipped anywhere, any pairing of samples with bands: the predictor undone
    (a wrapped cumulative sum) and the samples placed as numpy would."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    stored = rng.integers(0, info.max, (th, tw, samples), dtype=np.uint64, endpoint=True).astype(dtype)
    values = np.cumsum(stored, axis=1, dtype=dtype) if predictor == 2 else stored
    src = np.array(data.draw(st.lists(st.integers(0, samples - 1), min_size=1, max_size=samples)), np.int64)
    if data.draw(st.booleans()):  # every sample once, in some order
        src = rng.permutation(samples).astype(np.int64)
    dst = rng.permutation(src.size).astype(np.int64)
    shape = (6, 7)
    out = np.zeros((src.size, *shape), dtype)
    place_tile(stored.ravel(), out, samples=samples, src=src, dst=dst, dy=dy, dx=dx, tile_shape=(th, tw),
               predictor=predictor)
    np.testing.assert_array_equal(out, _placed(values, src, dst, src.size, shape, dy, dx))


def test_read_onto_uses_the_tiles_and_matches_gdal_beyond_the_file(tmp_path):
    """A target larger than the file and offset from it: the part the file covers, as GDAL reads it."""
    path = _write(tmp_path / "t.tif", _data("uint16"), predictor=2)
    with rasterio.open(path) as ds:
        grid = Grid.from_dataset(ds)
    for win in (Window(-10, -5, 60, 40), Window(40, 50, 80, 60), Window(0, 0, 90, 75), Window(95, 0, 5, 5)):
        target = grid.subgrid(win)
        fast = read_onto(path, [3, 1], target, source_grid=grid)
        slow = read_onto(path, [3, 1], target)
        if slow is None:
            assert fast is None
            continue
        assert (fast.row, fast.col, fast.valid) == (slow.row, slow.col, None)
        np.testing.assert_array_equal(fast.data, slow.data)


@pytest.mark.parametrize("what", ["lzw", "striped", "float_predictor", "big_endian", "sparse", "not_tiff",
                                  "missing", "truncated"])
def test_other_layouts_are_left_to_gdal(tmp_path, what):
    path = str(tmp_path / "t.tif")
    data = _data("uint16")
    if what == "lzw":
        _write(path, data, compress="lzw")
    elif what == "striped":
        with rasterio.open(path, "w", driver="GTiff", width=90, height=75, count=3, dtype="uint16", crs=CRS,
                           transform=from_origin(500000.0, 2500000.0, 10.0, 10.0), compress="deflate") as ds:
            ds.write(data)
    elif what == "float_predictor":
        _write(path, _data("float32"), predictor=3)
    elif what == "big_endian":
        _write(path, data, ENDIANNESS="BIG")
    elif what == "sparse":
        _write(path[:-4] + "_full.tif", data)
        with rasterio.open(path, "w", driver="GTiff", width=90, height=75, count=3, dtype="uint16", crs=CRS,
                           transform=from_origin(500000.0, 2500000.0, 10.0, 10.0), tiled=True, blockxsize=32, blockysize=32,
                           compress="deflate", sparse_ok=True) as ds:
            ds.write(data[:, :32, :32], window=Window(0, 0, 32, 32))
    elif what == "not_tiff":
        with open(path, "wb") as fh:
            fh.write(b"not a tiff at all")
    elif what == "truncated":
        _write(path, data)
        with open(path, "r+b") as fh:
            fh.truncate(os.path.getsize(path) - 100)
    assert tiffblocks.layout(path) is None


def test_a_corrupt_tile_is_read_by_gdal_whose_error_names_the_file(tmp_path):
    path = _write(tmp_path / "bad.tif", _data("uint16"), predictor=2)
    with rasterio.open(path) as ds:
        grid = Grid.from_dataset(ds)
        offset = int(ds.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=1))
        size = int(ds.get_tag_item("BLOCK_SIZE_1_1", "TIFF", bidx=1))
    good = read_onto(path, [1], grid.subgrid(Window(0, 0, 32, 32)), source_grid=grid).data
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(bytes(size))  # zeros: not a zlib stream
    lay = tiffblocks.layout(path)
    assert lay is not None  # the directory is intact
    with pytest.raises(tiffblocks.Undecodable):
        tiffblocks.read_window(path, lay, [1], 32, 32, 10, 10)
    with pytest.raises(TileReadError, match="bad.tif"):
        read_onto(path, [1], grid.subgrid(Window(32, 32, 10, 10)), source_grid=grid)
    # tiles elsewhere still read
    np.testing.assert_array_equal(read_onto(path, [1], grid.subgrid(Window(0, 0, 32, 32)), source_grid=grid).data,
                                  good)


def test_a_rewritten_file_is_read_anew(tmp_path):
    """The directory is cached per path, size and modification time: new content is seen."""
    path = tmp_path / "t.tif"
    _write(path, _data("uint16", seed=1))
    first = tiffblocks.read_window(str(path), tiffblocks.layout(str(path)), [1], 0, 0, 75, 90)
    os.remove(path)
    _write(path, _data("uint16", shape=(3, 75, 90), seed=2), block=16)
    lay = tiffblocks.layout(str(path))
    assert lay.tile_width == 16
    again = tiffblocks.read_window(str(path), lay, [1], 0, 0, 75, 90)
    np.testing.assert_array_equal(again, _gdal(str(path), [1], 0, 0, 75, 90))
    assert not np.array_equal(first, again)


def test_threads_read_side_by_side(tmp_path):
    """Each thread decodes into its own buffers."""
    path = _write(tmp_path / "t.tif", _data("uint16", shape=(6, 256, 256)), predictor=2)
    lay = tiffblocks.layout(path)
    want = _gdal(path, [1, 2, 3, 4, 5, 6], 0, 0, 256, 256)
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        for _ in range(200):
            r, c = (int(v) for v in rng.integers(0, 200, 2))
            got = tiffblocks.read_window(path, lay, [1, 2, 3, 4, 5, 6], r, c, 50, 50)
            if not np.array_equal(got, want[:, r:r + 50, c:c + 50]):
                errors.append((seed, r, c))

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_bad_requests_are_refused(tmp_path):
    path = _write(tmp_path / "t.tif", _data("uint8"))
    lay = tiffblocks.layout(path)
    with pytest.raises(ValueError, match="bands"):
        tiffblocks.read_window(path, lay, [4], 0, 0, 1, 1)
    with pytest.raises(ValueError, match="window"):
        tiffblocks.read_window(path, lay, [1], 70, 0, 10, 1)
    assert tiffblocks.read_window(path, lay, [1], 0, 0, 0, 5).shape == (1, 0, 5)


def test_place_tile_clips_and_unpredicts():
    """Hand-made: a 2x4 tile of two samples, horizontal differences, placed half outside."""
    values = np.array([[[1, 10], [2, 20], [3, 30], [4, 40]],
                       [[5, 50], [6, 60], [7, 70], [65535, 80]]], dtype=np.uint16)
    diffs = values.astype(np.int64).copy()
    diffs[:, 1:] -= values[:, :-1].astype(np.int64)
    buf = (diffs % 65536).astype(np.uint16).ravel()
    out = np.zeros((2, 3, 3), np.uint16)
    place_tile(buf, out, samples=2, src=np.array([1, 0]), dst=np.array([0, 1]), dy=1, dx=-1, tile_shape=(2, 4),
               predictor=2)
    np.testing.assert_array_equal(out[0], [[0, 0, 0], [20, 30, 40], [60, 70, 80]])
    np.testing.assert_array_equal(out[1], [[0, 0, 0], [2, 3, 4], [6, 7, 65535]])
    with pytest.raises(TypeError):
        place_tile(buf.astype(np.int16), out.astype(np.int16), samples=2, src=np.array([0]), dst=np.array([0]),
                   dy=0, dx=0, tile_shape=(2, 4), predictor=1)
    with pytest.raises(ValueError):
        place_tile(buf, out, samples=2, src=np.array([2]), dst=np.array([0]), dy=0, dx=0, tile_shape=(2, 4),
                   predictor=1)


def test_categorical_block_reads_use_the_tiles_inside_and_beyond_the_file(tmp_path, monkeypatch):
    """sinks.io's plain reads (land cover read back by later stages): the tiles' values,
    zeros beyond the file when boundless, GDAL's answer otherwise."""
    from sinks import io

    data = _data("uint8", shape=(1, 75, 90))
    path = _write(tmp_path / "lc.tif", data, block=32)
    for row, col, h, w in [(0, 0, 75, 90), (10, 20, 30, 40), (-5, -7, 20, 30), (60, 80, 40, 40), (80, 0, 5, 5)]:
        want = np.zeros((h, w), np.uint8)
        r0, c0, r1, c1 = max(row, 0), max(col, 0), min(row + h, 75), min(col + w, 90)
        if r1 > r0 and c1 > c0:
            want[r0 - row:r1 - row, c0 - col:c1 - col] = data[0, r0:r1, c0:c1]
        np.testing.assert_array_equal(io._read_plain(path, row, col, h, w, True), want)
    calls = []
    monkeypatch.setattr(tiffblocks, "read_window", lambda *a: calls.append(a) or (_ for _ in ()).throw(
        tiffblocks.Undecodable("x")))
    np.testing.assert_array_equal(io._read_plain(path, 3, 4, 5, 6), data[0, 3:8, 4:10])  # GDAL after a refusal
    assert calls
    calls.clear()
    np.testing.assert_array_equal(io._read_plain(path, 70, 0, 10, 5), _gdal(path, [1], 70, 0, 10, 5)[0])
    assert not calls  # past the file's edge without boundless: left to GDAL


def test_take_u8_is_numpy_take():
    from sinks._kernels.codes import take_u8

    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (37, 53)).astype(np.uint8)
    for dtype in (np.float32, np.float64):
        lut = rng.normal(size=256).astype(dtype)
        lut[7] = np.nan
        got = take_u8(lut, a)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, np.take(lut, a))
    with pytest.raises(ValueError):
        take_u8(np.zeros(255), a)
