"""The batch page: every region's status and indicators in a sortable table, plus choropleth maps."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from . import _img, _missing

__all__ = ["render_batch"]

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
    if isinstance(v, float):
        if v != v:  # NaN
            return '<td data-v="">–</td>'
        return f'<td data-v="{v!r}">{v:,.2f}</td>'
    return f'<td data-v="{html.escape(str(v))}">{html.escape(str(v))}</td>'


def _choropleth(gdf: Any, column: str, title: str, unit: str, cmap: str, *, diverging: bool = False) -> bytes:
    from matplotlib.colors import TwoSlopeNorm

    from .maps import _plt, png

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    v = gdf[column].astype(float)
    norm = (TwoSlopeNorm(0.0, vmin=min(v.min(), -1e-9), vmax=max(v.max(), 1e-9))
            if diverging and v.notna().any() else None)  # zero sink in the neutral colour
    gdf.plot(column=column, ax=ax, cmap=cmap, norm=norm, legend=True, edgecolor="#333", linewidth=0.4,
             missing_kwds={"color": "#dddddd", "label": "failed / no data"}, legend_kwds={"label": unit, "shrink": 0.7})
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
    return png(fig)


def render_batch(batch_dir: Path) -> tuple[str, str]:
    """``(body HTML, inline script)`` of the batch page of ``batch_dir``."""
    import geopandas as gpd

    from ..csvio import read_csv

    table = read_csv(batch_dir / "batch_summary.csv", dtype={0: str})
    id_field = table.columns[0]
    table[id_field] = table[id_field].astype(str)
    n, failed = len(table), int((table["status"] != "done").sum())
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns if c != "folder")
    rows = "".join("<tr>" + "".join(_cell(r[c]) for c in table.columns if c != "folder") + "</tr>"
                   for _, r in table.iterrows())
    parts = [f'<section id="overview"><h2>Batch of {n} regions</h2><p>{n - failed} done, {failed} failed. '
             "Click a column header to sort.</p>"
             f'<table class="sortable wide"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></section>']
    gpkg = batch_dir / "batch_summary.gpkg"
    maps = []
    if gpkg.exists():
        gdf = gpd.read_file(gpkg)
        gdf[id_field] = gdf[id_field].astype(str)

        def last(prefix: str) -> str | None:
            cols = sorted(c for c in gdf.columns if c.startswith(prefix) and not c.endswith(("_lo", "_hi")))
            return cols[-1] if cols else None

        for prefix, title, unit, cmap in (("forest_coverage_pct_", "Forest coverage", "%", "YlGn"),
                                          ("stock_mg_c_", "Carbon stock", "Mg C", "Greens"),
                                          ("sink_mg_c_per_yr_", "Carbon sink", "Mg C/yr (positive = removal)",
                                           "RdYlGn")):
            col = last(prefix)
            if col:
                label = f"{title}, {col[len(prefix):].replace('_', '–')}"
                chart = _choropleth(gdf, col, label, unit, cmap, diverging=prefix.startswith("sink"))
                maps.append(f"<figure>{_img(chart, label)}"
                            f"<figcaption>{html.escape(label)} ({html.escape(unit)})</figcaption></figure>")
    parts.append('<section id="maps"><h2>Maps by region</h2>'
                 + ('<div class="maps">' + "".join(maps) + "</div>" if maps else _missing("Region maps"))
                 + "</section>")
    return "\n".join(parts), _SORT_JS
