"""Rule-based land-cover classification from band roles (any sensor).

Ordered rules after domain.md §5, evaluated per pixel on every clear acquisition of
an epoch (a dry/wet season pair is ideal):

=====  ==========  ===========================================================
order  class       rule (thresholds from ``sinks/data/rules.yaml``)
=====  ==========  ===========================================================
1      water       MNDWI > t_w in ≥ 75 % of clear observations, max NDVI < 0.1
2      mangrove    inside the coastal zone, growing-season NDVI > 0.3, MVI > t_m,
                   NDVI amplitude < 0.3 (evergreen)
3      wetland     MNDWI > t_w in 10–75 % of clear observations, max NDVI > 0.2
4      bare        max NDVI < 0.1 (no observation vegetated)
5      built-up    NDBI > 0, MNDWI < 0 and NDVI < 0.2 in every observation
6      forest      max NDVI > 0.6, NDVI amplitude < 0.3
7      cropland    NDVI amplitude ≥ 0.3 and max NDVI > 0.4
8      grassland   other vegetation (max NDVI ≥ 0.2)
9      bare        anything left
=====  ==========  ===========================================================

``t_w`` (MNDWI) and ``t_m`` (MVI) are scene-specific in the literature (Xu 2006;
Baloloy et al. 2020; Neri et al. 2021): they are set per scene by Otsu's method on a
decimated copy of the scene and clamped to the configured range.  "Growing season"
is the acquisition with the highest median NDVI over the scene sample.

With a single acquisition the multi-date terms degrade gracefully: the water
frequency is 0 or 1 (so no wetland is found from flooding; wetland then needs
the user's own rule set or a model), the amplitude is 0 (so cropland is not
separated from grassland/forest by phenology).  The classifier logs this.

Clouds: an observation whose blue reflectance reaches 0.2 is taken as cloud or haze
and not counted (the brightness screen of cloud detectors such as Fmask, Zhu &
Woodcock 2012, which flag bright, spectrally flat visible reflectance); QA bands
(Sentinel-2 SCL, Landsat QA_PIXEL) are applied before, when the tiles carry them.

Nodata: a pixel with no clear observation (NaN in any band, or cloud, in every
acquisition) is nodata (0): no rule can see the ground there.  An acquisition that
is NaN or cloudy at a pixel is simply not counted there.
"""

from __future__ import annotations

import logging
import warnings
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError
from ..landcover import CODES, NODATA

__all__ = ["RuleConfig", "load_rules", "classify_block", "BLOCK_ROLES"]

log = logging.getLogger("sinks")

#: Band roles the rules use.
BLOCK_ROLES: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1")


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Threshold(_M):
    """A scene-specific threshold: Otsu (clamped to ``[min, max]``) or the default."""

    otsu: bool = True
    default: float
    min: float
    max: float


class CloudScreen(_M):
    max_blue: float = 0.2


class WaterRule(_M):
    mndwi: Threshold = Threshold(default=0.0, min=-0.15, max=0.15)
    min_frequency: float = Field(0.75, ge=0, le=1)
    max_ndvi: float = 0.1


class MangroveRule(_M):
    mvi: Threshold = Threshold(default=4.5, min=3.0, max=12.0)
    min_ndvi: float = 0.3
    max_amplitude: float = 0.3


class WetlandRule(_M):
    min_frequency: float = Field(0.1, ge=0, le=1)
    max_frequency: float = Field(0.75, ge=0, le=1)
    min_ndvi: float = 0.2


class BareRule(_M):
    max_ndvi: float = 0.1


class BuiltRule(_M):
    min_ndbi: float = 0.0
    max_ndvi: float = 0.2


class ForestRule(_M):
    min_ndvi: float = 0.6
    max_amplitude: float = 0.3


class CropRule(_M):
    min_amplitude: float = 0.3
    min_ndvi: float = 0.4


class GrassRule(_M):
    min_ndvi: float = 0.2


class RuleConfig(_M):
    """Thresholds of every rule (see ``sinks/data/rules.yaml`` for their sources)."""

    cloud: CloudScreen = CloudScreen()
    water: WaterRule = WaterRule()
    mangrove: MangroveRule = MangroveRule()
    wetland: WetlandRule = WetlandRule()
    bare: BareRule = BareRule()
    built_up: BuiltRule = BuiltRule()
    forest: ForestRule = ForestRule()
    cropland: CropRule = CropRule()
    grassland: GrassRule = GrassRule()


def _defaults() -> dict[str, Any]:
    import yaml

    path = Path(__file__).resolve().parents[1] / "data" / "rules.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def load_rules(rules: RuleConfig | Mapping[str, Any] | str | os.PathLike | None = None) -> RuleConfig:
    """The packaged rule set, overridden by a user mapping or YAML file (unknown keys are errors)."""
    import yaml

    if isinstance(rules, RuleConfig):
        return rules
    name = "rules"
    over: Mapping[str, Any] = {}
    if isinstance(rules, (str, os.PathLike)):
        name = str(rules)
        p = Path(rules)
        if not p.exists():
            raise ConfigError(f"{name}: rules file not found")
        try:
            over = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{name}: YAML syntax error: {str(exc).splitlines()[0]}") from None
        if not isinstance(over, Mapping):
            raise ConfigError(f"{name}: a rules file must be a mapping")
    elif rules is not None:
        over = rules
    try:
        return RuleConfig.model_validate(_merge(_defaults(), over))
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(f"{name}: {key}: {msg}") from None


def _nd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    den = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(den) > 1e-6, (a - b) / den, np.nan).astype(np.float32)


def classify_block(stack: np.ndarray, *, cfg: RuleConfig, mndwi_t: float, mvi_t: float, grow: int,
                   coastal: np.ndarray | None) -> np.ndarray:
    """Classify one block.

    Parameters
    ----------
    stack : numpy.ndarray
        ``(n_acquisitions, 5, rows, cols)`` float32 reflectance of the roles
        :data:`BLOCK_ROLES` (blue, green, red, nir, swir1), NaN = nodata.
    cfg : RuleConfig
    mndwi_t, mvi_t : float
        The scene's water (MNDWI) and mangrove (MVI) thresholds.
    grow : int
        Index of the growing-season acquisition.
    coastal : numpy.ndarray of bool, optional
        Where mangrove is allowed (``None``: nowhere).

    Returns
    -------
    numpy.ndarray
        uint8 legend codes, 0 where no acquisition is clear.
    """
    b, g, r, n, s1 = (stack[:, i] for i in range(5))
    with np.errstate(invalid="ignore"):
        clear = np.isfinite(stack).all(axis=1) & (b < cfg.cloud.max_blue)   # (t, y, x); bright = cloud
    nclear = clear.sum(axis=0)
    ndvi = _nd(n, r)
    mndwi = _nd(g, s1)
    ndbi = _nd(s1, n)
    ndvi_c = np.where(clear, ndvi, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        vmax = np.nanmax(ndvi_c, axis=0)
        vmin = np.nanmin(ndvi_c, axis=0)
    amp = np.nan_to_num(vmax - vmin)
    wet = (clear & (mndwi > mndwi_t)).sum(axis=0)
    freq = np.where(nclear > 0, wet / np.maximum(nclear, 1), 0.0)
    all_ndbi = np.where(clear, ndbi > cfg.built_up.min_ndbi, True).all(axis=0)
    all_dry = np.where(clear, mndwi < 0, True).all(axis=0)
    all_low = np.where(clear, ndvi < cfg.built_up.max_ndvi, True).all(axis=0)
    gclear = clear[grow]
    g_ndvi = np.where(gclear, ndvi[grow], vmax)
    gn, gg, gs = n[grow], g[grow], s1[grow]
    with np.errstate(divide="ignore", invalid="ignore"):
        mvi = np.where(gclear, np.abs(gn - gg) / np.abs(gs - gg), np.nan)

    out = np.zeros(nclear.shape, dtype=np.uint8)
    todo = nclear > 0

    def take(mask: np.ndarray, code: int) -> None:
        nonlocal todo
        m = todo & mask
        out[m] = code
        todo = todo & ~m

    take((freq >= cfg.water.min_frequency) & (vmax < cfg.water.max_ndvi), CODES["water"])
    if coastal is not None:
        take(coastal & (g_ndvi > cfg.mangrove.min_ndvi) & (mvi > mvi_t) & (amp < cfg.mangrove.max_amplitude),
             CODES["mangrove"])
    take((freq >= cfg.wetland.min_frequency) & (freq < cfg.wetland.max_frequency) & (vmax > cfg.wetland.min_ndvi),
         CODES["wetland"])
    take(vmax < cfg.bare.max_ndvi, CODES["bare"])
    take(all_ndbi & all_dry & all_low, CODES["built_up"])
    take((vmax > cfg.forest.min_ndvi) & (amp < cfg.forest.max_amplitude), CODES["forest"])
    take((amp >= cfg.cropland.min_amplitude) & (vmax > cfg.cropland.min_ndvi), CODES["cropland"])
    take(vmax >= cfg.grassland.min_ndvi, CODES["grassland"])
    take(np.ones_like(todo), CODES["bare"])
    out[nclear == 0] = NODATA
    return out
