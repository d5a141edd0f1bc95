"""The batch page: every region's status and indicators in a sortable table, plus choropleth maps."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ..csvio import read_csv
from ..labels import header_label
from . import _img, _missing
from .numbers import minus_sign

__all__ = ["render_batch", "choropleth_figure", "colour_scale"]

_SORT_JS = """
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.style.cursor = 'pointer';
  th.title = 'sort';
  th.addEventListener('click', function () {
    var body = th.closest('table').tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.getAttribute('data-asc') !== 'true';
    th.setAttribute('data-asc', asc);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def _cell(v: Any) -> str:
    """A cell of the sortable table: numbers right-aligned with two decimals, yes/no for flags,
    words left-aligned; ``data-v`` holds the value the column sorts by."""
    import numpy as np

    if isinstance(v, (bool, np.bool_)) or (isinstance(v, str) and v in ("True", "False")):
        yes = v is True or v == "True" or (isinstance(v, np.bool_) and bool(v))
        return f'<td data-v="{int(yes)}">{"yes" if yes else "no"}</td>'
    if isinstance(v, (float, np.floating)):
        if v != v:  # NaN
            return '<td data-v="">–</td>'
        return f'<td data-v="{float(v)!r}">{minus_sign(f"{v:,.2f}")}</td>'
    text = html.escape(str(v))
    return f'<td class="t nw" data-v="{text}">{text}</td>'


def colour_scale(values: Any, *, diverging: bool = False) -> tuple[float, float]:
    """``(vmin, vmax)`` of a choropleth's colour bar: the data's range, or for a diverging
    scale (the sink) ± the largest magnitude, so equal magnitudes get equal colour depth
    and zero sits on the neutral colour."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return (-1.0, 1.0) if diverging else (0.0, 1.0)
    if diverging:
        m = float(np.abs(v).max()) or 1.0
        return -m, m
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:  # one value (or all equal): a band around it
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    return lo, hi


def choropleth_figure(gdf: Any, column: str, title: str, unit: str, cmap: str, *, diverging: bool = False,
                      label_field: str | None = None, digits: int = 1) -> Any:
    """A choropleth of ``column`` with its colour bar in ``unit`` over the data's range and each
    polygon labelled with ``label_field`` (e.g. the region's name) and its value."""
    import matplotlib.patheffects as pe
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    from .maps import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    v = gdf[column].astype(float)
    vmin, vmax = colour_scale(v, diverging=diverging)
    norm = Normalize(vmin=vmin, vmax=vmax)
    gdf.plot(column=column, ax=ax, cmap=cmap, norm=norm, edgecolor="#333", linewidth=0.4,
             missing_kwds={"color": "#dddddd", "label": "failed / no data"})
    cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.7)
    cb.set_label(unit, fontsize=8)
    cb.ax.tick_params(labelsize=7)
    from matplotlib.ticker import FuncFormatter

    cb.ax.yaxis.set_major_formatter(FuncFormatter(
        lambda t, _p: minus_sign(f"{t:,.0f}" if abs(vmax - vmin) >= 50 else f"{t:g}")))
    halo = [pe.withStroke(linewidth=2.5, foreground="white")]
    for (_i, row), val in zip(gdf.iterrows(), v):
        geom = row.geometry
        if geom is None or geom.is_empty:
            continue
        p = geom.representative_point()
        name = str(row[label_field]) if label_field and row.get(label_field) is not None else ""
        text = "\n".join(t for t in (name, "–" if val != val else minus_sign(f"{val:,.{digits}f}")) if t)
        ax.annotate(text, (p.x, p.y), ha="center", va="center", fontsize=7.5, path_effects=halo)
    if v.isna().any():  # say what the grey regions are
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(facecolor="#dddddd", edgecolor="#333", label="no data (region not done)")],
                  loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=7, frameon=False)
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
    return fig


def _choropleth(gdf: Any, column: str, title: str, unit: str, cmap: str, *, diverging: bool = False,
                label_field: str | None = None, digits: int = 1) -> bytes:
    from .maps import png

    return png(choropleth_figure(gdf, column, title, unit, cmap, diverging=diverging, label_field=label_field,
                                 digits=digits))


#: The batch table on paper: one table per group of indicators (with the id and name).
_PRINT_GROUPS = (
    ("status and forest coverage", ("status", "forest_coverage_pct_")),
    ("carbon stock and stock volume", ("stock_mg_c_", "volume_m3_")),
    ("sink and encroachment", ("sink_mg_c_per_yr_", "encroachment_ha_")),
)


def render_batch(batch_dir: Path) -> tuple[str, str]:
    """``(body HTML, inline script)`` of the batch page of ``batch_dir``."""
    import geopandas as gpd

    from .fonts import warn_if_missing

    table = read_csv(batch_dir / "batch_summary.csv", dtype={0: str})
    id_field = table.columns[0]
    table[id_field] = table[id_field].astype(str)
    gpkg = batch_dir / "batch_summary.gpkg"
    gdf = None
    if gpkg.exists():
        gdf = gpd.read_file(gpkg)
        gdf[id_field] = gdf[id_field].astype(str)
        if "name" in gdf.columns and "name" not in table.columns:
            table.insert(1, "name", table[id_field].map(dict(zip(gdf[id_field], gdf["name"]))))
    n, failed = len(table), int((table["status"] != "done").sum())
    cols = [c for c in table.columns if c != "folder" and not (c == "error" and not failed)]
    text_cols = {c for c in cols[1:] if table[c].map(lambda v: isinstance(v, str)).any()
                 and not set(table[c].dropna().astype(str)) <= {"True", "False"}}
    head = "".join(f'<th class="t">{html.escape(header_label(c))}</th>' if c in text_cols
                   else f"<th>{html.escape(header_label(c))}</th>" for c in cols)
    rows = "".join("<tr>" + "".join(_cell(r[c]) for c in cols) + "</tr>" for _, r in table.iterrows())
    from .sections import area_tables

    # printed, the wide sortable table gives way to narrower ones, a group of indicators each
    printed = area_tables(table, "Regions", groups=_PRINT_GROUPS)
    errors = [[r[id_field], r["status"], r["error"]] for _i, r in table.iterrows()
              if r["status"] != "done" and isinstance(r["error"], str) and r["error"]]
    from . import _table

    printed += _table([header_label(id_field), "status", "error"], errors, cls="text", caption="Regions not done") if errors else ""
    parts = [f'<section id="overview"><h2>Batch of {n} regions</h2><p>{n - failed} done, {failed} failed. '
             '<span class="screen-only">Click a column header to sort.</span></p>'
             f'<table class="sortable wide screen-only"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
             f'<div class="print-only">{printed}</div></section>']
    maps = []
    if gdf is not None:
        label_field = "name" if "name" in gdf.columns else id_field
        warn_if_missing(gdf[label_field].tolist())

        def last(prefix: str) -> str | None:
            found = sorted(c for c in gdf.columns if c.startswith(prefix) and not c.endswith(("_lo", "_hi")))
            return found[-1] if found else None

        for prefix, title, unit, cmap, digits in (
                ("forest_coverage_pct_", "Forest coverage", "%", "YlGn", 1),
                ("stock_mg_c_", "Carbon stock", "Mg C", "Greens", 0),
                ("sink_mg_c_per_yr_", "Carbon sink", "Mg C/yr (positive = removal)", "RdYlGn", 0)):
            col = last(prefix)
            if col:
                label = f"{title}, {col[len(prefix):].replace('_', '–')}"
                chart = _choropleth(gdf, col, label, unit, cmap, diverging=prefix.startswith("sink"),
                                    label_field=label_field, digits=digits)
                maps.append(f"<figure>{_img(chart, label)}"
                            f"<figcaption>{html.escape(label)} ({html.escape(unit)})</figcaption></figure>")
    parts.append('<section id="maps"><h2>Maps by region</h2>'
                 + ('<div class="maps">' + "".join(maps) + "</div>" if maps else _missing("Region maps"))
                 + '<p class="note">Colour bars span the regions\' values; the sink\'s diverging scale is '
                 "symmetric about zero, so a colour's depth shows the size of a removal or an emission alike.</p>"
                 + "</section>")
    return "\n".join(parts), _SORT_JS
