"""End-to-end runs of `sinks run` on a tiny two-epoch scene built in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
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
    assert len(manifest["inputs"]) == 5 and manifest["input_digest"] == "blake3"
    from blake3 import blake3

    for i in manifest["inputs"]:  # the digest of each file's content, named by its algorithm
        assert i["blake3"] == blake3(Path(i["path"]).read_bytes()).hexdigest() and "sha256" not in i
    assert manifest["spec"]["name"] == "tiny" and "GDAL" in manifest["software"]
    cpu = manifest["cpu_s"]  # CPU seconds per stage, beside the wall seconds
    assert set(cpu) == set(manifest["timings_s"])
    assert all(v["process"] >= 0 and v["children"] >= 0 for v in cpu.values())
    assert cpu["total"]["process"] >= max(v["process"] for k, v in cpu.items() if k != "total") > 0
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

    import sinks.stages.zonal as zonal_stage
    from sinks.pipeline import run
    from sinks.spec import load_spec

    root = Path(__file__).resolve().parents[1]
    spec, _ = load_spec(root / "sample_rasters" / "pipeline.yaml")
    spec = spec.model_copy(update={"reference": None})
    import sinks.stages.tablechild as tablechild
    from sinks.runtime import child as children

    started = []
    real_init = children._Spare.__init__

    def counted(self, preload):
        started.append(tuple(preload))
        real_init(self, preload)

    monkeypatch.setattr(children._Spare, "__init__", counted)
    warmed, jobs = [], []
    real_prewarm, real_child = children.prewarm, children.ChildProcess

    class Recorded(real_child):
        def __init__(self, func, *args, **kwargs):
            jobs.append(args)
            super().__init__(func, *args, **kwargs)

    monkeypatch.setattr(children, "prewarm", lambda f, *a: warmed.append((f, a)) or real_prewarm(f, *a))
    monkeypatch.setattr(children, "ChildProcess", Recorded)
    inline = run(spec, out=tmp_path / "inline")
    assert not started  # 230,400 px: no table child
    # the tiles suggest a large grid: the child starts before the run prepares, and a run
    # whose grid turns out small (tables inline) stops it
    monkeypatch.setattr(tablechild, "ZONAL_PROCESS_MIN_PX", 0)
    small = run(spec, out=tmp_path / "small")
    assert len(started) == 1 and not children.has_spare() and small["zonal"] == inline["zonal"]
    assert json.loads((tmp_path / "small" / "manifest.json").read_text())["cpu_s"]["zonal"]["children"] == 0
    # a large grid: the child started early computes the tables (no second one is started)
    monkeypatch.setattr(zonal_stage, "ZONAL_PROCESS_MIN_PX", 0)
    child = run(spec, out=tmp_path / "child")
    assert len(started) == 2 and not children.has_spare()
    assert "zonal_start" in child["timings_s"] and child["zonal"] == inline["zonal"]
    # the children's CPU is counted in the stage that waits for them; inline there is none
    cpu_child = json.loads((tmp_path / "child" / "manifest.json").read_text())["cpu_s"]
    cpu_inline = json.loads((tmp_path / "inline" / "manifest.json").read_text())["cpu_s"]
    assert cpu_child["zonal"]["children"] > 0.1 and cpu_inline["zonal"]["children"] == 0
    assert cpu_child["total"]["children"] >= cpu_child["zonal"]["children"]
    for name in ("redlines", "regions"):
        a = pd.read_csv(tmp_path / "inline" / "tables" / f"{name}.csv")
        b = pd.read_csv(tmp_path / "child" / "tables" / f"{name}.csv")
        pd.testing.assert_frame_equal(a, b)
    assert child["goals"]["regions"] == inline["goals"]["regions"]
    # the child split the polygons while the passes ran: its job takes that split (the
    # same polygons, grid and tile) instead of splitting them again
    import sinks.zonal_tiles as zt
    from sinks.indicators import region_indicators

    assert len(warmed) == 1 and len(jobs) == 1 and len(warmed[0][1][0]) == 2  # redlines, regions
    func, args = warmed[0]
    func(*args)
    assert len(zt._PRESPLIT) == 2
    monkeypatch.setattr(zt, "_split", lambda *a: pytest.fail("split again"))
    for job in jobs[0][0]:
        j = {k: v for k, v in job.items() if k not in ("name", "base", "formats", "overwrite")}
        assert j["tallies"] is not None
        region_indicators(j.pop("zones"), **j)
    assert not zt._PRESPLIT


def test_figures_counted_in_the_write_pass_equal_the_written_files(tmp_path, monkeypatch):
    """Class areas, transitions, change maps, the truth confusion and the map's codes under the
    reference samples are taken from the blocks being written; recounted from the files
    afterwards they are the same."""
    import warnings

    import rasterio

    import sinks.accuracy.assess as assess_mod
    from sinks.accuracy import assess_map

    from sinks.carbon import class_areas_ha
    from sinks.carbon.sink import transition_matrix
    from sinks.change import change_codes
    from sinks.io import read_categorical
    from sinks.landcover import CODES, NAMES
    from sinks.pipeline import run
    from sinks.spec import load_spec
    from sinks.accuracy.truth import truth_confusion

    root = Path(__file__).resolve().parents[1]
    spec, spec_path = load_spec(root / "sample_rasters" / "pipeline.yaml")
    out = tmp_path / "run"
    read_back = []
    real_sample_map = assess_mod._sample_map

    def counting(ds, rows, cols):
        read_back.append(rows.size)
        return real_sample_map(ds, rows, cols)

    monkeypatch.setattr(assess_mod, "_sample_map", counting)
    summary = run(spec_path, out=out)
    assert not read_back  # every sample's code came from the pass
    monkeypatch.setattr(assess_mod, "_sample_map", real_sample_map)
    grid = None
    lcs = {}
    ref = spec.reference
    for ep in ("2015", "2020", "2025"):
        arr, grid, _nd = read_categorical(out / f"landcover_{ep}.tif", chunks=300)
        lcs[ep] = arr
        areas = class_areas_ha(arr, grid, nodata=0)
        got = summary["landcover"][ep]["area_ha"]
        assert got == {NAMES[c]: areas.area_of(c) for c in sorted(NAMES)}
        field = (ref.epoch_fields or {}).get(ep) or ref.label_field
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reread = assess_map(out / f"landcover_{ep}.tif", ref.path, label_field=field,
                                mapped_areas_ha=areas.as_dict(), stratum_field=ref.stratum_field,
                                stratum_size_field=ref.stratum_size_field, estimator=ref.estimator)
        assert summary["accuracy"][ep]["confusion_matrix"] == json.loads(json.dumps(reread.to_dict()))["confusion_matrix"]
        assert summary["accuracy"][ep]["overall_accuracy"] == reread.overall_accuracy
        truth = truth_confusion(out / f"landcover_{ep}.tif", spec.reference.truth[ep], grid=grid, chunks=300)
        assert summary["accuracy"][ep]["truth_pixelwise"] == json.loads(json.dumps(truth))
    for a, b in (("2015", "2020"), ("2020", "2025")):
        tm = transition_matrix(lcs[a], lcs[b], grid, codes=sorted(CODES.values()), nodata=(0, 0))
        named = summary["carbon"]["transitions"][f"{a}_{b}"]["matrix_ha"]
        for i, c in enumerate(tm.codes):
            for j, d in enumerate(tm.codes):
                assert named.get(NAMES[c], {}).get(NAMES[d], 0.0) == pytest.approx(float(tm.area_ha[i, j]), abs=0)
        with rasterio.open(out / f"change_{a}_{b}.tif") as ds:
            written = ds.read(1)
        assert np.array_equal(written, change_codes(np.asarray(lcs[a]), np.asarray(lcs[b])))
        # the sink: gain-loss headline beside the stock difference, on error-adjusted areas, with an interval
        sk = summary["carbon"]["sink"][f"{a}_{b}"]
        assert sk["method"] == "gain-loss" and set(sk["methods"]) == {"gain-loss", "stock-difference"}
        lo, hi = sk["sink_mg_c_per_yr_ci95"]
        assert lo < sk["sink_mg_c_per_yr"] < hi
        assert sk["areas"].startswith("error-adjusted")
        assert sk["growth_row"] == "national_8th_9th_nfi"
    co = summary["carbon"]["coefficients"]
    assert summary["carbon"]["climate_zone"] == co["climate_zone"] == "warm_temperate_moist"
    assert {c["name"] for c in co["growth"]} >= {"net stock change (gross - removals - mortality)",
                                                 "marginal carbon per m3 (0.5 a)", "young-stand growth"}
    assert all(d["source"][:3] in ("[V]", "[D]", "[R]", "[A]") for d in co["densities"])


def test_truth_on_a_shifted_lattice_reads_zeros_beyond_it(tmp_path):
    """A truth raster covering part of the grid, offset by whole pixels, is read in place;
    the grid's pixels beyond it count as nodata."""
    import rasterio
    from affine import Affine

    from sinks.grid import Grid
    from sinks.io import read_categorical_on

    t = Affine(10, 0, 500050, 0, -10, 3000000)  # 5 pixels east of the grid's origin
    truth = np.arange(1, 1 + 6 * 8, dtype=np.uint8).reshape(6, 8)
    path = tmp_path / "truth.tif"
    with rasterio.open(path, "w", driver="GTiff", width=8, height=6, count=1, dtype="uint8",
                       crs="EPSG:32649", transform=t) as ds:
        ds.write(truth, 1)
    grid = Grid(crs=rasterio.crs.CRS.from_epsg(32649), transform=Affine(10, 0, 500000, 0, -10, 3000020),
                width=10, height=7)  # 2 rows north of the truth, 5 columns west
    got = read_categorical_on(path, grid, chunks=3).compute()
    want = np.zeros((7, 10), np.uint8)
    want[2:7, 5:10] = truth[0:5, 0:5]
    assert np.array_equal(got, want)
    off = Grid(crs=grid.crs, transform=Affine(10, 0, 500003, 0, -10, 3000020), width=10, height=7)
    assert read_categorical_on(path, off) is None
    # pair counts of a map (numpy or dask) against that truth: the same either way
    from sinks.accuracy.truth import truth_counts

    lc = np.full((7, 10), 2, np.uint8)
    counts = truth_counts(lc, path, grid=grid).compute()
    # 45 pixels beyond the truth; of the 25 under it, codes 1-5 (its first row) are in the
    # legend, codes 9 and up are not and are left out
    assert counts[2, 0] == 45 and list(counts[2, 1:6]) == [1] * 5 and counts.sum() == 50
    import dask.array as da

    assert np.array_equal(truth_counts(da.from_array(lc, chunks=4), path, grid=grid).compute(), counts)


def test_each_block_is_classified_and_sieved_once_per_pass(tmp_path, monkeypatch):
    """The reductions of a pass (class counts, truth pairs, transitions) share the land
    cover's blocks with the layers written: no block is computed twice.  (Each reduction
    used to optimise its own copy of the graph, and the sieve then ran 2-3 times a block.)"""
    import sinks._kernels.rules as rules
    import sinks.classify.mmu as mmu
    from sinks.pipeline import run
    from sinks.spec import load_spec

    calls = {"rules": 0, "sieve": 0}

    def counted(name, func):
        def wrapper(*a, **k):
            calls[name] += 1
            return func(*a, **k)
        return wrapper

    monkeypatch.setattr(rules, "rules_block", counted("rules", rules.rules_block))
    monkeypatch.setattr(mmu, "sieve_block", counted("sieve", mmu.sieve_block))
    root = Path(__file__).resolve().parents[1]
    spec, _ = load_spec(root / "sample_rasters" / "pipeline.yaml")
    spec = spec.model_copy(update={"grid": spec.grid.model_copy(update={"chunks": 128})})
    summary = run(spec, out=tmp_path / "run")
    assert summary["accuracy"]["2025"]["truth_pixelwise"] is not None
    epochs = len(spec.epochs)
    assert calls["rules"] >= 4 * epochs  # several blocks per epoch
    # one sieve per block, plus at most one call per epoch by dask to infer the output type
    assert calls["sieve"] <= calls["rules"] + epochs, calls


def test_tables_from_the_pass_tile_counts_equal_whole_polygon_tables(tmp_path, monkeypatch):
    """The redline/region tables and the AOI class areas, summed from the tiles each epoch's
    pass counted plus exactextract on polygon edges, equal those of exactextract over whole
    polygons (the pass not counting), to rounding."""
    import pandas as pd

    import sinks.zonal_tiles as zt
    from sinks.pipeline import run
    from sinks.spec import load_spec

    root = Path(__file__).resolve().parents[1]
    spec, _ = load_spec(root / "sample_rasters" / "pipeline.yaml")
    spec = spec.model_copy(update={"reference": None})
    split = zt.split_zones
    calls = []
    monkeypatch.setattr(zt, "split_zones", lambda *a, **k: calls.append(1) or split(*a, **k))
    fused = run(spec, out=tmp_path / "fused")
    assert calls, "the tables did not use the pass's tile counts"
    monkeypatch.setattr(zt, "tally_side", lambda *a, **k: None)
    calls.clear()
    whole = run(spec, out=tmp_path / "whole")
    assert not calls
    for name in ("redlines", "regions"):
        a = pd.read_csv(tmp_path / "fused" / "tables" / f"{name}.csv")
        b = pd.read_csv(tmp_path / "whole" / "tables" / f"{name}.csv")
        assert list(a.columns) == list(b.columns) and len(a) == len(b) > 0
        num = a.select_dtypes("number").columns
        pd.testing.assert_frame_equal(a.drop(columns=num), b.drop(columns=num))
        np.testing.assert_allclose(a[num].to_numpy(float), b[num].to_numpy(float), rtol=1e-9, atol=1e-7)
    for ep, got in fused["landcover"].items():
        for cls, ha in got["area_ha"].items():
            assert ha == pytest.approx(whole["landcover"][ep]["area_ha"][cls], rel=1e-9, abs=1e-7)


@pytest.mark.parametrize("value", ["", "0", "-2", "2.5", "True", "abc", "__import__('os').system('false')"])
def test_bad_dask_thread_count_is_one_line_exit_2(make_tile, tmp_path, capsys, monkeypatch, value):
    """An empty or non-numeric DASK_NUM_WORKERS failed inside dask's thread pool with a TypeError."""
    spec = _scene(make_tile, tmp_path)
    out = tmp_path / "out"
    monkeypatch.setenv("DASK_NUM_WORKERS", value)
    with pytest.raises(SystemExit) as ei:
        main(["run", str(spec), "--out", str(out)])
    err = capsys.readouterr().err
    assert ei.value.code == 2, err
    assert err.startswith("Error: DASK_NUM_WORKERS=") and "positive whole number" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_library_run_checks_dask_num_workers_from_its_configuration(monkeypatch):
    import dask

    from sinks.cluster import check_threads, run_scheduler
    from sinks.errors import ConfigError

    monkeypatch.delenv("DASK_NUM_WORKERS", raising=False)
    check_threads()
    with dask.config.set(num_workers="4"):
        with pytest.raises(ConfigError, match="num_workers setting='4'"):
            with run_scheduler():
                pass
    with dask.config.set(num_workers=3):
        with run_scheduler():
            assert dask.config.get("num_workers") == 3


def test_bad_scheduler_names_where_it_came_from(make_tile, tmp_path, capsys, monkeypatch):
    spec = _scene(make_tile, tmp_path)
    monkeypatch.setenv("SINKS_SCHEDULER", "no such scheduler")
    with pytest.raises(SystemExit) as ei:
        main(["-q", "run", str(spec), "--out", str(tmp_path / "a")])
    assert ei.value.code == 2
    assert capsys.readouterr().err.startswith("Error: SINKS_SCHEDULER 'no such scheduler': expected threads")
    with pytest.raises(SystemExit) as ei:
        main(["-q", "run", str(spec), "--out", str(tmp_path / "b"), "--scheduler", "nope"])
    assert ei.value.code == 2
    assert capsys.readouterr().err.startswith("Error: --scheduler 'nope': expected threads")


def test_outputs_do_not_depend_on_the_block_size(tmp_path):
    """A run cut into 128-px blocks writes the same rasters and summary as one on the block
    size ``chunks: auto`` picks (the whole 480-px sample scene in one block): what auto
    chooses changes the speed, never a number."""
    import json

    from sinks.pipeline import run
    from sinks.spec import load_spec

    root = Path(__file__).resolve().parents[1]
    spec, _ = load_spec(root / "sample_rasters" / "pipeline.yaml")
    assert spec.grid.chunks == "auto"
    small = spec.model_copy(update={"grid": spec.grid.model_copy(update={"chunks": 128})})
    a = run(spec, out=tmp_path / "auto")
    b = run(small, out=tmp_path / "small")
    assert a["grid_reading"]["chunks_px"] == 1024 and b["grid_reading"]["chunks_px"] == 128
    tifs = sorted(p.relative_to(tmp_path / "auto") for p in (tmp_path / "auto").rglob("*.tif"))
    assert len(tifs) >= 8
    for rel in tifs:
        with rasterio.open(tmp_path / "auto" / rel) as x, rasterio.open(tmp_path / "small" / rel) as y:
            assert repr(x.profile) == repr(y.profile), rel  # (a NaN nodata is not equal to itself)
            np.testing.assert_array_equal(x.read(), y.read(), err_msg=str(rel))

    def strip(d):
        if isinstance(d, dict):
            return {k: strip(v) for k, v in d.items() if k not in ("timings_s", "chunks_px", "sources")}
        return [strip(v) for v in d] if isinstance(d, list) else d

    sa = json.loads((tmp_path / "auto" / "summary.json").read_text())
    sb = json.loads((tmp_path / "small" / "summary.json").read_text())
    assert strip(sa) == strip(sb)
    tables = sorted(p.relative_to(tmp_path / "auto") for p in (tmp_path / "auto" / "tables").rglob("*.csv"))
    assert tables
    for rel in tables:
        assert (tmp_path / "auto" / rel).read_bytes() == (tmp_path / "small" / rel).read_bytes(), rel
