"""The synthetic sample scene: a coastal landscape near Beihai, Guangxi, in three epochs.

:func:`write_sample_data` writes, for 2015, 2020 and 2025, a dry-season (15 January)
and a growing-season (20 August) acquisition as 2 × 2 overlapping Sentinel-2 L2A-like
tiles (B02 B03 B04 B08 B11 B12, uint16 reflectance × 10 000, nodata 0, DEFLATE COGs
with overviews; 2025 tiles carry the +1000 DN offset of processing baseline 04.00),
the truth land cover of each epoch, the AOI vectors (redlines, regions, coastal zone,
training and reference samples) and ``pipeline.yaml``.  Everything is rendered window
by window from a procedural layout (:mod:`.layout`), so memory stays bounded at any
size, and seeded, so the files are reproducible.

The data are synthetic: class spectra are typical published values (:mod:`.spectra`),
not observations.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, OutputExistsError
from ..landcover import NAMES

__all__ = ["write_sample_data", "pipeline_yaml", "SampleDataResult", "ACQUISITIONS", "EPOCHS", "DEFAULT_SIZE",
           "DEFAULT_SEED"]

log = logging.getLogger("sinks")

DEFAULT_SIZE = 480
DEFAULT_SEED = 20261122
EPOCHS = (2015, 2020, 2025)
ORIGIN = (400000.0, 2380000.0)  # upper-left corner, EPSG:32649 (near Beihai, Guangxi)
CRS = "EPSG:32649"
RES = 10.0
OVERLAP = 16


def _acquisitions():  # noqa: ANN202
    from .render import Acquisition

    out = []
    for t, y in enumerate(EPOCHS):
        out.append(Acquisition(t, y, 1, 15, missing=(0.90, 0.0, 1.0, 0.05) if y == 2015 else None))
        out.append(Acquisition(t, y, 8, 20, cloud=(0.62, 0.22, 0.045) if y == 2020 else None))
    return tuple(out)


ACQUISITIONS = _acquisitions()


@dataclass(frozen=True)
class SampleDataResult:
    """What :func:`write_sample_data` wrote."""

    out_dir: Path
    aoi_dir: Path
    files: tuple[Path, ...]
    class_areas_ha: dict[int, dict[str, float]]


def _tile_windows(size: int) -> list[tuple[int, int, int, int, str]]:
    half = size // 2
    spans = [(0, min(size, half + OVERLAP)), (max(0, half - OVERLAP), size)]
    return [(r0, r1, c0, c1, f"r{i}c{j}") for i, (r0, r1) in enumerate(spans) for j, (c0, c1) in enumerate(spans)]


def write_sample_data(out_dir: str | os.PathLike, *, size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED,
                      aoi_dir: str | os.PathLike | None = None, overwrite: bool = False) -> SampleDataResult:
    """Write the synthetic scene (tiles, truth, AOI, ``pipeline.yaml``) under ``out_dir``.

    Parameters
    ----------
    out_dir : path
    size : int
        Pixels per side of the whole scene (10 m pixels), ≥ 64.
    seed : int
    aoi_dir : path, optional
        Where the vectors go (default ``out_dir/aoi``).
    overwrite : bool
        Replace existing files; otherwise refuse before writing anything.
    """
    from .layout import Layout
    from .write import write_cog, write_text, write_vectors

    if size < 64:
        raise ConfigError(f"--size must be at least 64 pixels, got {size}")
    out = Path(out_dir)
    aoi = Path(aoi_dir) if aoi_dir is not None else out / "aoi"
    if not overwrite:
        for p in (out / "pipeline.yaml", out / "truth_2015.tif", aoi / "redlines.gpkg"):
            if p.exists():
                raise OutputExistsError(f"{out}: sample data already there ({p.name}); pass --overwrite to replace it")
    layout = Layout(seed)
    x0, y0 = ORIGIN

    def to_xy(u: Any, v: Any) -> tuple[Any, Any]:
        return x0 + np.asarray(u) * size * RES, y0 - np.asarray(v) * size * RES

    files: list[Path] = []
    strip = max(64, min(1024, (1 << 22) // size))
    from .render import render_window, truth_window

    for acq in ACQUISITIONS:
        for r0, r1, c0, c1, tag in _tile_windows(size):
            path = out / str(acq.year) / f"s2_{acq.date.replace('-', '')}_{tag}.tif"

            def rows(a: int, b: int, r0=r0, c0=c0, c1=c1, acq=acq) -> np.ndarray:  # noqa: ANN001
                return render_window(layout, acq, size, r0 + a, r0 + b, c0, c1, seed=seed)

            tags = {"SPACECRAFT": "synthetic (Sentinel-2 L2A-like)", "ACQUISITION_DATE": acq.date,
                    "BOA_ADD_OFFSET": str(-acq.offset_dn), "QUANTIFICATION_VALUE": "10000",
                    "SOURCE": "sinks sample-data (synthetic, see sample_rasters/README.md)"}
            files.append(write_cog(path, rows, height=r1 - r0, width=c1 - c0, count=6, dtype="uint16",
                                   transform=(x0 + c0 * RES, y0 - r0 * RES), res=RES, crs=CRS, nodata=0,
                                   descriptions=("B02", "B03", "B04", "B08", "B11", "B12"), tags=tags,
                                   strip=strip, overwrite=overwrite, predictor=2))
    areas: dict[int, dict[str, float]] = {}
    lock = threading.Lock()
    for t, year in enumerate(EPOCHS):
        counts = np.zeros(9, dtype=np.int64)

        def trows(a: int, b: int, t=t, counts=counts) -> np.ndarray:  # noqa: ANN001
            arr = truth_window(layout, size, t, a, b, 0, size)
            found = np.bincount(arr.ravel(), minlength=9)
            with lock:  # strips are rendered on several threads
                counts += found
            return arr[None]

        files.append(write_cog(out / f"truth_{year}.tif", trows, height=size, width=size, count=1, dtype="uint8",
                               transform=(x0, y0), res=RES, crs=CRS, nodata=0, descriptions=(f"truth {year}",),
                               tags={"SOURCE": "sinks sample-data truth land cover (synthetic)"}, strip=strip,
                               overwrite=overwrite, categorical=True))
        areas[year] = {NAMES[c]: float(counts[c]) * RES * RES / 1e4 for c in NAMES}
    files.extend(write_vectors(layout, out=out, aoi=aoi, size=size, seed=seed, to_xy=to_xy, crs=CRS,
                               overwrite=overwrite))
    files.append(write_text(out / "pipeline.yaml", pipeline_yaml(out, aoi), overwrite=overwrite))
    log.info("sample data: %d files in %s", len(files), out)
    return SampleDataResult(out, aoi, tuple(files), areas)


def pipeline_yaml(out: Path, aoi: Path) -> str:
    """The spec ``sinks sample-data`` writes beside a scene in ``out`` with its vectors in ``aoi``."""
    rel = os.path.relpath(aoi, out)
    lines = [
        "# Spec written by `sinks sample-data` for the synthetic scene beside it.",
        "#   sinks run pipeline.yaml --out run",
        "name: beihai-synthetic",
        "description: Synthetic coastal scene near Beihai, Guangxi (written by sinks sample-data)",
        "sensor: sentinel2_l2a",
        "grid: {crs: 'EPSG:32649', resolution: 10, chunks: auto}",
        "epochs:",
    ]
    for year in EPOCHS:
        lines += [f"  - name: '{year}'", f"    year: {year}", "    scenes:"]
        for acq in ACQUISITIONS:
            if acq.year == year:
                d = acq.date.replace("-", "")
                lines.append(f"      - {{date: '{acq.date}', tiles: ['{year}/s2_{d}_*.tif']}}")
    lines += [
        "aoi:",
        f"  redlines: {{path: {rel}/redlines.gpkg, id_field: redline_id}}",
        f"  regions: {{path: {rel}/regions.gpkg, id_field: region_id}}",
        f"  coastal_zone: {{path: {rel}/coastal_zone.gpkg}}",
        f"  wetlands: {{path: {rel}/wetlands.gpkg}}",
        "classification: {method: rules, mmu_ha: {forest: 0.0667}}",
        "carbon: {table: china, soil_depth: '0-30', uncertainty: {draws: 10000, seed: 20261122}}",
        "reference:",
        f"  path: {rel}/reference.gpkg",
        "  label_field: label",
        "  stratum_field: stratum              # stratified by the 2020 truth class (Stehman 2014 estimator)",
        "  stratum_size_field: stratum_area_ha",
        "  epoch_fields: {" + ", ".join(f"'{y}': label_{y}" for y in EPOCHS) + "}",
        "  truth: {" + ", ".join(f"'{y}': truth_{y}.tif" for y in EPOCHS) + "}",
    ]
    return "\n".join(lines) + "\n"
