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

import functools
import logging
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError
from ..landcover import CODES, NODATA

__all__ = ["RuleConfig", "load_rules", "classify_block", "kernel_arguments", "BLOCK_ROLES"]

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
    import copy

    return copy.deepcopy(_packaged_rules())


@functools.lru_cache(maxsize=1)
def _packaged_rules() -> dict[str, Any]:
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


def kernel_arguments(cfg: RuleConfig, *, mndwi_t: float, mvi_t: float) -> dict[str, np.ndarray]:
    """The rule thresholds and output codes as the arrays :func:`sinks._kernels.rules.rules_block` takes."""
    names = ("water", "mangrove", "wetland", "bare", "built_up", "forest", "cropland", "grassland")
    return {
        "codes": np.array([CODES[n] for n in names] + [NODATA], dtype=np.uint8),
        "thresholds": np.array([cfg.cloud.max_blue, mndwi_t, mvi_t, cfg.water.max_ndvi, cfg.mangrove.min_ndvi,
                                cfg.mangrove.max_amplitude, cfg.wetland.min_ndvi, cfg.bare.max_ndvi,
                                cfg.built_up.min_ndbi, cfg.built_up.max_ndvi, cfg.forest.min_ndvi,
                                cfg.forest.max_amplitude, cfg.cropland.min_amplitude, cfg.cropland.min_ndvi,
                                cfg.grassland.min_ndvi], dtype=np.float32),
        "frequencies": np.array([cfg.water.min_frequency, cfg.wetland.min_frequency, cfg.wetland.max_frequency],
                                dtype=np.float64),
    }


def classify_block(stack: np.ndarray, *, cfg: RuleConfig, mndwi_t: float, mvi_t: float, grow: int,
                   coastal: np.ndarray | None, roles: tuple[int, int, int, int, int] = (0, 1, 2, 3, 4)) -> np.ndarray:
    """Classify one block.

    Parameters
    ----------
    stack : numpy.ndarray or sequence of numpy.ndarray
        ``(n_acquisitions, bands, rows, cols)`` float32 reflectance (or one
        ``(bands, rows, cols)`` array per acquisition), NaN = nodata.
    cfg : RuleConfig
    mndwi_t, mvi_t : float
        The scene's water (MNDWI) and mangrove (MVI) thresholds.
    grow : int
        Index of the growing-season acquisition.
    coastal : numpy.ndarray of bool, optional
        Where mangrove is allowed (``None``: nowhere).
    roles : tuple of int
        Band positions of :data:`BLOCK_ROLES` (blue, green, red, nir, swir1); by
        default the first five bands in that order.

    Returns
    -------
    numpy.ndarray
        uint8 legend codes, 0 where no acquisition is clear.
    """
    from .._kernels.rules import rules_block

    scenes = tuple(stack)
    return rules_block(scenes, roles=roles, grow=grow, coastal=coastal,
                       **kernel_arguments(cfg, mndwi_t=mndwi_t, mvi_t=mvi_t))
