"""Rule-based land-cover classification from band roles (any sensor, one date or many).

Every clear acquisition of an epoch adds evidence per pixel; the rules then run in
order.  They need blue, green, red, NIR, SWIR1 and SWIR2 surface (or top-of-atmosphere)
reflectance and work with one acquisition or many, in any season: where a rule's
multi-date evidence is missing (one date only), the rule that needs it simply does not
fire and the single-date rules decide.

Screens (an observation that fails one is not counted at that pixel):

* **snow** (tested first, as snow is as bright as cloud in the visible): NDSI (=
  MNDWI) > 0.15, NIR > 0.11 and green > 0.1 (Fmask's snow test); a pixel whose every
  observation is snow is bare (permanent snow and ice);
* **cloud**: blue ≥ 0.2 *and* the haze-optimised test blue − 0.5·red > 0.08 *and* a
  flat visible spectrum (whiteness < 0.7), the spectral tests of Fmask (Zhu & Woodcock
  2012) — so bright sand (red well above blue) is not cloud;
* **shadow**: dark in every band but blue (green to SWIR2 < 0.06) with NIR ≥ green —
  cast or terrain shadow, which would otherwise pass for water or wetland (water has
  NIR < green).

Per pixel: the number of clear observations; how many are wet (MNDWI > t_w) and how
many are open water (wet and NDVI < 0.1); NDVI maximum and minimum (amplitude); the
SWIR1, SWIR2, NBR, NIR and MVI of the greenest observation; whether a bare-soil phase
(NDVI < 0.25 and BSI > 0.05) or a flooded bare phase was seen; whether every
observation looked built-up.

=====  ==========  ===========================================================
order  class       rule (thresholds from ``sinks/data/rules.yaml``)
=====  ==========  ===========================================================
1      water       open water in ≥ 75 % of the clear observations
2      mangrove    inside a coastal zone, MVI of the greenest observation ≥ t_m
                   (never below the published floor 4.5), NDVI > 0.3, amplitude
                   < 0.3 (evergreen)
3      wetland     wet in ≥ 10 % of the clear observations, NDVI max > 0.2, and
                   wet at least twice — or once inside a user wetland layer
4      built-up    every observation: NDBI > 0, MNDWI < 0, grey visible spectrum
                   ((red − blue)/(red + blue) < 0.15); NDVI max < 0.25
5      bare        NDVI max < 0.1
6      cropland    a bare-soil or flooded phase and a green phase (NDVI max ≥ 0.5,
                   amplitude ≥ 0.35)
7      forest      NDVI max ≥ 0.5 and a dark canopy in the greenest observation:
                   at least two of SWIR1 ≤ 0.17, SWIR2 ≤ 0.08, NBR ≥ 0.6
8      cropland    one clear observation only: a vigorous non-forest canopy
                   (NDVI ≥ 0.75 and NIR ≥ 0.35)
9      grassland   other vegetation (NDVI max ≥ 0.2)
10     bare        anything left
=====  ==========  ===========================================================

Deciduous forest (leaf-off NDVI ≈ 0.3, no bare-soil phase) stays forest; sparse forest
counts from NDVI 0.5 when its canopy is dark; flooded paddy is cropland (a flooded
phase then a green one), not wetland, unless it is flooded in two observations; dense
urban land is built-up before the bare rule is tried.

``t_w`` (MNDWI) is scene-specific in the literature (Xu 2006): it is set per scene by
Otsu's method on a decimated copy of the scene and clamped to the configured range —
only when the histogram has a water mode (:func:`sinks.classify.thresholds.is_bimodal`);
otherwise the default 0 applies, as Otsu would cut the land's own MNDWI.
``t_m`` (MVI; Baloloy et al. 2020) is the published floor 4.5 unless the coastal
zone's vegetation has a bimodal MVI histogram whose Otsu split lies above the floor.
Where the coastal zone comes from is :mod:`sinks.classify.coastal`'s business: a user
polygon or coastline, or a zone derived from sea-like water only at mangrove
latitudes.

Nodata: a pixel with no clear observation (NaN in any band, cloud or shadow in every
acquisition) is nodata (0): no rule can see the ground there.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError, first_line
from ..landcover import CODES, NODATA

__all__ = ["RuleConfig", "load_rules", "classify_block", "kernel_arguments", "BLOCK_ROLES"]

log = logging.getLogger("sinks")

#: Band roles the rules use.
BLOCK_ROLES: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1", "swir2")


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Threshold(_M):
    """A scene-specific threshold: Otsu (clamped to ``[min, max]``) or the default."""

    otsu: bool
    default: float
    min: float
    max: float


class CloudScreen(_M):
    max_blue: float
    hot_offset: float
    max_whiteness: float


class SnowScreen(_M):
    min_ndsi: float
    min_nir: float
    min_green: float


class ShadowScreen(_M):
    max_reflectance: float
    min_illumination: float = Field(ge=-1, le=1)


class WaterRule(_M):
    mndwi: Threshold
    min_frequency: float = Field(ge=0, le=1)
    max_ndvi: float


class CoastalZone(_M):
    max_latitude_north: float = Field(ge=-90, le=90)
    max_latitude_south: float = Field(ge=0, le=90)
    min_sea_fraction: float = Field(ge=0, le=1)


class MangroveRule(_M):
    mvi: Threshold
    min_ndvi: float
    max_amplitude: float


class WetlandRule(_M):
    min_frequency: float = Field(ge=0, le=1)
    min_wet_observations: int = Field(ge=1)
    min_wet_observations_in_layer: int = Field(ge=1)
    min_ndvi: float


class BareRule(_M):
    max_ndvi: float


class BuiltRule(_M):
    min_ndbi: float
    max_ndvi: float
    max_red_blue: float


class ForestRule(_M):
    min_ndvi: float
    max_swir1: float
    max_swir2: float
    min_nbr: float
    min_votes: int = Field(ge=1, le=3)


class SoilPhase(_M):
    max_ndvi: float
    min_bsi: float


class CropRule(_M):
    min_ndvi: float
    min_amplitude: float
    soil: SoilPhase
    vigour_min_ndvi: float
    vigour_min_nir: float


class GrassRule(_M):
    min_ndvi: float


class RuleConfig(_M):
    """Thresholds of every rule.

    The values and their sources are declared once, in ``sinks/data/rules.yaml``: the
    models hold no numbers of their own, so a rule set is the packaged file merged with a
    user's overrides (:func:`load_rules`); every key is required.
    """

    cloud: CloudScreen
    snow: SnowScreen
    shadow: ShadowScreen
    water: WaterRule
    coastal: CoastalZone
    mangrove: MangroveRule
    wetland: WetlandRule
    bare: BareRule
    built_up: BuiltRule
    forest: ForestRule
    cropland: CropRule
    grassland: GrassRule


def _defaults() -> dict[str, Any]:
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
            raise ConfigError(f"{name}: YAML syntax error: {first_line(exc)}") from None
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
    from .._kernels.rules import COUNT_NAMES, RULE_ORDER, THRESHOLD_NAMES

    c = cfg
    values = {
        "cloud_max_blue": c.cloud.max_blue, "cloud_hot_offset": c.cloud.hot_offset,
        "cloud_max_whiteness": c.cloud.max_whiteness,
        "snow_min_ndsi": c.snow.min_ndsi, "snow_min_nir": c.snow.min_nir, "snow_min_green": c.snow.min_green,
        "shadow_max_reflectance": c.shadow.max_reflectance,
        "water_mndwi": mndwi_t, "water_max_ndvi": c.water.max_ndvi,
        "mangrove_mvi": mvi_t, "mangrove_min_ndvi": c.mangrove.min_ndvi,
        "mangrove_max_amplitude": c.mangrove.max_amplitude,
        "wetland_min_ndvi": c.wetland.min_ndvi,
        "built_min_ndbi": c.built_up.min_ndbi, "built_max_ndvi": c.built_up.max_ndvi,
        "built_max_red_blue": c.built_up.max_red_blue,
        "bare_max_ndvi": c.bare.max_ndvi,
        "soil_max_ndvi": c.cropland.soil.max_ndvi, "soil_min_bsi": c.cropland.soil.min_bsi,
        "crop_min_ndvi": c.cropland.min_ndvi, "crop_min_amplitude": c.cropland.min_amplitude,
        "crop_vigour_min_ndvi": c.cropland.vigour_min_ndvi, "crop_vigour_min_nir": c.cropland.vigour_min_nir,
        "forest_min_ndvi": c.forest.min_ndvi, "forest_max_swir1": c.forest.max_swir1,
        "forest_max_swir2": c.forest.max_swir2, "forest_min_nbr": c.forest.min_nbr,
        "grass_min_ndvi": c.grassland.min_ndvi,
    }
    counts = {"water_min_frequency": c.water.min_frequency, "wetland_min_frequency": c.wetland.min_frequency,
              "wetland_min_wet": c.wetland.min_wet_observations,
              "wetland_min_wet_in_layer": c.wetland.min_wet_observations_in_layer,
              "forest_min_votes": c.forest.min_votes}
    order = RULE_ORDER[:8]
    return {
        "codes": np.array([CODES[n] for n in order] + [NODATA], dtype=np.uint8),
        "thresholds": np.array([values[k] for k in THRESHOLD_NAMES], dtype=np.float32),
        "counts": np.array([counts[k] for k in COUNT_NAMES], dtype=np.float64),
    }


def classify_block(stack: np.ndarray, *, cfg: RuleConfig, mndwi_t: float, mvi_t: float,
                   coastal: np.ndarray | None, wetland: np.ndarray | None = None,
                   shaded: np.ndarray | None = None, roles: tuple[int, ...] = (0, 1, 2, 3, 4, 5)) -> np.ndarray:
    """Classify one block.

    Parameters
    ----------
    stack : numpy.ndarray or sequence of numpy.ndarray
        ``(n_acquisitions, bands, rows, cols)`` float32 reflectance (or one
        ``(bands, rows, cols)`` array per acquisition), NaN = nodata.
    cfg : RuleConfig
    mndwi_t, mvi_t : float
        The scene's water (MNDWI) and mangrove (MVI) thresholds.
    coastal : numpy.ndarray of bool, optional
        Where mangrove is allowed (``None``: nowhere).
    wetland : numpy.ndarray of bool, optional
        A wetland layer (one flooded observation is enough inside it).
    shaded : numpy.ndarray of bool, optional
        ``(n_acquisitions, rows, cols)``: pixels in terrain shadow at each acquisition.
    roles : tuple of int
        Band positions of :data:`BLOCK_ROLES` (blue, green, red, nir, swir1, swir2);
        by default the first six bands in that order.

    Returns
    -------
    numpy.ndarray
        uint8 legend codes, 0 where no acquisition is clear.
    """
    from .._kernels.rules import rules_block

    scenes = tuple(stack)
    return rules_block(scenes, roles=roles, coastal=coastal, wetland=wetland,
                       shaded=None if shaded is None else list(shaded),
                       **kernel_arguments(cfg, mndwi_t=mndwi_t, mvi_t=mvi_t))
