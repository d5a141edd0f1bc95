"""Full pipeline against the I/O floor, for scenes of growing size.

``python benchmarks/bench_pipeline.py [--sizes 2000,5000] [--repeats 3]``

For each size N, ``sinks sample-data`` makes an N×N scene (cached under
``$SINKS_BENCH_DIR``, default /tmp/sinks-bench); then the I/O floor
(benchmarks/io_floor.py: every block of every tile read and decoded) and
``sinks run`` on the scene's pipeline.yaml are each timed as whole processes
(median of the repeats).  Reports wall, CPU, peak RSS (of the main process, and summed
over it and its child processes), the pipeline/floor ratio, and the growth from one size
to the next.  The runs hash their inputs from scratch (``SINKS_CACHE_DIR=off``), as a
first run over new tiles does; ``--checksum-cache DIR`` measures reruns instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SINKS, median_of, run_measured, save, table  # noqa: E402


def scene(size: int) -> Path:
    base = Path(os.environ.get("SINKS_BENCH_DIR", "/tmp/sinks-bench")) / f"size_{size}"
    if not (base / "pipeline.yaml").exists():
        if base.exists():
            shutil.rmtree(base)
        run_measured([*SINKS, "sample-data", str(base), "--size", str(size)])
    return base


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2000,5000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--spec-extra", default="", help="ignored; reserved")
    ap.add_argument("--checksum-cache", default="off",
                    help="SINKS_CACHE_DIR of the runs; default off: every run hashes its inputs, as a "
                         "first run does (a directory: the first repeat fills it, the others reuse it)")
    args = ap.parse_args(argv)
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        base = scene(size)
        spec = base / "pipeline.yaml"
        floor = median_of([run_measured([sys.executable, str(ROOT / "benchmarks" / "io_floor.py"), str(spec)])
                           for _ in range(args.repeats)])
        runs = []
        for _ in range(args.repeats):
            out = base / "run"
            runs.append(run_measured([*SINKS, "-q", "run", str(spec), "--out", str(out), "--overwrite"],
                                     env={"SINKS_CACHE_DIR": args.checksum_cache}))
        pipe = median_of(runs)
        rows.append({"size": size, "mpx_per_date": size * size / 1e6, "floor_wall_s": floor["wall_s"],
                     "pipeline_wall_s": pipe["wall_s"], "pipeline_cpu_s": pipe["cpu_s"],
                     "peak_rss_mib": pipe["peak_rss_mib"], "tree_peak_rss_mib": pipe["tree_peak_rss_mib"],
                     "ratio_to_floor": pipe["wall_s"] / floor["wall_s"]})
    for a, b in zip(rows, rows[1:]):
        b["time_growth"] = b["pipeline_wall_s"] / a["pipeline_wall_s"]
        b["rss_growth"] = b["peak_rss_mib"] / a["peak_rss_mib"]
        b["tree_rss_growth"] = b["tree_peak_rss_mib"] / a["tree_peak_rss_mib"] if a["tree_peak_rss_mib"] else None
    print(table(rows, ["size", "mpx_per_date", "floor_wall_s", "pipeline_wall_s", "pipeline_cpu_s",
                       "peak_rss_mib", "tree_peak_rss_mib", "ratio_to_floor", "time_growth", "rss_growth",
                       "tree_rss_growth"]))
    print(f"results: {save('pipeline', {'rows': rows})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
