"""Digital numbers straight into the rule kernel: the same land cover as from float32 reflectance.

The oracle is the reflectance path itself (:func:`sinks.io.open_scene` and the rule kernel on
its float32 blocks), which tests/test_io.py and tests/test_kernels.py pin by hand and against
numpy.  Every test here compares the two paths bit for bit, on blocks holding nodata in all
bands, in one band, in SWIR2 alone, and across overlapping tiles.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sinks._kernels.mosaic import contains_value, fill_first_valid, fill_first_valid_dn
from sinks._kernels.rules import rules_block
from sinks.classify import classify, rule_setup
from sinks.classify.rules import kernel_arguments, load_rules
from sinks.classify.sample import array_sample, sample_grid
from sinks.digital import dn_layout, dn_reflectance, is_dn, open_scene_dn
from sinks.io import open_scene
from sinks.tiles import tiles_from_files
from sinks.sensors import get_profile, resolve_profile

S2 = get_profile("sentinel2_l2a")
SCALE, OFFSETS = 1e-4, (-0.1, 0.0)


def _dn_block(rng: np.random.Generator, h: int, w: int, holes: float) -> np.ndarray:
    """Six uint16 bands of plausible reflectance × 10 000 (+1000 offset), with nodata (0)
    in every band, in one band, and in SWIR2 alone."""
    d = rng.integers(1, 9000, size=(6, h, w)).astype(np.uint16)
    d[:, rng.random((h, w)) < holes] = 0
    d[rng.integers(0, 5), rng.random((h, w)) < holes] = 0
    d[5, rng.random((h, w)) < holes] = 0
    return d


def _reflectance(d: np.ndarray, offset: float) -> np.ndarray:
    """The float32 block the mosaic makes from one tile's numbers."""
    out = np.empty(d.shape, np.float32)
    filled = np.zeros(d.shape[1:], bool)
    fill_first_valid(out, filled, d, nodata=np.zeros(6), scale=SCALE, offset=offset, first=True)
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), t=st.integers(1, 3), holes=st.floats(0.0, 0.3), coastal=st.booleans(),
       size=st.sampled_from([(19, 23), (2, 1030)]))
def test_rule_kernel_on_numbers_equals_kernel_on_reflectance(seed, t, holes, coastal, size):
    rng = np.random.default_rng(seed)
    dns = [_dn_block(rng, *size, holes) for _ in range(t)]
    offsets = [OFFSETS[k % 2] for k in range(t)]  # acquisitions before and after the 2022 offset
    zone = rng.random(size) < 0.5 if coastal else None
    kw = dict(roles=(0, 1, 2, 3, 4, 5), coastal=zone, **kernel_arguments(load_rules(), mndwi_t=0.05, mvi_t=3.0))
    want = rules_block([_reflectance(d, o) for d, o in zip(dns, offsets)], **kw)
    got = rules_block(dns, decode=([SCALE] * t, offsets, 0), **kw)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), t=st.integers(1, 3), first=st.booleans())
def test_rule_kernel_on_numbers_reads_nodata_in_bands_the_rules_do_not_use(seed, t, first):
    """A seventh band (before or after the six the rules read): nodata there marks the pixel
    unobserved too, as a NaN in every band of the reflectance would."""
    rng = np.random.default_rng(seed)
    kw = kernel_arguments(load_rules(), mndwi_t=0.05, mvi_t=3.0)
    dns, refl = [], []
    for _ in range(t):
        d = _dn_block(rng, 19, 23, 0.2)
        extra = rng.integers(1, 9000, size=(1, 19, 23)).astype(np.uint16)
        extra[0, rng.random((19, 23)) < 0.2] = 0
        dns.append(np.concatenate([extra, d] if first else [d, extra]))
        r = _reflectance(d, 0.0)
        r[:, extra[0] == 0] = np.nan
        refl.append(r)
    roles = (1, 2, 3, 4, 5, 6) if first else (0, 1, 2, 3, 4, 5)
    want = rules_block(refl, roles=(0, 1, 2, 3, 4, 5), coastal=None, **kw)
    got = rules_block(dns, roles=roles, coastal=None, decode=([SCALE] * t, [0.0] * t, 0), **kw)
    np.testing.assert_array_equal(got, want)


def test_rule_kernel_refuses_mixed_or_float_numbers():
    kw = dict(roles=(0, 1, 2, 3, 4, 5), coastal=None, **kernel_arguments(load_rules(), mndwi_t=0.0, mvi_t=3.0))
    a = np.ones((6, 4, 4), np.uint16)
    with pytest.raises(TypeError, match="one integer dtype"):
        rules_block([a, a.astype(np.int16)], decode=([SCALE] * 2, [0.0, 0.0], 0), **kw)
    with pytest.raises(TypeError, match="one integer dtype"):
        rules_block([a.astype(np.float32)], decode=([SCALE], [0.0], 0), **kw)
    with pytest.raises(ValueError, match="one scale and one offset"):
        rules_block([a, a], decode=([SCALE], [0.0], 0), **kw)
    with pytest.raises(ValueError, match="same rows and columns"):
        rules_block([a, a[:, :3]], decode=([SCALE] * 2, [0.0, 0.0], 0), **kw)
    with pytest.raises(ValueError, match=r"coastal: the mask is \(4, 5\), the block \(4, 4\)"):
        rules_block([a], decode=([SCALE], [0.0], 0), **{**kw, "coastal": np.ones((4, 5), bool)})


def test_number_mosaic_decodes_to_the_reflectance_mosaic():
    rng = np.random.default_rng(3)
    out_dn = np.zeros((6, 16, 16), np.uint16)
    filled_dn = np.zeros((16, 16), bool)
    out_f = np.full((6, 16, 16), np.nan, np.float32)
    filled_f = np.zeros((16, 16), bool)
    for k, (r, c, h, w) in enumerate(((0, 0, 10, 12), (4, 3, 12, 13), (0, 8, 16, 8))):
        d = _dn_block(rng, h, w, 0.2)
        valid = rng.random((h, w)) < 0.9 if k == 1 else None
        n_dn = fill_first_valid_dn(out_dn, filled_dn, d, nodata=0, row=r, col=c, valid=valid)
        n_f = fill_first_valid(out_f, filled_f, d, nodata=np.zeros(6), scale=SCALE, offset=-0.1, row=r, col=c,
                               valid=valid, first=k == 0)
        assert n_dn == n_f
    np.testing.assert_array_equal(filled_dn, filled_f)
    bad = (out_dn == 0).any(axis=0)
    np.testing.assert_array_equal(bad, ~filled_f)  # a pixel is whole or nodata in every band
    decoded = out_dn.astype(np.float32) * np.float32(SCALE) + np.float32(-0.1)
    decoded[:, bad] = np.nan
    np.testing.assert_array_equal(decoded, out_f)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 9000), dtype=st.sampled_from(["uint8", "uint16", "int16"]), value=st.integers(0, 255),
       hits=st.lists(st.integers(0, 8999), max_size=3), seed=st.integers(0, 2**16))
def test_contains_value_is_numpys_any_equal(n, dtype, value, hits, seed):
    data = np.random.default_rng(seed).integers(0, 256, n).astype(dtype)
    data[data == value] = (value + 1) % 256  # any other value the dtype holds
    for h in hits:
        if h < n:
            data[h] = value
    assert contains_value(data.reshape(1, -1) if n % 2 else data, value) == bool((data == value).any())


def test_a_block_the_first_tile_covers_with_valid_numbers_is_not_mosaicked(make_tile, monkeypatch):
    """A block inside the first tile with no nodata is taken as read; with nodata it is
    mosaicked, the second tile filling the holes.  Both equal the mosaic made by hand."""
    from sinks.grid import derive_grid
    from sinks.io import _read_block_dn
    from sinks.mosaic import FirstValid

    calls = []
    real = FirstValid.fill_dn
    monkeypatch.setattr(FirstValid, "fill_dn", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    for holes, mosaicked in ((0.0, False), (0.1, True)):
        calls.clear()
        rng = np.random.default_rng(5)
        a, b = _dn_block(rng, 40, 50, holes), _dn_block(rng, 40, 50, holes)
        pa = make_tile(f"a{holes}.tif", a)
        pb = make_tile(f"b{holes}.tif", b, x0=500300, y0=2399850)  # from row 15, column 30
        tiles = tiles_from_files([pa, pb], S2)
        grid = derive_grid(tiles)
        # rows 16-31, columns 32-47: inside tile a, which tile b overlaps
        block = _read_block_dn(tuple(tiles), tuple(S2.reflectance_roles), grid, 16, 32, 16, 16, 0, "uint16",
                               "nearest", FirstValid())
        out = np.zeros((6, 16, 16), np.uint16)
        filled = np.zeros((16, 16), bool)
        fill_first_valid_dn(out, filled, a[:, 16:32, 32:48], nodata=0)
        fill_first_valid_dn(out, filled, b[:, 1:17, 2:18], nodata=0)
        np.testing.assert_array_equal(block, out)
        assert bool(calls) == mosaicked


def _tiles(make_tile, holes: float = 0.1):
    rng = np.random.default_rng(11)
    pa = make_tile("a.tif", _dn_block(rng, 40, 50, holes))
    pb = make_tile("b.tif", _dn_block(rng, 40, 50, holes), x0=500300, y0=2399850)  # overlaps a
    return tiles_from_files([pa, pb], S2)


@pytest.mark.parametrize("chunks,holes", [(16, 0.1), (32, 0.1), (1024, 0.1), (16, 0.0), (1024, 0.0)])
def test_scene_of_numbers_decodes_to_open_scene(make_tile, chunks, holes):
    """Overlapping tiles, with nodata (the mosaic fills each block) and without (a block the
    first tile covers is taken as read)."""
    tiles = _tiles(make_tile, holes)
    from sinks.grid import derive_grid

    grid = derive_grid(tiles)
    date = dt.date(2023, 5, 1)  # after the 2022 processing baseline: offset -0.1
    dn = open_scene_dn(tiles, profile=S2, grid=grid, date=date, chunks=chunks)
    refl = open_scene(tiles, profile=S2, grid=grid, date=date, chunks=chunks)
    assert is_dn(dn) and not is_dn(refl) and dn.dtype == np.uint16
    assert dn.attrs["offset"] == refl.attrs["offset"] == pytest.approx(-0.1)
    np.testing.assert_array_equal(dn_reflectance(dn).values, refl.values)


def test_classify_numbers_equals_classify_reflectance(make_tile):
    from sinks.grid import derive_grid

    tiles = _tiles(make_tile, holes=0.05)
    grid = derive_grid(tiles)
    dates = (dt.date(2021, 1, 15), dt.date(2023, 8, 20))  # offsets 0 and -0.1
    refl = [open_scene(tiles, profile=S2, grid=grid, date=d, chunks=32) for d in dates]
    dn = [open_scene_dn(tiles, profile=S2, grid=grid, date=d, chunks=32) for d in dates]
    sgrid = sample_grid(grid, max_pixels=400)[0]
    setup = rule_setup([array_sample(r) for r in refl], sgrid, roles=list(refl[0].band.values))
    want = classify(refl, grid=grid, setup=setup).landcover.compute()
    got = classify(dn, grid=grid, setup=setup).landcover.compute()
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(want)) > 3
    # without a setup the thresholds come from samples of the decoded numbers: the same ones
    res_r, res_d = classify(refl, grid=grid), classify(dn, grid=grid)
    assert res_r.thresholds == res_d.thresholds
    np.testing.assert_array_equal(res_d.landcover.compute(), res_r.landcover.compute())


def test_layout_needs_one_integer_type_and_one_nodata(make_tile):
    d = np.full((6, 20, 20), 500, np.uint16)
    assert dn_layout(tiles_from_files([make_tile("u.tif", d)], S2), S2.reflectance_roles) == (0, "uint16")
    # Sentinel-2's profile supplies 0 when a file declares no nodata; a generic sensor does not
    generic = resolve_profile(bands="blue,green,red,nir,swir1,swir2")
    assert generic.nodata is None
    no_nodata = tiles_from_files([make_tile("n.tif", d, nodata=None)], generic)
    assert dn_layout(no_nodata, generic.reflectance_roles) is None
    floats = tiles_from_files([make_tile("f.tif", d.astype(np.float32) / 1e4)], S2)
    assert dn_layout(floats, S2.reflectance_roles) is None
    other = tiles_from_files([make_tile("u.tif", d), make_tile("o.tif", d, nodata=65535, x0=500100)], S2)
    assert dn_layout(other, S2.reflectance_roles) is None
    mixed = tiles_from_files([make_tile("u.tif", d), make_tile("i.tif", d.astype(np.int16), x0=500100)], S2)
    assert dn_layout(mixed, S2.reflectance_roles) is None
    assert open_scene_dn(no_nodata, profile=generic, grid=no_nodata[0].grid) is None


def _landcover(ctx, epoch: int = 0):
    from sinks import pipeline as P

    ep = ctx.epochs[epoch]
    for name, fn, _enabled in P.EPOCH_STAGES:
        if name in ("read", "classify"):
            fn(ctx, ep)
    return ep.layers["landcover"]


def _reads_numbers(arr) -> bool:
    return any(isinstance(k, tuple) and str(k[0]).startswith("dn-") for k in arr.__dask_graph__())


@pytest.mark.parametrize("region", [False, True])
def test_pipeline_classifies_numbers_as_it_would_reflectance(tmp_path, monkeypatch, region):
    """The run hands the rule kernel digital numbers (a whole scene and a batch region,
    whose outside pixels become nodata): the same land cover as from reflectance."""
    from pathlib import Path

    from shapely.geometry import box

    import sinks.stages.landcover as stage
    from sinks import pipeline as P
    from sinks.spec import load_spec

    spec, path = load_spec(Path(__file__).resolve().parents[1] / "sample_rasters" / "pipeline.yaml")

    def context(out):
        ctx = P.prepare(spec, spec_path=path, out=tmp_path / out, overwrite=True)
        if region:
            x0, y0, x1, y1 = ctx.grid.bounds
            part = box(x0 + 0.2 * (x1 - x0), y0 + 0.3 * (y1 - y0), x0 + 0.7 * (x1 - x0), y1).buffer(300)
            ctx = P.for_region(ctx, geometry=part, region_id="r1", out=tmp_path / out / "r1")
        return ctx

    numbers = _landcover(context("dn"))
    assert _reads_numbers(numbers)
    monkeypatch.setattr(stage, "_rule_scenes", lambda ctx, ep: None)
    reflectance = _landcover(context("refl"))
    assert not _reads_numbers(reflectance)
    got, want = numbers.compute(), reflectance.compute()
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(want)) >= 5 and (not region or (want == 0).any())


def test_pipeline_reads_reflectance_when_the_pass_writes_indices(tmp_path):
    from pathlib import Path

    from sinks import pipeline as P
    from sinks.spec import load_spec

    spec, path = load_spec(Path(__file__).resolve().parents[1] / "sample_rasters" / "pipeline.yaml")
    spec = spec.model_copy(update={"indices": spec.indices.model_copy(update={"names": ["ndvi"], "write": True})})
    ctx = P.prepare(spec, spec_path=path, out=tmp_path / "i", overwrite=True)
    assert not _reads_numbers(_landcover(ctx))  # the float32 blocks are made for the indices anyway
