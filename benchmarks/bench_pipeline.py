"""Full pipeline against the I/O floor, for scenes of growing size, with a CPU budget.

``python benchmarks/bench_pipeline.py [--sizes 2000,5000] [--repeats 3]``

For each size N, ``sinks sample-data`` makes an N×N scene (cached under
``$SINKS_BENCH_DIR``, default /tmp/sinks-bench); then the I/O floor
(benchmarks/io_floor.py: every block of every tile read and decoded) and
``sinks run`` on the scene's pipeline.yaml are each timed as whole processes.  Each
repeat walks every size, a floor, a run and a floor again for each, so that a drift of the
machine's speed moves a run and its floors, and neighbouring sizes, alike; the faster of
the two floors counts (the first may read from disk what the run then finds in the page
cache).  Each repeat's ratio is its run over its floor, the time growth is taken within
each repeat, and the table gives the medians (every repeat's times are in the results).  Reports wall, CPU, peak RSS (of the main process, and summed over it and its
child processes), the pipeline/floor ratio, and the growth from one size to the next.
The runs hash their inputs from scratch (``SINKS_CACHE_DIR=off``), as a first run over
new tiles does; ``--checksum-cache DIR`` measures reruns instead.

A second table splits each size's CPU seconds by the work they pay for, from the runs'
manifests (``cpu_s``, per stage) and one separate timing of the input digests (BLAKE3,
the run's default, with each epoch's tiles in the page cache, as the run hashes them beside
the pass that reads them); it sets what a run cannot avoid (decoding, digests, the COG
work after each pass, zonal tables, encroachment search) against the CPU that fits in
twice the floor's wall time on this machine's cores.  The COGs' tiles are compressed inside
the passes (:mod:`sinks.cog`), so ``cog_copies_cpu_s`` is what is left after them:
laying the files out, and GDAL's copies of layers with averaged overviews.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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
    from sinks.sampledata import pipeline_yaml

    spec = pipeline_yaml(base, base / "aoi")  # a scene made by an earlier version runs today's spec
    if (base / "pipeline.yaml").read_text() != spec:
        (base / "pipeline.yaml").write_text(spec)
        print(f"{base / 'pipeline.yaml'}: rewritten as sample-data writes it now")
    return base


_HASH_CODE = """
import os, resource, sys, tempfile
from pathlib import Path
from sinks.manifest import _hash_content
from sinks.pipeline import prepare
from sinks.spec import load_spec

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

s, p = load_spec(sys.argv[1])
ctx = prepare(s, spec_path=p, out=Path(tempfile.mkdtemp()), overwrite=True)
groups = [sorted({ref.path for sc in ep.scenes for t in sc.tiles for _r, ref in t.bands}) for ep in ctx.epochs]
rest = sorted(set(ctx.inputs) - {q for g in groups for q in g})
total = 0.0
for group in groups + [rest]:
    for q in group:  # read once, so that the timed pass finds the group in the page cache
        _hash_content(q, algorithm="blake3", size=os.path.getsize(q), bufsize=1 << 22)
    t0 = cpu()
    for q in group:
        _hash_content(q, algorithm="blake3", size=os.path.getsize(q), bufsize=1 << 22)
    total += cpu() - t0
print(total)
"""


def hashing_cpu(spec: Path) -> float:
    """CPU seconds of the run's input digests (BLAKE3) in a separate process, each epoch's
    tiles timed on a second hashing, with the tiles in the page cache: the run hashes an
    epoch's tiles while its pass reads them, so reading them from disk is the pass's cost
    either way, and one epoch's tiles fit in the cache where a whole scene's may not."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", _HASH_CODE, str(spec)], capture_output=True, text=True,
                         check=True, env={**os.environ, "SINKS_CACHE_DIR": "off"})
    return float(out.stdout.strip().splitlines()[-1])


def budget(manifests: list[dict], *, floor_cpu: float, floor_wall: float, run_cpu: float,
           hashing: float) -> dict[str, float]:
    """CPU seconds of a run by what they pay for (medians over the runs' manifests);
    ``hashing``: the checksums' CPU inside each run (0 when a checksum cache served them)."""
    def med(stage: str, who: str = "process") -> float:
        return statistics.median(float((m.get("cpu_s", {}).get(stage) or {}).get(who, 0.0)) for m in manifests)

    cog = med("compute_write.cog_copy")
    passes = med("compute_write") - cog - hashing
    zonal = med("zonal", "children") + med("zonal")
    encroach = med("change")
    outputs = hashing + cog + zonal + encroach
    return {
        "decode_floor_cpu_s": floor_cpu, "checksums_cpu_s": hashing,
        "cog_copies_cpu_s": cog, "zonal_tables_cpu_s": zonal, "encroachment_cpu_s": encroach,
        "passes_beyond_decode_cpu_s": max(passes - floor_cpu, 0.0),
        "other_cpu_s": max(run_cpu - passes - outputs, 0.0),
        "run_cpu_s": run_cpu, "unavoidable_cpu_s": floor_cpu + outputs,
        "cpu_in_2x_floor_s": 2.0 * floor_wall * (os.cpu_count() or 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2000,5000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--spec-extra", default="", help="ignored; reserved")
    ap.add_argument("--checksum-cache", default="off",
                    help="SINKS_CACHE_DIR of the runs; default off: every run hashes its inputs, as a "
                         "first run does (a directory: the first repeat fills it, the others reuse it)")
    args = ap.parse_args(argv)
    sizes = [int(v) for v in args.sizes.split(",")]
    # sinks' own modules byte-compiled, as `make demo` and `make test` leave them: the
    # package is installed editable, and with PYTHONDONTWRITEBYTECODE set each run (and its
    # table child) would compile every module changed since the last compile from source
    import compileall

    compileall.compile_dir(str(ROOT / "sinks"), quiet=2)
    bases = {size: scene(size) for size in sizes}
    floors: dict[int, list] = {size: [] for size in sizes}
    runs: dict[int, list] = {size: [] for size in sizes}
    manifests: dict[int, list] = {size: [] for size in sizes}
    # every repeat walks all sizes, each a floor, a run and a floor again: a drift of the
    # machine's speed then moves a run and its floors, and consecutive sizes, alike.  The
    # faster floor counts: the one before a run may have read its tiles from disk (a larger
    # scene read just before pushed them out of the page cache) where the run then finds
    # them in memory; a scene larger than the page cache is read from disk by both
    raw: list[dict] = []
    for rep in range(args.repeats):
        for size in sizes:
            spec = bases[size] / "pipeline.yaml"
            floor_cmd = [sys.executable, str(ROOT / "benchmarks" / "io_floor.py"), str(spec)]
            before = run_measured(floor_cmd)
            out = bases[size] / "run"
            runs[size].append(run_measured([*SINKS, "-q", "run", str(spec), "--out", str(out), "--overwrite"],
                                           env={"SINKS_CACHE_DIR": args.checksum_cache}))
            after = run_measured(floor_cmd)
            floors[size].append(min(before, after, key=lambda m: m["wall_s"]))
            manifests[size].append(json.loads((out / "manifest.json").read_text()))
            raw.append({"repeat": rep, "size": size, "floor_before_s": before["wall_s"],
                        "floor_after_s": after["wall_s"], "run_s": runs[size][-1]["wall_s"],
                        "run_cpu_s": runs[size][-1]["cpu_s"]})
    rows, budgets = [], []
    for size in sizes:
        fl, rn = floors[size], runs[size]
        floor, pipe = median_of(fl), median_of(rn)
        ratios = [r["wall_s"] / f["wall_s"] for f, r in zip(fl, rn)]
        rows.append({"size": size, "mpx_per_date": size * size / 1e6, "floor_wall_s": floor["wall_s"],
                     "pipeline_wall_s": pipe["wall_s"], "pipeline_cpu_s": pipe["cpu_s"],
                     "peak_rss_mib": pipe["peak_rss_mib"], "tree_peak_rss_mib": pipe["tree_peak_rss_mib"],
                     "ratio_to_floor": statistics.median(ratios), "ratio_range": f"{min(ratios):.2f}-{max(ratios):.2f}"})
        hashed = hashing_cpu(bases[size] / "pipeline.yaml") if args.checksum_cache == "off" else 0.0
        b = budget(manifests[size], floor_cpu=floor["cpu_s"], floor_wall=floor["wall_s"], run_cpu=pipe["cpu_s"],
                   hashing=hashed)
        budgets.append({"size": size, **b})
    for (sa, a), (sb, b) in zip(zip(sizes, rows), zip(sizes[1:], rows[1:])):
        # growth per repeat (both sizes run minutes apart in it), then the median
        b["time_growth"] = statistics.median(y["wall_s"] / x["wall_s"] for x, y in zip(runs[sa], runs[sb]))
        b["rss_growth"] = b["peak_rss_mib"] / a["peak_rss_mib"]
        b["tree_rss_growth"] = b["tree_peak_rss_mib"] / a["tree_peak_rss_mib"] if a["tree_peak_rss_mib"] else None
    print(table(rows, ["size", "mpx_per_date", "floor_wall_s", "pipeline_wall_s", "pipeline_cpu_s",
                       "peak_rss_mib", "tree_peak_rss_mib", "ratio_to_floor", "ratio_range", "time_growth",
                       "rss_growth", "tree_rss_growth"]))
    print()
    print("CPU seconds by what they pay for (unavoidable = decode floor + digests + COG work after the passes"
          " + zonal tables + encroachment; cpu_in_2x_floor = 2 x floor wall x cores)")
    print(table(budgets, ["size", "decode_floor_cpu_s", "checksums_cpu_s", "cog_copies_cpu_s",
                          "zonal_tables_cpu_s", "encroachment_cpu_s", "passes_beyond_decode_cpu_s", "other_cpu_s",
                          "run_cpu_s", "unavoidable_cpu_s", "cpu_in_2x_floor_s"]))
    print(f"results: {save('pipeline', {'rows': rows, 'cpu_budget': budgets, 'repeats': raw})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
