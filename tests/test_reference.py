"""Training pixels drawn from an existing land-cover map: sampling rules, legends, the CLI and run paths."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import yaml
from affine import Affine

from sinks.classify.reference import reference_lut, reference_pixels
from sinks.cli import main
from sinks.errors import ConfigError, NoOverlapError
from sinks.grid import Grid
from sinks.landcover import CODES

X0, Y0 = 500000.0, 2400000.0
GRID = Grid.from_bounds((X0, Y0 - 400, X0 + 400, Y0), 10, "EPSG:32649")  # 40 x 40
WC = {"forest": 10, "grassland": 30, "cropland": 40, "built_up": 50, "water": 80}


def _map(path, arr, *, res=10.0, crs="EPSG:32649", x0=X0, y0=Y0, nodata=0, dtype="uint8"):
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1, dtype=dtype,
                       crs=crs, transform=Affine(res, 0, x0, 0, -res, y0), nodata=nodata) as ds:
        ds.write(arr.astype(dtype), 1)
    return path


def _quadrants(a, b, c, d, n=40):
    m = np.empty((n, n), np.uint8)
    h = n // 2
    m[:h, :h], m[:h, h:], m[h:, :h], m[h:, h:] = a, b, c, d
    return m


def test_homogeneous_stratified_and_capped(tmp_path):
    m = _quadrants(CODES["forest"], CODES["water"], CODES["cropland"], CODES["forest"])
    m[5, 5] = CODES["built_up"]                                  # a lone pixel: never homogeneous
    path = _map(tmp_path / "m.tif", m)
    got = reference_pixels([path], reference_lut("sinks"), GRID, per_class=50, seed=3)
    assert set(got.drawn) == {"forest", "water", "cropland"} and all(v == 50 for v in got.drawn.values())
    # water, rows 0-19 x columns 20-39: row 0 and column 39 lie on the image edge (no full window),
    # row 19 and column 20 touch another class -> rows 1-18 x columns 21-38
    assert got.eligible["water"] == 18 * 18
    for r, c, k in zip(got.rows, got.cols, got.codes):
        win = m[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2]
        assert win.shape == (3, 3) and (win == k).all()
    again = reference_pixels([path], reference_lut("sinks"), GRID, per_class=50, seed=3)
    np.testing.assert_array_equal(again.rows, got.rows)          # seeded: the same draw
    small = reference_pixels([path], reference_lut("sinks"), GRID, per_class=10_000, seed=3)
    assert small.drawn == small.eligible                         # under the cap: every eligible pixel


def test_two_maps_train_only_where_they_agree(tmp_path):
    old = _quadrants(CODES["forest"], CODES["water"], CODES["cropland"], CODES["grassland"])
    new = old.copy()
    new[20:, 20:] = CODES["built_up"]                              # the grassland quadrant was built on
    a, b = _map(tmp_path / "old.tif", old), _map(tmp_path / "new.tif", new)
    got = reference_pixels([a, b], reference_lut("sinks"), GRID, per_class=10_000)
    assert "grassland" not in got.drawn and "built_up" not in got.drawn
    assert set(got.drawn) == {"forest", "water", "cropland"}


def test_worldcover_legend_other_crs_and_resolution(tmp_path):
    wc = _quadrants(WC["forest"], WC["water"], WC["cropland"], 95)  # 95: mangroves
    wc[0:4, 0:4] = 255                                              # nodata code in a corner
    # the same area at 5 m (finer: majority of the map pixels under each image pixel)
    fine = np.kron(wc, np.ones((2, 2), np.uint8))
    got = reference_pixels([_map(tmp_path / "fine.tif", fine, res=5.0, nodata=255)], reference_lut("worldcover"),
                           GRID, per_class=10_000)
    assert set(got.drawn) == {"forest", "water", "cropland", "mangrove"}
    assert not ((got.rows < 4) & (got.cols < 4)).any()
    # a map in geographic coordinates covering the grid
    from rasterio.warp import transform_bounds

    w, s, e, n = transform_bounds("EPSG:32649", "EPSG:4326", X0 - 200, Y0 - 600, X0 + 600, Y0 + 200)
    geo = np.full((80, 80), WC["grassland"], np.uint8)
    geo[:, 40:] = WC["cropland"]                                    # east of the grid's middle: cropland
    path = tmp_path / "geo.tif"
    with rasterio.open(path, "w", driver="GTiff", width=80, height=80, count=1, dtype="uint8", crs="EPSG:4326",
                       transform=Affine((e - w) / 80, 0, w, 0, -(n - s) / 80, n), nodata=0) as ds:
        ds.write(geo, 1)
    got = reference_pixels([path], reference_lut("worldcover"), GRID, per_class=10_000)
    assert set(got.drawn) == {"grassland", "cropland"}
    grass = got.cols[got.codes == CODES["grassland"]]
    crop = got.cols[got.codes == CODES["cropland"]]
    assert grass.max() < crop.min() and 15 <= crop.min() <= 25     # the boundary lands near column 20

def test_reference_map_bad_inputs(tmp_path):
    one = _map(tmp_path / "one.tif", np.full((40, 40), CODES["forest"], np.uint8))
    with pytest.raises(ConfigError, match="at least two"):
        reference_pixels([one], reference_lut("sinks"), GRID)
    far = _map(tmp_path / "far.tif", _quadrants(1, 2, 5, 6), x0=X0 + 1e5)
    with pytest.raises(NoOverlapError, match="far.tif"):
        reference_pixels([far], reference_lut("sinks"), GRID)
    flt = _map(tmp_path / "float.tif", np.ones((40, 40)), dtype="float32")
    with pytest.raises(ConfigError, match="integer class codes"):
        reference_pixels([flt], reference_lut("sinks"), GRID)
    with pytest.raises(ConfigError, match="unknown legend"):
        reference_lut("modis")


@pytest.fixture
def scene(make_tile):
    """A 40 x 40 Sentinel-2-like image of four classes and the same map in WorldCover codes."""
    spec = {"forest": [300, 550, 350, 3300, 1550, 650], "water": [800, 950, 750, 350, 120, 80],
            "cropland": [350, 750, 450, 3800, 2200, 1050], "built_up": [1200, 1320, 1420, 2000, 2550, 2280]}
    names = list(spec)
    lab = _quadrants(0, 1, 2, 3)
    rng = np.random.default_rng(1)
    arr = np.stack([np.array(spec[names[k]]) for k in lab.ravel()]).T.reshape(6, 40, 40).astype(float)
    arr = np.clip(arr + rng.normal(0, 40, arr.shape), 1, None).astype(np.uint16)
    img = make_tile("img.tif", arr, descriptions=["B02", "B03", "B04", "B08", "B11", "B12"])
    wc = np.array([WC[names[k]] for k in lab.ravel()], np.uint8).reshape(40, 40)
    ref = _map(img.parent / "worldcover.tif", wc)
    return img, ref, np.array([CODES[names[k]] for k in lab.ravel()]).reshape(40, 40)


def _run(args, capsys):
    with pytest.raises(SystemExit) as ei:
        main(args)
    out = capsys.readouterr()
    return ei.value.code, out.out, out.err


def test_train_from_reference_map_cli(scene, tmp_path, capsys):
    img, ref, truth = scene
    model = tmp_path / "m.sinks"
    code, out, err = _run(["train", str(img), "--reference-map", str(ref), "--reference-legend", "worldcover",
                           "--per-class", "200", "-o", str(model), "--sensor", "sentinel2_l2a_pre2022"], capsys)
    assert code == 0, err
    assert "forest" in out and "200 samples of" in out and "CV accuracy" in out
    lc_path = tmp_path / "lc.tif"
    code, _, err = _run(["classify", str(img), "--model", str(model), "-o", str(lc_path), "--mmu", "none",
                         "--sensor", "sentinel2_l2a_pre2022"], capsys)
    assert code == 0, err
    lc = rasterio.open(lc_path).read(1)
    inner = np.ones_like(lc, bool)
    inner[17:23, :] = inner[:, 17:23] = False
    assert (lc[inner] == truth[inner]).mean() > 0.97
    for bad, needle in ((["--samples", "x.gpkg", "--label-field", "l", "--reference-map", str(ref)], "either"),
                        (["--per-class", "5", "--samples", str(ref), "--label-field", "l"], "--per-class"),
                        (["--reference-map", str(ref), "--reference-legend", "modis"], "modis"),
                        (["--reference-map", str(tmp_path / "none.tif")], "none.tif")):
        code, _, err = _run(["train", str(img), "-o", str(tmp_path / "x.sinks"), "--sensor",
                             "sentinel2_l2a_pre2022", *bad], capsys)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.sinks").exists()


def test_run_trains_from_a_reference_map(scene, tmp_path, capsys):
    img, ref, truth = scene
    spec = {"name": "refmap", "sensor": "sentinel2_l2a_pre2022",
            "epochs": [{"name": "2020", "year": 2020, "scenes": [{"date": "2020-08-01", "tiles": [str(img)]}]}],
            "classification": {"method": "model", "mmu_ha": {},
                               "training": {"reference_map": str(ref), "reference_legend": "worldcover",
                                            "per_class": 150}},
            "carbon": {"enabled": False}, "zonal": {"enabled": False}, "goals": {"enabled": False}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    code, _, err = _run(["run", str(path), "--out", str(tmp_path / "run")], capsys)
    assert code == 0, err
    import json

    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["model"]["reference_legend"] == "worldcover" and s["model"]["drawn_pixels"]["water"] == 150
    lc = rasterio.open(tmp_path / "run" / "landcover_2020.tif").read(1)
    assert (lc == truth).mean() > 0.9
    del spec["classification"]["training"]["reference_map"]
    path.write_text(yaml.safe_dump(spec))
    code, _, err = _run(["run", str(path), "--out", str(tmp_path / "run2")], capsys)
    assert code == 2 and "samples" in err and "reference_map" in err
