"""`sinks.open_run`: a lazy xarray Dataset of a run, a batch region and a whole batch; the
`sinks` accessor's tables, static figure and offline interactive map."""

from __future__ import annotations

import re

import numpy as np
import pytest
import rasterio

import sinks
from sinks.landcover import CLASSES


def test_open_run_dataset(demo_run):
    ds = sinks.open_run(demo_run)
    lc = ds["landcover"]
    assert lc.dims == ("time", "y", "x") and lc.dtype == np.uint8
    assert list(ds["epoch"].values) == ["2015", "2020", "2025"]
    assert [t.year for t in ds.indexes["time"]] == [2015, 2020, 2025]
    assert list(lc.attrs["flag_values"]) == [c.code for c in CLASSES]
    assert lc.attrs["flag_meanings"].split() == [c.name for c in CLASSES]
    assert lc.attrs["flag_colors"].split() == [c.colour for c in CLASSES] and lc.attrs["_FillValue"] == 0
    cd = ds["carbon_density"]
    assert cd.dtype == np.float32 and cd.attrs["units"] == "Mg C/ha" and cd.dims == ("time", "y", "x")
    assert ds["carbon_stock"].attrs["units"] == "Mg C"
    assert ds["change"].dims == ("period", "y", "x") and list(ds["period"].values) == ["2015_2020", "2020_2025"]
    # lazy (dask), georeferenced through rioxarray, the same pixels as the files
    assert lc.chunks is not None and ds.rio.crs.to_epsg() == 32649
    with rasterio.open(demo_run / "landcover_2020.tif") as f:
        assert ds.rio.transform() == f.transform and ds.rio.shape == (f.height, f.width)
        np.testing.assert_array_equal(lc.sel(time="2020").squeeze().values, f.read(1))
    with rasterio.open(demo_run / "carbon" / "2025" / "carbon_density_total.tif") as f:
        np.testing.assert_allclose(cd.isel(time=-1).values, f.read(1), equal_nan=True)
    # the tables as GeoDataFrames on the accessor
    import geopandas as gpd

    regions = ds.sinks.regions
    assert isinstance(regions, gpd.GeoDataFrame) and "海城区" in set(regions["name"])
    assert isinstance(ds.sinks.redlines, gpd.GeoDataFrame) and set(ds.sinks.encroachment) == {"2015_2020", "2020_2025"}
    assert ds.sinks.summary["name"] == "beihai-demo"


def test_open_run_on_a_batch(demo_batch):
    whole = sinks.open_run(demo_batch)
    assert whole.attrs["sinks_kind"] == "batch" and whole["landcover"].dims == ("time", "y", "x")
    counts = 0
    for rid in ("450502", "450512"):
        one = sinks.open_run(demo_batch, region=rid)
        assert one.attrs["sinks_kind"] == "batch-region" and one.sinks.region == rid
        lc = one["landcover"].isel(time=-1)
        counts += int((lc > 0).sum())
        # the region's pixels, where the mosaic puts them
        x0, y0 = float(lc.x[0]), float(lc.y[0])
        part = whole["landcover"].isel(time=-1).sel(x=slice(x0, float(lc.x[-1])), y=slice(y0, float(lc.y[-1])))
        np.testing.assert_array_equal(np.where(lc.values > 0, part.values, 0), lc.values)
    # regions do not overlap: the mosaic holds each region's pixels once
    assert int((whole["landcover"].isel(time=-1) > 0).sum()) == counts
    assert whole["carbon_density"].dtype == np.float32 and whole.rio.crs.to_epsg() == 32649
    table = whole.sinks.regions
    assert set(table.loc[table["status"] == "done", "name"]) == {"海城区", "铁山港区"}
    assert set(whole.sinks.redlines["batch_region"]) <= {"450502", "450512"}
    from sinks.errors import ConfigError

    with pytest.raises(ConfigError, match="no finished region '450503'"):
        sinks.open_run(demo_batch, region="450503")


def test_plot_legend_beside_the_panels(demo_run):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = sinks.open_run(demo_run).sinks.plot()
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    legend = fig.legends[0].get_window_extent(r)
    assert len(fig.axes) == 5  # 3 land-cover panels, carbon, its colour bar
    for ax in fig.axes:
        assert not legend.overlaps(ax.get_window_extent(r)), ax.get_title()
    for ax in fig.axes[:4]:  # tick labels do not run into each other
        boxes = [t.get_window_extent(r) for t in ax.get_xticklabels() if t.get_text()]
        assert boxes and not any(a.overlaps(b) for a, b in zip(boxes, boxes[1:]))
        assert all(re.fullmatch(r"\d+", t.get_text()) for t in ax.get_xticklabels() if t.get_text())  # km
    plt.close(fig)


def test_plot_of_a_narrow_batch_has_no_gaps(demo_batch):
    """Two regions make a tall, narrow mosaic: the panels are as narrow as the maps (no white
    gaps between them) and the km ticks are distinct and without a needless ".0"."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = sinks.open_run(demo_batch).sinks.plot()
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    maps = [ax.get_window_extent(r) for ax in fig.axes[:4]]
    gaps = [(b.x0 - a.x1) / fig.dpi for a, b in zip(maps, maps[1:])]
    assert max(gaps) < 0.9, gaps  # inches between neighbouring maps
    for ax in fig.axes[:4]:
        labels = [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels() if t.get_text()]
        for axis in (ax.get_xticklabels(), ax.get_yticklabels()):
            texts = [t.get_text() for t in axis if t.get_text()]
            assert len(texts) == len(set(texts)), texts
        assert not any(t.endswith(".0") for t in labels), labels
    plt.close(fig)


def _no_remote_resources(text: str) -> None:
    assert not re.search(r'<script[^>]+src="(https?:)?//', text)
    assert not re.search(r'<link[^>]+href="(https?:)?//', text)
    assert "cdn.jsdelivr" not in text and "url(http" not in text


def test_explore_offline_image_layers(demo_run, tmp_path):
    m = sinks.open_run(demo_run).sinks.explore(tiles="image", max_side=256)
    html = m.get_root().render()
    _no_remote_resources(html)
    assert "Leaflet 1.9.4" in html and "L.imageOverlay" in html
    assert "carbon stock 2025 (Mg C)" in html and "forest coverage 2025 (%)" in html
    assert "drawn at 20 m pixels" in html and "localtileserver" in html  # the fallback says so
    # the carbon-density ramp in the legend with its ends in Mg C/ha, one ramp for every epoch
    ramp = re.search(r"Carbon density \(Mg C/ha\)</b>.*?>([\d,]+)<span[^>]*>([\d,]+)</span>", html, re.S)
    assert ramp and int(ramp.group(1).replace(",", "")) < int(ramp.group(2).replace(",", "")) > 50
    assert '"paddingBottomRight": [320, 20]' in html  # the area fitted left of the layer control and legend
    from browser import NoBrowser, render

    var = re.findall(r"var (geo_json_\w+) = L\.geoJson", html)[0]
    page = tmp_path / "map.html"
    page.write_text(html.replace("</html>", "<script>setTimeout(function () { var l = %s.getLayers()[0];"
                                 " %s.openPopup(l.getBounds().getCenter()); }, 200);</script></html>" % (var, var)),
                    encoding="utf-8")
    try:
        shot = tmp_path / "map.png"
        proc = render(page.as_uri(), profile=tmp_path / "p1", screenshot=shot, size="1000,700")
        dom = render(page.as_uri(), profile=tmp_path / "p2", dump_dom=True, size="1000,700").stdout
    except NoBrowser as exc:
        pytest.skip(f"no headless Chromium: {exc}")
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    forest = np.abs(img - [33, 118, 33]).sum(axis=1) < 30   # forest at 85 % over the grey map: drawn offline
    assert forest.mean() > 0.02, proc.stderr[-1500:]
    assert "leaflet-popup-content" in dom and "海城区" in dom and "carbon stock 2025 (Mg C)" in dom


def test_explore_full_resolution_tiles(demo_run):
    pytest.importorskip("localtileserver", reason="full-resolution tiles need localtileserver (viz extra)")
    import io
    import math
    import urllib.request

    from PIL import Image

    import os

    from gdal_read import raster_band

    env = dict(os.environ)
    m = sinks.open_run(demo_run).sinks.explore(tiles="server")
    # the tile server leaves the session's GDAL settings alone: the class names beside the
    # rasters (.aux.xml) stay readable (localtileserver sets GDAL_DISABLE_READDIR_ON_OPEN)
    assert dict(os.environ) == env
    assert raster_band(demo_run / "landcover_2025.tif")["categories"][1] == "Forest"
    html = m.get_root().render()
    _no_remote_resources(html)
    urls = [u.replace("\\u0026", "&") for u in re.findall(r'"(http://127\.0\.0\.1:\d+/api/tiles/[^"]+)"', html)]
    assert len(urls) == 3 + 3 + 2 and html.count("L.imageOverlay") == len(urls)  # coarse images beneath
    lc = next(u for u in urls if "landcover_2025" in u)
    # a zoom-17 tile (1.2 m pixels, finer than the 10 m grid) in the forested north
    lat, lon, z = 21.515, 110.045, 17
    n = 2 ** z
    x, y = int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    data = urllib.request.urlopen(lc.format(z=z, x=x, y=y), timeout=60).read()
    tile = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA")).reshape(-1, 4)
    assert (np.abs(tile[:, :3].astype(int) - [0, 100, 0]).sum(axis=1) < 10).mean() > 0.3
