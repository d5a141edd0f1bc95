"""Batch regions read from PostGIS and the batch table written to PostGIS, on a real server.

The server is started on 127.0.0.1 by ``pgserver.postgis_server`` (installed from
Debian's packages when missing); the tests skip with the reason only where that is
impossible.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import yaml

from pgserver import Unavailable, postgis_server
from test_batch import _scene

pytestmark = pytest.mark.postgis


@pytest.fixture(scope="module")
def pg_url():
    try:
        with postgis_server() as url:
            yield url
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL/PostGIS server: {exc}")


def _engine(url: str):
    from sqlalchemy import create_engine

    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def test_batch_regions_from_postgis_and_table_to_postgis(make_tile, tmp_path, pg_url):
    from sinks.cli import main

    spec, regions = _scene(make_tile, tmp_path)
    gdf = gpd.read_file(regions)
    eng = _engine(pg_url)
    gdf.to_postgis("counties", eng, if_exists="replace", index=False)
    out = tmp_path / "pgbatch"
    with pytest.raises(SystemExit) as ei:
        main(["batch", str(spec), "--regions", pg_url, "--layer", "counties", "--id-field", "region_id",
              "--out", str(out), "--to-postgis", pg_url, "--table", "batch_out", "-q"])
    assert ei.value.code == 0
    table = pd.read_csv(out / "batch_summary.csv")
    assert list(table["region_id"]) == ["R00", "R01", "R02", "R03"]
    assert set(table["status"]) == {"done"}
    back = gpd.read_postgis("SELECT * FROM batch_out ORDER BY region_id", eng, geom_col="geometry")
    assert list(back["region_id"]) == list(table["region_id"])
    assert back.crs is not None and len(back) == 4
    # the same ids from a SQL query as the regions source
    out2 = tmp_path / "pgquery"
    with pytest.raises(SystemExit) as ei:
        main(["batch", str(spec), "--regions", pg_url, "--layer",
              "SELECT * FROM counties WHERE region_id IN ('R00', 'R03')", "--id-field", "region_id",
              "--out", str(out2), "-q"])
    assert ei.value.code == 0
    assert list(pd.read_csv(out2 / "batch_summary.csv")["region_id"]) == ["R00", "R03"]


def test_spec_aoi_from_postgis(make_tile, tmp_path, pg_url):
    from sinks.pipeline import prepare
    from sinks.spec import load_spec

    spec_path, regions = _scene(make_tile, tmp_path)
    gpd.read_file(regions).to_postgis("regions_aoi", _engine(pg_url), if_exists="replace", index=False)
    data = yaml.safe_load(spec_path.read_text())
    data["aoi"] = {"regions": {"path": pg_url, "layer": "regions_aoi", "id_field": "region_id"}}
    spec_path.write_text(yaml.safe_dump(data))
    spec, path = load_spec(spec_path)
    ctx = prepare(spec, spec_path=path, out=tmp_path / "o", overwrite=True)
    got = ctx.aoi.regions
    assert list(got["region_id"]) == ["R00", "R01", "R02", "R03"]
    assert got.crs.to_epsg() == 32649  # reprojected to the grid CRS
    assert all("postgresql" not in i for i in ctx.inputs)


def test_postgis_bad_table_is_input_error(pg_url):
    from sinks.errors import InputError
    from sinks.vectors import read_vector

    with pytest.raises(InputError) as ei:
        read_vector(pg_url, layer="no_such_table", what="regions")
    assert "no_such_table" in str(ei.value) and "postgres@" in str(ei.value)


# --------------------------------------------------------------------------------------
# hostile table names and queries (issue: SQL injection through PostGIS table names)
# --------------------------------------------------------------------------------------
def _sql(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        for s in statements:
            conn.execute(s)


def _count(url: str, table: str) -> int | None:
    import psycopg

    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
            return None
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.fixture()
def victim(pg_url):
    """A table an attacker would like to drop, a secret one would like to read, and a polygon table ``r``."""
    _sql(pg_url, "DROP TABLE IF EXISTS victim", "CREATE TABLE victim (id int)", "INSERT INTO victim VALUES (1), (2)",
         "DROP TABLE IF EXISTS secrets", "CREATE TABLE secrets (v text)", "INSERT INTO secrets VALUES ('s3cr3t-value')",
         "DROP TABLE IF EXISTS r", "CREATE TABLE r (region_id text, geom geometry(Polygon, 4326))",
         "INSERT INTO r VALUES ('A', ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 1,0 0))', 4326))")
    yield pg_url
    assert _count(pg_url, "victim") == 2  # nothing dropped or deleted, whatever the test sent


def test_table_name_cannot_run_sql(victim):
    """A name that closes the quote and appends statements names a table, nothing more."""
    from sinks.errors import InputError
    from sinks.vectors import read_vector

    evil = 'r"; COMMIT; DROP TABLE victim; --'
    with pytest.raises(InputError) as ei:  # no such table: one line naming it
        read_vector(victim, layer=evil, what="regions")
    assert "no PostGIS table public." in str(ei.value)
    # even when a table of that very name exists, it is read as that table
    _sql(victim, 'CREATE TABLE "r""; COMMIT; DROP TABLE victim; --" (region_id text, geom geometry(Point, 4326))',
         """INSERT INTO "r""; COMMIT; DROP TABLE victim; --" VALUES ('odd', ST_SetSRID(ST_MakePoint(1, 2), 4326))""")
    try:
        got = read_vector(victim, layer=evil, what="regions")
        assert list(got["region_id"]) == ["odd"] and got.crs.to_epsg() == 4326
        # schema-qualified names are quoted too
        got = read_vector(victim, layer="public.r", what="regions")
        assert list(got["region_id"]) == ["A"]
    finally:
        _sql(victim, 'DROP TABLE "r""; COMMIT; DROP TABLE victim; --"')


def test_table_name_cannot_leak_rows(victim):
    from sinks.errors import InputError
    from sinks.vectors import read_vector

    evil = 'r" UNION SELECT v, NULL FROM secrets --'
    with pytest.raises(InputError) as ei:
        read_vector(victim, layer=evil, what="regions")
    assert "s3cr3t-value" not in str(ei.value)


@pytest.mark.parametrize("query", [
    "SELECT * FROM r; DROP TABLE victim",
    "SELECT * FROM r; COMMIT; DROP TABLE victim; --",
    "WITH d AS (DELETE FROM victim RETURNING *) SELECT r.* FROM r, d",
    "WITH d AS (DELETE FROM victim RETURNING *) SELECT r.* FROM r, d -- geom=geom",
    "SELECT * FROM r; COMMIT; DROP TABLE victim; -- geom=geom",
    "SELECT *, (SELECT count(*) FROM (SELECT 1) s) FROM r; INSERT INTO victim VALUES (3)",
])
def test_query_is_one_read_only_statement(victim, query):
    from sinks.errors import InputError
    from sinks.vectors import read_vector

    with pytest.raises(InputError) as ei:
        read_vector(victim, layer=query, what="regions")
    assert "cannot read regions from PostGIS" in str(ei.value)


def test_query_reads_with_percent_and_geometry_hint(victim):
    from sinks.vectors import read_vector

    got = read_vector(victim, layer="SELECT region_id, geom AS g2, geom FROM r WHERE region_id LIKE 'A%' -- geom=geom",
                      what="regions")
    assert list(got["region_id"]) == ["A"] and got.geometry.name == "geom" and got.crs.to_epsg() == 4326
    got = read_vector(victim, layer="WITH x AS (SELECT * FROM r) SELECT * FROM x", what="regions")
    assert len(got) == 1


# --------------------------------------------------------------------------------------
# --to-postgis --table never replaces a table without --overwrite, never the regions' table
# --------------------------------------------------------------------------------------
def test_to_postgis_refuses_existing_table_and_the_regions_table(make_tile, tmp_path, pg_url, capsys):
    from sinks.cli import main

    spec, regions = _scene(make_tile, tmp_path)
    eng = _engine(pg_url)
    gpd.read_file(regions).to_postgis("counties_in", eng, if_exists="replace", index=False)
    _sql(pg_url, "DROP TABLE IF EXISTS results_x", "CREATE TABLE results_x (keep int)", "INSERT INTO results_x VALUES (7)")

    def batch(out: str, *extra: str) -> int:
        with pytest.raises(SystemExit) as ei:
            main(["batch", str(spec), "--regions", pg_url, "--id-field", "region_id", "--out", str(tmp_path / out),
                  "--to-postgis", pg_url, "-q", *extra])
        return ei.value.code

    # an existing table: refused before any region runs, the table untouched
    assert batch("b1", "--layer", "counties_in", "--table", "results_x") == 2
    err = capsys.readouterr().err
    assert "--table results_x: table exists" in err and "--overwrite" in err and err.count("\n") == 1
    assert _count(pg_url, "results_x") == 1 and not (tmp_path / "b1").exists()
    # the regions' own table: refused even with --overwrite (as a table and through a query)
    assert batch("b2", "--layer", "counties_in", "--table", "counties_in", "--overwrite") == 2
    assert "the regions are read from this table" in capsys.readouterr().err
    assert batch("b3", "--layer", "SELECT * FROM public.counties_in WHERE true", "--table", "public.counties_in",
                 "--overwrite") == 2
    assert _count(pg_url, "counties_in") == 4
    # with --overwrite another existing table is replaced; a schema-qualified name lands in that schema
    assert batch("b4", "--layer", "counties_in", "--table", "results_x", "--overwrite") == 0
    assert _count(pg_url, "results_x") == 4
    _sql(pg_url, "CREATE SCHEMA IF NOT EXISTS out_s")
    assert batch("b5", "--layer", "counties_in", "--table", "out_s.results_y") == 0
    assert _count(pg_url, "out_s.results_y") == 4
