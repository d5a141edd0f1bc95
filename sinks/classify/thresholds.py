"""Scene-specific thresholds: Otsu's method on a histogram, clamped to a plausible range."""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["otsu", "scene_threshold", "is_bimodal"]

log = logging.getLogger("sinks")


def otsu(values: np.ndarray, *, bins: int = 256, value_range: tuple[float, float] | None = None) -> float | None:
    """Otsu's (1979) threshold: the split maximising the between-class variance.

    Returns ``None`` when fewer than 2 finite values or a single value is present.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < 2:
        return None
    lo, hi = value_range if value_range is not None else (float(v.min()), float(v.max()))
    if not hi > lo:
        return None
    hist, edges = np.histogram(v, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    m = np.cumsum(hist * centres)
    mu0 = np.divide(m, w0, out=np.zeros_like(m), where=w0 > 0)
    mu1 = np.divide(m[-1] - m, w1, out=np.zeros_like(m), where=w1 > 0)
    between = (w0 * w1 * (mu0 - mu1) ** 2)[:-1]
    # modes separated by empty bins give a plateau of equal scores: take its middle
    best = np.flatnonzero(between >= between.max() * (1 - 1e-12))
    return float((edges[best[0] + 1] + edges[best[-1] + 1]) / 2)


def scene_threshold(values: np.ndarray, *, use_otsu: bool, default: float, lo: float, hi: float,
                    name: str, min_count: int = 200) -> tuple[float, str]:
    """Otsu threshold of ``values`` clamped to ``[lo, hi]``; the default with too few values.

    Returns the threshold and how it was obtained (``otsu``, ``otsu-clamped``, ``default``).
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not use_otsu or v.size < min_count:
        if use_otsu:
            log.info("%s threshold: only %d sample values, using the default %.3f", name, v.size, default)
        return float(default), "default"
    # histogram over a robust range so a few extreme values do not squash the modes
    lo_q, hi_q = np.percentile(v, [0.5, 99.5])
    t = otsu(v, value_range=(float(lo_q), float(hi_q)))
    if t is None:
        return float(default), "default"
    clamped = min(max(t, lo), hi)
    how = "otsu" if clamped == t else "otsu-clamped"
    log.info("%s threshold: Otsu %.3f -> %.3f (%s, range %.3g..%.3g)", name, t, clamped, how, lo, hi)
    return float(clamped), how


def is_bimodal(values: np.ndarray, threshold: float, *, bins: int = 64, max_dip: float = 0.5) -> bool:
    """Whether ``values`` have two modes on either side of ``threshold``.

    Otsu's method splits any histogram, a unimodal one included; a split is only
    meaningful when the histogram (over its 0.5–99.5 percentile range, smoothed over
    three bins) dips between the highest bin below and the highest bin above the
    threshold to at most ``max_dip`` times the lower of those two peaks.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < 2:
        return False
    lo, hi = np.percentile(v, [0.5, 99.5])
    if not hi > lo or not lo < threshold < hi:
        return False
    hist, edges = np.histogram(v, bins=bins, range=(float(lo), float(hi)))
    smooth = np.convolve(hist.astype(np.float64), np.ones(3) / 3, mode="same")
    cut = int(np.clip(np.searchsorted(edges, threshold) - 1, 1, bins - 2))
    left = int(np.argmax(smooth[:cut]))
    right = cut + int(np.argmax(smooth[cut:]))
    valley = float(smooth[left:right + 1].min())
    return valley <= max_dip * min(float(smooth[left]), float(smooth[right]))
