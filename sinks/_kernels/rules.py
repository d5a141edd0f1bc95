"""The ordered land-cover rules of :mod:`sinks.classify.rules`, one pass per pixel.

For each pixel the kernel walks the acquisitions once, keeping the few numbers the
rules need (clear count, NDVI max/min, wet count, the "every observation" flags and
the growing-season values), then applies the rules in order.  The semantics are those
documented in :mod:`sinks.classify.rules`; ``float32`` throughout, as the reflectance.
"""

from __future__ import annotations

import numpy as np

from . import jit

__all__ = ["rules_block", "RULE_ORDER"]

#: Output codes in the order the rules are tried (legend codes; see ``rules_block``).
RULE_ORDER = ("water", "mangrove", "wetland", "bare", "built_up", "forest", "cropland", "grassland", "bare")

_TINY = np.float32(1e-6)


@jit
def _nd(a: np.float32, b: np.float32) -> np.float32:
    den = a + b
    if abs(den) > _TINY:
        return (a - b) / den
    return np.float32(np.nan)


@jit
def _classify(scenes, idx, grow, coastal, use_coastal, codes, f32, f64, out):  # noqa: ANN001, ANN202
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
    h, w = out.shape
    for y in range(h):
        for x in range(w):
            nclear = 0
            wet = 0
            vmax = nan
            vmin = nan
            all_ndbi = True
            all_dry = True
            all_low = True
            g_clear = False
            g_ndvi = nan
            mvi = nan
            for k in range(nt):
                s = scenes[k]
                b = s[ib, y, x]
                g = s[ig, y, x]
                r = s[ir, y, x]
                n = s[inn, y, x]
                s1 = s[is1, y, x]
                if not (np.isfinite(b) and np.isfinite(g) and np.isfinite(r) and np.isfinite(n)
                        and np.isfinite(s1) and b < max_blue):
                    continue
                nclear += 1
                ndvi = _nd(n, r)
                mndwi = _nd(g, s1)
                ndbi = _nd(s1, n)
                if ndvi == ndvi:
                    if not (vmax >= ndvi):
                        vmax = ndvi
                    if not (vmin <= ndvi):
                        vmin = ndvi
                if mndwi > t_w:
                    wet += 1
                if not (ndbi > b_min_ndbi):
                    all_ndbi = False
                if not (mndwi < 0):
                    all_dry = False
                if not (ndvi < b_max_ndvi):
                    all_low = False
                if k == grow:
                    g_clear = True
                    g_ndvi = ndvi
                    mvi = abs(n - g) / abs(s1 - g)
            if nclear == 0:
                out[y, x] = c_nodata
                continue
            if not g_clear:
                g_ndvi = vmax
            amp = vmax - vmin
            if amp != amp:
                amp = np.float32(0.0)
            freq = wet / nclear
            if freq >= w_min_freq and vmax < water_max_ndvi:
                out[y, x] = c_water
            elif (use_coastal and coastal[y, x] and g_ndvi > m_min_ndvi and mvi > t_m and amp < m_max_amp):
                out[y, x] = c_mangrove
            elif freq >= wet_min_freq and freq < wet_max_freq and vmax > wet_min_ndvi:
                out[y, x] = c_wetland
            elif vmax < bare_max_ndvi:
                out[y, x] = c_bare
            elif all_ndbi and all_dry and all_low:
                out[y, x] = c_built
            elif vmax > f_min_ndvi and amp < f_max_amp:
                out[y, x] = c_forest
            elif amp >= c_min_amp and vmax > c_min_ndvi:
                out[y, x] = c_crop
            elif vmax >= g_min_ndvi:
                out[y, x] = c_grass
            else:
                out[y, x] = c_bare


def rules_block(scenes: tuple[np.ndarray, ...], *, roles: tuple[int, int, int, int, int], grow: int,
                coastal: np.ndarray | None, codes: np.ndarray, thresholds: np.ndarray,
                frequencies: np.ndarray) -> np.ndarray:
    """Classify one block.

    Parameters
    ----------
    scenes : tuple of numpy.ndarray
        One ``float32 (bands, rows, cols)`` reflectance block per acquisition, NaN nodata.
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

    Returns
    -------
    numpy.ndarray
        ``uint8 (rows, cols)`` codes.
    """
    arrs = tuple(np.ascontiguousarray(s, dtype=np.float32) for s in scenes)
    shape = arrs[0].shape[1:]
    out = np.empty(shape, dtype=np.uint8)
    use = coastal is not None
    zone = np.ascontiguousarray(coastal, dtype=np.bool_) if use else np.zeros((1, 1), dtype=np.bool_)
    _classify(arrs, np.asarray(roles, dtype=np.int64), int(grow), zone, use, np.asarray(codes, dtype=np.uint8),
              np.asarray(thresholds, dtype=np.float32), np.asarray(frequencies, dtype=np.float64), out)
    return out
