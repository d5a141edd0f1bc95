"""Training pixels drawn from an existing land-cover map (ESA WorldCover, CLCD, an older sinks map …).

Analysts rarely have labelled points, but they nearly always have a land-cover
product.  Its labels are noisy at class edges and out of date where the land changed,
so training samples are taken only where the map is most likely right:

* the map (or maps) is read onto the image grid block by block, on the fly: nearest
  neighbour when its pixels are as large as the image's or larger, the majority
  (``mode``) of the map's pixels under each image pixel when they are smaller;
* its codes are translated to the sinks legend (:mod:`sinks.legends`; codes outside
  the legend, the map's nodata and unobserved codes are never sampled);
* **homogeneous**: every pixel of the 3 × 3 window around a sample carries the same
  class (edges, mixed pixels and small patches are left out);
* **unchanged**: with several maps (an older and a newer year), only where they all
  agree;
* **stratified** by class with a per-class cap: a uniform random sample of at most
  ``per_class`` pixels of each class (every eligible pixel when there are fewer), drawn
  with a seeded generator by keeping the ``per_class`` smallest random keys of each
  class block by block, so no more than that is ever held in memory.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError, NoOverlapError, TileReadError, first_line
from ..grid import Grid
from ..landcover import NAMES, NODATA

__all__ = ["ReferenceSample", "reference_pixels", "reference_lut", "DEFAULT_PER_CLASS"]

log = logging.getLogger("sinks")

#: Default cap on the training pixels drawn per class.
DEFAULT_PER_CLASS = 5000
_STRIP = 512  # image rows per block read


@dataclass
class ReferenceSample:
    """Pixels drawn from a reference map for training.

    Attributes
    ----------
    rows, cols : numpy.ndarray
        ``int64`` pixel positions on the image grid.
    codes : numpy.ndarray
        ``int64`` sinks legend codes.
    eligible : dict of str to int
        Per class: pixels that passed the homogeneity (and agreement) test.
    drawn : dict of str to int
        Per class: pixels drawn (at most the cap).
    """

    rows: np.ndarray
    cols: np.ndarray
    codes: np.ndarray
    eligible: dict[str, int] = field(default_factory=dict)
    drawn: dict[str, int] = field(default_factory=dict)


def _read_on_grid(path: str, grid: Grid, row0: int, nrows: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``row0 .. row0 + nrows`` of the map's first band on ``grid`` and where it is valid."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT
    from rasterio.windows import Window

    sub = grid.subgrid(Window(0, row0, grid.width, nrows))
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise ConfigError(f"{path}: reference map has no CRS")
            if np.dtype(src.dtypes[0]).kind not in "iu":
                raise ConfigError(f"{path}: a reference map holds integer class codes, found {src.dtypes[0]}")
            finer = abs(src.transform.a) < 0.75 * grid.res[0] and src.crs == grid.crs
            nodata = src.nodata
            with WarpedVRT(src, crs=grid.crs, transform=sub.transform, width=sub.width, height=sub.height,
                           resampling=Resampling.mode if finer else Resampling.nearest,
                           src_nodata=nodata, nodata=nodata if nodata is not None else 0) as vrt:
                arr = vrt.read(1)
                valid = vrt.read_masks(1) > 0
    except rasterio.errors.RasterioIOError as exc:
        raise TileReadError(f"{path}: not a readable raster ({first_line(exc)})") from None
    return arr, valid


def _homogeneous(codes: np.ndarray) -> np.ndarray:
    """Pixels whose 3 × 3 window holds one class (windows reaching past the block are not)."""
    from scipy import ndimage

    hi = ndimage.maximum_filter(codes, 3, mode="constant", cval=255)
    lo = ndimage.minimum_filter(codes, 3, mode="constant", cval=0)
    return (hi == lo) & (codes != NODATA)


def reference_pixels(maps: Sequence[str | os.PathLike], lut: np.ndarray, grid: Grid, *,
                     per_class: int = DEFAULT_PER_CLASS, seed: int = 0,
                     valid: Any = None) -> ReferenceSample:
    """Draw training pixels from one or more reference maps (see the module docstring).

    Parameters
    ----------
    maps : sequence of path
        Single-band integer land-cover rasters, in any CRS and resolution.
    lut : numpy.ndarray
        ``uint8`` lookup table from the maps' codes to sinks codes (0 = not a class).
    grid : Grid
        The image grid.
    per_class : int
        Cap on the pixels drawn per class.
    seed : int
    valid : callable, optional
        ``valid(row0, nrows) -> bool array`` of image pixels with data; samples are
        drawn only there.

    Returns
    -------
    ReferenceSample

    Raises
    ------
    ConfigError
        A map is not an integer raster or has no CRS, or fewer than two classes are
        left to train on.
    NoOverlapError
        No map pixel falls on the image.
    """
    if not maps:
        raise ConfigError("no reference map given")
    if per_class < 1:
        raise ConfigError(f"--per-class must be at least 1, got {per_class}")
    rng = np.random.default_rng(seed)
    keep: dict[int, tuple[np.ndarray, np.ndarray]] = {}   # class -> (keys, flat pixel index)
    eligible: dict[int, int] = {}
    seen = False
    halo = 1
    for row0 in range(0, grid.height, _STRIP):
        r0 = max(0, row0 - halo)
        r1 = min(grid.height, row0 + _STRIP + halo)
        agreed = None
        for path in maps:
            raw, ok = _read_on_grid(str(path), grid, r0, r1 - r0)
            seen |= bool(ok.any())
            code = np.where(ok & (raw >= 0) & (raw < lut.size), lut[np.clip(raw, 0, lut.size - 1)], NODATA)
            code = code.astype(np.uint8)
            agreed = code if agreed is None else np.where(agreed == code, code, NODATA).astype(np.uint8)
        assert agreed is not None
        good = _homogeneous(agreed)
        if valid is not None:
            good &= valid(r0, r1 - r0)
        top = row0 - r0
        good = good[top:top + min(_STRIP, grid.height - row0)]
        cls = agreed[top:top + good.shape[0]]
        for c in np.unique(cls[good]):
            rr, cc = np.nonzero(good & (cls == c))
            eligible[int(c)] = eligible.get(int(c), 0) + len(rr)
            flat = (rr + row0).astype(np.int64) * grid.width + cc
            keys = rng.random(len(flat))
            if int(c) in keep:
                keys = np.concatenate([keep[int(c)][0], keys])
                flat = np.concatenate([keep[int(c)][1], flat])
            if len(keys) > per_class:
                part = np.argpartition(keys, per_class - 1)[:per_class]
                keys, flat = keys[part], flat[part]
            keep[int(c)] = (keys, flat)
    if not seen:
        raise NoOverlapError(f"{maps[0]}: the reference map does not overlap the image")
    if len(keep) < 2:
        raise ConfigError(f"{maps[0]}: the reference map leaves {len(keep)} class(es) with homogeneous, "
                          "agreeing pixels on the image; training needs at least two")
    codes, flats = [], []
    for c in sorted(keep):
        flat = np.sort(keep[c][1])
        flats.append(flat)
        codes.append(np.full(len(flat), c, np.int64))
    flat = np.concatenate(flats)
    out = ReferenceSample(flat // grid.width, flat % grid.width, np.concatenate(codes),
                          {NAMES[c]: n for c, n in sorted(eligible.items())},
                          {NAMES[c]: len(keep[c][1]) for c in sorted(keep)})
    log.info("reference map: %s pixels drawn (%s)", len(flat),
             ", ".join(f"{k} {v}" for k, v in out.drawn.items()))
    return out


def reference_lut(legend: Any) -> np.ndarray:
    """``uint8`` lookup table from a reference map's codes to sinks codes.

    ``legend`` is a packaged legend name (``sinks``, ``clcd``, ``worldcover``), a
    YAML/CSV mapping file or a mapping (:func:`sinks.legends.resolve_legend`).  A shrub
    class trains as grassland (the classification legend has no shrub class);
    unobserved codes map to 0 and are never sampled.
    """
    from ..legends import carbon_code, resolve_legend

    leg = resolve_legend(legend)
    digits = leg.digits
    lut = np.zeros(max(256, max(digits, default=0) + 1), dtype=np.uint8)
    for code, digit in digits.items():
        lut[int(code)] = carbon_code(digit) if digit else NODATA
    return lut
