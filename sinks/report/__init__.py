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
from typing import Any

__all__ = ["build_report"]

log = logging.getLogger("sinks")

_CSS = (Path(__file__).with_name("report.css")).read_text(encoding="utf-8") if (
    Path(__file__).with_name("report.css")).exists() else ""


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _num(v: Any, digits: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return html.escape(str(v))


def _table(head: list[str], rows: list[list[Any]], *, digits: int = 1, cls: str = "") -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_num(c, digits)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _missing(what: str) -> str:
    return f'<p class="na">{html.escape(what)} was not computed in this run.</p>'


def build_report(run_dir: str | os.PathLike, out: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write the report of ``run_dir`` to ``out`` (atomically)."""
    from ..errors import ConfigError
    from ..outputs import atomic_write_text, ensure_writable
    from ..runstate import read_marker, record_derived, require_complete

    run = Path(run_dir)
    if (run / "batch_summary.csv").exists():
        ensure_writable([out], overwrite=overwrite)
        from .batch import render_batch

        body, script = render_batch(run)
        title = html.escape(f"sinks batch report — {run.name}")
        page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
                f"<style>{_CSS}</style></head><body><header><h1>{title}</h1></header><main>{body}</main>"
                f"<footer>Made by sinks from {html.escape(str(run))}; each region's own report: "
                f"sinks report {html.escape(str(run))}/regions/&lt;id&gt;.</footer><script>{script}</script></body></html>\n")
        atomic_write_text(out, page, overwrite=overwrite)
        return Path(out)
    if not (run / "summary.json").exists() and read_marker(run) is None:
        raise ConfigError(f"{run}: not a run folder (no summary.json) nor a batch folder (no batch_summary.csv)")
    require_complete(run)
    ensure_writable([out], overwrite=overwrite)
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8")) if (run / "manifest.json").exists() else {}
    from .sections import render_sections

    body = render_sections(run, summary, manifest)
    title = html.escape(f"sinks report — {summary.get('name', run.name)}")
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{_CSS}</style></head>"
            f"<body><header><h1>{title}</h1>{_nav()}</header><main>{body}</main>"
            f"<footer>Made by sinks from {html.escape(str(run))}. All figures carry their unit; "
            f"sinks are positive for removals from the atmosphere.</footer></body></html>\n")
    atomic_write_text(out, page, overwrite=overwrite)
    record_derived(run, out)  # a report inside the run folder goes with it on --overwrite
    log.info("report: %s", out)
    return Path(out)


_SECTIONS = [("overview", "Overview"), ("landcover", "Land cover"), ("carbon", "Carbon"), ("change", "Change"),
             ("sink", "Sink"), ("method", "Method and sources"), ("goals", "Goals"), ("accuracy", "Accuracy"),
             ("areas", "Redlines and regions"), ("manifest", "Manifest")]


def _nav() -> str:
    return "<nav>" + " · ".join(f'<a href="#{k}">{html.escape(v)}</a>' for k, v in _SECTIONS) + "</nav>"
