"""Dates, scaling and radiometry read from the tiles' own metadata; the input grid kept exactly."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import rasterio
from affine import Affine

from sinks.cli import main
from sinks.landcover import CODES
from sinks.metadata import parse_date, tile_meta

# surface reflectance x 10 000 of a forest and a grassland row (blue, green, red, nir, swir1, swir2)
FOREST = (280, 580, 320, 3300, 1550, 650)
GRASS = (450, 800, 800, 2600, 2300, 1350)


def _stack(offset_dn: int = 0) -> np.ndarray:
    a = np.zeros((6, 16, 16), np.uint16)
    a[:, :8] = (np.array(FOREST) + offset_dn)[:, None, None]
    a[:, 8:] = (np.array(GRASS) + offset_dn)[:, None, None]
    return a


def _write(path, data, *, tags=None, transform=Affine(10, 0, 500000, 0, -10, 2400000), scales=None, offsets=None,
           descriptions=("B02", "B03", "B04", "B08", "B11", "B12")):
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                       dtype=data.dtype.name, crs="EPSG:32649", transform=transform, nodata=0) as ds:
        ds.write(data)
        for i, d in enumerate(descriptions, 1):
            ds.set_band_description(i, d)
        if tags:
            ds.update_tags(**tags)
        if scales:
            ds.scales = scales
        if offsets:
            ds.offsets = offsets
    return path


def _run(args, capsys):
    with pytest.raises(SystemExit) as ei:
        main(args)
    out = capsys.readouterr()
    return ei.value.code, out.out, out.err


def test_tile_meta_reads_dates_scaling_and_radiometry():
    assert parse_date("2023-08-20T02:55:19.024Z") == dt.date(2023, 8, 20)
    assert parse_date("2015:07:11 10:05:47") == dt.date(2015, 7, 11)
    assert parse_date("2000") is None and parse_date("soon") is None and parse_date("2021-02-30") is None
    m = tile_meta({"DATATAKE_1_DATATAKE_SENSING_START": "2023-05-02T03:05:59.024Z", "BOA_ADD_OFFSET": "-1000",
                   "QUANTIFICATION_VALUE": "10000", "PROCESSING_LEVEL": "Level-2A"}, scales=[1.0] * 6, offsets=[0.0] * 6)
    assert m.date == dt.date(2023, 5, 2) and m.scaling == (1e-4, -0.1) and m.scaling_source == "BOA_ADD_OFFSET"
    assert m.radiometry == "SR"
    m = tile_meta({"DATE_ACQUIRED": "2021-07-09", "RADIOMETRY": "toa"}, scales=[2.75e-5] * 6, offsets=[-0.2] * 6)
    assert m.date == dt.date(2021, 7, 9) and m.scaling == (2.75e-5, -0.2) and m.radiometry == "TOA"
    m = tile_meta({"ACQUISITION_DATE": "2000", "ACQUISITION_DATE_PRECISION": "year", "SCALE": "1.0",
                   "OFFSET": "0.0", "RADIOMETRY": "DN"})
    assert m.date is None and m.scaling == (1.0, 0.0) and m.radiometry == "DN"
    assert tile_meta({}) .scaling is None and tile_meta({}).date is None
    with pytest.raises(ValueError, match="different scales"):
        tile_meta({}, scales=[1e-4, 2e-4], offsets=[0.0, 0.0])
    # only the bands that matter count: a QA band with scale 1 beside scaled reflectance
    assert tile_meta({}, scales=[1e-4, 1e-4, 1.0], offsets=[0.0] * 3, bands=[1, 2]).scaling == (1e-4, 0.0)


def test_post_2022_tile_same_map_with_and_without_date(tmp_path, capsys):
    """The -1000 DN offset comes from BOA_ADD_OFFSET, or from ACQUISITION_DATE by the baseline rule."""
    tagged = _write(tmp_path / "tagged.tif", _stack(1000),
                    tags={"ACQUISITION_DATE": "2023-08-20", "BOA_ADD_OFFSET": "-1000", "QUANTIFICATION_VALUE": "10000"})
    dated = _write(tmp_path / "dated.tif", _stack(1000), tags={"ACQUISITION_DATE": "2023-08-20"})
    maps = {}
    for name, src, extra in (("auto", tagged, []), ("date", tagged, ["--date", "2023-08-20"]),
                             ("dated", dated, []), ("explicit", tagged, ["--offset", "-0.1", "--scale", "1e-4"])):
        out = tmp_path / f"lc_{name}.tif"
        code, printed, err = _run(["classify", str(src), "-o", str(out), "--mmu", "none", *extra], capsys)
        assert code == 0, err
        maps[name] = rasterio.open(out).read(1)
    want = np.where(np.arange(16)[:, None] < 8, CODES["forest"], CODES["grassland"]) * np.ones((1, 16), int)
    for name, lc in maps.items():
        np.testing.assert_array_equal(lc, want, err_msg=name)
    # an explicit offset wins over the tag: 0 instead of -0.1 leaves every value 0.1 too bright
    code, _, err = _run(["classify", str(tagged), "-o", str(tmp_path / "wrong.tif"), "--offset", "0",
                         "--scale", "1e-4", "--mmu", "none"], capsys)
    assert code == 0, err
    assert not np.array_equal(rasterio.open(tmp_path / "wrong.tif").read(1), want)


def test_unknown_date_for_a_date_dependent_sensor_stops(tmp_path, capsys):
    bare = _write(tmp_path / "nodate.tif", _stack(1000))
    code, _, err = _run(["classify", str(bare), "-o", str(tmp_path / "x.tif")], capsys)
    assert code == 2 and "nodate.tif" in err and "--date" in err and "_pre2022" in err
    assert not (tmp_path / "x.tif").exists()


def test_dn_radiometry_refused_by_the_rules_unless_scaled(tmp_path, capsys):
    roles = ("blue", "green", "red", "nir", "swir1", "swir2")
    dn = _write(tmp_path / "dn.tif", (_stack() // 40).astype(np.uint8),
                tags={"RADIOMETRY": "DN", "SCALE": "1.0", "OFFSET": "0.0"}, descriptions=roles)
    code, _, err = _run(["classify", str(dn), "-o", str(tmp_path / "x.tif")], capsys)
    assert code == 2 and "dn.tif" in err and "RADIOMETRY=DN" in err and "sinks train" in err
    assert len(err.strip().splitlines()) == 1
    code, out, err = _run(["classify", str(dn), "-o", str(tmp_path / "y.tif"), "--scale", "0.004",
                           "--mmu", "none"], capsys)
    assert code == 0 and "RADIOMETRY=DN" in err


def test_role_descriptions_and_band_scales_need_no_options(tmp_path, capsys):
    roles = ("blue", "green", "red", "nir", "swir1", "swir2")
    img = _write(tmp_path / "roles.tif", _stack(), descriptions=roles, scales=[1e-4] * 6, offsets=[0.0] * 6,
                 tags={"RADIOMETRY": "TOA"})
    code, out, err = _run(["classify", str(img), "-o", str(tmp_path / "x.tif"), "--mmu", "none"], capsys)
    assert code == 0, err
    assert "top-of-atmosphere" in out and "nodata" in out
    lc = rasterio.open(tmp_path / "x.tif").read(1)
    assert (lc[:8] == CODES["forest"]).all() and (lc[8:] == CODES["grassland"]).all()


def test_classify_writes_on_exactly_the_input_grid(tmp_path, capsys):
    """Pixels 9.9948 x 9.9974 m (a bounding box not a multiple of 10 m): same shape and transform."""
    t = Affine(9.99479222007154, 0, 465181.052, 0, -9.997448467363668, 5080254.633)
    img = _write(tmp_path / "odd.tif", np.concatenate([_stack()[:, :, :], _stack()[:, :1, :]], axis=1),
                 transform=t, tags={"ACQUISITION_DATE": "2015-07-11"})
    code, _, err = _run(["classify", str(img), "-o", str(tmp_path / "x.tif"), "--mmu", "none"], capsys)
    assert code == 0, err
    with rasterio.open(img) as a, rasterio.open(tmp_path / "x.tif") as b:
        assert (a.height, a.width) == (b.height, b.width) == (17, 16)
        assert a.transform.almost_equals(b.transform, precision=1e-9) and a.crs == b.crs
