"""The interactive map of a run (``Run.explore()``): folium/Leaflet, working without internet.

* **Leaflet offline**: Leaflet 1.9.4's JavaScript and CSS (BSD-2-Clause, ``sinks/data/leaflet``
  with its licence) are written into the page itself, images as data URIs, instead of
  folium's links to CDNs; no basemap is loaded unless asked for (``basemap=True``).
* **Full resolution**: with `localtileserver <https://github.com/banesullivan/localtileserver>`_
  installed (the ``viz`` extra), each COG is served as map tiles from a local server
  (127.0.0.1) at every zoom, land cover and change in the colours of their colour tables,
  over a coarse image of the layer that still shows once the server is gone (a saved
  notebook).  Without it, each layer is drawn once as an image read through the COG overviews at
  most ``max_side`` pixels wide, and the map says so.
* Layers: land cover per epoch, carbon density per epoch, change per period; redline and
  region outlines with popups of their figures (coverage, stock, sink; readable names and
  units); a legend of the land-cover classes.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import logging
import re
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .labels import header_label
from .landcover import CLASSES

__all__ = ["explore", "leaflet_assets", "tile_server_available"]

log = logging.getLogger("sinks")

#: Columns shown in the popups of the redline and region outlines (the latest of each).
POPUP_PREFIXES = ("forest_coverage_pct_", "stock_mg_c_total_", "stock_mg_c_", "volume_m3_", "sink_mg_c_per_yr_")


@functools.lru_cache(maxsize=1)
def leaflet_assets() -> tuple[str, str]:
    """``(javascript, css)`` of the packaged Leaflet, the CSS images inlined as data URIs."""
    root = resources.files("sinks") / "data" / "leaflet"
    js = (root / "leaflet.js").read_text(encoding="utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+\s*$", "", js)
    css = (root / "leaflet.css").read_text(encoding="utf-8")

    def inline(m: re.Match) -> str:
        data = (root / "images" / m.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode()})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", inline, css)
    return js, css


def tile_server_available() -> bool:
    """True when localtileserver can be imported (full-resolution tiles)."""
    try:
        import localtileserver  # noqa: F401
    except ImportError:
        return False
    return True


def _offline(m: Any) -> None:
    """Replace folium's CDN links by the packaged Leaflet, inline in the page's head."""
    from branca.element import Element

    from .report.fonts import CSS_FONT_STACK

    js, css = leaflet_assets()
    m.default_js = []
    m.default_css = []
    head = m.get_root().header
    head.add_child(Element(f"<style>{css}</style>"), name="leaflet_css_inline")
    head.add_child(Element(f"<script>{js}</script>"), name="leaflet_js_inline")
    head.add_child(Element(f"<style>.leaflet-container, .leaflet-popup-content, .sinks-legend {{ font-family: {CSS_FONT_STACK}; }}"
                           ".sinks-legend { background: rgba(255,255,255,0.9); padding: 6px 8px; font-size: 12px; "
                           "line-height: 16px; border-radius: 4px; box-shadow: 0 0 4px rgba(0,0,0,0.3); }"
                           ".sinks-legend i { display: inline-block; width: 12px; height: 12px; margin-right: 5px; "
                           "vertical-align: -2px; border: 1px solid #555; }"
                           ".leaflet-popup-content td { white-space: nowrap; }</style>"),
                   name="sinks_css")


def _legend(m: Any, note: str, value_range: tuple[float, float] | None = None) -> None:
    """A fixed legend of the land-cover and change colours and, with ``value_range``, the
    carbon-density ramp with its ends in Mg C/ha (bottom right)."""
    from branca.element import Element

    rows = "".join(f'<i style="background:{c.colour}"></i>{html.escape(c.label)}<br>' for c in CLASSES)
    change = "".join(f'<i style="background:{col}"></i>{html.escape(lab)}<br>' for col, lab in (
        ("#d7191c", "ecological land lost"), ("#1a9641", "ecological land gained"),
        ("linear-gradient(90deg, #e4aee4, #7cb27c, #c8c8c8)", "other change: the new class, muted"),
        ("#e1e1e1", "unchanged")))
    ramp = ""
    if value_range is not None:
        from matplotlib import colormaps
        from matplotlib.colors import to_hex

        stops = ", ".join(to_hex(colormaps["YlGn"](x)) for x in np.linspace(0, 1, 6))
        lo, hi = value_range
        ramp = ('<b>Carbon density (Mg C/ha)</b><br><span style="display: inline-block; width: 150px; height: 10px; '
                f'border: 1px solid #555; background: linear-gradient(90deg, {stops});"></span><br>'
                f'<span style="display: inline-block; width: 152px;">{lo:,.0f}'
                f'<span style="float: right;">{hi:,.0f}</span></span><br>')
    box = (f'<div class="sinks-legend" style="position: fixed; bottom: 24px; right: 10px; z-index: 1000;">'
           f"<b>Land cover</b><br>{rows}<b>Change</b><br>{change}{ramp}"
           + (f'<div style="max-width: 14em; color: #555; margin-top: 4px;">{html.escape(note)}</div>' if note else "")
           + "</div>")
    m.get_root().html.add_child(Element(box), name="sinks_legend")


def _rgba(src: str, kind: str, *, max_side: int,
          value_range: tuple[float, float] | None = None) -> tuple[np.ndarray, list[list[float]]]:
    """An RGBA image of a layer reprojected to EPSG:4326 and its ``[[south, west], [north, east]]``
    (a value layer over ``value_range``, else its own 2nd–98th percentiles)."""
    from matplotlib import colormaps
    from rasterio.transform import from_bounds
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    from .change import change_colormap
    from .report.maps import read_decimated
    from .stages.landcover import colormap

    a, b, crs = read_decimated(src, max_side=max_side)
    src_arr = np.asarray(a.filled(0 if kind != "value" else np.nan), dtype=np.float32)
    h, w = src_arr.shape
    st = from_bounds(*b, w, h)
    dt, dw, dh = calculate_default_transform(crs, "EPSG:4326", w, h, *b)
    dst = np.full((dh, dw), np.nan, np.float32)
    reproject(src_arr, dst, src_transform=st, src_crs=crs, dst_transform=dt, dst_crs="EPSG:4326",
              resampling=Resampling.nearest, src_nodata=0 if kind != "value" else np.nan, dst_nodata=np.nan)
    if kind == "value":
        v = dst
        lo, hi = value_range or (np.nanpercentile(v, [2, 98]) if np.isfinite(v).any() else (0, 1))
        rgba = colormaps["YlGn"](np.clip((v - lo) / max(hi - lo, 1e-9), 0, 1))
        rgba[~np.isfinite(v)] = 0
    else:
        lut = np.zeros((256, 4), np.float32)
        for code, col in (colormap() if kind == "landcover" else change_colormap()).items():
            lut[code] = [x / 255 for x in col]
        rgba = lut[np.clip(np.nan_to_num(dst, nan=0).astype(np.int64), 0, 255)]
    west, north = dt * (0, 0)
    east, south = dt * (dw, dh)
    return (rgba * 255).astype(np.uint8), [[south, west], [north, east]]


def _value_range(src: str) -> tuple[float, float]:
    from .report.maps import read_decimated

    a, _b, _crs = read_decimated(src, max_side=512)
    v = np.ma.masked_invalid(a).compressed()
    return (float(np.percentile(v, 2)), float(np.percentile(v, 98))) if v.size else (0.0, 1.0)


@contextlib.contextmanager
def _process_environ_kept() -> Any:
    """Undo the process-wide settings localtileserver makes while it starts: it writes
    ``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR`` (and ``GDAL_NUM_THREADS=ALL_CPUS``) into
    ``os.environ``, after which GDAL in this Python session no longer reads the files beside a
    raster (the ``.aux.xml`` with the class names and units).  Local tiles need neither."""
    import os

    before = dict(os.environ)
    try:
        yield
    finally:
        for key in [k for k in os.environ if k not in before]:
            del os.environ[key]
        for key, value in before.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


def _tile_layer(src: str, kind: str, name: str, show: bool,
                value_range: tuple[float, float] | None = None) -> tuple[Any, Any]:
    """A folium TileLayer of ``src`` served by localtileserver (colour table, or a YlGn ramp
    over the 2nd–98th percentiles), and the tile client that must stay referenced."""
    import folium
    from localtileserver import TileClient

    client = TileClient(src)
    kw: dict[str, Any] = {}
    if kind == "value":
        lo, hi = value_range or _value_range(src)
        kw = {"colormap": "ylgn", "vmin": lo, "vmax": hi}
    url = client.get_tile_url(client=True, **kw)
    layer = folium.TileLayer(tiles=url, attr="sinks (local tiles)", name=name, overlay=True, control=False,
                             opacity=0.85, max_zoom=22)
    return layer, client


def _popup_table(gdf: Any) -> tuple[Any, list[str], list[str]]:
    """The outline layer's popup columns (id, name, latest figures), rounded, with readable labels."""
    key = [c for c in gdf.columns if c != "geometry"][:1] + (["name"] if "name" in gdf.columns else [])
    figures = []
    for prefix in POPUP_PREFIXES:
        cols = sorted(c for c in gdf.columns if c.startswith(prefix) and not c.endswith(("_lo", "_hi"))
                      and c[len(prefix):][:1].isdigit())
        if cols and not any(f.startswith(prefix) for f in figures):
            figures.append(cols[-1])
    if any(f.startswith("stock_mg_c_total_") for f in figures):
        figures = [f for f in figures if not (f.startswith("stock_mg_c_") and not f.startswith("stock_mg_c_total_"))]
    g = gdf[[*key, *figures, "geometry"]].copy()
    for c in figures:
        g[c] = g[c].astype(float).round(1 if c.startswith("forest_coverage") else 0)
    return g, [*key, *figures], [header_label(c) for c in [*key, *figures]]


def explore(run: Any, *, tiles: str = "auto", max_side: int = 2048, basemap: bool = False) -> Any:
    """The folium map of a :class:`sinks.runview.Run` (see the module notes).

    Parameters
    ----------
    run : Run
    tiles : {"auto", "server", "image"}
        ``server``: full-resolution tiles from localtileserver (ImportError without it);
        ``image``: one image per layer at most ``max_side`` pixels wide; ``auto``: the
        server where installed, else images.
    max_side : int
        Largest side of a layer drawn as an image.
    basemap : bool
        Add OpenStreetMap as a background (needs internet; off by default).
    """
    try:
        import folium
    except ImportError:
        raise ImportError("Run.explore() needs folium: pip install 'sinks[viz]'") from None
    if tiles not in ("auto", "server", "image"):
        raise ValueError(f"tiles must be 'auto', 'server' or 'image', got {tiles!r}")
    use_server = tiles == "server" or (tiles == "auto" and tile_server_available())
    if tiles == "server" and not tile_server_available():
        raise ImportError("full-resolution tiles need localtileserver: pip install 'sinks[viz]'")
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=True, zoom_snap=0.25)  # fitted closely
    _offline(m)
    if basemap:
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap (online)", show=False).add_to(m)
    bounds = None
    last = run.epochs[-1] if run.epochs else None
    coarse, clients = [], []
    overlays = run.overlays()
    # one ramp for every carbon-density layer, so that a colour means the same density in each epoch
    ranges = [_value_range(src) for _l, src, kind, _k in overlays if kind == "value"]
    vr = (min(r[0] for r in ranges), max(r[1] for r in ranges)) if ranges else None
    for label, src, kind, key in overlays:
        show = kind == "landcover" and key == last
        if use_server:
            # the tiles over a coarse image of the layer, which shows where the server does not
            # (a saved notebook, an exported page)
            group = folium.FeatureGroup(name=label, show=show)
            img, b = _rgba(src, kind, max_side=min(max_side, 512), value_range=vr)
            bounds = bounds or b
            folium.raster_layers.ImageOverlay(img, bounds=b, opacity=0.85).add_to(group)
            with _process_environ_kept():
                layer, client = _tile_layer(src, kind, label, show, value_range=vr)
            layer.add_to(group)
            group.add_to(m)
            clients.append(client)
        else:
            img, b = _rgba(src, kind, max_side=max_side, value_range=vr)
            bounds = bounds or b
            folium.raster_layers.ImageOverlay(img, bounds=b, name=label, opacity=0.85, show=show).add_to(m)
            coarse.append(src)
    if coarse:
        import rasterio

        with rasterio.open(coarse[0]) as ds:
            f = max(1, -(-max(ds.width, ds.height) // max_side))
            res = abs(ds.transform.a) * f
        note = (f"Layers drawn at {res:g} {'m' if not ds.crs.is_geographic else '°'} pixels"
                + ("" if f == 1 else f" (the files have {abs(ds.transform.a):g}); full resolution: "
                   "pip install localtileserver") + ".")
        if f > 1:
            log.warning("Run.explore(): %s", note)
    else:
        note = ("Full-resolution tiles from a local tile server while this Python session runs; "
                "a coarse image of each layer beneath them.")
    for name, gdf in (("regions", run.regions), ("redlines", run.redlines)):
        if gdf is None or not len(gdf):
            continue
        g, fields, aliases = _popup_table(gdf)
        folium.GeoJson(g.to_crs(4326), name=name, style_function=lambda _f, n=name: {
            "color": "#1f4e9c" if n == "redlines" else "#222", "weight": 2, "fillOpacity": 0.0},
            highlight_function=lambda _f: {"weight": 4},
            popup=folium.GeoJsonPopup(fields=fields, aliases=aliases, localize=True)).add_to(m)
    if bounds:
        # the area left of the layer control and the legend (top and bottom right), not beneath them
        m.fit_bounds(bounds, padding_top_left=(20, 20), padding_bottom_right=(_CONTROLS_PX, 20))
    m.sinks_tile_clients = clients  # the local tile server serves while the map lives
    _legend(m, note, vr)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


#: Width of the layer control and legend on the map's right side, left free when the map is fitted.
_CONTROLS_PX = 320


def save(m: Any, path: str | Path) -> Path:
    """Write the map as one HTML file that opens offline (tiles from a server need it running)."""
    Path(path).write_text(m.get_root().render(), encoding="utf-8")
    return Path(path)
