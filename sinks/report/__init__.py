"""The HTML report of a run: one self-contained file (inline PNG maps, inline CSS, no network).

:func:`build_report` reads a run folder (``summary.json``, ``manifest.json``, the COG
layers and tables described in ``docs/outputs.md``) and writes one HTML file with:
land cover per epoch, carbon density, change with encroachment patches and redline
outlines, class-area and carbon tables, transition matrices, the sink with its
intervals, goal charts with the national series, accuracy, region and redline
indicators, and the manifest.  Sections whose stage did not run say so.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
from pathlib import Path
from typing import Any, Collection

from ..errors import ConfigError
from .numbers import minus_sign

__all__ = ["build_report"]

log = logging.getLogger("sinks")

def _css() -> str:
    from .fonts import CSS_FONT_STACK

    return (f"body {{ font-family: {CSS_FONT_STACK}; }}\n"
            + Path(__file__).with_name("report.css").read_text(encoding="utf-8"))


_CSS = _css()

#: Opens every collapsed section (confusion matrices, manifest) before the page is printed,
#: and closes again those that were closed; the print style sheet shows their content too.
_PRINT_JS = """
(function () {
  var closed = [];
  window.addEventListener('beforeprint', function () {
    closed = Array.prototype.filter.call(document.querySelectorAll('details'), function (d) { return !d.open; });
    closed.forEach(function (d) { d.open = true; });
  });
  window.addEventListener('afterprint', function () { closed.forEach(function (d) { d.open = false; }); });
})();
"""


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _num(v: Any, digits: int = 1) -> str:
    """A cell or figure as shown: floats with ``digits`` decimals and thousands separators, a
    negative figure with the minus sign (words such as ``gain-loss`` untouched), ``–`` for none."""
    if v is None:
        return "–"
    if isinstance(v, float):
        return minus_sign(f"{v:,.{digits}f}")
    text = html.escape(str(v))
    return text if _is_text(v) else minus_sign(text)


def _is_text(v: Any) -> bool:
    """A cell of words (names, methods, sources), not figures."""
    return isinstance(v, str) and any(ch.isalpha() for ch in v)


def _text_columns(head: list[str], rows: list[list[Any]], left: Collection[int] = ()) -> set[int]:
    """The columns shown left-aligned as a whole, header and every cell: those of words only, those
    with prose (a word cell longer than ``_SHORT``) and ``left``; the others are figures, right-aligned
    with their odd word ("no range" beside "95 %") so that no column mixes the two.

    Parameters
    ----------
    head : list of str
        The column headers.
    rows : list of list
        The rows' cells.
    left : collection of int
        Columns left-aligned whatever they hold (a key–value table's values).

    Returns
    -------
    set of int
        The indices of the left-aligned columns (the first column, left-aligned by the style sheet,
        is not among them).
    """
    def cells(j: int) -> list[Any]:
        return [r[j] for r in rows if j < len(r) and r[j] is not None]

    def words(j: int) -> bool:
        got = cells(j)
        return (bool(got) and all(_is_text(c) for c in got)) or any(_is_text(c) and len(c) > _SHORT for c in got)

    return {j for j in range(1, len(head)) if j in left or words(j)}


def _table(head: list[str], rows: list[list[Any]], *, digits: int = 1, cls: str = "", caption: str = "",
           diagonal: bool = False, left: Collection[int] = ()) -> str:
    """An HTML table: figures right-aligned with thousands separators, words left-aligned, a column
    aligned one way as a whole (see ``_text_columns``; ``left`` forces columns left); short words (a
    period, a method, "no range") kept on one line; ``diagonal`` marks the cells where row and column
    name agree (transition matrices)."""
    text_cols = _text_columns(head, rows, left)
    # a table of words (cls "text") is left-aligned by the style sheet: its figure columns say "n"
    fig = "n" if "text" in cls.split() else ""

    def th(h: str, j: int) -> str:
        kind = "t" if j in text_cols else (fig if j > 0 else "")
        return f'<th class="{kind}">{html.escape(h)}</th>' if kind else f"<th>{html.escape(h)}</th>"

    def td(c: Any, row: list[Any], j: int) -> str:
        classes = []
        if j in text_cols:  # the first column is left-aligned by the style sheet
            classes.append("t")
        elif j > 0 and fig:
            classes.append(fig)
        if isinstance(c, str) and len(c) <= _SHORT:
            classes.append("nw")
        if diagonal and j > 0 and head[j] == row[0]:
            classes.append("diag")
        attr = f' class="{" ".join(classes)}"' if classes else ""
        return f"<td{attr}>{_num(c, digits)}</td>"

    body = "".join("<tr>" + "".join(td(c, r, j) for j, c in enumerate(r)) + "</tr>" for r in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    head_row = "".join(th(h, j) for j, h in enumerate(head))
    return f'<table class="{cls}">{cap}<thead><tr>{head_row}</tr></thead><tbody>{body}</tbody></table>'


#: Text cells up to this many characters stay on one line ("2015–2020", "gain-loss", "no range").
_SHORT = 16


def _missing(what: str) -> str:
    return f'<p class="na">{html.escape(what)} was not computed in this run.</p>'


def build_report(run_dir: str | os.PathLike, out: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write the report of ``run_dir`` to ``out`` (atomically)."""
    from ..outputs import atomic_write_text, ensure_writable
    from ..runstate import read_marker, record_derived, require_complete

    run = Path(run_dir)
    if (run / "batch_summary.csv").exists():
        ensure_writable([out], overwrite=overwrite)
        from .batch import render_batch

        with _mpl_fonts():
            body, script = render_batch(run)
        title = html.escape(f"sinks batch report — {_batch_name(run)}")
        page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
                f"<style>{_CSS}</style></head><body><header><h1>{title}</h1></header><main>{body}</main>"
                f"<footer>Made by sinks from {html.escape(str(run))}; each region's own report: "
                f"sinks report {html.escape(str(run))}/regions/&lt;id&gt;.</footer><script>{script}{_PRINT_JS}</script>"
                "</body></html>\n")
        atomic_write_text(out, page, overwrite=overwrite)
        return Path(out)
    if not (run / "summary.json").exists() and read_marker(run) is None:
        raise ConfigError(f"{run}: not a run folder (no summary.json) nor a batch folder (no batch_summary.csv)")
    require_complete(run)
    ensure_writable([out], overwrite=overwrite)
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8")) if (run / "manifest.json").exists() else {}
    from .sections import render_sections

    with _mpl_fonts():
        body = render_sections(run, summary, manifest)
    region = _batch_region(run, summary)
    title = html.escape(f"sinks report — {summary.get('name', run.name)}" + (f", region {region}" if region else ""))
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{_CSS}</style></head>"
            f"<body><header><h1>{title}</h1>{_nav()}</header><main>{body}</main>"
            f"<footer>Made by sinks from {html.escape(str(run))}. All figures carry their unit; "
            f"sinks are positive for removals from the atmosphere.</footer><script>{_PRINT_JS}</script></body></html>\n")
    atomic_write_text(out, page, overwrite=overwrite)
    record_derived(run, out)  # a report inside the run folder goes with it on --overwrite
    log.info("report: %s", out)
    return Path(out)


def _batch_name(batch: Path) -> str:
    """``beihai-demo (folder batch)``: the spec's name from a region's summary, and the folder."""
    for summary in sorted((batch / "regions").glob("*/summary.json"))[:1]:
        try:
            name = json.loads(summary.read_text(encoding="utf-8")).get("name")
        except (OSError, ValueError):
            name = None
        if name:
            return f"{name} (folder {batch.name})"
    return batch.name


def _batch_region(run: Path, summary: dict[str, Any]) -> str:
    """``450512 铁山港区`` for a batch region's run (its id, and its name from the batch's table
    when the run sits in its batch folder); ``""`` for other runs."""
    rid = str((summary.get("batch") or {}).get("region_id") or "")
    if not rid:
        return ""
    table = run.parent.parent / "batch_summary.csv"
    if run.parent.name == "regions" and table.exists():
        try:
            from ..csvio import read_csv

            df = read_csv(table, dtype={0: str})
            gpkg = run.parent.parent / "batch_summary.gpkg"
            names = None
            if "name" in df.columns:
                names = dict(zip(df.iloc[:, 0].astype(str), df["name"]))
            elif gpkg.exists():
                import geopandas as gpd

                g = gpd.read_file(gpkg, ignore_geometry=True)
                if "name" in g.columns:
                    names = dict(zip(g.iloc[:, 0].astype(str), g["name"]))
            name = (names or {}).get(rid)
            if isinstance(name, str) and name:
                return f"{rid} {name}"
        except Exception:  # noqa: BLE001 - the name only adorns the title
            pass
    return rid


def _mpl_fonts() -> Any:
    """A matplotlib rc context in which Chinese names are drawn with an installed CJK font."""
    import matplotlib

    from .fonts import rc_params

    return matplotlib.rc_context(rc_params())


_SECTIONS = [("overview", "Overview"), ("landcover", "Land cover"), ("carbon", "Carbon"), ("change", "Change"),
             ("sink", "Sink"), ("method", "Method and sources"), ("goals", "Goals"), ("accuracy", "Accuracy"),
             ("areas", "Redlines and regions"), ("manifest", "Manifest")]


def _nav() -> str:
    return "<nav>" + " · ".join(f'<a href="#{k}">{html.escape(v)}</a>' for k, v in _SECTIONS) + "</nav>"
