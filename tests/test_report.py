"""`sinks report`: one self-contained HTML file; rendered in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from sinks.cli import main

SECTIONS = ("overview", "landcover", "carbon", "change", "sink", "goals", "accuracy", "areas", "manifest")


@pytest.fixture(scope="module")
def report(demo_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "report.html"
    with pytest.raises(SystemExit) as ei:
        main(["report", str(demo_run), "-o", str(out)])
    assert ei.value.code == 0
    return out


def test_report_is_self_contained(report):
    text = report.read_text(encoding="utf-8")
    for key in SECTIONS:
        assert f'id="{key}"' in text, key
    # no network: every image is inline, no external script, style, font or link
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', text)
    assert "<script src" not in text and "@import" not in text and "url(http" not in text
    assert len(re.findall(r'src="data:image/png;base64,', text)) >= 8
    for unit in ("Mg C/yr", "(ha)", "m³", "Mg C, 95 % interval"):
        assert unit in text, unit
    assert "not computed in this run" not in text  # the demo runs every stage
    # the manifest's timings: wall and CPU seconds per stage
    assert "<th>wall s</th><th>CPU s</th>" in text and re.search(r"<td[^>]*>compute_write</td>", text)


def test_report_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit) as ei:
        main(["report", str(tmp_path), "-o", str(tmp_path / "r.html")])
    assert ei.value.code == 2 and "summary.json" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def _printed_pages(page: Path, folder: Path, *, min_bytes: int = 0) -> list[str]:
    """``page`` printed to PDF in headless Chromium (skips without one): the text of each
    printed page, its white space collapsed."""
    from browser import NoBrowser, render
    from pypdf import PdfReader

    pdf = folder / f"{page.stem}.pdf"
    try:
        proc = render(page.as_uri(), profile=folder / "profile", pdf=pdf)
    except NoBrowser as exc:
        pytest.skip(f"no headless Chromium: {exc}")
    assert pdf.exists() and pdf.stat().st_size > min_bytes, proc.stderr[-2000:]
    return [" ".join((p.extract_text() or "").split()) for p in PdfReader(pdf).pages]


@pytest.fixture(scope="module")
def report_pdf(report, tmp_path_factory) -> list[str]:
    """The demo report printed to PDF in headless Chromium: the text of each page, its white
    space collapsed."""
    return _printed_pages(report, tmp_path_factory.mktemp("pdf"), min_bytes=10_000)


def test_report_in_headless_chromium(report, tmp_path):
    from browser import NoBrowser, render

    try:
        shot = tmp_path / "report.png"
        proc = render(report.as_uri(), profile=tmp_path / "profile", screenshot=shot)
    except NoBrowser as exc:
        pytest.skip(f"no headless Chromium: {exc}")
    assert shot.exists(), proc.stderr[-2000:]
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert img.std() > 20            # not blank
    assert (img < 128).mean() > 0.02  # text, maps and tables drawn
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line and ("ERROR" in line or "error" in line)]
    assert not console, console
    dom = render(report.as_uri(), profile=tmp_path / "profile2", dump_dom=True).stdout
    for key in SECTIONS:
        assert f'id="{key}"' in dom, key
    assert "Land cover 2015" in dom and "Transition matrix" in dom


def test_run_has_a_stac_catalog_of_its_rasters(demo_run):
    import pystac

    cat = pystac.Catalog.from_file(str(demo_run / "stac" / "catalog.json"))
    items = {i.id: i for i in cat.get_items(recursive=True)}
    assert len(items) == len(list(demo_run.rglob("*.tif")))
    lc = items["landcover_2020"]
    assert lc.properties["proj:code"] == "EPSG:32649" or lc.properties.get("proj:epsg") == 32649
    assert lc.datetime.year == 2020
    href = lc.assets["data"].get_absolute_href()
    assert href.endswith("landcover_2020.tif") and (demo_run / "landcover_2020.tif").samefile(href)
    assert lc.assets["data"].extra_fields["raster:bands"][0]["data_type"] == "uint8"


def test_batch_page(make_tile, tmp_path):
    from sinks.batch import run_batch
    from test_batch import _scene

    spec, regions = _scene(make_tile, tmp_path)
    out = tmp_path / "b"
    run_batch(spec, regions=str(regions), id_field="region_id", out=out)
    page = tmp_path / "batch.html"
    with pytest.raises(SystemExit) as ei:
        main(["report", str(out), "-o", str(page)])
    assert ei.value.code == 0
    text = page.read_text(encoding="utf-8")
    assert "Batch of 4 regions" in text and 'class="sortable' in text
    for rid in ("R00", "R01", "R02", "R03"):
        assert f'data-v="{rid}"' in text
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', text)


def test_css_names_cjk_fonts(report):
    text = report.read_text(encoding="utf-8")
    stack = re.search(r"body \{ font-family: ([^;]+);", text).group(1)
    for fam in ("Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "WenQuanYi Micro Hei"):
        assert f'"{fam}"' in stack, fam
    assert stack.index("DejaVu Sans") < stack.index("Noto Sans CJK SC") and stack.endswith("sans-serif")


def _cjk_texts_drawn_with_cjk_font(fig):
    """Every text of ``fig`` with Chinese characters: the fonts matplotlib takes its glyphs from."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    from sinks.report.fonts import has_cjk

    checked = []
    for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontproperties")):
        text = t.get_text()
        if not has_cjk(text):
            continue
        paths = font_manager.fontManager._find_fonts_by_props(t.get_fontproperties())
        charmaps = [FT2Font(str(p)).get_charmap() for p in paths]
        missing = [ch for ch in text if has_cjk(ch) and not any(ord(ch) in cm for cm in charmaps)]
        assert not missing, (text, [str(p) for p in paths])
        checked.append(text)
    return checked


def test_batch_choropleth_scale_labels_and_cjk_font():
    import warnings

    import geopandas as gpd
    import matplotlib
    from shapely.geometry import box

    from debian import Missing, cjk_font
    from sinks.report.batch import choropleth_figure, colour_scale
    from sinks.report.fonts import rc_params

    gdf = gpd.GeoDataFrame({"region_id": ["1", "2", "3"], "name": ["海城区", "银海区", "铁山港区"],
                            "forest_coverage_pct_2025": [12.5, 69.8, 89.9],
                            "sink_mg_c_per_yr_2020_2025": [-33.0, 2158.0, 212.0]},
                           geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 2, 2)], crs="EPSG:32649")
    # colour bars span the data, not 0-1; the sink's diverging scale is symmetric about 0
    assert colour_scale(gdf["forest_coverage_pct_2025"]) == (12.5, 89.9)
    assert colour_scale(gdf["sink_mg_c_per_yr_2020_2025"], diverging=True) == (-2158.0, 2158.0)
    try:
        cjk_font()
    except Missing as exc:
        pytest.skip(f"no CJK-capable font: {exc}")
    with matplotlib.rc_context(rc_params()), warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        fig = choropleth_figure(gdf, "forest_coverage_pct_2025", "Forest coverage", "%", "YlGn",
                                label_field="name")
        fig.canvas.draw()
        cbar = fig.axes[1]
        assert cbar.get_ylim() == pytest.approx((12.5, 89.9))
        labels = _cjk_texts_drawn_with_cjk_font(fig)
        assert sorted(t.splitlines()[0] for t in labels) == sorted(gdf["name"])
        fig2 = choropleth_figure(gdf, "sink_mg_c_per_yr_2020_2025", "Sink", "Mg C/yr", "RdYlGn", diverging=True,
                                 label_field="name")
        fig2.canvas.draw()
        assert fig2.axes[1].get_ylim() == pytest.approx((-2158.0, 2158.0))
    import matplotlib.pyplot as plt

    plt.close("all")


def test_batch_page_cjk_names_and_scale(make_tile, tmp_path):
    from sinks.batch import run_batch
    from test_batch import _scene

    spec, regions = _scene(make_tile, tmp_path)
    import geopandas as gpd

    g = gpd.read_file(regions)
    g["name"] = ["海城区", "银海区", "铁山港区", "合浦县"][: len(g)]
    g.to_file(regions, driver="GPKG")
    out = tmp_path / "b"
    run_batch(spec, regions=str(regions), id_field="region_id", out=out)
    assert list(gpd.read_file(out / "batch_summary.gpkg").columns[:3]) == ["region_id", "name", "status"]
    page = tmp_path / "batch.html"
    with pytest.raises(SystemExit) as ei:
        main(["report", str(out), "-o", str(page)])
    assert ei.value.code == 0
    text = page.read_text(encoding="utf-8")
    assert 'data-v="海城区"' in text and re.search(r'<th class="t">name</th>', text)
    # the title names the spec's run and the folder; flags read yes/no
    assert re.search(r"<h1>sinks batch report — \S+ \(folder b\)</h1>", text) and ">False<" not in text


def test_transition_matrix_in_legend_order(report):
    html_text = report.read_text(encoding="utf-8")
    m = re.search(r'<table class="matrix"><thead><tr>(.*?)</tr></thead><tbody>(.*?)</tbody>', html_text)
    cols = re.findall(r"<th>(.*?)</th>", m.group(1))[1:]
    rows = re.findall(r"<tr><td[^>]*>(.*?)</td>", m.group(2))
    from sinks.landcover import CLASSES

    order = [c.label for c in CLASSES]  # the legend's labels (Built-up), not the names (built_up)
    assert cols == rows and cols == [c for c in order if c in cols]
    assert m.group(2).count('class="diag"') == len(rows)  # the unchanged area on the diagonal


def test_goal_chart_years_are_whole():
    from sinks.report.maps import goal_figure

    fig = goal_figure("volume_m3", "m³", [2015, 2020, 2025], [7.7e4, 8.1e4, 9.3e4], [],
                      {"slope_per_year": 1.5e3, "intercept": -2.9e6})
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert labels and all(re.fullmatch(r"\d{4}", s) for s in labels), labels
    assert all("." not in t.get_text() for t in fig.axes[0].get_yticklabels())


def test_report_prints_wide_tables_and_collapsed_sections(report, report_pdf):
    """Printed to PDF in headless Chromium: the region table's last column and the confusion
    matrices (collapsed on screen) are on the pages."""
    text = " ".join(report_pdf)
    html_text = report.read_text(encoding="utf-8")
    tables = re.findall(r'<table class="wide areas"><caption>Regions: (.*?)</caption>(.*?)</table>', html_text)
    assert tables
    caption, body = tables[-1]
    last_head = re.findall(r"<th>(.*?)</th>", body)[-1]
    first_row = re.search(r"<tbody><tr>(.*?)</tr>", body).group(1)
    last_cell = re.findall(r"<td[^>]*>(.*?)</td>", first_row)[-1]
    assert last_head.startswith("ecological land lost") and re.fullmatch(r"[\d,.\u2212]+", last_cell)
    region_id = re.findall(r"<td[^>]*>(.*?)</td>", first_row)[0]
    # the row's id and its last cell on the printed page, in that order
    assert re.search(re.escape(region_id) + r".{0,400}?" + re.escape(last_cell), text), (region_id, last_cell)
    assert "map \\ reference" in text and "Timings (s)" in text and "compute_write" in text


def test_batch_page_prints_every_column(demo_batch, tmp_path):
    """The batch page on paper: the wide sortable table gives way to one table per group of
    indicators, and the last column of the last one is on the page."""
    from sinks.csvio import read_csv

    page = tmp_path / "batch.html"
    with pytest.raises(SystemExit) as ei:
        main(["report", str(demo_batch), "-o", str(page)])
    assert ei.value.code == 0
    pages = _printed_pages(page, tmp_path)
    assert not pages[-1].startswith(_FOOTER), pages[-1][:200]  # the footer is not alone on the last page
    text = " ".join(pages)
    table = read_csv(demo_batch / "batch_summary.csv", dtype={0: str})
    last = sorted(c for c in table.columns if c.startswith("encroachment_ha_"))[-1]
    value = f"{table.loc[table['region_id'] == '450512', last].iloc[0]:,.2f}"
    assert "Regions: sink and encroachment" in text and "Click a column header" not in text
    assert "unobserved share" not in text  # a column of the wide on-screen table only
    assert re.search(r"450512.{0,300}?" + re.escape(value), text), (value, text[-1500:])


def test_report_tables_show_words_not_keys(report):
    """Class labels of the legend, periods with an en dash, id columns in words; the manifest's
    note on dotted stage names only when there is one."""
    text = report.read_text(encoding="utf-8")
    cells = re.findall(r"<t[dh][^>]*>([^<]*)</t[dh]>", text)
    assert "Built-up" in cells and not {"built_up", "forest", "region_id", "redline_id"} & set(cells)
    assert "region id" in cells and "redline id" in cells
    visible = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)[^>]*>.*?</\1>", "", text, flags=re.S))
    assert not re.search(r"\b20\d\d_20\d\d\b", visible), re.findall(r".{40}20\d\d_20\d\d.{20}", visible)
    assert "A stage named a.b" not in text  # no stage of the demo has a dot in its name
    # the overview: resolution and epochs as numbers, not Python lists
    assert "<td>[10.0, 10.0]</td>" not in text and "2015, 2020, 2025" in text
    # the national targets in words with their units, not keys and 1.9e+10
    assert "forest coverage 24.1 %, stock volume 19 billion m³" in text and "volume_m3 1.9e+10" not in text


def test_coordinate_ticks_with_the_decimals_they_need():
    from sinks.report.maps import coordinate_formatter

    f = coordinate_formatter()
    f.set_locs([400_000, 401_000, 402_000])
    assert [f(v) for v in (400_000, 401_000, 402_000)] == ["400", "401", "402"]
    f.set_locs([400_000, 400_500, 401_000])
    assert [f(v) for v in (400_000, 400_500, 401_000)] == ["400.0", "400.5", "401.0"]
    g = coordinate_formatter(geographic=True)
    g.set_locs([21.48, 21.49])
    assert g(21.48) == "21.48°"


def test_batch_table_cells():
    from sinks.report.batch import _cell

    assert _cell(True) == '<td data-v="1">yes</td>' and _cell("False") == '<td data-v="0">no</td>'
    assert _cell(float("nan")) == '<td data-v="">–</td>' and ">1,234.50<" in _cell(1234.5)
    assert _cell("海城区") == '<td class="t nw" data-v="海城区">海城区</td>'  # words left-aligned, on one line


def test_batch_region_report_names_its_region(demo_batch, tmp_path):
    """A region's own report says which region it is (id and name from the batch's table)."""
    out = tmp_path / "region.html"
    with pytest.raises(SystemExit) as ei:
        main(["report", str(demo_batch / "regions" / "450512"), "-o", str(out)])
    assert ei.value.code == 0
    assert re.search(r"<h1>sinks report — [^<]*, region 450512 铁山港区</h1>", out.read_text(encoding="utf-8"))


def test_sink_chart_tells_removals_from_emissions():
    from matplotlib.colors import to_hex

    from sinks.report.maps import EMISSION_COLOUR, REMOVAL_COLOUR, sink_figure
    from sinks.report.sections import _interval

    fig = sink_figure(["2015_2020", "2020_2025"], [119.0, -57.0], [88.0, -71.0], [230.0, -41.0])
    bars = fig.axes[0].patches
    assert [to_hex(b.get_facecolor()) for b in bars[:2]] == [REMOVAL_COLOUR, EMISSION_COLOUR]
    assert fig.axes[0].get_legend() is not None  # says which colour is which
    assert _interval(-71.0, -41.0) == "\u221271 – \u221241" and _interval(424.0, 1044.2) == "424 – 1,044"


def test_batch_choropleth_explains_grey_regions():
    import geopandas as gpd
    from shapely.geometry import box

    from sinks.report.batch import choropleth_figure

    gdf = gpd.GeoDataFrame({"region_id": ["1", "2"], "forest_coverage_pct_2025": [40.0, float("nan")]},
                           geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:32649")
    fig = choropleth_figure(gdf, "forest_coverage_pct_2025", "Forest coverage", "%", "YlGn")
    legend = fig.axes[0].get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == ["no data (region not done)"]
    gdf.loc[1, "forest_coverage_pct_2025"] = 60.0
    assert choropleth_figure(gdf, "forest_coverage_pct_2025", "Forest coverage", "%", "YlGn").axes[0].get_legend() is None


_FOOTER = "Made by sinks from"


def test_printed_report_ends_with_content(report_pdf):
    """The last printed page carries the end of the report with the footer, not the footer alone."""
    assert _FOOTER in report_pdf[-1]
    alone = [i for i, page in enumerate(report_pdf) if page.startswith(_FOOTER)]
    assert not alone, [report_pdf[i][:120] for i in alone]
    assert len(report_pdf[-1].split(_FOOTER)[0].strip()) > 40, report_pdf[-1][:200]


#: Marks every table cell with the alignment the browser gives it (``data-align``).
_ALIGN_JS = """<script>
document.querySelectorAll('th, td').forEach(function (c) {
  c.setAttribute('data-align', getComputedStyle(c).textAlign);
});
</script>"""


def _column_alignments(table: str) -> dict[int, set[str]]:
    """The alignments of each column's header and cells in a table of the dumped DOM."""
    cols: dict[int, set[str]] = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S):
        for j, align in enumerate(re.findall(r'<t[hd][^>]*data-align="([^"]+)"', row)):
            cols.setdefault(j, set()).add(align)
    return cols


def test_table_columns_align_one_way(report, tmp_path):
    """In the browser, every column of a table (its header too) is aligned one way: the interval
    columns of the method tables ("95 %" beside "no range") are right-aligned like the figures."""
    from browser import NoBrowser, render

    page = tmp_path / "aligned.html"
    page.write_text(report.read_text(encoding="utf-8").replace("</body>", _ALIGN_JS + "</body>"), encoding="utf-8")
    try:
        dom = render(page.as_uri(), profile=tmp_path / "profile", dump_dom=True).stdout
    except NoBrowser as exc:
        pytest.skip(f"no headless Chromium: {exc}")
    tables = re.findall(r"<table[^>]*>.*?</table>", dom, flags=re.S)
    assert len(tables) > 10 and "data-align" in dom
    mixed = {}
    for t in tables:
        caption = re.search(r"<caption>(.*?)</caption>|<th[^>]*>(.*?)</th>", t).group(0)
        for j, aligns in _column_alignments(t).items():
            if j > 0 and len(aligns) > 1:
                mixed[(caption, j)] = aligns
    assert not mixed, mixed
    method = re.search(r'<section id="method">.*?</section>', dom, flags=re.S).group(0)
    for t in re.findall(r"<table[^>]*>.*?</table>", method, flags=re.S):
        heads = re.findall(r"<th[^>]*>(.*?)</th>", t)
        if "interval" in heads:
            assert _column_alignments(t)[heads.index("interval")] == {"right"}


#: A hyphen-minus signing a number: before a digit, at the start or after a space or bracket.
_HYPHEN_MINUS = re.compile(r"(?<![^\s(\[])-(?=\d)")


def _visible_text(page: str) -> str:
    """The text a reader sees: no script, style, tags or attribute values."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)[^>]*>.*?</\1>", "", page, flags=re.S))


def test_report_numbers_use_the_minus_sign(report, demo_run):
    """Negative figures are shown with the minus sign (U+2212), as the intervals are; the tables
    written for machines keep the ASCII hyphen-minus."""
    import html as htmllib

    text = htmllib.unescape(_visible_text(report.read_text(encoding="utf-8")))
    assert not _HYPHEN_MINUS.search(text), [text[m.start() - 30:m.end() + 10] for m in _HYPHEN_MINUS.finditer(text)][:5]
    assert re.search(r"\u2212\d", text)
    csv = (demo_run / "tables" / "regions.csv").read_text(encoding="utf-8")
    assert re.search(r",-\d", csv) and "\u2212" not in csv


def test_number_cells_minus_sign():
    from sinks.report import _num
    from sinks.report.batch import _cell
    from sinks.report.numbers import minus_sign

    assert _num(-1234.5) == "\u22121,234.5" and _num(-3) == "\u22123" and _num("-58") == "\u221258"
    assert _num("gain-loss") == "gain-loss" and _num("2015-01-02") == "2015-01-02"
    assert _cell(-3.5) == '<td data-v="-3.5">\u22123.50</td>'  # the sort key stays machine-readable
    assert minus_sign("[-71 – -41] 1e-05 x-1 +/-75 %") == "[\u221271 – \u221241] 1e-05 x-1 +/-75 %"


def test_choropleth_labels_use_the_minus_sign():
    import geopandas as gpd
    from shapely.geometry import box

    from sinks.report.batch import choropleth_figure

    gdf = gpd.GeoDataFrame({"region_id": ["1", "2"], "sink_mg_c_per_yr_2020_2025": [-33.0, 2158.0]},
                           geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:32649")
    fig = choropleth_figure(gdf, "sink_mg_c_per_yr_2020_2025", "Sink", "Mg C/yr", "RdYlGn", diverging=True,
                            label_field="region_id", digits=0)
    fig.canvas.draw()
    texts = [t.get_text() for t in fig.axes[0].texts] + [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert "1\n\u221233" in texts and any(t.startswith("\u2212") for t in texts[2:])
    assert not any(_HYPHEN_MINUS.search(t) for t in texts), texts


def test_printed_matrices_keep_together(report, report_pdf):
    """A transition or confusion matrix that fits on a page is printed on one page: its header
    once, and its last row on the header's page."""
    page = report.read_text(encoding="utf-8")
    text = " ".join(report_pdf)
    for corner in ("from \\ to", "map \\ reference"):
        n = page.count(f"<th>{corner}</th>")
        assert n and text.count(corner) == n, (corner, n, text.count(corner))
    matrices = re.findall(r'<table class="matrix">.*?</table>', page, flags=re.S)
    for m in matrices:
        corner = re.search(r"<th>(.*?)</th>", m).group(1)
        last = re.findall(r"<tr><td[^>]*>(.*?)</td>((?:<td[^>]*>.*?</td>)*)</tr>", m)[-1]
        row = " ".join([last[0]] + re.findall(r"<td[^>]*>(.*?)</td>", last[1]))
        pages = [i for i, p in enumerate(report_pdf) if row in p]
        assert pages and any(corner in report_pdf[i] for i in pages), (corner, row)


def test_long_matrix_prints_across_pages_whole_rows(tmp_path):
    """A matrix too long for a page is split between rows, its header repeated on each page."""
    from sinks.report import _CSS, _table
    from sinks.report.sections import matrix_block

    names = [f"C{i:03d}" for i in range(140)]
    rows = [[n] + [float(i * 3 + k) for k in range(6)] for i, n in enumerate(names)]
    table = matrix_block("<h3>A long matrix</h3>",
                         _table(["from \\ to"] + [f"K{k}" for k in range(6)], rows, digits=2, cls="matrix"))
    page = tmp_path / "matrix.html"
    page.write_text(f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>{_CSS}</style></head>"
                    f"<body><main><section id=\"overview\"><p>Before.</p>{table}</section></main></body></html>",
                    encoding="utf-8")
    pages = _printed_pages(page, tmp_path)
    held = [p for p in pages if "C0" in p or "C1" in p]
    assert len(held) > 1 and all(p.count("from \\ to K0 K1 K2 K3 K4 K5") == 1 for p in held), pages
    for n, *vals in rows:
        whole = " ".join([n] + [f"{v:,.2f}" for v in vals])
        assert sum(whole in p for p in pages) == 1, whole
