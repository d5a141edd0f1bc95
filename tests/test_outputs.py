"""Raster outputs: the in-memory and the streaming COG paths write the same files."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_validate

import sinks.outputs as outputs
from sinks.errors import OutputExistsError
from sinks.grid import Grid
from sinks.outputs import RasterOutput, write_rasters


def _layers(tmp_path, tag):
    rng = np.random.default_rng(7)
    classes = rng.integers(0, 9, size=(1100, 700)).astype("uint8")
    density = rng.random((1100, 700)).astype("float32")
    density[:10, :10] = np.nan
    return [
        RasterOutput(tmp_path / f"{tag}_lc.tif", da.from_array(classes, chunks=256), nodata=0, categorical=True,
                     description="land cover", colormap={1: (0, 100, 0, 255)}, tags={"legend": "1=forest"}),
        RasterOutput(tmp_path / f"{tag}_density.tif", da.from_array(density, chunks=256) * 2, nodata=float("nan"),
                     description="density", tags={"units": "Mg C/ha"}),
    ], classes, density * 2


def test_in_memory_and_streaming_paths_agree(tmp_path, monkeypatch):
    grid = Grid("EPSG:32649", from_origin(500000, 2400000, 10, 10), 700, 1100)
    small, classes, density = _layers(tmp_path, "mem")
    assert sum(grid.width * grid.height * np.dtype(o.data.dtype).itemsize for o in small) <= outputs.IN_MEMORY_BYTES
    write_rasters(small, grid, overwrite=False)
    monkeypatch.setattr(outputs, "IN_MEMORY_BYTES", 0)  # force the two-stage streaming path
    big, _, _ = _layers(tmp_path, "stream")
    write_rasters(big, grid, overwrite=False)
    for tag in ("mem", "stream"):
        for name in ("lc", "density"):
            assert cog_validate(str(tmp_path / f"{tag}_{name}.tif"), quiet=True)[0]
        with rasterio.open(tmp_path / f"{tag}_lc.tif") as ds:
            np.testing.assert_array_equal(ds.read(1), classes)
            assert ds.nodata == 0 and ds.descriptions[0] == "land cover"
            assert ds.colormap(1)[1] == (0, 100, 0, 255) and ds.tags()["legend"] == "1=forest"
            assert ds.overviews(1) == [2, 4]
            assert ds.crs.to_epsg() == 32649 and ds.transform == grid.transform
        with rasterio.open(tmp_path / f"{tag}_density.tif") as ds:
            np.testing.assert_array_equal(ds.read(1), density)
            assert np.isnan(ds.nodata) and ds.tags()["units"] == "Mg C/ha"
    for name in ("lc", "density"):
        with rasterio.open(tmp_path / f"mem_{name}.tif") as a, rasterio.open(tmp_path / f"stream_{name}.tif") as b:
            np.testing.assert_array_equal(a.read(1, out_shape=(275, 175)), b.read(1, out_shape=(275, 175)))


def test_failed_compute_leaves_no_file(tmp_path):
    grid = Grid("EPSG:32649", from_origin(500000, 2400000, 10, 10), 4, 4)

    def boom(block):
        raise RuntimeError("decode failed")

    bad = da.zeros((4, 4), chunks=2, dtype="float32").map_blocks(boom, dtype="float32")
    good = RasterOutput(tmp_path / "good.tif", da.ones((4, 4), chunks=2, dtype="float32"))
    with pytest.raises(RuntimeError, match="decode failed"):
        write_rasters([good, RasterOutput(tmp_path / "bad.tif", bad)], grid, overwrite=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_existing_output_refused_before_compute(tmp_path):
    grid = Grid("EPSG:32649", from_origin(500000, 2400000, 10, 10), 4, 4)
    (tmp_path / "a.tif").write_bytes(b"keep")
    with pytest.raises(OutputExistsError, match="a.tif"):
        write_rasters([RasterOutput(tmp_path / "a.tif", np.ones((4, 4), "float32"))], grid, overwrite=False)
    assert (tmp_path / "a.tif").read_bytes() == b"keep"


@pytest.mark.parametrize("in_memory", [True, False])
def test_lookup_layer_overviews_hold_table_values(tmp_path, monkeypatch, in_memory):
    """A piecewise-constant float layer (``smooth=False``: a lookup of the classes) gets
    nearest-neighbour overviews, so every overview pixel is one of the table's values;
    a smooth layer gets averages."""
    if not in_memory:
        monkeypatch.setattr(outputs, "IN_MEMORY_BYTES", 0)
    grid = Grid("EPSG:32649", from_origin(500000, 2400000, 10, 10), 1400, 1200)
    rng = np.random.default_rng(11)
    classes = rng.integers(1, 5, size=(1200, 1400))
    table = np.array([np.nan, 12.5, 80.25, 3.0, 140.75], dtype=np.float32)
    lookup = table[classes]
    outs = [RasterOutput(tmp_path / "lookup.tif", da.from_array(lookup, chunks=512), nodata=float("nan"), smooth=False),
            RasterOutput(tmp_path / "smooth.tif", da.from_array(lookup, chunks=512), nodata=float("nan"))]
    write_rasters(outs, grid, overwrite=False)
    with rasterio.open(tmp_path / "lookup.tif") as ds:
        assert ds.overviews(1) and ds.profile["compress"].lower() == "zstd"
        ov = ds.read(1, out_shape=(ds.height // ds.overviews(1)[0], ds.width // ds.overviews(1)[0]))
        assert np.array_equal(ds.read(1), lookup)
    assert set(np.unique(ov).tolist()) <= set(table[1:].tolist())
    with rasterio.open(tmp_path / "smooth.tif") as ds:
        ov = ds.read(1, out_shape=(ds.height // ds.overviews(1)[0], ds.width // ds.overviews(1)[0]))
    assert not set(np.unique(ov).tolist()) <= set(table[1:].tolist())  # averages blend the classes
