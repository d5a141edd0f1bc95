"""Stage timings: wall seconds and CPU seconds of the process and of its waited-for children."""

from __future__ import annotations

import subprocess
import sys
import time

import dask.array as da
import numpy as np
from rasterio.transform import from_origin

import sinks.outputs as outputs
from sinks.grid import Grid
from sinks.manifest import Timer
from sinks.outputs import RasterOutput, write_rasters_and_compute


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_of_busy_idle_and_child_stages():
    timer = Timer()
    with timer.stage("busy"):
        _spin(0.3)
    with timer.stage("idle"):
        time.sleep(0.3)
    with timer.stage("child"):
        subprocess.run([sys.executable, "-c",
                        "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"],
                       check=True)
    with timer.stage("busy"):  # a stage entered twice adds up
        _spin(0.2)
    assert timer.cpu["busy"]["process"] >= 0.45 and timer.cpu["busy"]["children"] == 0
    assert timer.cpu["idle"]["process"] < 0.15 and timer.timings["idle"] >= 0.3
    assert timer.cpu["child"]["children"] >= 0.3
    total = timer.cpu_total()
    assert total["process"] >= timer.cpu["busy"]["process"] and total["children"] >= 0.3


def test_cog_copies_timed_as_their_own_stage(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "IN_MEMORY_BYTES", 0)  # the streaming path: a pass, then COG copies
    grid = Grid("EPSG:32649", from_origin(500000, 2400000, 10, 10), 300, 200)
    data = da.from_array(np.arange(200 * 300, dtype="float32").reshape(200, 300), chunks=128)
    timer = Timer()
    with timer.stage("write"):
        write_rasters_and_compute([RasterOutput(tmp_path / "a.tif", data)], grid, overwrite=False, timer=timer,
                                  stage="write.cog_copy")
    assert set(timer.timings) == {"write", "write.cog_copy"}
    assert 0 < timer.timings["write.cog_copy"] <= timer.timings["write"]
    assert timer.cpu["write.cog_copy"]["process"] <= timer.cpu["write"]["process"]
