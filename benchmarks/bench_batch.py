"""Batch overhead per region: `sinks batch` over many small regions of the sample scene.

``python benchmarks/bench_batch.py [--regions 200] [--repeats 3] [--spec sample_rasters/pipeline.yaml]``

The regions are a grid of squares tiling the committed sample scene (480 × 480 px), so
together they hold exactly the scene's pixels.  Timed as whole processes (medians):

* ``sinks run`` of the spec on the whole scene: the compute of all those pixels once;
* ``sinks batch`` over the regions (threaded default, every region recomputed);
* the same batch again without ``--restart``: every region is skipped (resume cost);
* the batch on a 2-process ``LocalCluster`` (``--workers 2``): regions on both cores
  without sharing the GIL.

Overhead per region = (batch wall − whole-scene wall) / regions: what a region costs
beyond computing its pixels (its own graph, tile checks, COG files, tables, summary,
manifest).  Goal: under 0.3 s.  Results: ``benchmarks/results/batch.json``.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SINKS, median_of, run_measured, save, table  # noqa: E402


def grid_regions(spec: Path, n: int, out: Path) -> Path:
    """``n`` squares (ids R000 ...) in a k × k grid over the spec's target grid."""
    import geopandas as gpd
    from shapely.geometry import box

    from sinks.pipeline import prepare
    from sinks.spec import load_spec

    parsed, path = load_spec(spec)
    grid = prepare(parsed, spec_path=path, out=out / "tmp", overwrite=True).grid
    left, bottom, right, top = grid.bounds
    k = max(1, math.ceil(math.sqrt(n)))
    w, h = (right - left) / k, (top - bottom) / k
    geoms, ids = [], []
    for i in range(k):
        for j in range(k):
            if len(ids) < n:
                geoms.append(box(left + j * w, top - (i + 1) * h, left + (j + 1) * w, top - i * h))
                ids.append(f"R{len(ids):03d}")
    p = out / "regions.gpkg"
    gpd.GeoDataFrame({"region_id": ids}, geometry=geoms, crs=grid.crs).to_file(p)
    return p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--spec", default=str(ROOT / "sample_rasters" / "pipeline.yaml"))
    args = ap.parse_args(argv)
    spec = Path(args.spec)
    work = Path(tempfile.mkdtemp(prefix="sinks-bench-batch-"))
    try:
        regions = grid_regions(spec, args.regions, work)
        whole = median_of([run_measured([*SINKS, "-q", "run", str(spec), "--out", str(work / "whole"),
                                         "--overwrite"]) for _ in range(args.repeats)])
        batch_cmd = [*SINKS, "-q", "batch", str(spec), "--regions", str(regions), "--id-field", "region_id",
                     "--out", str(work / "batch")]
        batch = median_of([run_measured([*batch_cmd, "--restart"]) for _ in range(args.repeats)])
        resume = median_of([run_measured(batch_cmd) for _ in range(args.repeats)])
        cluster = median_of([run_measured([*batch_cmd, "--restart", "--workers", "2"]) for _ in range(args.repeats)])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = args.regions
    rows = [
        {"case": "sinks run, whole scene", **whole},
        {"case": f"sinks batch, {n} regions", **batch, "s_per_region": batch["wall_s"] / n,
         "overhead_s_per_region": (batch["wall_s"] - whole["wall_s"]) / n},
        {"case": f"sinks batch again (all {n} skipped)", **resume, "s_per_region": resume["wall_s"] / n},
        {"case": f"sinks batch --workers 2 (LocalCluster), {n} regions", **cluster,
         "s_per_region": cluster["wall_s"] / n, "overhead_s_per_region": (cluster["wall_s"] - whole["wall_s"]) / n},
    ]
    print(table(rows, ["case", "wall_s", "cpu_s", "peak_rss_mib", "s_per_region", "overhead_s_per_region"]))
    print(f"results: {save('batch', {'regions': n, 'spec': str(spec), 'rows': rows})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
