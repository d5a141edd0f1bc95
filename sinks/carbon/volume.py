"""Forest stock volume (m³) and volume → biomass carbon (domain.md §2).

Stock volume
    China's forest stock volume (森林蓄积) counts arbor-forest stems only.  Without a
    volume raster it is estimated as forest area × growing stock per ha; the default
    94.83 m³/ha is the 9th National Forest Inventory's arbor-forest figure [V].  Other
    presets (:func:`growing_stock`): ``arbor_8th_nfi`` 89.79, ``forest_9th_nfi`` 79.7
    (total forest area, when arbor and shrub forest cannot be separated),
    ``natural_9th_nfi`` 100.5, ``plantation_9th_nfi`` 43.1, ...  The value may also be
    given per region or per forest type.  A user-supplied volume raster (m³/ha or m³
    per pixel) replaces the estimate (:func:`volume_from_raster`).

Volume → carbon (:func:`volume_to_carbon`), chosen with ``method``:

``"ratio"`` (default)
    C = V × 0.523 t C/m³: 9th NFI forest-vegetation carbon / forest stock [D from V].
    It converts stem volume to the carbon of the whole forest vegetation (above- and
    below-ground biomass) at national average proportions.
``"bef"``
    Continuous biomass expansion factor of Fang et al. (2001): per forest type
    BEF = a + b/v, so stand biomass B = a·v + b (t d.m./ha, v in m³/ha) and over an
    area A with volume V: B = a·V + b·A; C = 0.5 × B.  The (a, b) rows
    (``sinks/data/bef_china.csv``) are **[R]** — recalled, not verified against the
    paper's SOM table; a warning is logged when they are used.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from ..area import pixel_area_ha
from ..errors import ConfigError
from ..grid import Grid
from ..landcover import CODES
from .constants import carbon_constants, growing_stock_presets
from .packaged import data_path

__all__ = [
    "GROWING_STOCK_M3_PER_HA",
    "CARBON_PER_M3",
    "GROWTH_M3_PER_HA_YR",
    "BEF_CARBON_FRACTION",
    "DEFAULT_FOREST_TYPE",
    "VolumeResult",
    "growing_stock",
    "growing_stock_presets",
    "bef_parameters",
    "stock_volume",
    "volume_from_raster",
    "volume_to_carbon",
    "volume_carbon_density",
]

log = logging.getLogger("sinks")

# declared in sinks/data/carbon_constants.yaml with their sources (:mod:`sinks.carbon.constants`)
GROWING_STOCK_M3_PER_HA: float = carbon_constants().growing_stock_m3_per_ha
"""Arbor-forest growing stock, 9th NFI (2014–2018), m³/ha [V]: the ``arbor_9th_nfi`` preset."""

CARBON_PER_M3: float = carbon_constants().carbon_per_m3.value
"""Forest-vegetation carbon per m³ of stock, 9th NFI, t C/m³ [D]."""

GROWTH_M3_PER_HA_YR: float = carbon_constants().growth_m3_per_ha_yr.value
"""Gross annual volume increment per ha of arbor forest, 8th NFI, m³/ha/yr [V]: no harvest or
mortality removed, so not a sink rate (the sink uses :mod:`sinks.carbon.growth`)."""

BEF_CARBON_FRACTION: float = carbon_constants().bef_carbon_fraction.value
"""Carbon fraction used with the continuous BEF (Fang et al.)."""

DEFAULT_FOREST_TYPE: str = "mixed_conifer_broadleaf"
"""BEF row used when no forest type is given: at v ≈ 95 m³/ha it gives 95.8 t/ha, the
closest of the rows to the national 91.6 t/ha (= 45.8 Mg C/ha / 0.5)."""


def growing_stock(value: float | str = "arbor_9th_nfi") -> float:
    """Growing stock per ha (m³/ha): a number, or the name of a packaged preset."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = float(value)
    else:
        presets = growing_stock_presets()
        try:
            v = presets[str(value)]["m3_per_ha"]
        except KeyError:
            try:
                v = float(value)
            except ValueError:
                raise ConfigError(f"unknown growing-stock preset {value!r}; known: {', '.join(presets)}") from None
    if not math.isfinite(v) or v < 0:
        raise ConfigError(f"growing stock must be a non-negative number of m³/ha, got {value!r}")
    return v


@lru_cache(maxsize=1)
def _bef_rows() -> dict[str, tuple[float, float, str]]:
    with open(data_path("bef_china.csv"), newline="", encoding="utf-8") as fh:
        return {r["forest_type"]: (float(r["a"]), float(r["b"]), r["source"]) for r in csv.DictReader(fh)}


def bef_parameters(forest_type: str | None = None) -> dict[str, tuple[float, float, str]] | tuple[float, float, str]:
    """Continuous-BEF rows ``(a, b, source)``; all of them, or the one of ``forest_type``."""
    rows = _bef_rows()
    if forest_type is None:
        return dict(rows)
    try:
        return rows[forest_type]
    except KeyError:
        raise ConfigError(f"unknown forest type {forest_type!r} for the BEF method; known: {', '.join(rows)}") from None


_warned_bef = False


def _warn_bef() -> None:
    global _warned_bef
    if not _warned_bef:
        log.warning("continuous-BEF parameters (Fang et al. 2001) are [R]: recalled, not verified against the source")
        _warned_bef = True


@dataclass(frozen=True)
class VolumeResult:
    """Forest stock volume.

    Attributes
    ----------
    volume_m3 : float
    forest_area_ha : float
    by_type : dict
        ``{type: {"area_ha", "m3_per_ha", "volume_m3"}}`` (one entry ``"forest"`` unless
        areas were given per type or region).
    source : str
    """

    volume_m3: float
    forest_area_ha: float
    by_type: dict[str, dict[str, float]] = field(default_factory=dict)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"volume_m3": self.volume_m3, "forest_area_ha": self.forest_area_ha,
                "by_type": {k: dict(v) for k, v in self.by_type.items()}, "source": self.source}


def stock_volume(forest_area_ha: Any, *, m3_per_ha: float | str | Mapping[str, float | str] = GROWING_STOCK_M3_PER_HA,
                 forest_classes: Sequence[str] = ("forest",)) -> VolumeResult:
    """Forest stock volume = forest area × growing stock per ha.

    Parameters
    ----------
    forest_area_ha : float, mapping or ClassAreas
        Forest (arbor) area in ha; or ``{forest_type_or_region: area_ha}``; or the
        :class:`~sinks.carbon.stock.ClassAreas` of a land-cover map, whose
        ``forest_classes`` are summed.
    m3_per_ha : float, str or mapping
        Growing stock: a number, a preset name (:func:`growing_stock`), or a mapping
        ``{forest_type_or_region: m3_per_ha or preset}`` matching the keys of
        ``forest_area_ha`` (a ``"default"`` key covers the rest).
    forest_classes : sequence of str
        Legend classes counted as forest when ``forest_area_ha`` is a ClassAreas.

    Returns
    -------
    VolumeResult
    """
    from .stock import ClassAreas

    if isinstance(forest_area_ha, ClassAreas):
        codes = [CODES[c] for c in forest_classes]
        forest_area_ha = math.fsum(forest_area_ha.area_of(c) for c in codes)
    areas = dict(forest_area_ha) if isinstance(forest_area_ha, Mapping) else {"forest": float(forest_area_ha)}
    by_type: dict[str, dict[str, float]] = {}
    for key, area in areas.items():
        a = float(area)
        if not math.isfinite(a) or a < 0:
            raise ConfigError(f"forest area of {key!r} must be a non-negative number of ha, got {area!r}")
        if isinstance(m3_per_ha, Mapping):
            if key in m3_per_ha:
                g = growing_stock(m3_per_ha[key])
            elif "default" in m3_per_ha:
                g = growing_stock(m3_per_ha["default"])
            else:
                raise ConfigError(f"no growing stock (m3_per_ha) given for {key!r}")
        else:
            g = growing_stock(m3_per_ha)
        by_type[str(key)] = {"area_ha": a, "m3_per_ha": g, "volume_m3": a * g}
    src = (f"forest area x growing stock ({m3_per_ha} m3/ha)" if not isinstance(m3_per_ha, Mapping)
           else "forest area x growing stock per type/region")
    return VolumeResult(volume_m3=math.fsum(v["volume_m3"] for v in by_type.values()),
                        forest_area_ha=math.fsum(v["area_ha"] for v in by_type.values()), by_type=by_type, source=src)


def volume_from_raster(volume: Any, grid: Grid | None = None, *, units: Literal["m3_per_ha", "m3_per_pixel"] = "m3_per_ha",
                       mask: Any = None, nodata: float | None = None) -> float:
    """Total stock volume (m³) of a volume raster.

    Parameters
    ----------
    volume : path or array
        A raster file, or a 2-D numpy/dask array on ``grid``.  NaN and ``nodata`` are
        ignored.
    grid : Grid, optional
        Required for arrays (pixel area); taken from the file otherwise.
    units : {"m3_per_ha", "m3_per_pixel"}
    mask : array of bool, optional
        Only pixels where ``mask`` is true (e.g. ``landcover == forest``).
    nodata : float, optional
    """
    if units not in ("m3_per_ha", "m3_per_pixel"):
        raise ConfigError(f"units must be 'm3_per_ha' or 'm3_per_pixel', got {units!r}")
    if isinstance(volume, (str, os.PathLike)):
        import rasterio

        from ..tiles import inspect_tile

        info = inspect_tile(volume)
        nodata = info.nodata if nodata is None else nodata
        total = []
        with rasterio.open(info.path) as ds:  # block by block: memory stays bounded
            for _, win in ds.block_windows(1):
                m = None if mask is None else np.asarray(mask[win.row_off:win.row_off + win.height,
                                                              win.col_off:win.col_off + win.width])
                total.append(_volume_sum(ds.read(1, window=win), pixel_area_ha(info.grid.subgrid(win)), units, m,
                                         nodata))
        return math.fsum(total)
    if grid is None:
        raise ConfigError("volume_from_raster needs the grid of an array")
    area = pixel_area_ha(grid)
    if type(volume).__module__.startswith("dask"):
        import dask.array as da

        v = volume.astype(np.float64)
        if nodata is not None:
            v = da.where(v == nodata, np.nan, v)
        if mask is not None:
            v = da.where(mask, v, np.nan)
        if units == "m3_per_ha":
            v = v * (area if np.isscalar(area) else da.from_array(np.asarray(area)[:, None], chunks=(v.chunks[0], 1)))
        return float(da.nansum(v).compute())
    return _volume_sum(np.asarray(volume), area, units, mask, nodata)


def _volume_sum(v: np.ndarray, area: Any, units: str, mask: Any, nodata: float | None) -> float:
    v = v.astype(np.float64)
    if nodata is not None:
        v[v == nodata] = np.nan
    if mask is not None:
        v[~np.asarray(mask, dtype=bool)] = np.nan
    if units == "m3_per_ha":
        v = v * (area if np.isscalar(area) else np.asarray(area)[:, None])
    return float(np.nansum(v))


def volume_to_carbon(volume_m3: float, *, method: Literal["ratio", "bef"] = "ratio", area_ha: float | None = None,
                     forest_type: str | None = None, carbon_per_m3: float = CARBON_PER_M3,
                     carbon_fraction: float = BEF_CARBON_FRACTION) -> float:
    """Biomass carbon (Mg C) of a stock volume.

    Parameters
    ----------
    volume_m3 : float
    method : {"ratio", "bef"}
        ``"ratio"``: C = V × ``carbon_per_m3`` (default :data:`CARBON_PER_M3`, the 9th NFI ratio).
        ``"bef"``: C = ``carbon_fraction`` × (a·V + b·A) with the continuous-BEF row
        (a, b) of ``forest_type`` (Fang et al. 2001, [R]); needs ``area_ha``.
    area_ha : float, optional
        Forest area the volume stands on (BEF method).
    forest_type : str, optional
        BEF row (:func:`bef_parameters`); default :data:`DEFAULT_FOREST_TYPE`.
    carbon_per_m3, carbon_fraction : float

    Returns
    -------
    float
        Mg C (above- + below-ground biomass).
    """
    v = float(volume_m3)
    if not math.isfinite(v) or v < 0:
        raise ConfigError(f"volume must be a non-negative number of m³, got {volume_m3!r}")
    if method == "ratio":
        return v * float(carbon_per_m3)
    if method == "bef":
        if area_ha is None:
            raise ConfigError("the BEF method needs the forest area (area_ha) the volume stands on")
        a, b, _src = bef_parameters(forest_type or DEFAULT_FOREST_TYPE)  # type: ignore[misc]
        _warn_bef()
        if v == 0:
            return 0.0
        return float(carbon_fraction) * (a * v + b * float(area_ha))
    raise ConfigError(f"volume-to-carbon method must be 'ratio' or 'bef', got {method!r}")


def volume_carbon_density(volume_m3_per_ha: Any, *, method: Literal["ratio", "bef"] = "ratio",
                          forest_type: str | None = None, carbon_per_m3: float = CARBON_PER_M3,
                          carbon_fraction: float = BEF_CARBON_FRACTION) -> Any:
    """Per-pixel biomass carbon density (Mg C/ha, float32) from a volume raster (m³/ha).

    Works on numpy or dask arrays.  With ``"bef"`` pixels with zero or missing volume
    get 0 (the intercept ``b`` applies to stocked forest only).
    """
    if method == "ratio":
        out = volume_m3_per_ha * float(carbon_per_m3)
    elif method == "bef":
        a, b, _src = bef_parameters(forest_type or DEFAULT_FOREST_TYPE)  # type: ignore[misc]
        _warn_bef()
        v = volume_m3_per_ha
        if type(v).__module__.startswith("dask"):
            import dask.array as da

            out = da.where(v > 0, float(carbon_fraction) * (a * v + b), 0.0)
        else:
            v = np.asarray(v)
            out = np.where(v > 0, float(carbon_fraction) * (a * v + b), 0.0)
    else:
        raise ConfigError(f"volume-to-carbon method must be 'ratio' or 'bef', got {method!r}")
    return out.astype(np.float32)
