"""End-to-end runs of `sinks run` on a tiny two-epoch scene built in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from sinks.cli import main


def _scene(make_tile, tmp_path: Path, *, corrupt: bool = False) -> Path:
    rng = np.random.default_rng(3)
    for year in (2015, 2020):
        for k, x0 in enumerate((500000, 500600)):
            data = rng.integers(200, 4000, size=(6, 80, 70)).astype(np.uint16)
            make_tile(f"{year}/t{k}.tif", data, x0=x0, block=16)
    if corrupt:
        p = tmp_path / "2020" / "t1.tif"
        raw = bytearray(p.read_bytes())
        mid = len(raw) // 2
        raw[mid:mid + 4000] = b"\xff" * 4000
        p.write_bytes(bytes(raw))
    spec = {
        "name": "tiny",
        "sensor": "sentinel2_l2a",
        "grid": {"chunks": 64},
        "epochs": [
            {"name": str(y), "year": y, "scenes": [{"date": f"{y}-08-01", "tiles": [f"{y}/t*.tif"]}]}
            for y in (2015, 2020)
        ],
        "indices": {"names": ["ndvi", "mndwi"], "write": True},
        "classification": {"enabled": False},
        "carbon": {"enabled": False},
        "zonal": {"enabled": False},
        "goals": {"enabled": False},
    }
    p = tmp_path / "spec.yaml"
    p.write_text(yaml.safe_dump(spec))
    return p


def test_run_writes_valid_cogs_manifest_and_summary(make_tile, tmp_path, capsys):
    from rio_cogeo.cogeo import cog_validate

    spec = _scene(make_tile, tmp_path)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as ei:
        main(["run", str(spec), "--out", str(out)])
    assert ei.value.code == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    tifs = sorted(out.rglob("*.tif"))
    assert len(tifs) == 4  # 2 epochs x 2 indices
    for t in tifs:
        ok, errors, _ = cog_validate(str(t), quiet=True)
        assert ok, (t, errors)
    listed = {Path(i["path"]).name for i in manifest["inputs"]}
    assert listed == {"t0.tif", "t1.tif", "spec.yaml"}
    assert len(manifest["inputs"]) == 5 and all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    assert manifest["spec"]["name"] == "tiny" and "GDAL" in manifest["software"]
    assert summary["grid"]["width"] == 130 and summary["grid"]["height"] == 80
    assert not list(out.rglob(".*part-*"))
    # NDVI written matches the formula on the input DNs
    import rasterio

    with rasterio.open(out / "indices" / "2015" / "ndvi_20150801.tif") as ds:
        ndvi = ds.read(1)
    with rasterio.open(tmp_path / "2015" / "t0.tif") as ds:
        red, nir = ds.read(3).astype(float), ds.read(4).astype(float)
    np.testing.assert_allclose(ndvi[:, :70], (nir - red) / (nir + red), rtol=1e-5, atol=1e-6)  # float32


def test_run_refuses_to_overwrite_and_keeps_outputs(make_tile, tmp_path, capsys):
    spec = _scene(make_tile, tmp_path)
    out = tmp_path / "out"
    with pytest.raises(SystemExit):
        main(["run", str(spec), "--out", str(out)])
    before = (out / "summary.json").read_bytes()
    with pytest.raises(SystemExit) as ei:
        main(["run", str(spec), "--out", str(out)])
    assert ei.value.code == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "summary.json").read_bytes() == before
    with pytest.raises(SystemExit) as ei:
        main(["run", str(spec), "--out", str(out), "--overwrite"])
    assert ei.value.code == 0


def test_corrupt_tile_fails_cleanly(make_tile, tmp_path, capsys):
    spec = _scene(make_tile, tmp_path, corrupt=True)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as ei:
        main(["run", str(spec), "--out", str(out)])
    err = capsys.readouterr().err
    assert ei.value.code == 2, err
    assert "t1.tif" in err and "Traceback" not in err
    assert not (out / "summary.json").exists()
    assert not list(out.rglob("*part-*"))
    assert not (out / "indices" / "2020").exists() or not list((out / "indices" / "2020").glob("*.tif"))


def test_missing_tile_at_run_exit_2(make_tile, tmp_path, capsys):
    spec = _scene(make_tile, tmp_path)
    (tmp_path / "2020" / "t0.tif").unlink()
    (tmp_path / "2020" / "t1.tif").unlink()
    with pytest.raises(SystemExit) as ei:
        main(["run", str(spec), "--out", str(tmp_path / "out")])
    assert ei.value.code == 2
    assert "epochs.1.scenes.0.tiles.0" in capsys.readouterr().err


def test_indicator_tables_in_a_child_process_equal_inline(tmp_path, monkeypatch):
    """Large grids compute the redline/region tables in a child process: same tables as inline."""
    import pandas as pd

    import sinks.stages.areas as areas
    from sinks.pipeline import run
    from sinks.spec import load_spec

    root = Path(__file__).resolve().parents[1]
    spec, _ = load_spec(root / "sample_rasters" / "pipeline.yaml")
    spec = spec.model_copy(update={"reference": None})
    inline = run(spec, out=tmp_path / "inline")
    monkeypatch.setattr(areas, "ZONAL_PROCESS_MIN_PX", 0)
    child = run(spec, out=tmp_path / "child")
    assert "zonal_start" in child["timings_s"] and child["zonal"] == inline["zonal"]
    for name in ("redlines", "regions"):
        a = pd.read_csv(tmp_path / "inline" / "tables" / f"{name}.csv")
        b = pd.read_csv(tmp_path / "child" / "tables" / f"{name}.csv")
        pd.testing.assert_frame_equal(a, b)
    assert child["goals"]["regions"] == inline["goals"]["regions"]
