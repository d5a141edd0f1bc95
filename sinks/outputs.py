"""Safe outputs: refuse to clobber, write under a temporary name, rename when complete.

:func:`write_rasters` writes several lazy (dask) layers on one grid in a single dask
pass, so the inputs they share are read once.  Layers with nearest-neighbour overviews
(land cover, change, carbon lookups: every layer a default run writes) are written as
Cloud-Optimized GeoTIFFs in that pass (:mod:`sinks.cog`): each block task compresses its
own tiles and the overview tiles are built from the blocks in memory, then the file is
laid out from the compressed tiles, with no intermediate raster and no second pass.
The tasks keep no open file or lock of the calling process, so the pass also runs on a
``dask.distributed`` cluster whose workers share the output folder.  Layers with
averaged overviews (indices, reflectance, on request) are written in the pass as tiled
GeoTIFFs and copied by GDAL's COG driver after it.  On the local schedulers the pass
runs in strips of block rows (:mod:`sinks.runtime.strips`), so what it holds does not grow
with the number of blocks.  Layers small enough to hold in memory together (a batch
region, a test raster) are computed in one pass and copied to COGs from GDAL MEM
datasets instead, and so are layers that are not dask arrays (numpy, or computed on
access like the carbon command's lookups), in worker threads and without importing
dask.  That is why dask (and GDAL's COG copy) are imported inside the functions that
use them: ``sinks carbon`` on a small map writes its COGs without loading dask.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from .errors import InputError, OutputExistsError, OutputWriteError
from .grid import Grid

__all__ = [
    "ensure_writable",
    "announce",
    "register_journal",
    "unregister_journal",
    "atomic_path",
    "atomic_write_text",
    "atomic_write_json",
    "RasterOutput",
    "write_rasters",
    "temp_name",
    "mem_dataset",
    "staged_files",
    "write_rasters_and_compute",
    "writing",
    "write_error",
]

#: Layers whose arrays together take at most this many bytes are computed into memory
#: and written from GDAL MEM datasets (no intermediate tiled GeoTIFF on disk).
IN_MEMORY_BYTES = 32 * 2**20

log = logging.getLogger("sinks")


#: Free bytes under which a GDAL write error on a file system is taken for a full disk (GDAL's
#: TIFF driver reports ENOSPC as "TIFFAppendToStrip:Seek error", without the errno).
LOW_SPACE_BYTES = 16 * 2**20
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _disk_full(path: Path) -> bool:
    for d in (path.parent, *path.parents):
        if d.exists():
            try:
                return shutil.disk_usage(d).free < LOW_SPACE_BYTES
            except OSError:
                return False
    return False


def write_error(final: str | os.PathLike, exc: BaseException, *, gdal: bool = True) -> OutputWriteError | None:
    """The one-line :class:`~sinks.errors.OutputWriteError` for ``exc`` raised while writing
    ``final``, or ``None`` when ``exc`` is not a write failure (bad input, a bug ...).

    ``ENOSPC``/``EDQUOT``, and a GDAL or OGR error on a file system with less than
    :data:`LOW_SPACE_BYTES` free, read "no space left on device"; other GDAL/OGR errors
    "cannot write (<GDAL's message>)".  With ``gdal=False`` (a block that also reads
    inputs) only the operating system's disk-full errors are mapped.
    """
    if isinstance(exc, (OutputWriteError, InputError)):
        return None
    final = Path(final)
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL or "No space left on device" in text:
        return OutputWriteError(f"{final}: no space left on device")
    module = type(exc).__module__ or ""
    if not gdal:
        return None
    if module.startswith(("rasterio", "pyogrio", "fiona")) or type(exc).__name__.startswith("CPLE_"):
        if _disk_full(final):
            return OutputWriteError(f"{final}: no space left on device")
        return OutputWriteError(f"{final}: cannot write ({text})")
    if isinstance(exc, OSError) and exc.errno == errno.EIO:
        return OutputWriteError(f"{final}: cannot write (input/output error)")
    return None


@contextlib.contextmanager
def writing(final: str | os.PathLike, *, gdal: bool = True) -> Iterator[None]:
    """Turn a write failure of ``final`` into one line naming it (:func:`write_error`)."""
    try:
        yield
    except Exception as exc:
        mapped = write_error(final, exc, gdal=gdal)
        if mapped is None:
            raise
        raise mapped from exc


def temp_name(final: Path) -> Path:
    """A hidden temporary sibling of ``final`` (same directory, so rename is atomic)."""
    final = Path(final)
    return final.with_name(f".{final.name}.part-{os.getpid()}-{uuid.uuid4().hex[:8]}")


#: Folder → callback told of every file about to be written under it (a run's marker, see
#: :class:`sinks.runstate.RunFolder`).
_JOURNALS: dict[Path, Any] = {}
_JOURNALS_LOCK = threading.Lock()


def register_journal(folder: str | os.PathLike, callback: Any) -> None:
    """Call ``callback(paths)`` before any file under ``folder`` is written (see :func:`announce`)."""
    with _JOURNALS_LOCK:
        _JOURNALS[Path(os.path.abspath(folder))] = callback


def unregister_journal(folder: str | os.PathLike) -> None:
    """Stop journaling writes under ``folder``."""
    with _JOURNALS_LOCK:
        _JOURNALS.pop(Path(os.path.abspath(folder)), None)


def announce(paths: Iterable[str | os.PathLike]) -> None:
    """Tell the run that owns their folder that ``paths`` are about to be written.

    Every writer here calls it (through :func:`ensure_writable`); code that writes
    files another way (a child process) calls it before starting.
    """
    with _JOURNALS_LOCK:
        journals = list(_JOURNALS.items())
    if not journals:
        return
    for folder, callback in journals:
        mine = [Path(os.path.abspath(p)) for p in paths]
        mine = [p for p in mine if folder in p.parents]
        if mine:
            callback(mine)


def ensure_writable(paths: Iterable[str | os.PathLike], *, overwrite: bool) -> None:
    """Raise :class:`OutputExistsError` for the first path that exists, unless ``overwrite``;
    then :func:`announce` the paths."""
    paths = list(paths)
    if not overwrite:
        for p in paths:
            if Path(p).exists():
                raise OutputExistsError(f"{p}: output exists; pass --overwrite to replace it")
    announce(paths)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, *, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary path; on success rename it to ``final``, on error remove it."""
    final = Path(final)
    ensure_writable([final], overwrite=overwrite)
    with writing(final):
        final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(final)
    try:
        with writing(final):
            yield tmp
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def staged_files(finals: list[Path]) -> Iterator[list[Path]]:
    """Temporary siblings of ``finals`` to write; all renamed to their final names once the
    block completes, all removed if it fails (no half-written file under a final name)."""
    temps = [temp_name(p) for p in finals]
    try:
        # the block may also read the inputs (a compute pass): only the OS's disk-full errors are
        # mapped here, GDAL's at each write (the tiles' layout, the COG copies)
        with writing(finals[0] if len(finals) == 1 else ", ".join(str(p) for p in finals), gdal=False):
            yield temps
        for tmp, final in zip(temps, finals):
            os.replace(tmp, final)
        log.info("wrote %s", ", ".join(str(p) for p in finals))
    finally:
        for t in temps:
            if t.exists():
                with contextlib.suppress(OSError):
                    t.unlink()


def atomic_write_text(path: str | os.PathLike, text: str, *, overwrite: bool) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj: Any, *, overwrite: bool) -> Path:
    """Write ``obj`` as indented UTF-8 JSON atomically (numpy scalars converted)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default) + "\n",
                             overwrite=overwrite)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (Path,)):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


@dataclass
class RasterOutput:
    """One single-band layer to write.

    Attributes
    ----------
    path : Path
        Final file name.
    data : dask.array.Array or numpy.ndarray
        2-D array on the grid.
    nodata : float or int or None
        Nodata value written to the file (``nan`` for float layers).
    categorical : bool
        Nearest-neighbour overviews (mode) instead of averages.
    description : str
        Band description.
    colormap : mapping, optional
        ``{code: (r, g, b, a)}`` for paletted land-cover layers.
    tags : mapping
        Dataset tags (units, source).
    smooth : bool
        Continuous values that a predictor helps compress (indices, reflectance); false
        for piecewise-constant layers such as lookups of the land cover.
    """

    path: Path
    data: Any
    nodata: float | int | None = None
    categorical: bool = False
    description: str = ""
    colormap: Mapping[int, tuple[int, int, int, int]] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    smooth: bool = True


@contextlib.contextmanager
def mem_dataset(data: np.ndarray, grid: Grid, out: RasterOutput) -> Iterator[Any]:
    """A GDAL MEM dataset holding ``data`` on ``grid`` with ``out``'s nodata, description,
    tags and colour map: the source of a COG copy without an intermediate file."""
    import rasterio

    profile = dict(width=grid.width, height=grid.height, count=1, dtype=data.dtype.name, crs=grid.crs,
                   transform=grid.transform, nodata=out.nodata)
    with rasterio.open(f"/vsimem/sinks-{uuid.uuid4().hex}", "w", driver="MEM", **profile) as ds:
        ds.write(data, 1)
        del data  # the MEM dataset holds its own copy
        from .cog import describe_band

        describe_band(ds, out)
        yield ds


def _cog_options(out: RasterOutput, compress: str | None) -> dict[str, str]:
    """Compression and overview settings of one layer.

    * Categorical layers: DEFLATE, no predictor, nearest-neighbour overviews (GDAL's
      default for paletted rasters: an unbiased sample of the classes, and cheap).
    * Piecewise-constant float layers (lookups of the land cover, such as carbon
      density): ZSTD at level 1, no predictor, nearest-neighbour overviews.  Every
      overview pixel is then a table value, the lookup of the class that the land
      cover's overview shows at that pixel; long runs of one value compress almost as
      well at level 1 as at GDAL's default 9, in half the time.
    * Smooth float layers (indices, reflectance): ZSTD with the floating-point
      predictor, average overviews.

    ``compress`` forces one codec for every layer.
    """
    is_float = np.dtype(out.data.dtype).kind == "f"
    if out.categorical:
        return {"compress": compress or "DEFLATE", "predictor": "NO", "resampling": "NEAREST",
                "overview_resampling": "NEAREST"}
    if not out.smooth:
        opts = {"compress": compress or ("ZSTD" if is_float else "DEFLATE"), "predictor": "NO",
                "resampling": "NEAREST", "overview_resampling": "NEAREST"}
        if opts["compress"].upper() == "ZSTD":
            opts["level"] = "1"
        return opts
    return {"compress": compress or ("ZSTD" if is_float else "DEFLATE"), "predictor": "YES",
            "resampling": "AVERAGE", "overview_resampling": "AVERAGE"}


def write_rasters(outputs: list[RasterOutput], grid: Grid, *, overwrite: bool, blocksize: int = 512,
                  compress: str | None = None, validate: bool = False) -> list[Path]:
    """Write lazy layers on ``grid`` as COGs, all in one pass over their shared inputs.

    Parameters
    ----------
    outputs : list of RasterOutput
    grid : Grid
    overwrite : bool
        Replace existing files; otherwise raise :class:`OutputExistsError` before
        computing anything.
    blocksize : int
        Internal tile size of the COGs.
    compress : str, optional
        COG compression for every layer (default: per layer, see :func:`_cog_options`).
    validate : bool
        Check each result with ``rio_cogeo.cog_validate``.

    Returns
    -------
    list of Path
        The final paths, in the order given.
    """
    paths, _ = write_rasters_and_compute(outputs, grid, overwrite=overwrite, blocksize=blocksize,
                                         compress=compress, validate=validate)
    return paths


def write_rasters_and_compute(outputs: list[RasterOutput], grid: Grid, *, also: Mapping[str, Any] | None = None,
                              overwrite: bool, blocksize: int = 512, compress: str | None = None,
                              validate: bool = False, timer: Any = None,
                              stage: str = "cog_copy") -> tuple[list[Path], dict[str, Any]]:
    """:func:`write_rasters`, computing the dask collections ``also`` in the same pass.

    Reductions over the written layers (class counts, cross-tabulations) then reuse
    the blocks being written instead of reading the files again.  With a
    :class:`sinks.manifest.Timer`, the work after the pass (laying out the COGs from
    their compressed tiles, GDAL's copies of layers with averaged overviews) is timed as
    ``stage``.

    Returns
    -------
    (list of Path, dict)
        The final paths, and the computed value of each entry of ``also``.
    """
    extra = dict(also or {})
    finals = [Path(o.path) for o in outputs]
    ensure_writable(finals, overwrite=overwrite)
    for o in outputs:
        if tuple(np.shape(o.data)) != grid.shape:
            raise ValueError(f"{o.path}: layer shape {np.shape(o.data)} != grid shape {grid.shape}")
    for p in finals:
        p.parent.mkdir(parents=True, exist_ok=True)
    if not extra and not any(_is_dask(o.data) for o in outputs):
        return _write_in_memory(outputs, finals, grid, extra, blocksize=blocksize, compress=compress,
                                validate=validate)
    nbytes = sum(grid.width * grid.height * np.dtype(o.data.dtype).itemsize for o in outputs)
    if nbytes <= IN_MEMORY_BYTES:
        return _write_in_memory(outputs, finals, grid, extra, blocksize=blocksize, compress=compress,
                                validate=validate)
    import rasterio.shutil

    one_pass = [_cog_options(o, compress)["overview_resampling"] == "NEAREST" for o in outputs]
    stage1 = {k: temp_name(p) for k, (p, direct) in enumerate(zip(finals, one_pass)) if not direct}
    try:
        with staged_files(finals) as stage2:
            # every layer's tiles are compressed in the pass by its block tasks (sinks.cog), which
            # hold no open file, so the pass runs on any scheduler; layers with nearest overviews
            # are laid out as COGs after it, layers with averaged overviews as a tiled GeoTIFF that
            # GDAL's COG driver copies with its overviews
            plans, graphs = [], []
            for k, out in enumerate(outputs):
                if one_pass[k]:
                    plan, graph = _one_pass_graph(out, grid, stage2[k], blocksize=blocksize, compress=compress)
                else:
                    plan, graph = _one_pass_graph(out, grid, stage1[k], blocksize=blocksize, compress=None,
                                                  overviews=False)
                plans.append(plan)
                graphs.append(graph)
            computed = _compute(*graphs, *extra.values())
            records, values = computed[:len(graphs)], computed[len(graphs):]
            with timer.stage(stage) if timer is not None else contextlib.nullcontext():
                from .cog import assemble

                for k, (plan, recs) in enumerate(zip(plans, records)):
                    with writing(outputs[k].path):
                        assemble(plan, recs, stage2[k] if one_pass[k] else stage1[k])
                for k, src in stage1.items():
                    out = outputs[k]
                    with writing(out.path):
                        rasterio.shutil.copy(src, stage2[k], driver="COG", blocksize=blocksize, overviews="AUTO",
                                             num_threads="ALL_CPUS", bigtiff="IF_SAFER",
                                             **_cog_options(out, compress))
                if validate:
                    for tmp, out in zip(stage2, outputs):
                        _validate(tmp, out)
        return finals, dict(zip(extra, values))
    finally:
        for p in stage1.values():
            if p.exists():
                with contextlib.suppress(OSError):
                    p.unlink()
        _remove_parts(finals)


def _one_pass_graph(out: RasterOutput, grid: Grid, tmp: Path, *, blocksize: int, compress: str | None,
                    overviews: bool = True) -> tuple[Any, Any]:
    """The plan and the dask graph writing ``out``'s tiles for :func:`sinks.cog.assemble`
    (blocks off the tile lattice are put together from their chunks by the tile tasks);
    without ``overviews``, the full resolution alone (a tiled GeoTIFF)."""
    import dask.array as da

    from .cog import cog_graph, plan_cog

    data = out.data if isinstance(out.data, da.Array) else da.from_array(out.data, chunks=2 * blocksize)
    # the intermediate of a layer GDAL's COG driver finishes is stored uncompressed (read once, at once)
    options = _cog_options(out, compress) if overviews else {"compress": "NONE", "predictor": "NO"}
    parts = _parts_folder(tmp, compressed=options["compress"].upper() != "NONE")
    plan = plan_cog(out, grid, blocksize=blocksize, options=options, parts=parts, overviews=overviews)
    return plan, cog_graph(data, plan)


def _parts_folder(tmp: Path, *, compressed: bool) -> Path | None:
    """Where a layer's tile tasks put their tiles: a folder beside the output when a
    ``dask.distributed`` client runs them (its workers may be other processes or machines)
    or when the tiles are not compressed (a whole layer's pixels), else ``None``: the
    compressed tiles come back in the tasks' records (about 1 MB per 100 Mpx land-cover or
    carbon density layer), sparing a file per block and its removal."""
    from .cluster import distributed_client

    if compressed and distributed_client() is None:
        return None
    parts = tmp.with_name(tmp.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    return parts


def _compute(*collections: Any) -> tuple[Any, ...]:
    """``dask.compute``, in strips of block rows on the local schedulers (:mod:`sinks.runtime.strips`),
    so that what a pass holds does not grow with the number of blocks."""
    import dask
    import dask.local
    import dask.threaded
    from dask.base import get_scheduler

    from .runtime.strips import compute_in_strips, supported

    get = get_scheduler() or dask.threaded.get
    if get in (dask.threaded.get, dask.local.get_sync) and supported():
        return compute_in_strips(*collections, get=get)
    return dask.compute(*collections)


def _validate(path: Path, out: RasterOutput) -> None:
    from rio_cogeo.cogeo import cog_validate

    ok, errors, _warn = cog_validate(str(path), quiet=True)
    if not ok:
        raise RuntimeError(f"{out.path}: not a valid COG: {errors}")


def _write_in_memory(outputs: list[RasterOutput], finals: list[Path], grid: Grid, extra: dict[str, Any], *,
                     blocksize: int, compress: str | None, validate: bool) -> tuple[list[Path], dict[str, Any]]:
    """Layers held in memory: write each under a temporary name, then rename them all.

    Dask layers (small enough to hold together) are computed in one pass with ``extra``,
    so the inputs they share are read once, and copied to COGs from GDAL MEM datasets.
    Layers that are not dask (numpy arrays, or arrays computed on access such as
    :class:`~sinks.carbon.stock.LazyLayer`) are written one per worker thread without
    importing dask: those with nearest overviews by the one-pass writer
    (:func:`sinks.cog.encode_array`, the files the streaming path writes), the others
    from MEM datasets.
    """
    if extra or any(_is_dask(o.data) for o in outputs):
        import dask

        computed = dask.compute(*[o.data for o in outputs], *extra.values())
        arrays, values = list(computed[:len(outputs)]), computed[len(outputs):]
        one_pass = [False] * len(outputs)
        workers = 1
    else:
        arrays, values = [o.data for o in outputs], ()
        one_pass = [_cog_options(o, compress)["overview_resampling"] == "NEAREST" for o in outputs]
        workers = min(4, os.cpu_count() or 1, len(outputs))

    def write(data: Any, tmp: Path, out: RasterOutput, direct: bool) -> None:
        if direct:
            from .cog import assemble, encode_array, plan_cog

            plan = plan_cog(out, grid, blocksize=blocksize, options=_cog_options(out, compress), parts=None)
            with writing(out.path):
                assemble(plan, encode_array(data, plan), tmp)
        else:
            import rasterio.shutil

            with writing(out.path), mem_dataset(np.asarray(data), grid, out) as ds:
                rasterio.shutil.copy(ds, tmp, driver="COG", blocksize=blocksize, overviews="AUTO",
                                     bigtiff="IF_SAFER", **_cog_options(out, compress))
        if validate:
            _validate(tmp, out)

    try:
        with staged_files(finals) as temps:
            if workers > 1:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=workers) as ex:
                    list(ex.map(write, arrays, temps, outputs, one_pass))
            else:
                for args in zip(arrays, temps, outputs, one_pass):
                    write(*args)
    finally:
        _remove_parts(finals)
    return finals, dict(zip(extra, values))


def _remove_parts(finals: list[Path]) -> None:
    """Remove the tile folders of COGs that did not complete."""
    for p in finals:
        for d in p.parent.glob(f".{p.name}.part-*.parts"):
            shutil.rmtree(d, ignore_errors=True)


def _is_dask(arr: Any) -> bool:
    return type(arr).__module__.startswith("dask")
