"""Run one pipeline spec: read → indices → classification → carbon → zonal → goals.

Every stage is a plain function on lazy xarray/dask objects (usable from a
notebook); this module only wires them together.  Per epoch, all the layers that
derive from the reflectance (indices, land cover, carbon maps, the change map from
the previous epoch) are written in a *single* dask pass, so the tiles are read and
decoded once; the same pass counts class areas, transitions and the truth confusion
from the blocks it writes (``EpochData.reductions``).  Later stages (encroachment,
indicator tables) work from the small uint8 land-cover files just written.

Outputs (``OUT``)::

    .sinks-run               the run marker: state running / complete, files written (:mod:`sinks.runstate`)
    manifest.json            inputs (size, BLAKE3 or SHA-256 digest), resolved spec, versions, timings
    summary.json             every figure of the run (written last, before the marker says complete)
    indices/<epoch>/<index>_<YYYYMMDD>.tif
    landcover_<epoch>.tif    ... and the later stages' layers and tables
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

from .budget import auto_chunks, bounded_chunks, check_pixels
from .errors import ConfigError, NoOverlapError, OutputExistsError
from .gdalenv import gdal_cache_options
from .grid import Grid, aligned_chunks, derive_grid, overlaps
from .tiles import Scene, expand_tiles, scene_date, tiles_from_files, tiles_from_stac
from .runtime.memory import release_free_memory
from .manifest import DEFAULT_DIGEST, DIGESTS, describe_inputs, hash_in_background, manifest_dict
from .cluster import run_scheduler
from .remote import gdal_env
from .outputs import announce, atomic_write_json, write_rasters_and_compute
from .runstate import LOCK, RunFolder, read_marker
from .spec import PipelineSpec, load_spec
from .stac_search import StacSearch, scenes_from_search
from .stages.carbon import stage_carbon, stage_carbon_layers
from .stages.change import stage_change_layers
from .stages.context import AoiLayers, EpochData, Progress, RunContext
from .stages.encroachment import stage_encroachment, start_early_search, wait_early_searches
from .stages.goals import stage_goals
from .stages.landcover import stage_accuracy, stage_classify, stage_landcover_summary
from .stages.read import stage_indices, stage_read
from .stages.zonal import stage_zonal, stage_zonal_start, stage_zonal_tallies

__all__ = ["RunContext", "EpochData", "run", "run_prepared", "prepare", "for_region", "STAGES", "EPOCH_STAGES",
           "Cancelled"]

log = logging.getLogger("sinks")

# rasterio's rasterize (behind geometry_mask) reads the transform of its scratch in-memory
# dataset and, now and then under dask's threads, warns that it has none although sinks
# always passes the grid's transform; the warning would show, with its source line, in a
# notebook's output.  Only that message from rasterio.features is silenced.
warnings.filterwarnings("ignore", message="Dataset has no geotransform", module=r"rasterio\.features")


class Cancelled(KeyboardInterrupt):
    """A run stopped on request (``ctx.cancel`` set, e.g. by Ctrl-C in a batch);
    like Ctrl-C, it removes what the run wrote."""


def _check_cancel(ctx: RunContext) -> None:
    if ctx.cancel is not None and ctx.cancel.is_set():
        raise Cancelled(f"{ctx.out}: cancelled")


# --------------------------------------------------------------------------------------
# preparation
# --------------------------------------------------------------------------------------
def _aoi_bounds(spec: PipelineSpec, crs) -> tuple[float, float, float, float] | None:  # noqa: ANN001
    if spec.aoi.boundary is None:
        return None
    from .vectors import read_vector

    gdf = read_vector(spec.aoi.boundary.path, layer=spec.aoi.boundary.layer, target_crs=crs, what="aoi.boundary")
    return tuple(gdf.total_bounds)  # type: ignore[return-value]


def _search_bbox(spec: PipelineSpec, search: StacSearch, *, where: str) -> tuple[float, float, float, float]:
    """Where a STAC API search looks, in WGS84: its own ``bbox``, else the AOI boundary's
    bounds, else ``grid.bounds`` (in ``grid.crs``); ``where`` (``"<spec>: <key>"``) names
    the search in the error when there is none of them."""
    if search.bbox is not None:
        return search.bbox
    if spec.aoi.boundary is not None:
        from .vectors import read_vector

        gdf = read_vector(spec.aoi.boundary.path, layer=spec.aoi.boundary.layer, target_crs="EPSG:4326",
                          what="aoi.boundary")
        return tuple(float(v) for v in gdf.total_bounds)  # type: ignore[return-value]
    if spec.grid.bounds is not None and spec.grid.crs:
        from rasterio.warp import transform_bounds

        return tuple(transform_bounds(spec.grid.crs, "EPSG:4326", *spec.grid.bounds, densify_pts=21))  # type: ignore
    raise ConfigError(f"{where}: a STAC API search needs an area to search: aoi.boundary, grid.bounds with "
                      "grid.crs, or the search's bbox")


def prepare(spec: PipelineSpec, *, spec_path: Path | None, out: Path, overwrite: bool,
            progress: Progress | None = None, strict: bool = True) -> RunContext:
    """Resolve tiles and the target grid; check every input before anything is computed.

    With ``strict=False`` (batch jobs) tile bodies are not checked here but by each
    region that uses the tile, so one damaged tile fails only the regions it covers;
    the pixel budget (:mod:`sinks.budget`) then applies to each region's grid, not to
    the grid of all tiles.
    """
    profile = spec.sensor_profile()
    epochs: list[EpochData] = []
    inputs: list[str] = [str(spec_path)] if spec_path else []
    for i, ep in enumerate(spec.epochs):
        scenes = []
        for j, sc in enumerate(ep.scenes):
            if isinstance(sc.stac, StacSearch):  # a STAC API search: one acquisition per date found
                key = f"epochs.{i}.scenes.{j}.stac"
                bbox = _search_bbox(spec, sc.stac, where=f"{spec_path or spec.name}: {key}")
                for found in scenes_from_search(sc.stac, profile, bbox=bbox, date=sc.date, where=key):
                    inputs.extend(ref.path for t in found.tiles for _r, ref in t.bands)
                    scenes.append(found)
                continue
            if sc.stac:
                tiles = tiles_from_stac(sc.stac, profile, date=sc.date)
                inputs.append(sc.stac)
            else:
                tiles = tiles_from_files(expand_tiles(sc.tiles), profile, strict=strict)
            inputs.extend(ref.path for t in tiles for _r, ref in t.bands)
            scenes.append(Scene(scene_date(tiles, sc.date), tuple(tiles)))
        epochs.append(EpochData(ep, scenes))
    all_tiles = [t for e in epochs for s in e.scenes for t in s.tiles]
    g = spec.grid
    crs = g.crs or all_tiles[0].grid.crs
    aoi = _aoi_bounds(spec, crs)
    grid = derive_grid(all_tiles, crs=crs, resolution=g.resolution, bounds=g.bounds, aoi_bounds=aoi)
    if strict:
        _check_budget(grid, all_tiles, what=f"{spec_path or spec.name}: target grid")

    for e in epochs:
        if not any(overlaps(t, grid) for s in e.scenes for t in s.tiles):
            raise NoOverlapError(f"epoch {e.name}: its tiles do not overlap the AOI / target grid")
    layers = read_aoi(spec, grid)
    for key in layers.present():
        ref = getattr(spec.aoi, key)
        if "://" not in ref.path:
            inputs.append(ref.path)
    size = chunk_size(spec, grid, epochs)
    ctx = RunContext(spec=spec, spec_path=spec_path, out=out, overwrite=overwrite, profile=profile,
                     grid=grid, epochs=epochs, inputs=inputs, progress=progress, aoi=layers,
                     chunks=aligned_chunks(grid, all_tiles, size))
    ctx.summary["grid_reading"] = {**grid_reading(grid, all_tiles, resampling=g.resampling), "chunks_px": size}
    ctx.say(ctx.summary["grid_reading"]["note"])
    return ctx


def chunk_size(spec: PipelineSpec, grid: Grid, epochs: Sequence[EpochData]) -> int:
    """Block size of a run on ``grid``: ``grid.chunks``, or with ``auto`` the one
    :func:`sinks.budget.auto_chunks` picks for the epochs' acquisitions and bands; widened
    by :func:`sinks.budget.bounded_chunks` on a very large grid."""
    size = spec.grid.chunks
    if size == "auto":
        acquisitions = max((len(e.scenes) for e in epochs), default=1)
        bands = max((len(t.bands) for e in epochs for s in e.scenes for t in s.tiles), default=1)
        size, why = auto_chunks(grid.width, grid.height, acquisitions=acquisitions, bands=bands)
        log.info(why)
    return bounded_chunks(grid.width, grid.height, int(size))


def grid_reading(grid: Grid, tiles: list[Any], *, resampling: str) -> dict[str, Any]:
    """How the tiles reach the target grid: read on its pixel lattice, or warped (and with what)."""

    use = [t for t in tiles if overlaps(t, grid)]
    warped = [t for t in use if grid.offset_in(t.grid) is None]
    rx, ry = grid.res
    res = f"{rx:g} m" if abs(rx - ry) < 1e-9 * rx else f"{rx:g} x {ry:g} m"
    note = f"grid {grid.crs.to_string()}, {res}, {grid.width:,} x {grid.height:,} px: "
    if warped:
        src = sorted({f"{t.grid.crs.to_string()} {t.grid.res[0]:g} m" for t in warped})
        note += (f"{len(warped)} of {len(use)} tile(s) warped onto it ({resampling} resampling, from "
                 f"{', '.join(src[:3])}); the rest read on its pixel lattice")
    else:
        note += f"all {len(use)} tile(s) read on its pixel lattice (no resampling)"
    return {"tiles": len(use), "warped": len(warped), "resampling": resampling if warped else None, "note": note}


def _check_budget(grid: Grid, tiles: list[Any], *, what: str) -> None:
    """The pixel budget, before any graph is built (names the largest tile)."""
    if not tiles:
        return
    big = max(tiles, key=lambda t: t.grid.width * t.grid.height)
    check_pixels(grid.width, grid.height, what=f"{what} (tiles such as {big.name}: "
                 f"{big.grid.width:,} x {big.grid.height:,} px)",
                 hint="clip it (grid.bounds, aoi.boundary) or run it as a batch over regions")


def read_aoi(spec: PipelineSpec, grid: Grid) -> AoiLayers:
    """Read every AOI layer of the spec, reprojected to the grid CRS (fails early on bad files)."""
    from .vectors import read_vector

    out = AoiLayers()
    for key in AoiLayers.NAMES:
        ref = getattr(spec.aoi, key)
        if ref is not None:
            setattr(out, key, read_vector(ref.path, layer=ref.layer, id_field=ref.id_field, target_crs=grid.crs,
                                          what=f"aoi.{key}"))
    return out


# --------------------------------------------------------------------------------------
# the stages, in order
# --------------------------------------------------------------------------------------
Enabled = Callable[[PipelineSpec], bool]


def _classified(s: PipelineSpec) -> bool:
    return s.classification.enabled


def _with_carbon(s: PipelineSpec) -> bool:
    return s.classification.enabled and s.carbon.enabled


def _with_change(s: PipelineSpec) -> bool:
    return s.classification.enabled and len(s.epochs) > 1


def _zonal_enabled(s: PipelineSpec) -> bool:
    return (s.classification.enabled and s.carbon.enabled and s.zonal.enabled
            and (s.aoi.redlines is not None or s.aoi.regions is not None))


#: Ordered lazy per-epoch stages (name, function, enabled(spec)); written in one dask pass per epoch.
EPOCH_STAGES: list[tuple[str, Callable[[RunContext, EpochData], None], Enabled]] = [
    ("read", stage_read, lambda s: True),
    ("indices", stage_indices, lambda s: bool(s.indices.names) and s.indices.write),
    ("classify", stage_classify, _classified),
    ("carbon_layers", stage_carbon_layers, _with_carbon),
    ("change_layers", stage_change_layers, _with_change),
    ("zonal_tallies", stage_zonal_tallies, _classified),
]

#: Ordered run-level stages that work from written files (name, function, enabled(spec)).  Each
#: leaves its result in a field of the context (:mod:`sinks.stages.context`) that later ones read.
STAGES: list[tuple[str, Callable[[RunContext], None], Enabled]] = [
    ("zonal_start", stage_zonal_start, _zonal_enabled),
    ("landcover", stage_landcover_summary, _classified),
    ("accuracy", stage_accuracy, lambda s: s.classification.enabled and s.reference is not None),
    ("carbon", stage_carbon, _with_carbon),
    ("change", stage_encroachment, _with_change),
    ("zonal", stage_zonal, _zonal_enabled),
    ("goals", stage_goals, lambda s: s.classification.enabled and s.carbon.enabled and s.goals.enabled),
]


def _write_epoch(ctx: RunContext, ep: EpochData) -> None:
    """Compute the epoch's layers and reductions in one pass and write the layers."""
    if not ep.outputs and not ep.reductions:
        return
    outputs = ep.outputs
    counter = ctx.block_counter
    if counter is not None:  # the progress bar counts the blocks of the layers written
        import dataclasses

        outputs = [dataclasses.replace(o, data=counter.wrap(o.data)) for o in outputs]
    paths, results = write_rasters_and_compute(outputs, ctx.grid, also=ep.reductions,
                                               overwrite=ctx.overwrite, blocksize=512, timer=ctx.timer,
                                               stage="compute_write.cog_copy")
    release_free_memory()  # the pass's freed blocks, held by the allocator, back to the OS
    for p in paths:
        ep.files[p.stem] = p
    ctx.written.extend(paths)
    from .qgis import write_sidecars

    ctx.written.extend(write_sidecars(ep.outputs))  # class names, attribute tables, units, .qml
    ep.results.update(results)
    ep.outputs = []
    ep.reductions = {}


# --------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------
def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out}: exists and is not a directory")
    if not overwrite and out.exists() and any(p.name != LOCK for p in out.iterdir()):
        marker = read_marker(out)
        if marker is not None and marker.get("state") != "complete":
            raise OutputExistsError(f"{out}: holds a run that did not finish; pass --overwrite to replace its outputs")
        raise OutputExistsError(f"{out}: output folder is not empty; pass --overwrite to replace its outputs")


def run(spec: PipelineSpec | str | os.PathLike, *, out: str | os.PathLike, overwrite: bool = False,
        progress: Progress | None = None, scheduler: Any = None,
        digest: str = DEFAULT_DIGEST,
        on_event: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run a pipeline spec and write its outputs under ``out``.

    Parameters
    ----------
    spec : PipelineSpec or path
        A validated spec or the path of a YAML spec.
    out : path or str
        Output folder; must be empty or absent unless ``overwrite``.  An ``s3://bucket/prefix``
        location is written through a local staging folder and uploaded object by
        object, the manifest last (:mod:`sinks.objstore`).  While the run
        writes, ``out/.sinks-run.lock`` holds its pid and host: a second run into the
        same folder stops at once (:class:`~sinks.errors.RunLockedError`).
    overwrite : bool
        Remove the files an earlier sinks run wrote in ``out`` (those its manifest and
        marker list; nothing else) and write this run's.
    progress : callable, optional
        Called with a short message as each stage starts (the CLI shows them).
    scheduler : str or distributed.Client, optional
        Dask scheduler: ``"threads"`` (the default), ``"synchronous"`` (debugging), or a
        dask.distributed scheduler address (``tcp://host:8786``) or client.  Without it,
        ``SINKS_SCHEDULER`` names one, else a ``distributed.Client`` active in the caller's
        Python is used (:mod:`sinks.cluster`).  On a cluster, ``out`` must be reachable by
        every worker (a shared file system, or object storage: ``s3://bucket/prefix``).
    digest : str
        Digest of every input in the manifest: ``"blake3"`` (default) or ``"sha256"``.
    on_event : callable, optional
        Called with ``{"event": "stages", "total"}`` once, ``{"event": "stage", "name",
        "done", "total"}`` as each step starts (an epoch's compute-and-write pass, then each
        stage; ``name`` ``"done"`` at the end) and ``{"event": "blocks", "done", "total"}``
        as raster blocks are written (the total grows with each pass).

    Returns
    -------
    dict
        The summary (also written to ``out/summary.json``).

    Notes
    -----
    Interrupted (``KeyboardInterrupt``), the run removes what it wrote and leaves no
    empty folder behind; failed, it leaves its files with the marker ``running``, which
    ``sinks report``, ``sinks goals`` and :func:`sinks.open_run` refuse.
    """
    if isinstance(spec, PipelineSpec):
        spec_path = None
    else:
        spec, spec_path = load_spec(spec)
    from .objstore import is_object_url

    if is_object_url(out):  # written to a staging folder, then uploaded object by object, manifest last
        from .objstore import run_via_staging

        parsed, source = spec, spec_path
        return run_via_staging(str(out), overwrite=overwrite, run=lambda local: run(
            parsed if source is None else source, out=local, overwrite=True, progress=progress,
            scheduler=scheduler, digest=digest, on_event=on_event))
    from .cluster import connected
    from .runtime.child import stop_spares
    from .stages.tablechild import start_early

    start_early(spec, scheduler=scheduler)  # the table child imports while this run prepares
    try:
        with connected(scheduler) as sched:  # a bad name or an unreachable scheduler stops before the folder is touched
            return _run(spec, spec_path, out=Path(out), overwrite=overwrite, progress=progress, scheduler=sched,
                        digest=digest, on_event=on_event)
    finally:  # a table child that no stage took (a refused run, a grid smaller than the tiles suggested)
        stop_spares()


def _run(spec: PipelineSpec, spec_path: Path | None, *, out: Path, overwrite: bool, progress: Progress | None,
         scheduler: Any, digest: str, on_event: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
    """:func:`run` once the spec is loaded and the scheduler connected."""
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out}: exists and is not a directory")
    from ._kernels import warm

    compiling = _compile_kernels(spec)
    folder = RunFolder(out).acquire()
    try:
        _check_out(out, overwrite)
        if digest not in DIGESTS:
            raise ConfigError(f"digest {digest!r}: expected one of {', '.join(DIGESTS)}")
        ctx = prepare(spec, spec_path=spec_path, out=out, overwrite=overwrite, progress=progress)
        ctx.digest = digest
    except BaseException:
        folder.lock.release()
        warm.cancel()  # a refused run says only why it was refused
        raise
    if compiling:  # said once the run is known to go ahead
        msg = "compiling the numba kernels for this machine (first run only, about 10 s)"
        log.info(msg)
        if progress:
            progress(msg)
    ctx.events = on_event
    return run_prepared(ctx, scheduler=scheduler, folder=folder)


def _compile_kernels(spec: PipelineSpec) -> bool:
    """On a machine whose numba cache lacks the kernels, start compiling them in two child
    processes while the run prepares (:mod:`sinks._kernels.warm`); whether that started."""
    from ._kernels import warm

    reflectance = spec.outputs.reflectance or (bool(spec.indices.names) and spec.indices.write)
    return warm.compile_in_background(digital_numbers=not reflectance)


def run_prepared(ctx: RunContext, *, scheduler: Any = None, folder: RunFolder | None = None) -> dict[str, Any]:
    """Run every stage of a prepared context (see :func:`prepare`, :func:`for_region`).

    ``folder`` is the output folder's :class:`~sinks.runstate.RunFolder` when the
    caller already holds its lock; otherwise it is taken here.
    """
    folder = folder if folder is not None else RunFolder(ctx.out)
    try:
        folder.begin(overwrite=ctx.overwrite)
        summary = _run_stages(ctx, scheduler=scheduler)
    except KeyboardInterrupt:
        folder.abandon()
        raise
    except BaseException:
        folder.stop()
        raise
    folder.complete()
    return summary


def _run_stages(ctx: RunContext, *, scheduler: Any) -> dict[str, Any]:
    from ._kernels import warm

    warm.wait()  # kernels being compiled in child processes (a first run on this machine)
    from .runtime.child import stop_spares
    from .stages.zonal import prestart_zonal_child

    prestart_zonal_child(ctx)
    ctx.early_encroachment.clear()  # searches of an earlier run of this context read older files
    try:
        return _stages_and_finish(ctx, scheduler=scheduler)
    finally:  # a table child started for a stage the run did not reach
        stop_spares()
        wait_early_searches(ctx)


def _stages_and_finish(ctx: RunContext, *, scheduler: Any) -> dict[str, Any]:
    spec = ctx.spec
    # GDAL's block cache holds the written stage files' blocks until they are flushed; capped
    # so memory stays bounded whatever the raster size, for rasterio's GDAL and (through the
    # environment) exactextract's, here and in the zonal child; a user's GDAL_CACHEMAX wins
    cache = gdal_cache_options()
    if ctx.region is None:  # the manifest's hashes, while computing (batch regions share a warm cache)
        # each epoch's tiles while its pass decodes them (one read of each file); the first
        # epoch's from now on, as its pass reads them next (the hashing thread takes only
        # idle CPU, and while this thread imports under the GIL a core is idle)
        ctx.hashing = hash_in_background(
            ctx.inputs, algorithm=ctx.digest,
            paced=[[ref.path for s in ep.scenes for t in s.tiles for _r, ref in t.bands] for ep in ctx.epochs])
        ctx.hashing.release(1)
    stages = [(name, fn) for name, fn, enabled in STAGES if enabled(spec)]
    total = len(ctx.epochs) + len(stages)
    emit = ctx.events or (lambda _e: None)
    emit({"event": "stages", "total": total})
    if ctx.events is not None:
        from .runtime.progress import BlockCounter

        ctx.block_counter = BlockCounter(ctx.events)
    from .stages.landcover import prefetch_samples

    # the first epoch's threshold sample while its mosaic is set up; the others' during the
    # pass before theirs
    prefetch = prefetch_samples(ctx, ctx.epochs[0]) if spec.classification.enabled and ctx.epochs else None
    with run_scheduler(scheduler), gdal_env(**cache):
        for k, ep in enumerate(ctx.epochs):
            emit({"event": "stage", "name": f"epoch {ep.name}", "done": k, "total": total})
            for name, fn, enabled in EPOCH_STAGES:
                if enabled(spec):
                    if name == "classify" and prefetch is not None:
                        prefetch.join()
                        prefetch = None
                    _check_cancel(ctx)
                    with ctx.timer.stage(name):
                        fn(ctx, ep)
            ctx.say(f"epoch {ep.name}: computing and writing {len(ep.outputs)} layers")
            if k + 1 < len(ctx.epochs) and spec.classification.enabled:
                prefetch = prefetch_samples(ctx, ctx.epochs[k + 1])
            if ctx.hashing is not None:  # as the pass starts
                ctx.hashing.release(k + 1)
            with ctx.timer.stage("compute_write"):
                _write_epoch(ctx, ep)
            if _with_change(spec):  # the period ending here, beside the next pass (or the last stages)
                start_early_search(ctx, k)
        try:
            for k, (name, fn) in enumerate(stages, start=len(ctx.epochs)):
                _check_cancel(ctx)
                emit({"event": "stage", "name": name, "done": k, "total": total})
                ctx.say(f"stage {name}")
                with ctx.timer.stage(name):
                    fn(ctx)
        finally:  # a stage failed while the indicator tables computed in a child process
            pending, ctx.zonal_pending = ctx.zonal_pending, None
            if pending is not None:
                pending.cancel()
    _check_cancel(ctx)
    summary = _finish(ctx)
    emit({"event": "stage", "name": "done", "done": total, "total": total})
    return summary


def for_region(base: RunContext, *, geometry: Any, region_id: str, out: Path,
               overwrite: bool = True) -> RunContext:
    """A context for one region: grid clipped to the region's bounds, tiles filtered to it.

    ``geometry`` must be in the grid's CRS.  Pixels outside it become nodata.
    """
    grid = base.grid.clip_to_bounds(tuple(geometry.bounds))
    check_pixels(grid.width, grid.height, what=f"region {region_id}: grid",
                 hint="split the region into smaller ones")
    from .tiles import verify_tile

    epochs = []
    for e in base.epochs:
        scenes = [Scene(s.date, tuple(t for t in s.tiles if overlaps(t, grid))) for s in e.scenes]
        for s in scenes:
            for t in s.tiles:
                verify_tile(t)
        scenes = [s for s in scenes if s.tiles]
        if not scenes:
            raise NoOverlapError(f"region {region_id}: epoch {e.name} has no tiles over the region")
        epochs.append(EpochData(e.spec, scenes))
    used = {ref.path for e in epochs for s in e.scenes for t in s.tiles for _r, ref in t.bands}
    inputs = [p for p in base.inputs if p in used or not p.lower().endswith((".tif", ".tiff"))]
    tiles = [t for e in epochs for s in e.scenes for t in s.tiles]
    ctx = RunContext(spec=base.spec, spec_path=base.spec_path, out=out, overwrite=overwrite,
                     profile=base.profile, grid=grid, epochs=epochs, inputs=inputs,
                     progress=None, region=geometry, region_id=region_id, aoi=base.aoi, base=base,
                     chunks=aligned_chunks(grid, tiles, chunk_size(base.spec, grid, epochs)))
    ctx.digest = base.digest
    return ctx


def _finish(ctx: RunContext) -> dict[str, Any]:
    spec = ctx.spec
    summary = {
        "name": spec.name,
        "grid": ctx.grid.to_dict(),
        "sensor": ctx.profile.name,
        "epochs": [{"name": e.name, "year": e.spec.year,
                    "scenes": [str(s.date) if s.date else None for s in e.scenes],
                    "tiles": sum(len(s.tiles) for s in e.scenes)} for e in ctx.epochs],
        **ctx.summary,
        "outputs": sorted(str(p.relative_to(ctx.out)) for p in ctx.written),
    }
    with ctx.timer.stage("stac"):
        from .stac import write_run_catalog

        announce([ctx.out / "stac"])
        tifs = [p for p in ctx.written if p.suffix == ".tif"]
        if tifs:
            summary["stac"] = str(write_run_catalog(ctx.out, rasters=tifs, summary=summary).relative_to(ctx.out))
    with ctx.timer.stage("manifest"):
        if ctx.hashing is not None:
            ctx.hashing.join()
        inputs = describe_inputs(ctx.inputs, algorithm=ctx.digest)
    manifest = manifest_dict(spec=spec.model_dump(mode="json"), spec_path=str(ctx.spec_path or ""),
                             inputs=inputs, outputs=summary["outputs"], timings=ctx.timer.timings,
                             total_s=ctx.timer.total, extra={"grid": ctx.grid.to_dict()}, digest=ctx.digest,
                             cpu=None if ctx.region is not None else {**ctx.timer.cpu, "total": ctx.timer.cpu_total()})
    atomic_write_json(ctx.out / "manifest.json", manifest, overwrite=True)
    summary["timings_s"] = manifest["timings_s"]
    atomic_write_json(ctx.out / "summary.json", summary, overwrite=True)
    return summary
