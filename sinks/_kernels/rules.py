"""The ordered land-cover rules of :mod:`sinks.classify.rules`, one pass per pixel.

Row by row, the kernel walks each acquisition once, keeping per pixel the few numbers
the rules need (clear count, NDVI max/min, wet count, the "every observation" flags and
the growing-season values) in row buffers, then applies the rules in order.  The semantics are those
documented in :mod:`sinks.classify.rules`; ``float32`` throughout, as the reflectance.

The acquisitions may also arrive as the tiles' digital numbers (``decode``): each value
is then turned into reflectance as it is read, ``float32(DN) × scale + offset`` exactly
as :func:`sinks._kernels.mosaic.fill_first_valid` does, and a pixel holding the nodata
number in any band counts as not observed, so the result equals the one from a float32
reflectance block without that block ever being made.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import jit

__all__ = ["rules_block", "RULE_ORDER"]

#: Output codes in the order the rules are tried (legend codes; see ``rules_block``).
RULE_ORDER = ("water", "mangrove", "wetland", "bare", "built_up", "forest", "cropland", "grassland", "bare")

_TINY = np.float32(1e-6)


@jit
def _nd(a: np.float32, b: np.float32) -> np.float32:
    den = a + b
    q = (a - b) / den
    return q if abs(den) > _TINY else np.float32(np.nan)


@jit(inline="always")
def _load_rows(s, y, ib, ig, ir, inn, is1, nodata, scale, offset, rb, rg, rr, rn, rs):  # noqa: ANN001, ANN202
    """Row ``y`` of the five bands the rules read, decoded from digital numbers into row
    buffers: ``float32(DN) × scale + offset``, and NaN in the blue band (which makes the
    pixel not clear) wherever any band of the block holds ``nodata``."""
    w = rb.shape[0]
    nan = np.float32(np.nan)
    for x in range(w):
        rb[x] = np.float32(s[ib, y, x]) * scale + offset
        rg[x] = np.float32(s[ig, y, x]) * scale + offset
        rr[x] = np.float32(s[ir, y, x]) * scale + offset
        rn[x] = np.float32(s[inn, y, x]) * scale + offset
        rs[x] = np.float32(s[is1, y, x]) * scale + offset
    for q in range(s.shape[0]):
        for x in range(w):
            if s[q, y, x] == nodata:
                rb[x] = nan


@jit(inline="always")
def _evidence(rb, rg, rr, rn, rs, grow_now, max_blue, t_w, b_min_ndbi, b_max_ndvi, nclear, wet, vmax, vmin,
              all_ndbi, all_dry, all_low, g_clear, g_ndvi, mvi):  # noqa: ANN001, ANN202
    """One acquisition's row of reflectance (five bands) added to the per-pixel evidence
    (branch-free, so the compiler can vectorise it); the growing-season values too when
    ``grow_now``."""
    zero = np.float32(0.0)
    for x in range(rb.shape[0]):
        b, g, r, n, s1 = rb[x], rg[x], rr[x], rn[x], rs[x]
        clear = (np.isfinite(b) and np.isfinite(g) and np.isfinite(r) and np.isfinite(n)
                 and np.isfinite(s1) and b < max_blue)
        ndvi = _nd(n, r)
        mndwi = _nd(g, s1)
        ndbi = _nd(s1, n)
        nclear[x] += 1 if clear else 0
        seen = clear and ndvi == ndvi
        vmax[x] = ndvi if seen and not (vmax[x] >= ndvi) else vmax[x]
        vmin[x] = ndvi if seen and not (vmin[x] <= ndvi) else vmin[x]
        wet[x] += 1 if clear and mndwi > t_w else 0
        all_ndbi[x] = all_ndbi[x] and (not clear or ndbi > b_min_ndbi)
        all_dry[x] = all_dry[x] and (not clear or mndwi < zero)
        all_low[x] = all_low[x] and (not clear or ndvi < b_max_ndvi)
    if grow_now:
        for x in range(rb.shape[0]):
            b, g, r, n, s1 = rb[x], rg[x], rr[x], rn[x], rs[x]
            g_clear[x] = (np.isfinite(b) and np.isfinite(g) and np.isfinite(r) and np.isfinite(n)
                          and np.isfinite(s1) and b < max_blue)
            g_ndvi[x] = _nd(n, r)
            mvi[x] = abs(n - g) / abs(s1 - g)


@jit
def _classify(scenes, idx, grow, coastal, use_coastal, codes, f32, f64, dn, dn_nodata, dn_scale, dn_offset,
              out):  # noqa: ANN001, ANN202
    """Row by row: one branch-free pass per acquisition accumulates per-pixel evidence in
    row buffers (so the compiler can vectorise it), then one pass applies the rules.
    With ``dn`` the blocks hold digital numbers, decoded per acquisition ``k`` with
    ``dn_scale[k]``, ``dn_offset[k]``; ``dn_nodata`` in any band marks a pixel unobserved."""
    nt = len(scenes)
    ib, ig, ir, inn, is1 = idx[0], idx[1], idx[2], idx[3], idx[4]
    (max_blue, t_w, t_m, water_max_ndvi, m_min_ndvi, m_max_amp, wet_min_ndvi, bare_max_ndvi, b_min_ndbi,
     b_max_ndvi, f_min_ndvi, f_max_amp, c_min_amp, c_min_ndvi, g_min_ndvi) = (
        f32[0], f32[1], f32[2], f32[3], f32[4], f32[5], f32[6], f32[7], f32[8], f32[9], f32[10], f32[11],
        f32[12], f32[13], f32[14])
    w_min_freq, wet_min_freq, wet_max_freq = f64[0], f64[1], f64[2]
    c_water, c_mangrove, c_wetland, c_bare, c_built, c_forest, c_crop, c_grass, c_nodata = (
        codes[0], codes[1], codes[2], codes[3], codes[4], codes[5], codes[6], codes[7], codes[8])
    nan = np.float32(np.nan)
    zero = np.float32(0.0)
    h, w = out.shape
    nclear = np.empty(w, dtype=np.int32)
    wet = np.empty(w, dtype=np.int32)
    vmax = np.empty(w, dtype=np.float32)
    vmin = np.empty(w, dtype=np.float32)
    all_ndbi = np.empty(w, dtype=np.bool_)
    all_dry = np.empty(w, dtype=np.bool_)
    all_low = np.empty(w, dtype=np.bool_)
    g_clear = np.empty(w, dtype=np.bool_)
    g_ndvi = np.empty(w, dtype=np.float32)
    mvi = np.empty(w, dtype=np.float32)
    rb = np.empty(w, dtype=np.float32)  # the five bands of one row of one acquisition, as reflectance
    rg = np.empty(w, dtype=np.float32)
    rr = np.empty(w, dtype=np.float32)
    rn = np.empty(w, dtype=np.float32)
    rs = np.empty(w, dtype=np.float32)
    for y in range(h):
        for x in range(w):
            nclear[x] = 0
            wet[x] = 0
            vmax[x] = nan
            vmin[x] = nan
            all_ndbi[x] = True
            all_dry[x] = True
            all_low[x] = True
            g_clear[x] = False
            g_ndvi[x] = nan
            mvi[x] = nan
        for k in range(nt):
            s = scenes[k]
            if dn:
                _load_rows(s, y, ib, ig, ir, inn, is1, dn_nodata, dn_scale[k], dn_offset[k], rb, rg, rr, rn, rs)
                _evidence(rb, rg, rr, rn, rs, k == grow, max_blue, t_w, b_min_ndbi, b_max_ndvi, nclear, wet,
                          vmax, vmin, all_ndbi, all_dry, all_low, g_clear, g_ndvi, mvi)
            else:  # reflectance rows are read where they are
                _evidence(s[ib, y], s[ig, y], s[ir, y], s[inn, y], s[is1, y], k == grow, max_blue, t_w,
                          b_min_ndbi, b_max_ndvi, nclear, wet, vmax, vmin, all_ndbi, all_dry, all_low, g_clear,
                          g_ndvi, mvi)
        for x in range(w):
            nc = nclear[x]
            if nc == 0:
                out[y, x] = c_nodata
                continue
            vx = vmax[x]
            amp = vx - vmin[x]
            amp = amp if amp == amp else zero
            gv = g_ndvi[x] if g_clear[x] else vx
            mv = mvi[x] if g_clear[x] else nan
            freq = wet[x] / nc
            if freq >= w_min_freq and vx < water_max_ndvi:
                out[y, x] = c_water
            elif (use_coastal and coastal[y, x] and gv > m_min_ndvi and mv > t_m and amp < m_max_amp):
                out[y, x] = c_mangrove
            elif freq >= wet_min_freq and freq < wet_max_freq and vx > wet_min_ndvi:
                out[y, x] = c_wetland
            elif vx < bare_max_ndvi:
                out[y, x] = c_bare
            elif all_ndbi[x] and all_dry[x] and all_low[x]:
                out[y, x] = c_built
            elif vx > f_min_ndvi and amp < f_max_amp:
                out[y, x] = c_forest
            elif amp >= c_min_amp and vx > c_min_ndvi:
                out[y, x] = c_crop
            elif vx >= g_min_ndvi:
                out[y, x] = c_grass
            else:
                out[y, x] = c_bare


def rules_block(scenes: tuple[np.ndarray, ...], *, roles: tuple[int, int, int, int, int], grow: int,
                coastal: np.ndarray | None, codes: np.ndarray, thresholds: np.ndarray,
                frequencies: np.ndarray,
                decode: tuple[Sequence[float], Sequence[float], int] | None = None) -> np.ndarray:
    """Classify one block.

    Parameters
    ----------
    scenes : tuple of numpy.ndarray
        One ``float32 (bands, rows, cols)`` reflectance block per acquisition, NaN nodata;
        with ``decode``, integer digital numbers instead.
    roles : tuple of int
        Band positions of blue, green, red, NIR and SWIR1 in each block.
    grow : int
        Index of the growing-season acquisition.
    coastal : numpy.ndarray of bool, optional
        Where mangrove is allowed (``None``: nowhere).
    codes : numpy.ndarray
        ``uint8`` codes of water, mangrove, wetland, bare, built-up, forest, cropland,
        grassland and nodata.
    thresholds : numpy.ndarray
        ``float32``: max blue (cloud), MNDWI water, MVI mangrove, water max NDVI,
        mangrove min NDVI and max amplitude, wetland min NDVI, bare max NDVI,
        built-up min NDBI and max NDVI, forest min NDVI and max amplitude, cropland
        min amplitude and min NDVI, grassland min NDVI.
    frequencies : numpy.ndarray
        ``float64``: water min frequency, wetland min and max frequency.
    decode : (scales, offsets, nodata), optional
        The blocks hold digital numbers: reflectance of acquisition ``k`` is
        ``float32(DN) × float32(scales[k]) + float32(offsets[k])``, and a pixel with
        ``nodata`` in any band is not observed.

    Returns
    -------
    numpy.ndarray
        ``uint8 (rows, cols)`` codes.
    """
    if decode is None:
        arrs = tuple(np.ascontiguousarray(s, dtype=np.float32) for s in scenes)
        scales = np.ones(len(arrs), dtype=np.float32)
        offsets = np.zeros(len(arrs), dtype=np.float32)
        nodata = np.float32(np.nan)
    else:
        kinds = {np.dtype(s.dtype) for s in scenes}
        if len(kinds) != 1 or next(iter(kinds)).kind not in "iu":
            raise TypeError(f"digital numbers must share one integer dtype, got {sorted(map(str, kinds))}")
        arrs = tuple(np.ascontiguousarray(s) for s in scenes)
        scales = np.asarray(decode[0], dtype=np.float32)
        offsets = np.asarray(decode[1], dtype=np.float32)
        if scales.shape != (len(arrs),) or offsets.shape != (len(arrs),):
            raise ValueError("decode needs one scale and one offset per acquisition")
        nodata = next(iter(kinds)).type(decode[2])
    shape = arrs[0].shape[1:]
    out = np.empty(shape, dtype=np.uint8)
    use = coastal is not None
    zone = np.ascontiguousarray(coastal, dtype=np.bool_) if use else np.zeros((1, 1), dtype=np.bool_)
    _classify(arrs, np.asarray(roles, dtype=np.int64), int(grow), zone, use, np.asarray(codes, dtype=np.uint8),
              np.asarray(thresholds, dtype=np.float32), np.asarray(frequencies, dtype=np.float64),
              decode is not None, nodata, scales, offsets, out)
    return out
