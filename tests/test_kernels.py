"""The compiled kernels against plain numpy formulations of the same rules (test oracles).

``_numpy_rules`` is the array-at-a-time formulation of :mod:`sinks.classify.rules` that the
compiled kernel replaced; ``_numpy_mosaic`` the first-valid-wins mosaic of digital numbers.
Both are kept here only to pin the kernels: same codes, same reflectance, bit for bit, on
random blocks full of NaN, clouds, zero denominators and values on the thresholds.
"""

from __future__ import annotations

import os

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


def _numpy_rules(stack, *, cfg, mndwi_t, mvi_t, coastal, wetland=None, shaded=None):
    f32 = np.float32
    b, g, r, n, s1, s2 = (stack[:, i].astype(f32) for i in range(6))
    fin = np.isfinite(stack).all(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi, mndwi, ndbi, nbr = _nd(n, r), _nd(g, s1), _nd(s1, n), _nd(n, s2)
        bsi, red_blue = _nd(s1 + r, n + b), _nd(r, b)
        mean_vis = (b + g + r) * f32(1.0 / 3.0)
        white = np.where(mean_vis > f32(1e-6),
                         (np.abs(b - mean_vis) + np.abs(g - mean_vis) + np.abs(r - mean_vis)) / mean_vis, np.inf)
        snow = fin & (mndwi > f32(cfg.snow.min_ndsi)) & (n > f32(cfg.snow.min_nir)) & (g > f32(cfg.snow.min_green))
        cloud = (fin & ~snow & (b >= f32(cfg.cloud.max_blue)) & (b - f32(0.5) * r - f32(cfg.cloud.hot_offset) > 0)
                 & (white < f32(cfg.cloud.max_whiteness)))
        dark = (np.maximum.reduce([g, r, n, s1, s2]) < f32(cfg.shadow.max_reflectance)) & (g <= n)
        clear = fin & ~snow & ~cloud & ~dark & np.isfinite(ndvi)
        if shaded is not None:
            clear &= ~np.asarray(shaded, bool)
        nclear = clear.sum(axis=0)
        nsnow = snow.sum(axis=0)
        wet_obs = clear & (mndwi > f32(mndwi_t))
        wet = wet_obs.sum(axis=0)
        openw = (wet_obs & (ndvi < f32(cfg.water.max_ndvi))).sum(axis=0)
        ndvi_c = np.where(clear, ndvi, -np.inf)
        k = np.argmax(ndvi_c, axis=0)                  # the first greenest clear observation
        pick = lambda a: np.take_along_axis(a, k[None], axis=0)[0]
        vmax = pick(ndvi_c).astype(f32)
        vmin = np.where(clear, ndvi, np.inf).min(axis=0).astype(f32)
        amp = vmax - vmin
        g_s1, g_s2, g_nir, g_nbr = pick(s1), pick(s2), pick(n), pick(nbr)
        g_mvi = (np.abs(pick(n) - pick(g)) / np.abs(pick(s1) - pick(g))).astype(f32)
        soil = (clear & (((ndvi < f32(cfg.cropland.soil.max_ndvi)) & (bsi > f32(cfg.cropland.soil.min_bsi)))
                         | (wet_obs & (ndvi < f32(cfg.water.max_ndvi))))).any(axis=0)
        built_obs = ((ndbi > f32(cfg.built_up.min_ndbi)) & (ndvi < f32(cfg.built_up.max_ndvi)) & (mndwi < 0)
                     & (red_blue < f32(cfg.built_up.max_red_blue)))
        built = np.where(clear, built_obs, True).all(axis=0)
        votes = ((g_s1 <= f32(cfg.forest.max_swir1)).astype(int) + (g_s2 <= f32(cfg.forest.max_swir2))
                 + (g_nbr >= f32(cfg.forest.min_nbr)))
        freq = wet / np.maximum(nclear, 1)
    forest_like = (vmax >= f32(cfg.forest.min_ndvi)) & (votes >= cfg.forest.min_votes)
    zone = np.zeros(nclear.shape, bool) if coastal is None else coastal
    layer = np.zeros(nclear.shape, bool) if wetland is None else wetland
    out = np.zeros(nclear.shape, dtype=np.uint8)
    todo = nclear > 0

    def take(mask, code):
        nonlocal todo
        m = todo & mask
        out[m] = code
        todo &= ~m

    take(openw / np.maximum(nclear, 1) >= cfg.water.min_frequency, CODES["water"])
    take(zone & (g_mvi >= f32(mvi_t)) & (vmax > f32(cfg.mangrove.min_ndvi))
         & (amp < f32(cfg.mangrove.max_amplitude)), CODES["mangrove"])
    take((freq >= cfg.wetland.min_frequency) & (vmax > f32(cfg.wetland.min_ndvi))
         & ((wet >= cfg.wetland.min_wet_observations) | (layer & (wet >= cfg.wetland.min_wet_observations_in_layer))),
         CODES["wetland"])
    take(built & (vmax < f32(cfg.built_up.max_ndvi)), CODES["built_up"])
    take(vmax < f32(cfg.bare.max_ndvi), CODES["bare"])
    take(soil & (vmax >= f32(cfg.cropland.min_ndvi)) & (amp >= f32(cfg.cropland.min_amplitude)), CODES["cropland"])
    take(forest_like, CODES["forest"])
    take((nclear == 1) & (vmax >= f32(cfg.cropland.vigour_min_ndvi)) & (g_nir >= f32(cfg.cropland.vigour_min_nir)),
         CODES["cropland"])
    take(vmax >= f32(cfg.grassland.min_ndvi), CODES["grassland"])
    take(np.ones_like(todo), CODES["bare"])
    out[(nclear == 0) & (nsnow > 0)] = CODES["bare"]
    out[(nclear == 0) & (nsnow == 0)] = NODATA
    return out


def _random_stack(seed, t, h, w):
    rng = np.random.default_rng(seed)
    # reflectance around the class spectra, with exact threshold values, zeros, NaN, clouds and snow
    s = rng.choice(np.array([0.0, 0.01, 0.03, 0.05, 0.06, 0.08, 0.1, 0.15, 0.17, 0.2, 0.25, 0.3, 0.4, 0.8],
                            np.float32), size=(t, 6, h, w))
    s += rng.normal(0, 0.02, size=s.shape).astype(np.float32) * (rng.random(s.shape) < 0.7)
    s[rng.random(s.shape) < 0.03] = np.nan
    flip = rng.random((t, h, w)) < 0.05
    s[:, 2][flip] = -s[:, 3][flip]                      # NIR + red = 0: NDVI undefined
    return s.astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), t=st.integers(1, 4), coastal=st.booleans(), layer=st.booleans(),
       shade=st.booleans(), mndwi_t=st.sampled_from([0.0, -0.1, 0.12]), mvi_t=st.sampled_from([3.0, 4.5, 12.0]),
       size=st.sampled_from([(23, 17), (3, 1100)]))
def test_rules_kernel_equals_numpy(seed, t, coastal, layer, shade, mndwi_t, mvi_t, size):
    """Small blocks, and rows longer than the kernel's 512-pixel segments (a full one, a
    full one and a partial one)."""
    cfg = load_rules()
    h, w = size
    stack = _random_stack(seed, t, h, w)
    zone = (np.random.default_rng(seed + 1).random((h, w)) < 0.5) if coastal else None
    wet = (np.random.default_rng(seed + 2).random((h, w)) < 0.5) if layer else None
    shaded = (np.random.default_rng(seed + 3).random((t, h, w)) < 0.3) if shade else None
    got = classify_block(stack, cfg=cfg, mndwi_t=mndwi_t, mvi_t=mvi_t, coastal=zone, wetland=wet, shaded=shaded)
    want = _numpy_rules(stack, cfg=cfg, mndwi_t=mndwi_t, mvi_t=mvi_t, coastal=zone, wetland=wet, shaded=shaded)
    np.testing.assert_array_equal(got, want)


def test_rules_kernel_band_positions():
    """Roles may sit anywhere in the block (e.g. seven bands, reversed, a spare one first)."""
    cfg = load_rules()
    stack = _random_stack(3, 2, 8, 9)
    seven = np.concatenate([np.full((2, 1, 8, 9), 0.5, np.float32), stack[:, ::-1]], axis=1)  # x, s2, s1, n, r, g, b
    got = classify_block(seven, cfg=cfg, mndwi_t=0.0, mvi_t=4.5, coastal=None, roles=(6, 5, 4, 3, 2, 1))
    np.testing.assert_array_equal(got, _numpy_rules(stack, cfg=cfg, mndwi_t=0.0, mvi_t=4.5, coastal=None))


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


def test_first_run_compiles_the_kernels_in_two_child_processes_into_the_cache(tmp_path):
    """A machine without the kernels in numba's cache compiles them in two children; a later
    process then loads every kernel a run uses from the cache instead of compiling it."""
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    first = ("from sinks._kernels import warm; assert not warm.cached(); "
             "assert warm.compile_in_background(digital_numbers=True); warm.wait(); "
             "assert warm.cached(); assert not warm.compile_in_background()")
    subprocess.run([sys.executable, "-c", first], env=env, check=True, timeout=300)
    later = ("from sinks._kernels import warm, rules, mosaic, sieve, codes, blocks; "
             "[f() for g in ('rules_dn', 'pixels') for f in warm.GROUPS[g]]; "
             "ks = [rules._classify, mosaic._fill, mosaic._fill_dn, mosaic._blank, mosaic._contains, sieve._sieve, codes._hist, "
             "codes._hist2, codes._pair, codes._combine, blocks._place, blocks._place1, blocks._place6]; "
             "print(sum(sum(k.stats.cache_misses.values()) for k in ks), "
             "sum(sum(k.stats.cache_hits.values()) for k in ks))")
    out = subprocess.run([sys.executable, "-c", later], env=env, check=True, timeout=300, capture_output=True,
                         text=True).stdout.split()
    assert out == ["0", "16"]  # nothing compiled, all loaded (blocks._place, _place1, _place6 for uint8 and uint16)


def test_run_says_it_compiles_only_when_it_goes_ahead(monkeypatch, tmp_path):
    """The compile notice comes after the spec and tiles are accepted: a refused run prints its
    one error line and stops the compiling children; an accepted one says it once."""
    from types import SimpleNamespace

    from sinks import pipeline
    from sinks._kernels import warm
    from sinks.errors import SinksError

    calls, cancelled, said = [], [], []
    monkeypatch.setattr(warm, "compile_in_background", lambda **kw: calls.append(kw) or True)
    monkeypatch.setattr(warm, "cancel", lambda: cancelled.append(True))
    spec = pipeline.PipelineSpec.model_validate({
        "name": "x", "sensor": "sentinel2_l2a",
        "epochs": [{"name": "a", "year": 2020, "scenes": [{"tiles": ["none.tif"]}]}]})
    with pytest.raises(SinksError, match="none.tif: file not found"):
        pipeline.run(spec, out=tmp_path / "refused", progress=said.append)
    assert calls == [{"digital_numbers": True}] and cancelled == [True]
    assert not any("compiling" in s for s in said)

    monkeypatch.setattr(pipeline, "prepare", lambda *a, **kw: SimpleNamespace())
    monkeypatch.setattr(pipeline, "run_prepared", lambda ctx, **kw: {"ran": True})
    assert pipeline.run(spec, out=tmp_path / "accepted", progress=said.append) == {"ran": True}
    assert said == ["compiling the numba kernels for this machine (first run only, about 10 s)"]
    assert cancelled == [True]


@pytest.fixture(scope="module")
def installed_cache(tmp_path_factory):
    """A numba cache that ``python -m sinks._kernels.warm`` (make's install step) filled, with
    index files of another Python beside it: ``(env, cached() before, the step's output)``."""
    import subprocess
    import sys

    cache = tmp_path_factory.mktemp("numba")
    other = cache / "x" / "_kernels_0"
    other.mkdir(parents=True)
    for name in ("rules._classify", "mosaic._fill", "mosaic._blank", "sieve._sieve", "label._label_equal",
                 "codes._hist", "codes._hist2", "codes._pair", "codes._combine", "rake.rake_steps"):
        (other / f"{name}-1.py39.nbi").write_bytes(b"")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    check = "from sinks._kernels import warm; print(warm.cached())"
    before = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True,
                            check=True).stdout.strip()
    first = subprocess.run([sys.executable, "-m", "sinks._kernels.warm"], env=env, capture_output=True, text=True,
                           check=True, timeout=300).stdout.strip().splitlines()
    return env, before, first


def test_install_step_compiles_every_kernel_once_per_python(installed_cache):
    """``python -m sinks._kernels.warm`` (make's install step) fills numba's cache for this
    Python, says so in one line, and only says so when run again; index files of another
    Python version do not count as compiled."""
    import subprocess
    import sys

    env, before, first = installed_cache
    check = "from sinks._kernels import warm; print(warm.cached())"
    assert before == "False"
    assert len(first) == 1 and first[0].startswith("numba kernels: compiled for this machine in ")
    assert subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "True"
    again = subprocess.run([sys.executable, "-m", "sinks._kernels.warm"], env=env, capture_output=True,
                           text=True, check=True, timeout=60).stdout.strip()
    assert again == "numba kernels: already compiled for this machine"


def test_demo_after_the_install_step_compiles_no_kernel(installed_cache, tmp_path):
    """``make demo`` on a fresh clone (the install step, then a run) finds every kernel its run
    calls in numba's cache: the run adds no machine code to it.  A specialisation the step
    misses (another dtype, a read-only array) would compile for seconds in the first run."""
    import subprocess
    import sys
    from pathlib import Path

    env, _before, _first = installed_cache
    cache = Path(env["NUMBA_CACHE_DIR"])

    def compiled() -> dict[str, int]:
        return {str(p.relative_to(cache)): p.stat().st_size for p in cache.rglob("*.nb[ic]")}

    had = compiled()
    repo = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "sinks.cli", "-q", "run", str(repo / "pipelines" / "demo.yaml"),
                    "--out", str(tmp_path / "demo")], env=env, check=True, timeout=600, cwd=tmp_path)
    assert (tmp_path / "demo" / "manifest.json").exists()
    assert compiled() == had


def test_a_cache_index_written_for_older_source_is_not_compiled(tmp_path):
    """numba recompiles a kernel whose source changed since its index was written, so the
    install step and a run's background compile must not take that index as compiled."""
    import hashlib

    from sinks._kernels.warm import _current

    source = tmp_path / "rules.py"
    source.write_text("def kernel(): pass\n")
    index = tmp_path / "rules._classify-1.py311.nbi"
    # the index numba writes holds the source's digest among its pickled bytes
    index.write_bytes(b"\x80\x04header" + hashlib.sha256(source.read_bytes()).digest() + b"overloads")
    os.utime(index, (1_000_000, 1_000_000))  # older than the source: only the digest vouches for it
    assert _current(index, source)
    source.write_text("def kernel(): return 1\n")
    assert not _current(index, source)
    os.utime(source, (1_000_000, 1_000_000))
    os.utime(index, (2_000_000, 2_000_000))  # a numba that keys on times: written after the change
    assert _current(index, source)
    assert not _current(tmp_path / "missing.nbi", source)


def test_install_step_compiles_each_kernel_in_one_process():
    """make's install step compiles every group once, and the groups that specialise the
    same kernel (the rule kernel for reflectance and for digital numbers) in one process:
    numba rewrites a kernel's index file from what its own process compiled, so two
    processes finishing together could leave one specialisation out of the index, for the
    first run to compile again."""
    from sinks._kernels import warm

    flat = [g for names in warm.ALL_AT_ONCE for g in names]
    assert sorted(flat) == sorted(warm.GROUPS)
    together = [names for names in warm.ALL_AT_ONCE if "rules" in names]
    assert len(together) == 1 and "rules_dn" in together[0]
