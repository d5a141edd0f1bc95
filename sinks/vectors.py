"""Reading and writing vector data: zones, regions, reference and training samples.

:func:`read_vector` is the one entry point every stage uses for polygons and points.
It reads any GDAL-readable format through pyogrio (GeoPackage, Shapefile, GeoJSON,
FlatGeobuf, ...), GeoParquet through :func:`geopandas.read_parquet`, and PostGIS
tables or queries from ``postgresql://`` URLs (:mod:`sinks.postgis`), then checks what downstream code
relies on, with one-line :class:`~sinks.errors.VectorError` messages naming the
file:

* the file exists, is readable and has at least one feature;
* it has a CRS (unless ``require_crs=False``);
* the id field exists (the message lists the available fields) and its values are
  present, not blank and unique;
* invalid geometries are repaired with :func:`shapely.make_valid`
  (:class:`~sinks.errors.GeometryRepairedWarning` names the features);
* the data are reprojected to ``target_crs`` with an INFO log line naming both CRSs.

:func:`write_vector` writes GeoPackage, GeoParquet, FlatGeobuf, GeoJSON or CSV
(geometry as WKT, or none) under a temporary name with the final extension and
renames it when complete.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import shapely

from .errors import ConfigError, GeometryRepairedWarning, SinksWarning, VectorError
from .outputs import ensure_writable, writing
from .postgis import POSTGIS_PREFIXES

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["read_vector", "write_vector", "vector_fields", "POSTGIS_PREFIXES"]

log = logging.getLogger("sinks")


_PARQUET_SUFFIXES = (".parquet", ".geoparquet")
_WRITE_DRIVERS = {
    ".gpkg": "GPKG",
    ".fgb": "FlatGeobuf",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
}
_MAX_NAMED = 5


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------
def read_vector(
    path_or_source: "str | os.PathLike | gpd.GeoDataFrame",
    *,
    layer: str | None = None,
    id_field: str | None = None,
    target_crs: Any = None,
    require_crs: bool = True,
    what: str = "zones",
    require_fields: Sequence[str] = (),
    columns: Sequence[str] | None = None,
    keep_empty: bool = False,
) -> "gpd.GeoDataFrame":
    """Read a vector source and check it for the stages that use it.

    Parameters
    ----------
    path_or_source : str, path-like or geopandas.GeoDataFrame
        A file GDAL can read (``.gpkg``, ``.shp``, ``.geojson``, ``.fgb`` ...), a
        GeoParquet file (``.parquet``), a ``postgresql://user@host/db`` URL (``layer``
        then names the table, ``schema.table``, or holds a ``SELECT`` query), or an
        in-memory GeoDataFrame (checked the same way; not modified).
    layer : str, optional
        Layer of a multi-layer file (GeoPackage); table or SQL for PostGIS.
    id_field : str, optional
        Field whose values identify features; must exist, be non-null and unique.
    target_crs : CRS-like, optional
        Reproject to this CRS (rasterio or pyproj CRS, ``"EPSG:32649"``, WKT ...)
        when it differs, logging both CRSs at INFO level.
    require_crs : bool
        Raise :class:`VectorError` when the source has no CRS.
    what : str
        What the vector is (``"zones"``, ``"reference"``, ``"regions"``); used in
        messages.
    require_fields : sequence of str
        Further fields that must exist (for instance a label field).
    columns : sequence of str, optional
        Read only these attribute columns (plus geometry); fields named in
        ``id_field``/``require_fields`` are added.
    keep_empty : bool
        Keep features whose geometry is null or empty (a batch lists them with status
        ``empty geometry``) instead of dropping them with a warning.

    Returns
    -------
    geopandas.GeoDataFrame
        Features with valid geometries, in ``target_crs`` when given.  Features
        without geometry are dropped with a warning (kept with ``keep_empty``).

    Raises
    ------
    VectorError
        Missing, unreadable or empty source, no CRS, missing field, null or
        duplicate ids.  Each message is one line naming the source.
    """
    wanted = [f for f in (id_field, *require_fields) if f]
    if columns is not None:
        columns = list(dict.fromkeys([*columns, *wanted]))

    if isinstance(path_or_source, gpd.GeoDataFrame):
        name = "<GeoDataFrame>"
        gdf = path_or_source.copy()
    else:
        src = os.fspath(path_or_source)
        if src.lower().startswith(POSTGIS_PREFIXES):
            name = _mask_url(src)
            gdf = _read_postgis(src, layer=layer, what=what)
        else:
            name = src
            gdf = _read_file(src, layer=layer, columns=columns, what=what)

    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise VectorError(f"{name}: {what} has no geometry column")
    if len(gdf) == 0:
        raise VectorError(f"{name}: {what} has no features")
    _check_fields(gdf, wanted, name=name, what=what,
                  all_fields=_all_fields(name, layer) if columns is not None and name != "<GeoDataFrame>" else None)

    empty = gdf.geometry.isna() | gdf.geometry.is_empty
    if empty.all() and keep_empty:
        raise VectorError(f"{name}: {what} has no features with a geometry")
    if empty.any() and not keep_empty:
        labels = _labels(gdf[empty], id_field)
        warnings.warn(f"{name}: dropped {int(empty.sum())} {what} feature(s) without geometry: {labels}",
                      SinksWarning, stacklevel=2)
        gdf = gdf[~empty]
        if len(gdf) == 0:
            raise VectorError(f"{name}: {what} has no features with a geometry")

    if id_field:
        _check_ids(gdf, id_field, name=name, what=what)

    if gdf.crs is None:
        if require_crs:
            raise VectorError(f"{name}: {what} has no CRS; assign one (e.g. ogr2ogr -a_srs EPSG:4326)")
    elif target_crs is not None:
        gdf = _reproject(gdf, target_crs, name=name, what=what)

    return _repair(gdf, id_field=id_field, name=name, what=what)


def vector_fields(path: str | os.PathLike, *, layer: str | None = None) -> list[str]:
    """Attribute field names of a vector file (without reading its features)."""
    src = os.fspath(path)
    if src.lower().endswith(_PARQUET_SUFFIXES):
        import pyarrow.parquet as pq

        return [f for f in pq.read_schema(src).names if f != "geometry"]
    return [str(f) for f in pyogrio.read_info(src, layer=layer)["fields"]]


def _read_file(src: str, *, layer: str | None, columns: list[str] | None, what: str) -> "gpd.GeoDataFrame":
    local = "://" not in src and not src.startswith("/vsi")
    if local and not Path(src).exists():
        raise VectorError(f"{src}: {what} file not found")
    if local and not Path(src).is_dir() and not Path(src).is_file():  # a FIFO would block the reader
        raise VectorError(f"{src}: {what} is not a regular file")
    if local and Path(src).is_dir() and not src.lower().endswith((".gdb", ".shp")):
        # a folder of shapefiles is a valid OGR source, but usually a mistake
        if not any(Path(src).glob("*.shp")):
            raise VectorError(f"{src}: {what} is a folder, not a vector file")
    try:
        if src.lower().endswith(_PARQUET_SUFFIXES):
            if layer:
                log.debug("%s: layer %r ignored for GeoParquet", src, layer)
            return gpd.read_parquet(src, columns=_parquet_columns(src, columns))
        if layer is None:
            layers = pyogrio.list_layers(src)
            if len(layers) > 1:
                log.info("%s: %d layers; reading the first, %r (pass a layer to choose)", src, len(layers),
                         str(layers[0][0]))
                layer = str(layers[0][0])
        elif layer not in {str(row[0]) for row in pyogrio.list_layers(src)}:
            names = ", ".join(str(row[0]) for row in pyogrio.list_layers(src))
            raise VectorError(f"{src}: {what} has no layer {layer!r}; layers: {names}")
        kwargs: dict[str, Any] = {}
        if src.lower().endswith(".csv"):
            kwargs.update(GEOM_POSSIBLE_NAMES="geometry,wkt,geom", KEEP_GEOM_COLUMNS="NO",
                          X_POSSIBLE_NAMES="x,lon,longitude", Y_POSSIBLE_NAMES="y,lat,latitude")
        if columns is not None:
            fields = set(vector_fields(src, layer=layer))
            kwargs["columns"] = [c for c in columns if c in fields]
        return gpd.read_file(src, layer=layer, engine="pyogrio", **kwargs)
    except VectorError:
        raise
    except Exception as exc:  # pyogrio DataSourceError, ArrowInvalid, OSError ...
        raise VectorError(f"{src}: cannot read {what}: {_one_line(exc)}") from None


def _parquet_columns(src: str, columns: list[str] | None) -> list[str] | None:
    if columns is None:
        return None
    import pyarrow.parquet as pq

    names = pq.read_schema(src).names
    geo = [n for n in names if n in ("geometry", "geom", "wkb_geometry")]
    return [c for c in columns if c in names] + geo[:1]


def _read_postgis(url: str, *, layer: str | None, what: str) -> "gpd.GeoDataFrame":
    """A PostGIS table or query (see :mod:`sinks.postgis`: quoted names, one read-only statement)."""
    from .postgis import read_postgis

    return read_postgis(url, layer=layer, what=what)


def _mask_url(url: str) -> str:
    from .postgis import mask_url

    return mask_url(url)


def _all_fields(src: str, layer: str | None) -> list[str] | None:
    """Every field of a file (``columns`` hides some from the frame); ``None`` if unknown."""
    try:
        return vector_fields(src, layer=layer)
    except Exception:  # noqa: BLE001 - only used to list fields in a message
        return None


def _check_fields(gdf: "gpd.GeoDataFrame", fields: Sequence[str], *, name: str, what: str,
                  all_fields: list[str] | None = None) -> None:
    geom = gdf.geometry.name
    available = all_fields if all_fields is not None else [str(c) for c in gdf.columns if c != geom]
    for f in fields:
        if f not in gdf.columns or f == geom:
            listing = ", ".join(available) if available else "(none)"
            raise VectorError(f"{name}: {what} has no field {f!r}; available fields: {listing}")


def _check_ids(gdf: "gpd.GeoDataFrame", id_field: str, *, name: str, what: str) -> None:
    ids = gdf[id_field]
    missing = ids.isna()
    if missing.any():
        raise VectorError(f"{name}: {int(missing.sum())} {what} feature(s) have no {id_field!r} value "
                          f"(rows {_few([str(i) for i in gdf.index[missing]])})")
    blank = ids.map(lambda v: isinstance(v, str) and not v.strip())
    if blank.any():
        shown = [f"{v!r} (row {i})" for i, v in zip(gdf.index[blank], ids[blank])]
        raise VectorError(f"{name}: {int(blank.sum())} {what} feature(s) have a blank {id_field!r} value: "
                          f"{_few(shown)}")
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        values = [repr(v.item() if hasattr(v, "item") else v) for v in dict.fromkeys(dup.tolist())]
        raise VectorError(f"{name}: duplicate {id_field!r} values in {what}: {_few(values)}")


def _few(items: Sequence[str], limit: int = _MAX_NAMED) -> str:
    items = list(items)
    head = ", ".join(items[:limit])
    return head + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _labels(gdf: "gpd.GeoDataFrame", id_field: str | None) -> str:
    if id_field and id_field in gdf.columns:
        return _few([f"{id_field}={v!r}" for v in gdf[id_field].tolist()])
    return _few([f"index {i}" for i in gdf.index.tolist()])


def _to_pyproj(crs: Any) -> Any:
    if isinstance(crs, pyproj.CRS):
        return crs
    if hasattr(crs, "to_wkt"):  # rasterio CRS
        return pyproj.CRS.from_wkt(crs.to_wkt())
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise ConfigError(f"invalid target CRS {crs!r}: {_one_line(exc)}") from None


def _crs_name(crs: Any) -> str:
    auth = crs.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else (crs.name or crs.to_string())


def _reproject(gdf: "gpd.GeoDataFrame", target_crs: Any, *, name: str, what: str) -> "gpd.GeoDataFrame":
    dst = _to_pyproj(target_crs)
    src = gdf.crs
    if src.equals(dst, ignore_axis_order=True):
        return gdf
    log.info("%s: reprojecting %s from %s to %s", name, what, _crs_name(src), _crs_name(dst))
    try:
        return gdf.to_crs(dst)
    except Exception as exc:
        raise VectorError(f"{name}: cannot reproject {what} from {_crs_name(src)} to {_crs_name(dst)}: "
                          f"{_one_line(exc)}") from None


def _repair(gdf: "gpd.GeoDataFrame", *, id_field: str | None, name: str, what: str) -> "gpd.GeoDataFrame":
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    bad = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if not bad.any():
        return gdf
    bad_rows = gdf[bad]
    reasons = shapely.is_valid_reason(geoms[bad])
    new = np.array(geoms, dtype=object)
    new[bad] = [_keep_dimension(shapely.make_valid(g), g) for g in geoms[bad]]
    gdf = gdf.copy()
    gdf[gdf.geometry.name] = gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs)
    labels = _labels(bad_rows, id_field)
    warnings.warn(f"{name}: repaired {int(bad.sum())} invalid {what} geometr{'y' if bad.sum() == 1 else 'ies'}: "
                  f"{labels} ({reasons[0]})", GeometryRepairedWarning, stacklevel=3)
    return gdf


def _keep_dimension(fixed: Any, original: Any) -> Any:
    """Keep the parts of ``fixed`` with the dimension of ``original`` (polygons stay polygons)."""
    dim = shapely.get_dimensions(original)
    if fixed.geom_type != "GeometryCollection":
        if dim == 2 and shapely.get_dimensions(fixed) < 2:  # a polygon with no area: an empty zone, not a line
            return shapely.Polygon()
        return fixed
    parts = [p for p in shapely.get_parts(fixed) if shapely.get_dimensions(p) == dim]
    if not parts:
        return shapely.Polygon() if dim == 2 else fixed
    if len(parts) == 1:
        return parts[0]
    if dim == 2:
        return shapely.MultiPolygon([q for p in parts for q in shapely.get_parts(p)])
    if dim == 1:
        return shapely.MultiLineString([q for p in parts for q in shapely.get_parts(p)])
    return shapely.MultiPoint([q for p in parts for q in shapely.get_parts(p)])


def _one_line(exc: BaseException) -> str:
    return " ".join((str(exc).strip() or type(exc).__name__).split())


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------
@contextlib.contextmanager
def _atomic_vector_path(final: str | os.PathLike, *, overwrite: bool) -> Iterator[Path]:
    """Like :func:`sinks.outputs.atomic_path`, but the temporary name keeps the extension.

    GDAL picks drivers by extension, so the temporary file of ``a/b.gpkg`` is
    ``a/.b.part-<pid>-<hex>.gpkg``.  Sidecar files GDAL leaves next to it
    (``-wal``, ``-shm``, ``-journal``) are removed with it.
    """
    final = Path(final)
    ensure_writable([final], overwrite=overwrite)
    with writing(final):
        final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.part-{os.getpid()}-{uuid.uuid4().hex[:8]}{final.suffix}")
    try:
        with writing(final):
            yield tmp
            os.replace(tmp, final)
    finally:
        for p in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-wal", "-shm", "-journal"))):
            if p.exists():
                with contextlib.suppress(OSError):
                    p.unlink()


def write_vector(
    gdf: "gpd.GeoDataFrame | pd.DataFrame",
    path: str | os.PathLike,
    *,
    overwrite: bool,
    layer: str | None = None,
    csv_geometry: bool = True,
) -> Path:
    """Write a (Geo)DataFrame atomically, choosing the format by extension.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or pandas.DataFrame
        Features; a plain DataFrame only for ``.csv``.
    path : str or path-like
        ``.gpkg`` (GeoPackage), ``.parquet``/``.geoparquet`` (GeoParquet), ``.fgb``
        (FlatGeobuf), ``.geojson``/``.json`` (GeoJSON) or ``.csv``.
    overwrite : bool
        Replace an existing file; otherwise raise :class:`~sinks.errors.OutputExistsError`.
    layer : str, optional
        GeoPackage layer name (default: the file stem).
    csv_geometry : bool
        For ``.csv``: write the geometry as a WKT column named ``geometry``
        (default) or drop it.  Text cells that a spreadsheet would run as a formula
        are escaped (:mod:`sinks.csvio`); other formats keep the raw values.

    Notes
    -----
    Row order is kept in every format (FlatGeobuf is written without its spatial
    index, which would reorder the features).

    Returns
    -------
    pathlib.Path
        The final path.

    Raises
    ------
    ConfigError
        Unsupported extension (Shapefiles are refused: several files cannot be
        renamed atomically), or a plain DataFrame for a spatial format.
    """
    final = Path(path)
    suffix = final.suffix.lower()
    is_geo = isinstance(gdf, gpd.GeoDataFrame) and gdf.geometry.name in gdf.columns
    if suffix == ".shp":
        raise ConfigError(f"{final}: Shapefile output is not supported (several files); use .gpkg or .parquet")
    if suffix not in (*_WRITE_DRIVERS, *_PARQUET_SUFFIXES, ".csv"):
        known = ", ".join(sorted({*_WRITE_DRIVERS, *_PARQUET_SUFFIXES, ".csv"}))
        raise ConfigError(f"{final}: unknown vector format {suffix or '(no extension)'!r}; use one of {known}")
    if suffix != ".csv" and not is_geo:
        raise ConfigError(f"{final}: {suffix} output needs a GeoDataFrame with a geometry column")

    with _atomic_vector_path(final, overwrite=overwrite) as tmp:
        if suffix == ".csv":
            import pandas as pd

            table = pd.DataFrame(gdf).copy()
            if is_geo:
                geom = gdf.geometry.name
                if csv_geometry:
                    table[geom] = gdf.geometry.to_wkt().to_numpy()
                    table = table.rename(columns={geom: "geometry"})
                else:
                    table = table.drop(columns=[geom])
            from .csvio import to_csv

            to_csv(table, tmp)
        elif suffix in _PARQUET_SUFFIXES:
            gdf.to_parquet(tmp, index=False)
        else:
            kwargs: dict[str, Any] = {}
            if suffix == ".gpkg":
                kwargs["layer"] = layer or final.stem
            elif suffix == ".fgb":
                kwargs["SPATIAL_INDEX"] = "NO"  # keep the row order of the table
            gdf.to_file(tmp, driver=_WRITE_DRIVERS[suffix], engine="pyogrio", **kwargs)
            if suffix == ".gpkg":  # readable field aliases for QGIS (stock_mg_c_total_2015 -> carbon stock ...)
                from .qgis import gpkg_field_aliases

                gpkg_field_aliases(tmp, kwargs["layer"], [str(c) for c in gdf.columns])
    log.info("wrote %s (%d features)", final, len(gdf))
    return final
