"""The table child started as a run begins (sinks.stages.tablechild): the grid estimate from
the tiles' headers and when a child is started."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sinks.runtime import child
from sinks.spec import load_spec
from sinks.stages import tablechild
from sinks.stages.tablechild import estimated_grid_px, start_early

ROOT = Path(__file__).resolve().parents[1]


def _spec(tmp_path: Path, tiles: list[str], extra: str = ""):
    p = tmp_path / "spec.yaml"
    listed = ", ".join(f"'{t}'" for t in tiles)
    p.write_text(f"sensor: sentinel2_l2a\nepochs: [{{name: a, year: 2020, scenes: [{{date: '2020-01-01', tiles: [{listed}]}}]}}]\n{extra}")
    return load_spec(p, check_files=False)[0]


@pytest.fixture(autouse=True)
def _no_spares_left():
    yield
    child.stop_spares()


def test_the_estimate_is_the_union_of_the_first_epochs_tiles(tmp_path, make_tile) -> None:
    # two 20 x 10 px tiles side by side and one overlapping them: 40 x 10 px at 10 m
    make_tile("t/a.tif", np.ones((1, 10, 20), np.uint16), x0=500000, y0=2400000)
    make_tile("t/b.tif", np.ones((1, 10, 20), np.uint16), x0=500200, y0=2400000)
    make_tile("t/c.tif", np.ones((1, 4, 4), np.uint16), x0=500100, y0=2400000)
    tiles = [str(tmp_path / "t" / "*.tif")]
    assert estimated_grid_px(_spec(tmp_path, tiles)) == 400
    assert estimated_grid_px(_spec(tmp_path, tiles, "grid: {resolution: 20}\n")) == 20 * 5
    # grid.bounds clip the union (the west half), or miss it
    assert estimated_grid_px(_spec(tmp_path, tiles, "grid: {bounds: [500000, 2399900, 500200, 2400000]}\n")) == 200
    assert estimated_grid_px(_spec(tmp_path, tiles, "grid: {bounds: [0, 0, 10, 10]}\n")) == 0
    # with another CRS the tiles' own pixel size counts
    assert estimated_grid_px(_spec(tmp_path, tiles, "grid: {crs: 'EPSG:4326', resolution: 0.001}\n")) == 400
    # the bundled sample's grid, from the headers of its tiles
    sample, _ = load_spec(ROOT / "sample_rasters" / "pipeline.yaml")
    assert estimated_grid_px(sample) == 480 * 480


def test_no_estimate_from_what_the_headers_cannot_tell(tmp_path, make_tile, monkeypatch) -> None:
    import tifffile

    make_tile("geo.tif", np.ones((1, 8, 8), np.uint16))
    tifffile.imwrite(tmp_path / "plain.tif", np.ones((8, 8), np.uint16))  # no georeferencing
    (tmp_path / "junk.tif").write_bytes(b"II*\x00" + b"\xff" * 64)  # a header that points nowhere
    (tmp_path / "text.tif").write_text("not a tiff")
    tifffile.imwrite(tmp_path / "inf.tif", np.ones((8, 8), np.uint16),  # a pixel scale of infinity
                     extratags=[(33550, 12, 3, (float("inf"), 10.0, 0.0)), (33922, 12, 6, (0, 0, 0, 5e5, 2.4e6, 0))])
    geo = str(tmp_path / "geo.tif")
    assert estimated_grid_px(_spec(tmp_path, [geo])) == 64
    for bad in ("plain.tif", "junk.tif", "text.tif", "inf.tif", "missing.tif"):
        assert estimated_grid_px(_spec(tmp_path, [geo, str(tmp_path / bad)])) is None, bad
    assert estimated_grid_px(_spec(tmp_path, [geo, "s3://bucket/tile.tif"])) is None
    assert estimated_grid_px(_spec(tmp_path, [geo, "/vsicurl/https://example.org/t.tif"])) is None
    monkeypatch.setattr(tablechild, "MAX_HEADERS", 1)
    assert estimated_grid_px(_spec(tmp_path, [geo, geo])) is None


def test_start_early_only_for_a_local_run_that_wants_the_tables_of_a_large_grid(monkeypatch) -> None:
    spec, _ = load_spec(ROOT / "sample_rasters" / "pipeline.yaml")
    monkeypatch.delenv("SINKS_SCHEDULER", raising=False)
    assert not start_early(spec) and not child.has_spare()  # 230,400 px: tables inline
    monkeypatch.setattr(tablechild, "ZONAL_PROCESS_MIN_PX", 230_400)
    assert not start_early(spec, scheduler="tcp://127.0.0.1:8786")  # a cluster computes them as a task
    monkeypatch.setenv("SINKS_SCHEDULER", "scheduler.example.org:8786")
    assert not start_early(spec)
    monkeypatch.delenv("SINKS_SCHEDULER")
    no_tables = spec.model_copy(update={"zonal": spec.zonal.model_copy(update={"enabled": False})})
    assert not start_early(no_tables)
    assert start_early(spec, scheduler="threads") and child.has_spare()
    assert not start_early(spec)  # one is running: not a second
    assert len(child._SPARES) == 1
    child.stop_spares()
    assert not child.has_spare()


def test_sinks_run_starts_the_child_before_the_run_and_hands_it_the_tables(tmp_path, monkeypatch) -> None:
    import json

    import sinks.stages.zonal as zonal_stage
    from sinks.cli import main

    started = []
    real_start = tablechild.prestart

    def counted(preload):
        started.append(tuple(preload))
        real_start(preload)

    monkeypatch.setattr(tablechild, "prestart", counted)
    monkeypatch.setattr(tablechild, "ZONAL_PROCESS_MIN_PX", 0)
    monkeypatch.setattr(zonal_stage, "ZONAL_PROCESS_MIN_PX", 0)
    monkeypatch.delenv("SINKS_SCHEDULER", raising=False)
    with pytest.raises(SystemExit) as ei:
        main(["-q", "run", str(ROOT / "sample_rasters" / "pipeline.yaml"), "--out", str(tmp_path / "run")])
    assert ei.value.code == 0
    assert started == [tablechild.CHILD_MODULES] and not child.has_spare()
    cpu = json.loads((tmp_path / "run" / "manifest.json").read_text())["cpu_s"]
    assert cpu["zonal"]["children"] > 0.1  # the tables came from the child
    assert (tmp_path / "run" / "tables" / "regions.csv").exists()
