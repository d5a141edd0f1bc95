"""The sections of the run report (HTML fragments)."""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from ..csvio import read_csv
from ..labels import class_label, header_label
from ..landcover import CLASSES
from . import _img, _missing, _num, _table, maps
from .numbers import minus_sign

__all__ = ["render_sections"]

log = logging.getLogger("sinks")


def _sec(key: str, title: str, inner: str) -> str:
    return f'<section id="{key}"><h2>{html.escape(title)}</h2>{inner}</section>'


def _epochs(summary: dict[str, Any]) -> list[tuple[str, int]]:
    return [(e["name"], int(e["year"])) for e in summary.get("epochs", [])]


def _read_vector(path: Any) -> Any:
    try:
        import geopandas as gpd

        return gpd.read_file(path) if path and Path(path).exists() else None
    except Exception:  # noqa: BLE001 - a missing or odd layer only drops an overlay
        return None


def render_sections(run: Path, summary: dict[str, Any], manifest: dict[str, Any]) -> str:
    parts = [_overview(summary), _landcover(run, summary), _carbon(run, summary), _change(run, summary, manifest),
             _sink(summary), _method(summary), _goals(summary), _accuracy(summary), _areas(run),
             _manifest(manifest)]
    return "\n".join(parts)


def _overview(s: dict[str, Any]) -> str:
    g = s.get("grid", {})
    rows = [["name", s.get("name")], ["sensor", s.get("sensor")], ["CRS", g.get("crs")],
            ["size (px)", f"{g.get('width'):,} × {g.get('height'):,}" if g.get("width") else None],
            ["resolution (m)", _resolution(g.get("resolution"))],
            ["epochs", ", ".join(n if n == str(y) else f"{n} ({y})" for n, y in _epochs(s))]]
    lc = s.get("landcover") or {}
    if lc:
        last = lc[list(lc)[-1]]
        rows.append(["forest coverage, latest epoch (%)", _num(last.get("forest_coverage_pct"), 2)
                     + (" (lower bound: part of the area is unobserved)" if last.get("coverage_flagged") else "")])
    return _sec("overview", "Overview", _table(["item", "value"], rows, left=[1]) +
                '<p class="note">The sample data shipped with sinks are synthetic; figures from them show what the '
                "tool computes, not the state of any real place.</p>")


def _resolution(res: Any) -> Any:
    """``10`` or ``10 × 20`` (m) from the grid's resolution (a number or an ``[x, y]`` pair)."""
    if isinstance(res, (list, tuple)):
        xs = [f"{abs(float(v)):g}" for v in res]
        return xs[0] if len(set(xs)) == 1 else " × ".join(xs)
    return None if res is None else f"{float(res):g}"


def _period(key: str) -> str:
    """A period key as shown (``2015_2020`` → ``2015–2020``)."""
    return key.replace("_", "–")


def _landcover(run: Path, s: dict[str, Any]) -> str:
    lc = s.get("landcover") or {}
    if not lc:
        return _sec("landcover", "Land cover", _missing("Land cover"))
    imgs = []
    for name, _y in _epochs(s):
        p = run / f"landcover_{name}.tif"
        if p.exists():
            imgs.append(f"<figure>{_img(maps.landcover_map(p, f'Land cover {name}'), f'land cover {name}')}"
                        f"<figcaption>Land cover {html.escape(name)} ({html.escape(str(lc.get(name, {}).get('method', '')))})"
                        "</figcaption></figure>")
    classes = list((lc[list(lc)[0]].get("area_ha") or {}).keys())
    head = ["class"] + [f"{n} (ha)" for n, _y in _epochs(s)]
    rows = [[class_label(c)] + [(lc.get(n, {}).get("area_ha") or {}).get(c) for n, _y in _epochs(s)] for c in classes]
    eps = [n for n, _y in _epochs(s)]
    rows.append(["unobserved (clouds, nodata)"] + [lc.get(n, {}).get("unobserved_ha") for n in eps])
    rows.append(["zone area (whole " + str(lc.get(eps[0], {}).get("zone", "grid")) + ")"]
                + [lc.get(n, {}).get("zone_area_ha") for n in eps])
    rows.append(["forest coverage (%)"] + [_flagged(lc.get(n, {})) for n in eps])
    notes = [lc[n]["coverage_note"] for n in eps if lc.get(n, {}).get("coverage_note")]
    note = ('<p class="note">Forest coverage is China\'s official rate: forest and mangrove area over the whole '
            "zone area, inland water included (domain.md §4); unobserved area stays in the denominator, so a "
            "rate marked * is a lower bound." + "".join(f" {html.escape(n)}." for n in notes) + "</p>")
    return _sec("landcover", "Land cover", '<div class="maps">' + "".join(imgs) + "</div>"
                + _table(head, rows, digits=2) + note)


def _flagged(sec: dict[str, Any]) -> Any:
    v = sec.get("forest_coverage_pct")
    if v is None or not sec.get("coverage_flagged"):
        return v
    return f"{v:,.2f} *"


def _carbon(run: Path, s: dict[str, Any]) -> str:
    c = s.get("carbon") or {}
    if not c.get("epochs"):
        return _sec("carbon", "Carbon", _missing("Carbon"))
    names = [n for n, _y in _epochs(s)]
    last = names[-1]
    p = run / "carbon" / last / "carbon_density_total.tif"
    img = (f"<figure>{_img(maps.value_map(p, f'Carbon density {last}, all pools', 'Mg C/ha'), 'carbon density')}"
           f"<figcaption>Carbon density {html.escape(last)}, above + below + dead + soil (Mg C/ha)</figcaption></figure>"
           if p.exists() else "")
    rows = []
    for pool in ("above", "below", "dead", "soil", "total"):
        row = [pool]
        for n in names:
            e = c["epochs"].get(n, {})
            v = (e.get("stock_mg_c") or {}).get(pool)
            ci = (e.get("stock_mg_c_ci95") or {}).get(pool)
            row.append(f"{v:,.0f}" + (f" [{ci[0]:,.0f} – {ci[1]:,.0f}]" if ci else "") if v is not None else None)
        rows.append(row)
    rows.append(["forest stock volume (m³)"] + [c["epochs"].get(n, {}).get("volume_m3") for n in names])
    head = ["pool"] + [f"{n} (Mg C, 95 % interval)" for n in names]
    note = (f'<p class="note">Coefficient table: {html.escape(str(c.get("table")))}, soil '
            f'{html.escape(str(c.get("soil_depth")))} cm. Totals are Σ class area × density; intervals are Monte '
            "Carlo over the table's low–high ranges (and the Olofsson area errors where a reference sample exists).</p>")
    return _sec("carbon", "Carbon stock", '<div class="maps">' + img + "</div>" + _table(head, rows, digits=0) + note)


def _change(run: Path, s: dict[str, Any], manifest: dict[str, Any]) -> str:
    c = s.get("carbon") or {}
    trans = c.get("transitions") or {}
    names = [n for n, _y in _epochs(s)]
    periods = [f"{a}_{b}" for a, b in zip(names, names[1:])]
    if not periods:
        return _sec("change", "Change", _missing("Change (needs two epochs)"))
    red_path = (((manifest.get("spec") or {}).get("aoi") or {}).get("redlines") or {}).get("path")
    redlines = _read_vector(red_path)
    out = []
    for key in periods:
        p = run / f"change_{key}.tif"
        patches = _read_vector(run / f"encroachment_{key}.gpkg")
        if p.exists():
            out.append(f"<figure>{_img(maps.change_map(p, f'Change {key.replace(chr(95), chr(8211))}', patches=patches, redlines=redlines), 'change ' + key)}"
                       f"<figcaption>Change {html.escape(_period(key))}: encroachment patches in black, redlines in blue"
                       "</figcaption></figure>")
        m = (trans.get(key) or {}).get("matrix_ha") or {}
        if m:
            order = legend_order({f for f in m} | {t for row in m.values() for t in row})
            labels = [class_label(c) for c in order]
            rows = [[lab] + [(m.get(f) or {}).get(t, 0.0) for t in order] for lab, f in zip(labels, order)]
            out.append(matrix_block(f"<h3>Transition matrix {html.escape(_period(key))} (ha; rows = from, "
                                    "columns = to; the unchanged area on the diagonal)</h3>",
                                    _table(["from \\ to"] + labels, rows, digits=2, cls="matrix", diagonal=True)))
        enc = (s.get("encroachment") or {}).get(key)
        if enc:
            rows = [[rid, v["patches"], v["area_ha"]] for rid, v in enc["by_redline"].items()]
            out.append(f"<h3>Encroachment on redlines {html.escape(_period(key))}</h3>"
                       + _table(["redline", "patches", "area (ha)"], rows, digits=2))
    return _sec("change", "Change and encroachment", '<div class="maps">' + "".join(
        o for o in out if o.startswith("<figure")) + "</div>" + "".join(o for o in out if not o.startswith("<figure")))


def matrix_block(heading: str, table: str, *, collapsed: bool = False) -> str:
    """A matrix table with its heading, kept on one printed page where it fits (a longer one
    splits between rows, its header repeated on each page).

    Parameters
    ----------
    heading : str
        The heading (HTML): an ``<h3>``, or the summary's text when ``collapsed``.
    table : str
        The matrix (an HTML table, see ``_table``).
    collapsed : bool
        Shown collapsed on screen (``<details>``); the print style sheet opens it.

    Returns
    -------
    str
        The HTML block.
    """
    if collapsed:
        return f'<details class="matrix-block"><summary>{heading}</summary>{table}</details>'
    return f'<div class="matrix-block">{heading}{table}</div>'


def legend_order(names: Any) -> list[str]:
    """Class names in the legend's order (forest, grassland, ... bare), others after them by name."""
    rank = {c.name: i for i, c in enumerate(CLASSES)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), str(n)))


def _interval(lo: float, hi: float) -> str:
    """``424 – 983``; negative ends with a minus sign (``−71 – −41``, not ``-71 – -41``)."""
    return minus_sign(f"{lo:,.0f} – {hi:,.0f}")


def _sink(s: dict[str, Any]) -> str:
    sinks = ((s.get("carbon") or {}).get("sink")) or {}
    if not sinks:
        return _sec("sink", "Sink", _missing("The sink"))
    keys = list(sinks)
    vals = [sinks[k]["sink_mg_c_per_yr"] for k in keys]
    lo = [(sinks[k].get("sink_mg_c_per_yr_ci95") or [None, None])[0] for k in keys]
    hi = [(sinks[k].get("sink_mg_c_per_yr_ci95") or [None, None])[1] for k in keys]

    def other(k: str) -> tuple[Any, Any]:
        e = sinks[k]
        name = "stock-difference" if e.get("method", "gain-loss") == "gain-loss" else "gain-loss"
        m = (e.get("methods") or {}).get(name) or {}
        iv = _interval(m["low"], m["high"]) if m.get("low") is not None else None
        return m.get("sink_mg_c_per_yr"), iv

    rows = []
    for k, v, a, b in zip(keys, vals, lo, hi):
        e = sinks[k]
        pf, nf, fl = e.get("persistent_forest") or {}, e.get("new_forest") or {}, e.get("forest_lost") or {}
        o, oiv = other(k)
        rows.append([k.replace("_", "–"), e.get("method", "gain-loss"), v, _interval(a, b) if a is not None else None,
                     pf.get("net_mg_c_per_yr"), nf.get("young_growth_mg_c_per_yr"), fl.get("biomass_change_mg_c"),
                     o, oiv, e["sink_tco2e_per_yr"], e.get("growth_vs_previous_pct")])
    first = sinks[keys[0]]
    other_name = "stock difference" if first.get("method", "gain-loss") == "gain-loss" else "gain–loss"
    head = ["period", "method", "sink (Mg C/yr)", "95 % interval (Mg C/yr)", "persistent forest, net (Mg C/yr)",
            "new forest, young-stand growth (Mg C/yr)", "forest lost, biomass at once (Mg C)",
            f"{other_name} (Mg C/yr)", f"{other_name}, 95 % interval", "sink (t CO₂e/yr)",
            "growth vs previous period (%)"]
    labels = "".join(f"<li><b>{html.escape(m)}</b>: {html.escape(str(v.get('label', '')))}</li>"
                     for m, v in (first.get("methods") or {}).items())
    areas = {html.escape(str(sinks[k].get("areas", ""))) for k in keys if sinks[k].get("areas")}
    note = (f'<ul class="note">{labels}</ul>' if labels else "") + "".join(
        f'<p class="note">Transition areas: {a}.</p>' for a in sorted(areas))
    return _sec("sink", "Carbon sink", f"<figure>{_img(maps.sink_chart(keys, vals, lo, hi), 'sink per period')}"
                "<figcaption>Sink per period with its 95 % Monte Carlo interval (positive = removal)</figcaption>"
                "</figure>" + _table(head, rows, digits=0, cls="wide") + note)


def _method(s: dict[str, Any]) -> str:
    """One "Method and sources" section: the carbon accounting, then the other figures."""
    carbon, other = _carbon_method(s), _figure_methods(s)
    if not carbon and not other:
        return _sec("method", "Method and sources", _missing("Method and source details"))
    return _sec("method", "Method and sources",
                (carbon or "") + ("<h3>Coverage, volume, goals and accuracy</h3>" + other if other else ""))


def _carbon_method(s: dict[str, Any]) -> str:
    """The sink method, growth row, soil and every coefficient with its source (HTML; "" without them)."""
    c = s.get("carbon") or {}
    co = c.get("coefficients")
    if not co:
        return ""
    out = []
    sinks = c.get("sink") or {}
    if sinks:
        first = sinks[list(sinks)[0]]
        g = c.get("growth") or {}
        out.append(f"<p>Sink method: <b>{html.escape(str(first.get('method')))}</b> — "
                   f"{html.escape(str(first.get('method_label', '')))}.  Growth row: "
                   f"<b>{html.escape(str(g.get('row')))}</b> ({html.escape(str(g.get('description', '')))}), forest "
                   f"type of the marginal carbon factor: {html.escape(str(g.get('forest_type')))}; net gain of "
                   f"persistent forest {_num(g.get('net_mg_c_per_ha_yr'), 3)} Mg C/ha/yr, young-stand growth "
                   f"{_num(g.get('young_stand_mg_c_per_ha_yr'), 3)} Mg C/ha/yr.</p>")
    zone = co.get("climate_zone")
    out.append(f"<p>Carbon table: {html.escape(str(co.get('table')))}; soil organic carbon "
               + (f"from the IPCC climate zone <b>{html.escape(str(zone))}</b> (SOC_ref × F_LU × F_MG × F_I)"
                  if zone else "as given by the table (no climate zone applied)") + ".</p>")
    growth = co.get("growth") or []
    if growth:
        rows = [[x["name"], x["central"], x.get("low"), x.get("high"), x.get("unit"),
                 "no range" if x.get("level") is None else f"{100 * x['level']:.0f} %", x.get("source")] for x in growth]
        out.append("<h3>Growth coefficients</h3>" + _table(["coefficient", "central", "low", "high", "unit",
                                                              "interval", "source"], rows, digits=4, cls="text"))
    dens = co.get("densities") or []
    if dens:
        rows = [[class_label(d["class"]), d["pool"], d["central_mg_c_per_ha"], d["low_mg_c_per_ha"], d["high_mg_c_per_ha"],
                 f"{100 * d['level']:.0f} %" if d["high_mg_c_per_ha"] > d["low_mg_c_per_ha"] else "no range",
                 d["source"]] for d in dens]
        out.append("<h3>Carbon densities of the classes present (Mg C/ha)</h3>" + _table(
            ["class", "pool", "central", "low", "high", "interval", "source"], rows, digits=3, cls="text"))
    wr = co.get("without_range") or []
    out.append('<p class="note">Inputs without a range (held fixed in the Monte Carlo; the intervals do not include '
               "their uncertainty): " + (html.escape(", ".join(wr)) if wr else "none") + ".  Status flags: [V] read "
               "in a located source, [D] derived by the arithmetic shown, [R] recalled and not verified, [A] an "
               "assumption.</p>")
    return "".join(out)


def _goals(s: dict[str, Any]) -> str:
    g = s.get("goals")
    if not g:
        return _sec("goals", "Goals", _missing("Goal tracking"))
    years = [y for _n, y in _epochs(s)]
    out = []
    for name, unit in (("forest_coverage_pct", "forest coverage (%)"), ("volume_m3", "forest stock volume (m³)")):
        ind = (g.get("aoi") or {}).get(name)
        if not ind:
            continue
        vals = [ind["series"].get(str(n)) for n, _y in _epochs(s)]
        nat = g.get("national_series") if name == "forest_coverage_pct" else None
        out.append(f"<figure>{_img(maps.goal_chart(name, unit, years, vals, ind['targets'], ind['trajectory'], nat), name)}"
                   f"<figcaption>{html.escape(unit)}: this area, its linear trajectory and the targets"
                   + (" (with China's official series for context)" if nat else "") + "</figcaption></figure>")
        if not ind["targets"]:
            out.append('<p class="note">No target is mapped to this area: its own trend only. Targets apply '
                       "where the user maps them (goals.aoi_targets, a targets file).</p>")
            continue
        rows = []
        for t in ind["targets"]:
            if t.get("comparable"):
                reached = t.get("year_reached")
                rows.append([t["year"], t["target"], t.get("gap"), t.get("projected"),
                             "yes" if t.get("on_track") else "no",
                             f"{reached:.0f}" if reached is not None else "not on current trend", t["source"]])
            else:
                rows.append([t["year"], t["target"], None, t.get("projected"), "not comparable", None,
                             t.get("reason", "")])
        out.append(_table(["year", f"target ({ind['unit']})", f"gap ({ind['unit']})", f"projected ({ind['unit']})",
                           "on track", "year reached", "source / note"], rows, digits=2))
    out.append('<p class="note">The 2021 national figures are the first on the 3rd national land-survey base: '
               "the official series breaks there, and trends are not fitted across it.</p>")
    return _sec("goals", "Goals: forest coverage and stock volume", "".join(out))


def _accuracy(s: dict[str, Any]) -> str:
    acc = s.get("accuracy")
    if not acc:
        return _sec("accuracy", "Accuracy", _missing("An accuracy assessment (no reference sample)"))
    out = []
    for ep, a in acc.items():
        if "overall_accuracy" in a:
            classes = list(a["user_accuracy"])
            rows = [[class_label(c), _num(a["mapped_area_ha"][c], 2), _num(a["area_ha"][c], 2),
                     _num(a["area_ci95_ha"][c], 2), a["user_accuracy"][c], a["producer_accuracy"][c]] for c in classes]
            out.append(f"<h3>{html.escape(ep)}: overall accuracy {_num(a['overall_accuracy'], 3)} ± "
                       f"{_num(a['overall_accuracy_ci95'], 3)}, kappa {_num(a['kappa'], 3)}, {a['n_samples']} samples"
                       "</h3>" + f'<p class="note">Estimator: {html.escape(str(a.get("method", "")))}</p>'
                       + _table(["class", "mapped area (ha)", "adjusted area (ha)", "± 95 % (ha)", "user's accuracy",
                                 "producer's accuracy"], rows, digits=3))
            for note in a.get("notes") or []:
                out.append(f'<p class="note">{html.escape(str(note))}</p>')
            cm = a["confusion_matrix"]
            out.append(matrix_block("Confusion matrix (samples; rows = map, columns = reference)",
                                    _table(["map \\ reference"] + [class_label(c) for c in classes],
                                           [[class_label(m)] + [cm[m].get(r, 0) for r in classes] for m in classes],
                                           cls="matrix"), collapsed=True))
        pix = a.get("truth_pixelwise")
        if pix:
            out.append(f"<p>Against the truth raster, pixel by pixel: overall accuracy "
                       f"{pix['overall_accuracy']:.3f}, kappa {pix['kappa']:.3f} ({pix['n_pixels']:,} pixels).</p>")
    return _sec("accuracy", "Accuracy and adjusted areas", "".join(out))


#: The indicator groups of the redline and region tables: one table each, so every column
#: stays readable on screen and on an A4 page.
_AREA_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("forest coverage and carbon stock", ("forest_coverage_pct_", "stock_mg_c_total_")),
    ("stock volume, sink and ecological land lost", ("volume_m3_", "sink_mg_c_per_yr_", "eco_land_lost_ha_")),
)


def area_tables(df: Any, title: str, *, groups: Any = _AREA_GROUPS) -> str:
    """The indicator tables of one layer (redlines, regions, a batch's regions): id and name,
    then one group of indicators per table (``groups``: ``(name, column prefixes)``), headers
    in words with their units."""
    key = [c for c in df.columns if c in (df.columns[0], "name")]
    out = []
    for group, prefixes in groups:
        cols = [c for p in prefixes for c in df.columns if c.startswith(p) and not c.endswith(("_lo", "_hi"))
                and not c.startswith("forest_coverage_pct_max_")]
        if not cols:
            continue
        rows = [[_round(c, r[c]) for c in key + cols] for _i, r in df.iterrows()]
        out.append(_table([header_label(c) for c in key + cols], rows, cls="wide areas",
                          caption=f"{title}: {group}"))
    return "".join(out)


def _round(col: str, v: Any) -> Any:
    """Coverage with one decimal, areas with two, carbon and volume whole (as text)."""
    if not isinstance(v, float):
        return v
    if v != v:
        return None
    if col.startswith("forest_coverage_pct_"):
        return f"{v:,.1f}"
    if col.startswith(("eco_land_lost_ha_", "encroachment_ha_")):
        return f"{v:,.2f}"
    return f"{v:,.0f}"


def _areas(run: Path) -> str:
    out = []
    for name in ("redlines", "regions"):
        p = run / "tables" / f"{name}.csv"
        if not p.exists():
            continue
        first = read_csv(p, nrows=0).columns[0]
        df = read_csv(p, dtype={first: str})
        out.append(f"<h3>{name.capitalize()}</h3>" + area_tables(df, name.capitalize()))
    if not out:
        return _sec("areas", "Redlines and regions", _missing("Redline and region indicators"))
    return _sec("areas", "Redlines and regions", "".join(out) +
                '<p class="note">Full tables with every class area and interval: tables/*.csv, .gpkg, .parquet.</p>')


def _figure_methods(s: dict[str, Any]) -> str:
    """How the coverage rate, the volume, the goals, the sink label and the accuracy figures were made,
    with sources (an HTML table; "" without them)."""
    rows: list[list[Any]] = []
    lc = s.get("landcover") or {}
    if lc:
        first = lc[list(lc)[0]]
        rows.append(["forest coverage rate", first.get("coverage_definition", ""),
                     "domain.md §4; check: 9th NFI 220.45 Mha / 960 Mha = 22.96 %"])
        rows.append(["coverage flag", f"unobserved share above {first.get('max_unobserved', 0.05):g} of the "
                     f"{first.get('zone', 'grid')}", "coverage.max_unobserved"])
    carbon = s.get("carbon") or {}
    for ep, e in (carbon.get("epochs") or {}).items():
        if e.get("volume_source"):
            rows.append([f"stock volume {ep}", e["volume_source"], "domain.md §2 (9th NFI arbor-forest 94.83 m³/ha)"
                         if "raster" not in str(e["volume_source"]) else "carbon.volume_raster"])
    for key, e in (carbon.get("sink") or {}).items():
        if isinstance(e, dict) and e.get("method"):
            rows.append([f"sink {_period(key)}", e["method"], "sinks.carbon.sink"])
    g = s.get("goals") or {}
    mapping = g.get("mapping") or {}
    if g:
        rows.append(["targets of the whole area", mapping.get("aoi") or "none mapped (own trend only)",
                     "goals.aoi_targets / targets file"])
        for rid, m in (mapping.get("regions") or {}).items():
            rows.append([f"targets of region {rid}", m, "targets file"])
        for t in g.get("targets") or []:
            what = ", ".join(_target_text(k, t[k]) for k in ("forest_coverage_pct", "volume_m3") if k in t)
            rows.append([f"national target {t['year']}", what, t.get("source", "")])
    for ep, a in (s.get("accuracy") or {}).items():
        if a.get("method"):
            rows.append([f"accuracy {ep}", a["method"], ", ".join(f"{k}: {v}" for k, v in (a.get("sources") or {}).items())])
    return _table(["figure", "method", "source"], rows, cls="text") if rows else ""


def _target_text(key: str, value: float) -> str:
    """A national target in words: ``forest coverage 24.1 %``, ``stock volume 19 billion m³``."""
    if key == "forest_coverage_pct":
        return f"forest coverage {value:g} %"
    if abs(value) >= 1e9:
        return f"stock volume {value / 1e9:g} billion m³"
    return f"stock volume {value:,.0f} m³"


def _manifest(m: dict[str, Any]) -> str:
    if not m:
        return _sec("manifest", "Manifest", _missing("The manifest"))
    algo = m.get("input_digest") or "sha256"  # manifests before the algorithm was named used SHA-256
    label = {"blake3": "BLAKE3", "sha256": "SHA-256"}.get(algo, algo)
    rows = [[Path(i["path"]).name, i.get("bytes"), (i.get(algo) or i.get("etag") or "")[:16] + "…"]
            for i in m.get("inputs", [])]
    soft = [[k, v] for k, v in (m.get("software") or {}).items()]
    cpu = m.get("cpu_s") or {}

    def _cpu(stage: str, who: str) -> Any:
        got = cpu.get(stage)
        return got.get(who) if isinstance(got, dict) else None

    times = [[k, v, _cpu(k, "process"), _cpu(k, "children")] for k, v in (m.get("timings_s") or {}).items()]
    return _sec("manifest", "Run manifest",
                f"<details><summary>Inputs (size in bytes, {label})</summary>"
                + _table(["file", "bytes", algo], rows, digits=0) + "</details>"
                "<details><summary>Software</summary>" + _table(["package", "version"], soft) + "</details>"
                "<details><summary>Timings (s)</summary>"
                + _table(["stage", "wall s", "CPU s", "child processes' CPU s"], times, digits=2)
                + ('<p class="note">A stage named a.b is part of stage a.</p>' if any("." in k for k, *_ in times)
                   else "") + "</details>")
