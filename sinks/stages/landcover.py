"""Land-cover stages: classify each epoch, count class areas, assess accuracy."""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..accuracy.truth import truth_counts, truth_summary
from ..errors import InputError, NoOverlapError
from ..landcover import CLASSES, NODATA, colormap
from .context import AccuracyAreas, EpochData, LandcoverAreas, RunContext
from .read import stage_read

__all__ = ["stage_classify", "stage_landcover_summary", "stage_accuracy", "landcover_path", "aoi_zone",
           "prefetch_samples"]

log = logging.getLogger("sinks")


def landcover_path(ctx: RunContext, epoch: str) -> Path:
    """Where the land cover of ``epoch`` is written."""
    return ctx.out / f"landcover_{epoch}.tif"


# --------------------------------------------------------------------------------------
# classification (lazy, per epoch)
# --------------------------------------------------------------------------------------
def _samples(ctx: RunContext, ep: EpochData) -> tuple[list[np.ndarray], Any, bool]:
    """Decimated reflectance of each acquisition, for per-scene (Otsu) thresholds.

    Taken from the whole scene when this is a batch region, so every region is
    classified with the same thresholds; from the region itself if the scene
    cannot be sampled (e.g. a damaged tile outside the region).  Returns the samples,
    their grid, and whether they are the whole scene's.
    """
    from ..classify.sample import overview_samples

    def sample(c: RunContext, e: EpochData) -> tuple[list[np.ndarray], Any]:
        return overview_samples(e.scenes, profile=c.profile, grid=c.grid, mosaic=c.spec.grid.mosaic)

    src = ctx.whole_scene
    if ep.name not in src.shared.samples:
        base_ep = next((e for e in src.epochs if e.name == ep.name), ep)
        try:
            src.shared.samples[ep.name] = sample(src, base_ep)
        except InputError as exc:
            if src is ctx:
                raise
            log.info("scene sample of epoch %s failed (%s); sampling the region", ep.name, exc)
            return (*sample(ctx, ep), False)
    return (*src.shared.samples[ep.name], True)


def prefetch_samples(ctx: RunContext, ep: EpochData) -> threading.Thread | None:
    """Start taking ``ep``'s threshold sample (decimated reads of the tiles' overviews) on a
    thread, to run while the previous epoch's pass computes; its classify stage then finds
    it ready instead of reading it between the two passes.  Best effort: a failure is left
    for that stage to meet and report.  ``None`` when there is nothing to fetch (a model
    classifies, a batch region, the sample already taken) or the tiles are remote."""
    cs = ctx.spec.classification
    if not cs.enabled or cs.method == "model" or ctx.region is not None or ep.name in ctx.shared.samples:
        return None
    from ..remote import is_remote

    if any(is_remote(ref.path) for sc in ep.scenes for t in sc.tiles for _r, ref in t.bands):
        # remote tiles are read under the GDAL options and credentials of the run's own
        # thread (thread-local in rasterio), which a thread of its own would not have
        return None

    def work() -> None:
        try:
            _samples(ctx, ep)
        except Exception as exc:  # noqa: BLE001 - the classify stage samples again and reports
            log.debug("prefetching the sample of epoch %s failed: %s", ep.name, exc)

    thread = threading.Thread(target=work, name=f"sinks-sample-{ep.name}", daemon=True)
    thread.start()
    return thread


def _rule_setup(ctx: RunContext, ep: EpochData) -> Any:
    """Thresholds and coastal zone of the epoch, from the whole scene's sample (computed once)."""
    from ..classify import rule_setup

    cs = ctx.spec.classification
    rules = ctx.whole_scene.shared.rules
    if ep.name in rules:
        return rules[ep.name]
    samples, sample_grid, whole_scene = _samples(ctx, ep)
    setup = rule_setup(samples, sample_grid, roles=[str(b) for b in ep.refl.band.values], rules=cs.rules,
                       coastal=ctx.aoi.coastal_zone if cs.mangrove else "none",
                       coastal_buffer_m=cs.coastal_buffer_m, wetland=ctx.aoi.wetlands)
    if whole_scene:
        rules[ep.name] = setup
    return setup


def _model(ctx: RunContext) -> Any:
    """The supervised model: loaded from the spec's file, or trained once from its samples or reference map."""
    cs = ctx.spec.classification
    if cs.method != "model":
        return None
    src = ctx.whole_scene
    if src.shared.model is not None:
        return src.shared.model
    from ..classify.supervised import load_model, train

    if cs.model:
        model = load_model(cs.model)
    else:
        tr = cs.training
        assert tr is not None  # the spec guarantees model or training
        ep = next((e for e in src.epochs if e.name == tr.epoch), src.epochs[-1])
        if ep.refl is None:
            stage_read(src, ep)
        scenes = [ep.refl.isel(time=k, drop=True) for k in range(ep.refl.sizes["time"])]
        kw = dict(grid=src.grid, sensor=src.profile.name, roles=tuple(src.profile.reflectance_roles),
                  model_type=tr.model_type, seed=tr.seed, texture=tr.texture, features=tr.features)
        if tr.reference_map:
            from ..classify.reference import DEFAULT_PER_CLASS, reference_lut, reference_pixels

            maps = tr.reference_maps
            ctx.say(f"training a {tr.model_type} model on {', '.join(Path(m).name for m in maps)} "
                    f"({tr.reference_legend} legend, epoch {ep.name})")
            drawn = reference_pixels(maps, reference_lut(tr.reference_legend), src.grid,
                                     per_class=tr.per_class or DEFAULT_PER_CLASS, seed=tr.seed)
            model = train(scenes, pixels=(drawn.rows, drawn.cols, drawn.codes), **kw)
            trained_on = {"reference_maps": maps, "reference_legend": tr.reference_legend,
                          "eligible_pixels": drawn.eligible, "drawn_pixels": drawn.drawn}
        else:
            ctx.say(f"training a {tr.model_type} model on {Path(str(tr.samples)).name} (epoch {ep.name})")
            model = train(scenes, tr.samples, label_field=tr.label_field, **kw)
            trained_on = {"samples": tr.samples, "label_field": tr.label_field}
        model.meta["training"] = trained_on
        if tr.save and src is ctx:
            from ..classify.modelio import save_model

            path = save_model(model, ctx.out / "model.sinks", overwrite=True)
            ctx.written.append(Path(path))
        ctx.summary["model"] = {"trained_on_epoch": ep.name, **trained_on, **_model_facts(model)}
    src.shared.model = model
    return model


def _model_facts(model: Any) -> dict[str, Any]:
    meta = getattr(model, "meta", None)
    if isinstance(meta, dict):
        keep = ("model_type", "cv_accuracy", "cv_class_accuracy", "n_samples", "feature_names")
        return {k: meta[k] for k in keep if k in meta}
    return {}


def _rule_scenes(ctx: RunContext, ep: EpochData) -> list[Any] | None:
    """The epoch's acquisitions as digital numbers for the rule kernel (:mod:`sinks.digital`),
    or ``None`` when the pass also writes reflectance or indices (their float32 blocks are
    made anyway) or when the tiles cannot mark nodata with one number."""
    import dask.array as da

    from ..digital import DN_NODATA, open_scene_dn

    spec = ctx.spec
    if spec.outputs.reflectance or (spec.indices.names and spec.indices.write):
        return None
    out = []
    for k, sc in enumerate(ep.scenes):
        dn = open_scene_dn(sc.tiles, profile=ctx.profile, grid=ctx.grid, date=sc.date, chunks=ctx.chunks,
                           resampling=spec.grid.resampling, name=f"{ep.name}-{sc.date or k}",
                           mosaic=spec.grid.mosaic)
        if dn is None:
            return None
        inside = ctx.region_mask()
        if inside is not None:  # pixels outside a batch region are nodata, as in stage_read
            dn = dn.copy(data=da.where(inside[None], dn.data, np.asarray(dn.attrs[DN_NODATA], dtype=dn.dtype)))
        out.append(dn)
    return out


def stage_classify(ctx: RunContext, ep: EpochData) -> None:
    """Lazy land cover of one epoch (rules or model), written as ``landcover_<epoch>.tif``."""
    import dask

    from ..classify import classify
    from ..outputs import RasterOutput

    cs = ctx.spec.classification
    model = _model(ctx)
    setup = None if model is not None else _rule_setup(ctx, ep)
    scenes = _rule_scenes(ctx, ep) if model is None else None
    if scenes is None:
        scenes = [ep.refl.isel(time=k, drop=True) for k in range(ep.refl.sizes["time"])]
    sun = None
    if cs.dem and model is None:
        from ..tiles import scene_sun

        sun = [sp.sun or scene_sun(sc.tiles) for sp, sc in zip(ep.spec.scenes, ep.scenes)]
    res = classify(scenes, grid=ctx.grid, model=model, setup=setup, mmu_ha=cs.mmu_ha,
                   dem=cs.dem if model is None else None, sun=sun)
    # optimised (fused) once here: the layer written and every reduction and layer built on
    # it then share the same tasks, which the pass computes once
    (lc,) = dask.optimize(res.landcover)
    res = dataclasses.replace(res, landcover=lc)
    ep.layers["landcover"] = res.landcover
    path = landcover_path(ctx, ep.name)
    ep.outputs.append(RasterOutput(path, res.landcover, nodata=NODATA, categorical=True, colormap=colormap(),
                                   description=f"land cover {ep.name} (sinks legend)",
                                   tags={"legend": ",".join(f"{c.code}={c.name}" for c in CLASSES),
                                         "method": res.method}))
    from ..carbon import class_areas_ha

    # counted in the write pass, from the blocks being written (not read back from the file)
    ep.reductions["class_areas"] = class_areas_ha(res.landcover, ctx.grid, nodata=NODATA, compute=False)
    if _label_field(ctx, ep):  # the map's codes under the reference samples, for the accuracy stage
        picked = _sample_codes(ctx, res.landcover)
        if picked is not None:
            ep.reductions["sample_codes"] = picked
    ref = ctx.spec.reference
    truth = (ref.truth or {}).get(ep.name) if ref is not None else None
    if truth:
        counts = truth_counts(res.landcover, truth, grid=ctx.grid)
        if counts is not None:
            ep.reductions["truth_counts"] = counts
    ctx.summary.setdefault("landcover", {})[ep.name] = {
        "file": path.name, "method": res.method, "thresholds": res.thresholds,
        "coastal_zone": res.coastal_source, "mmu_ha": dict(cs.mmu_ha), "notes": list(res.notes),
    }


# --------------------------------------------------------------------------------------
# class areas (counted in each epoch's write pass)
# --------------------------------------------------------------------------------------
def stage_landcover_summary(ctx: RunContext) -> None:
    """Class areas and the official forest coverage rate of each epoch's written land cover.

    The zone is the batch region, else the union of ``aoi.boundary`` (pixels of the
    grid outside it do not count; area inside it the map does not see does), else the
    whole grid.  With a polygon the areas are exact partial-pixel areas inside it
    (:func:`sinks.zonal.joint_class_areas`, one pass over the epochs); on the whole
    grid they are the pixel counts of the write pass.  The rate is
    :func:`sinks.coverage.coverage_rate`.
    """
    from ..coverage import DEFINITION, coverage_rate

    results = [ep.results["class_areas"] for ep in ctx.epochs]
    ctx.landcover = LandcoverAreas({ep.name: areas for ep, areas in zip(ctx.epochs, results)})
    limit = ctx.spec.coverage.max_unobserved
    zone, what = aoi_zone(ctx)
    if zone is not None:
        from ..zonal import joint_class_areas, read_zones
        from .zonal import indicator_legend, run_tallies

        digits, top = indicator_legend()  # the tables' legend, so the pass's tile counts serve here too
        joint = joint_class_areas([landcover_path(ctx, ep.name) for ep in ctx.epochs],
                                  read_zones(zone, id_field="zone", crs=ctx.grid.crs), id_field="zone",
                                  legend=digits, max_digit=top, tallies=run_tallies(ctx))
        zone_ha = float(joint.zone_area_ha[0])
        by_epoch = {ep.name: {c.name: float(joint.area_ha[0, k, c.code]) for c in CLASSES}
                    for k, ep in enumerate(ctx.epochs)}
    else:
        grid_ha = _grid_area_ha(ctx)
        zone_ha = grid_ha
        by_epoch = {ep.name: {c.name: areas.area_of(c.code) for c in CLASSES} for ep, areas in zip(ctx.epochs, results)}
    for ep in ctx.epochs:
        by_name = by_epoch[ep.name]
        observed = math.fsum(by_name.values())
        unobserved = max(zone_ha - observed, 0.0)
        if unobserved < 1e-9 * max(zone_ha, 1.0):
            unobserved = 0.0
        cov = coverage_rate(forest_ha=by_name["forest"], mangrove_ha=by_name["mangrove"], zone_area_ha=zone_ha,
                            unobserved_ha=unobserved, max_unobserved=limit)
        sec = ctx.summary.setdefault("landcover", {}).setdefault(ep.name, {})
        sec.update({
            "area_ha": by_name, "zone": what, "zone_area_ha": zone_ha, "observed_area_ha": observed,
            "unobserved_ha": unobserved, "unobserved_fraction": cov["unobserved_fraction"],
            "forest_area_ha": cov["forest_area_ha"], "forest_coverage_pct": _finite(cov["forest_coverage_pct"]),
            "forest_coverage_pct_max": _finite(cov["forest_coverage_pct_max"]),
            "coverage_flagged": cov["coverage_flagged"], "max_unobserved": limit, "coverage_definition": DEFINITION,
        })
        if cov["coverage_flagged"]:
            sec["coverage_note"] = (f"{100 * cov['unobserved_fraction']:.1f} % of the {what} is unobserved: the rate "
                                    f"is a lower bound (at most {cov['forest_coverage_pct_max']:.2f} %)")
        if ctx.region is not None:
            sec["note"] = "pixels outside the region are nodata"


def aoi_zone(ctx: RunContext) -> tuple[Any, str]:
    """The run's zone as a one-row GeoDataFrame (id field ``zone``) in the grid CRS, and its name.

    The batch region, else the union of ``aoi.boundary``; ``(None, "grid")`` without either.
    """
    import geopandas as gpd
    import shapely

    if ctx.region is not None:
        geom, what = ctx.region, "region"
    else:
        boundary = ctx.aoi.boundary
        if boundary is None or not len(boundary):
            return None, "grid"
        geom, what = shapely.union_all(boundary.geometry.to_numpy()), "boundary"
    return gpd.GeoDataFrame({"zone": [what]}, geometry=[geom], crs=ctx.grid.crs), what


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _grid_area_ha(ctx: RunContext) -> float:
    from ..area import pixel_area_ha

    a = pixel_area_ha(ctx.grid)
    if np.isscalar(a):
        return float(a) * ctx.grid.width * ctx.grid.height
    return float(np.sum(a)) * ctx.grid.width


# --------------------------------------------------------------------------------------
# accuracy
# --------------------------------------------------------------------------------------
def _label_field(ctx: RunContext, ep: EpochData) -> str | None:
    """The reference field holding epoch ``ep``'s labels, or ``None`` (no reference, or none for it)."""
    ref = ctx.spec.reference
    if ref is None:
        return None
    return (ref.epoch_fields or {}).get(ep.name) or (None if ref.epoch_fields else ref.label_field)


def _sample_codes(ctx: RunContext, landcover: Any) -> Any:
    """Lazy ``(rows, cols, codes)`` of the land cover under the reference samples on the grid,
    picked from its blocks in the write pass (:func:`sinks.accuracy.assess.codes_at_pixels`),
    so the accuracy stage does not read one pixel per sample back from the file; ``None``
    when the reference cannot be read here (the accuracy stage then reports why)."""
    from ..accuracy.assess import codes_at_pixels, sample_pixels
    from ..errors import SinksError
    from ..vectors import read_vector

    try:
        gdf = read_vector(_reference(ctx), target_crs=ctx.grid.crs, what="reference")
    except SinksError as exc:
        log.debug("reference not read before the pass (%s); the accuracy stage reads it", exc)
        return None
    g = ctx.grid
    rows, cols, inside = sample_pixels(gdf.geometry, g.transform, g.width, g.height)
    return codes_at_pixels(landcover, rows[inside], cols[inside])


def _reference(ctx: RunContext) -> Any:
    """The reference sample, read once per scene (batch regions share it)."""
    from ..vectors import read_vector

    shared = ctx.whole_scene.shared
    if shared.reference is None:
        ref = ctx.spec.reference
        assert ref is not None
        shared.reference = read_vector(ref.path, what="reference")
    return shared.reference


def stage_accuracy(ctx: RunContext) -> None:
    """Accuracy and adjusted areas from the reference sample (and pixelwise against truth rasters).

    Olofsson et al. (2014) for a sample stratified by map class, Stehman (2014) for a
    sample with its own strata (:func:`sinks.accuracy.assess_map`).  A design that
    does not fit the estimator is logged as a warning, once per epoch, and the
    estimates it would spoil are left out (``null``) with the reason in ``notes``.
    """
    from ..accuracy import assess_map

    ref = ctx.spec.reference
    assert ref is not None
    out: dict[str, Any] = {}
    map_areas: dict[str, Any] = {}
    class_areas = ctx.landcover.class_areas if ctx.landcover is not None else {}
    for ep in ctx.epochs:
        field = _label_field(ctx, ep)
        entry: dict[str, Any] = {}
        if field:
            counted = class_areas.get(ep.name)
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    res = assess_map(landcover_path(ctx, ep.name), _reference(ctx), label_field=field,
                                     mapped_areas_ha=None if counted is None else counted.as_dict(),
                                     name=ref.path, stratum_field=ref.stratum_field,
                                     stratum_sizes=ref.stratum_sizes, stratum_size_field=ref.stratum_size_field,
                                     estimator=ref.estimator, map_codes_at=ep.results.get("sample_codes"))
            except NoOverlapError:
                if ctx.region is None:  # the whole AOI without one sample on it: a bad reference
                    raise
                res = None  # a batch region that no sample falls in: nothing to assess there
                entry = {"label_field": field, "note": "no reference sample falls inside the region"}
            for w in caught:
                text = str(w.message)
                withheld = "withheld" in text
                (log.warning if withheld else log.info)("accuracy %s: %s", ep.name, text)
            if res is not None:
                entry = res.to_dict()
                entry["label_field"] = field
                if _frame_is_map(res):  # area errors the carbon intervals may use
                    map_areas[ep.name] = res
        truth = (ref.truth or {}).get(ep.name)
        if truth:
            counts = ep.results.get("truth_counts")  # absent: the truth is off the map's lattice
            pix = truth_summary(counts, truth) if counts is not None else None
            if pix is not None:
                entry["truth_pixelwise"] = pix
        if entry:
            out[ep.name] = entry
    ctx.accuracy = AccuracyAreas(map_areas)
    if out:
        ctx.summary["accuracy"] = out


def _frame_is_map(res: Any) -> bool:
    """Whether the estimated areas are the map's: always for map-class strata; for other strata
    when the sampling frame covers the map's area to 1 % (not in a batch region of a larger frame)."""
    frame = getattr(res, "frame_area_ha", None)
    if frame is None:
        return True
    whole = float((res.design or {}).get("map_area_ha") or 0.0)
    return whole > 0 and abs(frame - whole) <= 0.01 * whole
