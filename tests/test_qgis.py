"""QGIS-ready outputs: class names and attribute tables GDAL reads back, .qml styles that
parse with the legend's classes and colours, units on continuous layers, field aliases."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import rasterio

from gdal_read import field_aliases, raster_band
from sinks.landcover import CLASSES


def test_landcover_categories_rat_and_qml(demo_run):
    path = demo_run / "landcover_2020.tif"
    got = raster_band(path)
    assert got["categories"] == ["No data"] + [c.label for c in CLASSES]
    rat = {int(r["value"]): r for r in got["rat"]}
    for c in CLASSES:
        r = rat[c.code]
        assert r["class"] == c.name and r["label"] == c.label
        assert "#%02x%02x%02x" % (int(r["red"]), int(r["green"]), int(r["blue"])) == c.colour
    style = ET.parse(demo_run / "landcover_2020.qml").getroot()
    assert style.tag == "qgis"
    renderer = style.find("pipe/rasterrenderer")
    assert renderer.get("type") == "paletted" and renderer.get("band") == "1"
    entries = {int(e.get("value")): (e.get("color"), e.get("label")) for e in renderer.iter("paletteEntry")}
    assert entries == {c.code: (c.colour, c.label) for c in CLASSES}


def test_change_categories_rat_and_qml(demo_run):
    path = demo_run / "change_2015_2020.tif"
    got = raster_band(path)
    forest, built = 1, 7
    assert got["categories"][forest * 16 + built] == "Forest → Built-up"
    assert got["categories"][forest * 16 + forest] == "Forest → Forest"
    rat = {int(r["value"]): r for r in got["rat"]}
    assert rat[forest * 16 + built]["change"] == "ecological land lost"
    assert rat[6 * 16 + forest]["change"] == "ecological land gained"       # cropland -> forest
    assert rat[forest * 16 + forest]["change"] == "unchanged"
    assert (rat[forest * 16 + built]["from"], rat[forest * 16 + built]["to"]) == ("forest", "built_up")
    entries = list(ET.parse(demo_run / "change_2015_2020.qml").getroot().iter("paletteEntry"))
    assert len(entries) == len(CLASSES) ** 2
    lost = next(e for e in entries if e.get("value") == str(forest * 16 + built))
    assert lost.get("color") == "#d7191c" and lost.get("label") == "Forest → Built-up"
    with rasterio.open(path) as ds:  # the colour table in the file agrees with the style
        assert ds.colormap(1)[forest * 16 + built][:3] == (215, 25, 28)


def test_continuous_layers_carry_units_and_nodata(demo_run):
    for rel, unit in (("carbon/2025/carbon_density_total.tif", "Mg C/ha"), ("carbon/2025/carbon_stock_total.tif", "Mg C")):
        with rasterio.open(demo_run / rel) as ds:
            assert ds.units == (unit,) and ds.nodata is not None and ds.nodata != ds.nodata  # NaN
        assert raster_band(demo_run / rel)["unit"] == unit
    with rasterio.open(demo_run / "landcover_2025.tif") as ds:
        assert ds.nodata == 0


def test_side_files_are_recorded_with_the_run(demo_run):
    outputs = json.loads((demo_run / "summary.json").read_text())["outputs"]
    assert "landcover_2015.qml" in outputs and "landcover_2015.tif.aux.xml" in outputs
    assert "carbon/2015/carbon_density_total.tif.aux.xml" in outputs


def test_table_field_aliases(demo_run):
    aliases = field_aliases(demo_run / "tables" / "regions.gpkg", "regions")
    assert aliases["stock_mg_c_total_2015"] == "carbon stock 2015 (Mg C)"
    assert aliases["forest_coverage_pct_2025"] == "forest coverage 2025 (%)"
    assert aliases["sink_mg_c_per_yr_2020_2025"] == "sink 2020–2025 (Mg C/yr)"
    assert aliases["region_id"] == ""  # names that read well keep no alias
    import geopandas as gpd

    # the columns themselves are unchanged for scripts
    assert "stock_mg_c_total_2015" in gpd.read_file(demo_run / "tables" / "regions.gpkg").columns


@pytest.mark.parametrize("name, label", [("stock_mg_c_total_2015", "carbon stock 2015 (Mg C)"),
                                         ("eco_land_lost_ha_2015_2020", "ecological land lost 2015–2020 (ha)"),
                                         ("area_ha_built_up_2025", "class area, built-up 2025 (ha)"),
                                         ("sink_mg_c_per_yr_2015_2020_lo", "sink 2015–2020, 95 % low (Mg C/yr)"),
                                         ("county", "county")])
def test_column_labels(name, label):
    from sinks.labels import column_label

    assert column_label(name) == label
