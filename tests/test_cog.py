"""The one-pass COG writer (sinks.cog) against GDAL's COG driver: the same pixels at every
level, the same tags, colour table and nodata; valid COGs; on threads and on a cluster."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

import sinks.outputs as outputs
from sinks.cog import _pick, nearest_index, overview_shapes
from sinks.grid import Grid
from sinks.outputs import RasterOutput


def _layers(h: int, w: int, chunks: int, where: Path) -> tuple[Grid, list[RasterOutput]]:
    rng = np.random.default_rng(h * 7 + w)
    patches = rng.integers(0, 9, (h // 37 + 1, w // 37 + 1)).astype(np.uint8)
    lc = np.kron(patches, np.ones((37, 37), np.uint8))[:h, :w]
    lc[rng.random((h, w)) < 0.01] = 5  # salt: nearest overviews must pick exactly GDAL's pixels
    dens = np.where(lc == 0, np.nan, lc * np.float32(10.5) + rng.random((h, w), np.float32)).astype(np.float32)
    cmap = {i: (i * 20, 255 - i * 20, 100, 255) for i in range(1, 9)}
    cmap[0] = (0, 0, 0, 0)
    grid = Grid(crs=CRS.from_epsg(32649), transform=from_origin(400000, 2400000, 10, 10), width=w, height=h)
    return grid, [
        RasterOutput(where / "lc.tif", da.from_array(lc, chunks=chunks), nodata=0, categorical=True, colormap=cmap,
                     description="land cover", tags={"legend": "1=forest,2=grassland"}),
        RasterOutput(where / "sub" / "dens.tif", da.from_array(dens, chunks=chunks), nodata=np.nan,
                     description="density", tags={"units": "Mg C/ha"}, smooth=False),
        # averaged overviews: GDAL's COG driver after the pass, in the same pass as the others
        RasterOutput(where / "ndvi.tif", da.from_array(dens / np.float32(100.0), chunks=chunks), nodata=np.nan,
                     description="NDVI", tags={"index": "ndvi"}),
    ]


def _same_files(a: Path, b: Path) -> None:
    with rasterio.open(a) as x, rasterio.open(b) as y:
        assert (x.shape, x.dtypes, x.crs, x.transform, x.descriptions) == (y.shape, y.dtypes, y.crs, y.transform,
                                                                              y.descriptions)
        assert x.tags() == y.tags() and x.overviews(1) == y.overviews(1) and x.block_shapes == y.block_shapes
        assert x.profile["compress"] == y.profile["compress"] and str(x.nodata) == str(y.nodata)
        if x.dtypes[0] == "uint8":
            assert x.colormap(1) == y.colormap(1)
        levels = len(x.overviews(1))
    assert levels >= 2
    for k in range(-1, levels):  # every level, full resolution first
        opts = {} if k < 0 else {"OVERVIEW_LEVEL": k}
        with rasterio.open(a, **opts) as x, rasterio.open(b, **opts) as y:
            np.testing.assert_array_equal(x.read(1), y.read(1))


@pytest.mark.parametrize("h, w, chunks", [(3001, 2049, 700), (1536, 1100, 512),
                                          (1536, 1100, ((512, 300, 212, 512), (512, 588))),
                                          (3001, 2049, 1024), (2600, 2300, ((1000, 1100, 500), (1100, 1200)))])
def test_one_pass_cogs_equal_gdal_cog_driver_at_every_level(tmp_path, monkeypatch, h, w, chunks):
    from rio_cogeo.cogeo import cog_validate

    grid, gdal = _layers(h, w, chunks, tmp_path / "gdal")
    for o in gdal:
        o.path.parent.mkdir(parents=True, exist_ok=True)
    outputs._write_in_memory(gdal, [o.path for o in gdal], grid, {}, blocksize=512, compress=None, validate=False)
    grid, mine = _layers(h, w, chunks, tmp_path / "mine")
    monkeypatch.setattr(outputs, "IN_MEMORY_BYTES", 0)  # the streaming path
    paths = outputs.write_rasters(mine, grid, overwrite=False)
    for g, m in zip(gdal, paths):
        _same_files(g.path, m)
        ok, errors, _ = cog_validate(str(m), quiet=True)
        # rio-cogeo calls an overview exactly one block wide "not tiled"; GDAL's own file says the same
        assert ok or errors == cog_validate(str(g.path), quiet=True)[1], errors
    assert not [p for p in tmp_path.rglob(".*") if "part" in p.name]  # no part files or tile folders left


def test_overview_index_is_gdal_nearest():
    assert overview_shapes(5000, 3000, 512) == [(2500, 1500), (1250, 750), (625, 375), (312, 187)]
    assert nearest_index(625, 312)[[0, 155, 156, 311]].tolist() == [0, 310, 313, 623]  # odd level: shifts by one
    assert nearest_index(1250, 625).tolist() == list(range(0, 1250, 2))


@pytest.mark.parametrize("n", [2, 3, 7, 625, 1250, 1251])
def test_overview_pick_equals_fancy_indexing(n):
    """Even halvings are picked by strided slices, odd ones by index arrays: the same pixels either way."""
    a = np.random.default_rng(n).integers(0, 255, (n, n + 3)).astype(np.uint8)
    rows, cols = nearest_index(n, max(n // 2, 1)), nearest_index(n + 3, max((n + 3) // 2, 1))
    for r, c in [(rows, cols), (rows[1:4], cols[:1]), (rows[-2:], cols[2:]), (rows[:0], cols)]:
        got = _pick(a, r, c)
        assert got.flags.c_contiguous and np.array_equal(got, a[np.ix_(r, c)])


def test_failed_pass_leaves_no_tiles_and_no_file(tmp_path, monkeypatch):
    grid, mine = _layers(1100, 1100, 512, tmp_path)

    def boom(block):
        raise ValueError("bad block")

    mine[1].data = mine[1].data.map_blocks(boom, dtype=np.float32)
    monkeypatch.setattr(outputs, "IN_MEMORY_BYTES", 0)
    with pytest.raises(ValueError, match="bad block"):
        outputs.write_rasters(mine, grid, overwrite=False)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in tmp_path.rglob(".*")]


def test_one_pass_writer_runs_on_dask_distributed_worker_processes(tmp_path, monkeypatch):
    """The tile tasks hold no file handle or lock of the client: worker processes write the
    parts, the client lays out the file, and the result equals the threaded one, whose
    tasks hand their tiles back in their records (no part files)."""
    distributed = pytest.importorskip("distributed")
    folders = []
    real = outputs._parts_folder

    def spy(tmp, *, compressed):
        folders.append((compressed, real(tmp, compressed=compressed)))
        return folders[-1][1]

    monkeypatch.setattr(outputs, "_parts_folder", spy)
    grid, here = _layers(1536, 1100, 512, tmp_path / "threads")
    monkeypatch.setattr(outputs, "IN_MEMORY_BYTES", 0)
    outputs.write_rasters(here, grid, overwrite=False)
    # compressed tiles come back in the records; the NDVI's uncompressed intermediate, a
    # whole layer's pixels, goes through a folder
    assert sorted(c for c, _f in folders) == [False, True, True]
    assert all((f is None) == c for c, f in folders)
    folders.clear()
    grid, there = _layers(1536, 1100, 512, tmp_path / "cluster")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  worker_dashboard_address=None) as cluster, distributed.Client(cluster):
        outputs.write_rasters(there, grid, overwrite=False)
    assert len(folders) == 3 and all(f is not None and not f.exists() for _c, f in folders)  # used, removed
    for a, b in zip(here, there):
        _same_files(a.path, b.path)


@pytest.mark.parametrize("dtype, compress", [("uint8", "DEFLATE"), ("float32", "ZSTD"), ("uint16", "NONE"),
                                             ("float32", "LZW")])
@pytest.mark.parametrize("shape", [(512, 512), (700, 1100), (40, 30), (1024, 1536)])
def test_tile_spans_are_the_ones_gdal_reports(shape, dtype, compress):
    """The tiles' places read from the TIFF's own tags are those GDAL gives per block, for
    whole and partial tiles, every codec, and byte counts small enough for 16-bit tags."""
    from rasterio.io import MemoryFile

    from sinks.cog import _tile_spans

    rng = np.random.default_rng(shape[0])
    data = (rng.integers(0, 3, shape) * (rng.random(shape) < 0.5)).astype(dtype)
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=shape[1], height=shape[0], count=1, dtype=dtype, tiled=True,
                      blockxsize=512, blockysize=512, compress=compress, transform=from_origin(0, shape[0], 1, 1)) as ds:
            ds.write(data, 1)
        raw = bytes(mem.getbuffer())
        ny, nx = -(-shape[0] // 512), -(-shape[1] // 512)
        with mem.open() as ds:
            want = [(int(ds.get_tag_item(f"BLOCK_OFFSET_{x}_{y}", "TIFF", bidx=1) or 0),
                     int(ds.get_tag_item(f"BLOCK_SIZE_{x}_{y}", "TIFF", bidx=1) or 0))
                    for y in range(ny) for x in range(nx)]
    assert _tile_spans(raw, ny * nx) == want
    with pytest.raises(ValueError, match="tiles where"):
        _tile_spans(raw, ny * nx + 1)


@pytest.mark.parametrize("dtype, compress", [("uint8", "DEFLATE"), ("uint16", "DEFLATE"), ("float32", "DEFLATE"),
                                             ("uint8", "NONE"), ("float32", "NONE")])
@pytest.mark.parametrize("shape", [(512, 512), (700, 1100), (40, 30), (1024, 1536)])
def test_tiles_encoded_without_gdal_are_gdals_bytes(shape, dtype, compress):
    """DEFLATE at GDAL's default level and uncompressed tiles, made without a GDAL dataset,
    are byte for byte the tiles GDAL writes (edge tiles padded as GDAL pads them); other
    layouts, and DEFLATE where no libdeflate level gives GDAL's bytes, are left to GDAL."""
    from types import SimpleNamespace

    from sinks.cog import _direct_tiles, _encode, _gdal_deflate_level

    rng = np.random.default_rng(shape[1])
    data = (rng.integers(0, 9, shape) * (rng.random(shape) < 0.7)).astype(dtype)
    data[: shape[0] // 3] = 4  # long runs as well as noise
    opts = {"TILED": "YES", "BLOCKXSIZE": "512", "BLOCKYSIZE": "512", "COMPRESS": compress, "INTERLEAVE": "BAND",
            "PREDICTOR": "1"}
    plan = SimpleNamespace(gtiff_options=tuple(opts.items()), dtype=dtype, nodata=0, blocksize=512)
    raw, spans = _encode(data, plan)
    mine = _direct_tiles(data, plan)
    if compress == "DEFLATE" and _gdal_deflate_level() is None:  # this libdeflate cannot: GDAL encodes
        assert mine is None
    else:
        assert mine == [raw[off:off + size] for off, size in spans]
    for other in ({"PREDICTOR": "2"}, {"COMPRESS": "LZW"}, {"ZLEVEL": "1"}, {"COMPRESS": "ZSTD", "ZSTD_LEVEL": "x"}):
        assert _direct_tiles(data, SimpleNamespace(**{**vars(plan), "gtiff_options": tuple({**opts, **other}.items())
                                                      })) is None


@pytest.mark.parametrize("dtype", ["float32", "uint8", "int16"])
@pytest.mark.parametrize("level", [None, "1", "9"])
@pytest.mark.parametrize("shape", [(512, 512), (700, 1100), (40, 30)])
def test_zstd_tiles_encoded_without_gdal_decode_to_gdals_tiles(shape, level, dtype):
    """ZSTD tiles made without a GDAL dataset hold, once decoded, exactly the bytes of GDAL's
    tiles at the same level (edge tiles padded alike), and a GeoTIFF built from them reads
    back as the data, through GDAL."""
    from types import SimpleNamespace

    from imagecodecs import zstd_decode
    from rasterio.io import MemoryFile

    from sinks.cog import _direct_tiles, _encode

    rng = np.random.default_rng(shape[0])
    data = (rng.integers(0, 9, shape) * (rng.random(shape) < 0.7)).astype(dtype)
    data[: shape[0] // 3] = 4
    if dtype == "float32":
        data[shape[0] // 2:] = rng.random((shape[0] - shape[0] // 2, shape[1]))  # smooth values too
    opts = {"TILED": "YES", "BLOCKXSIZE": "512", "BLOCKYSIZE": "512", "COMPRESS": "ZSTD", "INTERLEAVE": "BAND",
            "PREDICTOR": "1", **({"ZSTD_LEVEL": level} if level else {})}
    plan = SimpleNamespace(gtiff_options=tuple(opts.items()), dtype=dtype, nodata=0, blocksize=512)
    raw, spans = _encode(data, plan)
    mine = _direct_tiles(data, plan)
    assert [zstd_decode(t) for t in mine] == [zstd_decode(raw[off:off + size]) for off, size in spans]
    # and GDAL reads them: GDAL's own file with its tiles replaced by these
    with MemoryFile(_with_tiles(raw, spans, mine)) as mem, mem.open() as ds:
        assert np.array_equal(ds.read(1), data)


def _with_tiles(tiff: bytes, spans, tiles) -> bytes:
    """A one-band tiled TIFF whose tiles are replaced by ``tiles``, appended at its end, with
    its TileOffsets and TileByteCounts rewritten (classic TIFF, 32-bit offsets)."""
    import struct

    out = bytearray(tiff)
    offsets, counts = [], []
    for t in tiles:
        offsets.append(len(out))
        counts.append(len(t))
        out += t
    (ifd,) = struct.unpack_from("<I", out, 4)
    (n,) = struct.unpack_from("<H", out, ifd)
    for i in range(n):
        tag, _typ, count, _value = struct.unpack_from("<HHII", out, ifd + 2 + 12 * i)
        if tag in (324, 325):
            values = offsets if tag == 324 else counts
            if count == 1:
                struct.pack_into("<HHII", out, ifd + 2 + 12 * i, tag, 4, 1, values[0])
            else:
                struct.pack_into("<HHII", out, ifd + 2 + 12 * i, tag, 4, count, len(out))
                out += struct.pack(f"<{count}I", *values)
    return bytes(out)


def test_the_deflate_level_is_found_on_this_machine():
    """The wheels this project installs reproduce GDAL's DEFLATE tiles at some level (a
    changed build would silently fall back to GDAL's slower encoder: this says so)."""
    from sinks.cog import _gdal_deflate_level

    assert _gdal_deflate_level() is not None


def test_blocks_off_the_tile_lattice_are_put_together_by_their_tile_tasks(tmp_path):
    """Chunks off the 512-px lattice: one task per lattice block takes the chunks it overlaps
    (no rechunking pass), and the blocks it compresses are the array's pixels there."""
    import dask

    from sinks.cog import cog_graph, encode_block, encode_pieces, lattice_chunks, plan_cog

    grid, outs = _layers(1536, 1100, ((512, 300, 212, 512), (512, 588)), tmp_path)
    data = outs[0].data
    plan = plan_cog(outs[0], grid, blocksize=512, options={"compress": "NONE", "predictor": "NO"}, parts=None,
                    overviews=False)
    assert lattice_chunks(data.chunks[0], 512) == (512, 512, 512)
    assert lattice_chunks(data.chunks[1], 512) == (512, 588)  # inner edges on the lattice: kept
    graph = dict(cog_graph(data, plan).__dask_graph__())
    assert not [k for k in graph if "rechunk" in str(k)]
    level0 = [v for v in graph.values() if isinstance(v, tuple) and v[0] in (encode_block, encode_pieces)]
    assert len(level0) == 6 and sum(v[0] is encode_block for v in level0) == 4  # chunks that are blocks as they are
    records = dask.compute(cog_graph(data, plan), scheduler="sync")[0]
    whole = np.asarray(data)
    for rec in records:
        raw = rec["part"]
        tiles = np.frombuffer(raw, np.uint8).reshape(-1, 512, 512)
        r0, c0 = rec["row"] * 512, rec["col"] * 512
        ny, nx = rec["ntiles"]
        assert len(tiles) == ny * nx
        for k in range(ny * nx):
            y, x = r0 + 512 * (k // nx), c0 + 512 * (k % nx)
            want = whole[y:y + 512, x:x + 512]
            np.testing.assert_array_equal(tiles[k][:want.shape[0], :want.shape[1]], want)


@pytest.mark.parametrize("h, w, chunks, fused", [(3001, 2049, 1024, True), (2048, 2048, 2048, True),
                                                 (3001, 2049, 512, False), (3001, 2049, 700, False)])
def test_block_tasks_make_level_one_when_its_tiles_lie_in_one_block(tmp_path, h, w, chunks, fused):
    """Blocks of 2 x 2 tiles or more: each level-1 tile takes its pixels from one block, whose
    task compresses it too (no level-1 tasks); smaller blocks leave level 1 to tasks of its own."""
    from sinks.cog import cog_graph, plan_cog

    grid, outs = _layers(h, w, chunks, tmp_path)
    plan = plan_cog(outs[0], grid, blocksize=512, options={"compress": "DEFLATE", "predictor": "NO"}, parts=None)
    graph = dict(cog_graph(outs[0].data, plan).__dask_graph__())
    level1 = [k for k in graph if isinstance(k, str) and "-1-" in k.split("cog-")[-1][10:13]]
    assert (not level1) == fused
