"""Benchmark ``sinks carbon`` against InVEST's carbon model (Willamette sample) and at 400 Mpx.

1. Willamette (1325 x 1889 px, current + future scenario, InVEST's pool table): the whole
   ``sinks carbon ... --alt ... -o DIR --overwrite`` process, writing its 6 default COGs
   (total density and stock of both maps and their change) and the summary, timed as a
   subprocess (median of ``--runs``), with the child's peak RSS; and the same with
   ``--pool-layers`` (14 COGs: a density map per pool as well), alternating with it.
   With ``--invest-python PY`` (a Python that imports ``natcap.invest``) or
   ``--install-invest`` (builds one in ``benchmarks/.invest-venv``, :mod:`invest_env`),
   InVEST's carbon model runs on the same inputs in the same benchmark, alternating with
   sinks (a fresh workspace each time), and the speedup is the median of the per-pair
   ratios; sinks's totals are checked against the totals InVEST wrote in that run.
   Without it, the reference is InVEST 3.20.2's 5.5 s and 363 MiB measured before on
   this machine, and the totals InVEST wrote then (41,401,390.815 / 37,875,295.71 Mg C).
   The goal is >= 6x faster (the default command) with less memory.
2. A synthetic ``--big-size`` x ``--big-size`` uint8 land cover (default 20000 = 400 Mpx)
   written to a temporary directory: ``sinks carbon BIG --json`` (stock totals through
   the dask path) must stay under 2 GB peak RSS.  ``--big-write`` also times writing the
   total layers (``-o``, ``--no-pool-layers``).  The file is deleted afterwards.

Usage: ``python benchmarks/bench_carbon.py [--runs 5] [--big-size 20000] [--big-write]
[--invest-python PY | --install-invest]``
(``--big-size 0`` skips part 2).  Results: ``benchmarks/results/bench_carbon.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import ROOT, SINKS, median_of, run_measured, save, table  # noqa: E402
from invest_env import RUN_CARBON, has_invest, install, invest_version, read_totals  # noqa: E402

SHARED = ROOT.parent / "shared" / "invest_carbon"
INVEST = {"wall_s": 5.5, "peak_rss_mib": 363.0, "version": "3.20.2"}
INVEST_TOTALS = {"baseline": 41_401_390.815, "alternate": 37_875_295.71, "change": -3_526_095.105}


def bench_willamette(runs: int, out_root: Path, invest_python: Path | None = None) -> dict:
    cur, fut = SHARED / "lulc_current_willamette.tif", SHARED / "lulc_future_willamette.tif"
    pools = SHARED / "carbon_pools_willamette.csv"
    out = out_root / "willamette"
    cmd = [*SINKS, "carbon", str(cur), "--pools", str(pools), "--alt", str(fut), "-o", str(out), "--overwrite"]
    ws = out_root / "invest"
    inv_cmd = [str(invest_python), "-c", RUN_CARBON, str(ws), str(cur), str(fut), str(pools)] if invest_python else None

    def run_invest() -> dict[str, float]:
        assert inv_cmd is not None
        shutil.rmtree(ws, ignore_errors=True)  # InVEST's task graph would skip work done before
        return run_measured(inv_cmd)

    pools_out = out_root / "willamette_pools"
    cmd_pools = [*SINKS, "carbon", str(cur), "--pools", str(pools), "--alt", str(fut), "-o", str(pools_out),
                 "--overwrite", "--pool-layers"]
    run_measured(cmd)  # warm the page cache and .pyc files
    if inv_cmd:
        run_invest()
    measured, measured_pools, invest_runs, ratios, ratios_pools = [], [], [], [], []
    for _ in range(runs):  # alternating, so that drift in the machine's speed hits all alike
        if inv_cmd:
            invest_runs.append(run_invest())
        measured.append(run_measured(cmd))
        measured_pools.append(run_measured(cmd_pools))
        if inv_cmd:
            ratios.append(invest_runs[-1]["wall_s"] / measured[-1]["wall_s"])
            ratios_pools.append(invest_runs[-1]["wall_s"] / measured_pools[-1]["wall_s"])
    summary = json.loads((out / "carbon_summary.json").read_text())
    got = {"baseline": summary["baseline"]["stock_mg_c"]["total"],
           "alternate": summary["alternate"]["stock_mg_c"]["total"],
           "change": summary["change_mg_c"]["total"]}
    med = median_of(measured)
    med_pools = median_of(measured_pools)
    if inv_cmd:
        assert invest_python is not None
        inv = median_of(invest_runs)
        reference = {"wall_s": inv["wall_s"], "cpu_s": inv["cpu_s"], "peak_rss_mib": inv["peak_rss_mib"],
                     "version": invest_version(invest_python), "measured_here": True, "runs": invest_runs}
        expected = read_totals(ws)
        speedup = statistics.median(ratios)
        speedup_pools = statistics.median(ratios_pools)
    else:
        reference = {**INVEST, "measured_here": False}
        expected = INVEST_TOTALS
        speedup = INVEST["wall_s"] / med["wall_s"]
        speedup_pools = INVEST["wall_s"] / med_pools["wall_s"]
    rel = {k: abs(got[k] - v) / abs(v) for k, v in expected.items()}
    return {
        "command": " ".join(cmd[len(SINKS):]),
        "layers_written": len(summary["layers"]),
        "runs": measured,
        "median": med,
        "invest": reference,
        "speedup_vs_invest": speedup,
        "speedup_range": [min(ratios), max(ratios)] if ratios else None,
        "pool_layers": {"command": " ".join(cmd_pools[len(SINKS):]), "runs": measured_pools, "median": med_pools,
                        "speedup_vs_invest": speedup_pools,
                        "speedup_range": [min(ratios_pools), max(ratios_pools)] if ratios_pools else None},
        "goal_met": speedup >= 6 and med["peak_rss_mib"] < reference["peak_rss_mib"],
        "totals_mg_c": got,
        "invest_totals_mg_c": expected,
        "relative_error_vs_invest": rel,
    }


def make_big(path: Path, size: int) -> None:
    """A ``size`` x ``size`` uint8 land cover of 64-px patches of the 8 classes (and nodata)."""
    code = (
        "import numpy as np, rasterio, sys\n"
        "from rasterio.transform import from_origin\n"
        "from rasterio.windows import Window\n"
        "path, n = sys.argv[1], int(sys.argv[2])\n"
        "rng = np.random.default_rng(0)\n"
        "prof = dict(driver='GTiff', width=n, height=n, count=1, dtype='uint8', crs='EPSG:32650',\n"
        "            transform=from_origin(300000, 3000000, 10, 10), nodata=0, tiled=True,\n"
        "            blockxsize=512, blockysize=512, compress='DEFLATE', bigtiff='IF_SAFER')\n"
        "with rasterio.open(path, 'w', **prof) as ds:\n"
        "    step = 2048\n"
        "    for r in range(0, n, step):\n"
        "        h = min(step, n - r)\n"
        "        patches = rng.integers(0, 9, (-(-h // 64), -(-n // 64)), dtype=np.uint8)\n"
        "        block = np.kron(patches, np.ones((64, 64), np.uint8))[:h, :n]\n"
        "        ds.write(block, 1, window=Window(0, r, n, h))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path), str(size)], check=True)


def bench_big(size: int, write: bool, tmp: Path) -> dict:
    path = tmp / f"landcover_{size}.tif"
    make_big(path, size)
    res: dict = {"pixels": size * size, "file_mib": path.stat().st_size / 2**20}
    try:
        cmd = [*SINKS, "carbon", str(path), "--json"]
        res["stock_totals"] = run_measured(cmd)
        res["stock_totals"]["under_2_gib"] = res["stock_totals"]["peak_rss_mib"] < 2048
        if write:
            out = tmp / "big_out"
            cmd = [*SINKS, "carbon", str(path), "-o", str(out), "--overwrite", "--no-pool-layers"]
            res["write_totals_layers"] = run_measured(cmd)
            res["write_totals_layers"]["under_2_gib"] = res["write_totals_layers"]["peak_rss_mib"] < 2048
            shutil.rmtree(out, ignore_errors=True)
    finally:
        path.unlink(missing_ok=True)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--big-size", type=int, default=20000, help="side of the synthetic raster (0: skip)")
    ap.add_argument("--big-write", action="store_true", help="also time writing the big layers")
    ap.add_argument("--invest-python", type=Path, help="a Python with natcap.invest: time InVEST in this run")
    ap.add_argument("--install-invest", action="store_true",
                    help="build benchmarks/.invest-venv with InVEST (system GDAL, ~5 min) and time it in this run")
    args = ap.parse_args()
    invest_python = args.invest_python
    try:
        if args.install_invest and invest_python is None:
            invest_python = install()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if invest_python is not None and not has_invest(invest_python):
        print(f"error: --invest-python {invest_python}: cannot import natcap.invest.carbon", file=sys.stderr)
        return 2
    result: dict = {}
    with tempfile.TemporaryDirectory(prefix="sinks-bench-carbon-") as td:
        tmp = Path(td)
        if (SHARED / "lulc_current_willamette.tif").exists():
            w = bench_willamette(max(args.runs, 1), tmp, invest_python)
            result["willamette"] = w
            ref = w["invest"]
            how = "measured in this run" if ref["measured_here"] else "recorded reference"
            spread = (f" (per-pair range {w['speedup_range'][0]:.2f}-{w['speedup_range'][1]:.2f})"
                      if w["speedup_range"] else "")
            rows = [
                {"tool": f"InVEST {ref['version']} ({how})", "wall_s": ref["wall_s"], "cpu_s": ref.get("cpu_s"),
                 "peak_rss_mib": ref["peak_rss_mib"], "speedup": 1.0},
                {"tool": f"sinks carbon ({w['layers_written']} COGs)", "wall_s": w["median"]["wall_s"],
                 "cpu_s": w["median"]["cpu_s"], "peak_rss_mib": w["median"]["peak_rss_mib"],
                 "speedup": w["speedup_vs_invest"]},
                {"tool": "sinks carbon --pool-layers (14 COGs)", "wall_s": w["pool_layers"]["median"]["wall_s"],
                 "cpu_s": w["pool_layers"]["median"]["cpu_s"], "peak_rss_mib": w["pool_layers"]["median"]["peak_rss_mib"],
                 "speedup": w["pool_layers"]["speedup_vs_invest"]},
            ]
            print(f"Willamette, current + future, COGs + summary, median of {args.runs} runs")
            print(table(rows, ["tool", "wall_s", "cpu_s", "peak_rss_mib", "speedup"]))
            print(f"goal (>= 6x faster and < {ref['peak_rss_mib']:.0f} MiB): {'met' if w['goal_met'] else 'NOT met'}"
                  f"{spread}; max relative error vs InVEST's totals {max(w['relative_error_vs_invest'].values()):.1e}")
        else:
            print(f"skipping Willamette: {SHARED} not found")
        if args.big_size > 0:
            b = bench_big(args.big_size, args.big_write, tmp)
            result["big"] = b
            rows = [{"case": f"{b['pixels'] / 1e6:.0f} Mpx stock totals (--json)", **b["stock_totals"]}]
            if "write_totals_layers" in b:
                rows.append({"case": f"{b['pixels'] / 1e6:.0f} Mpx + 2 COGs (-o)", **b["write_totals_layers"]})
            print()
            print(table(rows, ["case", "wall_s", "cpu_s", "peak_rss_mib", "under_2_gib"]))
    path = save("bench_carbon", result)
    print(f"\nresults: {path}")
    ok = result.get("willamette", {}).get("goal_met", True) and result.get("big", {}).get(
        "stock_totals", {}).get("under_2_gib", True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
