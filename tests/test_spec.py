"""Spec validation: every problem reported with its key; exit 2 from the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sinks.cli import main
from sinks.errors import SpecError
from sinks.spec import load_spec, parse_spec

GOOD = {
    "name": "t",
    "sensor": "sentinel2_l2a",
    "epochs": [{"name": "2020", "year": 2020, "scenes": [{"date": "2020-08-01", "tiles": ["a.tif"]}]}],
}


def _write(tmp_path: Path, data, name: str = "spec.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p


def test_good_spec_resolves_paths(tmp_path):
    (tmp_path / "a.tif").write_bytes(b"x")
    spec, _ = load_spec(_write(tmp_path, GOOD))
    assert spec.epochs[0].scenes[0].tiles == [str(tmp_path / "a.tif")]
    assert spec.classification.mmu_ha["forest"] == pytest.approx(0.0667)


def test_epoch_shorthand_tiles():
    spec = parse_spec({**GOOD, "epochs": [{"name": 2015, "year": 2015, "tiles": ["x.tif"], "date": "2015-01-01"}]})
    assert spec.epochs[0].name == "2015" and len(spec.epochs[0].scenes) == 1


def test_unknown_key_named():
    with pytest.raises(SpecError) as ei:
        parse_spec({**GOOD, "colour": "red"})
    assert ei.value.problems == ["colour: unknown key"]


def test_wrong_type_named():
    bad = {**GOOD, "epochs": [{"name": "2020", "year": "twenty", "tiles": ["a.tif"]}]}
    with pytest.raises(SpecError, match=r"epochs\.0\.year"):
        parse_spec(bad)


def test_all_problems_listed():
    bad = {**GOOD, "grid": {"resolution": -5, "chunks": 3}, "extra": 1}
    with pytest.raises(SpecError) as ei:
        parse_spec(bad)
    keys = {p.split(":")[0] for p in ei.value.problems}
    assert {"grid.resolution", "grid.chunks", "extra"} <= keys


def test_chunks_auto_or_a_size():
    assert parse_spec(GOOD).grid.chunks == "auto"
    assert parse_spec({**GOOD, "grid": {"chunks": "AUTO"}}).grid.chunks == "auto"
    assert parse_spec({**GOOD, "grid": {"chunks": 2048}}).grid.chunks == 2048
    for bad in (3, 9000, "big", True, 1024.5, "2048"):
        with pytest.raises(SpecError) as ei:
            parse_spec({**GOOD, "grid": {"chunks": bad}})
        assert [p.split(":")[0] for p in ei.value.problems] == ["grid.chunks"], (bad, ei.value.problems)
        assert "expected auto or a whole number of pixels from 64 to 8192" in ei.value.problems[0]


def test_unknown_sensor():
    with pytest.raises(SpecError, match="sensor: unknown sensor 'modis'"):
        parse_spec({**GOOD, "sensor": "modis"})


def test_unknown_index():
    with pytest.raises(SpecError, match="indices.names"):
        parse_spec({**GOOD, "indices": {"names": ["ndvi", "xyz"]}})


def test_optional_layers_off_by_default_and_checked():
    spec = parse_spec(GOOD)
    assert spec.indices.write is False and spec.carbon.layers == ["density_total"]
    with pytest.raises(SpecError, match="carbon.layers"):
        parse_spec({**GOOD, "carbon": {"layers": ["density_total", "biomass"]}})


def test_epochs_out_of_order():
    eps = [{"name": "b", "year": 2020, "tiles": ["a"]}, {"name": "a", "year": 2015, "tiles": ["a"]}]
    with pytest.raises(SpecError, match="chronological"):
        parse_spec({**GOOD, "epochs": eps})


def test_yaml_syntax_error_names_line(tmp_path):
    p = _write(tmp_path, "name: x\nepochs: [\n  - {name: a\n")
    with pytest.raises(SpecError, match=r"spec.yaml:.*line \d+.*YAML syntax error"):
        load_spec(p)


def test_missing_tile_and_aoi_listed(tmp_path):
    data = {**GOOD, "aoi": {"redlines": {"path": "nowhere.gpkg", "id_field": "id"}}}
    with pytest.raises(SpecError) as ei:
        load_spec(_write(tmp_path, data))
    text = " ".join(ei.value.problems)
    assert "epochs.0.scenes.0.tiles.0: file not found" in text
    assert "aoi.redlines.path: file not found" in text


def test_validate_cli_exit_codes(tmp_path, make_tile, capsys):
    import numpy as np

    p = _write(tmp_path, {**GOOD, "bogus": True})
    with pytest.raises(SystemExit) as ei:
        main(["validate", str(p)])
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert "bogus: unknown key" in err and "Traceback" not in err
    make_tile("a.tif", np.full((6, 32, 32), 900, np.uint16))
    ok = _write(tmp_path, {**GOOD, "carbon": {"enabled": False}}, "ok.yaml")
    with pytest.raises(SystemExit) as ei:
        main(["validate", str(ok)])
    assert ei.value.code == 0
    assert "OK (1 epoch(s), 1 tile pattern(s), sensor sentinel2_l2a; every input opened)" in capsys.readouterr().out


def _hostile(tmp_path: Path, make_tile, name: str) -> Path:
    """A tile that exists but that a run cannot use."""
    import os

    import numpy as np

    target = tmp_path / name
    if name == "truncated.tif":
        good = make_tile("whole.tif", np.random.default_rng(0).integers(0, 4000, (6, 64, 64)).astype(np.uint16))
        target.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    elif name == "passwd.tif":
        target.write_text("root:x:0:0:root:/root:/bin/bash\n")
    elif name == "folder.tif":
        target.mkdir()
    elif name == "fifo.tif":
        os.mkfifo(target)
    elif name == "fourbands.tif":
        make_tile(name, np.full((4, 32, 32), 900, np.uint16))
    elif name == "nocrs.tif":
        make_tile(name, np.full((6, 32, 32), 900, np.uint16), crs=None)
    return target


@pytest.mark.parametrize("name, needle", [
    ("truncated.tif", "truncated"),
    ("passwd.tif", "not a readable raster"),
    ("folder.tif", "not a regular file"),
    ("fifo.tif", "not a regular file"),
    ("fourbands.tif", "has 4 bands but sensor 'sentinel2_l2a' expects 6"),
    ("nocrs.tif", "raster has no CRS"),
])
def test_validate_opens_every_raster(tmp_path, make_tile, capsys, name, needle):
    import time

    bad = _hostile(tmp_path, make_tile, name)
    spec = _write(tmp_path, {**GOOD, "epochs": [{"name": "2020", "year": 2020, "scenes": [
        {"date": "2020-08-01", "tiles": [bad.name]}]}], "carbon": {"enabled": False}})
    t0 = time.perf_counter()
    with pytest.raises(SystemExit) as ei:
        main(["validate", str(spec)])
    assert time.perf_counter() - t0 < 30  # a FIFO must not block
    err = capsys.readouterr().err
    assert ei.value.code == 2, err
    assert f"epochs.0.scenes.0.tiles.0: {bad}" in err and needle in err, err
    # sinks run refuses it the same way (and does not hang on the FIFO)
    with pytest.raises(SystemExit) as ei:
        main(["run", str(spec), "--out", str(tmp_path / "out")])
    assert ei.value.code == 2 and needle in capsys.readouterr().err


def test_validate_applies_the_rule_model_and_loads_files(tmp_path, make_tile, capsys):
    import numpy as np

    make_tile("a.tif", np.full((6, 32, 32), 900, np.uint16))
    inline = _write(tmp_path, {**GOOD, "classification": {"rules": {"forest": {"min_ndvii": 0.5}}}})
    with pytest.raises(SystemExit) as ei:
        main(["validate", str(inline)])
    err = capsys.readouterr().err
    assert ei.value.code == 2 and "classification.rules: forest.min_ndvii: unknown key" in err, err
    with pytest.raises(SystemExit) as ei:  # run rejects it at the same place
        main(["run", str(inline), "--out", str(tmp_path / "o")])
    assert ei.value.code == 2 and "forest.min_ndvii: unknown key" in capsys.readouterr().err
    (tmp_path / "rules.yaml").write_text("water: {max_mndwii: 0.1}\n")
    (tmp_path / "pools.csv").write_text("lucode,c_above\n1,abc\n")
    (tmp_path / "model.sinks").write_bytes(b"PK\x03\x04 junk")
    files = _write(tmp_path, {**GOOD, "classification": {"rules": "rules.yaml"}, "carbon": {"table": "pools.csv"}},
                   "files.yaml")
    with pytest.raises(SystemExit) as ei:
        main(["validate", str(files)])
    err = capsys.readouterr().err
    assert ei.value.code == 2
    assert "classification.rules: " in err and "water.max_mndwii: unknown key" in err, err
    assert "carbon.table: " in err and "pools.csv" in err, err
    model = _write(tmp_path, {**GOOD, "classification": {"method": "model", "model": "model.sinks"},
                              "carbon": {"enabled": False}}, "model.yaml")
    with pytest.raises(SystemExit) as ei:
        main(["validate", str(model)])
    assert ei.value.code == 2 and "classification.model: " in capsys.readouterr().err


def test_validate_applies_the_pixel_budget(tmp_path, make_tile, capsys, monkeypatch):
    import numpy as np

    monkeypatch.setenv("SINKS_MAX_PIXELS", "100")
    make_tile("a.tif", np.full((6, 32, 32), 900, np.uint16))
    spec = _write(tmp_path, {**GOOD, "carbon": {"enabled": False}})
    with pytest.raises(SystemExit) as ei:
        main(["validate", str(spec)])
    err = capsys.readouterr().err
    assert ei.value.code == 2 and "inputs: " in err and "32 x 32 pixels" in err and "pixel budget" in err, err


def test_run_cli_bad_spec_exit_2(tmp_path, capsys):
    p = _write(tmp_path, "epochs: {")
    with pytest.raises(SystemExit) as ei:
        main(["run", str(p), "--out", str(tmp_path / "out")])
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "spec.yaml" in err
    assert not (tmp_path / "out").exists()
