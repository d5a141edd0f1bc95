"""Tiles and acquisitions: finding the files, reading their headers, mapping bands to roles.

A :class:`Tile` is one footprint (one stacked multi-band file, or one file per band, as
STAC items list them); a :class:`Scene` is one acquisition, a date and its tiles.  Tiles
come from file paths and globs (:func:`tiles_from_files`) or from a STAC ItemCollection
or static catalog (:func:`tiles_from_stac`).  :func:`inspect_tile` reads and checks a
file's header once per process (keyed by path, size, times and inode), and the
acquisition's date, sun and radiometric decoding come from the tiles' own metadata
(:mod:`sinks.metadata`) unless the user says otherwise.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import glob
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import rasterio

from .errors import BandMismatchError, ConfigError, CRSMismatchError, TileReadError, first_line
from .grid import Grid
from .runtime.hashcache import stamp
from .metadata import TileMeta, tile_meta
from .remote import gdal_env, gdal_path, is_remote, stamp_key
from .sensors import REFLECTANCE_ROLES, SensorProfile

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
    "scene_date",
    "scene_sun",
    "scene_radiometry",
    "scene_radiometry_kind",
    "first_path",
]


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
        raise TileReadError(f"{p}: not a readable raster ({first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - GDAL raises many types
        raise TileReadError(f"{p}: cannot read raster ({first_line(exc)})") from None
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


def first_path(tiles: Sequence[Tile]) -> str:
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
                f"{first_path(tiles) or 'an acquisition'}: acquisition date unknown and sensor {profile.name!r} decodes differently before and "
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
        raise TileReadError(f"{src}: not a readable STAC JSON ({first_line(exc)})") from None
    try:
        if doc.get("type") == "FeatureCollection":
            items = list(pystac.ItemCollection.from_dict(doc, preserve_dict=False))
        else:
            items = list(pystac.read_file(src).get_items(recursive=True))
    except Exception as exc:  # noqa: BLE001
        raise TileReadError(f"{src}: invalid STAC ({first_line(exc)})") from None
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
