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
    got = ctx.cache["aoi"]["regions"]
    assert list(got["region_id"]) == ["R00", "R01", "R02", "R03"]
    assert got.crs.to_epsg() == 32649  # reprojected to the grid CRS
    assert all("postgresql" not in i for i in ctx.inputs)


def test_postgis_bad_table_is_input_error(pg_url):
    from sinks.errors import InputError
    from sinks.vectors import read_vector

    with pytest.raises(InputError) as ei:
        read_vector(pg_url, layer="no_such_table", what="regions")
    assert "no_such_table" in str(ei.value) and "postgres@" in str(ei.value)
