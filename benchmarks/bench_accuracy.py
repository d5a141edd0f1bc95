"""Land-cover accuracy on the real scenes of ``../shared/real_scenes``, per scene and method.

``python benchmarks/bench_accuracy.py [--scenes DIR] [--methods rules,rf,...] [--json]``

Every map is made the way a user would make it, with the ``sinks`` command line, and
scored with the scenes' own ``score.py`` (overall accuracy, Cohen's kappa, per-class
producer's and user's accuracy, from which F1 is computed here).  Methods:

``baseline``
    the naive NDVI/MNDWI map of ``score.py --baseline`` (the floor to beat);
``rules``
    ``sinks classify`` with the default rules, all labelled pixels scored; the three
    Slovenian dates are also classified together (``slovenia_3dates``);
``rf`` / ``hgb``
    ``sinks train --samples labels.gpkg`` (random forest / gradient boosting) on the
    samples of one half of the scene, clipped to that half, then ``sinks classify
    --model``, scored on the other half (``score.py --half``); both directions (west →
    east and east → west), the figure is their mean;
``rf-map`` / ``hgb-map`` / ``rf-map-ext``
    ``sinks train --reference-map labels.tif --reference-legend sinks`` on the training
    half of the reference map (the other half blanked), scored on the other half; the
    ``-ext`` variant with ``--features extended``.

The scenes are read where they are; nothing is copied into the project.  Results:
``benchmarks/results/accuracy.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SINKS, save, table  # noqa: E402

DEFAULT_SCENES = ROOT.parent / "shared" / "real_scenes"
ROLES = "blue,green,red,nir,swir1,swir2"
SLOVENIA = ("slovenia_sentinel2_20150711", "slovenia_sentinel2_20150830", "slovenia_sentinel2_20150909")
HALVES = (("west", "east"), ("east", "west"))


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        err = proc.stderr.strip().splitlines()
        raise RuntimeError(f"exit {proc.returncode}: {err[-1] if err else ''}")
    return proc.stdout


def score(scenes: Path, scene: str, pred: Path | None, *, half: str | None = None) -> dict[str, Any]:
    """``score.py --json`` of a prediction (``None``: the naive baseline), with F1 per class."""
    cmd = [sys.executable, str(scenes / "score.py")]
    cmd += ["--baseline", str(scenes / scene)] if pred is None else [str(pred), str(scenes / scene)]
    if half:
        cmd += ["--half", half]
    res = json.loads(_run(cmd + ["--json"]).replace("NaN", "null"))
    f1 = {}
    for name, c in res["per_class"].items():
        if not c["reference_px"]:
            continue
        pa, ua = c["producers_accuracy"] or 0.0, c["users_accuracy"] or 0.0
        f1[name] = 2 * pa * ua / (pa + ua) if pa + ua else 0.0
    return {"oa": res["overall_accuracy"], "kappa": res["kappa"], "n": res["n_scored"], "f1": f1,
            "predicted_px": {k: v["predicted_px"] for k, v in res["per_class"].items() if v["predicted_px"]}}


def classify(images: list[Path], out: Path, *, model: Path | None = None) -> None:
    cmd = [*SINKS, "classify", *map(str, images), "-o", str(out), "--overwrite"]
    if model is not None:
        cmd += ["--model", str(model)]
    _run(cmd)


def half_samples(src: Path, image: Path, half: str, out: Path) -> Path:
    """The labelled samples of one half of the image, clipped to it."""
    import geopandas as gpd
    import rasterio
    from shapely.geometry import box

    with rasterio.open(image) as ds:
        left, bottom, right, top = ds.bounds
        mid = ds.transform.c + ds.transform.a * (ds.width // 2)
    frame = box(left, bottom, mid, top) if half == "west" else box(mid, bottom, right, top)
    gdf = gpd.read_file(src)
    gdf = gdf[gdf.intersects(frame)].copy()
    gdf["geometry"] = gdf.geometry.intersection(frame)
    gdf = gdf[~gdf.geometry.is_empty]
    gdf.to_file(out, driver="GPKG")
    return out


def half_map(src: Path, half: str, out: Path) -> Path:
    """The reference map with everything outside one half set to its nodata (0)."""
    import rasterio

    with rasterio.open(src) as ds:
        arr, prof = ds.read(1), ds.profile
    w = arr.shape[1] // 2
    if half == "west":
        arr[:, w:] = 0
    else:
        arr[:, :w] = 0
    with rasterio.open(out, "w", **prof) as dst:
        dst.write(arr, 1)
    return out


def supervised(scenes: Path, scene: str, method: str, work: Path) -> dict[str, Any]:
    """Train on one half, score on the other, both directions; the mean and each."""
    image = scenes / scene / "image.tif"
    runs = []
    for train_half, test_half in HALVES:
        model = work / f"{scene}-{method}-{train_half}.skops"
        cmd = [*SINKS, "train", str(image), "-o", str(model), "--overwrite", "--seed", "0"]
        if method.startswith(("rf-map", "hgb-map")):
            ref = half_map(scenes / scene / "labels.tif", train_half, work / f"{scene}-ref-{train_half}.tif")
            cmd += ["--reference-map", str(ref), "--reference-legend", "sinks"]
            if method.startswith("hgb"):
                cmd += ["--model-type", "hgb"]
            if method.endswith("-ext"):
                cmd += ["--features", "extended"]
        else:
            samples = half_samples(scenes / scene / "labels.gpkg", image, train_half,
                                   work / f"{scene}-samples-{train_half}.gpkg")
            cmd += ["--samples", str(samples), "--label-field", "label"]
            if method == "hgb":
                cmd += ["--model-type", "hgb"]
        _run(cmd)
        pred = work / f"{scene}-{method}-{train_half}.tif"
        classify([image], pred, model=model)
        runs.append({"train": train_half, **score(scenes, scene, pred, half=test_half)})
    return {"oa": statistics.mean(r["oa"] for r in runs), "kappa": statistics.mean(r["kappa"] for r in runs),
            "n": sum(r["n"] for r in runs), "f1": _mean_f1(runs), "runs": runs}


def _mean_f1(runs: list[dict[str, Any]]) -> dict[str, float]:
    names = sorted({k for r in runs for k in r["f1"]})
    return {k: statistics.mean(r["f1"].get(k, 0.0) for r in runs) for k in names}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=Path, default=DEFAULT_SCENES)
    ap.add_argument("--methods", default="baseline,rules,rf,hgb,rf-map,hgb-map,rf-map-ext")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    scenes: Path = args.scenes
    if not (scenes / "score.py").is_file():
        print(f"{scenes}: no real_scenes folder with score.py", file=sys.stderr)
        return 2
    names = sorted(p.name for p in scenes.iterdir() if (p / "image.tif").is_file())
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="sinks-accuracy-") as tmp:
        work = Path(tmp)
        for scene in names:
            results[scene] = {}
            for method in methods:
                try:
                    if method == "baseline":
                        results[scene][method] = score(scenes, scene, None)
                    elif method == "rules":
                        out = work / f"{scene}-rules.tif"
                        classify([scenes / scene / "image.tif"], out)
                        results[scene][method] = score(scenes, scene, out)
                    else:
                        results[scene][method] = supervised(scenes, scene, method, work)
                except RuntimeError as exc:
                    results[scene][method] = {"error": str(exc).splitlines()[-1]}
        if "rules" in methods and all((scenes / s).is_dir() for s in SLOVENIA):
            out = work / "slovenia-3dates-rules.tif"
            try:
                classify([scenes / s / "image.tif" for s in SLOVENIA], out)
                results["slovenia_3dates"] = {"rules": score(scenes, SLOVENIA[0], out)}
            except RuntimeError as exc:
                results["slovenia_3dates"] = {"rules": {"error": str(exc).splitlines()[-1]}}
    rows = []
    for scene, by_method in results.items():
        for method, r in by_method.items():
            if "error" in r:
                rows.append({"scene": scene, "method": method, "F1 per class": r["error"][:90]})
                continue
            f1 = " ".join(f"{k[:5]} {v:.2f}" for k, v in r["f1"].items())
            rows.append({"scene": scene, "method": method, "OA": f"{r['oa']:.3f}", "kappa": f"{r['kappa']:.3f}",
                         "F1 per class": f1})
    means = {}
    for method in methods:
        vals = [results[s][method]["oa"] for s in names if "oa" in results[s].get(method, {})]
        if len(vals) == len(names):
            means[method] = statistics.mean(vals)
    path = save("accuracy", {"scenes": str(scenes), "results": results, "mean_oa": means})
    if args.json:
        print(json.dumps({"results": results, "mean_oa": means}, indent=2))
    else:
        print(table(rows, ["scene", "method", "OA", "kappa", "F1 per class"]))
        print("mean OA over the scenes: " + ", ".join(f"{m} {v:.3f}" for m, v in means.items()))
        print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
