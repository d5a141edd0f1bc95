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


def test_auto_chunks_takes_2048_where_each_thread_gets_blocks_and_memory_allows():
    from sinks.budget import auto_chunks, thread_working_set

    gib = 2**30
    # 100 Mpx, two acquisitions of six bands, 2 threads, 24 GiB: 25 blocks of 2048 px
    size, why = auto_chunks(10_000, 10_000, acquisitions=2, bands=6, threads=2, memory=24 * gib)
    assert size == 2048 and "25 blocks" in why
    # too few blocks per thread: 25 blocks for 8 threads (fewer than 4 each)
    assert auto_chunks(10_000, 10_000, acquisitions=2, bands=6, threads=8, memory=64 * gib)[0] == 1024
    assert auto_chunks(6_144, 6_144, acquisitions=2, bands=6, threads=2, memory=24 * gib)[0] == 2048  # 9 >= 8
    assert auto_chunks(4_096, 6_144, acquisitions=2, bands=6, threads=2, memory=24 * gib)[0] == 1024  # 6 < 8
    # the threads' blocks in flight must fit in a quarter of the memory
    need = 2 * thread_working_set(2048, acquisitions=2, bands=6)
    assert auto_chunks(10_000, 10_000, acquisitions=2, bands=6, threads=2, memory=4 * need)[0] == 2048
    assert auto_chunks(10_000, 10_000, acquisitions=2, bands=6, threads=2, memory=4 * need - 1)[0] == 1024
    # twelve acquisitions hold six times the bands: 2048 px no longer fits 8 GiB
    assert auto_chunks(10_000, 10_000, acquisitions=12, bands=6, threads=2, memory=8 * gib)[0] == 1024
    # memory unknown: the smaller size
    assert auto_chunks(10_000, 10_000, acquisitions=2, bands=6, threads=2, memory=0)[0] == 1024


def test_thread_working_set_is_the_documented_estimate():
    from sinks.budget import thread_working_set

    # (2 x 6 x 4 + 20) bytes a pixel, three times over: about 210 MB at 1024 px, 860 MB at 2048 px
    assert thread_working_set(1024, acquisitions=2, bands=6) == 1024 * 1024 * 68 * 3
    assert round(thread_working_set(2048, acquisitions=2, bands=6) / 1e6) == 856


def test_machine_memory_and_threads_are_this_machines(monkeypatch):
    import os

    import dask

    from sinks.budget import local_threads, machine_memory

    phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < machine_memory() <= phys
    with dask.config.set(num_workers=3):
        assert local_threads() == 3
    from dask.system import CPU_COUNT

    assert local_threads() == CPU_COUNT
