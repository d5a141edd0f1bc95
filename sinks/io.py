"""Open satellite tiles lazily and mosaic them onto one target grid.

Each dask block of the result is produced by one task that opens the tiles
overlapping it *by path* and reads just the window it needs with rasterio, so the
graph is cheap to ship to distributed workers and no file handle crosses a task
boundary.  Tiles already on the target grid (same CRS, resolution, pixel-aligned)
are read directly; other tiles are warped explicitly through a
:class:`rasterio.vrt.WarpedVRT` onto the target grid (nearest neighbour by default,
so no pixel is shifted or blended with nodata).  Where tiles overlap, the first
tile (in the order given) with a valid pixel wins.

The result is float32 surface reflectance (``DN × scale + offset``) with ``NaN``
wherever a pixel is nodata in any reflectance band or masked by a QA band.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
import glob
import logging
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.windows import Window

from .errors import BandMismatchError, ConfigError, CRSMismatchError, NoOverlapError, TileReadError
from .grid import Grid
from .hashcache import stamp
from .metadata import TileMeta, tile_meta
from .remote import gdal_env, gdal_path, in_env, is_remote, task_options, version_token
from .sensors import LANDSAT_QA_BITS, REFLECTANCE_ROLES, S2_SCL_MASKED, SensorProfile

__all__ = [
    "TileInfo",
    "BandRef",
    "Tile",
    "Scene",
    "inspect_tile",
    "verify_tile",
    "expand_tiles",
    "tiles_from_files",
    "tiles_from_stac",
    "derive_grid",
    "open_scene",
    "open_image",
    "open_epoch",
    "read_categorical",
    "read_categorical_on",
    "block_array",
    "aligned_chunks",
]

log = logging.getLogger("sinks")

#: GDAL block cache of a run (MB): enough for the reads in flight, small enough that the
#: blocks of the layers being read or written cannot grow the process with the raster.
GDAL_CACHE_MB = 128
_CACHE_ENV_SET_HERE = False


def gdal_cache_options() -> dict[str, int]:
    """Cap GDAL's block cache at :data:`GDAL_CACHE_MB` unless the user set ``GDAL_CACHEMAX``.

    Returns the option for ``rasterio.Env`` (empty when the user's value stands), and
    also sets ``GDAL_CACHEMAX`` in the environment: the exactextract and pyogrio wheels
    each carry their own GDAL, which sizes its cache from the environment when it first
    needs it (default 5 % of RAM, 1.2 GB on a 24 GB machine, which a 400 Mpx zonal pass
    fills), and child processes inherit it.  A GDAL that already sized its cache keeps it.
    """
    global _CACHE_ENV_SET_HERE
    if os.environ.get("GDAL_CACHEMAX") and not _CACHE_ENV_SET_HERE:
        return {}
    if not _CACHE_ENV_SET_HERE:
        os.environ["GDAL_CACHEMAX"] = str(GDAL_CACHE_MB)
        _CACHE_ENV_SET_HERE = True
        log.debug("GDAL_CACHEMAX set to %d MB for this process and its children", GDAL_CACHE_MB)
    return {"GDAL_CACHEMAX": GDAL_CACHE_MB * 1024 * 1024}


#: A chunk size in pixels (cut on the tiles' blocks, :func:`aligned_chunks`) or explicit (rows, cols) chunks.
Chunks = "int | tuple[tuple[int, ...], tuple[int, ...]]"


# --------------------------------------------------------------------------------------
# inspecting files
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TileInfo:
    """What a raster file is, read from its header."""

    path: str
    grid: Grid
    count: int
    dtype: str
    nodata: float | None
    descriptions: tuple[str | None, ...]
    blocksize: tuple[int, int]
    size_bytes: int
    tags: tuple[tuple[str, str], ...] = ()
    scales: tuple[float, ...] = ()
    offsets: tuple[float, ...] = ()


_INSPECTED: collections.OrderedDict[tuple[Any, ...], TileInfo] = collections.OrderedDict()
_INSPECTED_MAX = 1024
_INSPECTED_LOCK = threading.Lock()


def inspect_tile(path: str | os.PathLike, *, check_truncation: bool = True) -> TileInfo:
    """Open ``path``'s header and check it can be read.

    With ``check_truncation=False`` only the header is checked (batch jobs defer the
    truncation check to the regions that use the tile, see :func:`verify_tile`).

    A header that passed is remembered for the rest of the process, keyed by path, size,
    modification and change time and inode (the last 1,024 files), so the stages and the regions of a
    batch that read the same land-cover or carbon layer do not reopen it just to learn its
    grid; a rewritten file has a new key and is inspected again.

    Raises
    ------
    TileReadError
        Missing, not a regular file, empty, not a raster, or truncated (its last block
        lies past the end of the file).
    CRSMismatchError
        The raster has no CRS.
    """
    p = str(path)
    if is_remote(p):  # opened, never stat'ed (sinks.remote); a truncated object fails when read
        return _inspect_remote(gdal_path(p))
    try:
        st = os.stat(p)
    except OSError:
        raise TileReadError(f"{p}: file not found") from None
    if not stat.S_ISREG(st.st_mode):  # a folder, a FIFO (opening it would block), a device
        raise TileReadError(f"{p}: not a regular file")
    size = st.st_size
    if size == 0:
        raise TileReadError(f"{p}: file is empty (0 bytes)")
    with _INSPECTED_LOCK:
        for checked in (True, False) if not check_truncation else (True,):
            hit = _INSPECTED.get((p, *stamp(st), checked))
            if hit is not None:
                return hit
    info = _inspect(p, size, check_truncation=check_truncation)
    with _INSPECTED_LOCK:
        _INSPECTED[(p, *stamp(st), check_truncation)] = info
        while len(_INSPECTED) > _INSPECTED_MAX:
            _INSPECTED.popitem(last=False)
    return info


def _inspect_remote(p: str) -> TileInfo:
    """:func:`inspect_tile` of a remote raster (GDAL path ``p``): its header, remembered by path."""
    with _INSPECTED_LOCK:
        hit = _INSPECTED.get((p, "remote"))
    if hit is not None:
        return hit
    with gdal_env():
        info = _inspect(p, 0, check_truncation=False)
    with _INSPECTED_LOCK:
        _INSPECTED[(p, "remote")] = info
    return info


def _inspect(p: str, size: int, *, check_truncation: bool) -> TileInfo:
    try:
        with rasterio.open(p) as ds:
            if ds.crs is None:
                raise CRSMismatchError(f"{p}: raster has no CRS")
            info = TileInfo(
                path=p,
                grid=Grid.from_dataset(ds),
                count=ds.count,
                dtype=ds.dtypes[0],
                nodata=ds.nodata,
                descriptions=tuple(ds.descriptions),
                blocksize=tuple(ds.block_shapes[0]),
                size_bytes=size,
                tags=tuple(sorted((str(k), str(v)) for k, v in ds.tags().items()))[:256],
                scales=tuple(float(v) for v in ds.scales),
                offsets=tuple(float(v) for v in ds.offsets),
            )
            if check_truncation:
                _check_not_truncated(ds, p, size)
    except (TileReadError, CRSMismatchError):
        raise
    except rasterio.errors.RasterioIOError as exc:
        raise TileReadError(f"{p}: not a readable raster ({_first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - GDAL raises many types
        raise TileReadError(f"{p}: cannot read raster ({_first_line(exc)})") from None
    return info


def _check_not_truncated(ds: rasterio.io.DatasetReader, path: str, size: int) -> None:
    """Raise if the last data block of any band lies past the end of the file (TIFF only)."""
    if ds.driver != "GTiff":
        return
    bh, bw = ds.block_shapes[0]
    nx = -(-ds.width // bw)
    ny = -(-ds.height // bh)
    for bidx in range(1, ds.count + 1):
        off = ds.get_tag_item(f"BLOCK_OFFSET_{nx - 1}_{ny - 1}", "TIFF", bidx=bidx)
        nbytes = ds.get_tag_item(f"BLOCK_SIZE_{nx - 1}_{ny - 1}", "TIFF", bidx=bidx)
        if off is None or nbytes is None:
            return
        if int(off) + int(nbytes) > size:
            raise TileReadError(f"{path}: file is truncated (data ends past byte {size})")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# --------------------------------------------------------------------------------------
# tiles and scenes
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BandRef:
    """One stored band: a file and a 1-based band index."""

    path: str
    band: int
    nodata: float | None


@dataclass(frozen=True)
class Tile:
    """One footprint: the files holding its bands (one stacked file, or one file per band)."""

    name: str
    bands: tuple[tuple[str, BandRef], ...]
    grid: Grid
    blocksize: tuple[int, int] = (0, 0)  # internal (rows, cols) block of its files; 0 if unknown
    meta: TileMeta = TileMeta()          # date, scaling and radiometry its files' metadata give

    def band(self, role: str) -> BandRef:
        for r, ref in self.bands:
            if r == role:
                return ref
        raise BandMismatchError(f"{self.name}: no {role!r} band")

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(r for r, _ in self.bands)


@dataclass(frozen=True)
class Scene:
    """One acquisition of an epoch: a date and its tiles."""

    date: dt.date | None
    tiles: tuple[Tile, ...]


def expand_tiles(patterns: Iterable[str], *, base: str | os.PathLike | None = None) -> list[str]:
    """Expand globs (relative to ``base``); a pattern without wildcards must exist."""
    out: list[str] = []
    for pat in patterns:
        full = pat if base is None or os.path.isabs(pat) or is_remote(pat) else os.path.join(str(base), pat)
        if is_remote(full):  # checked by opening it (inspect_tile), never with os.stat
            if any(ch in full for ch in "*?["):
                raise TileReadError(f"{full}: wildcards are not expanded in remote paths; list the tiles or "
                                    "use a STAC source")
            out.append(full)
        elif any(ch in full for ch in "*?["):
            hits = sorted(glob.glob(full))
            if not hits:
                raise TileReadError(f"{full}: no tiles match this pattern")
            out.extend(hits)
        else:
            if not os.path.exists(full):
                raise TileReadError(f"{full}: file not found")
            out.append(full)
    return out


_VERIFIED: set[tuple[Any, ...]] = set()


def verify_tile(tile: "Tile") -> None:
    """Run the full read check (including truncation) on every file of ``tile``.

    A file that passed is remembered (by path, size, times and inode) for the rest
    of the process, so the regions of a batch do not check the same tiles again.
    """
    for path in sorted({ref.path for _r, ref in tile.bands}):
        from .remote import stamp_key

        key = stamp_key(path)
        if key is not None and key in _VERIFIED:
            continue
        inspect_tile(path, check_truncation=True)
        if key is not None:
            _VERIFIED.add(key)


def tiles_from_files(paths: Sequence[str | os.PathLike], profile: SensorProfile, *,
                     strict: bool = True) -> list[Tile]:
    """One :class:`Tile` per stacked multi-band file.

    Bands are matched to roles by the files' band descriptions when they carry the
    profile's band names (``B02`` ...), otherwise by position, in which case the band
    count must equal the profile's.
    """
    tiles = []
    for path in paths:
        info = inspect_tile(path, check_truncation=strict)
        descs = [d.upper() if d else None for d in info.descriptions]
        names = [n.upper() for n in profile.band_names]
        by_name = all(n == "-" or n in descs for n in names) and any(n != "-" for n in names)
        refs: list[tuple[str, BandRef]] = []
        if by_name:
            for name, role in zip(names, profile.roles):
                if role != "-":
                    refs.append((role, BandRef(info.path, descs.index(name) + 1, _nodata(info, profile))))
        else:
            if info.count != len(profile.roles):
                raise BandMismatchError(
                    f"{info.path}: has {info.count} bands but sensor {profile.name!r} expects "
                    f"{len(profile.roles)} ({','.join(profile.roles)})"
                )
            for i, role in enumerate(profile.roles):
                if role != "-":
                    refs.append((role, BandRef(info.path, i + 1, _nodata(info, profile))))
        try:
            meta = tile_meta(dict(info.tags), scales=info.scales, offsets=info.offsets,
                             bands=[ref.band for role, ref in refs if role in REFLECTANCE_ROLES])
        except ValueError as exc:
            raise ConfigError(f"{info.path}: {exc}; give --scale/--offset (or the spec's sensor scale/offset)") \
                from None
        tiles.append(Tile(Path(info.path).name, tuple(refs), info.grid, info.blocksize, meta))
    return tiles


def scene_date(tiles: Sequence[Tile], date: dt.date | None = None) -> dt.date | None:
    """The acquisition date: ``date`` when given, else the one the tiles' metadata agree on."""
    if date is not None:
        return date
    dates = {t.meta.date for t in tiles if t.meta.date is not None}
    return dates.pop() if len(dates) == 1 else None


def _first_path(tiles: Sequence[Tile]) -> str:
    return tiles[0].bands[0][1].path if tiles and tiles[0].bands else ""


def scene_sun(tiles: Sequence[Tile]) -> tuple[float, float] | None:
    """``(elevation, azimuth)`` of the sun at the acquisition, from the first tile that says."""
    for t in tiles:
        if t.meta.sun_elevation is not None and t.meta.sun_azimuth is not None:
            return float(t.meta.sun_elevation), float(t.meta.sun_azimuth)
    return None


def scene_radiometry_kind(tiles: Sequence[Tile], profile: SensorProfile | None = None) -> str:
    """``"DN"``, ``"TOA"``, ``"SR"`` … as the tiles' metadata say (``""`` when they do not or
    disagree); ``"DN-scaled"`` for digital numbers the user gave a scale or offset for."""
    kinds = {t.meta.radiometry for t in tiles if t.meta.radiometry}
    kind = kinds.pop() if len(kinds) == 1 else ""
    return "DN-scaled" if kind == "DN" and profile is not None and profile.fixed else kind


def scene_radiometry(tiles: Sequence[Tile], profile: SensorProfile, date: dt.date | None) -> tuple[float, float]:
    """``(scale, offset)`` decoding one acquisition: reflectance = DN × scale + offset.

    Explicit values (``profile.fixed``: the user's ``--scale``/``--offset`` or the spec's
    sensor scale/offset) win; then the tiles' own metadata (:mod:`sinks.metadata`), which
    must agree across the tiles; then the profile's, with its date rule (Sentinel-2
    baseline 04.00).

    Raises
    ------
    ConfigError
        Tiles of the acquisition disagree, or the profile's offset depends on the date
        and neither the date nor the tiles' metadata is known.
    """
    if not profile.fixed:
        found = {t.meta.scaling for t in tiles if t.meta.scaling is not None}
        if len(found) > 1:
            raise ConfigError(f"tiles {', '.join(t.name for t in tiles[:3])}: their metadata give different "
                              f"scalings {sorted(found)}; give the sensor's scale and offset explicitly")
        if found and len(found) == 1 and all(t.meta.scaling is not None for t in tiles):
            return found.pop()
        if profile.date_offsets and scene_date(tiles, date) is None:
            raise ConfigError(
                f"{_first_path(tiles) or 'an acquisition'}: acquisition date unknown and sensor {profile.name!r} decodes differently before and "
                f"after {profile.date_offsets[0][0]}: pass --date YYYY-MM-DD (spec: the scene's date), or "
                f"--sensor {profile.name}_pre2022 / {profile.name}_post2022, or --offset")
    return float(profile.scale), float(profile.offset_for(scene_date(tiles, date)))


def _nodata(info: TileInfo, profile: SensorProfile) -> float | None:
    return info.nodata if info.nodata is not None else profile.nodata


def tiles_from_stac(source: str | os.PathLike, profile: SensorProfile, *,
                    date: dt.date | None = None) -> list[Tile]:
    """Tiles from a STAC ItemCollection or a static catalog JSON (pystac).

    Assets are mapped to roles by key or ``eo:bands`` name matching the profile's
    band names (``B02``/``SR_B2``...) or by common name (``blue``, ``nir08``...).
    With ``date``, only items acquired on that date are used (if any are).
    """
    import json

    import pystac

    src = str(source)
    if not is_remote(src) and not os.path.exists(src):
        raise TileReadError(f"{src}: STAC file not found")
    try:
        if is_remote(src):
            doc = json.loads(pystac.StacIO.default().read_text(src))
        else:
            with open(src, encoding="utf-8") as fh:
                doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise TileReadError(f"{src}: not a readable STAC JSON ({_first_line(exc)})") from None
    try:
        if doc.get("type") == "FeatureCollection":
            items = list(pystac.ItemCollection.from_dict(doc, preserve_dict=False))
        else:
            items = list(pystac.read_file(src).get_items(recursive=True))
    except Exception as exc:  # noqa: BLE001
        raise TileReadError(f"{src}: invalid STAC ({_first_line(exc)})") from None
    if date is not None:
        same = [it for it in items if it.datetime is not None and it.datetime.date() == date]
        items = same or items
    if not items:
        raise TileReadError(f"{src}: STAC source holds no items")
    common = {"blue": "blue", "green": "green", "red": "red", "nir": "nir", "nir08": "nir",
              "swir16": "swir1", "swir22": "swir2", "swir1": "swir1", "swir2": "swir2", "scl": "scl",
              "qa_pixel": "qa_pixel"}
    by_name = {n.upper(): r for n, r in zip(profile.band_names, profile.roles) if r != "-"}
    tiles = []
    for item in items:
        refs: dict[str, BandRef] = {}
        for key, asset in item.assets.items():
            names = [key] + [b.get("name", "") for b in asset.extra_fields.get("eo:bands", [])]
            names += [b.get("common_name", "") for b in asset.extra_fields.get("eo:bands", [])]
            role = None
            for n in names:
                role = by_name.get(str(n).upper()) or common.get(str(n).lower())
                if role:
                    break
            if role is None or role in refs or role not in profile.roles:
                continue
            href = asset.get_absolute_href() or asset.href
            if href.startswith("file://"):
                href = href[7:]
            info = inspect_tile(href)
            refs[role] = BandRef(info.path, 1, _nodata(info, profile))
        missing = [r for r in profile.reflectance_roles if r not in refs]
        if missing:
            raise BandMismatchError(f"{src}: item {item.id!r} has no asset for {', '.join(missing)}")
        first = refs[profile.reflectance_roles[0]]
        head = inspect_tile(first.path)
        try:
            meta = tile_meta(dict(head.tags), scales=head.scales, offsets=head.offsets, bands=[first.band])
        except ValueError:
            meta = TileMeta()
        if item.datetime is not None:  # the item's STAC datetime is the acquisition's
            meta = dataclasses.replace(meta, date=item.datetime.date())
        tiles.append(Tile(item.id, tuple(refs.items()), head.grid, head.blocksize, meta))
    return tiles


# --------------------------------------------------------------------------------------
# grid
# --------------------------------------------------------------------------------------
def _footprint(tile_grid: Grid, crs: CRS) -> tuple[float, float, float, float]:
    if tile_grid.crs == crs:
        return tile_grid.bounds
    from rasterio.warp import transform_bounds

    return transform_bounds(tile_grid.crs, crs, *tile_grid.bounds, densify_pts=21)


def derive_grid(tiles: Sequence[Tile], *, crs: CRS | str | int | None = None,
                resolution: float | None = None,
                bounds: tuple[float, float, float, float] | None = None,
                aoi_bounds: tuple[float, float, float, float] | None = None) -> Grid:
    """Target grid from explicit settings, filling gaps from the tiles.

    CRS and resolution default to the first tile's.  Bounds default to the union of
    the tiles' footprints, clipped to ``aoi_bounds`` (in the target CRS) when given.
    Edges are snapped to the first tile's pixel lattice so tiles on that lattice
    are read without warping.
    """
    if not tiles:
        raise NoOverlapError("no tiles given")
    ref = tiles[0].grid
    target_crs = ref.crs if crs is None else (crs if isinstance(crs, CRS) else CRS.from_user_input(crs))
    if resolution:
        rx = ry = float(resolution)
    elif ref.crs == target_crs:  # the tiles' own pixel size, square or not
        rx, ry = ref.res
    else:
        raise CRSMismatchError("grid.resolution is required when the grid CRS differs from the tiles' CRS")
    if bounds is None:
        fps = np.array([_footprint(t.grid, target_crs) for t in tiles])
        bounds = (fps[:, 0].min(), fps[:, 1].min(), fps[:, 2].max(), fps[:, 3].max())
        if aoi_bounds is not None:
            bounds = (max(bounds[0], aoi_bounds[0]), max(bounds[1], aoi_bounds[1]),
                      min(bounds[2], aoi_bounds[2]), min(bounds[3], aoi_bounds[3]))
            if bounds[0] >= bounds[2] or bounds[1] >= bounds[3]:
                raise NoOverlapError("the tiles do not overlap the AOI")
    if ref.crs == target_crs and abs(ref.res[0] - rx) < 1e-9 * rx and abs(ref.res[1] - ry) < 1e-9 * ry:
        ox, oy = ref.transform.c, ref.transform.f
    else:
        ox, oy = 0.0, 0.0
    left = ox + np.floor((bounds[0] - ox) / rx + 1e-9) * rx
    right = ox + np.ceil((bounds[2] - ox) / rx - 1e-9) * rx
    top = oy + np.ceil((bounds[3] - oy) / ry - 1e-9) * ry
    bottom = oy + np.floor((bounds[1] - oy) / ry + 1e-9) * ry
    return Grid.from_bounds((left, bottom, right, top), (rx, ry), target_crs, snap=False)


# --------------------------------------------------------------------------------------
# lazy reading
# --------------------------------------------------------------------------------------
def _overlaps(tile: Tile, grid: Grid) -> bool:
    a = _footprint(tile.grid, grid.crs)
    b = grid.bounds
    return a[0] < b[2] and a[2] > b[0] and a[1] < b[3] and a[3] > b[1]


def aligned_chunks(grid: Grid, tiles: Sequence[Tile], size: int, *, minimum: int = 64
                   ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Dask chunks of about ``size`` pixels whose edges fall on the tiles' internal blocks.

    A task that reads a window cutting through a compressed block decodes the whole
    block, and its neighbour decodes it again; tiles that overlap (as Sentinel-2 MGRS
    tiles do) cannot all share one regular chunk lattice.  Along each axis, the part of
    the grid that a tile serves (first tile wins, in the order given) is chunked on that
    tile's block lattice; chunks end where the next tile takes over.  Tiles off the
    grid's pixel lattice (warped) do not constrain the chunks.  Chunks are at most
    ``size`` pixels and, except at the grid's edge, at least ``minimum``.

    Returns
    -------
    (row chunks, column chunks)
    """
    rows: list[tuple[int, int, int]] = []
    cols: list[tuple[int, int, int]] = []
    for t in tiles:
        off = grid.offset_in(t.grid)
        if off is None or min(t.blocksize) <= 0:
            continue
        col0, row0 = off
        rows.append((row0, row0 + t.grid.height, t.blocksize[0]))
        cols.append((col0, col0 + t.grid.width, t.blocksize[1]))
    return _axis_chunks(grid.height, rows, size, minimum), _axis_chunks(grid.width, cols, size, minimum)


def _axis_chunks(n: int, spans: list[tuple[int, int, int]], size: int, minimum: int) -> tuple[int, ...]:
    """Chunk lengths along one axis of ``n`` pixels, cut on the block lattice of the span serving each part."""
    size = max(int(size), 1)
    cuts = [0]
    p = 0
    while p < n:
        span = next((sp for sp in spans if sp[0] <= p < sp[1]), None)
        if span is None:  # no tile here: a plain step, up to where the next tile starts
            cut = min((sp[0] for sp in spans if sp[0] > p), default=n)
            cut = min(cut, p + size)
        else:
            start, end, block = span
            cut = start + block * ((p + size - start) // block)
            if cut <= p:  # blocks larger than the chunk size
                cut = p + size
            cut = min(cut, end)  # the next tile takes over here
        p = min(cut, n)
        cuts.append(p)
    lengths = [b - a for a, b in zip(cuts, cuts[1:])]
    merged: list[int] = []
    for length in lengths:  # fold slivers into the previous chunk (kept at most size + minimum)
        if merged and length < min(minimum, size):
            merged[-1] += length
        else:
            merged.append(length)
    return tuple(merged)


def _read_raw(path: str, indexes: Sequence[int], tile_grid: Grid, grid: Grid, win: Window, resampling: str,
              nodata: float | None) -> tuple[np.ndarray, int, int, np.ndarray | None] | None:
    """Read the part of target window ``win`` that one file covers, as stored (no conversion).

    One open and one read per file: the bands of a pixel-interleaved COG share its
    compressed blocks, which are then decoded once for all bands.

    Returns
    -------
    (data (k, h, w), row, col, mask) or None
        The digital numbers, their position inside ``win`` and, for warped files, the
        warp's validity mask ``(h, w)`` (``None`` for files on the grid's lattice);
        ``None`` when the file does not reach into ``win``.
    """
    from rasterio.enums import Resampling

    try:
        with rasterio.open(path) as ds:
            offset = grid.offset_in(tile_grid)
            if offset is not None:
                col0, row0 = offset
                # window of the target block in tile pixel coordinates, clipped to the tile
                c0 = max(int(win.col_off) - col0, 0)
                r0 = max(int(win.row_off) - row0, 0)
                c1 = min(int(win.col_off + win.width) - col0, tile_grid.width)
                r1 = min(int(win.row_off + win.height) - row0, tile_grid.height)
                if c1 <= c0 or r1 <= r0:
                    return None
                data = ds.read(list(indexes), window=Window(c0, r0, c1 - c0, r1 - r0))
                return data, r0 + row0 - int(win.row_off), c0 + col0 - int(win.col_off), None
            from rasterio.vrt import WarpedVRT

            sub = grid.subgrid(win)
            nod = nodata if nodata is not None else 0
            with WarpedVRT(ds, crs=grid.crs, transform=sub.transform, width=sub.width, height=sub.height,
                           resampling=getattr(Resampling, resampling), src_nodata=nod, nodata=nod) as vrt:
                data = vrt.read(list(indexes))
                mask = (vrt.read_masks(list(indexes)) > 0).all(axis=0)
            return data, 0, 0, mask
    except rasterio.errors.RasterioError as exc:
        raise TileReadError(f"{path}: read failed ({_first_line(exc)})") from None


def _qa_invalid(role: str, values: np.ndarray) -> np.ndarray:
    v = values.astype(np.int64)
    if role == "scl":
        return np.isin(v, S2_SCL_MASKED)
    bits = 0
    for b in LANDSAT_QA_BITS:
        bits |= 1 << b
    return (v & bits) != 0


def _read_tile(tile: Tile, roles: tuple[str, ...], grid: Grid, win: Window,
               resampling: str) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray | None] | None:
    """One tile's digital numbers for ``roles`` inside ``win``: (data, nodata per band, row, col, valid)."""
    by_path: dict[str, list[int]] = {}
    for i, role in enumerate(roles):
        by_path.setdefault(tile.band(role).path, []).append(i)
    parts: list[tuple[list[int], np.ndarray]] = []
    where: tuple[int, int] | None = None
    valid: np.ndarray | None = None
    for path, idx in by_path.items():
        refs = [tile.band(roles[i]) for i in idx]
        got = _read_raw(path, [r.band for r in refs], tile.grid, grid, win, resampling, refs[0].nodata)
        if got is None:
            return None
        data, r, c, mask = got
        where = (r, c)
        parts.append((idx, data))
        if mask is not None:
            valid = mask if valid is None else valid & mask
    assert where is not None
    if len(parts) == 1 and parts[0][0] == list(range(len(roles))):
        data = parts[0][1]
    else:  # one file per band (or several stacks): gather in role order
        first = parts[0][1]
        data = np.empty((len(roles), *first.shape[1:]), dtype=np.result_type(*(p[1].dtype for p in parts)))
        for idx, arr in parts:
            data[idx] = arr
    nodata = np.array([np.nan if tile.band(r).nodata is None else tile.band(r).nodata for r in roles],
                      dtype=np.float64)
    for role in tile.roles:
        if role in ("scl", "qa_pixel"):
            ref = tile.band(role)
            got = _read_raw(ref.path, [ref.band], tile.grid, grid, win, "nearest", ref.nodata)
            if got is None:
                continue
            qa, _r, _c, mask = got
            ok = ~_qa_invalid(role, qa[0])
            if ref.nodata is not None:
                ok &= qa[0] != ref.nodata
            if mask is not None:
                ok &= mask
            valid = ok if valid is None else valid & ok
    return data, nodata, where[0], where[1], valid


def _read_block(tiles: tuple[Tile, ...], roles: tuple[str, ...], grid: Grid, row0: int, col0: int,
                height: int, width: int, scale: float, offset: float, resampling: str) -> np.ndarray:
    """Task body: mosaic one (band, y, x) block of reflectance from the tiles overlapping it.

    Each tile's digital numbers are read as stored and turned into reflectance by one
    compiled pass (:func:`sinks._kernels.mosaic.fill_first_valid`) that also applies
    the first-valid-tile-wins rule.
    """
    from ._kernels.mosaic import blank_unfilled, fill_first_valid

    win = Window(col0, row0, width, height)
    out = np.empty((len(roles), height, width), dtype=np.float32)  # NaN only where no tile fills it
    filled = np.zeros((height, width), dtype=bool)
    todo = height * width
    for tile in tiles:
        got = _read_tile(tile, roles, grid, win, resampling)
        if got is None:
            continue
        data, nodata, r, c, valid = got
        todo -= fill_first_valid(out, filled, data, nodata=nodata, scale=scale, offset=offset, row=r, col=c,
                                 valid=valid, first=todo == height * width)
        if todo == 0:
            break
    if todo:
        blank_unfilled(out, filled)
    return out


def _read_block_dn(tiles: tuple[Tile, ...], roles: tuple[str, ...], grid: Grid, row0: int, col0: int,
                   height: int, width: int, nodata: int, dtype: str, resampling: str) -> np.ndarray:
    """Task body: mosaic one (band, y, x) block of the tiles' digital numbers, as stored.

    The same first-valid-tile-wins rule as :func:`_read_block`; a pixel no tile fills
    holds ``nodata`` in every band.  A block that one tile serves alone is returned as
    GDAL read it, without a copy (a pixel with ``nodata`` in some band then keeps its
    other bands; readers treat ``nodata`` in any band as no observation).
    """
    from ._kernels.mosaic import fill_first_valid_dn

    win = Window(col0, row0, width, height)
    out = filled = None
    todo = height * width
    for tile in tiles:
        got = _read_tile(tile, roles, grid, win, resampling)
        if got is None:
            continue
        if len(tiles) == 1 and got[4] is None and got[0].shape[1:] == (height, width) and got[0].dtype == dtype:
            return got[0]
        if out is None:
            out = np.full((len(roles), height, width), nodata, dtype=dtype)
            filled = np.zeros((height, width), dtype=bool)
        data, _nodata, r, c, valid = got
        todo -= fill_first_valid_dn(out, filled, data, nodata=nodata, row=r, col=c, valid=valid)
        if todo == 0:
            break
    return out if out is not None else np.full((len(roles), height, width), nodata, dtype=dtype)


def open_scene(tiles: Sequence[Tile], *, profile: SensorProfile, grid: Grid, date: dt.date | None = None,
               chunks: "Chunks" = 1024, resampling: str = "nearest", name: str = "scene"):
    """Lazy reflectance of one acquisition on ``grid``.

    Returns
    -------
    xarray.DataArray
        dims ``("band", "y", "x")``, float32, band coordinate = reflectance roles,
        ``x``/``y`` pixel-centre coordinates, CRS attached with rioxarray.
    """
    date = scene_date(tiles, date)
    arr, (scale, off) = _scene_array(tiles, profile=profile, grid=grid, date=date, chunks=chunks,
                                     resampling=resampling, name=name)
    return _wrap(arr, ("band", "y", "x"), grid, name=name, band=list(profile.reflectance_roles),
                 attrs=dict(sensor=profile.name, scale=scale, offset=off, date=str(date) if date else "",
                            radiometry=scene_radiometry_kind(tiles, profile), source=_first_path(tiles),
                            sun=scene_sun(tiles)))


def _scene_array(tiles: Sequence[Tile], *, profile: SensorProfile, grid: Grid, date: dt.date | None,
                 chunks: "Chunks", resampling: str, name: str,
                 dn: tuple[int, str] | None = None) -> tuple[Any, tuple[float, float]]:
    """The dask array ``(band, y, x)`` of one acquisition and the ``(scale, offset)`` that
    decode it (:func:`scene_radiometry`).

    With ``dn = (nodata, dtype)`` the blocks hold the tiles' digital numbers as stored
    (:func:`_read_block_dn`) instead of float32 reflectance.
    """
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    roles = profile.reflectance_roles
    missing = [r for r in ("green", "red", "nir") if r not in roles]
    if missing:
        raise BandMismatchError(f"sensor {profile.name!r} lacks required roles {', '.join(missing)}")
    use = [t for t in tiles if _overlaps(t, grid)]
    if not use:
        raise NoOverlapError(f"{name}: none of its {len(tiles)} tiles overlap the target grid {grid.bounds}")
    scale, off = scene_radiometry(tiles, profile, date)
    ych, xch = aligned_chunks(grid, use, chunks) if isinstance(chunks, (int, np.integer)) else grid.chunks(chunks)
    token = tokenize(tuple(t.name for t in use), [t.bands for t in use], grid.to_dict(), roles,
                     scale, off, chunks, resampling, dn)
    key = f"{'dn' if dn else 'read'}-{name}-{token}"
    env = task_options(ref.path for t in use for _r, ref in t.bands)  # GDAL's network settings, in each task
    dsk = {}
    row = 0
    footprints = [_footprint(t.grid, grid.crs) for t in use]
    for i, h in enumerate(ych):
        col = 0
        for j, w in enumerate(xch):
            sub = grid.subgrid(Window(col, row, w, h)).bounds
            hits = tuple(t for t, fp in zip(use, footprints)
                         if fp[0] < sub[2] and fp[2] > sub[0] and fp[1] < sub[3] and fp[3] > sub[1])
            if dn is None:
                dsk[(key, 0, i, j)] = (in_env, env, _read_block, hits, roles, grid, row, col, h, w, scale, off,
                                       resampling)
            else:
                dsk[(key, 0, i, j)] = (in_env, env, _read_block_dn, hits, roles, grid, row, col, h, w, dn[0], dn[1],
                                       resampling)
            col += w
        row += h
    graph = HighLevelGraph.from_collections(key, dsk, dependencies=[])
    dtype = np.float32 if dn is None else np.dtype(dn[1])
    return da.Array(graph, key, chunks=((len(roles),), ych, xch), dtype=dtype), (scale, off)


def _wrap(data: Any, dims: tuple[str, ...], grid: Grid, *, name: str, attrs: dict[str, Any],
          **coords: Any) -> Any:
    """One DataArray on ``grid`` with pixel-centre ``x``/``y`` and rioxarray's ``spatial_ref``,
    built in a single constructor call (no concat or coordinate merging)."""
    import rioxarray  # noqa: F401 - registers the .rio accessor
    import xarray as xr

    x, y = grid.xy_coords()
    ref = _spatial_ref(grid.crs.to_wkt(), tuple(grid.transform))
    out = xr.DataArray(data, dims=dims, coords={**coords, "y": y, "x": x, "spatial_ref": ref}, name=name,
                       attrs=attrs)
    out.encoding["grid_mapping"] = "spatial_ref"
    return out


@functools.lru_cache(maxsize=64)
def _spatial_ref(crs_wkt: str, transform: tuple[float, ...]) -> Any:
    """rioxarray's ``spatial_ref`` coordinate for a CRS and transform (its CF attributes are costly)."""
    import rioxarray  # noqa: F401
    import xarray as xr
    from affine import Affine

    probe = xr.DataArray(np.zeros((1, 1), np.uint8), dims=("y", "x"))
    probe = probe.rio.write_crs(crs_wkt).rio.write_transform(Affine(*transform[:6]))
    return probe.coords["spatial_ref"]


def open_image(paths: str | os.PathLike | Sequence[str | os.PathLike], *, profile: SensorProfile,
               grid: Grid | None = None, chunks: "Chunks" = 1024, date: dt.date | None = None):
    """Open one image (one or several tiles of one acquisition) lazily.

    Returns
    -------
    (xarray.DataArray, Grid)
        Reflectance with dims ``("band", "y", "x")`` and the grid it is on (the
        tiles' own grid unless ``grid`` is given).

    Raises
    ------
    PixelBudgetError
        The grid has more pixels than :func:`sinks.budget.max_pixels`.
    """
    from .budget import bounded_chunks, check_pixels

    plist = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    tiles = tiles_from_files(plist, profile)
    target = grid or derive_grid(tiles)
    check_pixels(target.width, target.height, what=str(plist[0]))  # before any graph is built
    if isinstance(chunks, int):
        chunks = bounded_chunks(target.width, target.height, chunks)
    return open_scene(tiles, profile=profile, grid=target, date=date, chunks=chunks,
                      name=Path(str(plist[0])).stem), target


def open_epoch(scenes: Sequence[Scene], *, profile: SensorProfile, grid: Grid, chunks: "Chunks" = 1024,
               resampling: str = "nearest", name: str = "epoch"):
    """Lazy reflectance of all acquisitions of one epoch, dims ``("time", "band", "y", "x")``.

    The attributes (sensor, scale, offset, date) are the first acquisition's.
    """
    import dask.array as da

    if isinstance(chunks, (int, np.integer)):  # one chunking for every acquisition, on the tiles' blocks
        chunks = aligned_chunks(grid, [t for sc in scenes for t in sc.tiles], int(chunks))
    arrays, scalings = [], []
    for k, sc in enumerate(scenes):
        arr, scaling = _scene_array(sc.tiles, profile=profile, grid=grid, date=sc.date, chunks=chunks,
                                    resampling=resampling, name=f"{name}-{sc.date or k}")
        arrays.append(arr)
        scalings.append(scaling)
    times = np.array([np.datetime64(sc.date, "ns") if sc.date else np.datetime64("NaT", "ns") for sc in scenes])
    first = scenes[0].date
    attrs = dict(sensor=profile.name, scale=scalings[0][0], offset=scalings[0][1], date=str(first) if first else "",
                 radiometry=scene_radiometry_kind([t for sc in scenes for t in sc.tiles], profile))
    return _wrap(da.stack(arrays, axis=0), ("time", "band", "y", "x"), grid, name=name, attrs=attrs,
                 time=times, band=list(profile.reflectance_roles))


def read_categorical(path: str | os.PathLike, *, chunks: "Chunks" = 1024, grid: Grid | None = None,
                     after: Any = None):
    """Open a single-band integer raster (land cover) lazily as a dask array.

    ``after``: a dask array on the same chunks whose blocks the reads wait for (see
    :func:`block_array`).

    Returns
    -------
    (dask.array.Array, Grid, nodata)
    """
    from dask.base import tokenize

    info = inspect_tile(path)
    if grid is not None and not grid.same_as(info.grid):
        from .errors import GridMismatchError

        raise GridMismatchError(f"{info.path}: grid differs from the expected grid")
    if np.dtype(info.dtype).kind not in "iub":
        raise BandMismatchError(f"{info.path}: land cover must be an integer raster, found {info.dtype}")
    g = info.grid
    key = (f"cat-{Path(info.path).stem}-"
           f"{tokenize(info.path, info.size_bytes, version_token(info.path), chunks, _name(after))}")
    env = task_options([info.path])
    arr = block_array(key, g.chunks(chunks), np.dtype(info.dtype),
                      lambda row, col, h, w: (in_env, env, _read_plain, info.path, row, col, h, w), after=after)
    return arr, g, info.nodata


def block_array(key: str, chunks: tuple[tuple[int, ...], tuple[int, ...]], dtype: Any,
                task: Callable[[int, int, int, int], tuple], *, after: Any = None) -> Any:
    """A 2-D dask array of block tasks: ``task(row, col, height, width)`` gives the task tuple
    (function and arguments) of the block at that window.

    ``after``, a dask array with the same chunks, makes each block task wait for the
    matching block of ``after`` (its value is not used).  A read that feeds a reduction
    together with a computed layer (the truth beside the land cover, the previous
    epoch's land cover beside this one) then runs as soon as that layer's block exists.
    Without it the reads are roots of the graph, which dask's ordering schedules late,
    so the computed blocks wait in memory for them: hundreds of blocks at 400 Mpx.
    """
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    ych, xch = chunks
    if after is not None and tuple(map(tuple, after.chunks)) != (tuple(ych), tuple(xch)):
        raise ValueError(f"{key}: chunks differ from those of the array to read after")
    dsk = {}
    row = 0
    for i, h in enumerate(ych):
        col = 0
        for j, w in enumerate(xch):
            t = task(row, col, h, w)
            dsk[(key, i, j)] = t if after is None else (_after, (after.name, i, j), *t)
            col += w
        row += h
    deps = [] if after is None else [after]
    return da.Array(HighLevelGraph.from_collections(key, dsk, dependencies=deps), key, chunks=(ych, xch),
                    dtype=np.dtype(dtype))


def _name(arr: Any) -> str | None:
    return None if arr is None else arr.name


def _after(_done: Any, func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)``, once the block passed first (ignored) has been computed."""
    return func(*args)


def read_categorical_on(path: str | os.PathLike, grid: Grid, *, chunks: "Chunks" = 1024, after: Any = None):
    """A single-band integer raster's values under ``grid``, lazily (dask array), or ``None``.

    ``grid`` must lie on the file's pixel lattice (same CRS and resolution, whole-pixel
    offset): a sub-grid, or one reaching beyond the file, whose pixels outside the file
    read as 0.  ``None`` when it does not (the values would need resampling).  ``after``:
    see :func:`block_array`.
    """
    from dask.base import tokenize

    info = inspect_tile(path)
    if np.dtype(info.dtype).kind not in "iub":
        raise BandMismatchError(f"{info.path}: expected an integer raster, found {info.dtype}")
    offset = info.grid.offset_in(grid)
    if offset is None:
        return None
    col0, row0 = offset
    blocks = grid.chunks(chunks)
    key = (f"cat-on-{Path(info.path).stem}-"
           f"{tokenize(info.path, info.size_bytes, version_token(info.path), grid.to_dict(), blocks, _name(after))}")
    env = task_options([info.path])
    return block_array(key, blocks, np.dtype(info.dtype),
                       lambda row, col, h, w: (in_env, env, _read_plain, info.path, row0 + row, col0 + col, h, w, True),
                       after=after)


def _read_plain(path: str, row: int, col: int, h: int, w: int, boundless: bool = False) -> np.ndarray:
    try:
        with rasterio.open(path) as ds:
            if not boundless:
                return ds.read(1, window=Window(col, row, w, h))
            # the part inside the file, placed in a block of zeros (rasterio's boundless
            # read would go through a warped VRT even for windows inside the file)
            r0, c0 = max(row, 0), max(col, 0)
            r1, c1 = min(row + h, ds.height), min(col + w, ds.width)
            if r0 == row and c0 == col and r1 == row + h and c1 == col + w:
                return ds.read(1, window=Window(col, row, w, h))
            out = np.zeros((h, w), dtype=ds.dtypes[0])
            if r1 > r0 and c1 > c0:
                out[r0 - row:r1 - row, c0 - col:c1 - col] = ds.read(1, window=Window(c0, r0, c1 - c0, r1 - r0))
            return out
    except rasterio.errors.RasterioError as exc:
        raise TileReadError(f"{path}: read failed ({_first_line(exc)})") from None

