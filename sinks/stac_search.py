"""Scenes from a STAC API search (pystac-client).

A scene of the spec may be a search instead of tiles::

    scenes:
      - stac:
          api: https://earth-search.aws.element84.com/v1
          collections: [sentinel-2-l2a]
          datetime: 2020-06-01/2020-09-30
          query: {"eo:cloud_cover": {"lt": 20}}
          max_items: 50

The search runs over the AOI's bounding box in WGS84 (``aoi.boundary``, else
``grid.bounds`` in ``grid.crs``, else the search's own ``bbox``).  The items found are
grouped by acquisition date; the items of one date are one acquisition, mosaicked as
the tiles of a scene are.  Each item's assets are mapped to the sensor's band roles:

1. by asset key: Earth Search's ``blue``, ``green``, ``red``, ``nir``, ``swir16``,
   ``swir22``, ``scl`` (and Landsat's ``nir08``, ``qa_pixel``), or the sensor's band
   names as Planetary Computer keys them (``B02`` … ``B12``, ``SCL``);
2. else by the ``eo:bands`` (or STAC 1.1 ``bands``) of an asset: the band ``name``
   (``B02``) or ``common_name`` (``blue``).

Assets that are not rasters GDAL reads as COGs (JPEG 2000 copies, thumbnails,
metadata) are never chosen when a GeoTIFF asset serves the role.  One COG per band is
the usual layout: each block task opens each band's file once (see
:func:`sinks.io._read_tile`), and GDAL's ``/vsicurl/`` cache keeps the headers, so a
file's header is fetched once per process, not once per block.

Catalogues that sign their hrefs (Planetary Computer) name a signing function as an
importable dotted name, ``sign: planetary_computer.sign_inplace``; it is imported, never
evaluated, and pystac-client calls it on every item it returns.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import re
from typing import Any, Callable, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import BandMismatchError, ConfigError, TileReadError

__all__ = ["StacSearch", "load_signer", "search_items", "tiles_from_items", "scenes_from_search", "ROLE_KEYS"]

log = logging.getLogger("sinks")

#: Asset keys (lower case) of the common catalogues and the sinks role each holds.
ROLE_KEYS: dict[str, str] = {
    "blue": "blue", "green": "green", "red": "red", "nir": "nir", "nir08": "nir",
    "swir16": "swir1", "swir22": "swir2", "swir1": "swir1", "swir2": "swir2",
    "scl": "scl", "qa_pixel": "qa_pixel",
}
#: ``eo:bands`` common names and the sinks role each holds.
COMMON_NAMES: dict[str, str] = {"blue": "blue", "green": "green", "red": "red", "nir": "nir", "nir08": "nir",
                                "swir16": "swir1", "swir22": "swir2"}
_DOTTED = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")


class StacSearch(BaseModel):
    """A STAC API search standing for one or more acquisitions of an epoch."""

    model_config = ConfigDict(extra="forbid")

    api: str
    collections: list[str] = Field(min_length=1)
    datetime: str | None = None
    query: dict[str, Any] | None = None
    max_items: int = Field(default=100, ge=1, le=10_000)
    bbox: tuple[float, float, float, float] | None = None   # WGS84; default: the AOI's
    sign: str | None = None                                  # dotted name of a signing function
    assets: dict[str, str] | None = None                     # role -> asset key, overriding the mapping

    @field_validator("api")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("api must be an http(s):// URL of a STAC API")
        return v.rstrip("/")

    @field_validator("sign")
    @classmethod
    def _dotted(cls, v: str | None) -> str | None:
        if v is not None and not _DOTTED.match(v):
            raise ValueError("sign must be an importable dotted name such as planetary_computer.sign_inplace")
        return v

    @field_validator("datetime", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v


def load_signer(name: str) -> Callable[[Any], Any]:
    """The function ``module.attr`` names (imported, never evaluated).

    Raises
    ------
    ConfigError
        Not a dotted name, the module does not import, or the attribute is not callable.
    """
    if not _DOTTED.match(name):
        raise ConfigError(f"stac.sign {name!r}: expected an importable dotted name (module.function)")
    module, _, attr = name.rpartition(".")
    try:
        func = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"stac.sign {name!r}: cannot import it ({exc})") from None
    if not callable(func):
        raise ConfigError(f"stac.sign {name!r}: not a function")
    return func


def search_items(search: StacSearch, *, bbox: Sequence[float]) -> list[Any]:
    """The items a search finds over ``bbox`` (WGS84), at most ``max_items``.

    Raises
    ------
    TileReadError
        The API cannot be reached or answers with an error (one line naming it).
    """
    try:
        from pystac_client import Client
        from pystac_client.exceptions import APIError
    except ImportError:
        raise ConfigError(f"{search.api}: STAC API searches need pystac-client (pip install 'sinks[cloud]')") \
            from None
    signer = load_signer(search.sign) if search.sign else None
    try:
        client = Client.open(search.api, modifier=signer)
        found = client.search(collections=search.collections, bbox=list(bbox), datetime=search.datetime,
                              query=search.query, max_items=search.max_items)
        items = list(found.items())
    except (APIError, OSError, ValueError) as exc:
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise TileReadError(f"{search.api}: STAC API search failed ({text})") from None
    except Exception as exc:  # noqa: BLE001 - requests' errors and the like
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise TileReadError(f"{search.api}: STAC API search failed ({type(exc).__name__}: {text})") from None
    log.info("%s: %d item(s) in %s over %s", search.api, len(items), ",".join(search.collections),
             [round(b, 5) for b in bbox])
    return items


def _is_cog_like(asset: Any) -> bool:
    kind = (asset.media_type or "").lower()
    href = asset.href.lower().split("?", 1)[0]
    if kind:
        return "tiff" in kind
    return href.endswith((".tif", ".tiff"))


def _asset_bands(asset: Any) -> list[dict[str, Any]]:
    fields = asset.extra_fields
    return list(fields.get("eo:bands") or fields.get("bands") or [])


def asset_roles(item: Any, profile: Any, *, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """``{role: asset key}`` of one item for ``profile`` (see the module doc for the order)."""
    wanted = [r for r in profile.roles if r != "-"]
    by_name = {n.upper(): r for n, r in zip(profile.band_names, profile.roles) if r != "-"}
    assets = item.assets
    out: dict[str, str] = {}
    for role, key in (overrides or {}).items():
        if key not in assets:
            raise BandMismatchError(f"item {item.id!r}: no asset {key!r} (stac.assets.{role})")
        out[role] = key
    usable = [(k, a) for k, a in assets.items() if _is_cog_like(a)]
    for k, _a in usable:  # 1. by key
        role = ROLE_KEYS.get(k.lower()) or by_name.get(k.upper())
        if role in wanted and role not in out:
            out[role] = k
    for k, a in usable:   # 2. by eo:bands name or common name
        for b in _asset_bands(a):
            name = str(b.get("name", "")).upper()
            common = str(b.get("common_name") or b.get("eo:common_name") or "").lower()
            role = by_name.get(name) or COMMON_NAMES.get(common)
            if role in wanted and role not in out and k not in out.values():
                out[role] = k
    return out


def tiles_from_items(items: Sequence[Any], profile: Any, *, source: str,
                     overrides: dict[str, str] | None = None) -> list[Any]:
    """One :class:`sinks.tiles.Tile` per item, its bands the assets :func:`asset_roles` picks.

    Each band file's header is opened once (remote files through GDAL, never ``os.stat``).

    Raises
    ------
    BandMismatchError
        An item lacks a reflectance band the sensor needs.  Bands on other grids than the
        first reflectance band (20 m beside 10 m) are read onto the run's grid, each through
        its own grid (:func:`sinks.warp.read_onto`).
    """
    import dataclasses

    from .tiles import BandRef, Tile, inspect_tile
    from .metadata import TileMeta, tile_meta
    from .remote import gdal_path

    tiles = []
    for item in items:
        roles = asset_roles(item, profile, overrides=overrides)
        missing = [r for r in profile.reflectance_roles if r not in roles]
        if missing:
            raise BandMismatchError(f"{source}: item {item.id!r} has no asset for {', '.join(missing)} "
                                    f"(assets: {', '.join(item.assets)})")
        infos = {}
        for role, key in roles.items():
            href = item.assets[key].get_absolute_href() or item.assets[key].href
            infos[role] = inspect_tile(gdal_path(href))
        head = infos[profile.reflectance_roles[0]]
        coarser = sorted(roles[r] for r, info in infos.items() if not info.grid.same_as(head.grid))
        if coarser:  # e.g. Sentinel-2's 20 m SWIR and SCL: each file is warped onto the grid as it is read
            log.debug("%s: item %s: %s on other grids than %s", source, item.id, ", ".join(coarser),
                      roles[profile.reflectance_roles[0]])
        refs = tuple((role, BandRef(info.path, 1, info.nodata if info.nodata is not None else profile.nodata))
                     for role, info in infos.items())
        try:
            meta = tile_meta(dict(head.tags), scales=head.scales, offsets=head.offsets, bands=[1])
        except ValueError:
            meta = TileMeta()
        if item.datetime is not None:
            meta = dataclasses.replace(meta, date=item.datetime.date())
        tiles.append(Tile(item.id, refs, head.grid, head.blocksize, meta))
    return tiles


def scenes_from_search(search: StacSearch, profile: Any, *, bbox: Sequence[float], date: dt.date | None = None,
                       where: str = "stac") -> list[Any]:
    """The acquisitions a search finds: one :class:`sinks.tiles.Scene` per date, its tiles the
    items of that date (with ``date``, only that date's items).

    Raises
    ------
    TileReadError
        The search finds no item (one line naming the API, collections and period).
    """
    from .tiles import Scene

    items = search_items(search, bbox=bbox)
    if date is not None:
        items = [it for it in items if it.datetime is not None and it.datetime.date() == date]
    if not items:
        raise TileReadError(f"{where}: the search of {search.api} ({', '.join(search.collections)}, "
                            f"{search.datetime or 'any date'}) found no item over {[round(b, 5) for b in bbox]}")
    by_date: dict[dt.date | None, list[Any]] = {}
    for it in sorted(items, key=lambda i: (i.datetime or dt.datetime.min, i.id)):
        by_date.setdefault(it.datetime.date() if it.datetime else None, []).append(it)
    return [Scene(d, tuple(tiles_from_items(group, profile, source=f"{where} ({search.api})",
                                            overrides=search.assets)))
            for d, group in by_date.items()]
