"""Static maps and charts for the report (matplotlib, Agg), returned as PNG bytes.

Maps are read decimated through the COG overviews, drawn north-up in the raster's CRS
with coordinate labels in km, a scale bar and a legend in the legend's colours.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..landcover import CLASSES, CODES, ECOLOGICAL
from .numbers import minus_sign

__all__ = ["read_decimated", "landcover_map", "value_map", "change_map", "goal_chart", "goal_figure", "sink_chart",
           "png"]

MAX_SIDE = 900


class _Figures:
    """Figures made without pyplot: no global backend switch (a notebook keeps its inline
    backend), no figure manager to close; they render with the Agg canvas when saved."""

    @staticmethod
    def subplots(*args: Any, figsize: tuple[float, float] | None = None, **kwargs: Any) -> tuple[Any, Any]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize)
        return fig, fig.subplots(*args, **kwargs)


def _plt() -> _Figures:
    return _Figures()


def png(fig: Any) -> bytes:
    """Render a figure to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def read_decimated(path: str | Path, *, max_side: int = MAX_SIDE) -> tuple[np.ndarray, tuple[float, float, float, float], Any]:
    """Band 1 read at most ``max_side`` pixels wide (overviews), its bounds and CRS; nodata masked."""
    import rasterio
    from rasterio.enums import Resampling

    with rasterio.open(path) as ds:
        f = max(1, math.ceil(max(ds.width, ds.height) / max_side))
        shape = (max(1, ds.height // f), max(1, ds.width // f))
        cat = ds.dtypes[0].startswith("uint") or ds.dtypes[0].startswith("int")
        a = ds.read(1, out_shape=shape, resampling=Resampling.nearest if cat else Resampling.average, masked=True)
        return a, tuple(ds.bounds), ds.crs


def coordinate_formatter(geographic: bool = False) -> Any:
    """Tick labels in km (or degrees) with as few decimals as tell the ticks apart: ``2376``,
    ``2377`` for whole kilometres, ``400.5`` only where a tick falls between them."""
    from matplotlib.ticker import Formatter

    class _Coords(Formatter):
        ticks: tuple[float, ...] = ()

        def set_locs(self, locs: Any) -> None:
            self.ticks = tuple(locs)

        def _decimals(self) -> int:
            locs = [v if geographic else v / 1000 for v in self.ticks]
            for d in range(6):
                if all(abs(v * 10 ** d - round(v * 10 ** d)) < 1e-6 for v in locs):
                    return d
            return 6

        def __call__(self, x: float, pos: Any = None) -> str:
            d = self._decimals()
            return minus_sign(f"{x:.{d}f}°" if geographic else f"{x / 1000:.{d}f}")

    return _Coords()


def _frame(ax: Any, bounds: tuple[float, float, float, float], crs: Any) -> None:
    """Coordinate labels (km or degrees) and a scale bar."""
    left, bottom, right, top = bounds
    geographic = crs is not None and crs.is_geographic
    if not geographic:  # ticks on 0.5, 1, 2 km ... (matplotlib's default 0.25 km steps read as 400.25, 400.50)
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(6, steps=[1, 2, 5, 10]))
        ax.yaxis.set_major_locator(MaxNLocator(6, steps=[1, 2, 5, 10]))
    ax.xaxis.set_major_formatter(coordinate_formatter(geographic))
    ax.yaxis.set_major_formatter(coordinate_formatter(geographic))
    unit = "" if geographic else " (km)"
    name = crs.to_string() if crs is not None else ""
    ax.set_xlabel(f"easting{unit}, {name}", fontsize=7)
    ax.set_ylabel(f"northing{unit}", fontsize=7)
    ax.tick_params(labelsize=7)
    if geographic:
        return
    width = right - left
    nice = 10 ** math.floor(math.log10(width / 4))
    length = max(v * nice for v in (1, 2, 5) if v * nice <= width / 4)
    x0, y0 = left + 0.05 * width, bottom + 0.05 * (top - bottom)
    ax.plot([x0, x0 + length], [y0, y0], color="black", lw=4, solid_capstyle="butt")
    ax.plot([x0, x0 + length], [y0, y0], color="white", lw=2, solid_capstyle="butt")
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x0 + length / 2, y0 + 0.02 * (top - bottom), label, ha="center", va="bottom", fontsize=7,
            bbox={"facecolor": "white", "alpha": 0.7, "pad": 1, "lw": 0})


def landcover_map(path: str | Path, title: str) -> bytes:
    """Land cover in the legend's colours with a legend of the classes present."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    plt = _plt()
    a, bounds, crs = read_decimated(path)
    colours = ["#ffffff"] + [c.colour for c in CLASSES]
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    ax.imshow(np.ma.masked_equal(a.filled(0), 0), cmap=ListedColormap(colours), vmin=0, vmax=len(colours) - 1,
              extent=(bounds[0], bounds[2], bounds[1], bounds[3]), interpolation="nearest")
    present = set(np.unique(a.compressed()).tolist())
    handles = [Patch(facecolor=c.colour, edgecolor="#333", label=c.label) for c in CLASSES if c.code in present]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False,
              title="Land cover", title_fontsize=8)
    ax.set_title(title, fontsize=10)
    _frame(ax, bounds, crs)
    return png(fig)


def value_map(path: str | Path, title: str, unit: str, *, cmap: str = "YlGn") -> bytes:
    """A continuous layer (e.g. carbon density) with a colour bar in ``unit``."""
    plt = _plt()
    a, bounds, crs = read_decimated(path)
    a = np.ma.masked_invalid(a)
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    im = ax.imshow(a, cmap=cmap, extent=(bounds[0], bounds[2], bounds[1], bounds[3]), interpolation="nearest")
    cb = fig.colorbar(im, ax=ax, shrink=0.8)
    cb.set_label(unit, fontsize=8)
    cb.ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=10)
    _frame(ax, bounds, crs)
    return png(fig)


def change_map(path: str | Path, title: str, *, patches: Any = None, redlines: Any = None) -> bytes:
    """Change map: ecological land lost (red), gained (green), other change (amber), unchanged (grey);
    encroachment patches outlined in black, redlines in blue."""
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    plt = _plt()
    a, bounds, crs = read_decimated(path)
    code = a.filled(0).astype(np.int64)
    f, t = code // 16, code % 16
    eco = np.isin(f, [CODES[n] for n in ECOLOGICAL])
    eco_to = np.isin(t, [CODES[n] for n in ECOLOGICAL])
    cat = np.zeros(code.shape, np.uint8)
    cat[(code > 0) & (f == t)] = 1
    cat[(code > 0) & (f != t)] = 4
    cat[(code > 0) & eco & ~eco_to] = 2
    cat[(code > 0) & ~eco & eco_to] = 3
    cm = ListedColormap(["#ffffff", "#e3e3e3", "#d7191c", "#1a9641", "#fdae61"])
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    ax.imshow(np.ma.masked_equal(cat, 0), cmap=cm, vmin=0, vmax=4,
              extent=(bounds[0], bounds[2], bounds[1], bounds[3]), interpolation="nearest")
    handles = [Patch(facecolor="#e3e3e3", label="unchanged"), Patch(facecolor="#d7191c", label="ecological land lost"),
               Patch(facecolor="#1a9641", label="ecological land gained"),
               Patch(facecolor="#fdae61", label="other change")]
    if redlines is not None and len(redlines):
        redlines.to_crs(crs).boundary.plot(ax=ax, color="#1f4e9c", linewidth=1.0)
        handles.append(Line2D([], [], color="#1f4e9c", label="redline"))
    if patches is not None and len(patches):
        patches.to_crs(crs).boundary.plot(ax=ax, color="black", linewidth=1.2)
        handles.append(Line2D([], [], color="black", label="encroachment patch"))
    ax.set_xlim(bounds[0], bounds[2])
    ax.set_ylim(bounds[1], bounds[3])
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False,
              title="Change", title_fontsize=8)
    ax.set_title(title, fontsize=10)
    _frame(ax, bounds, crs)
    return png(fig)


def goal_chart(name: str, unit: str, years: Sequence[int], values: Sequence[float | None],
               targets: Sequence[dict[str, Any]], trajectory: dict[str, Any],
               national: Sequence[dict[str, Any]] | None = None) -> bytes:
    """:func:`goal_figure` as PNG bytes."""
    return png(goal_figure(name, unit, years, values, targets, trajectory, national))


def goal_figure(name: str, unit: str, years: Sequence[int], values: Sequence[float | None],
                targets: Sequence[dict[str, Any]], trajectory: dict[str, Any],
                national: Sequence[dict[str, Any]] | None = None, *, ax: Any = None) -> Any:
    """An indicator over the epochs with its linear trajectory, the targets and (for rates) the
    national series; whole years on the time axis.  Returns the figure."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    plt = _plt()
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
    else:
        fig = ax.figure
    pts = [(y, v) for y, v in zip(years, values) if v is not None]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color="#006400", label="this area (map)")
    if trajectory.get("slope_per_year") is not None and pts:
        xs = np.array([pts[0][0], max([t["year"] for t in targets] + [pts[-1][0]])])
        ax.plot(xs, trajectory["slope_per_year"] * xs + trajectory["intercept"], "--", color="#006400", lw=1,
                label="linear trajectory")
    shown = [t for t in targets if t.get("comparable", True)]
    for k, t in enumerate(shown):
        ax.scatter([t["year"]], [t["target"]], marker="*", s=120, color="#d95f02", zorder=3,
                   label="target" if k == 0 else None)
        ax.annotate(f"{t['year']}", (t["year"], t["target"]), textcoords="offset points", xytext=(0, 7),
                    ha="center", fontsize=7, color="#a04000")
    if national:
        pre = [r for r in national if not r["series_break"] and r["year"] < 2021]
        post = [r for r in national if r["year"] >= 2021]
        ax.plot([r["year"] for r in pre], [r[name] for r in pre], "s-", color="#7570b3", ms=3, lw=1,
                label="China, official (NFI)")
        ax.plot([r["year"] for r in post], [r[name] for r in post], "s--", color="#7570b3", ms=3, lw=1,
                label="China, from 2021 (new survey base)")
        ax.axvline(2020.5, color="#999", lw=0.8, ls=":")
        ax.text(2020.6, ax.get_ylim()[0], " series break", fontsize=6, color="#666", va="bottom")
    ax.set_ylabel(unit, fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0f}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: minus_sign(f"{v:,.0f}" if abs(v) >= 1000 else f"{v:g}")))
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    return fig


#: Bar colours of the sink chart: a removal (sink > 0) green, an emission red.
REMOVAL_COLOUR, EMISSION_COLOUR = "#1a9641", "#d7191c"


def sink_chart(periods: Sequence[str], values: Sequence[float], lo: Sequence[float | None],
               hi: Sequence[float | None]) -> bytes:
    """Sink per period (Mg C/yr) with its 95 % interval."""
    return png(sink_figure(periods, values, lo, hi))


def sink_figure(periods: Sequence[str], values: Sequence[float], lo: Sequence[float | None],
                hi: Sequence[float | None]) -> Any:
    """The sink chart's figure: removals green, emissions red, each with its 95 % interval."""
    from matplotlib.patches import Patch

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    x = np.arange(len(periods))
    colours = [EMISSION_COLOUR if v < 0 else REMOVAL_COLOUR for v in values]
    ax.bar(x, values, color=colours, width=0.5)
    if any(v < 0 for v in values):
        ax.legend(handles=[Patch(facecolor=REMOVAL_COLOUR, label="removal (sink)"),
                           Patch(facecolor=EMISSION_COLOUR, label="emission (source)")], fontsize=7, frameon=False)
    err = [[v - (l if l is not None else v) for v, l in zip(values, lo)],
           [(h if h is not None else v) - v for v, h in zip(values, hi)]]
    ax.errorbar(x, values, yerr=err, fmt="none", ecolor="black", capsize=5, lw=1)
    ax.set_xticks(x, [p.replace("_", "–") for p in periods], fontsize=8)
    ax.set_ylabel("sink, Mg C/yr (positive = removal)", fontsize=8)
    ax.axhline(0, color="black", lw=0.6)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", alpha=0.3)
    return fig
