"""Run folders: the .sinks-run marker and lock, --overwrite removing only the earlier run's files,
incomplete runs refused by report/goals/open_run, leftovers of killed runs, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sinks.cli import main
from sinks.runstate import LOCK, MARKER

YEARS3 = (2010, 2015, 2020)


def _scene(make_tile, tmp_path: Path, years=YEARS3, indices=("ndvi", "mndwi"), name="spec.yaml") -> Path:
    rng = np.random.default_rng(3)
    for year in years:
        if not (tmp_path / str(year) / "t0.tif").exists():
            make_tile(f"{year}/t0.tif", rng.integers(200, 4000, size=(6, 48, 40)).astype(np.uint16), block=16)
    spec = {
        "name": "state", "sensor": "sentinel2_l2a", "grid": {"chunks": 64},
        "epochs": [{"name": str(y), "year": y, "scenes": [{"date": f"{y}-08-01", "tiles": [f"{y}/t*.tif"]}]}
                   for y in years],
        "indices": {"names": list(indices), "write": True},
        "classification": {"enabled": False}, "carbon": {"enabled": False},
        "zonal": {"enabled": False}, "goals": {"enabled": False},
    }
    p = tmp_path / name
    p.write_text(yaml.safe_dump(spec))
    return p


def _run(*args: str) -> int:
    with pytest.raises(SystemExit) as ei:
        main(list(args))
    return ei.value.code


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_marker_states_and_files_listed(make_tile, tmp_path):
    spec = _scene(make_tile, tmp_path)
    out = tmp_path / "out"
    assert _run("-q", "run", str(spec), "--out", str(out)) == 0
    marker = json.loads((out / MARKER).read_text())
    assert marker["state"] == "complete" and marker["pid"] == os.getpid() and marker["host"] == socket.gethostname()
    assert not (out / LOCK).exists()
    listed = set(marker["outputs"])
    assert {"manifest.json", "summary.json", "stac"} <= listed
    on_disk = {f for f in _files(out) if f != MARKER}
    assert all(f in listed or f.split("/")[0] in listed for f in on_disk), on_disk - listed


def test_overwrite_removes_only_the_earlier_runs_files(make_tile, tmp_path):
    three = _scene(make_tile, tmp_path)
    out = tmp_path / "out"
    assert _run("-q", "run", str(three), "--out", str(out)) == 0
    assert _run("-q", "report", str(out), "-o", str(out / "report.html")) == 0
    (out / "notes.txt").write_text("mine")  # the user's own files are never touched
    (out / "indices" / "my_layer.tif").write_bytes(b"mine too")
    two = _scene(make_tile, tmp_path, years=(2015, 2020), indices=("ndvi",), name="two.yaml")
    assert _run("-q", "run", str(two), "--out", str(out), "--overwrite") == 0
    files = _files(out)
    assert "notes.txt" in files and "indices/my_layer.tif" in files
    assert not [f for f in files if "2010" in f or "mndwi" in f], files  # the 3-epoch run's layers are gone
    assert "report.html" not in files  # its report went with it
    summary = json.loads((out / "summary.json").read_text())
    assert [e["name"] for e in summary["epochs"]] == ["2015", "2020"]
    tifs = {f for f in files if f.endswith(".tif") and f != "indices/my_layer.tif"}
    assert tifs == set(summary["outputs"]) == {"indices/2015/ndvi_20150801.tif", "indices/2020/ndvi_20200801.tif"}
    assert not (out / "indices" / "2010").exists()  # emptied folders removed
    # a hostile manifest cannot make --overwrite delete outside the folder
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    m = json.loads((out / "manifest.json").read_text())
    m["outputs"] += ["../victim.txt", str(victim), "indices/../../victim.txt"]
    (out / "manifest.json").write_text(json.dumps(m))
    assert _run("-q", "run", str(two), "--out", str(out), "--overwrite") == 0
    assert victim.read_text() == "keep" and (out / "notes.txt").exists()


def test_failed_overwrite_run_is_refused_by_report_goals_open_run(make_tile, tmp_path, monkeypatch, capsys):
    import sinks
    import sinks.pipeline as pipeline
    from sinks.errors import IncompleteRunError

    spec = _scene(make_tile, tmp_path)
    out = tmp_path / "out"
    assert _run("-q", "run", str(spec), "--out", str(out)) == 0
    real = pipeline._write_epoch
    calls = []

    def dies_on_second_epoch(ctx, ep):  # noqa: ANN001
        calls.append(ep.name)
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        return real(ctx, ep)

    monkeypatch.setattr(pipeline, "_write_epoch", dies_on_second_epoch)
    assert _run("-q", "run", str(spec), "--out", str(out), "--overwrite") == 1
    monkeypatch.setattr(pipeline, "_write_epoch", real)
    capsys.readouterr()
    assert json.loads((out / MARKER).read_text())["state"] == "running"
    assert not (out / "summary.json").exists() and not (out / "manifest.json").exists()  # the old ones went first
    for args in (["report", str(out), "-o", str(tmp_path / "r.html")], ["goals", str(out)]):
        assert _run(*args) == 2
        err = capsys.readouterr().err
        assert "did not finish" in err and "--overwrite" in err and err.count("\n") == 1, err
    assert not (tmp_path / "r.html").exists()
    with pytest.raises(IncompleteRunError, match="did not finish"):
        sinks.open_run(out)
    # without --overwrite a new run refuses the incomplete folder; with it, it replaces it
    assert _run("-q", "run", str(spec), "--out", str(out)) == 2
    assert "did not finish" in capsys.readouterr().err
    assert _run("-q", "run", str(spec), "--out", str(out), "--overwrite") == 0
    ds = sinks.open_run(out)
    assert ds.sinks.epochs == ["2010", "2015", "2020"] and list(ds["epoch"].values) == ds.sinks.epochs


def test_after_sigkill_stale_lock_parts_and_journal(make_tile, tmp_path, capsys):
    """What a SIGKILLed run leaves (marker running, lock of a dead pid, .part files, some layers)."""
    spec = _scene(make_tile, tmp_path)
    out = tmp_path / "out"
    (out / "indices" / "2010").mkdir(parents=True)
    dead = _dead_pid()
    (out / "indices" / "2010" / "ndvi_20100801.tif").write_bytes(b"half a run")
    (out / "indices" / "2010" / "old_extra.tif").write_bytes(b"written by the killed run only")
    parts = [out / "indices" / "2010" / f".ndvi_20100801.tif.part-{dead}-0123abcd",
             out / f".regions.part-{dead}-89abcdef.gpkg", out / f".regions.part-{dead}-89abcdef.gpkg-wal"]
    for p in parts:
        p.write_bytes(b"x")
    (out / f".stac-part-{dead}-fedcba98").mkdir()
    (out / MARKER).write_text(json.dumps({"state": "running", "pid": dead, "host": socket.gethostname(),
                                          "outputs": ["indices/2010/ndvi_20100801.tif",
                                                      "indices/2010/old_extra.tif"]}))
    (out / LOCK).write_text(json.dumps({"pid": dead, "host": socket.gethostname(), "started": "then"}))
    assert _run("report", str(out), "-o", str(tmp_path / "r.html")) == 2
    assert "did not finish" in capsys.readouterr().err  # the owner is gone: not "still going"
    assert _run("-q", "run", str(spec), "--out", str(out), "--overwrite") == 0
    files = _files(out)
    assert not [f for f in files if ".part-" in f or ".stac-part" in f], files
    assert "indices/2010/old_extra.tif" not in files and not (out / LOCK).exists()
    assert json.loads((out / MARKER).read_text())["state"] == "complete"


def test_second_run_into_the_folder_stops_at_once(make_tile, tmp_path, capsys):
    spec = _scene(make_tile, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK).write_text(json.dumps({"pid": owner.pid, "host": socket.gethostname(), "started": "now"}))
        t0 = time.perf_counter()
        for args in (["run", str(spec), "--out", str(out), "--overwrite"],
                     ["batch", str(spec), "--regions", "x.gpkg", "--id-field", "id", "--out", str(out)]):
            assert _run(*args) == 2
            err = capsys.readouterr().err
            assert f"another sinks run is writing here (pid {owner.pid} on host {socket.gethostname()}" in err, err
        assert time.perf_counter() - t0 < 10
        assert sorted(p.name for p in out.iterdir()) == [LOCK]  # nothing written
    finally:
        owner.kill()
        owner.wait()
    # the owner is gone: its lock is stale and taken over
    assert _run("-q", "run", str(spec), "--out", str(out)) == 0


def test_two_batches_into_one_folder(make_tile, tmp_path):
    from test_batch import _scene as batch_scene

    spec, regions = batch_scene(make_tile, tmp_path, n_regions=8)
    out = tmp_path / "b"
    cmd = [sys.executable, "-m", "sinks.cli", "batch", str(spec), "--regions", str(regions), "--id-field",
           "region_id", "--out", str(out), "-q"]
    first = subprocess.Popen(cmd, env={**os.environ, "SINKS_BATCH_DELAY_S": "2"}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (out / "regions").exists():
            time.sleep(0.05)
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and "another sinks run is writing here" in second.stderr, second.stderr
        assert first.poll() is None  # the first goes on
    finally:
        first.kill()
        first.wait()


def test_ctrl_c_in_sinks_run_exits_130_and_leaves_nothing(make_tile, tmp_path, monkeypatch, capsys):
    import sinks.pipeline as pipeline

    spec = _scene(make_tile, tmp_path)
    out = tmp_path / "new" / "out"
    real = pipeline._write_epoch
    calls = []

    def ctrl_c_in_second_epoch(ctx, ep):  # noqa: ANN001
        calls.append(ep.name)
        if len(calls) == 2:
            raise KeyboardInterrupt  # what SIGINT raises in the main thread
        return real(ctx, ep)

    monkeypatch.setattr(pipeline, "_write_epoch", ctrl_c_in_second_epoch)
    assert _run("-q", "run", str(spec), "--out", str(out)) == 130
    err = capsys.readouterr().err.splitlines()
    assert err == [f"Interrupted: the run stopped; the files it had written in {out} were removed"], err
    assert not out.exists()  # no empty folder to make the rerun refuse
    monkeypatch.setattr(pipeline, "_write_epoch", real)
    assert _run("-q", "run", str(spec), "--out", str(out)) == 0
    # into a folder that held a finished run: interrupted --overwrite leaves no marker, lock or layer
    calls.clear()
    monkeypatch.setattr(pipeline, "_write_epoch", ctrl_c_in_second_epoch)
    (out / "notes.txt").write_text("mine")
    assert _run("-q", "run", str(spec), "--out", str(out), "--overwrite") == 130
    assert _files(out) == {"notes.txt"}


def test_ctrl_c_stops_a_batch_writes_its_table_exits_130(make_tile, tmp_path):
    from test_batch import _scene as batch_scene

    spec, regions = batch_scene(make_tile, tmp_path, n_regions=8)
    out = tmp_path / "b"
    cmd = [sys.executable, "-m", "sinks.cli", "batch", str(spec), "--regions", str(regions), "--id-field",
           "region_id", "--out", str(out)]
    proc = subprocess.Popen(cmd, env={**os.environ, "SINKS_BATCH_DELAY_S": "30"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.glob("regions/*/summary.json"))) < 2:
        time.sleep(0.05)
    time.sleep(0.3)
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert time.perf_counter() - t0 < 10  # not the 30 s delay, let alone 8 regions
    assert proc.returncode == 130, stderr
    last = [line for line in stderr.splitlines() if line.strip()][-1]
    assert last.startswith("Interrupted: ") and "regions done; table of what finished" in last, stderr
    table = pd.read_csv(out / "batch_summary.csv", keep_default_na=False)
    assert len(table) == 8
    done = table[table["status"] == "done"]
    assert 1 <= len(done) < 8
    assert set(table["status"]) <= {"done", "not run"}
    assert set(table.loc[table["status"] == "not run", "error"]) == {"interrupted before it finished"}
    # the rerun resumes: finished regions are skipped, the others run
    from sinks.batch import run_batch

    events = []
    run_batch(spec, regions=str(regions), id_field="region_id", out=out, on_event=events.append)
    assert events[0]["skipped"] == len(done) and events[0]["todo"] == 8 - len(done)
    assert set(pd.read_csv(out / "batch_summary.csv")["status"]) == {"done"}


def test_sigint_to_sinks_run(tmp_path):
    """A real Ctrl-C (SIGINT) during the first epoch's pass: exit 130, one line, no folder left."""
    rng = np.random.default_rng(0)
    import rasterio
    from rasterio.transform import from_origin

    for y in (2015, 2020):
        with rasterio.open(tmp_path / f"t{y}.tif", "w", driver="GTiff", width=1500, height=1500, count=6,
                           dtype="uint16", crs="EPSG:32649", transform=from_origin(500000, 2400000, 10, 10),
                           nodata=0, tiled=True, blockxsize=512, blockysize=512) as ds:
            ds.write(rng.integers(200, 4000, (6, 1500, 1500)).astype("uint16"))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "sig", "sensor": "sentinel2_l2a",
        "epochs": [{"name": str(y), "year": y, "scenes": [{"date": f"{y}-08-01", "tiles": [f"t{y}.tif"]}]}
                   for y in (2015, 2020)],
        "indices": {"names": ["ndvi", "mndwi", "evi"], "write": True}}))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "sinks.cli", "run", str(spec), "--out", str(out)],
                            stderr=subprocess.PIPE, text=True)
    lines = []
    while not any("epoch 2015: computing" in ln for ln in lines):
        line = proc.stderr.readline()
        assert line, lines
        lines.append(line)
    time.sleep(0.3)
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 130, rest
    assert time.perf_counter() - t0 < 15
    assert rest.splitlines() == [f"Interrupted: the run stopped; the files it had written in {out} were removed"]
    assert not out.exists()


def test_ctrl_c_stops_a_batch_on_a_local_cluster(make_tile, tmp_path):
    from test_batch import _scene as batch_scene

    spec, regions = batch_scene(make_tile, tmp_path, n_regions=8)
    out = tmp_path / "b"
    cmd = [sys.executable, "-m", "sinks.cli", "batch", str(spec), "--regions", str(regions), "--id-field",
           "region_id", "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, env={**os.environ, "SINKS_BATCH_DELAY_S": "30"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("regions/*/summary.json"))) < 2:
        time.sleep(0.05)
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    assert time.perf_counter() - t0 < 20
    assert proc.returncode == 130, stderr
    assert stderr.splitlines()[-1].startswith("Interrupted: 2 of 8 regions done"), stderr
    table = pd.read_csv(out / "batch_summary.csv", keep_default_na=False)
    assert (table["status"] == "done").sum() == 2 and (table["status"] == "not run").sum() == 6
