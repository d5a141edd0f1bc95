"""`sinks report`: one self-contained HTML file; rendered in headless Chromium."""

from __future__ import annotations

import re

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
    assert "<th>wall s</th><th>CPU s</th>" in text and "<td>compute_write</td>" in text


def test_report_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit) as ei:
        main(["report", str(tmp_path), "-o", str(tmp_path / "r.html")])
    assert ei.value.code == 2 and "summary.json" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


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
