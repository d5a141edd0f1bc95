"""Run a pipeline spec over many regions: parallel, resumable, fault-tolerant.

One job per region: the target grid is clipped to the region's bounds, pixels
outside the region are masked, and the spec's stages run into
``OUT/regions/<id>/``.  A region's ``summary.json`` is written last and atomically;
it records the *region key*, a hash of the resolved spec, what identifies the version of
every input (see :func:`_input_versions`) and the region's geometry.  A later run with
the same arguments skips regions whose summary carries the same key (and whose run
marker says ``complete``) and recomputes the rest, so a killed batch resumes where it
stopped and a changed spec or input invalidates finished regions.

A failing region (unreadable tile, no data in its bounds ...) is recorded with its
error in ``batch_summary.csv``; the others continue.  A region without a geometry
keeps its row (status ``empty geometry``); ``--only`` merges into the existing table.
Ctrl-C cancels the queued regions, stops the running ones and writes the table of what
finished (:mod:`sinks._batchrun`).  ``OUT/.sinks-run.lock`` keeps a second batch out
of the folder.

Scheduling: by default regions run concurrently on a thread pool (one thread per
core), each region's own graph on the synchronous scheduler: no start-up cost, and GDAL
releases the GIL while decoding large regions.  A small region's work is mostly Python
(its graph, files, tables), which threads share one GIL for, so for many small regions
``workers=N`` is faster: it starts a local ``distributed.LocalCluster`` of N
single-threaded processes (bound to 127.0.0.1).  ``scheduler=ADDR`` (or the
``DASK_SCHEDULER_ADDRESS`` environment variable) connects to an existing cluster, and
``client=`` uses a ``distributed.Client`` the caller holds.  The scene's prepared state
is submitted once as a task whose result every region task depends on, so a cluster
that has no worker yet (an adaptive cluster scaled to zero) starts workers for the
queued regions instead of failing.  Tasks receive paths and plain data, never open
datasets, and cap GDAL's block cache.  ``retries=N`` runs a failed region up to N more
times (and lets dask resubmit a region whose worker died).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ._batchrun import INTERRUPTED, BatchInterrupted, cpu_threads, run_distributed, run_threads
from .errors import ConfigError, InputError, OutputExistsError
from .gdalenv import gdal_cache_options

__all__ = ["sanitize_id", "run_batch", "BatchResult", "RegionResult", "indicators_from_summary"]

log = logging.getLogger("sinks")


# --------------------------------------------------------------------------------------
# ids and keys
# --------------------------------------------------------------------------------------
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


def sanitize_id(region_id: Any) -> str:
    """A file-name-safe folder name for a region id.

    Keeps letters of any script (Chinese county names stay readable), digits, ``-``,
    ``_`` and ``.``; replaces everything else (path separators included) with ``_``;
    never returns ``.``/``..`` or a name starting with a dot.  Ids that had to be
    changed get a short hash suffix so two different ids never share a folder.
    """
    text = unicodedata.normalize("NFC", str(region_id)).strip()
    safe = _UNSAFE.sub("_", text).strip("._") or "region"
    safe = safe[:80]
    if safe != text:
        safe = f"{safe}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:8]}"
    return safe


def _input_versions(paths: list[str]) -> dict[str, str]:
    """What identifies the version of every input, without reading any content.

    A local file: its size, modification time, change time and inode
    (:func:`sinks.runtime.hashcache.stamp`); content swapped in with the same size and ``touch -r``
    still moves the change time, which nobody can set back, so the regions that use it
    are recomputed.  A remote object: its ETag, size and modified time (one ``HEAD``
    request, :func:`sinks.remote.describe`).  The driver hashes nothing before the
    regions start; each region's manifest holds the digests of the files it read.
    """
    from .runtime.hashcache import stamp
    from .remote import describe, is_remote

    def version(p: str) -> str:
        if is_remote(p):
            d = describe(p)
            return "|".join(str(d.get(k, "")) for k in ("etag", "bytes", "modified")) or p
        return "|".join(str(v) for v in stamp(os.stat(p)))

    uniq = sorted(set(paths))
    with ThreadPoolExecutor(max_workers=8) as ex:
        return dict(zip(uniq, ex.map(version, uniq)))


# --------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------
#: Statuses of a region in the batch table.
DONE, FAILED, EMPTY, NOT_RUN = "done", "failed", "empty geometry", "not run"


@dataclass
class RegionResult:
    """Outcome of one region."""

    region_id: str
    folder: str
    status: str  # done | failed | empty geometry | not run
    error: str = ""
    seconds: float = 0.0
    indicators: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchResult:
    """Outcome of a batch."""

    out: Path
    results: list[RegionResult]
    seconds: float

    @property
    def failed(self) -> list[RegionResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def empty(self) -> list[RegionResult]:
        """Regions listed with status ``empty geometry`` (nothing to compute)."""
        return [r for r in self.results if r.status == EMPTY]


def _previous_rows(out: Path, id_field: str) -> dict[str, dict[str, Any]]:
    """Status and error of each region in the batch table already in ``out`` (if any)."""
    from .csvio import read_csv

    p = out / "batch_summary.csv"
    if not p.is_file():
        return {}
    try:
        table = read_csv(p, dtype={id_field: str}, keep_default_na=False)
    except (OSError, ValueError) as exc:
        log.warning("%s: earlier batch table not read (%s)", p, exc)
        return {}
    if table.columns[:1].tolist() != [id_field] or not {"status", "error"} <= set(table.columns):
        return {}
    return {str(r[id_field]): {"status": str(r["status"]), "error": str(r["error"])}
            for r in table.to_dict("records")}


def indicators_from_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """Flatten a run summary's headline figures into ``name_with_unit: value`` columns."""
    row: dict[str, Any] = {}
    for ep, lc in (summary.get("landcover") or {}).items():
        for key in ("zone_area_ha", "unobserved_fraction", "forest_area_ha", "forest_coverage_pct",
                    "coverage_flagged"):
            if key in lc:
                row[f"{key}_{ep}"] = lc[key]
    for ep, c in ((summary.get("carbon") or {}).get("epochs") or {}).items():
        if "stock_mg_c" in c:
            row[f"stock_mg_c_{ep}"] = c["stock_mg_c"].get("total")
        if "volume_m3" in c:
            row[f"volume_m3_{ep}"] = c["volume_m3"]
    for period, s in ((summary.get("carbon") or {}).get("sink") or {}).items():
        if isinstance(s, dict) and "sink_mg_c_per_yr" in s:
            row[f"sink_mg_c_per_yr_{period}"] = s["sink_mg_c_per_yr"]
            if s.get("sink_mg_c_per_yr_ci95"):
                row[f"sink_mg_c_per_yr_{period}_lo"], row[f"sink_mg_c_per_yr_{period}_hi"] = s["sink_mg_c_per_yr_ci95"]
            if "method" in s:
                row[f"sink_method_{period}"] = s["method"]
    for period, e in (summary.get("encroachment") or {}).items():
        if isinstance(e, dict) and "area_ha" in e:
            row[f"encroachment_ha_{period}"] = e["area_ha"]
    return row


# --------------------------------------------------------------------------------------
# one region (runs in a thread or on a dask worker)
# --------------------------------------------------------------------------------------
def _region_task(spec_path: str, region_id: str, folder: str, wkb: bytes, out_dir: str, key: str,
                 base_state: Any = None, cancel: Any = None, retries: int = 0) -> dict[str, Any]:
    """Run one region, up to ``1 + retries`` times while it fails; never raises for data
    errors (returns status ``failed`` with the last attempt's error).

    ``cancel`` (a :class:`threading.Event`) stops the region at its next task or stage:
    it then removes what it wrote and returns status ``not run``.
    """
    t0 = time.perf_counter()
    for attempt in range(1 + max(0, int(retries))):
        res = _region_attempt(spec_path, region_id, folder, wkb, out_dir, key, base_state, cancel)
        if res["status"] != FAILED or (cancel is not None and cancel.is_set()):
            break
        if attempt < retries:
            log.info("region %s failed (%s); attempt %d of %d", region_id, res["error"], attempt + 2, 1 + retries)
            time.sleep(min(2.0 ** attempt, 30.0))
    if attempt:
        res["attempts"] = attempt + 1
        if res["status"] == FAILED:
            res["error"] = f"{res['error']} (after {attempt + 1} attempts)"
    res["seconds"] = time.perf_counter() - t0
    return res


def _region_attempt(spec_path: str, region_id: str, folder: str, wkb: bytes, out_dir: str, key: str,
                    base_state: Any, cancel: Any) -> dict[str, Any]:
    """One attempt at a region (see :func:`_region_task`)."""
    import rasterio
    import shapely

    from ._batchrun import INTERRUPTED
    from .pipeline import Cancelled, for_region, prepare, run_prepared
    from .spec import load_spec

    t0 = time.perf_counter()
    target = Path(out_dir) / "regions" / folder
    try:
        with rasterio.Env(**gdal_cache_options()):  # the run's cap, for prepare and for_region too
            if base_state is None:
                spec, path = load_spec(spec_path)
                base_state = prepare(spec, spec_path=path, out=target, overwrite=True, strict=False)
            ctx = for_region(base_state, geometry=shapely.from_wkb(wkb), region_id=region_id,
                             out=target, overwrite=True)
            ctx.summary["batch"] = {"region_id": region_id, "key": key}
            ctx.cancel = cancel
            summary = run_prepared(ctx, scheduler="synchronous")
            delay = float(os.environ.get("SINKS_BATCH_DELAY_S", "0") or 0)
            if delay:  # test hook: slows regions down so a kill lands mid-batch
                if cancel is not None:
                    cancel.wait(delay)
                else:
                    time.sleep(delay)
        return {"status": DONE, "error": "", "seconds": time.perf_counter() - t0,
                "indicators": indicators_from_summary(summary)}
    except Cancelled:
        return {"status": NOT_RUN, "error": INTERRUPTED, "seconds": time.perf_counter() - t0, "indicators": {}}
    except Exception as exc:  # noqa: BLE001 - isolate the failure to this region
        msg = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, InputError):
            msg = f"{type(exc).__name__}: {msg}"
            log.debug("region %s failed", region_id, exc_info=True)
        return {"status": FAILED, "error": msg, "seconds": time.perf_counter() - t0, "indicators": {}}


def _is_done(folder: Path, key: str) -> dict[str, Any] | None:
    from .runstate import read_marker

    p = folder / "summary.json"
    if not p.exists():
        return None
    marker = read_marker(folder)
    if marker is not None and marker.get("state") != "complete":
        return None
    try:
        summary = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary if (summary.get("batch") or {}).get("key") == key else None


# --------------------------------------------------------------------------------------
# the batch
# --------------------------------------------------------------------------------------
def run_batch(spec: str | os.PathLike, *, regions: str, id_field: str, out: str | os.PathLike,
              layer: str | None = None, scheduler: str | None = None, workers: int | None = None,
              client: Any = None, retries: int = 0,
              restart: bool = False, only: list[str] | None = None,
              on_event: Callable[[dict[str, Any]], None] | None = None,
              to_postgis: tuple[str, str] | None = None, overwrite: bool = False) -> BatchResult:
    """Run ``spec`` once per polygon of ``regions``.

    Parameters
    ----------
    spec : path
        Pipeline spec (YAML).
    regions : str
        Vector file (or ``postgresql://`` source with ``layer`` as table or query).
    id_field : str
        Region id column.
    out : path
        Batch folder: ``regions/<id>/``, ``batch_summary.csv``, ``batch_summary.gpkg``.
    scheduler : str, optional
        Address of a dask.distributed scheduler (``tcp://host:8786``).  Defaults to
        ``DASK_SCHEDULER_ADDRESS`` when set.
    workers : int, optional
        Start a local cluster with this many single-threaded worker processes.
    client : distributed.Client, optional
        Run the regions on this client's cluster (left open).  The cluster may have no
        worker yet: an adaptive cluster scales up for the queued regions.
    retries : int
        Run a failed region up to this many more times (transient network or storage
        errors); on a cluster dask also resubmits a region whose worker died.
    restart : bool
        Recompute every region.
    only : list of str, optional
        Run only these region ids.
    on_event : callable, optional
        Called with ``{"event": "start"|"region"|"end", ...}`` for progress display.
    to_postgis : (url, table), optional
        Also write the batch table to PostGIS.  An existing table is refused (before
        any region runs) unless ``overwrite``; the table the regions are read from is
        always refused.
    overwrite : bool
        Replace the ``to_postgis`` table when it exists.

    Returns
    -------
    BatchResult

    Raises
    ------
    RunLockedError
        Another batch (or run) is writing into ``out``.
    BatchInterrupted
        Ctrl-C: queued regions were cancelled, running ones stopped or finished, and
        the batch table of what finished was written (unfinished regions ``not run``).
    """
    from .spec import load_spec

    from .runstate import FolderLock, remove_stale_parts

    t0 = time.perf_counter()
    from .objstore import is_object_url

    if is_object_url(str(out)):
        raise ConfigError(f"--out {out}: a batch writes into a folder (shared by the workers); "
                          "copy it to object storage afterwards")
    parsed, spec_path = load_spec(spec)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out}: exists and is not a directory")
    if to_postgis:
        from .postgis import check_target

        check_target(to_postgis[0], to_postgis[1], overwrite=overwrite, regions=str(regions), regions_layer=layer)
    lock = FolderLock(out).acquire()  # a second batch into this folder stops here, naming this one
    try:
        remove_stale_parts(out)  # temporary files of a killed batch (the lock says none is writing)
        return _run_batch(parsed, spec_path, regions=regions, id_field=id_field, out=out, layer=layer,
                          scheduler=scheduler, workers=workers, client=client, retries=retries,
                          restart=restart, only=only, on_event=on_event,
                          to_postgis=to_postgis, overwrite=overwrite, t0=t0)
    finally:
        lock.release()


def _run_batch(parsed: Any, spec_path: Path, *, regions: str, id_field: str, out: Path, layer: str | None,
               scheduler: str | None, workers: int | None, client: Any, retries: int, restart: bool,
               only: list[str] | None,
               on_event: Callable[[dict[str, Any]], None] | None, to_postgis: tuple[str, str] | None,
               overwrite: bool, t0: float) -> BatchResult:
    import shapely

    from .pipeline import prepare
    from .vectors import read_vector

    base = prepare(parsed, spec_path=spec_path, out=out, overwrite=True, strict=False)
    gdf = read_vector(regions, layer=layer, id_field=id_field, target_crs=base.grid.crs, what="regions",
                      keep_empty=True)
    gdf[id_field] = gdf[id_field].astype(str)
    selected = set(gdf[id_field])
    if only:
        wanted = [str(x) for x in only]
        unknown = [x for x in wanted if x not in selected]
        if unknown:
            raise ConfigError(f"--only: unknown region id(s) {', '.join(unknown[:5])} in {regions}")
        selected = set(wanted)
    folders = [sanitize_id(v) for v in gdf[id_field]]
    if len(set(folders)) != len(folders):
        seen: dict[str, list[str]] = {}
        for rid, folder in zip(gdf[id_field], folders):
            seen.setdefault(folder, []).append(rid)
        clash = next(v for v in seen.values() if len(v) > 1)
        raise ConfigError(f"{regions}: region ids {', '.join(repr(v) for v in clash[:5])} collide after "
                          "sanitising for file names")
    out.mkdir(parents=True, exist_ok=True)
    (out / "regions").mkdir(exist_ok=True)
    hashes = _input_versions(base.inputs)
    batch_key = hashlib.sha256(json.dumps({
        "spec": parsed.model_dump(mode="json"), "inputs": hashes, "grid": base.grid.to_dict(),
    }, sort_keys=True).encode()).hexdigest()

    jobs = []
    results: dict[str, RegionResult] = {}
    # --only runs some regions; the others keep the row of the table already there
    previous = _previous_rows(out, id_field) if only else {}
    for rid, folder, geom in zip(gdf[id_field], folders, gdf.geometry):
        target = (out / "regions" / folder).resolve()
        if (out / "regions").resolve() not in target.parents:
            raise ConfigError(f"region id {rid!r} would write outside {out}")
        if geom is None or geom.is_empty:
            results[rid] = RegionResult(rid, folder, EMPTY, "the region's geometry is null or empty")
            continue
        wkb = shapely.to_wkb(geom)
        key = hashlib.sha256(batch_key.encode() + rid.encode("utf-8") + wkb).hexdigest()
        if rid not in selected:
            done = _is_done(target, key)
            prev = previous.get(rid)
            if done is not None:
                results[rid] = RegionResult(rid, folder, DONE, "", 0.0, indicators_from_summary(done))
            elif prev is not None and prev["status"] != DONE:
                results[rid] = RegionResult(rid, folder, prev["status"], prev["error"])
            else:
                note = "finished before the spec or inputs changed" if prev is not None else ""
                results[rid] = RegionResult(rid, folder, NOT_RUN, note)
            continue
        done = None if restart else _is_done(target, key)
        if done is not None:
            results[rid] = RegionResult(rid, folder, DONE, "", 0.0, indicators_from_summary(done))
        else:
            if (target / "summary.json").exists():
                (target / "summary.json").unlink()
            jobs.append((rid, folder, wkb, key))
    n_total = len(gdf)
    emit = on_event or (lambda e: None)
    emit({"event": "start", "total": n_total, "skipped": n_total - len(jobs), "todo": len(jobs)})

    finished: set[str] = set()

    def record(rid: str, folder: str, res: dict[str, Any]) -> None:
        results[rid] = RegionResult(rid, folder, res["status"], res["error"], res["seconds"], res["indicators"])
        finished.add(rid)
        done_n = sum(r.status == DONE for r in results.values())
        failed_n = sum(r.status == FAILED for r in results.values())
        emit({"event": "region", "region_id": rid, "status": res["status"], "error": res["error"],
              "seconds": round(res["seconds"], 3), "done": done_n, "failed": failed_n,
              "remaining": len(jobs) - len(finished)})

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    interrupted = False
    if jobs and (address or workers or client is not None):
        def submit_d(cl: Any, job: tuple[Any, ...], shared: Any) -> Any:
            rid, folder, wkb, key = job
            return cl.submit(_region_task, str(spec_path), rid, folder, wkb, str(out), key, shared, None, retries,
                             pure=False, retries=retries, key=f"region-{folder}-{key[:8]}")

        interrupted = run_distributed(jobs, submit_d, record=lambda job, res: record(job[0], job[1], res),
                                      address=address, workers=workers, base=base, client=client)
    elif jobs:
        def submit_t(job: tuple[Any, ...], cancel: Any) -> dict[str, Any]:
            rid, folder, wkb, key = job
            return _region_task(str(spec_path), rid, folder, wkb, str(out), key, base, cancel, retries)

        with _one_blas_thread():
            interrupted = run_threads(jobs, submit_t, record=lambda job, res: record(job[0], job[1], res),
                                      threads=cpu_threads())
    if interrupted:  # a region whose folder is complete finished, even if its result was not collected
        for rid, folder, _wkb, key in jobs:
            if rid not in finished or results[rid].status == NOT_RUN:
                done = _is_done(out / "regions" / folder, key)
                results[rid] = (RegionResult(rid, folder, DONE, "", 0.0, indicators_from_summary(done))
                                if done is not None else RegionResult(rid, folder, NOT_RUN, INTERRUPTED))
    ordered = [results[rid] for rid in gdf[id_field]]
    _write_tables(gdf, id_field, ordered, out, to_postgis if not interrupted else None, overwrite=overwrite)
    res = BatchResult(out, ordered, time.perf_counter() - t0)
    emit({"event": "end", "total": n_total, "failed": len(res.failed), "seconds": round(res.seconds, 3),
          "interrupted": interrupted})
    if interrupted:
        n_done = sum(r.status == DONE for r in ordered)
        raise BatchInterrupted(f"{n_done} of {n_total} regions done; table of what finished: "
                               f"{out / 'batch_summary.csv'}")
    return res


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Limit BLAS/OpenMP pools to one thread while regions run on a thread per core.

    Regions already use every core; a BLAS pool per region thread would oversubscribe
    them.  The Monte Carlo matrices are small: one BLAS thread was as fast as two per
    region in measurements (what slows a threaded batch of small regions is the GIL,
    see the module notes).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        yield
        return
    with threadpool_limits(limits=1):
        yield


def _write_tables(gdf: Any, id_field: str, results: list[RegionResult], out: Path,
                  to_postgis: tuple[str, str] | None, *, overwrite: bool = False) -> None:
    import geopandas as gpd
    import pandas as pd

    from .outputs import atomic_path

    rows = []
    for r in results:
        rows.append({id_field: r.region_id, "status": r.status,
                     "error": r.error, "folder": f"regions/{r.folder}", **r.indicators})
    table = pd.DataFrame(rows)
    from .csvio import to_csv

    with atomic_path(out / "batch_summary.csv", overwrite=True) as tmp:
        to_csv(table, tmp)
    geo = gpd.GeoDataFrame(table, geometry=list(gdf.geometry), crs=gdf.crs)
    label = next((c for c in ("name", "NAME", "Name") if c in gdf.columns and c != id_field), None)
    if label is not None:  # region names (often Chinese) for maps and QGIS labels; not in the CSV contract
        geo.insert(1, "name", [None if v is None else str(v) for v in gdf[label]])
    try:
        from .vectors import write_vector

        write_vector(geo, out / "batch_summary.gpkg", overwrite=True)
    except ImportError:  # pragma: no cover
        geo.to_file(out / "batch_summary.gpkg", driver="GPKG")
    if to_postgis:
        from .postgis import write_postgis

        write_postgis(geo, to_postgis[0], to_postgis[1], overwrite=overwrite)
