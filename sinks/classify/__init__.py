"""Land-cover classification: rules (default) or a supervised model, then the minimum mapping unit.

==================  ===============================================================
module              job
==================  ===============================================================
``rules``           ordered, sourced rules on band roles (any sensor); rule config
``thresholds``      Otsu's method for scene-specific thresholds (MNDWI, MVI)
``coastal``         the coastal zone where mangroves may occur (polygon or derived)
``sample``          decimated scene samples read through COG overviews
``mmu``             minimum mapping unit (area per class, 8-connected)
``supervised``      train / predict with scikit-learn; models saved with skops
==================  ===============================================================

:func:`classify` is the entry point of the pipeline and of ``sinks classify``: it
returns a lazy uint8 land-cover array whose graph depends only on the reflectance
blocks (and small in-memory arrays), so it is computed in the same pass that writes
the indices.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import BandMismatchError, ConfigError, SinksWarning
from ..grid import Grid

__all__ = ["ClassificationResult", "RuleSetup", "classify", "rule_setup"]

log = logging.getLogger("sinks")


@dataclass
class ClassificationResult:
    """A lazy land-cover map and how it was made.

    Attributes
    ----------
    landcover : dask.array.Array
        uint8 legend codes ``(y, x)``, 0 = nodata.
    method : str
        ``"rules"`` or ``"model"``.
    thresholds : dict
        Scene thresholds used (JSON-ready).
    coastal_source : str
        ``"polygon"``, ``"derived"`` or ``"none"``.
    notes : list of str
    """

    landcover: Any
    method: str
    thresholds: dict[str, Any] = field(default_factory=dict)
    coastal_source: str = "none"
    notes: list[str] = field(default_factory=list)


def _roles(scene: Any) -> list[str]:
    return [str(b) for b in scene.band.values]


def _check_scaled(samples: Sequence[np.ndarray], idx: Mapping[str, int]) -> None:
    """Refuse digital numbers passed as reflectance: the thresholds would see every pixel as cloud."""
    vals = np.concatenate([s[[idx["green"], idx["red"], idx["nir"]]].ravel() for s in samples])
    vals = vals[np.isfinite(vals)]
    if vals.size and float(np.median(vals)) > 1.5:
        raise ConfigError(f"reflectance values look like digital numbers (median {float(np.median(vals)):.4g}, "
                          "expected 0..1): give the scale (--scale, or the spec's sensor scale), e.g. 0.0001 "
                          "for Sentinel-2 L2A")


def _radiometry_notes(scenes: Sequence[Any]) -> list[str]:
    """Refuse uncalibrated digital numbers for the rules; say when the input is not surface reflectance.

    Raises
    ------
    ConfigError
        An acquisition is tagged ``RADIOMETRY=DN`` and no scale or offset was given.
    """
    kinds = {str(getattr(sc, "attrs", {}).get("radiometry", "")) for sc in scenes}
    attrs = getattr(scenes[0], "attrs", {})
    name = str(attrs.get("source") or getattr(scenes[0], "name", "") or "the image")
    if "DN" in kinds:
        raise ConfigError(f"{name}: tagged RADIOMETRY=DN (uncalibrated digital numbers): the rules need reflectance; "
                          "train a model on it (sinks train) or give --scale/--offset that turn it into reflectance")
    notes = []
    if "DN-scaled" in kinds:
        msg = (f"{name}: tagged RADIOMETRY=DN; the rules read DN x scale + offset as reflectance, as the "
               "given scale/offset say")
        warnings.warn(msg, SinksWarning, stacklevel=3)
        notes.append(msg)
    if "TOA" in kinds:
        notes.append("top-of-atmosphere reflectance: the rules are set for surface reflectance; their "
                     "SWIR-based forest and water tests change little, haze raises blue and green")
    return notes


def _terrain_shadow(scenes: Sequence[Any], *, dem: Any, sun: Sequence[Any] | None, grid: Grid, cfg: Any,
                    chunks: Any) -> list[Any]:
    """Per acquisition, the lazy mask of slopes the sun barely lights (empty without a DEM)."""
    from .terrain import shaded_mask

    if dem is None:
        return []
    if sun is not None and len(sun) != len(scenes):
        raise ConfigError(f"the sun's position is given for {len(sun)} acquisition(s), there are {len(scenes)}")
    masks = []
    for k, sc in enumerate(scenes):
        angles = sun[k] if sun is not None else getattr(sc, "attrs", {}).get("sun")
        if not angles:
            src = getattr(sc, "attrs", {}).get("source") or f"acquisition {k}"
            raise ConfigError(f"{src}: a DEM is given but the sun's position at this acquisition is unknown "
                              "(no SUN_ELEVATION/SUN_AZIMUTH tags): pass --sun ELEVATION,AZIMUTH "
                              "(spec: the scene's sun)")
        masks.append(shaded_mask(dem, grid, sun_elevation=float(angles[0]), sun_azimuth=float(angles[1]),
                                 min_illumination=cfg.shadow.min_illumination, chunks=chunks))
    return masks


@dataclass
class RuleSetup:
    """What the rules take from a scene sample, computed once per epoch.

    Batch regions of one scene share it, so every region is classified with the
    scene's thresholds (and costs no Otsu of its own).

    Attributes
    ----------
    cfg : RuleConfig
    roles : tuple of str
        Band roles of the acquisitions, in band order.
    grow : int
        Index of the growing-season acquisition (highest median NDVI), whose sample
        sets the mangrove threshold.
    thresholds : dict
        ``mndwi_water``, ``mvi_mangrove`` (and how each was set), JSON-ready.
    coastal_source : str
        ``"polygon"``, ``"derived"`` or ``"none"``.
    coastal_zone : object
        The coastal polygon (``"polygon"``), or the coarse boolean zone on
        ``sample_grid`` (``"derived"``), or ``None``.
    sample_grid : Grid
    notes : list of str
    wetland_zone : object
        A user wetland layer (geometry or GeoDataFrame), or ``None``.
    coastal_buffer_m : float
        Buffer of a user coastline (lines).
    """

    cfg: Any
    roles: tuple[str, ...]
    grow: int
    thresholds: dict[str, Any]
    coastal_source: str
    coastal_zone: Any
    sample_grid: Grid
    notes: list[str] = field(default_factory=list)
    wetland_zone: Any = None
    coastal_buffer_m: float = 2000.0


def _mangrove_threshold(mvi: np.ndarray, cfg: Any) -> tuple[float, str]:
    """The published MVI floor, raised to the Otsu split of a bimodal histogram only."""
    from .thresholds import is_bimodal, otsu

    floor, hi = max(cfg.mangrove.mvi.default, cfg.mangrove.mvi.min), cfg.mangrove.mvi.max
    v = mvi[np.isfinite(mvi)]
    if not cfg.mangrove.mvi.otsu or v.size < 200:
        return float(floor), "floor"
    lo_q, hi_q = np.percentile(v, [0.5, 99.5])
    t = otsu(v, value_range=(float(lo_q), float(hi_q)))
    if t is None or t <= floor or not is_bimodal(v, t):
        return float(floor), "floor"
    return float(min(t, hi)), "otsu" if t <= hi else "otsu-clamped"


def rule_setup(samples: Sequence[np.ndarray], sample_grid: Grid, *, roles: Sequence[str], rules: Any = None,
               coastal: Any = None, coastal_buffer_m: float = 2000.0, wetland: Any = None) -> RuleSetup:
    """Thresholds, growing season and coastal zone of one epoch from its decimated samples.

    Parameters
    ----------
    samples : sequence of numpy.ndarray
        One decimated ``(band, h, w)`` reflectance sample per acquisition, bands in
        ``roles`` order, on ``sample_grid``.
    sample_grid : Grid
    roles : sequence of str
    rules : RuleConfig, mapping or path, optional
    coastal : GeoDataFrame, geometry or ``"none"``, optional
        Coastal zone (polygons) or coastline (lines, buffered by ``coastal_buffer_m``)
        in the grid CRS; derived from sea-like water when not given; ``"none"``: no
        mangrove class at all.
    coastal_buffer_m : float
    wetland : GeoDataFrame or geometry, optional
        A wetland layer in the grid CRS (one flooded observation is enough inside it).

    Returns
    -------
    RuleSetup
    """
    from .coastal import coarse_polygon_mask, derive_coarse_zone, water_mask
    from .rules import BLOCK_ROLES, load_rules
    from .thresholds import is_bimodal, scene_threshold

    cfg = load_rules(rules)
    roles = tuple(roles)
    idx = {r: roles.index(r) for r in BLOCK_ROLES}
    g, r, n, s1 = idx["green"], idx["red"], idx["nir"], idx["swir1"]
    notes: list[str] = []

    def nd(s: np.ndarray, a: int, b: int) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (s[a] - s[b]) / (s[a] + s[b])

    _check_scaled(samples, idx)
    med = [float(np.nanmedian(nd(s, n, r))) if np.isfinite(nd(s, n, r)).any() else -1.0 for s in samples]
    grow = int(np.argmax(med))
    mndwi_all = np.concatenate([nd(s, g, s1).ravel() for s in samples])
    t_w, how_w = scene_threshold(mndwi_all, use_otsu=cfg.water.mndwi.otsu, default=cfg.water.mndwi.default,
                                 lo=cfg.water.mndwi.min, hi=cfg.water.mndwi.max, name="MNDWI (water)")
    if how_w != "default" and not is_bimodal(mndwi_all, t_w):
        # Otsu splits any histogram: without a water mode it would cut the land's own MNDWI
        t_w, how_w = float(cfg.water.mndwi.default), "default (no water mode in the histogram)"
    zone: Any
    if isinstance(coastal, str) and coastal.strip().lower() == "none":
        coarse = np.zeros(sample_grid.shape, bool)
        source, zone = "none", None
        notes.append("coastal zone switched off: no mangrove class")
    elif coastal is not None:
        coarse = coarse_polygon_mask(coastal, sample_grid, buffer_m=coastal_buffer_m)
        source, zone = "polygon", coastal
    else:
        water = water_mask(samples, green=g, red=r, nir=n, swir1=s1, mndwi_t=t_w,
                           min_frequency=cfg.water.min_frequency, max_ndvi=cfg.water.max_ndvi)
        coarse, why = derive_coarse_zone(water, sample_grid, buffer_m=coastal_buffer_m,
                                         min_sea_fraction=cfg.coastal.min_sea_fraction,
                                         max_latitude_north=cfg.coastal.max_latitude_north,
                                         max_latitude_south=cfg.coastal.max_latitude_south)
        source, zone = ("derived", coarse) if coarse.any() else ("none", None)
        if why:
            notes.append(why)
    sg = samples[grow]
    with np.errstate(divide="ignore", invalid="ignore"):
        mvi_s = np.abs(sg[n] - sg[g]) / np.abs(sg[s1] - sg[g])
    veg = coarse[: sg.shape[1], : sg.shape[2]] & (nd(sg, n, r) > cfg.mangrove.min_ndvi)
    t_m, how_m = _mangrove_threshold(np.clip(mvi_s[veg], 0, 50), cfg)
    if len(samples) == 1:
        notes.append("single acquisition: no water-frequency (wetland) or bare-soil-phase (cropland) evidence; "
                     "cropland only where a vigorous non-forest canopy is seen; add a second season for more")
    thresholds = {"mndwi_water": t_w, "mndwi_water_method": how_w, "mvi_mangrove": t_m,
                  "mvi_mangrove_method": how_m, "growing_season_acquisition": grow}
    return RuleSetup(cfg, roles, grow, thresholds, source, zone, sample_grid, notes, wetland, coastal_buffer_m)


def classify(scenes: Sequence[Any], *, grid: Grid, rules: Any = None, model: Any = None,
             samples: Sequence[np.ndarray] | None = None, sample_grid: Grid | None = None,
             coastal: Any = None, coastal_buffer_m: float = 2000.0, wetland: Any = None,
             dem: str | os.PathLike | None = None, sun: Sequence[tuple[float, float] | None] | None = None,
             mmu_ha: Mapping[str, float] | None = None, chunks: Any = None,
             setup: RuleSetup | None = None) -> ClassificationResult:
    """Classify the acquisitions of one epoch.

    Parameters
    ----------
    scenes : sequence of xarray.DataArray
        One per acquisition: ``(band, y, x)`` float32 reflectance, NaN nodata, ``band``
        coordinate = roles (as :func:`sinks.io.open_scene` returns); or the tiles'
        digital numbers (:func:`sinks.digital.open_scene_dn`), which the rule kernel
        decodes as it reads them (same result, no float32 block in between).
    grid : Grid
    rules : RuleConfig, mapping or path, optional
        Overrides of the packaged rule set.
    model : SinksModel or path, optional
        Use this supervised model instead of the rules.
    samples : sequence of numpy.ndarray, optional
        Decimated ``(band, h, w)`` samples of each acquisition (band order = the
        scenes' roles) on ``sample_grid``, for Otsu thresholds and the derived coastal
        zone; by default taken by striding the scenes (one extra read).
    sample_grid : Grid, optional
    coastal : GeoDataFrame, geometry or ``"none"``, optional
        Coastal zone or coastline in the grid CRS; derived from sea-like water when not
        given (:mod:`sinks.classify.coastal`); ``"none"`` switches mangroves off.
    coastal_buffer_m : float
    wetland : GeoDataFrame or geometry, optional
        A wetland layer in the grid CRS: inside it one flooded observation is evidence
        of wetland (outside it two are needed).
    dem : path, optional
        A DEM (m): slopes the sun barely lights at an acquisition are not counted as
        observations there (:mod:`sinks.classify.terrain`).
    sun : sequence of (elevation, azimuth), optional
        The sun's position (degrees) at each acquisition, for ``dem``; by default read
        from the tiles' metadata.
    mmu_ha : mapping, optional
        Minimum mapping unit per class (``{"forest": 0.0667}``).
    chunks : int or (row chunks, column chunks), optional
        Chunks of the masks (default: the scenes' chunks).
    setup : RuleSetup, optional
        Thresholds and coastal zone already computed (:func:`rule_setup`), e.g. from the
        whole scene for one of its regions; ``rules``, ``samples``, ``coastal`` are then
        not used.

    Returns
    -------
    ClassificationResult
    """
    import dask.array as da

    from ..digital import DN_NODATA, dn_reflectance, is_dn
    from .mmu import sieve_mmu

    if not scenes:
        raise BandMismatchError("classification needs at least one acquisition")
    dn = [is_dn(sc) for sc in scenes]
    if any(dn) and (model is not None or not all(dn)
                    or len({(sc.attrs[DN_NODATA], str(sc.dtype)) for sc in scenes}) > 1):
        scenes = [dn_reflectance(sc) for sc in scenes]  # only the rule kernel decodes digital numbers
        dn = [False] * len(scenes)
    decode = ([float(sc.attrs["scale"]) for sc in scenes], [float(sc.attrs["offset"]) for sc in scenes],
              int(scenes[0].attrs[DN_NODATA])) if all(dn) else None
    if chunks is None:  # the masks follow the scenes' (possibly irregular) chunks
        data = scenes[0].data
        chunks = tuple(data.chunks[-2:]) if hasattr(data, "chunks") else 1024
    if model is not None:
        from .supervised import load_model, predict

        m = load_model(model) if isinstance(model, (str, os.PathLike)) else model
        lc = predict(m, scenes, grid=grid)
        return ClassificationResult(sieve_mmu(lc, grid, mmu_ha), "model",
                                    notes=[f"supervised model ({getattr(m, 'meta', {}).get('model_type', '?')})"])
    from .._kernels.rules import rules_block
    from .coastal import polygon_mask, upsample_mask
    from .rules import BLOCK_ROLES, kernel_arguments
    from .sample import SAMPLE_PIXELS, array_sample, sample_grid as make_sample_grid

    for k, sc in enumerate(scenes):
        missing = [r for r in BLOCK_ROLES if r not in _roles(sc)]
        if missing:
            raise BandMismatchError(f"acquisition {k}: the rules need band role(s) {', '.join(missing)}")
    radiometry_notes = _radiometry_notes(scenes)
    if setup is None:
        if samples is None:
            samples = [array_sample(dn_reflectance(sc)) for sc in scenes]
            sample_grid = make_sample_grid(grid, max_pixels=SAMPLE_PIXELS)[0]
        assert sample_grid is not None
        setup = rule_setup(samples, sample_grid, roles=_roles(scenes[0]), rules=rules, coastal=coastal,
                           coastal_buffer_m=coastal_buffer_m, wetland=wetland)
    if setup.coastal_source == "polygon":
        zone = polygon_mask(setup.coastal_zone, grid, chunks=chunks, buffer_m=setup.coastal_buffer_m)
    elif setup.coastal_source == "derived":
        zone = upsample_mask(setup.coastal_zone, setup.sample_grid, grid, chunks=chunks)
    else:
        zone = None
    roles_now = _roles(scenes[0])
    idx = {r: roles_now.index(r) for r in BLOCK_ROLES}

    # every acquisition's (band, y, x) blocks go to the kernel as they are: no stacking copy
    arrays = [sc.data for sc in scenes]
    arrays = [a.rechunk({0: -1, 1: arrays[0].chunks[1], 2: arrays[0].chunks[2]}) for a in arrays]
    use_zone = zone is not None and setup.coastal_source != "none"
    use_layer = setup.wetland_zone is not None
    # the masks a scene has go to the kernel as blocks; one it lacks is not an array of
    # zeros, which would cost a task and an allocation per block
    masks_in: list[Any] = []
    if use_zone:
        masks_in.append(zone.rechunk(arrays[0].chunks[1:]))
    if use_layer:
        masks_in.append(polygon_mask(setup.wetland_zone, grid, chunks=chunks).rechunk(arrays[0].chunks[1:]))
    roles = tuple(idx[r] for r in BLOCK_ROLES)
    kargs = kernel_arguments(setup.cfg, mndwi_t=setup.thresholds["mndwi_water"],
                             mvi_t=setup.thresholds["mvi_mangrove"])

    def block(*rest: Any) -> np.ndarray:
        # each acquisition arrives as the list of its band-axis chunks (one chunk): passing
        # it through instead of letting dask concatenate it saves a copy of every block
        zn = rest[0] if use_zone else None
        wl = rest[int(use_zone)] if use_layer else None
        rest = rest[int(use_zone) + int(use_layer):]
        masks, blocks = rest[:n_shades], rest[n_shades:]
        return rules_block([b[0] for b in blocks], roles=roles, coastal=zn, wetland=wl,
                           shaded=list(masks) if n_shades else None, decode=decode, **kargs)

    shades = _terrain_shadow(scenes, dem=dem, sun=sun, grid=grid, cfg=setup.cfg, chunks=arrays[0].chunks[1:])
    n_shades = len(shades)
    pairs: list[Any] = []
    for m in [*masks_in, *shades]:
        pairs += [m, "yx"]
    for a in arrays:
        pairs += [a, "byx"]
    lc = da.blockwise(block, "yx", *pairs, concatenate=False, dtype=np.uint8, meta=np.zeros((0, 0), np.uint8))
    lc = sieve_mmu(lc, grid, mmu_ha)
    factor = max(1, round(setup.sample_grid.res[0] / grid.res[0]))
    notes = list(setup.notes) + radiometry_notes
    if n_shades:
        notes.append(f"terrain shadow from {dem}: slopes lit at cos i < {setup.cfg.shadow.min_illumination:g} "
                     "not counted")
    if use_layer:
        notes.append("wetland layer given: one flooded observation is evidence of wetland inside it")
    return ClassificationResult(lc, "rules", {**setup.thresholds, "sample_factor": factor}, setup.coastal_source,
                                notes)
