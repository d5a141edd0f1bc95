"""Rule-based classification against the I/O floor, and its peak memory.

``python benchmarks/bench_classify.py [--sizes 2000,6000] [--repeats 3]``

For each size N (``sinks sample-data --size N``, cached like bench_pipeline), a spec
that only reads the two acquisitions of the first epoch and writes its land cover (no
indices, carbon or tables) is run with ``sinks run``; the I/O floor reads and decodes
every block of the same tiles (benchmarks/io_floor.py).  Goal: classification ≤ 1.5 × the floor,
peak RSS < 2 GB whatever the size.  Results: ``benchmarks/results/classify.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SINKS, median_of, run_measured, save, table  # noqa: E402
from bench_pipeline import scene  # noqa: E402


def classify_only(spec: Path) -> Path:
    data = yaml.safe_load(spec.read_text())
    data.pop("reference", None)
    data["epochs"] = data["epochs"][:1]          # one epoch: read its acquisitions, classify, write
    data["aoi"] = {}
    data["indices"] = {"names": [], "write": False}
    data["carbon"] = {"enabled": False}
    data["zonal"] = {"enabled": False}
    data["goals"] = {"enabled": False}
    out = spec.with_name("classify_only.yaml")
    out.write_text(yaml.safe_dump(data))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2000")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        base = scene(size)
        spec = classify_only(base / "pipeline.yaml")
        floor = median_of([run_measured([sys.executable, str(ROOT / "benchmarks" / "io_floor.py"), str(spec)])
                           for _ in range(args.repeats)])
        runs = [run_measured([*SINKS, "-q", "run", str(spec), "--out", str(base / "classify_run"), "--overwrite"])
                for _ in range(args.repeats)]
        m = median_of(runs)
        rows.append({"size": size, "mpx_per_date": size * size / 1e6, "floor_wall_s": floor["wall_s"],
                     "classify_wall_s": m["wall_s"], "classify_cpu_s": m["cpu_s"], "peak_rss_mib": m["peak_rss_mib"],
                     "ratio_to_floor": m["wall_s"] / floor["wall_s"]})
    print(table(rows, ["size", "mpx_per_date", "floor_wall_s", "classify_wall_s", "classify_cpu_s", "peak_rss_mib",
                       "ratio_to_floor"]))
    print(f"results: {save('classify', {'rows': rows})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
