"""PostGIS sources and targets: tables and queries read safely, batch tables written safely.

Reading (:func:`read_postgis`)
    ``layer`` names a table (``table`` or ``schema.table``) or holds a ``SELECT`` /
    ``WITH`` query.  Table names are quoted by the driver (:class:`psycopg.sql.Identifier`),
    so a name is only ever a name.  Everything runs in a read-only transaction, and the
    statement is sent as a server-side prepared statement, which PostgreSQL accepts only
    when it holds exactly one statement: ``SELECT 1; DROP TABLE t`` is refused, and a
    data-modifying ``WITH`` fails on the read-only transaction.

Writing (:func:`write_postgis`)
    The batch table replaces an existing table only with ``overwrite``, and never the
    table the regions were read from (:func:`check_target`).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, VectorError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

__all__ = ["POSTGIS_PREFIXES", "is_postgis", "mask_url", "is_query", "split_table", "read_postgis",
           "table_exists", "check_target", "write_postgis"]

log = logging.getLogger("sinks")

#: URL prefixes of PostGIS sources and targets.
POSTGIS_PREFIXES: tuple[str, ...] = ("postgresql://", "postgres://", "postgresql+psycopg://",
                                     "postgresql+psycopg2://")

_QUERY = re.compile(r"^\s*(select|with)\s", flags=re.IGNORECASE)
_GEOM_HINT = re.compile(r"--\s*geom\s*=\s*(\w+)")


def is_postgis(source: str) -> bool:
    """Whether ``source`` is a PostGIS URL."""
    return source.lower().startswith(POSTGIS_PREFIXES)


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def is_query(layer: str) -> bool:
    """Whether a PostGIS ``layer`` is a ``SELECT``/``WITH`` query rather than a table name."""
    return bool(_QUERY.match(layer))


def split_table(name: str) -> tuple[str, str]:
    """``"schema.table"`` → ``("schema", "table")``; a bare name is in ``public``."""
    schema, _, table = name.rpartition(".")
    return schema or "public", table


def _libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://``) as a libpq one (``postgresql://``)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url, flags=re.IGNORECASE)


def _sqlalchemy_url(url: str) -> str:
    """A PostGIS URL for SQLAlchemy, on the psycopg (3) driver that the ``postgis`` extra installs."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", url, flags=re.IGNORECASE)


def _psycopg(name: str) -> Any:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - optional extra
        raise ConfigError(f"{name}: PostGIS needs psycopg (pip install 'sinks[postgis]')") from None
    return psycopg


def _one_line(exc: BaseException) -> str:
    return " ".join((str(exc).strip() or type(exc).__name__).split())


def read_postgis(url: str, *, layer: str | None, what: str = "zones") -> "gpd.GeoDataFrame":
    """Read a PostGIS table or query into a GeoDataFrame (see the module notes).

    Parameters
    ----------
    url : str
        ``postgresql://user@host:port/db`` (a SQLAlchemy ``+driver`` suffix is accepted).
    layer : str
        ``table``, ``schema.table``, or a ``SELECT``/``WITH`` query (one statement; a
        ``-- geom=column`` comment chooses its geometry column, otherwise the first one).
    what : str
        What the data are, for messages.

    Raises
    ------
    ConfigError
        No layer, or psycopg is missing.
    VectorError
        No such table, a query that is not one read-only statement, no geometry
        column, or any other database error; one line naming the (masked) URL.
    """
    import geopandas as gpd
    import pandas as pd
    import shapely

    name = mask_url(url)
    if not layer:
        raise ConfigError(f"{name}: a PostGIS {what} source needs a layer (table name or SELECT query)")
    psycopg = _psycopg(name)
    from psycopg import sql

    try:
        with psycopg.connect(_libpq_url(url)) as conn:
            conn.read_only = True  # every transaction of this connection: SET TRANSACTION READ ONLY
            if is_query(layer):
                m = _GEOM_HINT.search(layer)
                hint = m.group(1) if m else None
                query: Any = layer
            else:
                schema, table = split_table(layer)
                row = conn.execute("SELECT f_geometry_column FROM geometry_columns "
                                   "WHERE f_table_schema = %s AND f_table_name = %s LIMIT 1",
                                   (schema, table)).fetchone()
                if row is None:
                    raise VectorError(f"{name}: no PostGIS table {schema}.{table} with a geometry column for {what}")
                hint = str(row[0])
                query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, table))
            geo_oids = {int(r[0]) for r in conn.execute(
                "SELECT oid FROM pg_type WHERE typname IN ('geometry', 'geography')")}
            with conn.cursor() as cur:
                # a prepared statement holds exactly one statement: "...; DROP TABLE x" is refused
                cur.execute(query, prepare=True)
                desc = cur.description or []
                columns = [d.name for d in desc]
                geom_cols = [d.name for d in desc if int(d.type_code) in geo_oids]
                rows = cur.fetchall()
    except (VectorError, ConfigError):
        raise
    except psycopg.Error as exc:
        raise VectorError(f"{name}: cannot read {what} from PostGIS: {_one_line(exc)}") from None
    if not geom_cols:
        raise VectorError(f"{name}: the {what} {'query' if is_query(layer) else 'table'} returns no geometry column")
    geom_col = hint if hint in geom_cols else geom_cols[0]
    df = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
    values = df[geom_col].to_numpy(dtype=object)
    try:
        geoms = shapely.from_wkb(values)
    except Exception as exc:  # noqa: BLE001 - shapely raises GEOSException and others
        raise VectorError(f"{name}: {what}: column {geom_col!r} does not hold geometries ({_one_line(exc)})") from None
    srids = shapely.get_srid(geoms[~shapely.is_missing(geoms)]) if len(geoms) else []
    srid = int(srids[0]) if len(srids) else 0
    df[geom_col] = gpd.GeoSeries(geoms, index=df.index)
    return gpd.GeoDataFrame(df, geometry=geom_col, crs=f"EPSG:{srid}" if srid > 0 else None)


def _database(url: str) -> tuple[str, str, str]:
    """(host, port, database) a URL connects to, for comparing two URLs."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(_libpq_url(url))
    return (str(info.get("host") or "localhost"), str(info.get("port") or "5432"), str(info.get("dbname") or ""))


def table_exists(url: str, table: str) -> bool:
    """Whether ``table`` (``name`` or ``schema.name``) exists in the database at ``url``."""
    name = mask_url(url)
    psycopg = _psycopg(name)
    schema, bare = split_table(table)
    try:
        with psycopg.connect(_libpq_url(url)) as conn:
            conn.read_only = True
            row = conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                               (schema, bare)).fetchone()
    except psycopg.Error as exc:
        raise VectorError(f"{name}: cannot connect to PostGIS: {_one_line(exc)}") from None
    return row is not None


def check_target(url: str, table: str, *, overwrite: bool, regions: str | None = None,
                 regions_layer: str | None = None) -> None:
    """Refuse a PostGIS target table before any work is done.

    Raises
    ------
    ConfigError
        ``table`` is empty or is the table the regions are read from (never replaced,
        even with ``overwrite``: that would destroy the input), or it exists and
        ``overwrite`` is false.
    """
    if not table or not split_table(table)[1]:
        raise ConfigError("--table: give a table name (name or schema.name)")
    target = split_table(table)
    if regions and regions_layer and is_postgis(regions) and _database(regions) == _database(url):
        if is_query(regions_layer):
            words = {w.lower() for w in re.findall(r"[\w$]+", regions_layer)}
            same = target[1].lower() in words
        else:
            same = split_table(regions_layer) == target
        if same:
            raise ConfigError(f"--table {table}: the regions are read from this table; "
                              "choose another table for the batch results")
    if table_exists(url, table) and not overwrite:
        raise ConfigError(f"--table {table}: table exists in {mask_url(url)}; pass --overwrite to replace it")


def write_postgis(gdf: "gpd.GeoDataFrame", url: str, table: str, *, overwrite: bool) -> None:
    """Write ``gdf`` to ``table`` (``name`` or ``schema.name``); replace it only with ``overwrite``."""
    try:
        from sqlalchemy import create_engine
    except ImportError:  # pragma: no cover - optional extra
        raise ConfigError(f"{mask_url(url)}: writing PostGIS needs sqlalchemy (pip install 'sinks[postgis]')") from None
    schema, bare = split_table(table)
    engine = create_engine(_sqlalchemy_url(url))
    try:
        gdf.to_postgis(bare, engine, schema=schema, if_exists="replace" if overwrite else "fail", index=False)
    except ValueError as exc:  # geopandas: table exists and if_exists="fail"
        raise ConfigError(f"--table {table}: {_one_line(exc)}; pass --overwrite to replace it") from None
    finally:
        engine.dispose()
    log.info("wrote %d rows to PostGIS table %s.%s", len(gdf), schema, bare)
