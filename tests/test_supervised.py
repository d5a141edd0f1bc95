"""`sinks train` and `sinks classify --model`: features, safe model files, prediction, bad inputs."""

from __future__ import annotations

import zipfile
from pathlib import Path

import dask.array as da
import geopandas as gpd
import numpy as np
import pytest
import rasterio
import xarray as xr
from shapely.geometry import Point

from sinks.classify.features import feature_block, feature_names, feature_stack
from sinks.classify.modelio import load_model
from sinks.cli import main
from sinks.errors import ModelError
from sinks.landcover import CODES

X0, Y0 = 500000.0, 2400000.0
DESC = ["B02", "B03", "B04", "B08", "B11", "B12"]
SPEC = {"forest": [300, 550, 350, 3300, 1550, 650], "water": [800, 950, 750, 350, 120, 80],
        "cropland": [350, 750, 450, 3800, 2200, 1050], "built_up": [1200, 1320, 1420, 2000, 2550, 2280]}


@pytest.fixture
def image(make_tile):
    rng = np.random.default_rng(2)
    lab = np.zeros((48, 48), int)
    lab[:, 24:] = 1
    lab[24:, :24] = 2
    lab[24:, 24:] = 3
    names = list(SPEC)
    arr = np.stack([np.array(SPEC[names[k]]) for k in lab.ravel()]).T.reshape(6, 48, 48).astype(float)
    arr += rng.normal(0, 40, arr.shape)
    arr = np.clip(arr, 1, None).astype(np.uint16)
    arr[:, 0, 0] = 0  # a nodata pixel
    path = make_tile("img.tif", arr, descriptions=DESC)
    pts, labels = [], []
    for k, name in enumerate(names):
        rr, cc = np.nonzero(lab == k)
        pick = rng.choice(len(rr), 40, replace=False)
        for i in pick:
            pts.append(Point(X0 + (cc[i] + 0.5) * 10, Y0 - (rr[i] + 0.5) * 10))
            labels.append(name)
    sp = path.parent / "samples.gpkg"
    gpd.GeoDataFrame({"label": labels}, geometry=pts, crs="EPSG:32649").to_crs(4326).to_file(sp)
    return path, sp, np.array([CODES[names[k]] for k in lab.ravel()]).reshape(48, 48)


def test_features_do_not_depend_on_chunks():
    rng = np.random.default_rng(0)
    stack = rng.random((1, 6, 40, 40)).astype(np.float32)
    roles = ["blue", "green", "red", "nir", "swir1", "swir2"]
    ref = feature_block(stack, roles, texture=True)
    assert ref.shape[0] == len(feature_names(roles, 1, texture=True))
    for c in (8, 13, 20, 40, (6, (10, 17, 13), (19, 21))):   # 13: a 1-px block (dask's overlap)
        c = c if isinstance(c, tuple) else (6, c, c)
        sc = xr.DataArray(da.from_array(stack[0], chunks=c), dims=("band", "y", "x"), coords={"band": roles})
        got = feature_stack([sc], roles, texture=True).compute()
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_train_classify_roundtrip(image, tmp_path, capsys):
    path, samples, truth = image
    model = tmp_path / "m.sinks"
    with pytest.raises(SystemExit) as ei:
        main(["train", str(path), "--samples", str(samples), "--label-field", "label", "-o", str(model),
              "--sensor", "sentinel2_l2a_pre2022"])
    assert ei.value.code == 0, capsys.readouterr().err
    m = load_model(model)
    assert m.meta["roles"] == ["blue", "green", "red", "nir", "swir1", "swir2"] and m.meta["n_dates"] == 1
    assert 0 <= m.meta["cv_accuracy"] <= 1 and set(m.meta["legend"].values()) == set(SPEC)  # one class per cell here
    assert zipfile.ZipFile(model).namelist() == ["meta.json", "model.skops"]
    out = tmp_path / "lc.tif"
    with pytest.raises(SystemExit) as ei:
        main(["classify", str(path), "-o", str(out), "--model", str(model), "--sensor", "sentinel2_l2a_pre2022",
              "--mmu", "none"])
    assert ei.value.code == 0, capsys.readouterr().err
    with rasterio.open(out) as ds:
        lc = ds.read(1)
    assert lc[0, 0] == 0                                  # nodata stays nodata
    inner = np.zeros_like(lc, bool)
    inner[3:-3, 3:-3] = True
    inner[21:27, :] = inner[:, 21:27] = False             # texture blurs class borders
    assert (lc[inner] == truth[inner]).mean() > 0.97


def test_bad_training_inputs(image, tmp_path, capsys):
    path, samples, _ = image
    g = gpd.read_file(samples)
    g.loc[0, "label"] = "jungle"
    bad = tmp_path / "bad.gpkg"
    g.to_file(bad)
    one = tmp_path / "one.gpkg"
    g.assign(label="forest").to_file(one)
    far = tmp_path / "far.gpkg"
    gpd.GeoDataFrame({"label": ["forest", "water"]}, geometry=[Point(0, 0), Point(1, 1)], crs=4326).to_file(far)
    for smp, field, needle in ((bad, "label", "jungle"), (one, "label", "two classes"), (far, "label", "inside"),
                               (samples, "klass", "klass")):
        with pytest.raises(SystemExit) as ei:
            main(["train", str(path), "--samples", str(smp), "--label-field", field, "-o", str(tmp_path / "x.sinks"),
                  "--sensor", "sentinel2_l2a", "--date", "2020-08-01"])
        err = capsys.readouterr().err
        assert ei.value.code == 2 and needle in err, err
    assert not (tmp_path / "x.sinks").exists()


def test_model_image_mismatch_and_foreign_files(image, make_tile, tmp_path, capsys):
    path, samples, _ = image
    model = tmp_path / "m.sinks"
    main_ok = ["train", str(path), "--samples", str(samples), "--label-field", "label", "-o", str(model),
               "--sensor", "sentinel2_l2a", "--date", "2020-08-01", "--no-texture"]
    with pytest.raises(SystemExit):
        main(main_ok)
    four = make_tile("four.tif", np.full((4, 16, 16), 500, np.uint16))
    with pytest.raises(SystemExit) as ei:
        main(["classify", str(four), "-o", str(tmp_path / "o.tif"), "--model", str(model), "--bands",
              "green,red,nir,swir1"])
    assert ei.value.code == 2 and "blue" in capsys.readouterr().err
    with pytest.raises(SystemExit) as ei:
        main(["classify", str(path), str(path), "-o", str(tmp_path / "o2.tif"), "--model", str(model)])
    assert ei.value.code == 2 and "acquisition" in capsys.readouterr().err
    junk = tmp_path / "junk.sinks"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelError):
        load_model(junk)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("meta.json", '{"format": "something-else"}')
        zf.writestr("model.skops", b"")
    with pytest.raises(ModelError, match="not a sinks model"):
        load_model(other)
    assert not (tmp_path / "o.tif").exists() and not (tmp_path / "o2.tif").exists()


def test_model_meta_json_is_capped_and_checked(image, tmp_path, capsys):
    """A huge meta.json is refused without being read whole; one without roles is a one-line exit 2."""
    import json

    from sinks.classify.modelio import META_MAX_BYTES

    path, samples, _ = image
    model = tmp_path / "m.sinks"
    with pytest.raises(SystemExit):
        main(["train", str(path), "--samples", str(samples), "--label-field", "label", "-o", str(model),
              "--sensor", "sentinel2_l2a_pre2022", "--no-texture"])
    with zipfile.ZipFile(model) as zf:
        meta = json.loads(zf.read("meta.json"))
        blob = zf.read("model.skops")

    def rewrite(name: str, meta_text: str) -> Path:
        p = tmp_path / name
        with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("meta.json", meta_text)
            zf.writestr("model.skops", blob)
        return p

    # valid JSON, 8 MiB of padding (a few KB compressed): refused by its declared size
    big = rewrite("big.sinks", json.dumps({**meta, "pad": " " * (8 * META_MAX_BYTES)}))
    assert big.stat().st_size < META_MAX_BYTES
    with pytest.raises(ModelError, match=r"meta.json is 8,3\d\d,\d+ bytes") as ei:
        load_model(big)
    assert "big.sinks" in str(ei.value)
    for key in ("roles", "n_dates"):
        bad = rewrite(f"no_{key}.sinks", json.dumps({k: v for k, v in meta.items() if k != key}))
        with pytest.raises(SystemExit) as ei:
            main(["classify", str(path), "-o", str(tmp_path / f"o_{key}.tif"), "--model", str(bad),
                  "--sensor", "sentinel2_l2a_pre2022"])
        err = capsys.readouterr().err
        assert ei.value.code == 2 and f"no {key!r}" in err and "no_" in err and err.count("\n") == 1, err
        assert not (tmp_path / f"o_{key}.tif").exists()
    bad = rewrite("roles_text.sinks", json.dumps({**meta, "roles": "blue,green"}))
    with pytest.raises(ModelError, match="'roles' must be a list"):
        load_model(bad)
