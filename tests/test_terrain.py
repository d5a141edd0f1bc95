"""Terrain shadow from a DEM and the sun's position: illumination, the rules' screen, the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from affine import Affine

from sinks.classify.rules import classify_block, load_rules
from sinks.classify.terrain import illumination_block
from sinks.cli import main
from sinks.landcover import CODES

X0, Y0 = 500000.0, 2400000.0


def _plane(slope_deg: float, facing: str, n: int = 5, res: float = 10.0) -> np.ndarray:
    """A plane falling towards ``facing`` (north/south/east) at ``slope_deg``."""
    drop = math.tan(math.radians(slope_deg)) * res
    r, c = np.mgrid[0:n, 0:n].astype(float)
    return {"north": r * drop, "south": -r * drop, "east": -c * drop}[facing] + 1000.0


def test_illumination_of_planes():
    # sun from the south at 20 degrees: a 30-degree north face is in its own shadow, the south face lit
    north = illumination_block(_plane(30, "north"), dx=10, dy=10, sun_elevation=20, sun_azimuth=180)
    south = illumination_block(_plane(30, "south"), dx=10, dy=10, sun_elevation=20, sun_azimuth=180)
    flat = illumination_block(np.full((5, 5), 50.0), dx=10, dy=10, sun_elevation=20, sun_azimuth=180)
    np.testing.assert_allclose(north, math.cos(math.radians(100)), atol=1e-6)
    np.testing.assert_allclose(south, math.cos(math.radians(40)), atol=1e-6)
    np.testing.assert_allclose(flat, math.sin(math.radians(20)), atol=1e-6)
    # an east face under a morning sun from the east is lit as if the sun stood 30 degrees higher
    east = illumination_block(_plane(30, "east"), dx=10, dy=10, sun_elevation=20, sun_azimuth=90)
    np.testing.assert_allclose(east, math.cos(math.radians(40)), atol=1e-6)
    assert north.shape == (3, 3)


def test_shaded_observations_are_not_counted():
    # winter: a shaded slope, dim and water-like (green above NIR/SWIR: MNDWI > 0); summer: grassland
    winter = (0.05, 0.07, 0.05, 0.09, 0.04, 0.03)
    summer = (0.045, 0.08, 0.08, 0.26, 0.23, 0.135)
    stack = np.stack([np.broadcast_to(np.array(o, np.float32)[:, None, None], (6, 2, 2)) for o in (winter, summer)])
    cfg = load_rules({"wetland": {"min_wet_observations": 1}})   # one wet date would make wetland
    lc = classify_block(stack, cfg=cfg, mndwi_t=0.0, mvi_t=4.5, coastal=None)
    assert (lc == CODES["wetland"]).all()
    shaded = np.zeros((2, 2, 2), bool)
    shaded[0] = True                                             # the winter date is in terrain shadow
    lc = classify_block(stack, cfg=cfg, mndwi_t=0.0, mvi_t=4.5, coastal=None, shaded=shaded)
    assert (lc == CODES["grassland"]).all()
    lc = classify_block(stack[:1], cfg=cfg, mndwi_t=0.0, mvi_t=4.5, coastal=None, shaded=shaded[:1])
    assert (lc == 0).all()                                       # nothing seen: nodata


def _write(path, arr, *, tags=None, dtype="uint16", descriptions=None, res=10.0):
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[-1], height=arr.shape[-2],
                       count=1 if arr.ndim == 2 else arr.shape[0], dtype=dtype, crs="EPSG:32649",
                       transform=Affine(res, 0, X0, 0, -res, Y0), nodata=0 if dtype == "uint16" else -9999) as ds:
        ds.write(arr if arr.ndim == 3 else arr[None])
        if tags:
            ds.update_tags(**tags)
        for i, d in enumerate(descriptions or [], 1):
            ds.set_band_description(i, d)
    return path


def test_classify_with_a_dem(tmp_path, capsys):
    # a valley side: north-facing 40-degree slope in the top half (shaded by a low southern sun),
    # flat ground below; the image is the same dim water-like grass everywhere in winter
    n = 16
    dem = np.full((n, n), 500.0, np.float32)
    drop = math.tan(math.radians(40)) * 10
    dem[:8] = 500.0 + np.arange(8)[:, None] * drop               # rising to the south: a north face
    dem_path = _write(tmp_path / "dem.tif", dem, dtype="float32")
    img = np.zeros((6, n, n), np.uint16)
    img[:] = np.array([500, 700, 500, 900, 400, 300], np.uint16)[:, None, None]
    roles = ["blue", "green", "red", "nir", "swir1", "swir2"]
    tagged = _write(tmp_path / "winter.tif", img, descriptions=roles,
                    tags={"SCALE": "0.0001", "ACQUISITION_DATE": "2020-01-10", "SUN_ELEVATION": "25",
                          "SUN_AZIMUTH": "170"})
    rules = tmp_path / "r.yaml"
    rules.write_text("wetland: {min_wet_observations: 1}\n")

    def run(*extra):
        with pytest.raises(SystemExit) as ei:
            main(["classify", *extra, "-o", str(tmp_path / "lc.tif"), "--overwrite", "--mmu", "none",
                  "--rules", str(rules)])
        return ei.value.code

    assert run(str(tagged)) == 0
    without = rasterio.open(tmp_path / "lc.tif").read(1)
    assert run(str(tagged), "--dem", str(dem_path)) == 0, capsys.readouterr().err
    with_dem = rasterio.open(tmp_path / "lc.tif").read(1)
    assert (without == CODES["wetland"]).all()
    # inside the DEM (its edge pixels have no 3 x 3 window: never shaded)
    assert (with_dem[1:7, 1:15] == 0).all() and (with_dem[9:] == CODES["wetland"]).all()
    assert "terrain shadow" in capsys.readouterr().out
    untagged = _write(tmp_path / "untagged.tif", img, descriptions=roles,
                      tags={"SCALE": "0.0001", "ACQUISITION_DATE": "2020-01-10"})
    assert run(str(untagged), "--dem", str(dem_path)) == 2
    err = capsys.readouterr().err
    assert "untagged.tif" in err and "--sun" in err
    assert run(str(untagged), "--dem", str(dem_path), "--sun", "25,170") == 0
    np.testing.assert_array_equal(rasterio.open(tmp_path / "lc.tif").read(1), with_dem)
    assert run(str(untagged), "--dem", str(dem_path), "--sun", "up") == 2
    assert run(str(untagged), "--dem", str(tmp_path / "nodem.tif"), "--sun", "25,170") == 2
