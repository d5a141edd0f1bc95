"""Scaling: 1 against 2 threads for `sinks run`, and the threaded scheduler against a LocalCluster for `sinks batch`.

``python benchmarks/bench_scaling.py [--size 3000] [--repeats 3] [--regions 24]``

1. ``sinks run`` on the ``--size`` sample scene with the dask threaded scheduler limited
   to one thread (``DASK_NUM_WORKERS=1``) and with two; the speed-up is the ratio of
   the medians measured in the same run.
2. ``sinks batch`` of the same scene over ``--regions`` square regions (a grid over
   the scene) with the threaded default and with ``--workers 2`` (a 2-process
   ``LocalCluster``); per-region overhead = (batch wall − one whole-scene run's
   wall × covered fraction) / regions is reported as a rough figure.
Results: ``benchmarks/results/scaling.json``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SINKS, median_of, run_measured, save, table  # noqa: E402
from bench_batch import grid_regions  # noqa: E402
from bench_pipeline import scene  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--regions", type=int, default=24)
    args = ap.parse_args(argv)
    base = scene(args.size)
    spec = base / "pipeline.yaml"
    work = Path(tempfile.mkdtemp(prefix="sinks-scaling-"))
    rows = []
    try:
        for threads in (1, 2):
            runs = [run_measured([*SINKS, "-q", "run", str(spec), "--out", str(work / f"run{threads}"), "--overwrite"],
                                 env={"DASK_NUM_WORKERS": str(threads)}) for _ in range(args.repeats)]
            rows.append({"case": f"sinks run, threaded, {threads} thread(s)", **median_of(runs)})
        rows[1]["speedup"] = rows[0]["wall_s"] / rows[1]["wall_s"]
        regions = grid_regions(spec, args.regions, work)
        for label, extra in (("threaded", []), ("LocalCluster 2 workers", ["--workers", "2"])):
            runs = [run_measured([*SINKS, "-q", "batch", str(spec), "--regions", str(regions), "--id-field",
                                  "region_id", "--out", str(work / f"batch-{len(extra)}"), "--restart", *extra])
                    for _ in range(args.repeats)]
            m = median_of(runs)
            m["s_per_region"] = m["wall_s"] / args.regions
            rows.append({"case": f"sinks batch, {args.regions} regions, {label}", **m})
        rows[3]["speedup"] = rows[2]["wall_s"] / rows[3]["wall_s"]
        whole = rows[1]["wall_s"]
        for r in rows[2:]:
            r["overhead_s_per_region"] = (r["wall_s"] - whole) / args.regions
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table(rows, ["case", "wall_s", "cpu_s", "peak_rss_mib", "speedup", "s_per_region",
                       "overhead_s_per_region"]))
    print(f"results: {save('scaling', {'size': args.size, 'rows': rows})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
