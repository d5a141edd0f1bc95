"""The YAML pipeline spec, validated with pydantic.

``load_spec(path)`` parses with ``yaml.safe_load``, validates every key (unknown
keys are errors), resolves relative paths against the spec file's folder, expands
tile globs and checks that every input file exists.  All problems are collected
and reported together, each with its key, by :class:`~sinks.errors.SpecError`.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import SpecError
from .stac_search import StacSearch

__all__ = [
    "PipelineSpec",
    "SensorSpec",
    "GridSpec",
    "SceneSpec",
    "EpochSpec",
    "VectorRef",
    "AOISpec",
    "IndicesSpec",
    "ClassificationSpec",
    "TrainingSpec",
    "CarbonSpec",
    "ValuationSpec",
    "UncertaintySpec",
    "ZonalSpec",
    "CoverageSpec",
    "GoalsSpec",
    "ReferenceSpec",
    "load_spec",
    "parse_spec",
]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class SensorSpec(_Base):
    """A packaged sensor profile, or generic band roles."""

    name: str = "generic"
    bands: list[str] | None = None
    scale: float | None = None
    offset: float | None = None


class GridSpec(_Base):
    """Target grid; anything left out is taken from the tiles (and the AOI)."""

    crs: str | None = None
    resolution: float | None = Field(default=None, gt=0)
    bounds: tuple[float, float, float, float] | None = None
    #: dask block size in pixels (64-8192), or ``auto``: 2048 or 1024 by the grid's size, the
    #: machine's threads and memory (:func:`sinks.budget.auto_chunks`)
    chunks: int | Literal["auto"] = "auto"
    resampling: Literal["nearest", "bilinear", "cubic", "average"] = "nearest"
    #: which tile fills a pixel where tiles of one acquisition overlap (sinks.mosaic): the
    #: first, in the order listed, with a valid pixel, or the last
    mosaic: Literal["first", "last"] = "first"

    @field_validator("chunks", mode="before")
    @classmethod
    def _chunk_size(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().lower() == "auto":
            return "auto"
        if isinstance(v, bool) or not isinstance(v, int) or not 64 <= v <= 8192:
            raise ValueError(f"expected auto or a whole number of pixels from 64 to 8192, got {str(v)[:40]!r}")
        return v

    @field_validator("bounds")
    @classmethod
    def _ordered(cls, v: tuple[float, float, float, float] | None) -> Any:
        if v is not None and (v[0] >= v[2] or v[1] >= v[3]):
            raise ValueError("bounds must be [left, bottom, right, top] with left < right and bottom < top")
        return v


class SceneSpec(_Base):
    """One acquisition: a date and its tiles (globs) or a STAC source: an ItemCollection or
    catalog file, or a STAC API search (:class:`sinks.stac_search.StacSearch`, one
    acquisition per date it finds)."""

    date: dt.date | None = None
    tiles: list[str] = Field(default_factory=list)
    stac: str | StacSearch | None = None
    sun: tuple[float, float] | None = None   # (elevation, azimuth) in degrees, for classification.dem

    @model_validator(mode="after")
    def _one_source(self) -> "SceneSpec":
        if not self.tiles and not self.stac:
            raise ValueError("a scene needs 'tiles' or 'stac'")
        if self.tiles and self.stac:
            raise ValueError("give either 'tiles' or 'stac', not both")
        return self


class EpochSpec(_Base):
    """One epoch (a year): one or more acquisitions."""

    name: str
    year: int = Field(ge=1970, le=2100)
    scenes: list[SceneSpec] = Field(default_factory=list)
    date: dt.date | None = None
    tiles: list[str] = Field(default_factory=list)
    stac: str | StacSearch | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _str_name(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v

    @model_validator(mode="after")
    def _scenes(self) -> "EpochSpec":
        if self.tiles or self.stac:
            if self.scenes:
                raise ValueError("give 'scenes' or 'tiles'/'stac' at epoch level, not both")
            self.scenes = [SceneSpec(date=self.date, tiles=self.tiles, stac=self.stac)]
            self.tiles, self.stac = [], None
        if not self.scenes:
            raise ValueError("an epoch needs 'scenes' (or 'tiles')")
        return self


class VectorRef(_Base):
    """A vector source: a file (GeoPackage, Shapefile, GeoJSON, GeoParquet ...) or PostGIS."""

    path: str
    id_field: str | None = None
    layer: str | None = None


class AOISpec(_Base):
    """Area-of-interest vectors."""

    boundary: VectorRef | None = None
    redlines: VectorRef | None = None
    regions: VectorRef | None = None
    coastal_zone: VectorRef | None = None
    wetlands: VectorRef | None = None


_ALL_INDICES = ("ndvi", "evi", "ndwi", "mndwi", "ndbi", "mvi", "ndmi")


class IndicesSpec(_Base):
    """Spectral indices per acquisition (intermediate layers: written only when ``write`` is true)."""

    names: list[str] = Field(default_factory=lambda: list(_ALL_INDICES))
    write: bool = False

    @field_validator("names")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        out = [n.lower() for n in v]
        bad = [n for n in out if n not in _ALL_INDICES]
        if bad:
            raise ValueError(f"unknown index {', '.join(bad)}; known: {', '.join(_ALL_INDICES)}")
        return out


class TrainingSpec(_Base):
    """Train the supervised model inside the run from labelled samples or an existing land-cover map."""

    samples: str | None = None
    label_field: str = "label"
    reference_map: str | list[str] | None = None
    reference_legend: str = "sinks"
    per_class: int | None = Field(default=None, ge=1)
    epoch: str | None = None
    model_type: Literal["rf", "hgb"] = "rf"
    texture: bool = True
    features: Literal["standard", "extended"] = "standard"
    seed: int = 0
    save: bool = True

    @field_validator("epoch", mode="before")
    @classmethod
    def _str_epoch(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v

    @model_validator(mode="after")
    def _one_source(self) -> "TrainingSpec":
        if bool(self.samples) == bool(self.reference_map):
            raise ValueError("training needs either 'samples' or 'reference_map'")
        return self

    @property
    def reference_maps(self) -> list[str]:
        """The reference map(s) as a list."""
        m = self.reference_map
        return [] if not m else [m] if isinstance(m, str) else list(m)


class ClassificationSpec(_Base):
    """Land-cover classification stage."""

    enabled: bool = True
    method: Literal["rules", "model"] = "rules"
    model: str | None = None
    training: TrainingSpec | None = None
    rules: str | dict[str, Any] | None = None
    mmu_ha: dict[str, float] = Field(default_factory=lambda: {"forest": 0.0667})
    coastal_buffer_m: float = Field(default=2000.0, ge=0)
    mangrove: bool = True
    dem: str | None = None

    @field_validator("rules")
    @classmethod
    def _rule_keys(cls, v: Any) -> Any:
        """Rule overrides given inline are checked against the rule model here, as the run applies them."""
        if isinstance(v, dict):
            from .classify.rules import load_rules
            from .errors import ConfigError

            try:
                load_rules(v)
            except ConfigError as exc:
                raise ValueError(str(exc).removeprefix("rules: ")) from None
        return v

    @model_validator(mode="after")
    def _model_given(self) -> "ClassificationSpec":
        if self.method == "model" and not (self.model or self.training):
            raise ValueError("method 'model' needs 'model: <file>' or a 'training' block")
        if self.model and self.training:
            raise ValueError("give either 'model' or 'training', not both")
        return self


class ValuationSpec(_Base):
    """InVEST-style valuation of the sink."""

    price: float = Field(ge=0)
    unit: Literal["t_c", "t_co2e"] = "t_co2e"
    discount_rate: float = Field(default=0.0, ge=0, lt=1)
    price_change: float = Field(default=0.0, gt=-1, lt=1)
    currency: str = "CNY"


class UncertaintySpec(_Base):
    """Monte Carlo over coefficient ranges (and area estimates when a reference exists)."""

    draws: int = Field(default=10000, ge=100, le=1_000_000)
    seed: int = 20261122
    distribution: Literal["ci", "triangular", "pert", "uniform"] = "ci"
    pool_correlation: Literal["biomass", "class", "none"] = "biomass"


def _carbon_constants() -> Any:
    """The packaged carbon ratios (:mod:`sinks.carbon.constants`), the defaults of :class:`CarbonSpec`."""
    from .carbon.constants import carbon_constants

    return carbon_constants()


class CarbonSpec(_Base):
    """Carbon stock, stock volume and sink."""

    enabled: bool = True
    table: str = "china"
    lucode_map: dict[int, str] | None = None
    soil_depth: Literal["0-30", "0-100"] = "0-30"
    missing: Literal["error", "zero"] = "error"
    write_rasters: bool = True
    layers: list[Literal["density_total", "stock_total", "density_pools", "stock_pools"]] = Field(
        default_factory=lambda: ["density_total"])
    volume_m3_per_ha: float = Field(default_factory=lambda: _carbon_constants().growing_stock_m3_per_ha, ge=0)
    volume_raster: str | dict[str, str] | None = None
    volume_to_carbon: Literal["ratio", "bef"] = "ratio"
    carbon_per_m3: float = Field(default_factory=lambda: _carbon_constants().carbon_per_m3.value, ge=0)
    forest_type: str | None = None
    sink_method: Literal["gain-loss", "stock-difference"] = "gain-loss"
    growth_row: str = "national_8th_9th_nfi"
    growth_mg_c_per_ha_yr: float | None = None
    young_growth_mg_c_per_ha_yr: float | None = Field(default=None, ge=0)
    climate_zone: str | None = None
    soil_type: str = "mean"
    soil_transition_years: float = Field(default_factory=lambda: _carbon_constants().soil_transition_years.value, gt=0)
    valuation: ValuationSpec | None = None
    uncertainty: UncertaintySpec | None = Field(default_factory=UncertaintySpec)

    @field_validator("climate_zone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        from .carbon.soil import CLIMATE_ZONES

        if v is not None and v != "none" and v not in CLIMATE_ZONES:
            raise ValueError(f"unknown IPCC climate zone {v!r}; known: {', '.join(CLIMATE_ZONES)}, none")
        return v

    @field_validator("forest_type")
    @classmethod
    def _forest_type(cls, v: str | None) -> str | None:
        from .carbon.volume import bef_parameters

        rows = bef_parameters()
        if v is not None and v not in rows:  # type: ignore[operator]
            raise ValueError(f"unknown forest type {v!r}; known: {', '.join(rows)}")  # type: ignore[arg-type]
        return v

    @field_validator("growth_row")
    @classmethod
    def _row(cls, v: str) -> str:
        from .carbon.growth import growth_rows

        if v not in growth_rows():
            raise ValueError(f"unknown growth row {v!r}; known: {', '.join(growth_rows())}")
        return v

    @field_validator("volume_raster", mode="before")
    @classmethod
    def _epoch_keys(cls, v: Any) -> Any:
        """``{epoch: raster}`` with epoch names as text (YAML reads ``2020:`` as a number)."""
        return {str(k): val for k, val in v.items()} if isinstance(v, dict) else v


class CoverageSpec(_Base):
    """The official forest coverage rate (:mod:`sinks.coverage`).

    A rate whose zone is more than ``max_unobserved`` unobserved (clouds, nodata) is
    flagged as a lower bound.
    """

    max_unobserved: float = Field(default=0.05, ge=0, le=1)


class ZonalSpec(_Base):
    """Per-polygon indicators over redlines and regions, and encroachment patches."""

    enabled: bool = True
    encroachment_min_ha: float = Field(default=0.05, ge=0)
    formats: list[Literal["gpkg", "parquet", "csv"]] = Field(default_factory=lambda: ["gpkg", "parquet", "csv"])


class GoalsSpec(_Base):
    """Goal tracking against the targets mapped to the AOI and to each region.

    ``targets``: a targets file (target sets and which region each applies to, see
    :func:`sinks.goals.load_targets`); ``aoi_targets``: the set the whole AOI is
    compared with (``national`` for a China-wide run).  Areas mapped to no set get
    their own trend only.
    """

    enabled: bool = True
    targets: str | None = None
    aoi_targets: str | None = None


class ReferenceSpec(_Base):
    """Reference sample for accuracy assessment (and truth rasters for synthetic data).

    A sample stratified by something other than the map classes names its strata
    (``stratum_field``, by default ``stratum`` when the sample has it) and their sizes
    in ha (``stratum_sizes``: a CSV ``stratum,area_ha`` or a mapping, or
    ``stratum_size_field``, by default ``stratum_area_ha``); it is then estimated with
    Stehman (2014) instead of Olofsson et al. (2014).
    """

    path: str
    label_field: str = "label"
    epoch_fields: dict[str, str] | None = None
    truth: dict[str, str] | None = None
    stratum_field: str | None = None
    stratum_sizes: str | dict[str, float] | None = None
    stratum_size_field: str | None = None
    estimator: Literal["auto", "olofsson", "stehman"] = "auto"

    @field_validator("epoch_fields", "truth", mode="before")
    @classmethod
    def _str_keys(cls, v: Any) -> Any:
        return {str(k): val for k, val in v.items()} if isinstance(v, dict) else v


class OutputsSpec(_Base):
    """Which optional layers to write."""

    reflectance: bool = False


class PipelineSpec(_Base):
    """A whole pipeline spec."""

    name: str = "sinks-run"
    description: str = ""
    sensor: str | SensorSpec = "generic"
    grid: GridSpec = Field(default_factory=GridSpec)
    epochs: list[EpochSpec] = Field(min_length=1)
    aoi: AOISpec = Field(default_factory=AOISpec)
    indices: IndicesSpec = Field(default_factory=IndicesSpec)
    classification: ClassificationSpec = Field(default_factory=ClassificationSpec)
    carbon: CarbonSpec = Field(default_factory=CarbonSpec)
    zonal: ZonalSpec = Field(default_factory=ZonalSpec)
    goals: GoalsSpec = Field(default_factory=GoalsSpec)
    coverage: CoverageSpec = Field(default_factory=CoverageSpec)
    reference: ReferenceSpec | None = None
    outputs: OutputsSpec = Field(default_factory=OutputsSpec)

    @model_validator(mode="after")
    def _unique_epochs(self) -> "PipelineSpec":
        names = [e.name for e in self.epochs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"epoch names must be unique; repeated: {', '.join(dup)}")
        years = [e.year for e in self.epochs]
        if years != sorted(years):
            raise ValueError("epochs must be listed in chronological order")
        vr = self.carbon.volume_raster
        if isinstance(vr, dict):
            unknown = sorted(set(map(str, vr)) - set(names))
            if unknown:
                raise ValueError(f"carbon.volume_raster: {', '.join(unknown)} not an epoch name ({', '.join(names)})")
        tr = self.classification.training
        if tr is not None and tr.epoch is not None and tr.epoch not in names:
            raise ValueError(f"classification.training.epoch {tr.epoch!r} is not an epoch name ({', '.join(names)})")
        return self

    def sensor_profile(self):  # noqa: ANN201 - SensorProfile
        """Resolve the sensor profile."""
        from .sensors import resolve_profile

        if isinstance(self.sensor, str):
            return resolve_profile(sensor=self.sensor)
        s = self.sensor
        if s.bands is not None:
            return resolve_profile(bands=s.bands, scale=s.scale, offset=s.offset)
        return resolve_profile(sensor=s.name, scale=s.scale, offset=s.offset)


def _loc(loc: tuple) -> str:
    return ".".join(str(p) for p in loc if not (isinstance(p, str) and p.startswith("function-"))) or "(root)"


def parse_spec(data: Any, *, source: str = "spec") -> PipelineSpec:
    """Validate a parsed YAML mapping; raise :class:`SpecError` listing every problem."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: a spec must be a YAML mapping, got {type(data).__name__}",
                        ["(root): expected a mapping"])
    try:
        spec = PipelineSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        errors = exc.errors()
        # a mapping given for ``stac`` is a search: report its problems, not that it is not a string
        searches = {e["loc"][:e["loc"].index("StacSearch")] for e in errors if "StacSearch" in e["loc"]}
        errors = [e for e in errors if not (e["loc"] and e["loc"][-1] == "str" and e["loc"][:-1] in searches)]
        for err in errors:
            err = {**err, "loc": tuple(p for p in err["loc"] if p != "StacSearch")}
            loc = _loc(err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            problems.append(f"{loc}: {msg}")
        raise SpecError(f"{source}: {problems[0]}" + (f" (and {len(problems) - 1} more problem(s))"
                                                      if len(problems) > 1 else ""), problems) from None
    try:
        spec.sensor_profile()
    except Exception as exc:  # noqa: BLE001 - ConfigError / BandMismatchError
        raise SpecError(f"{source}: sensor: {exc}", [f"sensor: {exc}"]) from None
    return spec


def load_spec(path: str | os.PathLike, *, check_files: bool = True) -> tuple[PipelineSpec, Path]:
    """Read, validate and resolve a spec file.

    Returns
    -------
    (PipelineSpec, Path)
        The spec with every relative path made absolute (relative to the spec's
        folder), and the spec file's path.
    """
    p = Path(path)
    if not p.exists():
        raise SpecError(f"{p}: spec file not found", [f"{p}: not found"])
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{p}:{where}: YAML syntax error: {problem}", [f"{where.strip()}: {problem}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{p}: cannot read spec ({exc})") from None
    spec = parse_spec(data, source=str(p))
    _resolve_paths(spec, p.parent.resolve())
    if check_files:
        problems = missing_inputs(spec)
        if problems:
            raise SpecError(f"{p}: {problems[0]}" + (f" (and {len(problems) - 1} more problem(s))"
                                                     if len(problems) > 1 else ""), problems)
    return spec, p


def _abs(base: Path, value: str | None) -> str | None:
    if value is None or "://" in value or os.path.isabs(value) or value.startswith("/vsi"):
        return value
    return str(base / value)


def _resolve_paths(spec: PipelineSpec, base: Path) -> None:
    for ep in spec.epochs:
        for sc in ep.scenes:
            sc.tiles = [_abs(base, t) for t in sc.tiles]  # type: ignore[misc]
            if isinstance(sc.stac, str):
                sc.stac = _abs(base, sc.stac)
    for name in ("boundary", "redlines", "regions", "coastal_zone", "wetlands"):
        ref = getattr(spec.aoi, name)
        if ref is not None:
            ref.path = _abs(base, ref.path)  # type: ignore[assignment]
    if spec.classification.model:
        spec.classification.model = _abs(base, spec.classification.model)
    tr = spec.classification.training
    if tr is not None:
        tr.samples = _abs(base, tr.samples)
        if tr.reference_map:
            tr.reference_map = [_abs(base, m) for m in tr.reference_maps]  # type: ignore[misc]
        if tr.reference_legend not in ("sinks", "clcd", "worldcover", "esa_worldcover"):
            tr.reference_legend = _abs(base, tr.reference_legend)  # type: ignore[assignment]
    if isinstance(spec.classification.rules, str):
        spec.classification.rules = _abs(base, spec.classification.rules)
    spec.classification.dem = _abs(base, spec.classification.dem)
    if spec.carbon.table and (spec.carbon.table.endswith((".csv", ".yaml", ".yml")) or "/" in spec.carbon.table):
        spec.carbon.table = _abs(base, spec.carbon.table)  # type: ignore[assignment]
    if isinstance(spec.carbon.volume_raster, dict):
        spec.carbon.volume_raster = {str(k): _abs(base, v) for k, v in spec.carbon.volume_raster.items()}  # type: ignore[misc]
    else:
        spec.carbon.volume_raster = _abs(base, spec.carbon.volume_raster)
    spec.goals.targets = _abs(base, spec.goals.targets)
    if spec.reference is not None:
        spec.reference.path = _abs(base, spec.reference.path)  # type: ignore[assignment]
        if spec.reference.truth:
            spec.reference.truth = {k: _abs(base, v) for k, v in spec.reference.truth.items()}  # type: ignore[misc]
        if isinstance(spec.reference.stratum_sizes, str):
            spec.reference.stratum_sizes = _abs(base, spec.reference.stratum_sizes)


def missing_inputs(spec: PipelineSpec) -> list[str]:
    """Every input file the spec names that does not exist, each with its key.

    Remote rasters (``s3://``, ``/vsis3/``, ``https://`` ...) are checked by opening them
    with GDAL (:func:`sinks.remote.check_raster`), never with ``os.stat``; other remote
    inputs are left to their readers.
    """
    import glob

    from .errors import TileReadError
    from .remote import check_raster, is_remote

    def remote_problem(key: str, path: str) -> str | None:
        try:
            check_raster(path)
        except TileReadError as exc:
            return f"{key}: {exc}"
        return None

    problems: list[str] = []
    remote_tiles = [t for ep in spec.epochs for sc in ep.scenes for t in sc.tiles
                    if is_remote(t) and not any(ch in t for ch in "*?[")]
    if len(remote_tiles) > 1:  # their headers opened concurrently (each result is remembered)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=16) as ex:
            list(ex.map(lambda t: remote_problem("", t), remote_tiles))
    for i, ep in enumerate(spec.epochs):
        for j, sc in enumerate(ep.scenes):
            for k, t in enumerate(sc.tiles):
                if is_remote(t):
                    if any(ch in t for ch in "*?["):
                        problems.append(f"epochs.{i}.scenes.{j}.tiles.{k}: wildcards are not expanded in remote "
                                        f"paths: {t}")
                    elif (bad := remote_problem(f"epochs.{i}.scenes.{j}.tiles.{k}", t)) is not None:
                        problems.append(bad)
                elif any(ch in t for ch in "*?["):
                    if not glob.glob(t):
                        problems.append(f"epochs.{i}.scenes.{j}.tiles.{k}: no file matches {t}")
                elif not os.path.exists(t):
                    problems.append(f"epochs.{i}.scenes.{j}.tiles.{k}: file not found: {t}")
            if isinstance(sc.stac, str) and not is_remote(sc.stac) and not os.path.exists(sc.stac):
                problems.append(f"epochs.{i}.scenes.{j}.stac: file not found: {sc.stac}")
    for name in ("boundary", "redlines", "regions", "coastal_zone", "wetlands"):
        ref = getattr(spec.aoi, name)
        if ref is not None and "://" not in ref.path and not os.path.exists(ref.path):
            problems.append(f"aoi.{name}.path: file not found: {ref.path}")
    checks = [("classification.model", spec.classification.model if spec.classification.method == "model" else None),
              ("classification.rules", spec.classification.rules if isinstance(spec.classification.rules, str) else None),
              ("classification.training.samples",
               spec.classification.training.samples if spec.classification.training else None),
              *((f"classification.training.reference_map.{i}", m) for i, m in
                enumerate(spec.classification.training.reference_maps if spec.classification.training else [])),
              *((f"carbon.volume_raster.{k}", v) for k, v in (spec.carbon.volume_raster.items()
                                                              if isinstance(spec.carbon.volume_raster, dict) else [])),
              ("carbon.volume_raster", spec.carbon.volume_raster if isinstance(spec.carbon.volume_raster, str) else None),
              ("classification.dem", spec.classification.dem),
              ("goals.targets", spec.goals.targets)]
    if spec.carbon.table and os.sep in spec.carbon.table:
        checks.append(("carbon.table", spec.carbon.table))
    if spec.reference is not None:
        checks.append(("reference.path", spec.reference.path))
        if isinstance(spec.reference.stratum_sizes, str):
            checks.append(("reference.stratum_sizes", spec.reference.stratum_sizes))
        for ep, t in (spec.reference.truth or {}).items():
            checks.append((f"reference.truth.{ep}", t))
    for key, value in checks:
        if value and is_remote(value):
            if value.lower().endswith((".tif", ".tiff", ".vrt")) and (bad := remote_problem(key, value)) is not None:
                problems.append(bad)
        elif value and not os.path.exists(value):
            problems.append(f"{key}: file not found: {value}")
    return problems
