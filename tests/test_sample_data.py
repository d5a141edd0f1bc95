"""`sinks sample-data`: valid COG tiles, truth, AOI, a spec that runs; realistic spectra; determinism."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from sinks.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("sd") / "scene"
    with pytest.raises(SystemExit) as ei:
        main(["sample-data", str(out), "--size", "128", "--seed", "7"])
    assert ei.value.code == 0
    return out


def test_tiles_truth_and_aoi(scene):
    from rio_cogeo.cogeo import cog_validate

    tiles = sorted(scene.glob("20*/s2_*.tif"))
    assert len(tiles) == 3 * 2 * 4
    for t in tiles[:4] + [scene / "truth_2020.tif"]:
        ok, errors, _ = cog_validate(str(t), quiet=True)
        assert ok, errors
    with rasterio.open(tiles[0]) as ds:
        assert ds.count == 6 and ds.dtypes[0] == "uint16" and ds.nodata == 0
        assert ds.descriptions == ("B02", "B03", "B04", "B08", "B11", "B12")
        assert ds.crs.to_epsg() == 32649 and ds.overviews(1)
        w0 = ds.width
    assert w0 > 64  # half the scene plus the overlap
    for year in (2015, 2020, 2025):
        with rasterio.open(scene / f"truth_{year}.tif") as ds:
            codes = set(np.unique(ds.read(1)).tolist())
        assert codes == set(range(1, 9)), (year, codes)
    red = gpd.read_file(scene / "aoi" / "redlines.gpkg")
    assert red.crs.to_epsg() == 4326 and "redline_id" in red
    assert any(len(getattr(g, "geoms", [g])) > 1 for g in red.geometry)  # a multi-part redline
    parts = [p for g in red.geometry for p in getattr(g, "geoms", [g])]
    assert any(len(p.interiors) for p in parts)  # a redline with a hole
    reg = gpd.read_file(scene / "aoi" / "regions.gpkg")
    assert 3 <= len(reg) <= 5 and {"region_id", "name"} <= set(reg.columns)
    ref = gpd.read_file(scene / "aoi" / "reference.gpkg")
    assert {"label_2015", "label_2020", "label_2025", "label"} <= set(ref.columns)
    # its design travels with it: stratified by the 2020 truth class, stratum sizes in ha (Stehman 2014)
    assert (ref["stratum"] == ref["label_2020"]).all()
    with rasterio.open(scene / "truth_2020.tif") as ds:
        t20 = ds.read(1)
        cell_ha = abs(ds.transform.a * ds.transform.e) / 1e4
    from sinks.landcover import CODES as K

    for h, d in ref.groupby("stratum"):
        assert d["stratum_area_ha"].nunique() == 1
        assert d["stratum_area_ha"].iloc[0] == pytest.approx((t20 == K[h]).sum() * cell_ha)
        assert len(d) == min(60, int((t20 == K[h]).sum()))
    assert ref.groupby("stratum")["stratum_area_ha"].first().sum() == pytest.approx(t20.size * cell_ha)
    train = gpd.read_file(scene / "aoi" / "training.gpkg")
    assert set(train["label"]) == {"forest", "grassland", "wetland", "mangrove", "water", "cropland", "built_up",
                                   "bare"}


def test_change_between_epochs(scene):
    def read(y):
        with rasterio.open(scene / f"truth_{y}.tif") as ds:
            return ds.read(1)

    a, b, c = read(2015), read(2020), read(2025)
    from sinks.landcover import CODES as K

    assert ((a == K["grassland"]) & (b == K["forest"])).sum() > 0              # afforestation
    assert ((b == K["bare"]) & (c == K["mangrove"])).sum() > 0                 # mangrove restoration
    assert ((b != K["built_up"]) & (c == K["built_up"])).sum() > 0             # town growth
    assert ((a == K["forest"]) & (b == K["cropland"])).sum() > 0               # forest loss
    assert ((c == K["forest"]).sum() - (b == K["forest"]).sum()) > ((b == K["forest"]).sum() - (a == K["forest"]).sum())


def test_offset_of_2025_and_published_index_ranges(scene):
    from sinks.indices import mndwi, ndvi
    from sinks.io import open_image
    from sinks.sensors import get_profile

    prof = get_profile("sentinel2_l2a")
    with rasterio.open(scene / "2025" / "s2_20250820_r0c0.tif") as ds:
        assert ds.tags()["BOA_ADD_OFFSET"] == "-1000"
    r20, _ = open_image(scene / "2020" / "s2_20200115_r1c1.tif", profile=prof, date=dt.date(2020, 1, 15))
    r25, _ = open_image(scene / "2025" / "s2_20250115_r1c1.tif", profile=prof, date=dt.date(2025, 1, 15))
    with rasterio.open(scene / "truth_2020.tif") as t20, rasterio.open(scene / "truth_2025.tif") as t25:
        win = rasterio.windows.from_bounds(*rasterio.open(scene / "2020" / "s2_20200115_r1c1.tif").bounds,
                                           transform=t20.transform)
        lc20 = t20.read(1, window=win)
        lc25 = t25.read(1, window=win)
    same = (lc20 == lc25) & (lc20 == 5)  # water unchanged: same reflectance after the offset
    v20 = r20.sel(band="green").values[same]
    v25 = r25.sel(band="green").values[same]
    assert abs(np.nanmedian(v20) - np.nanmedian(v25)) < 0.005
    from sinks.sampledata.spectra import SPECTRA

    def idx(name, season, f):
        b = dict(zip(["blue", "green", "red", "nir", "swir1", "swir2"], np.array(SPECTRA[name][season])))
        return float(f(**b))

    assert idx("forest", 1, ndvi) > 0.6 and idx("water", 1, mndwi) > 0
    assert idx("cropland", 1, ndvi) - idx("cropland", 0, ndvi) > 0.3
    assert idx("wetland", 0, mndwi) > 0 > idx("wetland", 1, mndwi)
    mvi = lambda n: abs(SPECTRA[n][1][3] - SPECTRA[n][1][1]) / abs(SPECTRA[n][1][4] - SPECTRA[n][1][1])  # noqa: E731
    assert mvi("mangrove") >= 4.5 > mvi("forest")  # Baloloy et al. 2020 mangrove range


def test_deterministic_and_refuses_overwrite(scene, tmp_path, capsys):
    again = tmp_path / "again"
    with pytest.raises(SystemExit):
        main(["sample-data", str(again), "--size", "128", "--seed", "7"])
    for f in sorted(scene.rglob("*")):
        if f.is_file():
            assert f.read_bytes() == (again / f.relative_to(scene)).read_bytes(), f
    with pytest.raises(SystemExit) as ei:
        main(["sample-data", str(again), "--size", "128"])
    assert ei.value.code == 2 and "--overwrite" in capsys.readouterr().err


def test_written_spec_validates(scene):
    from sinks.spec import load_spec

    spec, _ = load_spec(scene / "pipeline.yaml")
    assert [e.name for e in spec.epochs] == ["2015", "2020", "2025"]


def test_committed_demo_runs_end_to_end(demo_run):
    """`sinks run pipelines/demo.yaml` on the committed sample data: every stage, valid COGs, accuracy."""
    from rio_cogeo.cogeo import cog_validate

    out = demo_run
    s = json.loads((out / "summary.json").read_text())
    for key in ("landcover", "accuracy", "carbon", "encroachment", "zonal", "goals"):
        assert key in s, key
    for ep in ("2015", "2020", "2025"):
        acc = s["accuracy"][ep]
        assert acc["overall_accuracy"] >= 0.90
        pix = acc["truth_pixelwise"]
        assert pix["overall_accuracy"] >= 0.90
        for c in ("mangrove", "wetland"):
            assert pix["producer_accuracy"][c] >= 0.85 and pix["user_accuracy"][c] >= 0.85
    sinks = s["carbon"]["sink"]
    first, second = sinks["2015_2020"], sinks["2020_2025"]
    assert first["sink_mg_c_per_yr"] > 0 and second["sink_mg_c_per_yr"] > 0 and first["method"] == "gain-loss"
    # the afforestation of 2020-2025 shows in the stock difference at once; in the gain-loss figure
    # it grows in at the young-stand rate while the grass it replaces and the cleared forest are lost
    sd = [p["methods"]["stock-difference"]["sink_mg_c_per_yr"] for p in (first, second)]
    assert sd[1] > sd[0]
    assert second["new_forest"]["area_ha"] > 2 * first["new_forest"]["area_ha"]
    lo, hi = sinks["2015_2020"]["sink_mg_c_per_yr_ci95"]
    assert lo < sinks["2015_2020"]["sink_mg_c_per_yr"] < hi
    assert s["encroachment"]["2020_2025"]["patches"] > 0
    tifs = sorted(out.rglob("*.tif"))
    assert len(tifs) > 20
    for t in tifs:
        ok, errors, _ = cog_validate(str(t), quiet=True)
        assert ok, (t, errors)
    man = json.loads((out / "manifest.json").read_text())
    names = {Path(i["path"]).name for i in man["inputs"]}
    assert {"demo.yaml", "redlines.gpkg", "regions.gpkg", "s2_20250820_r1c1.tif"} <= names
    assert len([n for n in names if n.startswith("s2_")]) == 24
    regions = gpd.read_file(out / "tables" / "regions.gpkg")
    assert "forest_coverage_pct_2025" in regions and "sink_mg_c_per_yr_2020_2025" in regions
