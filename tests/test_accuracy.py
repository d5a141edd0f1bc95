"""Tests of sinks.accuracy and ``sinks accuracy``: Olofsson 2014 Table 8, hand-computed cases."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

import sinks.accuracy as acc
from sinks.accuracy import (
    area_adjusted,
    assess_map,
    cohen_kappa,
    confusion_matrix,
    mapped_area_ha,
    overall_accuracy,
    producers_accuracy,
    sample_size,
    users_accuracy,
)
from sinks.cli import main
from sinks.errors import ConfigError, CRSMismatchError, NoOverlapError, SinksWarning, TileReadError, VectorError

# -- Olofsson et al. 2014, Table 8 (domain.md §6) -------------------------------------
T8_COUNTS = np.array([[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]])
T8_PIXELS = np.array([200000, 150000, 3200000, 6450000])
T8_CLASSES = ["forest", "grassland", "wetland", "mangrove"]


@pytest.fixture(scope="module")
def table8() -> acc.AccuracyResult:
    return area_adjusted(T8_COUNTS, T8_PIXELS * 0.09, classes=T8_CLASSES)


def test_table8_areas(table8: acc.AccuracyResult) -> None:
    assert np.round(table8.area_ha).tolist() == [21158, 11686, 285770, 581386]
    assert np.round(table8.area_ci95_ha).tolist() == [6158, 3756, 15510, 16282]
    assert table8.area_ha.sum() == pytest.approx(900000.0)
    assert table8.total_area_ha == pytest.approx(900000.0)
    assert table8.weights.tolist() == pytest.approx([0.02, 0.015, 0.32, 0.645])


def test_table8_accuracies(table8: acc.AccuracyResult) -> None:
    assert np.round(table8.user_accuracy, 2).tolist() == [0.88, 0.73, 0.93, 0.96]
    assert np.round(table8.user_accuracy_ci95, 2).tolist() == [0.07, 0.10, 0.04, 0.02]
    assert np.round(table8.producer_accuracy, 2).tolist() == [0.75, 0.85, 0.93, 0.96]
    assert np.round(table8.producer_accuracy_ci95, 2).tolist() == [0.21, 0.25, 0.03, 0.02]
    # the paper prints 0.23 and 0.01; its own Eq. 7 gives these (domain.md §6)
    assert table8.producer_accuracy_ci95[1] == pytest.approx(0.254, abs=5e-4)
    assert table8.producer_accuracy_ci95[3] == pytest.approx(0.018, abs=5e-4)
    assert table8.overall_accuracy == pytest.approx(0.947, abs=5e-4)
    assert round(table8.overall_accuracy_ci95, 2) == 0.02
    assert table8.notes == ()


def test_table8_to_dict_is_json(table8: acc.AccuracyResult) -> None:
    d = json.loads(json.dumps(table8.to_dict()))
    assert round(d["area_ha"]["forest"]) == 21158
    assert round(d["area_ci95_ha"]["mangrove"]) == 16282
    assert d["user_accuracy"]["forest"] == pytest.approx(0.88)
    assert set(d["producer_accuracy_ci95"]) == set(T8_CLASSES)
    assert d["confusion_matrix"]["forest"] == {"forest": 66, "grassland": 0, "wetland": 5, "mangrove": 4}
    assert d["confusion_matrix"]["mangrove"]["forest"] == 2  # rows = map, columns = reference
    assert d["n_samples"] == 640
    assert d["overall_accuracy_ci95"] == pytest.approx(0.0185, abs=1e-4)
    assert d["kappa"] == pytest.approx(cohen_kappa(T8_COUNTS))
    # pixel counts instead of areas give the same proportions and accuracies
    px = area_adjusted(T8_COUNTS, T8_PIXELS, classes=T8_CLASSES)
    assert px.producer_accuracy_se == pytest.approx(table8.producer_accuracy_se)
    assert px.area_ha * 0.09 == pytest.approx(table8.area_ha)


def test_sample_size_planning_example() -> None:
    assert sample_size([0.020, 0.015, 0.320, 0.645], [0.70, 0.60, 0.90, 0.95], 0.01) == 641
    # weights given as areas are normalised
    assert sample_size([20, 15, 320, 645], [0.70, 0.60, 0.90, 0.95], 0.01) == 641
    assert sample_size([1.0], [0.5], 0.05) == 100  # (0.5 / 0.05)²
    with pytest.raises(ConfigError):
        sample_size([0.5, 0.5], [0.9], 0.01)
    with pytest.raises(ConfigError):
        sample_size([0.5, 0.5], [0.9, 1.1], 0.01)
    with pytest.raises(ConfigError):
        sample_size([0.5, 0.5], [0.9, 0.9], 0)


# -- sample-count statistics ----------------------------------------------------------
def test_confusion_matrix_by_hand() -> None:
    cm = confusion_matrix([1, 1, 2, 2, 0, 3, 2], [1, 2, 2, 2, 1, 0, 1])
    assert list(cm.index) == ["forest", "grassland"] and list(cm.columns) == ["forest", "grassland"]
    assert cm.index.name == "map" and cm.columns.name == "reference"
    assert cm.to_numpy().tolist() == [[1, 1], [1, 2]]
    assert cm.attrs["n_dropped_nodata"] == 2
    # names work, classes fix the order and include absent ones
    cm2 = confusion_matrix(["Forest", "water"], ["forest", "forest"], classes=["water", "forest", "bare"])
    assert list(cm2.index) == ["water", "forest", "bare"]
    assert cm2.to_numpy().tolist() == [[0, 1, 0], [0, 1, 0], [0, 0, 0]]
    with pytest.raises(ConfigError, match="differ in length"):
        confusion_matrix([1, 2], [1])
    with pytest.raises(ConfigError, match="not listed in classes: grassland"):
        confusion_matrix([1, 2], [1, 1], classes=[1])
    with pytest.raises(ConfigError, match="unknown land-cover code 42"):
        confusion_matrix([42], [1])


def test_kappa_oa_ua_pa_by_hand() -> None:
    cm = np.array([[20, 5], [10, 15]])
    # p_o = 35/50, p_e = (25·30 + 25·20)/50² = 0.5  ->  κ = 0.2/0.5
    assert overall_accuracy(cm) == pytest.approx(0.7)
    assert cohen_kappa(cm) == pytest.approx(0.4)
    assert users_accuracy(cm).tolist() == pytest.approx([0.8, 0.6])
    assert producers_accuracy(cm).tolist() == pytest.approx([20 / 30, 15 / 20])
    assert cohen_kappa(np.diag([3, 4])) == pytest.approx(1.0)
    assert np.isnan(cohen_kappa(np.array([[5]])))  # p_e = 1: undefined
    assert np.isnan(users_accuracy(np.array([[1, 0], [0, 0]]))[1])


@pytest.mark.filterwarnings("ignore:.*label:UserWarning")  # scikit-learn on samples of one class
@settings(max_examples=60, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(1, 6), st.integers(1, 6)), min_size=2, max_size=200))
def test_counts_agree_with_scikit_learn(pairs: list[tuple[int, int]]) -> None:
    """The confusion matrix equals scikit-learn's; kappa agrees to rounding.  Ours are kept:
    kappa takes a matrix (the Olofsson and Stehman estimators pass counts, never label
    lists), scikit-learn's differs from it in the last bits on about 4 matrices in 10
    (results would not be bit-identical), and importing sklearn.metrics costs more than
    the three lines of counting it would replace."""
    from sklearn.metrics import cohen_kappa_score
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    m, r = (np.array(v) for v in zip(*pairs))
    cm = confusion_matrix(m, r)
    codes = sorted(set(m.tolist()) | set(r.tolist()))
    assert cm.to_numpy().tolist() == sk_confusion_matrix(m, r, labels=codes).tolist()
    ours, theirs = cohen_kappa(cm), cohen_kappa_score(m, r, labels=codes)
    assert (np.isnan(ours) and np.isnan(theirs)) or ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)


def test_unsampled_and_reference_only_classes() -> None:
    counts = np.array([[8, 2, 0], [1, 9, 0], [0, 0, 0]])
    with pytest.warns(SinksWarning, match="without reference samples keep their mapped area.*c3"):
        r = area_adjusted(counts, [40.0, 50.0, 10.0], classes=["c1", "c2", "c3"])
    assert r.area_ha.sum() == pytest.approx(100.0)
    assert r.area_ha[2] == pytest.approx(10.0) and r.area_se_ha[2] == 0.0
    assert np.isnan(r.user_accuracy[2])
    assert r.to_dict()["user_accuracy"]["c3"] is None
    assert r.notes
    # a class seen only in the reference (no mapped area) gets area from the errors
    counts = np.array([[8, 2], [0, 0]])
    r = area_adjusted(counts, [100.0, 0.0], classes=["a", "b"])
    assert r.area_ha.tolist() == pytest.approx([80.0, 20.0])
    assert r.producer_accuracy[1] == 0.0 and np.isnan(r.user_accuracy[1])
    assert r.notes == ()


def test_single_sample_stratum_has_undefined_variance() -> None:
    with pytest.warns(SinksWarning, match="single reference sample.*b"):
        r = area_adjusted(np.array([[5, 1], [0, 1]]), [60.0, 40.0], classes=["a", "b"])
    assert r.user_accuracy[1] == 1.0 and np.isnan(r.user_accuracy_se[1])
    assert np.isnan(r.overall_accuracy_se) and np.isnan(r.area_se_ha).all()
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))  # nan becomes null, JSON stays valid
    assert d["overall_accuracy_ci95"] is None and d["user_accuracy_ci95"]["b"] is None
    assert d["area_ha"]["a"] == pytest.approx(50.0)  # 60 · 5/6


def test_area_adjusted_input_errors() -> None:
    with pytest.raises(ConfigError, match="square"):
        area_adjusted(np.ones((2, 3)), [1, 1, 1])
    with pytest.raises(ConfigError, match="3 mapped areas for 2"):
        area_adjusted(np.ones((2, 2)), [1, 1, 1])
    with pytest.raises(ConfigError, match="no mapped area"):
        area_adjusted(np.ones((2, 2)), [0, 0])
    r = area_adjusted(confusion_matrix([1, 1, 2, 2], [1, 1, 2, 2]), {"forest": 3.0, "grassland": 1.0})
    assert r.classes == ("forest", "grassland") and r.overall_accuracy == 1.0


# -- properties -----------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(2, 50), st.floats(0.01, 1e6)), min_size=1, max_size=6))
def test_perfect_map(strata: list[tuple[int, float]]) -> None:
    n = np.diag([s[0] for s in strata])
    area = np.array([s[1] for s in strata])
    r = area_adjusted(n, area)
    assert r.overall_accuracy == pytest.approx(1.0)
    assert r.area_ha == pytest.approx(area)
    assert np.allclose(r.area_se_ha, 0.0) and r.overall_accuracy_se == pytest.approx(0.0)
    assert np.allclose(r.user_accuracy, 1.0) and np.allclose(r.producer_accuracy, 1.0)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5).flatmap(lambda k: st.tuples(
    st.lists(st.lists(st.integers(0, 30), min_size=k, max_size=k), min_size=k, max_size=k),
    st.lists(st.floats(0.1, 1e5), min_size=k, max_size=k))))
def test_areas_sum_to_total(case: tuple[list[list[int]], list[float]]) -> None:
    counts, area = np.array(case[0]), np.array(case[1])
    counts[np.arange(len(area)), np.arange(len(area))] += 2  # every stratum sampled ≥ 2 times
    r = area_adjusted(counts, area)
    assert r.area_ha.sum() == pytest.approx(area.sum())
    assert r.proportions.sum() == pytest.approx(1.0)
    assert 0.0 <= r.overall_accuracy <= 1.0 + 1e-12
    assert np.all(r.area_se_ha >= 0) and np.all(np.isfinite(r.producer_accuracy_se))
    assert r.proportions.sum(axis=1) == pytest.approx(r.weights)


# -- assess_map on a tiny raster ------------------------------------------------------
X0, Y0, RES = 500000.0, 2400000.0, 10.0
MAP = np.array([[1, 1, 1, 2],
                [1, 1, 2, 2],
                [3, 3, 2, 2],
                [3, 3, 0, 0]], dtype=np.uint8)
# (row, col, label): map forest row [2 forest, 1 grassland], grassland row [1 forest, 2 grassland],
# wetland row [2 wetland]; one sample on nodata, one outside the map.
SAMPLES = [(0, 0, "forest"), (0, 1, "Forest"), (1, 0, "GRASSLAND"), (0, 3, "grassland"), (1, 2, "grassland"),
           (2, 2, "forest"), (2, 0, "3"), (3, 1, "wetland"), (3, 2, "forest"), (9, 9, "forest")]


def _centre(row: int, col: int) -> Point:
    return Point(X0 + RES * (col + 0.5), Y0 - RES * (row + 0.5))


def _reference(path: Path, samples=SAMPLES, *, polygons: bool = False, crs: str = "EPSG:32649",
               field: str = "label") -> Path:
    geoms = [_centre(r, c).buffer(3, cap_style="square") if polygons else _centre(r, c) for r, c, _ in samples]
    gdf = gpd.GeoDataFrame({field: [s[2] for s in samples]}, geometry=geoms, crs="EPSG:32649").to_crs(crs)
    gdf.to_file(path, engine="pyogrio")
    return path


@pytest.fixture
def lc_map(make_tile: Callable[..., Path]) -> Path:
    return make_tile("lc.tif", MAP, x0=X0, y0=Y0, res=RES)


def _check_tiny(r: acc.AccuracyResult) -> None:
    assert r.classes == ("forest", "grassland", "wetland")
    assert r.counts.tolist() == [[2, 1, 0], [1, 2, 0], [0, 0, 2]]
    assert r.mapped_area_ha.tolist() == pytest.approx([0.05, 0.05, 0.04])  # 10 m pixels = 0.01 ha
    # W = [5, 5, 4]/14; Â_forest = 0.14 (W1·2/3 + W2·1/3) = 0.05
    assert r.area_ha.tolist() == pytest.approx([0.05, 0.05, 0.04])
    assert r.overall_accuracy == pytest.approx(32 / 42)  # (10/14)(2/3) + 4/14
    assert r.kappa == pytest.approx(13 / 21)  # p_o = 6/8, p_e = (9 + 9 + 4)/64
    assert r.n_samples == 8
    assert r.n_dropped == {"unlabelled": 0, "reference_nodata": 0, "outside_map": 1, "map_nodata": 1}


def test_assess_map_points(lc_map: Path, tmp_path: Path) -> None:
    ref = _reference(tmp_path / "ref.gpkg")
    with pytest.warns(SinksWarning) as record:
        r = assess_map(lc_map, ref, label_field="label")
    msgs = " | ".join(str(w.message) for w in record)
    assert "1 reference sample(s) outside the map" in msgs and "1 reference sample(s) on map nodata" in msgs
    _check_tiny(r)
    # V(UA_forest) = (2/3)(1/3)/2
    assert r.user_accuracy_se[0] == pytest.approx(np.sqrt(2 / 9 / 2))
    assert r.sources == {"map": str(lc_map), "reference": str(ref), "label_field": "label"}


def test_assess_map_with_areas_already_counted(lc_map: Path, tmp_path: Path) -> None:
    """Given the mapped areas, the map is only read at the samples: same estimates."""
    from sinks.carbon import class_areas_ha
    from sinks.io import read_categorical

    ref = _reference(tmp_path / "ref.gpkg")
    arr, grid, _nd = read_categorical(lc_map)
    counted = class_areas_ha(arr, grid, nodata=0).as_dict()
    with pytest.warns(SinksWarning):
        scanned = assess_map(lc_map, ref, label_field="label")
    with pytest.warns(SinksWarning):
        sampled = assess_map(lc_map, ref, label_field="label", mapped_areas_ha=counted)
    _check_tiny(sampled)
    np.testing.assert_allclose(sampled.area_ha, scanned.area_ha, rtol=1e-12)
    assert sampled.n_dropped == scanned.n_dropped and sampled.overall_accuracy == scanned.overall_accuracy


def test_assess_map_with_codes_picked_in_the_pass(lc_map: Path, tmp_path: Path, monkeypatch) -> None:
    """The map's codes under the samples, picked from dask blocks as a run's pass computes
    them: the same estimates without reading a pixel back; pixels the picks lack are read."""
    import dask.array as da

    import sinks.accuracy.assess as assess_mod
    from sinks.accuracy.assess import codes_at_pixels, sample_pixels
    from sinks.carbon import class_areas_ha
    from sinks.io import read_categorical
    from sinks.vectors import read_vector

    ref = _reference(tmp_path / "ref.gpkg")
    arr, grid, _nd = read_categorical(lc_map)
    counted = class_areas_ha(arr, grid, nodata=0).as_dict()
    gdf = read_vector(ref, target_crs=grid.crs)
    rows, cols, inside = sample_pixels(gdf.geometry, grid.transform, grid.width, grid.height)
    assert inside.tolist() == [True] * 9 + [False]  # (9, 9) is off the 4 x 4 map
    lazy = da.from_array(np.asarray(MAP), chunks=((1, 3), (3, 1)))  # uneven blocks
    picked = codes_at_pixels(lazy, rows[inside], cols[inside]).compute()
    assert picked[2].tolist() == [int(MAP[r, c]) for r, c in zip(rows[inside], cols[inside])]
    with pytest.warns(SinksWarning):
        want = assess_map(lc_map, ref, label_field="label", mapped_areas_ha=counted)
    read = []
    real = assess_mod._sample_map

    def counting(ds, r, c):
        read.extend(zip(r.tolist(), c.tolist()))
        return real(ds, r, c)

    monkeypatch.setattr(assess_mod, "_sample_map", counting)
    with pytest.warns(SinksWarning):
        got = assess_map(lc_map, ref, label_field="label", mapped_areas_ha=counted, map_codes_at=picked)
    assert not read
    assert got.counts.tolist() == want.counts.tolist() and got.n_dropped == want.n_dropped
    np.testing.assert_array_equal(got.area_ha, want.area_ha)
    # the picks are what count: a pixel they lack is read from the map, one they hold is not
    part = tuple(a[1:] for a in picked)
    with pytest.warns(SinksWarning):
        got = assess_map(lc_map, ref, label_field="label", mapped_areas_ha=counted, map_codes_at=part)
    assert read == [(int(picked[0][0]), int(picked[1][0]))]
    assert got.counts.tolist() == want.counts.tolist()
    wrong = (picked[0], picked[1], np.where(picked[2] == 1, 2, picked[2]))  # forest picked as grassland
    with pytest.warns(SinksWarning):
        got = assess_map(lc_map, ref, label_field="label", mapped_areas_ha=counted, map_codes_at=wrong)
    assert got.counts[0].sum() == 0 and got.counts.sum() == want.counts.sum()
    empty = codes_at_pixels(lazy, np.zeros(0, np.int64), np.zeros(0, np.int64)).compute()
    assert [a.size for a in empty] == [0, 0, 0]
    rng = np.random.default_rng(5)  # many samples, repeated pixels, blocks of every size
    big = rng.integers(0, 9, (300, 200)).astype(np.uint8)
    r, c = rng.integers(0, 300, 2000), rng.integers(0, 200, 2000)
    got_r, got_c, got = codes_at_pixels(da.from_array(big, chunks=((7, 93, 200), (150, 1, 49))), r, c).compute()
    assert np.array_equal(got_r, r) and np.array_equal(got_c, c) and np.array_equal(got, big[r, c])


def test_assess_map_polygons_in_other_crs(lc_map: Path, tmp_path: Path) -> None:
    ref = _reference(tmp_path / "ref.geojson", polygons=True, crs="EPSG:4326")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SinksWarning)
        r = assess_map(lc_map, ref, label_field="label")
    _check_tiny(r)


def test_assess_map_integer_codes_and_blockwise(lc_map: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    codes = {"forest": 1, "Forest": 1, "GRASSLAND": 2, "grassland": 2, "3": 3, "wetland": 3}
    samples = [(r, c, codes[lab]) for r, c, lab in SAMPLES]
    ref = _reference(tmp_path / "ref.parquet.gpkg", samples, field="code")
    monkeypatch.setattr(acc.assess, "_STRIP_PIXELS", 4)  # one row per window
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SinksWarning)
        r = assess_map(lc_map, ref, label_field="code")
    _check_tiny(r)


def test_assess_map_pixel_area_override(lc_map: Path, tmp_path: Path) -> None:
    ref = _reference(tmp_path / "ref.gpkg", SAMPLES[:8])
    r = assess_map(lc_map, ref, label_field="label", pixel_area_ha=1.0)
    assert r.mapped_area_ha.tolist() == [5.0, 5.0, 4.0]
    assert r.n_dropped == {"unlabelled": 0, "reference_nodata": 0, "outside_map": 0, "map_nodata": 0}


def test_assess_map_unlabelled_and_unsampled(make_tile: Callable[..., Path], tmp_path: Path) -> None:
    data = MAP.copy()
    data[3, 3] = 8  # one bare pixel, never sampled
    lc = make_tile("lc8.tif", data, x0=X0, y0=Y0, res=RES)
    samples = [*SAMPLES[:8], (3, 0, None)]
    ref = _reference(tmp_path / "ref.gpkg", samples)
    with pytest.warns(SinksWarning) as record:
        r = assess_map(lc, ref, label_field="label")
    msgs = " | ".join(str(w.message) for w in record)
    assert "without a 'label' label" in msgs and "bare" in msgs
    assert r.classes[-1] == "bare" and r.area_ha[-1] == pytest.approx(0.01)
    assert r.n_dropped["unlabelled"] == 1


def _geodesic_row_area_ha(grid) -> np.ndarray:
    """Reference pixel area (ha) of each row of a geographic grid: pyproj.Geod on the pixel's outline."""
    import pyproj

    crs = pyproj.CRS.from_wkt(grid.crs.to_wkt())
    geod = crs.get_geod() or pyproj.Geod(ellps="WGS84")
    t = grid.transform
    dx = abs(t.a)
    steps = max(2, int(np.ceil(dx / 0.01)))
    xs = np.linspace(0.0, dx, steps)
    out = np.empty(grid.height)
    for r in range(grid.height):
        y0, y1 = t.f + t.e * r, t.f + t.e * (r + 1)
        lons = np.concatenate([xs, xs[::-1]])
        lats = np.concatenate([np.full(steps, y0), np.full(steps, y1)])
        out[r] = abs(geod.polygon_area_perimeter(lons, lats)[0]) / 1e4
    return out


def test_mapped_area_geographic(make_tile: Callable[..., Path]) -> None:
    from sinks.area import row_area_ha
    from sinks.grid import Grid

    data = np.array([[1, 1], [2, 0]], dtype=np.uint8)
    lc = make_tile("ll.tif", data, x0=110.0, y0=30.0, res=0.1, crs="EPSG:4326")
    import rasterio

    with rasterio.open(lc) as ds:
        rows = row_area_ha(Grid.from_dataset(ds))
        assert _geodesic_row_area_ha(Grid.from_dataset(ds)) == pytest.approx(rows, rel=1e-6)
    got = mapped_area_ha(lc)
    assert got == pytest.approx({"forest": 2 * rows[0], "grassland": rows[1]})
    assert rows[0] < rows[1]  # the northern row is smaller
    assert rows[0] == pytest.approx(11.09 * 9.65 * 100, rel=0.01)  # ≈ 11.09 km × 9.65 km at 30°N, in ha
    assert mapped_area_ha(lc, pixel_area_ha=2.0) == {"forest": 4.0, "grassland": 2.0}


def test_assess_map_errors(lc_map: Path, make_tile: Callable[..., Path], tmp_path: Path) -> None:
    ref = _reference(tmp_path / "ref.gpkg", SAMPLES[:8])
    with pytest.raises(TileReadError, match=r"missing\.tif: map file not found"):
        assess_map(tmp_path / "missing.tif", ref, label_field="label")
    with pytest.raises(VectorError, match=r"nope\.gpkg: reference file not found"):
        assess_map(lc_map, tmp_path / "nope.gpkg", label_field="label")
    with pytest.raises(VectorError, match=r"reference has no field 'class'; available fields: label"):
        assess_map(lc_map, ref, label_field="class")
    bad = _reference(tmp_path / "bad.gpkg", [(0, 0, "forest"), (0, 1, "shrub"), (1, 1, "9"), (1, 0, "shrub")])
    with pytest.raises(ConfigError, match=r"bad\.gpkg: unknown labels in 'label': 'shrub', '9'"):
        assess_map(lc_map, bad, label_field="label")
    far = _reference(tmp_path / "far.gpkg", [(100, 100, "forest"), (3, 3, "forest")])
    with pytest.raises(NoOverlapError, match=r"far\.gpkg: no reference sample falls on a valid pixel of .*lc\.tif"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SinksWarning)
            assess_map(lc_map, far, label_field="label")
    odd = make_tile("odd.tif", np.full((4, 4), 42, dtype=np.uint8), x0=X0, y0=Y0, res=RES)
    with pytest.raises(ConfigError, match=r"odd\.tif: map has codes not in the legend: 42"):
        assess_map(odd, ref, label_field="label")
    flt = make_tile("flt.tif", MAP.astype(np.float32), x0=X0, y0=Y0, res=RES)
    with pytest.raises(TileReadError, match="not a land-cover map"):
        assess_map(flt, ref, label_field="label")
    nocrs = make_tile("nocrs.tif", MAP, x0=X0, y0=Y0, res=RES, crs=None)
    with pytest.raises(CRSMismatchError, match=r"nocrs\.tif: map has no CRS"):
        assess_map(nocrs, ref, label_field="label")


def test_assess_map_custom_nodata(make_tile: Callable[..., Path], tmp_path: Path) -> None:
    data = np.where(MAP == 0, 255, MAP).astype(np.uint8)
    lc = make_tile("lc255.tif", data, x0=X0, y0=Y0, res=RES, nodata=255)
    ref = _reference(tmp_path / "ref.gpkg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SinksWarning)
        _check_tiny(assess_map(lc, ref, label_field="label"))


# -- CLI ------------------------------------------------------------------------------
def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return int(exc.value.code)


def test_cli_table_json_and_out(lc_map: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ref = _reference(tmp_path / "ref.gpkg")
    assert _run(["accuracy", str(lc_map), "--reference", str(ref), "--label-field", "label"]) == 0
    out, err = capsys.readouterr()
    assert "Confusion matrix" in out and "rows = map" in out
    assert "overall accuracy" in out and "0.762" in out and "kappa" in out and "0.619" in out
    assert "adjusted ha" in out and "forest" in out and "wetland" in out
    assert "Warning:" in err and "outside the map" in err

    dest = tmp_path / "acc.json"
    assert _run(["accuracy", str(lc_map), "-r", str(ref), "--label-field", "label", "--json", "-o", str(dest)]) == 0
    out, _ = capsys.readouterr()
    printed = json.loads(out)
    assert printed == json.loads(dest.read_text())
    assert printed["n_samples"] == 8
    assert printed["area_ha"]["forest"] == pytest.approx(0.05)
    assert printed["confusion_matrix"]["forest"] == {"forest": 2, "grassland": 1, "wetland": 0}
    assert printed["n_dropped"]["outside_map"] == 1

    # existing output refused without --overwrite, replaced with it
    assert _run(["accuracy", str(lc_map), "-r", str(ref), "--label-field", "label", "-o", str(dest)]) == 2
    _, err = capsys.readouterr()
    assert "acc.json" in err and "--overwrite" in err
    assert _run(["accuracy", str(lc_map), "-r", str(ref), "--label-field", "label", "-o", str(dest),
                 "--overwrite"]) == 0
    out, _ = capsys.readouterr()
    assert f"wrote {dest}" in out


@pytest.mark.parametrize("case, expected", [
    ("missing_map", "missing.tif: map file not found"),
    ("missing_ref", "nope.gpkg: reference file not found"),
    ("missing_field", "has no field 'klass'; available fields: label"),
    ("unknown_labels", "unknown labels in 'label': 'shrub'"),
    ("no_overlap", "no reference sample falls on a valid pixel"),
])
def test_cli_bad_input_exit_2(case: str, expected: str, lc_map: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture) -> None:
    ref = _reference(tmp_path / "ref.gpkg", SAMPLES[:8])
    map_arg, ref_arg, field = str(lc_map), str(ref), "label"
    if case == "missing_map":
        map_arg = str(tmp_path / "missing.tif")
    elif case == "missing_ref":
        ref_arg = str(tmp_path / "nope.gpkg")
    elif case == "missing_field":
        field = "klass"
    elif case == "unknown_labels":
        ref_arg = str(_reference(tmp_path / "bad.gpkg", [(0, 0, "shrub")]))
    elif case == "no_overlap":
        ref_arg = str(_reference(tmp_path / "far.gpkg", [(50, 50, "forest")]))
    assert _run(["accuracy", map_arg, "--reference", ref_arg, "--label-field", field]) == 2
    out, err = capsys.readouterr()
    assert expected in err
    assert err.startswith("Error: ") and "Traceback" not in err
    assert out == ""
