"""Notebook access to a run: ``sinks.open_run(DIR)`` → lazy layers, tables, summary, plots.

>>> run = sinks.open_run("runs/demo")                      # doctest: +SKIP
>>> run.landcover["2020"]                                  # lazy xarray (dask) layer
>>> run.regions[["region_id", "forest_coverage_pct_2025"]] # GeoDataFrame of indicators
>>> run.plot()                                             # static matplotlib figure
>>> run.explore()                                          # interactive folium map (extra ``viz``)
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

__all__ = ["Run", "open_run"]


def _open(path: Path) -> Any:
    import rioxarray

    return rioxarray.open_rasterio(path, chunks={"band": 1, "y": 1024, "x": 1024}, lock=False,
                                   masked=True).squeeze("band", drop=True)


class Run:
    """A finished run folder (see ``docs/outputs.md``)."""

    def __init__(self, path: str | os.PathLike) -> None:
        from .runstate import require_complete

        self.path = Path(path)
        require_complete(self.path)  # IncompleteRunError for a run that did not finish

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}: epochs {', '.join(self.epochs)})"

    @cached_property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.path / "summary.json").read_text(encoding="utf-8"))

    @cached_property
    def manifest(self) -> dict[str, Any]:
        p = self.path / "manifest.json"
        return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}

    @property
    def epochs(self) -> list[str]:
        return [e["name"] for e in self.summary.get("epochs", [])]

    @cached_property
    def landcover(self) -> dict[str, Any]:
        """Epoch → lazy land-cover DataArray (legend codes, NaN = nodata)."""
        return {e: _open(self.path / f"landcover_{e}.tif") for e in self.epochs
                if (self.path / f"landcover_{e}.tif").exists()}

    @cached_property
    def carbon(self) -> dict[str, Any]:
        """Epoch → lazy total carbon density (Mg C/ha)."""
        return {e: _open(self.path / "carbon" / e / "carbon_density_total.tif") for e in self.epochs
                if (self.path / "carbon" / e / "carbon_density_total.tif").exists()}

    @cached_property
    def change(self) -> dict[str, Any]:
        """Period → lazy transition codes (from×16+to)."""
        return {p.stem[len("change_"):]: _open(p) for p in sorted(self.path.glob("change_*.tif"))}

    def _table(self, name: str) -> Any:
        import geopandas as gpd

        p = self.path / "tables" / f"{name}.gpkg"
        return gpd.read_file(p) if p.exists() else None

    @cached_property
    def regions(self) -> Any:
        """Region indicators (GeoDataFrame) or None."""
        return self._table("regions")

    @cached_property
    def redlines(self) -> Any:
        """Redline indicators (GeoDataFrame) or None."""
        return self._table("redlines")

    @cached_property
    def encroachment(self) -> dict[str, Any]:
        """Period → encroachment patches (GeoDataFrame)."""
        import geopandas as gpd

        return {p.stem[len("encroachment_"):]: gpd.read_file(p) for p in sorted(self.path.glob("encroachment_*.gpkg"))}

    def plot(self, *, epochs: list[str] | None = None) -> Any:
        """A static figure: land cover of each epoch and the carbon density of the last one."""
        import matplotlib.pyplot as plt
        from matplotlib.colors import ListedColormap
        from matplotlib.patches import Patch

        from .landcover import CLASSES

        eps = epochs or list(self.landcover)
        n = len(eps) + (1 if self.carbon else 0)
        fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.2), squeeze=False)
        cmap = ListedColormap([c.colour for c in CLASSES])
        for ax, e in zip(axes[0], eps):
            a = self.landcover[e]
            step = max(1, max(a.shape) // 800)
            a[::step, ::step].plot.imshow(ax=ax, cmap=cmap, vmin=0.5, vmax=len(CLASSES) + 0.5, add_colorbar=False)
            ax.set_title(f"land cover {e}")
            ax.set_aspect("equal")
        axes[0][0].legend(handles=[Patch(color=c.colour, label=c.label) for c in CLASSES], fontsize=7,
                          loc="lower left", framealpha=0.8)
        if self.carbon:
            last = list(self.carbon)[-1]
            c = self.carbon[last]
            step = max(1, max(c.shape) // 800)
            c[::step, ::step].plot.imshow(ax=axes[0][-1], cmap="YlGn", cbar_kwargs={"label": "Mg C/ha"})
            axes[0][-1].set_title(f"carbon density {last}")
            axes[0][-1].set_aspect("equal")
        fig.tight_layout()
        return fig

    def explore(self, *, max_side: int = 800) -> Any:
        """An interactive folium map with toggleable layers (land cover per date, carbon, change,
        redlines, regions; popups with the polygon indicators).  Needs the ``viz`` extra."""
        try:
            import folium
        except ImportError:
            raise ImportError("Run.explore() needs folium: pip install 'sinks[viz]'") from None
        from .report.maps import read_decimated

        m = folium.Map(tiles=None, control_scale=True)
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap", show=False).add_to(m)
        bounds = None
        for label, path, kind in self._overlays():
            img, b = _rgba(path, kind, max_side=max_side, reader=read_decimated)
            bounds = b
            folium.raster_layers.ImageOverlay(img, bounds=b, name=label, opacity=0.85,
                                              show=label.startswith("land cover") and path.stem.endswith(self.epochs[-1])
                                              ).add_to(m)
        for name, gdf in (("regions", self.regions), ("redlines", self.redlines)):
            if gdf is None or not len(gdf):
                continue
            cols = [c for c in gdf.columns if c != "geometry"][:1] + [c for c in gdf.columns if c.startswith(
                ("forest_coverage_pct_", "stock_mg_c_total_", "sink_mg_c_per_yr_")) and not c.endswith(("_lo", "_hi"))]
            g = gdf[[*cols, "geometry"]].to_crs(4326)
            folium.GeoJson(g, name=name, style_function=lambda _f, n=name: {
                "color": "#1f4e9c" if n == "redlines" else "#333", "weight": 2, "fillOpacity": 0.0},
                popup=folium.GeoJsonPopup(fields=cols)).add_to(m)
        if bounds:
            m.fit_bounds(bounds)
        folium.LayerControl(collapsed=False).add_to(m)
        return m

    def _overlays(self) -> list[tuple[str, Path, str]]:
        out = [(f"land cover {e}", self.path / f"landcover_{e}.tif", "landcover") for e in self.landcover]
        out += [(f"carbon density {e} (Mg C/ha)", self.path / "carbon" / e / "carbon_density_total.tif", "value")
                for e in self.carbon]
        out += [(f"change {k}", self.path / f"change_{k}.tif", "change") for k in self.change]
        return out


def _rgba(path: Path, kind: str, *, max_side: int, reader: Any) -> tuple[Any, list[list[float]]]:
    """An RGBA image of a layer reprojected to EPSG:4326, and its [[south, west], [north, east]] bounds."""
    import numpy as np
    from matplotlib import colormaps
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    from .landcover import CLASSES, ECOLOGICAL, CODES

    a, b, crs = reader(path, max_side=max_side)
    src = np.asarray(a.filled(0 if kind != "value" else np.nan), dtype=np.float32)
    h, w = src.shape
    from rasterio.transform import from_bounds

    st = from_bounds(*b, w, h)
    dt, dw, dh = calculate_default_transform(crs, "EPSG:4326", w, h, *b)
    dst = np.full((dh, dw), np.nan, np.float32)
    reproject(src, dst, src_transform=st, src_crs=crs, dst_transform=dt, dst_crs="EPSG:4326",
              resampling=Resampling.nearest, src_nodata=0 if kind != "value" else np.nan, dst_nodata=np.nan)
    rgba = np.zeros((dh, dw, 4), np.float32)
    if kind == "value":
        v = dst
        lo, hi = np.nanpercentile(v, [2, 98]) if np.isfinite(v).any() else (0, 1)
        rgba = colormaps["YlGn"](np.clip((v - lo) / max(hi - lo, 1e-9), 0, 1))
        rgba[~np.isfinite(v)] = 0
    else:
        codes = np.nan_to_num(dst, nan=0).astype(np.int64)
        if kind == "landcover":
            lut = np.zeros((256, 4), np.float32)
            for c in CLASSES:
                h_ = c.colour.lstrip("#")
                lut[c.code] = [int(h_[i:i + 2], 16) / 255 for i in (0, 2, 4)] + [1.0]
            rgba = lut[np.clip(codes, 0, 255)]
        else:
            f, t = codes // 16, codes % 16
            eco = np.isin(f, [CODES[n] for n in ECOLOGICAL])
            eco_to = np.isin(t, [CODES[n] for n in ECOLOGICAL])
            rgba[(codes > 0) & (f == t)] = [0.89, 0.89, 0.89, 0.6]
            rgba[(codes > 0) & (f != t)] = [0.99, 0.68, 0.38, 1]
            rgba[(codes > 0) & eco & ~eco_to] = [0.84, 0.1, 0.11, 1]
            rgba[(codes > 0) & ~eco & eco_to] = [0.1, 0.59, 0.25, 1]
    west, north = dt * (0, 0)
    east, south = dt * (dw, dh)
    return (rgba * 255).astype(np.uint8), [[south, west], [north, east]]


def open_run(path: str | os.PathLike) -> Run:
    """Open a run folder written by ``sinks run``."""
    return Run(path)
