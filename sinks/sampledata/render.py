"""Render reflectance and truth of the synthetic scene, window by window.

Mixed pixels come from 2 × 2 supersampling on class edges: the spectrum of a pixel
whose 8 neighbours are not all of its class is the mean of the spectra of its four
sub-pixel surfaces, so pixels on class edges mix their neighbours' spectra linearly.  Within-class variation is a smooth multiplicative
brightness field (± ~8 %) plus a vigour field on the NIR band (± ~6 %); sensor
noise is Gaussian, σ = 0.004 reflectance (40 DN).  One acquisition carries a thick
cloud patch and one a missing-data corner (DN 0 in every band).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layout import Layout, Noise
from .spectra import CLOUD, MUDFLAT as MUD_SPECTRA, season_spectra

__all__ = ["Acquisition", "render_window", "truth_window"]


@dataclass(frozen=True)
class Acquisition:
    """One date of one epoch."""

    epoch_index: int   # 0, 1, 2
    year: int
    month: int         # 1 (dry season) or 8 (growing season)
    day: int
    cloud: tuple[float, float, float] | None = None     # (u, v, radius) of a thick cloud
    missing: tuple[float, float, float, float] | None = None  # (u0, v0, u1, v1) with no data

    @property
    def season(self) -> int:
        return 0 if self.month <= 3 else 1

    @property
    def date(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    @property
    def offset_dn(self) -> int:
        """Sentinel-2 processing baseline 04.00 (from 2022-01-25) adds 1000 DN."""
        return 1000 if (self.year, self.month, self.day) >= (2022, 1, 25) else 0


def _coords(size: int, r0: int, r1: int, c0: int, c1: int, dy: float = 0.5, dx: float = 0.5):
    """Normalised pixel coordinates of a window: ``u`` as a row (1, n), ``v`` as a column (m, 1)."""
    v = (np.arange(r0, r1, dtype=np.float64) + dy) / size
    u = (np.arange(c0, c1, dtype=np.float64) + dx) / size
    return u[None, :], v[:, None]


def truth_window(layout: Layout, size: int, t: int, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Legend codes of a window (class at the pixel centre)."""
    u, v = _coords(size, r0, r1, c0, c1)
    return layout.truth(u, v, t)


def render_window(layout: Layout, acq: Acquisition, size: int, r0: int, r1: int, c0: int, c1: int,
                  *, seed: int) -> np.ndarray:
    """uint16 DN ``(6, rows, cols)`` of a window: reflectance × 10000 (+ offset), 0 = nodata."""
    table = season_spectra(acq.season)
    table = np.vstack([table, np.asarray(MUD_SPECTRA[acq.season], dtype=np.float32)[None]])  # row 9 = mudflat
    # surface at each pixel centre, with a 1-px halo to find class edges
    uh, vh = _coords(size, r0 - 1, r1 + 1, c0 - 1, c1 + 1)
    centre = layout.classes(uh, vh, acq.epoch_index)
    core = centre[1:-1, 1:-1]
    edge = np.zeros(core.shape, dtype=bool)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr or dc:
                edge |= centre[1 + dr:centre.shape[0] - 1 + dr, 1 + dc:centre.shape[1] - 1 + dc] != core
    refl = np.moveaxis(table[core], -1, 0).copy()
    u, v = _coords(size, r0, r1, c0, c1)
    if edge.any():  # mixed pixels: mean spectrum of the 2 x 2 sub-pixel surfaces, on class edges only
        rr, cc = np.nonzero(edge)
        acc = np.zeros((6, rr.size), dtype=np.float32)
        for dy in (0.25, 0.75):
            for dx in (0.25, 0.75):
                su = (c0 + cc + dx) / size
                sv = (r0 + rr + dy) / size
                acc += table[layout.classes(su, sv, acq.epoch_index)].T
        refl[:, rr, cc] = acc / 4.0
    bright = 1.0 + 0.16 * (Noise(seed + 11, 25)(u, v) - 0.5)
    vigour = 1.0 + 0.12 * (Noise(seed + 12 + acq.season, 60)(u, v) - 0.5)
    refl *= bright[None].astype(np.float32)
    refl[3] *= vigour.astype(np.float32)
    if acq.cloud is not None:
        cu, cv, cr = acq.cloud
        d = np.hypot(u - cu, v - cv) / cr
        alpha = np.clip(1.5 - d, 0.0, 1.0).astype(np.float32)  # thick core, soft edge
        refl = refl * (1 - alpha) + np.asarray(CLOUD, dtype=np.float32)[:, None, None] * alpha
    rng = np.random.default_rng([seed, acq.year, acq.month, r0, c0])
    refl += rng.normal(0.0, 0.004, size=refl.shape).astype(np.float32)
    dn = np.clip(np.rint(refl * 10000.0) + acq.offset_dn, 1, 65535).astype(np.uint16)
    if acq.missing is not None:
        mu0, mv0, mu1, mv1 = acq.missing
        dn[:, (u >= mu0) & (u < mu1) & (v >= mv0) & (v < mv1)] = 0
    return dn
