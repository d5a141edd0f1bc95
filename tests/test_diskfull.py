"""A full disk: one line naming the output file and "no space left on device", exit 1, nothing
left under a final name.  On a real tmpfs where the test may mount one, and by simulating the
errors GDAL and Python raise."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from rasterio.transform import from_origin

from sinks.cli import main
from sinks.errors import OutputWriteError

Usage = namedtuple("Usage", "total used free")


def _spec(tmp_path: Path, size: int = 600) -> Path:
    rng = np.random.default_rng(0)
    with rasterio.open(tmp_path / "t.tif", "w", driver="GTiff", width=size, height=size, count=6, dtype="uint16",
                       crs="EPSG:32649", transform=from_origin(500000, 2400000, 10, 10), nodata=0, tiled=True,
                       blockxsize=256, blockysize=256) as ds:
        ds.write(rng.integers(200, 4000, (6, size, size)).astype("uint16"))
    p = tmp_path / "spec.yaml"
    p.write_text(yaml.safe_dump({
        "name": "full", "sensor": "sentinel2_l2a",
        "epochs": [{"name": "2020", "year": 2020, "scenes": [{"date": "2020-08-01", "tiles": ["t.tif"]}]}],
        "indices": {"names": ["ndvi", "mndwi"], "write": True}, "classification": {"enabled": False},
        "carbon": {"enabled": False}, "zonal": {"enabled": False}, "goals": {"enabled": False}}))
    return p


def _final_files(out: Path) -> list[str]:
    """Files under final names (the run marker aside: it says the run did not finish)."""
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != ".sinks-run")


@pytest.fixture()
def tiny_tmpfs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command to make a small tmpfs")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_real_full_disk_one_line_exit_1(tmp_path, tiny_tmpfs):
    spec = _spec(tmp_path)
    out = tiny_tmpfs / "out"
    proc = subprocess.run([sys.executable, "-m", "sinks.cli", "-q", "run", str(spec), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0] == f"Error: {out}/indices/2020/ndvi_20200801.tif: no space left on device"
    assert _final_files(out) == [] and not list(out.rglob("*.part-*"))


def test_gdal_write_error_on_a_full_disk(tmp_path, monkeypatch, capsys):
    import rasterio.shutil
    from rasterio._err import CPLE_AppDefinedError

    spec = _spec(tmp_path, size=64)
    out = tmp_path / "out"
    real_copy = rasterio.shutil.copy

    def copy_fills_disk(src, dst, **kw):  # noqa: ANN001 - writes some bytes, then GDAL fails as on ENOSPC
        Path(dst).write_bytes(b"II*\x00 half a COG")
        raise CPLE_AppDefinedError(1, 1, "TIFFAppendToStrip:Seek error at scanline 0")

    monkeypatch.setattr(rasterio.shutil, "copy", copy_fills_disk)
    monkeypatch.setattr("sinks.outputs.shutil.disk_usage", lambda p: Usage(10**9, 10**9, 0))
    with pytest.raises(SystemExit) as ei:
        main(["-q", "run", str(spec), "--out", str(out)])
    err = capsys.readouterr().err
    assert ei.value.code == 1
    assert err == f"Error: {out}/indices/2020/ndvi_20200801.tif: no space left on device\n"
    assert _final_files(out) == [] and not list(out.rglob("*.part-*"))
    # the same GDAL error with room on the disk names the file and GDAL's words
    monkeypatch.setattr("sinks.outputs.shutil.disk_usage", lambda p: Usage(10**12, 0, 10**12))
    with pytest.raises(SystemExit) as ei:
        main(["-q", "run", str(spec), "--out", str(out), "--overwrite"])
    err = capsys.readouterr().err
    assert ei.value.code == 1
    assert err == (f"Error: {out}/indices/2020/ndvi_20200801.tif: cannot write "
                   "(TIFFAppendToStrip:Seek error at scanline 0)\n")
    monkeypatch.setattr(rasterio.shutil, "copy", real_copy)


def test_enospc_from_python_writes(tmp_path, monkeypatch):
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import box

    from sinks.outputs import atomic_write_json
    from sinks.vectors import write_vector

    def full(*args, **kwargs):  # noqa: ANN002, ANN003
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OutputWriteError, match=r"summary.json: no space left on device$"):
        atomic_write_json(tmp_path / "summary.json", {"a": 1}, overwrite=False)
    monkeypatch.undo()
    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    gdf = gpd.GeoDataFrame({"id": ["a"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:32649")
    with pytest.raises(OutputWriteError, match=r"t.csv: no space left on device$"):
        write_vector(gdf, tmp_path / "t.csv", overwrite=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
