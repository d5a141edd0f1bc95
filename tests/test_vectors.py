"""Tests of sinks.vectors: reading checks, repair, reprojection, atomic writing."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from rasterio.crs import CRS
from shapely.geometry import Point, Polygon, box

from sinks.errors import ConfigError, GeometryRepairedWarning, OutputExistsError, SinksWarning, VectorError
from sinks.vectors import _mask_url, read_vector, vector_fields, write_vector

UTM = "EPSG:32649"


def _zones(n: int = 3, *, crs: str | None = UTM, ids: list | None = None) -> gpd.GeoDataFrame:
    ids = ids if ids is not None else [f"z{i}" for i in range(n)]
    geoms = [box(500000 + 100 * i, 2399900, 500100 + 100 * i, 2400000) for i in range(len(ids))]
    return gpd.GeoDataFrame({"zone_id": ids, "value": list(range(len(ids)))}, geometry=geoms, crs=crs)


@pytest.fixture
def sinks_log(caplog: pytest.LogCaptureFixture):
    """Capture records of the 'sinks' logger even when the CLI turned propagation off."""
    logger = logging.getLogger("sinks")
    old_level = logger.level
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.INFO)
    caplog.handler.setLevel(logging.INFO)
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(old_level)


# -- formats --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["z.gpkg", "z.parquet", "z.fgb", "z.geojson"])
def test_write_read_roundtrip(tmp_path: Path, name: str) -> None:
    gdf = _zones()
    out = write_vector(gdf, tmp_path / name, overwrite=False)
    assert out == tmp_path / name and out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary files left
    back = read_vector(out, id_field="zone_id")
    assert list(back["zone_id"]) == ["z0", "z1", "z2"]
    assert back.crs.to_epsg() == 32649
    assert back.geometry.area.tolist() == pytest.approx([10000.0] * 3)


def test_read_shapefile(tmp_path: Path) -> None:
    path = tmp_path / "z.shp"
    _zones().to_file(path, engine="pyogrio")
    back = read_vector(path, id_field="zone_id")
    assert len(back) == 3 and back.crs.to_epsg() == 32649


def test_gpkg_layer_name_is_stem_and_layer_selection(tmp_path: Path) -> None:
    path = write_vector(_zones(), tmp_path / "regions.gpkg", overwrite=False)
    assert vector_fields(path) == ["zone_id", "value"]
    assert len(read_vector(path, layer="regions")) == 3
    with pytest.raises(VectorError, match=r"regions\.gpkg.*no layer 'nope'.*regions"):
        read_vector(path, layer="nope")


def test_write_csv_with_and_without_wkt(tmp_path: Path) -> None:
    gdf = _zones(2)
    write_vector(gdf, tmp_path / "a.csv", overwrite=False)
    write_vector(gdf, tmp_path / "b.csv", overwrite=False, csv_geometry=False)
    a = pd.read_csv(tmp_path / "a.csv")
    b = pd.read_csv(tmp_path / "b.csv")
    assert list(a.columns) == ["zone_id", "value", "geometry"]
    assert a["geometry"][0].startswith("POLYGON")
    assert list(b.columns) == ["zone_id", "value"]
    write_vector(pd.DataFrame({"x": [1]}), tmp_path / "c.csv", overwrite=False)
    assert pd.read_csv(tmp_path / "c.csv")["x"].tolist() == [1]
    # a WKT CSV reads back (without CRS)
    back = read_vector(tmp_path / "a.csv", require_crs=False)
    assert back.geometry.iloc[0].equals(gdf.geometry.iloc[0])


def test_write_refuses_existing_and_bad_formats(tmp_path: Path) -> None:
    path = write_vector(_zones(), tmp_path / "z.gpkg", overwrite=False)
    with pytest.raises(OutputExistsError, match="z.gpkg"):
        write_vector(_zones(), path, overwrite=False)
    write_vector(_zones(5), path, overwrite=True)
    assert len(read_vector(path)) == 5
    with pytest.raises(ConfigError, match="Shapefile"):
        write_vector(_zones(), tmp_path / "z.shp", overwrite=False)
    with pytest.raises(ConfigError, match="unknown vector format"):
        write_vector(_zones(), tmp_path / "z.xyz", overwrite=False)
    with pytest.raises(ConfigError, match="GeoDataFrame"):
        write_vector(pd.DataFrame({"x": [1]}), tmp_path / "t.gpkg", overwrite=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z.gpkg"]


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", boom)
    with pytest.raises(RuntimeError):
        write_vector(_zones(), tmp_path / "z.gpkg", overwrite=False)
    assert list(tmp_path.iterdir()) == []


# -- errors ---------------------------------------------------------------------------
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VectorError, match=r"nope\.gpkg: zones file not found"):
        read_vector(tmp_path / "nope.gpkg")


def test_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gpkg"
    bad.write_text("not a geopackage")
    with pytest.raises(VectorError, match=r"bad\.gpkg: cannot read reference") as exc:
        read_vector(bad, what="reference")
    assert "\n" not in str(exc.value)
    badpq = tmp_path / "bad.parquet"
    badpq.write_text("nope")
    with pytest.raises(VectorError, match=r"bad\.parquet: cannot read"):
        read_vector(badpq)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.gpkg"
    _zones().iloc[:0].to_file(path, engine="pyogrio")
    with pytest.raises(VectorError, match=r"empty\.gpkg: regions has no features"):
        read_vector(path, what="regions")


def test_no_crs(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.shp"  # no .prj
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _zones(crs=None).to_file(path, engine="pyogrio")
    with pytest.raises(VectorError, match=r"nocrs\.shp: zones has no CRS"):
        read_vector(path)
    assert read_vector(path, require_crs=False).crs is None


def test_missing_id_field_lists_fields(tmp_path: Path) -> None:
    path = write_vector(_zones(), tmp_path / "z.gpkg", overwrite=False)
    with pytest.raises(VectorError, match=r"z\.gpkg: zones has no field 'name'; available fields: zone_id, value"):
        read_vector(path, id_field="name")
    with pytest.raises(VectorError, match="no field 'label'"):
        read_vector(path, require_fields=["label"], what="reference")


def test_duplicate_and_null_ids(tmp_path: Path) -> None:
    path = write_vector(_zones(ids=["a", "b", "a", "c", "c"]), tmp_path / "dup.gpkg", overwrite=False)
    with pytest.raises(VectorError, match=r"dup\.gpkg: duplicate 'zone_id' values in zones: 'a', 'c'"):
        read_vector(path, id_field="zone_id")
    path = write_vector(_zones(ids=["a", None, "b"]), tmp_path / "null.gpkg", overwrite=False)
    with pytest.raises(VectorError, match=r"null\.gpkg: 1 zones feature\(s\) have no 'zone_id'"):
        read_vector(path, id_field="zone_id")


def test_null_geometries_dropped_with_warning(tmp_path: Path) -> None:
    gdf = _zones()
    gdf.loc[1, "geometry"] = None
    path = write_vector(gdf, tmp_path / "z.gpkg", overwrite=False)
    with pytest.warns(SinksWarning, match=r"dropped 1 zones feature\(s\) without geometry: zone_id='z1'"):
        back = read_vector(path, id_field="zone_id")
    assert list(back["zone_id"]) == ["z0", "z2"]


# -- repair and reprojection ----------------------------------------------------------
def test_invalid_geometry_repaired_with_warning(tmp_path: Path) -> None:
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    gdf = gpd.GeoDataFrame({"zone_id": ["ok", "bow"]}, geometry=[box(0, 0, 1, 1), bowtie], crs=UTM)
    path = write_vector(gdf, tmp_path / "z.gpkg", overwrite=False)
    with pytest.warns(GeometryRepairedWarning, match=r"z\.gpkg: repaired 1 invalid zones geometry: zone_id='bow'"):
        back = read_vector(path, id_field="zone_id")
    assert back.geometry.is_valid.all()
    assert back.geometry.iloc[1].geom_type == "MultiPolygon"
    assert back.geometry.iloc[1].area == pytest.approx(50.0)
    # without an id field the warning names the index
    with pytest.warns(GeometryRepairedWarning, match="index 1"):
        read_vector(path)


def test_valid_file_issues_no_warning(tmp_path: Path) -> None:
    path = write_vector(_zones(), tmp_path / "z.gpkg", overwrite=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_vector(path, id_field="zone_id", target_crs=UTM)


def test_reproject_logs_both_crs(tmp_path: Path, sinks_log: pytest.LogCaptureFixture) -> None:
    path = write_vector(_zones().to_crs(4326), tmp_path / "ll.gpkg", overwrite=False)
    back = read_vector(path, target_crs=CRS.from_epsg(32649), what="regions")
    assert back.crs.to_epsg() == 32649
    assert back.geometry.area.tolist() == pytest.approx([10000.0] * 3, rel=1e-6)
    msgs = [r.getMessage() for r in sinks_log.records if r.levelno == logging.INFO]
    assert any("ll.gpkg" in m and "EPSG:4326" in m and "EPSG:32649" in m and "regions" in m for m in msgs), msgs
    # same CRS: no reprojection, no log line
    sinks_log.clear()
    read_vector(path, target_crs="EPSG:4326")
    assert not [r for r in sinks_log.records if "reprojecting" in r.getMessage()]


def test_geodataframe_input_is_checked_not_modified() -> None:
    gdf = _zones()
    back = read_vector(gdf, id_field="zone_id", target_crs="EPSG:4326")
    assert back.crs.to_epsg() == 4326 and gdf.crs.to_epsg() == 32649
    with pytest.raises(VectorError, match="<GeoDataFrame>: duplicate"):
        read_vector(_zones(ids=["a", "a"]), id_field="zone_id")


def test_points_and_columns(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"label": ["forest", "water"], "other": [1, 2], "x": [0, 0]},
                           geometry=[Point(1, 1), Point(2, 2)], crs=UTM)
    path = write_vector(gdf, tmp_path / "p.parquet", overwrite=False)
    back = read_vector(path, columns=["label"])
    assert "other" not in back.columns and "label" in back.columns
    path2 = write_vector(gdf, tmp_path / "p.gpkg", overwrite=False)
    back2 = read_vector(path2, columns=[], require_fields=["label"])
    assert list(back2.columns) == ["label", "geometry"]


def test_postgis_hook_messages() -> None:
    assert _mask_url("postgresql://user:secret@host:5432/db") == "postgresql://user:***@host:5432/db"
    with pytest.raises(ConfigError, match=r"postgresql://u:\*\*\*@h/db: a PostGIS regions source needs a layer"):
        read_vector("postgresql://u:pw@h/db", what="regions")


def test_make_valid_keeps_polygons() -> None:
    from sinks.vectors import _keep_dimension

    poly = Polygon([(0, 0), (4, 0), (4, 4), (2, 4), (2, 6), (2, 4), (0, 4), (0, 0)])  # spike
    fixed = _keep_dimension(shapely.make_valid(poly), poly)
    assert fixed.geom_type in ("Polygon", "MultiPolygon") and fixed.area == pytest.approx(16.0)
