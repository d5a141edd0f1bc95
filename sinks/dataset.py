"""A run folder, a batch region or a whole batch as one lazy :class:`xarray.Dataset`.

:func:`open_dataset` reads the COGs a run wrote (``docs/outputs.md``) with rioxarray,
as dask arrays chunked like the files, and stacks the epochs:

* ``landcover (time, y, x)`` — ``uint8`` legend codes, ``0`` = nodata (``_FillValue``);
  the legend in CF attributes (``flag_values``, ``flag_meanings``) plus ``flag_colors``
  and ``flag_labels``;
* ``carbon_density (time, y, x)`` — ``float32``, ``units: Mg C/ha`` (all pools), and
  ``carbon_density_<pool>`` / ``carbon_stock`` (Mg C per pixel) when the run wrote them;
* ``change (period, y, x)`` — ``uint8`` transition codes ``from*16+to``, its classes in
  ``flag_values`` / ``flag_meanings``;
* coordinates ``time`` (1 January of each epoch's year), ``epoch`` (the epoch names),
  ``period`` (``2015_2020``), ``x``, ``y`` and ``spatial_ref``: the CRS through rioxarray
  (``ds.rio.crs``).

A batch folder opens as one region's run (``region=ID``) or as every finished region
mosaicked onto their common grid (a GDAL VRT over the regions' files, read lazily).  The
tables stay GeoDataFrames, on the ``sinks`` accessor (:mod:`sinks.runview`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from .csvio import read_csv
from .errors import ConfigError
from .landcover import CLASSES

__all__ = ["open_dataset", "sources", "folder_kind", "run_layers", "batch_regions", "mosaic_vrt", "CHUNKS"]

#: dask chunks of the layers: whole 512-px tiles of the COGs, four to a chunk side.
CHUNKS = {"band": 1, "y": 2048, "x": 2048}

_CARBON = {"carbon_density_total": ("carbon_density", "carbon density, all pools", "Mg C/ha"),
           "carbon_stock_total": ("carbon_stock", "carbon stock per pixel, all pools", "Mg C")}


def folder_kind(path: str | os.PathLike) -> str:
    """``"batch"`` for a batch folder (``batch_summary.csv``), else ``"run"``."""
    return "batch" if (Path(path) / "batch_summary.csv").exists() else "run"


def _epochs(run: Path) -> list[tuple[str, int]]:
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    return [(e["name"], int(e["year"])) for e in summary.get("epochs", [])]


def run_layers(run: str | os.PathLike) -> dict[str, dict[str, str]]:
    """The raster files of a finished run: ``{variable: {epoch or period: path}}``."""
    run = Path(run)
    out: dict[str, dict[str, str]] = {}
    for name, _year in _epochs(run):
        p = run / f"landcover_{name}.tif"
        if p.exists():
            out.setdefault("landcover", {})[name] = str(p)
        for f in sorted((run / "carbon" / name).glob("carbon_*.tif")) if (run / "carbon" / name).is_dir() else []:
            stem = f.stem
            if stem in _CARBON:
                var = _CARBON[stem][0]
            elif stem.startswith("carbon_density_"):
                var = stem
            else:
                continue
            out.setdefault(var, {})[name] = str(f)
    for p in sorted(run.glob("change_*.tif")):
        out.setdefault("change", {})[p.stem[len("change_"):]] = str(p)
    return out


def _attrs(var: str) -> dict[str, Any]:
    if var == "landcover":
        return {"long_name": "land cover (sinks legend)", "flag_values": np.array([c.code for c in CLASSES], np.uint8),
                "flag_meanings": " ".join(c.name for c in CLASSES),
                "flag_labels": "; ".join(c.label for c in CLASSES),
                "flag_colors": " ".join(c.colour for c in CLASSES)}
    if var == "change":
        codes = [f.code * 16 + t.code for f in CLASSES for t in CLASSES]
        return {"long_name": "land-cover transition (from*16+to)", "flag_values": np.array(codes, np.uint8),
                "flag_meanings": " ".join(f"{f.name}_to_{t.name}" for f in CLASSES for t in CLASSES),
                "encoding": "from*16+to (sinks legend codes), 0 = nodata"}
    for name, long_name, unit in _CARBON.values():
        if var == name:
            return {"long_name": long_name, "units": unit}
    pool = var[len("carbon_density_"):]
    return {"long_name": f"carbon density, {pool}", "units": "Mg C/ha"}


def _open(src: str, var: str) -> Any:
    import rioxarray

    da = rioxarray.open_rasterio(src, chunks=CHUNKS, lock=False, masked=False).squeeze("band", drop=True)
    if var not in ("landcover", "change"):
        da = da.astype(np.float32)
    return da


def _stack(sources: dict[str, str], var: str, dim: str, labels: list[str]) -> Any:
    import xarray as xr

    arrays = [_open(sources[k], var) for k in labels]
    da = xr.concat(arrays, dim=dim, coords="minimal", compat="override", join="override",
                   combine_attrs="override")
    attrs = {k: v for k, v in arrays[0].attrs.items() if k in ("_FillValue",)}
    da.attrs = {**attrs, **_attrs(var)}
    return da


def _dataset(layers: dict[str, dict[str, str]], epochs: list[tuple[str, int]], attrs: dict[str, Any]) -> Any:
    import pandas as pd
    import xarray as xr

    names = [n for n, _y in epochs]
    data = {}
    first = ("landcover", "carbon_density", "carbon_stock")
    order = [v for v in first if v in layers] + sorted(v for v in layers if v not in first and v != "change")
    order += ["change"] if "change" in layers else []
    for var in order:
        sources = layers[var]
        if var == "change":
            periods = list(sources)
            data[var] = _stack(sources, var, "period", periods).assign_coords(period=periods)
        else:
            have = [n for n in names if n in sources]
            if not have:
                continue
            times = pd.to_datetime([f"{dict(epochs)[n]}-01-01" for n in have])
            data[var] = (_stack(sources, var, "time", have)
                         .assign_coords(time=times, epoch=("time", have)))
    ds = xr.Dataset(data)
    if "time" not in ds.coords and epochs:  # a run without per-epoch layers still has its epochs
        ds = ds.assign_coords(time=pd.to_datetime([f"{y}-01-01" for _n, y in epochs]), epoch=("time", names))
    ds.attrs.update(attrs)
    return ds


def sources(path: str | os.PathLike, *, region: str | None = None
            ) -> tuple[dict[str, dict[str, str]], list[tuple[str, int]], dict[str, Any]]:
    """What :func:`open_dataset` reads: ``(layers, epochs, attrs)``.

    ``layers`` maps each variable to ``{epoch or period: source}``, a file or, for a whole
    batch, a VRT mosaic of the regions' files (both open with rasterio and GDAL).
    """
    from .runstate import require_complete

    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder")
    if folder_kind(folder) == "run":
        if region is not None:
            raise ConfigError(f"{folder}: region={region!r} is for a batch folder; this is a run folder")
        require_complete(folder)
        if not (folder / "summary.json").exists():
            raise ConfigError(f"{folder}: not a run folder (no summary.json) nor a batch folder "
                              "(no batch_summary.csv)")
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        return run_layers(folder), _epochs(folder), {"title": f"sinks run {summary.get('name', folder.name)}",
                                                     "sinks_path": str(folder), "sinks_kind": "run"}
    regions = batch_regions(folder)
    if region is not None:
        if str(region) not in regions:
            known = ", ".join(list(regions)[:10]) + (" ..." if len(regions) > 10 else "")
            raise ConfigError(f"{folder}: no finished region {region!r} (finished: {known or 'none'})")
        run = regions[str(region)]
        require_complete(run)
        return run_layers(run), _epochs(run), {"title": f"sinks batch '{folder.name}', region {region}",
                                               "sinks_path": str(folder), "sinks_kind": "batch-region",
                                               "region": str(region)}
    if not regions:
        raise ConfigError(f"{folder}: the batch has no finished region")
    runs = list(regions.values())
    per_run = [run_layers(r) for r in runs]
    layers: dict[str, dict[str, str]] = {}
    for var in per_run[0]:
        for key in per_run[0][var]:
            files = [lay[var][key] for lay in per_run if key in lay.get(var, {})]
            layers.setdefault(var, {})[key] = mosaic_vrt(files)
    return layers, _epochs(runs[0]), {"title": f"sinks batch '{folder.name}', {len(runs)} regions",
                                      "sinks_path": str(folder), "sinks_kind": "batch"}


def open_dataset(path: str | os.PathLike, *, region: str | None = None) -> Any:
    """The layers of a run or batch folder as one lazy :class:`xarray.Dataset`.

    Parameters
    ----------
    path : path
        A folder written by ``sinks run`` or ``sinks batch``.
    region : str, optional
        In a batch folder, the region id to open (its own run); without it every
        finished region, mosaicked.  Not allowed for a run folder.

    Returns
    -------
    xarray.Dataset
        See the module notes; ``attrs["sinks_path"]``, ``attrs["sinks_kind"]`` (``run``,
        ``batch-region``, ``batch``) and ``attrs["region"]`` let the ``sinks`` accessor find
        the tables.

    Raises
    ------
    ConfigError
        Not a run or batch folder, an unknown region, a batch without a finished region.
    IncompleteRunError
        A run that did not finish.
    """
    layers, epochs, attrs = sources(path, region=region)
    return _dataset(layers, epochs, attrs)


def batch_regions(batch: str | os.PathLike) -> dict[str, Path]:
    """``{region id: folder}`` of the regions of a batch whose status is ``done``."""
    batch = Path(batch)
    table = read_csv(batch / "batch_summary.csv", dtype={0: str})
    id_field = table.columns[0]
    out = {}
    for _i, row in table.iterrows():
        if row["status"] != "done":
            continue
        folder = batch / str(row.get("folder") or f"regions/{row[id_field]}")
        if (folder / "summary.json").exists():
            out[str(row[id_field])] = folder
    return out


def mosaic_vrt(files: list[str]) -> str:
    """A GDAL VRT (XML text, opened as a file name) mosaicking ``files`` onto their common grid.

    The files share a CRS, resolution and pixel lattice (the regions of one batch); their
    nodata pixels are transparent, so each region shows inside its own polygon.
    """
    import rasterio

    infos = []
    for f in files:
        with rasterio.open(f) as ds:
            infos.append((f, ds.transform, ds.width, ds.height, ds.nodata, ds.dtypes[0], ds.crs))
    t0 = infos[0][1]
    rx, ry = t0.a, t0.e
    left = min(t.c for _f, t, *_ in infos)
    top = max(t.f for _f, t, *_ in infos)
    right = max(t.c + w * rx for _f, t, w, *_ in infos)
    bottom = min(t.f + h * ry for _f, t, _w, h, *_ in infos)
    width, height = round((right - left) / rx), round((bottom - top) / ry)
    nodata = infos[0][4]
    nd = "nan" if nodata is not None and nodata != nodata else (repr(nodata) if nodata is not None else None)
    gdal_type = {"uint8": "Byte", "float32": "Float32", "float64": "Float64", "int16": "Int16",
                 "uint16": "UInt16", "int32": "Int32"}[infos[0][5]]
    srcs = []
    for f, t, w, h, *_ in infos:
        xo, yo = round((t.c - left) / rx), round((t.f - top) / ry)
        srcs.append(f'<ComplexSource><SourceFilename relativeToVRT="0">{escape(f)}</SourceFilename>'
                    f'<SourceBand>1</SourceBand><SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
                    f'<DstRect xOff="{xo}" yOff="{yo}" xSize="{w}" ySize="{h}"/>'
                    + (f"<NODATA>{nd}</NODATA>" if nd is not None else "") + "</ComplexSource>")
    return (f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><SRS>{escape(infos[0][6].to_wkt())}</SRS>'
            f"<GeoTransform>{left!r}, {rx!r}, 0, {top!r}, 0, {ry!r}</GeoTransform>"
            f'<VRTRasterBand dataType="{gdal_type}" band="1">'
            + (f"<NoDataValue>{nd}</NoDataValue>" if nd is not None else "")
            + "".join(srcs) + "</VRTRasterBand></VRTDataset>")
