"""Notebook access to a run: ``sinks.open_run(DIR)`` → a lazy :class:`xarray.Dataset`.

>>> ds = sinks.open_run("runs/demo")                          # doctest: +SKIP
>>> ds.landcover.sel(time="2020")                             # uint8 codes, legend in attrs
>>> ds.carbon_density.isel(time=-1).plot.imshow()             # Mg C/ha, float32
>>> ds.rio.crs, ds.rio.transform()                            # rioxarray
>>> ds.sinks.regions[["region_id", "forest_coverage_pct_2025"]]  # GeoDataFrame of indicators
>>> ds.sinks.plot()                                           # static figure
>>> ds.sinks.explore()                                        # interactive map, offline

A batch folder opens the same way: ``sinks.open_run(BATCH)`` mosaics every finished
region; ``sinks.open_run(BATCH, region="450502")`` is one region's run.  The ``sinks``
accessor of the Dataset is a :class:`Run`: the run's summary, manifest and tables, and
its static and interactive maps.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

import xarray as xr

from .landcover import CLASSES

__all__ = ["Run", "open_run"]


class Run:
    """A finished run, batch region or batch (see ``docs/outputs.md``): tables, maps, Dataset.

    Parameters
    ----------
    path : path
        A run folder or a batch folder.
    region : str, optional
        In a batch folder, one region's run; without it, every finished region.
    """

    def __init__(self, path: str | os.PathLike, *, region: str | None = None) -> None:
        from .dataset import sources

        self.path = Path(path)
        self.region = None if region is None else str(region)
        self.layers, self._epochs, self.attrs = sources(self.path, region=self.region)
        self.kind: str = self.attrs["sinks_kind"]

    def __repr__(self) -> str:
        what = {"run": "run", "batch": "batch", "batch-region": f"batch region {self.region}"}[self.kind]
        return f"Run({str(self.path)!r}: {what}, epochs {', '.join(self.epochs)})"

    @property
    def folder(self) -> Path:
        """The run folder (a batch region's own folder; the batch folder for a whole batch)."""
        if self.kind == "batch-region":
            from .dataset import batch_regions

            return batch_regions(self.path)[self.region]  # type: ignore[index]
        return self.path

    @property
    def epochs(self) -> list[str]:
        return [n for n, _y in self._epochs]

    @cached_property
    def dataset(self) -> Any:
        """The layers as a lazy :class:`xarray.Dataset` (:func:`sinks.dataset.open_dataset`)."""
        from .dataset import _dataset

        return _dataset(self.layers, self._epochs, self.attrs)

    def to_xarray(self) -> Any:
        """Same as :attr:`dataset`."""
        return self.dataset

    @cached_property
    def summary(self) -> dict[str, Any]:
        """``summary.json`` of the run (a whole batch: ``{region id: summary}``)."""
        if self.kind == "batch":
            from .dataset import batch_regions

            return {rid: json.loads((p / "summary.json").read_text(encoding="utf-8"))
                    for rid, p in batch_regions(self.path).items()}
        return json.loads((self.folder / "summary.json").read_text(encoding="utf-8"))

    @cached_property
    def manifest(self) -> dict[str, Any]:
        p = self.folder / "manifest.json"
        return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}

    # -- tables ------------------------------------------------------------------------
    def _table(self, name: str) -> Any:
        import geopandas as gpd
        import pandas as pd

        if self.kind != "batch":
            p = self.folder / "tables" / f"{name}.gpkg"
            return gpd.read_file(p) if p.exists() else None
        from .dataset import batch_regions

        parts = []
        for rid, folder in batch_regions(self.path).items():
            p = folder / "tables" / f"{name}.gpkg"
            if p.exists():
                g = gpd.read_file(p)
                g.insert(0, "batch_region", rid)
                parts.append(g)
        return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs) if parts else None

    @cached_property
    def regions(self) -> Any:
        """Region indicators (GeoDataFrame) or None; a whole batch: ``batch_summary.gpkg``."""
        if self.kind == "batch":
            import geopandas as gpd

            return gpd.read_file(self.path / "batch_summary.gpkg")
        return self._table("regions")

    @cached_property
    def redlines(self) -> Any:
        """Redline indicators (GeoDataFrame) or None; a whole batch: every region's, with ``batch_region``."""
        return self._table("redlines")

    @cached_property
    def encroachment(self) -> dict[str, Any]:
        """Period → encroachment patches (GeoDataFrame)."""
        import geopandas as gpd
        import pandas as pd

        from .dataset import batch_regions

        folders = [self.folder] if self.kind != "batch" else list(batch_regions(self.path).values())
        out: dict[str, list] = {}
        for folder in folders:
            for p in sorted(folder.glob("encroachment_*.gpkg")):
                out.setdefault(p.stem[len("encroachment_"):], []).append(gpd.read_file(p))
        return {k: gpd.GeoDataFrame(pd.concat(v, ignore_index=True), crs=v[0].crs) for k, v in out.items()}

    # -- layers (kept for scripts: epoch -> DataArray) --------------------------------
    @property
    def landcover(self) -> dict[str, Any]:
        """Epoch → lazy land-cover DataArray (uint8 legend codes, 0 = nodata)."""
        return self._by_epoch("landcover")

    @property
    def carbon(self) -> dict[str, Any]:
        """Epoch → lazy total carbon density (Mg C/ha)."""
        return self._by_epoch("carbon_density")

    @property
    def change(self) -> dict[str, Any]:
        """Period → lazy transition codes (from×16+to)."""
        ds = self.dataset
        return {str(p): ds["change"].sel(period=p) for p in ds["period"].values} if "change" in ds else {}

    def _by_epoch(self, var: str) -> dict[str, Any]:
        ds = self.dataset
        if var not in ds:
            return {}
        da = ds[var]
        return {str(e): da.isel(time=i) for i, e in enumerate(da["epoch"].values)}

    def overlays(self) -> list[tuple[str, str, str, str]]:
        """``(label, source, kind, epoch or period)`` of the map layers: land cover, carbon, change."""
        out = [(f"land cover {e}", s, "landcover", e) for e, s in self.layers.get("landcover", {}).items()]
        out += [(f"carbon density {e} (Mg C/ha)", s, "value", e)
                for e, s in self.layers.get("carbon_density", {}).items()]
        out += [(f"change {k.replace('_', '–')}", s, "change", k) for k, s in self.layers.get("change", {}).items()]
        return out

    # -- maps --------------------------------------------------------------------------
    def plot(self, *, epochs: list[str] | None = None, max_side: int = 800) -> Any:
        """A static figure: land cover of each epoch and the carbon density of the last one.

        Read through the COG overviews (at most ``max_side`` pixels wide); coordinates in km,
        the land-cover legend beside the panels, Chinese names drawn with a CJK font.
        """
        import matplotlib
        import matplotlib.pyplot as plt
        from matplotlib.colors import ListedColormap
        from matplotlib.patches import Patch
        from matplotlib.ticker import MaxNLocator

        from .report.fonts import rc_params
        from .report.maps import coordinate_formatter, read_decimated

        lc = self.layers.get("landcover", {})
        eps = [e for e in (epochs or list(lc)) if e in lc]
        carbon = self.layers.get("carbon_density", {})
        last_c = list(carbon)[-1] if carbon else None
        n = len(eps) + (1 if last_c else 0)
        if n == 0:
            raise ValueError(f"{self.path}: no land-cover or carbon layer to plot")
        panels = [read_decimated(lc[e], max_side=max_side) for e in eps]
        dens = read_decimated(carbon[last_c], max_side=max_side) if last_c else None
        b0 = (panels or [dens])[0][1]  # type: ignore[list-item]
        # panels as wide as the area is: a tall, narrow mosaic gets narrow panels, not white gaps
        aspect = min(max((b0[2] - b0[0]) / max(b0[3] - b0[1], 1e-9), 0.35), 2.5)
        panel_w = 2.9 * aspect
        with matplotlib.rc_context(rc_params()):
            fig, axes = plt.subplots(1, n, figsize=(panel_w * n + 0.5 + (0.9 if last_c else 0) + (1.3 if eps else 0),
                                                    3.9), squeeze=False, layout="constrained")
            cmap = ListedColormap(["#ffffff"] + [c.colour for c in CLASSES])
            crs = None
            for ax, e, (a, b, crs) in zip(axes[0], eps, panels):
                ax.imshow(a.filled(0), cmap=cmap, vmin=0, vmax=len(CLASSES), interpolation="nearest",
                          extent=(b[0], b[2], b[1], b[3]))
                ax.set_title(f"land cover {e}", fontsize=10)
            if dens is not None:
                ax = axes[0][-1]
                a, b, crs = dens
                im = ax.imshow(a, cmap="YlGn", interpolation="nearest", extent=(b[0], b[2], b[1], b[3]))
                cb = fig.colorbar(im, ax=ax, shrink=0.85)
                cb.set_label("Mg C/ha", fontsize=8)
                cb.ax.tick_params(labelsize=7)
                ax.set_title(f"carbon density {last_c}", fontsize=10)
            geographic = crs is not None and crs.is_geographic
            for i, ax in enumerate(axes[0]):
                ax.set_aspect("equal")
                ax.xaxis.set_major_locator(MaxNLocator(4, steps=[1, 2, 5, 10]))  # 0.5, 1, 2 km ...
                ax.yaxis.set_major_locator(MaxNLocator(4, steps=[1, 2, 5, 10]))
                ax.xaxis.set_major_formatter(coordinate_formatter(geographic))
                ax.yaxis.set_major_formatter(coordinate_formatter(geographic))
                ax.tick_params(labelsize=7)
                ax.set_xlabel("lon" if geographic else "easting (km)", fontsize=7)
                if i == 0:
                    ax.set_ylabel("lat" if geographic else "northing (km)", fontsize=7)
            if eps:
                fig.legend(handles=[Patch(facecolor=c.colour, edgecolor="#555", label=c.label) for c in CLASSES],
                           loc="outside right upper", fontsize=7, frameon=False, title="land cover",
                           title_fontsize=8)
            if crs is not None:
                fig.suptitle(f"{self.attrs.get('title', '')} ({crs.to_string()})", fontsize=9)
        return fig

    def explore(self, *, tiles: str = "auto", max_side: int = 2048, basemap: bool = False) -> Any:
        """An interactive map that works offline (:func:`sinks.explore.explore`): land cover per
        epoch, carbon, change, redline and region outlines with popups of their figures.
        Full resolution with localtileserver; needs the ``viz`` extra."""
        from .explore import explore

        return explore(self, tiles=tiles, max_side=max_side, basemap=basemap)


@xr.register_dataset_accessor("sinks")
class SinksAccessor(Run):
    """``ds.sinks`` of a Dataset from :func:`open_run`: its :class:`Run` (tables, plot, explore)."""

    def __init__(self, ds: Any) -> None:
        path = ds.attrs.get("sinks_path")
        if path is None:
            raise AttributeError("this Dataset was not opened with sinks.open_run (no sinks_path attribute)")
        super().__init__(path, region=ds.attrs.get("region"))
        self.__dict__["dataset"] = ds


def open_run(path: str | os.PathLike, *, region: str | None = None) -> Any:
    """Open a run or batch folder as a lazy :class:`xarray.Dataset` (see the module notes).

    Parameters
    ----------
    path : path
        A folder written by ``sinks run`` or ``sinks batch``.
    region : str, optional
        In a batch folder, the id of one region; without it every finished region,
        mosaicked onto their common grid.

    Returns
    -------
    xarray.Dataset
        ``landcover (time, y, x)`` uint8 with the legend in its attributes, ``carbon_density``
        (Mg C/ha) and the other carbon layers as float32 with ``units``, ``change (period, y, x)``;
        the CRS through rioxarray (``ds.rio.crs``); tables and maps on ``ds.sinks``.
    """
    return Run(path, region=region).dataset
