"""Change codes (from*16+to), decoding, colours and the change-map COG, on hand-made arrays."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import rasterio
import xarray as xr

from sinks.change import (LOSS_TARGETS, change_codes, change_colormap, change_legend, change_output, decode,
                          is_eco_loss)
from sinks.errors import GridMismatchError
from sinks.grid import Grid
from sinks.landcover import CODES
from sinks.outputs import write_rasters

F, G, W, M = CODES["forest"], CODES["grassland"], CODES["water"], CODES["mangrove"]
C, B, R = CODES["cropland"], CODES["built_up"], CODES["bare"]

A = np.array([[F, G, 0, W], [W, B, C, 9]], np.uint8)
Z = np.array([[B, G, F, 0], [W, F, B, F]], np.uint8)
EXPECTED = np.array([[F * 16 + B, G * 16 + G, 0, 0], [W * 16 + W, B * 16 + F, C * 16 + B, 0]], np.uint8)


def test_codes_by_hand_numpy():
    c = change_codes(A, Z)
    assert c.dtype == np.uint8
    np.testing.assert_array_equal(c, EXPECTED)        # 0 = nodata either side; 9 is not a legend code
    assert int(c[0, 0]) == 23                          # forest (1) -> built_up (7)


def test_codes_lazy_dask_and_xarray():
    a = da.from_array(A, chunks=(1, 2))
    c = change_codes(a, Z)                             # numpy second operand is rechunked like the first
    assert isinstance(c, da.Array) and c.chunks == a.chunks
    np.testing.assert_array_equal(c.compute(), EXPECTED)
    xa = xr.DataArray(a, dims=("y", "x"))
    cx = change_codes(xa, xr.DataArray(da.from_array(Z, chunks=2), dims=("y", "x")))
    assert isinstance(cx, da.Array)
    np.testing.assert_array_equal(cx.compute(), EXPECTED)


def test_custom_nodata_and_shape_mismatch():
    a = np.array([[F, 255]], np.uint8)
    b = np.array([[B, B]], np.uint8)
    np.testing.assert_array_equal(change_codes(a, b, nodata=255), [[23, 0]])
    np.testing.assert_array_equal(change_codes(a, b, nodata=F), [[0, 0]])  # forest declared nodata
    with pytest.raises(GridMismatchError):
        change_codes(a, np.zeros((2, 2), np.uint8))


def test_decode_and_eco_loss():
    assert decode(23) == (1, 7) and isinstance(decode(23)[0], int)
    f, t = decode(EXPECTED)
    np.testing.assert_array_equal(f, [[F, G, 0, 0], [W, B, C, 0]])
    np.testing.assert_array_equal(t, [[B, G, 0, 0], [W, F, B, 0]])
    loss = is_eco_loss(np.array([F * 16 + B, W * 16 + C, M * 16 + R, G * 16 + F, C * 16 + B, 0, F * 16 + F]))
    np.testing.assert_array_equal(loss, [True, True, True, False, False, False, False])
    assert set(LOSS_TARGETS) == {"built_up", "cropland", "bare"}


def test_colours_and_legend():
    cmap = change_colormap()
    assert cmap[0][3] == 0                               # nodata transparent
    assert cmap[F * 16 + F] == (225, 225, 225, 255)      # persistence grey
    assert cmap[F * 16 + B] == (215, 25, 28, 255)        # ecological loss red
    assert cmap[C * 16 + F] == (26, 150, 65, 255)        # ecological gain green
    assert len(cmap) == 1 + 8 * 8
    legend = change_legend()
    assert legend[23] == "forest->built_up" and len(legend) == 64


def test_change_output_writes_categorical_cog(tmp_path):
    grid = Grid("EPSG:32649", rasterio.transform.from_origin(500000, 2400000, 10, 10), 4, 2)
    out = change_output(da.from_array(A, chunks=2), da.from_array(Z, chunks=2), tmp_path / "change_a_b.tif")
    assert out.categorical and out.nodata == 0
    write_rasters([out], grid, overwrite=False)
    with rasterio.open(tmp_path / "change_a_b.tif") as ds:
        np.testing.assert_array_equal(ds.read(1), EXPECTED)
        assert ds.nodata == 0 and ds.dtypes[0] == "uint8"
        assert ds.colormap(1)[23][:3] == (215, 25, 28)
        assert "23=forest->built_up" in ds.tags()["legend"]


def test_compiled_pair_codes_match_the_table_formula():
    from sinks.change import _block, _table

    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, size=(37, 53), dtype=np.uint8)
    b = rng.integers(0, 12, size=(37, 53), dtype=np.uint8)
    for nodata in (0, 255, 4):
        lut = _table(nodata)
        fa, tb = lut[a], lut[b]
        expected = np.where((fa == 0) | (tb == 0), 0, fa * 16 + tb).astype(np.uint8)
        np.testing.assert_array_equal(_block(a, b, nodata), expected)
        np.testing.assert_array_equal(_block(a[::2, ::3], b[::2, ::3], nodata), expected[::2, ::3])


def test_legend_colours_cli(capsys):
    import json

    from sinks.cli import main

    for args in (["legend", "--colours"], ["legend", "--json", "--colours"]):
        with pytest.raises(SystemExit) as ei:
            main(args)
        assert ei.value.code == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["1"] == {"name": "forest", "label": "Forest", "colour": "#006400"}
        assert all({"name", "label", "colour"} <= set(v) for v in doc.values())
    with pytest.raises(SystemExit):
        main(["legend", "--json"])
    assert json.loads(capsys.readouterr().out)["1"] == "forest"   # the contract: code -> name
