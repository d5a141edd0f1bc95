"""The compiled kernels against plain numpy formulations of the same rules (test oracles).

``_numpy_rules`` is the array-at-a-time formulation of :mod:`sinks.classify.rules` that the
compiled kernel replaced; ``_numpy_mosaic`` the first-valid-wins mosaic of digital numbers.
Both are kept here only to pin the kernels: same codes, same reflectance, bit for bit, on
random blocks full of NaN, clouds, zero denominators and values on the thresholds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sinks._kernels.mosaic import fill_first_valid
from sinks.classify.rules import classify_block, load_rules
from sinks.landcover import CODES, NODATA


def _nd(a, b):
    den = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(den) > 1e-6, (a - b) / den, np.nan).astype(np.float32)


def _numpy_rules(stack, *, cfg, mndwi_t, mvi_t, grow, coastal):
    b, g, r, n, s1 = (stack[:, i] for i in range(5))
    with np.errstate(invalid="ignore"):
        clear = np.isfinite(stack).all(axis=1) & (b < cfg.cloud.max_blue)
    nclear = clear.sum(axis=0)
    ndvi, mndwi, ndbi = _nd(n, r), _nd(g, s1), _nd(s1, n)
    ndvi_c = np.where(clear, ndvi, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        vmax, vmin = np.nanmax(ndvi_c, axis=0), np.nanmin(ndvi_c, axis=0)
    amp = np.nan_to_num(vmax - vmin)
    freq = np.where(nclear > 0, (clear & (mndwi > mndwi_t)).sum(axis=0) / np.maximum(nclear, 1), 0.0)
    all_ndbi = np.where(clear, ndbi > cfg.built_up.min_ndbi, True).all(axis=0)
    all_dry = np.where(clear, mndwi < 0, True).all(axis=0)
    all_low = np.where(clear, ndvi < cfg.built_up.max_ndvi, True).all(axis=0)
    gclear = clear[grow]
    g_ndvi = np.where(gclear, ndvi[grow], vmax)
    with np.errstate(divide="ignore", invalid="ignore"):
        mvi = np.where(gclear, np.abs(n[grow] - g[grow]) / np.abs(s1[grow] - g[grow]), np.nan)
    out = np.zeros(nclear.shape, dtype=np.uint8)
    todo = nclear > 0

    def take(mask, code):
        nonlocal todo
        m = todo & mask
        out[m] = code
        todo &= ~m

    take((freq >= cfg.water.min_frequency) & (vmax < cfg.water.max_ndvi), CODES["water"])
    if coastal is not None:
        take(coastal & (g_ndvi > cfg.mangrove.min_ndvi) & (mvi > mvi_t) & (amp < cfg.mangrove.max_amplitude),
             CODES["mangrove"])
    take((freq >= cfg.wetland.min_frequency) & (freq < cfg.wetland.max_frequency) & (vmax > cfg.wetland.min_ndvi),
         CODES["wetland"])
    take(vmax < cfg.bare.max_ndvi, CODES["bare"])
    take(all_ndbi & all_dry & all_low, CODES["built_up"])
    take((vmax > cfg.forest.min_ndvi) & (amp < cfg.forest.max_amplitude), CODES["forest"])
    take((amp >= cfg.cropland.min_amplitude) & (vmax > cfg.cropland.min_ndvi), CODES["cropland"])
    take(vmax >= cfg.grassland.min_ndvi, CODES["grassland"])
    take(np.ones_like(todo), CODES["bare"])
    out[nclear == 0] = NODATA
    return out


def _random_stack(seed, t, h, w):
    rng = np.random.default_rng(seed)
    # reflectance around the class spectra, with exact threshold values, zeros, NaN and clouds
    s = rng.choice(np.array([0.0, 0.01, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4], np.float32),
                   size=(t, 5, h, w))
    s += rng.normal(0, 0.02, size=s.shape).astype(np.float32) * (rng.random(s.shape) < 0.7)
    s[rng.random(s.shape) < 0.03] = np.nan
    flip = rng.random((t, h, w)) < 0.05
    s[:, 2][flip] = -s[:, 3][flip]                      # NIR + red = 0: NDVI undefined
    return s.astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), t=st.integers(1, 4), coastal=st.booleans(),
       mndwi_t=st.sampled_from([0.0, -0.1, 0.12]), mvi_t=st.sampled_from([3.0, 4.5, 12.0]))
def test_rules_kernel_equals_numpy(seed, t, coastal, mndwi_t, mvi_t):
    cfg = load_rules()
    stack = _random_stack(seed, t, 23, 17)
    grow = seed % t
    zone = (np.random.default_rng(seed + 1).random((23, 17)) < 0.5) if coastal else None
    got = classify_block(stack, cfg=cfg, mndwi_t=mndwi_t, mvi_t=mvi_t, grow=grow, coastal=zone)
    want = _numpy_rules(stack, cfg=cfg, mndwi_t=mndwi_t, mvi_t=mvi_t, grow=grow, coastal=zone)
    np.testing.assert_array_equal(got, want)


def test_rules_kernel_band_positions():
    """Roles may sit anywhere in the block (e.g. six bands with SWIR2 first)."""
    cfg = load_rules()
    stack = _random_stack(3, 2, 8, 9)
    six = np.concatenate([np.full((2, 1, 8, 9), 0.5, np.float32), stack[:, ::-1]], axis=1)  # swir2, s1, n, r, g, b
    got = classify_block(six, cfg=cfg, mndwi_t=0.0, mvi_t=4.5, grow=1, coastal=None, roles=(5, 4, 3, 2, 1))
    np.testing.assert_array_equal(got, _numpy_rules(stack, cfg=cfg, mndwi_t=0.0, mvi_t=4.5, grow=1, coastal=None))


def _numpy_mosaic(tiles, shape, scale, offset):
    out = np.full(shape, np.nan, np.float32)
    filled = np.zeros(shape[1:], bool)
    for data, nodata, r, c, valid in tiles:
        k, h, w = data.shape
        ok = np.ones((h, w), bool)
        for b in range(k):
            v = data[b].astype(np.float64)
            ok &= np.isfinite(v) & ((v != nodata[b]) | np.isnan(nodata[b]))
        if valid is not None:
            ok &= valid
        take = ok & ~filled[r:r + h, c:c + w]
        block = data.astype(np.float32) * np.float32(scale) + np.float32(offset)
        out[:, r:r + h, c:c + w][:, take] = block[:, take]
        filled[r:r + h, c:c + w] |= take
    return out


@pytest.mark.parametrize("dtype", ["uint16", "int16", "float32"])
def test_mosaic_kernel_equals_numpy(dtype):
    rng = np.random.default_rng(5)
    tiles = []
    for r, c, h, w in ((0, 0, 10, 12), (4, 3, 12, 13), (0, 8, 16, 8)):
        data = rng.integers(0, 5, size=(3, h, w)).astype(dtype) * 1000
        if dtype == "float32":
            data[0, rng.random((h, w)) < 0.1] = np.nan
        valid = rng.random((h, w)) < 0.9 if r == 4 else None
        tiles.append((data, np.array([0.0, np.nan, 0.0]), r, c, valid))
    out = np.full((3, 16, 16), np.nan, np.float32)
    filled = np.zeros((16, 16), bool)
    n = 0
    for k, (data, nodata, r, c, valid) in enumerate(tiles):
        n += fill_first_valid(out, filled, data, nodata=nodata, scale=2.75e-5, offset=-0.2, row=r, col=c, valid=valid,
                              first=k == 0)
    want = _numpy_mosaic(tiles, (3, 16, 16), 2.75e-5, -0.2)
    np.testing.assert_array_equal(out, want)
    assert n == int(np.isfinite(want[0]).sum())


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 12), density=st.floats(0.2, 0.8))
def test_sieve_kernel_equals_scipy(seed, n, density):
    """The compiled sieve against the scipy formulation (label, maximum filter, vote) on random maps."""
    from sinks.classify.mmu import _sieve_block_scipy, sieve_block

    rng = np.random.default_rng(seed)
    block = rng.integers(0, 9, size=(37, 41)).astype(np.uint8)
    block[rng.random(block.shape) < density] = CODES["forest"]
    sizes = {CODES["forest"]: n, CODES["grassland"]: max(2, n // 2)}
    np.testing.assert_array_equal(sieve_block(block, sizes), _sieve_block_scipy(block, sizes))
