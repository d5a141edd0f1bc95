"""The ordered land-cover rules of :mod:`sinks.classify.rules`, one pass per pixel.

Row by row, the kernel walks each acquisition once, keeping per pixel the few numbers
the rules need in row buffers (clear, snow, wet and open-water counts; NDVI maximum and
minimum; the bands of the greenest clear observation; whether a bare-soil or flooded
phase and whether only built-up-like observations were seen), then applies the rules
in order.  The semantics are documented in :mod:`sinks.classify.rules`; ``float32``
throughout, as the reflectance.

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

__all__ = ["rules_block", "RULE_ORDER", "THRESHOLD_NAMES", "COUNT_NAMES"]

#: Output codes in the order the rules are tried (legend codes; see ``rules_block``).
RULE_ORDER = ("water", "mangrove", "wetland", "built_up", "bare", "cropland", "forest", "grassland", "bare")

#: The ``float32`` thresholds :func:`rules_block` takes, in this order.
THRESHOLD_NAMES: tuple[str, ...] = (
    "cloud_max_blue", "cloud_hot_offset", "cloud_max_whiteness",
    "snow_min_ndsi", "snow_min_nir", "snow_min_green",
    "shadow_max_reflectance",
    "water_mndwi", "water_max_ndvi",
    "mangrove_mvi", "mangrove_min_ndvi", "mangrove_max_amplitude",
    "wetland_min_ndvi",
    "built_min_ndbi", "built_max_ndvi", "built_max_red_blue",
    "bare_max_ndvi",
    "soil_max_ndvi", "soil_min_bsi",
    "crop_min_ndvi", "crop_min_amplitude", "crop_vigour_min_ndvi", "crop_vigour_min_nir",
    "forest_min_ndvi", "forest_max_swir1", "forest_max_swir2", "forest_min_nbr",
    "grass_min_ndvi",
)
#: The ``float64`` frequencies and counts :func:`rules_block` takes, in this order.
COUNT_NAMES: tuple[str, ...] = ("water_min_frequency", "wetland_min_frequency", "wetland_min_wet",
                                "wetland_min_wet_in_layer", "forest_min_votes")

_TINY = np.float32(1e-6)


@jit
def _nd(a: np.float32, b: np.float32) -> np.float32:
    den = a + b
    q = (a - b) / den
    return q if abs(den) > _TINY else np.float32(np.nan)


@jit(inline="always")
def _load_rows(s, y, ib, ig, ir, inn, is1, is2, nodata, scale, offset, rb, rg, rr, rn, r1, r2):  # noqa: ANN001, ANN202
    """Row ``y`` of the six bands the rules read, decoded from digital numbers into row
    buffers: ``float32(DN) × scale + offset``, and NaN in the blue band (which makes the
    pixel not observed) wherever any band of the block holds ``nodata``."""
    w = rb.shape[0]
    nan = np.float32(np.nan)
    for x in range(w):
        rb[x] = np.float32(s[ib, y, x]) * scale + offset
        rg[x] = np.float32(s[ig, y, x]) * scale + offset
        rr[x] = np.float32(s[ir, y, x]) * scale + offset
        rn[x] = np.float32(s[inn, y, x]) * scale + offset
        r1[x] = np.float32(s[is1, y, x]) * scale + offset
        r2[x] = np.float32(s[is2, y, x]) * scale + offset
    for q in range(s.shape[0]):
        for x in range(w):
            if s[q, y, x] == nodata:
                rb[x] = nan


@jit(inline="always")
def _evidence(rb, rg, rr, rn, r1, r2, shaded, t, nclear, nsnow, wet, openw, vmax, vmin, g_s1, g_s2, g_nir, g_nbr,
              g_mvi, soil, built):  # noqa: ANN001, ANN202
    """One acquisition's row of reflectance (six bands) added to the per-pixel evidence;
    ``shaded`` marks pixels the terrain keeps in shadow at this acquisition (not counted)."""
    (max_blue, hot, max_white, snow_ndsi, snow_nir, snow_green, shadow_max, t_w, w_max_ndvi, _tm, _mn, _ma,
     _wn, b_min_ndbi, b_max_ndvi, b_max_rb, _bare, s_max_ndvi, s_min_bsi) = (
        t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11], t[12], t[13], t[14], t[15],
        t[16], t[17], t[18])
    zero = np.float32(0.0)
    half = np.float32(0.5)
    third = np.float32(1.0 / 3.0)
    for x in range(rb.shape[0]):
        b, g, r, n, s1, s2 = rb[x], rg[x], rr[x], rn[x], r1[x], r2[x]
        fin = (np.isfinite(b) and np.isfinite(g) and np.isfinite(r) and np.isfinite(n) and np.isfinite(s1)
               and np.isfinite(s2))
        if not fin:
            continue
        ndvi = _nd(n, r)
        mndwi = _nd(g, s1)
        mean_vis = (b + g + r) * third
        white = ((abs(b - mean_vis) + abs(g - mean_vis) + abs(r - mean_vis)) / mean_vis
                 if mean_vis > _TINY else np.float32(np.inf))
        snow = mndwi > snow_ndsi and n > snow_nir and g > snow_green
        cloud = b >= max_blue and b - half * r - hot > zero and white < max_white
        dark = (max(g, r, n, s1, s2) < shadow_max) and g <= n  # blue left out: haze keeps it up
        if snow:  # tested first: snow is as bright and flat in the visible as cloud
            nsnow[x] += 1
            continue
        if cloud:
            continue
        if dark or shaded[x] or ndvi != ndvi:
            continue
        nclear[x] += 1
        is_wet = mndwi > t_w
        if is_wet:
            wet[x] += 1
            if ndvi < w_max_ndvi:
                openw[x] += 1
        if not (vmax[x] >= ndvi):  # also when vmax is still NaN: the greenest observation so far
            vmax[x] = ndvi
            g_s1[x] = s1
            g_s2[x] = s2
            g_nir[x] = n
            g_nbr[x] = _nd(n, s2)
            g_mvi[x] = abs(n - g) / abs(s1 - g)
        if not (vmin[x] <= ndvi):
            vmin[x] = ndvi
        bsi = _nd(s1 + r, n + b)
        if (ndvi < s_max_ndvi and bsi > s_min_bsi) or (is_wet and ndvi < w_max_ndvi):
            soil[x] = True
        ndbi = _nd(s1, n)
        red_blue = _nd(r, b)
        if not (ndbi > b_min_ndbi and ndvi < b_max_ndvi and mndwi < zero and red_blue < b_max_rb):
            built[x] = False


@jit
def _classify(scenes, idx, coastal, use_coastal, layer, use_layer, shades, use_shade, codes, t, f64, dn, dn_nodata,
              dn_scale, dn_offset, out):  # noqa: ANN001, ANN202
    """Row by row: one pass per acquisition accumulates per-pixel evidence in row buffers,
    then one pass applies the rules.  With ``dn`` the blocks hold digital numbers, decoded
    per acquisition ``k`` with ``dn_scale[k]``, ``dn_offset[k]``; ``dn_nodata`` in any band
    marks a pixel unobserved."""
    nt = len(scenes)
    ib, ig, ir, inn, is1, is2 = idx[0], idx[1], idx[2], idx[3], idx[4], idx[5]
    t_m, m_min_ndvi, m_max_amp, wet_min_ndvi = t[9], t[10], t[11], t[12]
    b_max_ndvi, bare_max_ndvi = t[14], t[16]
    c_min_ndvi, c_min_amp, c_vig_ndvi, c_vig_nir = t[19], t[20], t[21], t[22]
    f_min_ndvi, f_max_s1, f_max_s2, f_min_nbr, g_min_ndvi = t[23], t[24], t[25], t[26], t[27]
    w_min_freq, wet_min_freq, wet_min_n, wet_min_n_layer, f_votes = f64[0], f64[1], f64[2], f64[3], f64[4]
    c_water, c_mangrove, c_wetland, c_built, c_bare, c_crop, c_forest, c_grass, c_nodata = (
        codes[0], codes[1], codes[2], codes[3], codes[4], codes[5], codes[6], codes[7], codes[8])
    nan = np.float32(np.nan)
    h, w = out.shape
    nclear = np.empty(w, dtype=np.int32)
    nsnow = np.empty(w, dtype=np.int32)
    wet = np.empty(w, dtype=np.int32)
    openw = np.empty(w, dtype=np.int32)
    vmax = np.empty(w, dtype=np.float32)
    vmin = np.empty(w, dtype=np.float32)
    g_s1 = np.empty(w, dtype=np.float32)
    g_s2 = np.empty(w, dtype=np.float32)
    g_nir = np.empty(w, dtype=np.float32)
    g_nbr = np.empty(w, dtype=np.float32)
    g_mvi = np.empty(w, dtype=np.float32)
    soil = np.empty(w, dtype=np.bool_)
    built = np.empty(w, dtype=np.bool_)
    lit = np.zeros(w, dtype=np.bool_)   # the terrain shades nothing
    rb = np.empty(w, dtype=np.float32)  # the six bands of one row of one acquisition, as reflectance
    rg = np.empty(w, dtype=np.float32)
    rr = np.empty(w, dtype=np.float32)
    rn = np.empty(w, dtype=np.float32)
    r1 = np.empty(w, dtype=np.float32)
    r2 = np.empty(w, dtype=np.float32)
    for y in range(h):
        for x in range(w):
            nclear[x] = 0
            nsnow[x] = 0
            wet[x] = 0
            openw[x] = 0
            vmax[x] = nan
            vmin[x] = nan
            g_s1[x] = nan
            g_s2[x] = nan
            g_nir[x] = nan
            g_nbr[x] = nan
            g_mvi[x] = nan
            soil[x] = False
            built[x] = True
        for k in range(nt):
            s = scenes[k]
            sh = shades[k][y] if use_shade else lit
            if dn:
                _load_rows(s, y, ib, ig, ir, inn, is1, is2, dn_nodata, dn_scale[k], dn_offset[k], rb, rg, rr, rn,
                           r1, r2)
                _evidence(rb, rg, rr, rn, r1, r2, sh, t, nclear, nsnow, wet, openw, vmax, vmin, g_s1, g_s2, g_nir,
                          g_nbr, g_mvi, soil, built)
            else:  # reflectance rows are read where they are
                _evidence(s[ib, y], s[ig, y], s[ir, y], s[inn, y], s[is1, y], s[is2, y], sh, t, nclear, nsnow, wet,
                          openw, vmax, vmin, g_s1, g_s2, g_nir, g_nbr, g_mvi, soil, built)
        for x in range(w):
            nc = nclear[x]
            if nc == 0:
                out[y, x] = c_bare if nsnow[x] > 0 else c_nodata
                continue
            vx = vmax[x]
            amp = vx - vmin[x]
            freq = wet[x] / nc
            votes = ((1 if g_s1[x] <= f_max_s1 else 0) + (1 if g_s2[x] <= f_max_s2 else 0)
                     + (1 if g_nbr[x] >= f_min_nbr else 0))
            forest_like = vx >= f_min_ndvi and votes >= f_votes
            in_layer = use_layer and layer[y, x]
            if openw[x] / nc >= w_min_freq:
                out[y, x] = c_water
            elif use_coastal and coastal[y, x] and g_mvi[x] >= t_m and vx > m_min_ndvi and amp < m_max_amp:
                out[y, x] = c_mangrove
            elif (freq >= wet_min_freq and vx > wet_min_ndvi
                  and (wet[x] >= wet_min_n or (in_layer and wet[x] >= wet_min_n_layer))):
                out[y, x] = c_wetland
            elif built[x] and vx < b_max_ndvi:
                out[y, x] = c_built
            elif vx < bare_max_ndvi:
                out[y, x] = c_bare
            elif soil[x] and vx >= c_min_ndvi and amp >= c_min_amp:
                out[y, x] = c_crop
            elif forest_like:
                out[y, x] = c_forest
            elif nc == 1 and vx >= c_vig_ndvi and g_nir[x] >= c_vig_nir:
                out[y, x] = c_crop
            elif vx >= g_min_ndvi:
                out[y, x] = c_grass
            else:
                out[y, x] = c_bare


def rules_block(scenes: Sequence[np.ndarray], *, roles: Sequence[int], coastal: np.ndarray | None,
                codes: np.ndarray, thresholds: np.ndarray, counts: np.ndarray,
                wetland: np.ndarray | None = None, shaded: Sequence[np.ndarray] | None = None,
                decode: tuple[Sequence[float], Sequence[float], int] | None = None) -> np.ndarray:
    """Classify one block.

    Parameters
    ----------
    scenes : sequence of numpy.ndarray
        One ``float32 (bands, rows, cols)`` reflectance block per acquisition, NaN nodata;
        with ``decode``, integer digital numbers instead.
    roles : sequence of int
        Band positions of blue, green, red, NIR, SWIR1 and SWIR2 in each block.
    coastal : numpy.ndarray of bool, optional
        Where mangrove is allowed (``None``: nowhere).
    codes : numpy.ndarray
        ``uint8`` codes of water, mangrove, wetland, built-up, bare, cropland, forest,
        grassland and nodata.
    thresholds : numpy.ndarray
        ``float32`` values named by :data:`THRESHOLD_NAMES`, in that order.
    counts : numpy.ndarray
        ``float64`` values named by :data:`COUNT_NAMES`, in that order.
    wetland : numpy.ndarray of bool, optional
        A wetland layer: inside it one flooded observation is evidence enough.
    shaded : sequence of numpy.ndarray of bool, optional
        Per acquisition, the pixels the terrain keeps in shadow (from a DEM and the sun's
        position, :mod:`sinks.classify.terrain`): not counted as observations there.
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
    thresholds = np.asarray(thresholds, dtype=np.float32)
    counts = np.asarray(counts, dtype=np.float64)
    if thresholds.shape != (len(THRESHOLD_NAMES),) or counts.shape != (len(COUNT_NAMES),):
        raise ValueError(f"rules_block needs {len(THRESHOLD_NAMES)} thresholds and {len(COUNT_NAMES)} counts")
    if len(roles) != 6:
        raise ValueError("roles: give the band positions of blue, green, red, nir, swir1 and swir2")
    shape = arrs[0].shape[1:]
    out = np.empty(shape, dtype=np.uint8)
    dummy = np.zeros((1, 1), dtype=np.bool_)
    zone = np.ascontiguousarray(coastal, dtype=np.bool_) if coastal is not None else dummy
    layer = np.ascontiguousarray(wetland, dtype=np.bool_) if wetland is not None else dummy
    if shaded is not None and len(shaded) != len(arrs):
        raise ValueError("shaded: give one mask per acquisition")
    shades = tuple(np.ascontiguousarray(m, dtype=np.bool_) for m in shaded) if shaded is not None else (dummy,)
    _classify(arrs, np.asarray(roles, dtype=np.int64), zone, coastal is not None, layer, wetland is not None,
              shades, shaded is not None, np.asarray(codes, dtype=np.uint8), thresholds, counts, decode is not None,
              nodata, scales, offsets, out)
    return out
