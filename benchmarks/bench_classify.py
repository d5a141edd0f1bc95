"""Rule-based classification against the I/O floor, and its peak memory.

``python benchmarks/bench_classify.py [--sizes 2000,6000] [--repeats 3]``

For each size N (``sinks sample-data --size N``, cached like bench_pipeline), a spec
that only reads the two acquisitions of the first epoch and writes its land cover (no
indices, carbon or tables) is timed two ways, each against the I/O floor of the same
tiles (every block read and decoded with rasterio, on as many threads as the pipeline):

* as whole processes: ``sinks run`` of that spec against ``benchmarks/io_floor.py``
  (both include interpreter start-up and imports; sinks' are heavier);
* in one warm process: the floor, the land cover computed (read + rules + 1-mu sieve,
  discarded) and the land cover computed and written as a COG, each the median of the
  repeats, after one warm-up run of each (page cache, compiled kernels).

Goal: classification ≤ 1.5 × the floor, peak RSS < 2 GB whatever the size.
Results: ``benchmarks/results/classify.json``.
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


def in_process(spec: Path, repeats: int) -> dict[str, float]:
    """Floor, land cover computed, land cover written: medians in one warm process (see module doc)."""
    import os
    import statistics
    import tempfile
    import time
    from concurrent.futures import ThreadPoolExecutor

    import dask

    from io_floor import _read_tile
    from sinks import pipeline as P
    from sinks.tiles import expand_tiles
    from sinks.spec import load_spec

    parsed, path = load_spec(spec)
    files = [p for e in parsed.epochs for s in e.scenes for p in expand_tiles(s.tiles)]

    def floor() -> None:
        with ThreadPoolExecutor(max_workers=os.cpu_count()) as ex:
            list(ex.map(_read_tile, files))

    def landcover(write: bool) -> None:
        with tempfile.TemporaryDirectory(prefix="bench_classify_") as d:
            ctx = P.prepare(parsed, spec_path=path, out=Path(d), overwrite=True)
            ep = ctx.epochs[0]
            with dask.config.set(scheduler="threads"):
                for _name, fn, enabled in P.EPOCH_STAGES:
                    if enabled(parsed):
                        fn(ctx, ep)
                if write:
                    P._write_epoch(ctx, ep)
                else:
                    lc = ep.layers["landcover"]
                    lc.map_blocks(lambda b: b[:1, :1], chunks=(1, 1)).compute()

    def timed(fn) -> float:  # noqa: ANN001
        fn()  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    f = timed(floor)
    lc = timed(lambda: landcover(False))
    wr = timed(lambda: landcover(True))
    return {"warm_floor_s": f, "warm_landcover_s": lc, "warm_landcover_ratio": lc / f, "warm_written_s": wr,
            "warm_written_ratio": wr / f}


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
        warm = in_process(spec, args.repeats)
        rows.append({"size": size, "mpx_per_date": size * size / 1e6, "floor_wall_s": floor["wall_s"],
                     "classify_wall_s": m["wall_s"], "classify_cpu_s": m["cpu_s"], "peak_rss_mib": m["peak_rss_mib"],
                     "ratio_to_floor": m["wall_s"] / floor["wall_s"], **warm})
    print("whole processes (start-up and imports included):")
    print(table(rows, ["size", "mpx_per_date", "floor_wall_s", "classify_wall_s", "classify_cpu_s", "peak_rss_mib",
                       "ratio_to_floor"]))
    print("in one warm process:")
    print(table(rows, ["size", "warm_floor_s", "warm_landcover_s", "warm_landcover_ratio", "warm_written_s",
                       "warm_written_ratio"]))
    print(f"results: {save('classify', {'rows': rows})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
