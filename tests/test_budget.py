"""The pixel budget: a raster claiming a huge size stops at once (exit 2, naming it) instead of
building a graph for minutes and running out of memory."""

from __future__ import annotations

import time

import numpy as np
import pytest
import rasterio
import yaml
from rasterio.transform import from_origin
from rasterio.windows import Window

from sinks.budget import DEFAULT_MAX_PIXELS, ENV, MAX_BLOCKS, bounded_chunks, max_pixels
from sinks.cli import main

N = 200_000  # 4e10 pixels: ten times the default budget, a 2.4 MB sparse file


@pytest.fixture(autouse=True)
def _no_budget_env():
    import os

    saved = os.environ.pop(ENV, None)
    yield
    os.environ.pop(ENV, None)  # --max-pixels sets it for the process (batch workers inherit it)
    if saved is not None:
        os.environ[ENV] = saved


def _sparse(path, *, count: int, dtype: str, n: int = N):
    with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=count, dtype=dtype, crs="EPSG:32649",
                       transform=from_origin(500000, 2400000, 10, 10), nodata=0, tiled=True, blockxsize=512,
                       blockysize=512, sparse_ok=True, bigtiff="YES", compress="deflate") as ds:
        ds.write(np.full((count, 512, 512), 5, dtype), window=Window(0, 0, 512, 512))
    return path


def _exit(*args: str) -> int:
    with pytest.raises(SystemExit) as ei:
        main(list(args))
    return ei.value.code


def test_default_and_override(monkeypatch):
    assert max_pixels() == DEFAULT_MAX_PIXELS == 4_000_000_000
    monkeypatch.setenv(ENV, "1e10")
    assert max_pixels() == 10_000_000_000
    monkeypatch.setenv(ENV, "lots")
    from sinks.errors import ConfigError

    with pytest.raises(ConfigError, match="SINKS_MAX_PIXELS: not a number"):
        max_pixels()


def test_bounded_chunks_caps_the_number_of_blocks():
    assert bounded_chunks(10_000, 10_000, 1024) == 1024
    size = bounded_chunks(60_000, 60_000, 64)
    assert size % 256 == 0 and (-(-60_000 // size)) ** 2 <= MAX_BLOCKS


def test_huge_rasters_stop_at_once(tmp_path, capsys):
    big = _sparse(tmp_path / "big.tif", count=6, dtype="uint16")
    lulc = _sparse(tmp_path / "lulc.tif", count=1, dtype="uint8")
    assert big.stat().st_size < 10_000_000
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "huge", "sensor": "sentinel2_l2a",
        "epochs": [{"name": "2020", "year": 2020, "scenes": [{"date": "2020-08-01", "tiles": ["big.tif"]}]}],
        "carbon": {"enabled": False}, "zonal": {"enabled": False}, "goals": {"enabled": False}}))
    cases = [(["classify", str(big), "-o", str(tmp_path / "c.tif")], "big.tif"),
             (["carbon", str(lulc), "--json"], "lulc.tif"),
             (["run", str(spec), "--out", str(tmp_path / "run")], "target grid")]
    for args, name in cases:
        t0 = time.perf_counter()
        assert _exit(*args) == 2
        err = capsys.readouterr().err
        assert time.perf_counter() - t0 < 20, args
        assert name in err and "200,000 x 200,000 pixels (4e+10) is over the pixel budget of 4e+09" in err, err
        assert [ln for ln in err.splitlines() if not ln.startswith("sinks run ")] == [ln for ln in err.splitlines()
                                                                            if ln.startswith("Error: ")], err
    assert not (tmp_path / "c.tif").exists() and not (tmp_path / "run").exists()


def test_budget_option_and_environment(make_tile, tmp_path, monkeypatch, capsys):
    img = make_tile("img.tif", np.full((6, 40, 40), 800, np.uint16))
    assert _exit("classify", str(img), "-o", str(tmp_path / "a.tif"), "--max-pixels", "1000") == 2
    assert "img.tif: 40 x 40 pixels (1.6e+03) is over the pixel budget of 1e+03" in capsys.readouterr().err
    monkeypatch.setenv(ENV, "1000")
    assert _exit("classify", str(img), "-o", str(tmp_path / "b.tif")) == 2
    capsys.readouterr()
    assert _exit("classify", str(img), "-o", str(tmp_path / "b.tif"), "--max-pixels", "2e3", "--date", "2020-06-01") == 0
    assert (tmp_path / "b.tif").exists()
    assert _exit("classify", str(img), "-o", str(tmp_path / "c.tif"), "--max-pixels", "-5") == 2
    assert "--max-pixels: the pixel budget must be a positive number" in capsys.readouterr().err


def test_batch_checks_each_region_not_the_whole_scene(make_tile, tmp_path, monkeypatch):
    from sinks.batch import run_batch
    from test_batch import _scene

    spec, regions = _scene(make_tile, tmp_path)  # 128 x 64 px of tiles; regions 32 px wide strips
    monkeypatch.setenv(ENV, str(60 * 40))
    res = run_batch(spec, regions=str(regions), id_field="region_id", out=tmp_path / "b")
    assert [r.status for r in res.results] == ["done"] * 4
    monkeypatch.setenv(ENV, "100")
    res = run_batch(spec, regions=str(regions), id_field="region_id", out=tmp_path / "b2")
    assert [r.status for r in res.results] == ["failed"] * 4
    assert "region R00: grid" in res.results[0].error and "over the pixel budget" in res.results[0].error
