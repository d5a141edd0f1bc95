"""The ordered land-cover rules of :mod:`sinks.classify.rules`, one pass per pixel.

Row by row, in segments of a few hundred pixels, the kernel walks each acquisition once,
keeping per pixel the few numbers the rules need (clear, snow, wet and open-water counts;
NDVI maximum and minimum; the bands of the greenest clear observation; whether a
bare-soil or flooded phase and whether only built-up-like observations were seen), then
applies the rules in order.  Both loops are written without branches, as masks and
selects, so the compiler vectorises them.  The semantics are documented in
:mod:`sinks.classify.rules`; ``float32`` throughout, as the reflectance.

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

#: Pixels of a row handled together: the per-pixel evidence of one segment lives in two
#: flat buffers, one field every ``_SEG`` entries, so that the compiler sees constant
#: distances between the fields and turns the evidence loop into vector instructions
#: (with one array per field it would have to prove at run time that none overlap).
_SEG = 512
# float32 fields of the evidence buffer
_VMAX, _VMIN, _GS1, _GS2, _GNIR, _GNBR, _GMVI = 0, 1, 2, 3, 4, 5, 6
_NFLOAT = 7
# int32 fields: counts, flags, and (of the current acquisition) whether the pixel holds
# nodata in a band and whether the terrain shades it
_CLEAR, _SNOW, _WET, _OPEN, _SOIL, _BUILT, _BAD, _SHADE = 0, 1, 2, 3, 4, 5, 6, 7
_NINT = 8


@jit(inline="always")
def _nd(a: np.float32, b: np.float32) -> np.float32:
    den = a + b
    q = (a - b) / den
    return q if abs(den) > _TINY else np.float32(np.nan)


@jit(inline="always")
def _evidence(vb, vg, vr, vn, v1, v2, scale, offset, nodata, one, t, fs, ist):  # noqa: ANN001, ANN202
    """One acquisition's row segment (the six bands' values ``vb`` … ``v2``) added to the
    per-pixel evidence (``fs``, ``ist``; fields as named above), the values read as
    ``value × scale + offset`` (digital numbers, with ``nodata`` marking a value not
    observed, here in these bands and in ``ist``'s ``_BAD`` field for the block's other
    bands; or reflectance, with scale 1 and offset 0 and a NaN ``nodata``, which equals
    nothing).  Pixels the terrain keeps in shadow at this acquisition (``_SHADE``) are not
    counted.  ``one`` is 1.0, given at run time: a field that keeps its value is written
    back times ``one`` (the same bits), so the compiler cannot drop that store and turn
    the update into a masked store, which is microcoded and slow on AMD's Zen cores.

    Without branches: every test is a mask and every update a select, so the loop runs on
    vector instructions, and the numbers are those of the rules applied one pixel at a
    time (an unobserved value fails every comparison)."""
    (max_blue, hot, max_white, snow_ndsi, snow_nir, snow_green, shadow_max, t_w, w_max_ndvi, _tm, _mn, _ma,
     _wn, b_min_ndbi, b_max_ndvi, b_max_rb, _bare, s_max_ndvi, s_min_bsi) = (
        t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11], t[12], t[13], t[14], t[15],
        t[16], t[17], t[18])
    zero = np.float32(0.0)
    half = np.float32(0.5)
    third = np.float32(1.0 / 3.0)
    inf = np.float32(np.inf)
    for x in range(vb.shape[0]):
        b = np.float32(vb[x]) * scale + offset
        g = np.float32(vg[x]) * scale + offset
        r = np.float32(vr[x]) * scale + offset
        nr = np.float32(vn[x]) * scale + offset
        s1 = np.float32(v1[x]) * scale + offset
        s2 = np.float32(v2[x]) * scale + offset
        marked = ((vb[x] == nodata) | (vg[x] == nodata) | (vr[x] == nodata) | (vn[x] == nodata)
                  | (v1[x] == nodata) | (v2[x] == nodata))
        fin = ((ist[_BAD * _SEG + x] == 0) & ~marked & np.isfinite(b) & np.isfinite(g) & np.isfinite(r)
               & np.isfinite(nr) & np.isfinite(s1) & np.isfinite(s2))
        ndvi = _nd(nr, r)
        mndwi = _nd(g, s1)
        mean_vis = (b + g + r) * third
        spread = (abs(b - mean_vis) + abs(g - mean_vis) + abs(r - mean_vis)) / mean_vis
        white = spread if mean_vis > _TINY else inf
        # snow is tested first: it is as bright and flat in the visible as cloud
        snow = fin & (mndwi > snow_ndsi) & (nr > snow_nir) & (g > snow_green)
        cloud = (b >= max_blue) & (b - half * r - hot > zero) & (white < max_white)
        brightest = max(max(max(g, r), max(nr, s1)), s2)
        dark = (brightest < shadow_max) & (g <= nr)  # blue left out: haze keeps it up
        ok = fin & ~snow & ~cloud & ~dark & (ist[_SHADE * _SEG + x] == 0) & ~np.isnan(ndvi)
        is_wet = mndwi > t_w
        flooded = is_wet & (ndvi < w_max_ndvi)
        ist[_SNOW * _SEG + x] += np.int32(snow)
        ist[_CLEAR * _SEG + x] += np.int32(ok)
        ist[_WET * _SEG + x] += np.int32(ok & is_wet)
        ist[_OPEN * _SEG + x] += np.int32(ok & flooded)
        # the greenest observation so far (also the first: a NaN maximum is never >= ndvi);
        # every field is read before the updates and written back whatever the outcome
        o_max, o_min = fs[_VMAX * _SEG + x], fs[_VMIN * _SEG + x]
        o_s1, o_s2, o_nir = fs[_GS1 * _SEG + x], fs[_GS2 * _SEG + x], fs[_GNIR * _SEG + x]
        o_nbr, o_mvi = fs[_GNBR * _SEG + x], fs[_GMVI * _SEG + x]
        greener = ok & ~(o_max >= ndvi)
        nbr = _nd(nr, s2)
        mvi = abs(nr - g) / abs(s1 - g)
        fs[_VMAX * _SEG + x] = ndvi if greener else o_max * one
        fs[_GS1 * _SEG + x] = s1 if greener else o_s1 * one
        fs[_GS2 * _SEG + x] = s2 if greener else o_s2 * one
        fs[_GNIR * _SEG + x] = nr if greener else o_nir * one
        fs[_GNBR * _SEG + x] = nbr if greener else o_nbr * one
        fs[_GMVI * _SEG + x] = mvi if greener else o_mvi * one
        lower = ok & ~(o_min <= ndvi)
        fs[_VMIN * _SEG + x] = ndvi if lower else o_min * one
        bsi = _nd(s1 + r, nr + b)
        soil = ok & (((ndvi < s_max_ndvi) & (bsi > s_min_bsi)) | flooded)
        ist[_SOIL * _SEG + x] |= np.int32(soil)
        ndbi = _nd(s1, nr)
        red_blue = _nd(r, b)
        built_like = (ndbi > b_min_ndbi) & (ndvi < b_max_ndvi) & (mndwi < zero) & (red_blue < b_max_rb)
        ist[_BUILT * _SEG + x] &= np.int32(~(ok & ~built_like))


@jit
def _classify(scenes, idx, coastal, layer, shades, use_shade, codes, t, f64, dn, dn_nodata, dn_scale, dn_offset,
              one, out):  # noqa: ANN001, ANN202
    """Row by row, in segments of ``_SEG`` pixels: one pass per acquisition accumulates
    per-pixel evidence, then one pass applies the rules.  With ``dn`` the blocks hold
    digital numbers, decoded per acquisition ``k`` with ``dn_scale[k]``, ``dn_offset[k]``;
    ``dn_nodata`` in any band marks a pixel unobserved."""
    nt = len(scenes)
    nb = scenes[0].shape[0]
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
    fs = np.empty(_NFLOAT * _SEG, dtype=np.float32)
    ist = np.empty(_NINT * _SEG, dtype=np.int32)
    for y in range(h):
        for x0 in range(0, w, _SEG):
            n = min(_SEG, w - x0)
            for x in range(n):
                for f in range(_NFLOAT):
                    fs[f * _SEG + x] = nan
                for f in range(_NINT):
                    ist[f * _SEG + x] = 0
                ist[_BUILT * _SEG + x] = 1
            for k in range(nt):
                s = scenes[k]
                if dn:  # nodata in a band the rules do not read (in theirs: _evidence)
                    for x in range(n):
                        ist[_BAD * _SEG + x] = 0
                    for q in range(nb):
                        if q == ib or q == ig or q == ir or q == inn or q == is1 or q == is2:
                            continue
                        vq = s[q, y, x0:x0 + n]
                        for x in range(n):
                            ist[_BAD * _SEG + x] |= np.int32(vq[x] == dn_nodata)
                if use_shade:
                    sh = shades[k][y, x0:x0 + n]
                    for x in range(n):
                        ist[_SHADE * _SEG + x] = np.int32(sh[x])
                _evidence(s[ib, y, x0:x0 + n], s[ig, y, x0:x0 + n], s[ir, y, x0:x0 + n], s[inn, y, x0:x0 + n],
                          s[is1, y, x0:x0 + n], s[is2, y, x0:x0 + n], dn_scale[k], dn_offset[k], dn_nodata, one,
                          t, fs, ist)
            zone = coastal[y, x0:x0 + n]
            inside = layer[y, x0:x0 + n]
            row = out[y, x0:x0 + n]
            for x in range(n):
                nc = ist[_CLEAR * _SEG + x]
                nwet = ist[_WET * _SEG + x]
                vx = fs[_VMAX * _SEG + x]
                amp = vx - fs[_VMIN * _SEG + x]
                votes = (np.int32(fs[_GS1 * _SEG + x] <= f_max_s1) + np.int32(fs[_GS2 * _SEG + x] <= f_max_s2)
                         + np.int32(fs[_GNBR * _SEG + x] >= f_min_nbr))
                water = ist[_OPEN * _SEG + x] / nc >= w_min_freq
                mangrove = zone[x] & (fs[_GMVI * _SEG + x] >= t_m) & (vx > m_min_ndvi) & (amp < m_max_amp)
                wetland = ((nwet / nc >= wet_min_freq) & (vx > wet_min_ndvi)
                           & ((nwet >= wet_min_n) | (inside[x] & (nwet >= wet_min_n_layer))))
                built = (ist[_BUILT * _SEG + x] != 0) & (vx < b_max_ndvi)
                soil_crop = (ist[_SOIL * _SEG + x] != 0) & (vx >= c_min_ndvi) & (amp >= c_min_amp)
                forest = (vx >= f_min_ndvi) & (votes >= f_votes)
                vigorous = (nc == 1) & (vx >= c_vig_ndvi) & (fs[_GNIR * _SEG + x] >= c_vig_nir)
                # the rules in order, as one chain of selects from the last to the first
                code = c_grass if vx >= g_min_ndvi else c_bare
                code = c_crop if vigorous else code
                code = c_forest if forest else code
                code = c_crop if soil_crop else code
                code = c_bare if vx < bare_max_ndvi else code
                code = c_built if built else code
                code = c_wetland if wetland else code
                code = c_mangrove if mangrove else code
                code = c_water if water else code
                unseen = c_bare if ist[_SNOW * _SEG + x] > 0 else c_nodata
                row[x] = unseen if nc == 0 else code


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
    if any(s.shape[1:] != shape for s in arrs):
        raise ValueError("every acquisition's block must cover the same rows and columns")

    def mask(m: np.ndarray | None, what: str) -> np.ndarray:
        if m is None:  # nowhere (np.zeros maps zeroed pages: nothing is written)
            return np.zeros(shape, dtype=np.bool_)
        if np.shape(m) != shape:
            raise ValueError(f"{what}: the mask is {np.shape(m)}, the block {shape}")
        return np.ascontiguousarray(m, dtype=np.bool_)

    zone = mask(coastal, "coastal")
    layer = mask(wetland, "wetland")
    if shaded is not None and len(shaded) != len(arrs):
        raise ValueError("shaded: give one mask per acquisition")
    shades = tuple(mask(m, "shaded") for m in shaded) if shaded is not None else (np.zeros((1, 1), np.bool_),)
    _classify(arrs, np.asarray(roles, dtype=np.int64), zone, layer, shades, shaded is not None,
              np.asarray(codes, dtype=np.uint8), thresholds, counts, decode is not None, nodata, scales, offsets,
              np.float32(1.0), out)
    return out
