"""Truth land cover of the synthetic Beihai scene, defined procedurally in scene coordinates.

The scene is described in normalised coordinates ``u`` (west → east, 0..1) and
``v`` (north → south, 0..1), so it renders at any size, window by window, with the
same layout.  Low-frequency value noise (a seeded lattice, smoothly interpolated)
makes edges irregular and patches coherent; it is evaluated at pixel coordinates, so
neighbouring windows agree exactly.

Layout (south is the sea):

* sea below a wavy coastline (``v > coast(u)``), a river meandering from the north
  edge to the sea, fish ponds are not modelled;
* an intertidal band just above the coast: mudflat (bare) with mangrove stands in the
  west and centre; a coastal marsh (wetland) behind it in the east;
* forested hills in the north and north-east, a quarry (bare) in the hills;
* grassland on the hill foot slopes, cropland parcels on the central plain;
* two towns (built-up) growing from epoch to epoch.

Change between epochs (``t`` = 0, 1, 2 for 2015, 2020, 2025):

* afforestation of hill-foot grassland: a small zone by 2020, a larger one by 2025;
* mangrove restoration on the mudflat: some by 2020, more by 2025;
* town growth: both towns grow; the eastern town grows into the coastal-marsh
  redline by 2025, the western one over cropland;
* forest loss: a hill patch cleared for cropland by 2020 and a quarry extension
  by 2025.
"""

from __future__ import annotations

import numpy as np

from ..landcover import CODES

__all__ = ["Noise", "Layout", "MUDFLAT"]

FOREST, GRASS, WETLAND, MANGROVE, WATER, CROP, BUILT, BARE = (
    CODES[n] for n in ("forest", "grassland", "wetland", "mangrove", "water", "cropland", "built_up", "bare"))
#: Internal code of wet tidal mud: a surface of its own, "bare" in the legend.
MUDFLAT = 9


class Noise:
    """Seeded 2-D value noise on a lattice of ``cells`` × ``cells`` over the unit square."""

    def __init__(self, seed: int, cells: int) -> None:
        rng = np.random.default_rng(seed)
        self.cells = cells
        self.lattice = rng.random((cells + 2, cells + 2))

    def _axis(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lattice index and smoothstep weight along one axis."""
        x = np.clip(t, 0, 1) * self.cells
        x0 = np.minimum(np.floor(x).astype(np.int64), self.cells)
        fx = x - x0
        return x0, fx * fx * (3 - 2 * fx)

    def __call__(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Noise at ``(u, v)``: arrays of one shape, or a row ``u`` (1, n) and a column ``v`` (m, 1).

        The row/column form (a regular window) is evaluated separably: interpolated
        along ``u`` once per lattice row, then along ``v`` per pixel; every pixel gets
        the same arithmetic as in the general form, so the values are identical.
        """
        u, v = np.asarray(u), np.asarray(v)
        x0, fx = self._axis(u)
        y0, fy = self._axis(v)
        lat = self.lattice
        if u.ndim == 2 and v.ndim == 2 and u.shape[0] == 1 and v.shape[1] == 1:
            lo = int(y0.min())
            rows = lat[lo:int(y0.max()) + 2]
            along = rows[:, x0[0]] * (1 - fx) + rows[:, x0[0] + 1] * fx   # (lattice rows, n)
            a = along[y0[:, 0] - lo]
            b = along[y0[:, 0] + 1 - lo]
            return a * (1 - fy) + b * fy
        a = lat[y0, x0] * (1 - fx) + lat[y0, x0 + 1] * fx
        b = lat[y0 + 1, x0] * (1 - fx) + lat[y0 + 1, x0 + 1] * fx
        return a * (1 - fy) + b * fy


class Layout:
    """The truth land cover of one epoch, evaluated on any window of the scene."""

    def __init__(self, seed: int) -> None:
        self.n1 = Noise(seed + 1, 6)     # broad shapes
        self.n2 = Noise(seed + 2, 18)    # patch edges
        self.n3 = Noise(seed + 3, 40)    # fine edges

    # -- geometry helpers (all vectorised over u, v) ---------------------------------------
    def coast(self, u: np.ndarray) -> np.ndarray:
        """Normalised ``v`` of the shoreline at ``u``."""
        return 0.80 + 0.045 * np.sin(2 * np.pi * (1.3 * u + 0.15)) + 0.03 * (self.n1(u, np.full_like(u, 0.5)) - 0.5)

    def river_u(self, v: np.ndarray) -> np.ndarray:
        return 0.40 + 0.06 * np.sin(2 * np.pi * 1.6 * v) + 0.05 * (self.n1(np.full_like(v, 0.2), v) - 0.5)

    def wobble(self, u: np.ndarray, v: np.ndarray, amp: float = 0.03) -> np.ndarray:
        return amp * (self.n2(u, v) - 0.5) + 0.4 * amp * (self.n3(u, v) - 0.5)

    def truth(self, u: np.ndarray, v: np.ndarray, t: int) -> np.ndarray:
        """uint8 legend codes (mudflat is bare)."""
        out = self.classes(u, v, t)
        out[out == MUDFLAT] = BARE
        return out

    def classes(self, u: np.ndarray, v: np.ndarray, t: int) -> np.ndarray:
        """uint8 surface codes at normalised coordinates for epoch index ``t`` (legend codes + MUDFLAT).

        ``u`` and ``v`` are arrays of one shape, or a row (1, n) and a column (m, 1)
        for a regular window (much faster; same values).
        """
        w = self.wobble(u, v)
        coast = self.coast(u)
        out = np.full(np.broadcast_shapes(np.shape(u), np.shape(v)), CROP, dtype=np.uint8)
        # plain: cropland parcels, some grassland parcels (fallow) in a regular grid
        pu, pv = np.floor(u * 22), np.floor(v * 26)
        parcel = (np.sin(pu * 12.9898 + pv * 78.233) * 43758.5453) % 1.0
        out[parcel < 0.16] = GRASS
        # hills: forest in the north and north-east, grassland on the foot slopes
        hill = 0.36 + 0.10 * u + 0.08 * (self.n1(u, v) - 0.5)
        foot = hill + 0.07
        out[(v < foot + w) & (v >= hill + w)] = GRASS
        out[v < hill + w] = FOREST
        # grassland clearings in the forest
        clear = (self.n2(u, v) > 0.80) & (v < hill + w - 0.04)
        out[clear] = GRASS
        # quarry in the hills (bare), extended by 2025
        q = (u - 0.78) ** 2 / 0.0025 + (v - 0.14) ** 2 / 0.0016 + 4 * w
        out[q < (1.0 if t < 2 else 1.8)] = BARE
        # afforestation of foot-slope grassland (ecological restoration)
        aff1 = (u > 0.05) & (u < 0.30) & (v < foot + w) & (v >= hill + w - 0.01)
        aff2 = (u > 0.55) & (u < 0.95) & (v < foot + w + 0.03) & (v >= hill + w - 0.01)
        if t >= 1:
            out[aff1 & (out == GRASS)] = FOREST
        if t >= 2:
            out[aff2 & ((out == GRASS) | (out == CROP))] = FOREST
            out[(clear & (u > 0.5)) & (out == GRASS)] = FOREST
        # forest loss: a hill patch cleared for cropland by 2020
        loss = (u - 0.22) ** 2 + (v - 0.28) ** 2 < (0.035 + w * 0.3) ** 2
        if t >= 1:
            out[loss & (out == FOREST)] = CROP
        # towns (built-up), growing
        r1 = (0.060, 0.075, 0.090)[t]
        r2 = (0.050, 0.065, 0.085)[t]
        d1 = np.hypot(u - 0.22, (v - 0.60) * 1.1) + w
        d2 = np.hypot((u - 0.66) * 1.2, v - 0.64) + w
        out[d1 < r1] = BUILT
        out[d2 < r2] = BUILT
        # eastern town grows south-east, into the coastal marsh (the redline) by 2025
        if t >= 2:
            spur = (u > 0.66) & (u < 0.76) & (v > 0.64) & (v < coast - 0.075) & (np.abs(u - 0.71) + w < 0.05)
            out[spur] = BUILT
        # coastal marsh (wetland) behind the intertidal band in the east
        marsh = (u > 0.62) & (u < 0.95) & (v > coast - 0.13 + w) & (v <= coast - 0.055)
        town_mask = out == BUILT
        out[marsh & ~town_mask] = WETLAND
        # intertidal band: mudflat (bare) with mangroves
        tidal = (v > coast - 0.055 + 0.5 * w) & (v <= coast)
        out[tidal] = MUDFLAT
        m_base = (self.n2(u, v * 0.5) > 0.42) & (u < 0.62)
        m_rest1 = (u > 0.10) & (u < 0.22)
        m_rest2 = (u > 0.64) & (u < 0.80)
        mang = m_base | ((t >= 1) & m_rest1) | ((t >= 2) & m_rest2)
        out[tidal & mang & (v > coast - 0.045)] = MANGROVE
        # sea and river
        out[v > coast] = WATER
        ru = self.river_u(v)
        width = 0.007 + 0.006 * v
        out[(np.abs(u - ru) < width) & (v < coast)] = WATER
        # a pond-like inland lake
        out[np.hypot(u - 0.50, (v - 0.50) * 1.3) + 0.5 * w < 0.025] = WATER
        return out
