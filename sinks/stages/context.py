"""The run context: what the stages of a run read and fill, as typed fields.

:func:`sinks.pipeline.prepare` (or :func:`sinks.pipeline.for_region` for a batch
region) makes a :class:`RunContext`; the runner hands it to every stage in the order
of :data:`sinks.pipeline.EPOCH_STAGES` and :data:`sinks.pipeline.STAGES`.  Each
run-level stage that later stages depend on leaves its result in one field, as a
small dataclass:

==================  ===================  ===============================  ====================
field               type                 filled by                        read by
==================  ===================  ===============================  ====================
``aoi``             :class:`AoiLayers`   ``prepare``                      classify, every table
``shared``          :class:`SceneShared` classify, accuracy (the scene's  classify, accuracy
                                         context: regions share it)
``coefficients``    :class:`CarbonInputs` the first carbon stage          carbon, zonal
``landcover``       :class:`LandcoverAreas` stage ``landcover``           accuracy, carbon
``accuracy``        :class:`AccuracyAreas`  stage ``accuracy``            carbon
``carbon``          :class:`CarbonResults`  stage ``carbon``              (callers of the run)
``zonal_pending``   ``ZonalChildren``    stage ``zonal_start``            stage ``zonal``
``zonal``           :class:`ZonalTables` stage ``zonal``                  stage ``goals``
==================  ===================  ===============================  ====================

A field is ``None`` until its stage has run; a stage that needs it says which stage
should have (:meth:`RunContext.needs`).  Within an epoch, the lazy stages add layers,
outputs and reductions to its :class:`EpochData`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, TypeVar

from ..manifest import DEFAULT_DIGEST, Timer

if TYPE_CHECKING:  # pragma: no cover
    import threading
    from concurrent.futures import Future

    import numpy as np
    from geopandas import GeoDataFrame

    from ..accuracy import AccuracyResult
    from ..carbon import CarbonTable, ClassAreas
    from ..carbon.growth import ForestGrowth
    from ..carbon.sink import TransitionMatrix
    from ..classify import RuleSetup
    from ..grid import Grid
    from ..manifest import BackgroundHashing
    from ..tiles import Scene
    from ..outputs import RasterOutput
    from ..sensors import SensorProfile
    from ..spec import EpochSpec, PipelineSpec
    from .zonal import ZonalChildren

__all__ = ["RunContext", "EpochData", "AoiLayers", "SceneShared", "CarbonInputs", "LandcoverAreas",
           "AccuracyAreas", "CarbonResults", "ZonalTables", "Progress"]

log = logging.getLogger("sinks")

Progress = Callable[[str], None]
T = TypeVar("T")


@dataclass
class EpochData:
    """Lazy layers and written files of one epoch.

    ``reductions`` are dask collections the epoch's write pass computes beside its
    layers; ``results`` their values under the same keys: ``"class_areas"`` (a
    :class:`~sinks.carbon.ClassAreas`, from classify), ``"truth_counts"`` (classify,
    when the reference has a truth raster), ``"sample_codes"`` (classify, when the
    reference labels the epoch: the land cover under each sample) and ``"transitions"`` (a
    :class:`~sinks.carbon.sink.TransitionMatrix` from the previous epoch, change layers).
    """

    spec: EpochSpec
    scenes: list[Scene]
    refl: Any = None  # xarray.DataArray (time, band, y, x)
    layers: dict[str, Any] = field(default_factory=dict)
    outputs: list[RasterOutput] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    #: dask collections computed in the epoch's write pass (class counts, cross-tabulations)
    reductions: dict[str, Any] = field(default_factory=dict)
    #: their computed values, under the same keys
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class AoiLayers:
    """The spec's AOI layers, read and reprojected to the grid CRS (``None`` where not given)."""

    boundary: GeoDataFrame | None = None
    redlines: GeoDataFrame | None = None
    regions: GeoDataFrame | None = None
    coastal_zone: GeoDataFrame | None = None
    wetlands: GeoDataFrame | None = None

    NAMES: ClassVar[tuple[str, ...]] = ("boundary", "redlines", "regions", "coastal_zone", "wetlands")

    def present(self) -> dict[str, GeoDataFrame]:
        """The layers given, by name."""
        return {k: getattr(self, k) for k in self.NAMES if getattr(self, k) is not None}


@dataclass
class SceneShared:
    """What the rule and model classification and the accuracy stage compute once per scene.

    Kept on the scene's context; a batch region uses its scene's (``RunContext.base``),
    so every region is classified with the same thresholds and model.
    """

    #: epoch -> decimated reflectance of each acquisition and its grid (for per-scene thresholds)
    samples: dict[str, tuple[list[np.ndarray], Grid]] = field(default_factory=dict)
    #: epoch -> thresholds and coastal zone of the rules
    rules: dict[str, RuleSetup] = field(default_factory=dict)
    #: the supervised model (loaded or trained once)
    model: Any = None
    #: the reference sample (read once)
    reference: GeoDataFrame | None = None


@dataclass
class CarbonInputs:
    """The run's carbon coefficients, loaded once (see :func:`sinks.stages.carbon.carbon_table`)."""

    table: CarbonTable | None = None
    growth: ForestGrowth | None = None


@dataclass(frozen=True)
class LandcoverAreas:
    """Stage ``landcover``: the class areas of each epoch's written land cover."""

    class_areas: dict[str, ClassAreas]


@dataclass(frozen=True)
class AccuracyAreas:
    """Stage ``accuracy``: per epoch, the assessment whose estimated areas are the map's, so
    the carbon intervals may use their errors (epochs without one are absent)."""

    by_epoch: dict[str, AccuracyResult]


@dataclass(frozen=True)
class CarbonResults:
    """Stage ``carbon``: the transition matrix (ha) of each period ``"<e1>_<e2>"``."""

    transitions: dict[str, TransitionMatrix]


@dataclass(frozen=True)
class ZonalTables:
    """Stage ``zonal``: the indicator table of each AOI layer tabulated (``redlines``, ``regions``)."""

    tables: dict[str, GeoDataFrame]


@dataclass
class RunContext:
    """Everything a stage needs; stages add layers, files, summary sections and their results."""

    spec: PipelineSpec
    spec_path: Path | None
    out: Path
    overwrite: bool
    profile: SensorProfile
    grid: Grid
    epochs: list[EpochData]
    timer: Timer = field(default_factory=Timer)
    summary: dict[str, Any] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    progress: Progress | None = None
    #: stage and block events (the CLI's progress bar) and the counter of the blocks written
    events: Callable[[dict[str, Any]], None] | None = None
    block_counter: Any = None
    digest: str = DEFAULT_DIGEST  # algorithm of the manifest's input digests
    region: Any = None  # shapely geometry in the grid CRS (batch jobs), pixels outside are nodata
    region_id: str | None = None
    chunks: Any = None  # (row chunks, column chunks) of every lazy layer, cut on the tiles' blocks
    aoi: AoiLayers = field(default_factory=AoiLayers)
    #: the whole scene's context of a batch region (``None`` for a scene's own run)
    base: RunContext | None = None
    #: set (a :class:`threading.Event`) to stop the run at its next stage (batch Ctrl-C)
    cancel: threading.Event | None = None
    #: the thread hashing the inputs for the manifest while the run computes
    hashing: "BackgroundHashing | None" = None
    shared: SceneShared = field(default_factory=SceneShared)
    coefficients: CarbonInputs = field(default_factory=CarbonInputs)
    landcover: LandcoverAreas | None = None
    accuracy: AccuracyAreas | None = None
    carbon: CarbonResults | None = None
    zonal_pending: ZonalChildren | None = None
    zonal: ZonalTables | None = None
    #: period -> encroachment patches being searched while a later pass runs
    #: (:func:`sinks.stages.encroachment.start_early_search`)
    early_encroachment: dict[str, Future] = field(default_factory=dict)
    _region_mask: Any = field(default=None, init=False, repr=False)

    def say(self, msg: str) -> None:
        log.info(msg)
        if self.progress:
            self.progress(msg)

    @property
    def whole_scene(self) -> RunContext:
        """The whole scene's context (this one, unless it is a batch region's)."""
        return self.base or self

    def region_mask(self) -> Any:
        """Lazy boolean ``(y, x)`` mask of the batch region on the grid (built once); ``None`` without one."""
        if self.region is None:
            return None
        if self._region_mask is None:
            from ..grid import region_mask

            self._region_mask = region_mask(self.grid, self.region, chunks=self.chunks)
        return self._region_mask

    def needs(self, value: T | None, *, stage: str, by: str) -> T:
        """``value``, the result of ``stage``; raises if that stage has not run before ``by``."""
        if value is None:
            raise RuntimeError(f"stage {by} needs the result of stage {stage}, which has not run")
        return value
