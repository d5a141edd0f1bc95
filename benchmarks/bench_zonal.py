"""Zonal statistics speed: `sinks zonal` against exactextract direct and rasterstats.

A float32 raster of ≥ 16 Mpx (4096 × 4096, 512-px deflate tiles) and 2,000 Voronoi
polygons partitioning it (GeoPackage).  Timed, medians of several runs, in this order:

* ``sinks_library``   — :func:`sinks.zonal.zonal_stats` in this process (one process);
* ``sinks_library_all_cores`` — the same with ``workers=os.cpu_count()`` (polygons
  shared between processes, as ``sinks zonal`` does by default);
* ``exactextract``    — ``exactextract.exact_extract`` on the same files and statistics;
* ``sinks_cli``       — ``python -m sinks.cli zonal ... -o out.csv`` (a subprocess);
* ``exactextract_cli``— a subprocess doing the same with exactextract (read, compute,
  write CSV), so both CLI figures include interpreter start-up and imports;
* ``rasterstats``     — ``rasterstats.zonal_stats`` (pixel-centre rule, no partial
  coverage), in this process, run once or twice (it is slow).

Then a memory sweep: the peak RSS of ``sinks zonal`` on the same raster for 500 to
32,000 polygons (``--memory-polygons``), which shows memory following the number of
polygons (their rows and geometries), not the raster.

Ratios are computed within the same run.  ``SINKS_BENCH_QUICK=1`` uses 2048 × 2048 and
500 polygons.  Results go to ``benchmarks/results/bench_zonal.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SINKS, run_measured, save, table  # noqa: E402

X0, Y0, RES = 400000.0, 2600000.0, 10.0
STATS = ["sum", "mean", "count"]


def make_inputs(tmp: Path, size: int, polygons: int, seed: int = 1) -> tuple[Path, Path]:
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(seed)
    raster = tmp / "values.tif"
    with rasterio.open(raster, "w", driver="GTiff", width=size, height=size, count=1, dtype="float32",
                       crs="EPSG:32649", transform=from_origin(X0, Y0, RES, RES), nodata=-9999.0, tiled=True,
                       blockxsize=512, blockysize=512, compress="deflate") as ds:
        for r0 in range(0, size, 512):
            h = min(512, size - r0)
            block = rng.gamma(2.0, 40.0, (h, size)).astype(np.float32)
            block[rng.random(block.shape) < 0.01] = -9999.0
            ds.write(block, 1, window=((r0, r0 + h), (0, size)))
    return raster, make_zones(tmp / "zones.gpkg", size, polygons, rng)


def make_zones(path: Path, size: int, polygons: int, rng: np.random.Generator) -> Path:
    """Write ``polygons`` Voronoi cells partitioning the size × size raster to ``path``."""
    import geopandas as gpd
    from shapely import voronoi_polygons
    from shapely.geometry import MultiPoint, box

    ext = box(X0, Y0 - size * RES, X0 + size * RES, Y0)
    pts = MultiPoint(np.column_stack([rng.uniform(X0, X0 + size * RES, polygons),
                                      rng.uniform(Y0 - size * RES, Y0, polygons)]))
    cells = [c.intersection(ext) for c in voronoi_polygons(pts, extend_to=ext).geoms]
    gpd.GeoDataFrame({"zid": [f"z{i:06d}" for i in range(len(cells))]}, geometry=cells,
                     crs="EPSG:32649").to_file(path)
    return path


def memory_by_polygons(tmp: Path, raster: Path, size: int, counts: list[int]) -> list[dict]:
    """Peak RSS of ``sinks zonal`` (all cores) on the same raster for growing polygon counts."""
    rows = []
    for n in counts:
        zones = make_zones(tmp / f"zones_{n}.gpkg", size, n, np.random.default_rng(n))
        r = run_measured([*SINKS, "zonal", str(raster), "--zones", str(zones), "--id-field", "zid",
                          "--stats", ",".join(STATS), "-o", str(tmp / f"mem_{n}.csv")])
        rows.append({"polygons": n, "wall_s": r["wall_s"], "peak_rss_mib": r["peak_rss_mib"]})
    for a, b in zip(rows, rows[1:]):
        b["rss_growth"] = b["peak_rss_mib"] / a["peak_rss_mib"]
    return rows


def _timed(fn, runs: int) -> tuple[float, list[float], object]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


EE_SCRIPT = """
import sys, geopandas as gpd
from exactextract import exact_extract
z = gpd.read_file(sys.argv[2])
df = exact_extract(sys.argv[1], z, ["sum", "mean", "count"], include_cols=["zid"], output="pandas")
df.to_csv(sys.argv[3], index=False)
"""


def main() -> int:
    quick = os.environ.get("SINKS_BENCH_QUICK") == "1"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048 if quick else 4096)
    ap.add_argument("--polygons", type=int, default=500 if quick else 2000)
    ap.add_argument("--runs", type=int, default=3 if quick else 5)
    ap.add_argument("--rasterstats-runs", type=int, default=1 if quick else 2)
    ap.add_argument("--memory-polygons", default="500,2000" if quick else "500,2000,8000,32000",
                    help="polygon counts for the peak-RSS sweep of `sinks zonal` ('' to skip)")
    args = ap.parse_args()

    import geopandas as gpd
    from exactextract import exact_extract

    from sinks.zonal import zonal_stats

    with tempfile.TemporaryDirectory(prefix="bench_zonal_") as d:
        tmp = Path(d)
        raster, zones = make_inputs(tmp, args.size, args.polygons)
        # warm the page cache and imports once
        zonal_stats(raster, zones, id_field="zid", stats=STATS)

        def direct():
            z = gpd.read_file(zones)
            return exact_extract(str(raster), z, STATS, include_cols=["zid"], output="pandas")

        rows = []
        lib_t, lib_all, ours = _timed(lambda: zonal_stats(raster, zones, id_field="zid", stats=STATS), args.runs)
        cores = os.cpu_count() or 1
        par_t, par_all, par = _timed(lambda: zonal_stats(raster, zones, id_field="zid", stats=STATS, workers=cores),
                                     args.runs)
        assert np.array_equal(par["sum"].to_numpy(), ours["sum"].to_numpy())
        ee_t, ee_all, ref = _timed(direct, args.runs)
        diff = float(np.nanmax(np.abs(ours["sum"].to_numpy() - ref["sum"].to_numpy())
                               / np.maximum(np.abs(ref["sum"].to_numpy()), 1e-300)))
        cli_runs, ee_cli_runs = [], []
        for i in range(args.runs):
            out = tmp / f"out{i}.csv"
            cli_runs.append(run_measured([*SINKS, "zonal", str(raster), "--zones", str(zones), "--id-field", "zid",
                                          "--stats", ",".join(STATS), "-o", str(out)]))
            ee_cli_runs.append(run_measured([sys.executable, "-c", EE_SCRIPT, str(raster), str(zones),
                                             str(tmp / f"ee{i}.csv")]))
        cli_t = statistics.median(r["wall_s"] for r in cli_runs)
        ee_cli_t = statistics.median(r["wall_s"] for r in ee_cli_runs)
        try:
            from rasterstats import zonal_stats as rs_zonal

            rs_t, rs_all, _ = _timed(lambda: rs_zonal(str(zones), str(raster), stats=STATS), args.rasterstats_runs)
        except ImportError:
            rs_t, rs_all = float("nan"), []
        rows = [
            {"method": "sinks_library", "median_s": lib_t, "vs_exactextract": lib_t / ee_t},
            {"method": f"sinks_library_{cores}_processes", "median_s": par_t, "vs_exactextract": par_t / ee_t},
            {"method": "exactextract", "median_s": ee_t, "vs_exactextract": 1.0},
            {"method": "sinks_cli", "median_s": cli_t, "vs_exactextract": cli_t / ee_cli_t,
             "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in cli_runs)},
            {"method": "exactextract_cli", "median_s": ee_cli_t, "vs_exactextract": 1.0,
             "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in ee_cli_runs)},
            {"method": "rasterstats", "median_s": rs_t, "vs_exactextract": rs_t / ee_t},
        ]
        print(f"{args.size}x{args.size} px ({args.size * args.size / 1e6:.1f} Mpx), {args.polygons} polygons, "
              f"{args.runs} runs (rasterstats {args.rasterstats_runs}); max rel. diff of sums vs exactextract "
              f"{diff:.2e}")
        print(table(rows, ["method", "median_s", "vs_exactextract", "peak_rss_mib"]))
        print(f"rasterstats / sinks library: {rs_t / lib_t:.1f}x (one process), {rs_t / par_t:.1f}x ({cores} processes)")
        mem_rows = memory_by_polygons(tmp, raster, args.size,
                                      [int(n) for n in args.memory_polygons.split(",") if n.strip()])
        if mem_rows:
            print("peak RSS of `sinks zonal` by number of polygons (same raster):")
            print(table(mem_rows, ["polygons", "wall_s", "peak_rss_mib", "rss_growth"]))
        path = save("bench_zonal", {
            "raster_px": args.size * args.size, "polygons": args.polygons, "runs": args.runs,
            "stats": STATS, "max_rel_diff_sum": diff, "rows": rows, "memory_by_polygons": mem_rows,
            "raw_s": {"sinks_library": lib_all, "sinks_library_all_cores": par_all, "exactextract": ee_all,
                      "rasterstats": rs_all,
                      "sinks_cli": [r["wall_s"] for r in cli_runs],
                      "exactextract_cli": [r["wall_s"] for r in ee_cli_runs]},
            "ratios": {"sinks_library_over_exactextract": lib_t / ee_t,
                       "sinks_cli_over_exactextract_cli": cli_t / ee_cli_t,
                       "rasterstats_over_sinks_library": rs_t / lib_t,
                       "rasterstats_over_sinks_library_all_cores": rs_t / par_t},
        })
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
