"""Deep checks of a spec's inputs without running it (``sinks validate``).

:func:`check_inputs` opens every file a run would read and lists every problem, each
with its spec key:

* every raster (tiles, STAC assets, truth maps, the volume raster) must be a regular
  file that GDAL opens, with a CRS, not truncated, whose first and last blocks decode;
  tiles must also carry the bands the sensor profile expects;
* the rules file, the classifier model, the carbon table and the targets file must load;
* reference samples and training samples must be readable vectors with their label field;
* then, when every file passed, the run's own preparation (:func:`sinks.pipeline.prepare`)
  derives the target grid, reads the AOI layers and applies the pixel budget.

The spec itself goes through the same model as ``sinks run`` (:func:`sinks.spec.load_spec`,
including the rule keys of ``classification.rules``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError, TileReadError

if TYPE_CHECKING:  # pragma: no cover
    from .spec import PipelineSpec

__all__ = ["check_raster", "check_inputs"]

log = logging.getLogger("sinks")


def _one_line(exc: BaseException) -> str:
    return " ".join((str(exc).strip() or type(exc).__name__).split())


def check_raster(path: str | os.PathLike, *, profile: Any = None) -> None:
    """Open ``path`` as a run would, and decode its first and last blocks.

    Raises
    ------
    TileReadError, CRSMismatchError, BandMismatchError
        Not a regular file, not a raster, no CRS, truncated, a block that does not
        decode, or (with a sensor ``profile``) bands that do not match it.
    """
    import rasterio
    from rasterio.windows import Window

    from .tiles import inspect_tile, tiles_from_files

    info = inspect_tile(path, check_truncation=True)
    try:
        with rasterio.open(info.path) as ds:
            bh, bw = ds.block_shapes[0]
            last = Window((-(-ds.width // bw) - 1) * bw, (-(-ds.height // bh) - 1) * bh, bw, bh)
            for win in (Window(0, 0, bw, bh), last):
                ds.read(window=win.intersection(Window(0, 0, ds.width, ds.height)))
    except rasterio.errors.RasterioError as exc:
        raise TileReadError(f"{info.path}: a block cannot be read ({_one_line(exc)})") from None
    if profile is not None:
        tiles_from_files([info.path], profile, strict=True)


def _check(problems: list[str], key: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except (InputError, OSError, ValueError) as exc:
        problems.append(f"{key}: {_one_line(exc)}")
        return None


def check_inputs(spec: "PipelineSpec", *, spec_path: Path | None = None) -> list[str]:
    """Every problem with the files of ``spec`` (see the module notes); empty when all is well."""
    from .tiles import expand_tiles, tiles_from_stac

    problems: list[str] = []
    profile = spec.sensor_profile()
    for i, ep in enumerate(spec.epochs):
        for j, sc in enumerate(ep.scenes):
            where = f"epochs.{i}.scenes.{j}"
            if isinstance(sc.stac, str):  # a search (StacSearch) is run by prepare() below
                tiles = _check(problems, f"{where}.stac", tiles_from_stac, sc.stac, profile, date=sc.date)
                for t in tiles or []:
                    for path in sorted({ref.path for _r, ref in t.bands}):
                        _check(problems, f"{where}.stac", check_raster, path)
            for k, pattern in enumerate(sc.tiles):
                files = _check(problems, f"{where}.tiles.{k}", expand_tiles, [pattern]) or []
                for path in files:
                    _check(problems, f"{where}.tiles.{k}", check_raster, path, profile=profile)
    if spec.reference is not None:
        for ep, path in (spec.reference.truth or {}).items():
            _check(problems, f"reference.truth.{ep}", check_raster, path)
    if spec.carbon.volume_raster:
        _check(problems, "carbon.volume_raster", check_raster, spec.carbon.volume_raster)
    _check_files(spec, problems)
    if not problems:  # the run's own preparation: target grid, overlap, AOI layers, pixel budget
        from .pipeline import prepare

        _check(problems, "inputs", prepare, spec, spec_path=spec_path, out=Path(os.devnull), overwrite=True)
    return problems


def _check_files(spec: "PipelineSpec", problems: list[str]) -> None:
    """Rules, model, carbon table, targets and sample vectors: loaded as the run loads them."""
    from .vectors import read_vector

    cls = spec.classification
    if cls.enabled and isinstance(cls.rules, str):
        from .classify.rules import load_rules

        _check(problems, "classification.rules", load_rules, cls.rules)
    if cls.enabled and cls.method == "model" and cls.model:
        from .classify.modelio import load_model

        _check(problems, "classification.model", load_model, cls.model)
    if cls.enabled and cls.training is not None:
        tr = cls.training
        _check(problems, "classification.training.samples", read_vector, tr.samples, require_fields=[tr.label_field],
               what="training samples")
    if spec.carbon.enabled:
        from .carbon import load_table

        cs = spec.carbon
        _check(problems, "carbon.table", load_table, cs.table, soil_depth=cs.soil_depth, lucode_map=cs.lucode_map)
    if spec.goals.enabled and spec.goals.targets:
        from .goals import load_targets

        _check(problems, "goals.targets", load_targets, spec.goals.targets)
    if spec.reference is not None:
        ref = spec.reference
        fields = [ref.label_field] if not ref.epoch_fields else list(ref.epoch_fields.values())
        _check(problems, "reference.path", read_vector, ref.path, require_fields=fields, what="reference samples")
