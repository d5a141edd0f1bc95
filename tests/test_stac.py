"""The run's STAC catalog: written into a temporary folder and renamed into place."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sinks.stac import write_run_catalog


def _run(make_tile, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lc = make_tile("run/landcover_2020.tif", np.ones((32, 32), np.uint8))
    summary = {"name": "t", "epochs": [{"name": "2020", "year": 2020}]}
    return run, lc, summary


def test_catalog_links_resolve(make_tile, tmp_path):
    run, lc, summary = _run(make_tile, tmp_path)
    cat = write_run_catalog(run, rasters=[lc], summary=summary)
    assert cat == run / "stac" / "catalog.json"
    import pystac

    items = list(pystac.read_file(str(cat)).get_items(recursive=True))
    assert len(items) == 1
    href = items[0].assets["data"].get_absolute_href()
    assert href is not None and (run / "landcover_2020.tif").samefile(href)
    assert not [p for p in run.iterdir() if p.name.startswith(".stac")]


def test_failed_write_leaves_the_previous_catalog(make_tile, tmp_path, monkeypatch):
    import pystac

    run, lc, summary = _run(make_tile, tmp_path)
    write_run_catalog(run, rasters=[lc], summary=summary)
    before = {p.relative_to(run): p.read_bytes() for p in (run / "stac").rglob("*") if p.is_file()}
    real_save = pystac.Catalog.save

    def half_save(self, *args, **kwargs):  # writes the catalog file, then the disk fills up
        from pathlib import Path

        href = Path(self.get_self_href())
        href.parent.mkdir(parents=True, exist_ok=True)
        href.write_text('{"type": "Catalog", "id": "half')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pystac.Catalog, "save", half_save)
    summary["name"] = "second"
    with pytest.raises(OSError):
        write_run_catalog(run, rasters=[lc], summary=summary)
    after = {p.relative_to(run): p.read_bytes() for p in (run / "stac").rglob("*") if p.is_file()}
    assert after == before
    json.loads((run / "stac" / "catalog.json").read_text())
    assert not [p for p in run.iterdir() if p.name.startswith(".stac")]
    monkeypatch.setattr(pystac.Catalog, "save", real_save)
    write_run_catalog(run, rasters=[lc], summary=summary)
    assert json.loads((run / "stac" / "catalog.json").read_text())["id"] == "sinks-second"
