"""Batch runs: resumable, fault-tolerant, safe ids, distributed equals threaded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from shapely.geometry import box

from sinks.batch import run_batch, sanitize_id
from sinks.cli import main

X0, Y0 = 500000.0, 2400000.0


def _scene(make_tile, tmp_path: Path, *, n_regions: int = 4, corrupt: bool = False) -> tuple[Path, Path]:
    rng = np.random.default_rng(5)
    for k in range(2):  # two tiles side by side, 64 x 64 px each
        data = rng.integers(200, 4000, size=(6, 64, 64)).astype(np.uint16)
        make_tile(f"2020/t{k}.tif", data, x0=X0 + k * 640, block=16)
    if corrupt:
        p = tmp_path / "2020" / "t1.tif"
        raw = bytearray(p.read_bytes())
        raw[len(raw) // 3: len(raw) // 3 + 20000] = b"\x00\xff" * 10000
        p.write_bytes(bytes(raw))
    spec = {
        "name": "tinybatch", "sensor": "sentinel2_l2a", "grid": {"chunks": 64},
        "epochs": [{"name": "2020", "year": 2020, "scenes": [{"date": "2020-08-01", "tiles": ["2020/t*.tif"]}]}],
        "indices": {"names": ["ndvi"], "write": True},
        "classification": {"enabled": False}, "carbon": {"enabled": False},
        "zonal": {"enabled": False}, "goals": {"enabled": False},
    }
    sp = tmp_path / "spec.yaml"
    sp.write_text(yaml.safe_dump(spec))
    # regions: vertical strips across both tiles (the last ones lie in tile 1 only)
    width = 1280 / n_regions
    ids = [f"R{i:02d}" for i in range(n_regions)]
    geoms = [box(X0 + i * width + 1, Y0 - 600, X0 + (i + 1) * width - 1, Y0 - 40) for i in range(n_regions)]
    gdf = gpd.GeoDataFrame({"region_id": ids, "name": ids}, geometry=geoms, crs="EPSG:32649")
    rp = tmp_path / "regions.gpkg"
    gdf.to_crs("EPSG:4326").to_file(rp)
    return sp, rp


def test_sanitize_id():
    assert sanitize_id("R01") == "R01"
    assert sanitize_id("海城区") == "海城区"
    for bad in ("../x", "/etc/passwd", "..", ".hidden", "a/b\\c"):
        s = sanitize_id(bad)
        assert "/" not in s and "\\" not in s and not s.startswith(".")
    assert sanitize_id("a/b") != sanitize_id("a_b")


def test_batch_runs_and_resumes(make_tile, tmp_path):
    spec, regions = _scene(make_tile, tmp_path)
    out = tmp_path / "batch"
    events = []
    res = run_batch(spec, regions=str(regions), id_field="region_id", out=out, on_event=events.append)
    assert [r.status for r in res.results] == ["done"] * 4
    table = pd.read_csv(out / "batch_summary.csv")
    assert list(table.columns[:3]) == ["region_id", "status", "error"]
    assert list(table["region_id"]) == ["R00", "R01", "R02", "R03"]
    for rid in table["region_id"]:
        s = json.loads((out / "regions" / rid / "summary.json").read_text())
        assert s["batch"]["region_id"] == rid
    assert (out / "batch_summary.gpkg").exists()
    # second run: nothing recomputed
    events.clear()
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("regions/*/summary.json")}
    run_batch(spec, regions=str(regions), id_field="region_id", out=out, on_event=events.append)
    assert events[0]["skipped"] == 4 and events[0]["todo"] == 0
    assert mtimes == {p: p.stat().st_mtime_ns for p in out.glob("regions/*/summary.json")}
    assert pd.read_csv(out / "batch_summary.csv").equals(table)
    # changed spec invalidates finished regions
    data = yaml.safe_load(spec.read_text())
    data["indices"]["names"] = ["ndvi", "mndwi"]
    spec.write_text(yaml.safe_dump(data))
    events.clear()
    run_batch(spec, regions=str(regions), id_field="region_id", out=out, on_event=events.append)
    assert events[0]["todo"] == 4


def test_resume_notices_content_swapped_with_same_size_and_mtime(make_tile, tmp_path):
    """Resume compares content: a tile rewritten with the same size and ``touch -r`` is hashed again."""
    import shutil

    import rasterio

    from rasterio.transform import from_origin

    spec, regions = _scene(make_tile, tmp_path)
    tile = tmp_path / "2020" / "t1.tif"

    def write_uncompressed(data: np.ndarray, path: Path) -> None:  # same size whatever the values
        with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=6, dtype="uint16", nodata=0,
                           crs="EPSG:32649", transform=from_origin(X0 + 640, Y0, 10, 10), tiled=True,
                           blockxsize=16, blockysize=16) as ds:
            ds.write(data)

    write_uncompressed(np.random.default_rng(1).integers(200, 4000, (6, 64, 64)).astype(np.uint16), tile)
    out = tmp_path / "batch"
    run_batch(spec, regions=str(regions), id_field="region_id", out=out)
    ndvi = out / "regions" / "R03" / "indices" / "2020" / "ndvi_20200801.tif"
    with rasterio.open(ndvi) as ds:
        before = ds.read(1)
    other = tmp_path / "swap.tif"
    write_uncompressed(np.full((6, 64, 64), 1500, np.uint16), other)
    assert other.stat().st_size == tile.stat().st_size
    st = tile.stat()
    shutil.copyfile(other, tile)  # same inode, same size, new content
    os.utime(tile, ns=(st.st_atime_ns, st.st_mtime_ns))  # touch -r: the old modification time
    assert tile.stat().st_mtime_ns == st.st_mtime_ns and tile.stat().st_size == st.st_size
    events = []
    run_batch(spec, regions=str(regions), id_field="region_id", out=out, on_event=events.append)
    assert events[0]["todo"] == 4 and events[0]["skipped"] == 0
    with rasterio.open(ndvi) as ds:
        after = ds.read(1)
    assert not np.allclose(np.nan_to_num(before), np.nan_to_num(after))
    assert np.nanmax(np.abs(after)) < 1e-6  # every band 1500: NDVI 0 where the region has data


def test_region_masked_outside_polygon(make_tile, tmp_path):
    import rasterio

    spec, regions = _scene(make_tile, tmp_path, n_regions=2)
    out = tmp_path / "b"
    run_batch(spec, regions=str(regions), id_field="region_id", out=out)
    with rasterio.open(out / "regions" / "R00" / "indices" / "2020" / "ndvi_20200801.tif") as ds:
        a = ds.read(1)
        assert ds.width <= 66  # clipped to the region's bounds
    assert np.isfinite(a).mean() > 0.8


def test_corrupt_tile_fails_only_touching_regions(make_tile, tmp_path, capsys):
    spec, regions = _scene(make_tile, tmp_path, corrupt=True)
    out = tmp_path / "batch"
    with pytest.raises(SystemExit) as ei:
        main(["batch", str(spec), "--regions", str(regions), "--id-field", "region_id", "--out", str(out)])
    assert ei.value.code == 1
    err = capsys.readouterr().err
    table = pd.read_csv(out / "batch_summary.csv").fillna("")
    status = dict(zip(table["region_id"], table["status"]))
    assert status["R00"] == "done" and status["R01"] == "done"
    assert status["R03"] == "failed"
    assert all("t1.tif" in e for e in table.loc[table.status == "failed", "error"])
    assert "regions failed" in err


def test_ids_outside_out_and_unicode(make_tile, tmp_path):
    spec, regions = _scene(make_tile, tmp_path, n_regions=2)
    gdf = gpd.read_file(regions)
    gdf["region_id"] = ["../escape", "海城区"]
    rp = tmp_path / "odd.gpkg"
    gdf.to_file(rp)
    out = tmp_path / "batch"
    res = run_batch(spec, regions=str(rp), id_field="region_id", out=out)
    assert all(r.status == "done" for r in res.results)
    assert not (tmp_path / "escape").exists()
    folders = sorted(p.name for p in (out / "regions").iterdir())
    assert any(f.startswith("海城区") for f in folders)
    table = pd.read_csv(out / "batch_summary.csv")
    assert set(table["region_id"]) == {"../escape", "海城区"}


def test_localcluster_equals_threaded(make_tile, tmp_path):
    spec, regions = _scene(make_tile, tmp_path)
    run_batch(spec, regions=str(regions), id_field="region_id", out=tmp_path / "threads")
    b = run_batch(spec, regions=str(regions), id_field="region_id", out=tmp_path / "cluster", workers=2)
    ta = pd.read_csv(tmp_path / "threads" / "batch_summary.csv")
    tb = pd.read_csv(tmp_path / "cluster" / "batch_summary.csv")
    pd.testing.assert_frame_equal(ta, tb)
    assert [r.status for r in b.results] == ["done"] * 4


def _finished_regions(out: Path) -> int:
    """Regions whose run finished: summary.json and a marker that says complete (a region killed
    between the two is not finished, and a resumed batch runs it again)."""
    from sinks.runstate import read_marker

    return sum((read_marker(p.parent) or {"state": "complete"}).get("state") == "complete"
               for p in out.glob("regions/*/summary.json"))


def test_sigkill_midway_then_resume(make_tile, tmp_path):
    spec, regions = _scene(make_tile, tmp_path, n_regions=16)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "sinks.cli", "batch", str(spec), "--regions", str(regions),
           "--id-field", "region_id", "--out", str(out), "-q"]
    env = {**os.environ, "SINKS_BATCH_DELAY_S": "0.3"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and _finished_regions(out) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = _finished_regions(out)
    assert 3 <= finished < 16
    assert not (out / "batch_summary.csv").exists()
    events = []
    run_batch(spec, regions=str(regions), id_field="region_id", out=out, on_event=events.append)
    assert events[0]["skipped"] == finished
    ref = tmp_path / "ref"
    run_batch(spec, regions=str(regions), id_field="region_id", out=ref)
    pd.testing.assert_frame_equal(pd.read_csv(out / "batch_summary.csv"), pd.read_csv(ref / "batch_summary.csv"))


def test_truncated_tile_fails_only_its_regions(make_tile, tmp_path):
    spec, regions = _scene(make_tile, tmp_path)
    p = tmp_path / "2020" / "t1.tif"
    raw = p.read_bytes()
    p.write_bytes(raw[: int(len(raw) * 0.7)])
    res = run_batch(spec, regions=str(regions), id_field="region_id", out=tmp_path / "b")
    status = {r.region_id: (r.status, r.error) for r in res.results}
    assert status["R00"][0] == "done"
    assert status["R03"][0] == "failed" and "t1.tif" in status["R03"][1] and "truncated" in status["R03"][1]


def test_region_without_reference_samples_is_done_with_a_note(tmp_path):
    """A region that no reference sample falls in is not a failure: its accuracy says so."""
    root = Path(__file__).resolve().parents[1]
    spec = root / "sample_rasters" / "pipeline.yaml"
    x0, y0 = 400000.0, 2380000.0  # the sample scene's upper-left corner
    regions = gpd.GeoDataFrame({"region_id": ["tiny", "half"]}, crs="EPSG:32649",
                               geometry=[box(x0 + 10, y0 - 30, x0 + 30, y0 - 10),
                                         box(x0, y0 - 2400, x0 + 4800, y0)])
    rp = tmp_path / "regions.gpkg"
    regions.to_file(rp)
    res = run_batch(spec, regions=str(rp), id_field="region_id", out=tmp_path / "b")
    assert [r.status for r in res.results] == ["done", "done"], [r.error for r in res.results]
    tiny = json.loads((tmp_path / "b" / "regions" / "tiny" / "summary.json").read_text())
    assert tiny["accuracy"]["2020"]["note"] == "no reference sample falls inside the region"
    half = json.loads((tmp_path / "b" / "regions" / "half" / "summary.json").read_text())
    assert half["accuracy"]["2020"]["overall_accuracy"] > 0.8


def test_blank_region_ids_are_named(make_tile, tmp_path, capsys):
    spec, regions = _scene(make_tile, tmp_path)
    g = gpd.read_file(regions)
    g["region_id"] = ["", " ", "R02", "R03"]
    g.to_file(regions)
    with pytest.raises(SystemExit) as ei:
        main(["batch", str(spec), "--regions", str(regions), "--id-field", "region_id", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert ei.value.code == 2 and err.count("\n") == 1, err
    assert "2 regions feature(s) have a blank 'region_id' value: '' (row 0), ' ' (row 1)" in err


def test_empty_geometry_keeps_its_row(make_tile, tmp_path, capsys):
    spec, regions = _scene(make_tile, tmp_path)
    g = gpd.read_file(regions)
    g.loc[1, "geometry"] = None
    g.to_file(regions)
    out = tmp_path / "b"
    with pytest.raises(SystemExit) as ei:
        main(["batch", str(spec), "--regions", str(regions), "--id-field", "region_id", "--out", str(out)])
    assert ei.value.code == 0
    assert "1 region(s) have no geometry (status 'empty geometry'): 'R01'" in capsys.readouterr().err
    table = pd.read_csv(out / "batch_summary.csv")
    assert list(table["region_id"]) == ["R00", "R01", "R02", "R03"]
    assert list(table["status"]) == ["done", "empty geometry", "done", "done"]
    geo = gpd.read_file(out / "batch_summary.gpkg")
    assert list(geo["status"]) == list(table["status"]) and geo.geometry.isna().tolist() == [False, True, False, False]


def test_only_merges_into_the_batch_table(make_tile, tmp_path):
    spec, regions = _scene(make_tile, tmp_path, corrupt=True)
    out = tmp_path / "b"
    first = run_batch(spec, regions=str(regions), id_field="region_id", out=out)
    before = pd.read_csv(out / "batch_summary.csv", keep_default_na=False)
    statuses = [r.status for r in first.results]
    assert "failed" in statuses and "done" in statuses
    events = []
    res = run_batch(spec, regions=str(regions), id_field="region_id", out=out, only=["R00"], restart=True,
                    on_event=events.append)
    assert events[0]["todo"] == 1
    after = pd.read_csv(out / "batch_summary.csv", keep_default_na=False)
    assert list(after["region_id"]) == ["R00", "R01", "R02", "R03"]  # merged, not one row
    assert list(after["status"]) == statuses and list(after["error"]) == list(before["error"])
    assert [r.region_id for r in res.results] == ["R00", "R01", "R02", "R03"]
    # a region never run keeps a row too
    (out / "batch_summary.csv").unlink()
    run_batch(spec, regions=str(regions), id_field="region_id", out=out, only=["R00"])
    again = pd.read_csv(out / "batch_summary.csv", keep_default_na=False)
    assert list(again["region_id"]) == ["R00", "R01", "R02", "R03"]
    done_before = {r.region_id for r in first.results if r.status == "done"}
    assert {rid for rid, s in zip(again["region_id"], again["status"]) if s == "done"} == done_before
    assert set(again["status"]) <= {"done", "not run"}
