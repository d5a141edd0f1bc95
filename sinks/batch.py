"""Run a pipeline spec over many regions: parallel, resumable, fault-tolerant.

One job per region: the target grid is clipped to the region's bounds, pixels
outside the region are masked, and the spec's stages run into
``OUT/regions/<id>/``.  A region's ``summary.json`` is written last and atomically;
it records the *region key*, a hash of the resolved spec, the SHA-256 of every input
and the region's geometry.  A later run with the same arguments skips regions whose
summary carries the same key and recomputes the rest, so a killed batch resumes
where it stopped and a changed spec or input invalidates finished regions.

A failing region (unreadable tile, no data in its bounds ...) is recorded with its
error in ``batch_summary.csv``; the others continue.

Scheduling: by default regions run concurrently on a thread pool (one thread per
core), each region's own graph on the synchronous scheduler: no start-up cost, and GDAL
releases the GIL while decoding large regions.  A small region's work is mostly Python
(its graph, files, tables), which threads share one GIL for, so for many small regions
``workers=N`` is faster: it starts a local ``distributed.LocalCluster`` of N
single-threaded processes (bound to 127.0.0.1).  ``scheduler=ADDR`` (or the
``DASK_SCHEDULER_ADDRESS`` environment variable) connects to an existing cluster.
Tasks receive paths and plain data, never open datasets, and cap GDAL's block cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import ConfigError, InputError, OutputExistsError
from .manifest import sha256_file
from .io import gdal_cache_options

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


def _hash_inputs(paths: list[str], cache_file: Path) -> dict[str, str]:
    """SHA-256 of every input, reusing a cache keyed by (path, size, mtime)."""
    try:
        cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    except (OSError, ValueError):
        cache = {}
    out: dict[str, str] = {}
    todo = []
    for p in sorted(set(paths)):
        st = os.stat(p)
        key = f"{p}|{st.st_size}|{st.st_mtime_ns}"
        if key in cache:
            out[p] = cache[key]
        else:
            todo.append((p, key))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        for (p, key), h in zip(todo, ex.map(lambda t: sha256_file(t[0]), todo)):
            out[p] = h
            cache[key] = h
    if todo:
        from .outputs import atomic_write_json

        atomic_write_json(cache_file, cache, overwrite=True)
    return out


# --------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------
@dataclass
class RegionResult:
    """Outcome of one region."""

    region_id: str
    folder: str
    status: str  # done | failed | skipped
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
        return [r for r in self.results if r.status == "failed"]


def indicators_from_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """Flatten a run summary's headline figures into ``name_with_unit: value`` columns."""
    row: dict[str, Any] = {}
    for ep, lc in (summary.get("landcover") or {}).items():
        for key in ("land_area_ha", "forest_area_ha", "forest_coverage_pct"):
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
                 base_state: Any = None) -> dict[str, Any]:
    """Run one region; never raises for data errors (returns status ``failed``)."""
    import rasterio
    import shapely

    from .pipeline import for_region, prepare, run_prepared
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
            summary = run_prepared(ctx, scheduler="synchronous")
            delay = float(os.environ.get("SINKS_BATCH_DELAY_S", "0") or 0)
            if delay:  # test hook: slows regions down so a kill lands mid-batch
                time.sleep(delay)
        return {"status": "done", "error": "", "seconds": time.perf_counter() - t0,
                "indicators": indicators_from_summary(summary)}
    except Exception as exc:  # noqa: BLE001 - isolate the failure to this region
        msg = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, InputError):
            msg = f"{type(exc).__name__}: {msg}"
            log.debug("region %s failed", region_id, exc_info=True)
        return {"status": "failed", "error": msg, "seconds": time.perf_counter() - t0, "indicators": {}}


def _is_done(folder: Path, key: str) -> dict[str, Any] | None:
    p = folder / "summary.json"
    if not p.exists():
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
              restart: bool = False, only: list[str] | None = None,
              on_event: Callable[[dict[str, Any]], None] | None = None,
              to_postgis: tuple[str, str] | None = None) -> BatchResult:
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
    restart : bool
        Recompute every region.
    only : list of str, optional
        Run only these region ids.
    on_event : callable, optional
        Called with ``{"event": "start"|"region"|"end", ...}`` for progress display.
    to_postgis : (url, table), optional
        Also write the batch table to PostGIS.

    Returns
    -------
    BatchResult
    """
    import shapely

    from .pipeline import prepare
    from .spec import load_spec
    from .vectors import read_vector

    t0 = time.perf_counter()
    parsed, spec_path = load_spec(spec)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out}: exists and is not a directory")
    base = prepare(parsed, spec_path=spec_path, out=out, overwrite=True, strict=False)
    gdf = read_vector(regions, layer=layer, id_field=id_field, target_crs=base.grid.crs, what="regions")
    gdf[id_field] = gdf[id_field].astype(str)
    if only:
        wanted = [str(x) for x in only]
        unknown = [x for x in wanted if x not in set(gdf[id_field])]
        if unknown:
            raise ConfigError(f"--only: unknown region id(s) {', '.join(unknown[:5])} in {regions}")
        gdf = gdf[gdf[id_field].isin(wanted)]
    folders = [sanitize_id(v) for v in gdf[id_field]]
    if len(set(folders)) != len(folders):
        raise ConfigError(f"{regions}: region ids collide after sanitising for file names")
    out.mkdir(parents=True, exist_ok=True)
    (out / "regions").mkdir(exist_ok=True)
    hashes = _hash_inputs(base.inputs, out / ".input-hashes.json")
    batch_key = hashlib.sha256(json.dumps({
        "spec": parsed.model_dump(mode="json"), "inputs": hashes, "grid": base.grid.to_dict(),
    }, sort_keys=True).encode()).hexdigest()

    jobs = []
    results: dict[str, RegionResult] = {}
    for rid, folder, geom in zip(gdf[id_field], folders, gdf.geometry):
        wkb = shapely.to_wkb(geom)
        key = hashlib.sha256(batch_key.encode() + rid.encode("utf-8") + wkb).hexdigest()
        target = (out / "regions" / folder).resolve()
        if (out / "regions").resolve() not in target.parents:
            raise ConfigError(f"region id {rid!r} would write outside {out}")
        done = None if restart else _is_done(target, key)
        if done is not None:
            results[rid] = RegionResult(rid, folder, "done", "", 0.0, indicators_from_summary(done))
        else:
            if (target / "summary.json").exists():
                (target / "summary.json").unlink()
            jobs.append((rid, folder, wkb, key))
    n_total = len(gdf)
    emit = on_event or (lambda e: None)
    emit({"event": "start", "total": n_total, "skipped": n_total - len(jobs), "todo": len(jobs)})

    def record(rid: str, folder: str, res: dict[str, Any]) -> None:
        results[rid] = RegionResult(rid, folder, res["status"], res["error"], res["seconds"], res["indicators"])
        done_n = sum(r.status == "done" for r in results.values())
        failed_n = sum(r.status == "failed" for r in results.values())
        emit({"event": "region", "region_id": rid, "status": res["status"], "error": res["error"],
              "seconds": round(res["seconds"], 3), "done": done_n, "failed": failed_n,
              "remaining": n_total - done_n - failed_n})

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if jobs and (address or workers):
        _run_distributed(jobs, str(spec_path), str(out), base, address=address, workers=workers, record=record)
    elif jobs:
        threads = max(1, os.cpu_count() or 1)
        with _one_blas_thread(), ThreadPoolExecutor(max_workers=threads) as ex:
            futs = {ex.submit(_region_task, str(spec_path), rid, folder, wkb, str(out), key, base): (rid, folder)
                    for rid, folder, wkb, key in jobs}
            for fut in as_completed(futs):
                rid, folder = futs[fut]
                record(rid, folder, fut.result())
    ordered = [results[rid] for rid in gdf[id_field]]
    _write_tables(gdf, id_field, ordered, out, to_postgis)
    res = BatchResult(out, ordered, time.perf_counter() - t0)
    emit({"event": "end", "total": n_total, "failed": len(res.failed), "seconds": round(res.seconds, 3)})
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


def _run_distributed(jobs: list, spec_path: str, out: str, base: Any, *, address: str | None,
                     workers: int | None, record: Callable) -> None:
    from distributed import Client, LocalCluster, as_completed as d_as_completed

    import dask

    cluster = None
    if address:
        client = Client(address)
    else:
        # dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in workers; that fixed threshold
        # also turns off glibc's adaptive mmap threshold, so every array above 128 KiB is
        # mmapped and page-faulted afresh: measured +0.09 s of system time per region.
        # Regions are short-lived tasks with bounded memory; keep the one-thread BLAS.
        environ = {k: v for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ") or {}).items()
                   if k != "MALLOC_TRIM_THRESHOLD_"}
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            cluster = LocalCluster(n_workers=int(workers or 1), threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                   silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        shared = client.scatter(base, broadcast=True)
        futs = {}
        for rid, folder, wkb, key in jobs:
            f = client.submit(_region_task, spec_path, rid, folder, wkb, out, key, shared, pure=False,
                              key=f"region-{folder}-{key[:8]}")
            futs[f] = (rid, folder)
        for f in d_as_completed(list(futs)):
            rid, folder = futs[f]
            try:
                res = f.result()
            except Exception as exc:  # noqa: BLE001 - worker died etc.
                res = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "seconds": 0.0,
                       "indicators": {}}
            record(rid, folder, res)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _write_tables(gdf: Any, id_field: str, results: list[RegionResult], out: Path,
                  to_postgis: tuple[str, str] | None) -> None:
    import geopandas as gpd
    import pandas as pd

    from .outputs import atomic_path

    rows = []
    for r in results:
        rows.append({id_field: r.region_id, "status": "done" if r.status == "done" else "failed",
                     "error": r.error, "folder": f"regions/{r.folder}", **r.indicators})
    table = pd.DataFrame(rows)
    with atomic_path(out / "batch_summary.csv", overwrite=True) as tmp:
        table.to_csv(tmp, index=False, encoding="utf-8")
    geo = gpd.GeoDataFrame(table, geometry=list(gdf.geometry), crs=gdf.crs)
    try:
        from .vectors import write_vector

        write_vector(geo, out / "batch_summary.gpkg", overwrite=True)
    except ImportError:  # pragma: no cover
        geo.to_file(out / "batch_summary.gpkg", driver="GPKG")
    if to_postgis:
        url, table_name = to_postgis
        from sqlalchemy import create_engine

        engine = create_engine(url)
        try:
            geo.to_postgis(table_name, engine, if_exists="replace", index=False)
        finally:
            engine.dispose()
