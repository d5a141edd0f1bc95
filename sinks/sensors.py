"""Sensor profiles: band names → roles, scale, offset, nodata and QA masks.

A profile says how to turn stored digital numbers into surface reflectance::

    reflectance = DN * scale + offset

and which stored band plays which *role* (``blue``, ``green``, ``red``, ``nir``,
``swir1``, ``swir2``).  Optional QA roles mask clouds: ``scl`` (Sentinel-2 scene
classification, masked classes 0 no-data, 1 saturated, 3 cloud shadow, 8/9 cloud,
10 cirrus) and ``qa_pixel`` (Landsat Collection 2 bit mask: fill, dilated cloud,
cirrus, cloud, cloud shadow).

Sentinel-2 L2A products from processing baseline 04.00 (from 2022-01-25) carry a
radiometric offset of −1000 DN (``BOA_ADD_OFFSET``).  ``sentinel2_l2a`` picks the
offset by acquisition date; ``sentinel2_l2a_pre2022`` / ``sentinel2_l2a_post2022``
fix it.  A tile's own metadata (``BOA_ADD_OFFSET``, band scale/offset, its date
tags) take precedence over the profile's defaults unless the user gave the scale or
offset explicitly (:mod:`sinks.metadata`, :func:`sinks.tiles.scene_radiometry`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from .errors import BandMismatchError, ConfigError

__all__ = [
    "REFLECTANCE_ROLES",
    "QA_ROLES",
    "SensorProfile",
    "PROFILES",
    "get_profile",
    "resolve_profile",
    "parse_bands",
    "profile_from_descriptions",
    "S2_BASELINE_04_DATE",
]

REFLECTANCE_ROLES: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1", "swir2")
QA_ROLES: tuple[str, ...] = ("scl", "qa_pixel")
_ALL_ROLES = REFLECTANCE_ROLES + QA_ROLES
_ALIASES = {"b": "blue", "g": "green", "r": "red", "n": "nir", "s1": "swir1", "s2": "swir2",
            "swir": "swir1", "swir16": "swir1", "swir22": "swir2", "nir08": "nir", "qa": "qa_pixel"}

#: Date of Sentinel-2 processing baseline 04.00 (radiometric offset −1000 DN).
S2_BASELINE_04_DATE = dt.date(2022, 1, 25)

#: Sentinel-2 SCL classes treated as invalid.
S2_SCL_MASKED = (0, 1, 3, 8, 9, 10)
#: Landsat C2 QA_PIXEL bits treated as invalid: fill, dilated cloud, cirrus, cloud, shadow.
LANDSAT_QA_BITS = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class SensorProfile:
    """How to read one sensor's product.

    Attributes
    ----------
    name : str
    band_names : tuple of str
        Stored band names in file order (used to match band descriptions and STAC
        asset keys).  ``"-"`` marks a band to ignore.
    roles : tuple of str
        Role of each stored band, same length as ``band_names`` (``"-"`` = ignore).
    scale, offset : float
        Reflectance = DN × scale + offset.
    nodata : float or None
        Stored nodata value when the file does not declare one.
    date_offsets : tuple of (date, float)
        Offsets that apply from a date on (Sentinel-2 baseline 04.00).
    fixed : bool
        Scale and offset were given explicitly (CLI options, spec): they win over what
        the tiles' own metadata say (:func:`sinks.tiles.scene_radiometry`).
    """

    name: str
    band_names: tuple[str, ...]
    roles: tuple[str, ...]
    scale: float = 1.0
    offset: float = 0.0
    nodata: float | None = None
    date_offsets: tuple[tuple[dt.date, float], ...] = field(default_factory=tuple)
    fixed: bool = False

    @property
    def reflectance_roles(self) -> tuple[str, ...]:
        """Roles of the reflectance bands, in canonical order."""
        return tuple(r for r in REFLECTANCE_ROLES if r in self.roles)

    def offset_for(self, date: dt.date | None) -> float:
        """Reflectance offset for an acquisition date."""
        off = self.offset
        if date is not None:
            for since, value in self.date_offsets:
                if date >= since:
                    off = value
        return off

    def with_scale(self, *, scale: float | None = None, offset: float | None = None) -> "SensorProfile":
        """Copy with a different scale and/or offset (date offsets dropped if offset given)."""
        kw: dict = {}
        if scale is not None:
            kw["scale"] = float(scale)
            kw["fixed"] = True
        if offset is not None:
            kw["offset"] = float(offset)
            kw["date_offsets"] = ()
            kw["fixed"] = True
        return replace(self, **kw)


_S2_NAMES = ("B02", "B03", "B04", "B08", "B11", "B12")
_L89_NAMES = ("SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7")
_L7_NAMES = ("SR_B1", "SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B7")

PROFILES: dict[str, SensorProfile] = {
    "sentinel2_l2a": SensorProfile(
        "sentinel2_l2a", _S2_NAMES, REFLECTANCE_ROLES, 1e-4, 0.0, 0.0,
        ((S2_BASELINE_04_DATE, -0.1),),
    ),
    "sentinel2_l2a_pre2022": SensorProfile("sentinel2_l2a_pre2022", _S2_NAMES, REFLECTANCE_ROLES, 1e-4, 0.0, 0.0),
    "sentinel2_l2a_post2022": SensorProfile("sentinel2_l2a_post2022", _S2_NAMES, REFLECTANCE_ROLES, 1e-4, -0.1, 0.0),
    "landsat89_c2l2": SensorProfile("landsat89_c2l2", _L89_NAMES, REFLECTANCE_ROLES, 2.75e-5, -0.2, 0.0),
    "landsat7_c2l2": SensorProfile("landsat7_c2l2", _L7_NAMES, REFLECTANCE_ROLES, 2.75e-5, -0.2, 0.0),
}
_PROFILE_ALIASES = {
    "s2": "sentinel2_l2a", "sentinel2": "sentinel2_l2a", "sentinel-2": "sentinel2_l2a", "s2_l2a": "sentinel2_l2a",
    "landsat8": "landsat89_c2l2", "landsat9": "landsat89_c2l2", "landsat8_c2l2": "landsat89_c2l2",
    "landsat9_c2l2": "landsat89_c2l2", "landsat7": "landsat7_c2l2",
}


def get_profile(name: str) -> SensorProfile:
    """Return a packaged profile by name (``sentinel2_l2a``, ``landsat89_c2l2`` ...)."""
    key = name.strip().lower().replace("-", "_")
    key = _PROFILE_ALIASES.get(key, key)
    try:
        return PROFILES[key]
    except KeyError:
        raise ConfigError(f"unknown sensor {name!r}; known: {', '.join(PROFILES)} or generic --bands") from None


def parse_bands(bands: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Parse ``"blue,green,red,nir,swir1,swir2"`` (``-`` to ignore a band) into roles."""
    items = [b.strip().lower() for b in (bands.split(",") if isinstance(bands, str) else bands)]
    if not items or all(b in ("", "-") for b in items):
        raise BandMismatchError("--bands: no band roles given")
    roles: list[str] = []
    for item in items:
        if item in ("-", "_", "skip", "ignore"):
            roles.append("-")
            continue
        role = _ALIASES.get(item, item)
        if role not in _ALL_ROLES:
            raise BandMismatchError(
                f"--bands: unknown band role {item!r}; roles are {', '.join(_ALL_ROLES)} or '-'"
            )
        if role in roles:
            raise BandMismatchError(f"--bands: role {role!r} given twice")
        roles.append(role)
    missing = [r for r in ("green", "red", "nir") if r not in roles]
    if missing:
        raise BandMismatchError(f"--bands: the roles {', '.join(missing)} are required")
    return tuple(roles)


def resolve_profile(*, sensor: str | None = None, bands: str | list[str] | None = None,
                    scale: float | None = None, offset: float | None = None) -> SensorProfile:
    """Profile from a sensor name or generic band roles (CLI and spec).

    Parameters
    ----------
    sensor : str, optional
        Packaged profile name, or ``"generic"``.
    bands : str or list of str, optional
        Band roles in file order; makes a generic profile.
    scale, offset : float, optional
        Override (generic default: scale 1, offset 0).
    """
    if bands is not None and sensor not in (None, "generic"):
        raise ConfigError("give either --sensor or --bands, not both")
    if bands is not None:
        roles = parse_bands(bands)
        return SensorProfile("generic", roles, roles, 1.0 if scale is None else float(scale),
                             0.0 if offset is None else float(offset),
                             fixed=scale is not None or offset is not None)
    if sensor in (None, "generic"):
        raise ConfigError("a sensor profile (--sensor NAME) or band roles (--bands ROLE,...) are required")
    return get_profile(sensor).with_scale(scale=scale, offset=offset)


def profile_from_descriptions(descriptions: "list[str | None] | tuple[str | None, ...]") -> SensorProfile | None:
    """The profile a stacked file's band descriptions point to, or ``None``.

    Descriptions that are all band roles (``blue``, ``nir``, ``swir16`` …, ``-`` for
    none) make a generic profile in file order; the band names of a packaged profile
    (``B02`` …, ``SR_B2`` …) select that profile (Sentinel-2 L2A; Landsat 8/9 when an
    ``SR_B6`` band is present, else Landsat 7).
    """
    descs = [str(d).strip() if d else "" for d in descriptions]
    low = [d.lower() for d in descs]
    if descs and all(d in _ALL_ROLES or d in _ALIASES for d in low if d) and sum(bool(d) for d in low) >= 3:
        try:
            return resolve_profile(bands=[d if d else "-" for d in low])
        except (BandMismatchError, ConfigError):
            return None
    upper = {d.upper() for d in descs if d}
    for name in ("sentinel2_l2a", "landsat89_c2l2", "landsat7_c2l2"):
        prof = PROFILES[name]
        if all(n.upper() in upper for n in prof.band_names if n != "-"):
            return prof
    return None
