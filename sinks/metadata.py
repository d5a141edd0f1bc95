"""What a tile's own metadata says about its acquisition: date, radiometric scaling, radiometry.

Readers of Sentinel-2 and Landsat products write these as GDAL dataset tags and band
scale/offset; sinks reads them so that a tile is decoded right without options:

* **date**: ``ACQUISITION_DATE``, ``DATATAKE_1_DATATAKE_SENSING_START`` and
  ``SENSING_TIME`` / ``PRODUCT_START_TIME`` (Sentinel-2 SAFE metadata),
  ``DATE_ACQUIRED`` (Landsat MTL), ``datetime`` (STAC); the first that parses.  A
  year alone (``ACQUISITION_DATE_PRECISION=year``) gives no date.
* **scaling** (reflectance = DN × scale + offset), the first of: the bands' GDAL
  scale/offset when not the identity; ``BOA_ADD_OFFSET`` and ``QUANTIFICATION_VALUE``
  (Sentinel-2 L2A from processing baseline 04.00: reflectance = (DN + BOA_ADD_OFFSET)
  / QUANTIFICATION_VALUE, ESA S2 MSI product specification); ``SCALE`` / ``OFFSET``
  tags.
* **radiometry**: ``RADIOMETRY`` (``DN``, ``TOA``, ``SR``) or ``PROCESSING_LEVEL``
  (``L1C`` → TOA, ``L2A`` → SR);
* **sun position**: ``SUN_ELEVATION``/``SUN_AZIMUTH`` (Landsat MTL) or
  ``MEAN_SUN_ZENITH_ANGLE``/``MEAN_SUN_AZIMUTH_ANGLE`` (Sentinel-2), for terrain shadow.

Explicit options (``--scale``/``--offset``, the spec's ``sensor.scale``/``offset``)
always win over these; see :func:`sinks.tiles.scene_radiometry`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

__all__ = ["TileMeta", "tile_meta", "parse_date", "DATE_KEYS"]

#: Dataset tags holding an acquisition date or time, in the order they are tried.
DATE_KEYS: tuple[str, ...] = ("ACQUISITION_DATE", "DATATAKE_1_DATATAKE_SENSING_START", "SENSING_TIME",
                              "PRODUCT_START_TIME", "DATE_ACQUIRED", "datetime")

_ISO = re.compile(r"^\s*(\d{4})[-:/](\d{2})[-:/](\d{2})")


@dataclass(frozen=True)
class TileMeta:
    """What one file's metadata says.

    Attributes
    ----------
    date : datetime.date or None
    scaling : (float, float) or None
        ``(scale, offset)`` with reflectance = DN × scale + offset, when the file says.
    scaling_source : str
        Which metadata gave ``scaling`` (``"band scale/offset"``, ``"BOA_ADD_OFFSET"``,
        ``"SCALE/OFFSET tags"``) or ``""``.
    radiometry : str or None
        ``"DN"``, ``"TOA"``, ``"SR"`` (upper case as tagged) or ``None`` when unknown.
    sun_elevation, sun_azimuth : float or None
        Degrees (``SUN_ELEVATION``/``SUN_AZIMUTH``, or 90° − ``MEAN_SUN_ZENITH_ANGLE`` and
        ``MEAN_SUN_AZIMUTH_ANGLE``), for terrain shadow (:mod:`sinks.classify.terrain`).
    """

    date: dt.date | None = None
    scaling: tuple[float, float] | None = None
    scaling_source: str = ""
    radiometry: str | None = None
    sun_elevation: float | None = None
    sun_azimuth: float | None = None


def parse_date(value: str | None) -> dt.date | None:
    """A date from ``YYYY-MM-DD``, an ISO date-time or ``YYYY:MM:DD hh:mm:ss``; ``None`` otherwise."""
    if not value:
        return None
    m = _ISO.match(str(value))
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        f = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def tile_meta(tags: Mapping[str, str], *, scales: Sequence[float] = (), offsets: Sequence[float] = (),
              bands: Sequence[int] | None = None) -> TileMeta:
    """Read :class:`TileMeta` from a file's dataset tags and its bands' scale/offset.

    Parameters
    ----------
    tags : mapping
        Dataset tags (default domain).
    scales, offsets : sequence of float
        GDAL scale and offset of every band, in file order.
    bands : sequence of int, optional
        1-based bands whose scaling matters (the reflectance bands); all by default.

    Raises
    ------
    ValueError
        The bands that matter carry different GDAL scales or offsets (one acquisition
        is decoded with one scale and offset).
    """
    date = None
    if str(tags.get("ACQUISITION_DATE_PRECISION", "")).lower() != "year":
        for key in DATE_KEYS:
            date = parse_date(tags.get(key))
            if date is not None:
                break
    idx = [b - 1 for b in bands] if bands is not None else list(range(len(scales)))
    pairs = {(float(scales[i]) if scales[i] is not None else 1.0, float(offsets[i]) if offsets[i] is not None else 0.0)
             for i in idx if i < len(scales) and i < len(offsets)}
    scaling, source = None, ""
    if any(p != (1.0, 0.0) for p in pairs):
        if len(pairs) > 1:
            raise ValueError(f"bands carry different scales/offsets {sorted(pairs)}")
        scaling, source = next(iter(pairs)), "band scale/offset"
    elif _float(tags.get("BOA_ADD_OFFSET")) is not None:
        q = _float(tags.get("QUANTIFICATION_VALUE")) or 10000.0
        scaling, source = (1.0 / q, float(_float(tags.get("BOA_ADD_OFFSET"))) / q), "BOA_ADD_OFFSET"
    elif _float(tags.get("SCALE")) is not None:
        scaling, source = (float(_float(tags.get("SCALE"))), _float(tags.get("OFFSET")) or 0.0), "SCALE/OFFSET tags"
    radiometry = str(tags.get("RADIOMETRY", "")).strip().upper() or None
    if radiometry is None:
        level = str(tags.get("PROCESSING_LEVEL", "")).strip().upper()
        radiometry = {"L1C": "TOA", "LEVEL-1C": "TOA", "L2A": "SR", "LEVEL-2A": "SR"}.get(level)
    elev = _float(tags.get("SUN_ELEVATION"))
    if elev is None and _float(tags.get("MEAN_SUN_ZENITH_ANGLE")) is not None:
        elev = 90.0 - float(_float(tags.get("MEAN_SUN_ZENITH_ANGLE")))
    azim = _float(tags.get("SUN_AZIMUTH"))
    if azim is None:
        azim = _float(tags.get("MEAN_SUN_AZIMUTH_ANGLE"))
    return TileMeta(date, scaling, source, radiometry, elev, azim)
