"""Land-cover change maps: one uint8 code per from → to pair.

``code = from × 16 + to`` for legend codes 1..8 (so 17 … 136), 0 where either date is
nodata (or holds a value outside the legend).  Persistence (``from == to``) keeps its
code, so a map reader can tell "stayed forest" (17) from "forest → built-up" (23).

Examples
--------
>>> import numpy as np
>>> change_codes(np.array([[1, 0]], np.uint8), np.array([[7, 1]], np.uint8)).tolist()
[[23, 0]]
>>> decode(23)
(1, 7)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .landcover import CLASSES, CODES, ECOLOGICAL, NAMES, NODATA

__all__ = ["change_codes", "decode", "change_output", "change_colormap", "change_legend", "LOSS_TARGETS",
           "is_eco_loss"]

#: Classes whose gain at the expense of ecological land counts as encroachment / loss.
LOSS_TARGETS: tuple[str, ...] = ("built_up", "cropland", "bare")

_LEGEND = np.array(sorted(NAMES), dtype=np.int64)


def _table(nodata: int) -> np.ndarray:
    """``uint8`` lookup over every byte value: the code itself for legend classes, 0 otherwise."""
    lut = np.zeros(256, dtype=np.uint8)
    lut[_LEGEND] = _LEGEND
    if 0 <= nodata < 256:
        lut[nodata] = 0
    return lut


def _block(a: np.ndarray, b: np.ndarray, nodata: int = NODATA) -> np.ndarray:
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype == np.uint8 and b.dtype == np.uint8 and a.ndim == 2:  # the usual case: one compiled pass
        from ._kernels.codes import pair_codes

        return pair_codes(a, b, _table(nodata))
    ok = np.isin(a, _LEGEND) & np.isin(b, _LEGEND) & (a != nodata) & (b != nodata)
    out = np.zeros(a.shape, dtype=np.uint8)
    out[ok] = (a[ok].astype(np.uint16) * 16 + b[ok].astype(np.uint16)).astype(np.uint8)
    return out


def _unwrap(x: Any) -> Any:
    """The dask/numpy array behind an xarray object (without computing it)."""
    mod = type(x).__module__
    if mod.startswith("xarray"):
        return x.data
    return x


def change_codes(lc1: Any, lc2: Any, *, nodata: int = NODATA) -> Any:
    """Change codes ``from × 16 + to`` of two land-cover arrays on one grid.

    Parameters
    ----------
    lc1, lc2 : numpy.ndarray, dask.array.Array or xarray.DataArray
        Land cover at the first and second date (legend codes 1..8).
    nodata : int
        Nodata value of the inputs (default 0); any value outside the legend is also
        treated as nodata.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        uint8 codes, 0 where either date is nodata.  Lazy (``map_blocks``) when either
        input is a dask array, with the chunks of ``lc1``.
    """
    a, b = _unwrap(lc1), _unwrap(lc2)
    if np.shape(a) != np.shape(b):
        from .errors import GridMismatchError

        raise GridMismatchError(f"land-cover arrays differ in shape: {np.shape(a)} vs {np.shape(b)}")
    if type(a).__module__.startswith("dask") or type(b).__module__.startswith("dask"):
        import dask.array as da

        a, b = da.asarray(a), da.asarray(b)
        b = b.rechunk(a.chunks)
        return da.map_blocks(_block, a, b, nodata=nodata, dtype=np.uint8)
    return _block(a, b, nodata)


def decode(code: int | np.ndarray) -> tuple[Any, Any]:
    """``(from, to)`` legend codes of change codes (scalars give ints, arrays give arrays)."""
    if np.isscalar(code):
        c = int(code)  # type: ignore[arg-type]
        return c // 16, c % 16
    c = np.asarray(code)
    return c // 16, c % 16


def is_eco_loss(code: int | np.ndarray) -> Any:
    """True where the change is from an ecological class to built-up, cropland or bare."""
    c = np.asarray(code)
    if c.dtype == np.uint8:
        return _ECO_LOSS[c]
    f, t = decode(c)
    eco = np.isin(f, [CODES[n] for n in ECOLOGICAL])
    loss = np.isin(t, [CODES[n] for n in LOSS_TARGETS])
    return eco & loss


_ECO_LOSS = np.zeros(256, dtype=bool)
_ECO_LOSS[[CODES[f] * 16 + CODES[t] for f in ECOLOGICAL for t in LOSS_TARGETS]] = True


def change_legend() -> dict[int, str]:
    """``{code: "from->to"}`` for every pair of legend classes (persistence included)."""
    return {f * 16 + t: f"{NAMES[f]}->{NAMES[t]}" for f in sorted(NAMES) for t in sorted(NAMES)}


def change_colormap() -> dict[int, tuple[int, int, int, int]]:
    """Colours for change maps.

    Persistence pale grey, loss of ecological land (to built-up, cropland, bare) red,
    gain of ecological land from a non-ecological class green, any other change the
    colour of the new class, muted towards grey; nodata transparent.
    """
    cmap: dict[int, tuple[int, int, int, int]] = {NODATA: (0, 0, 0, 0)}
    eco = {CODES[n] for n in ECOLOGICAL}
    colours = {c.code: c.colour for c in CLASSES}
    for f in NAMES:
        for t in NAMES:
            code = f * 16 + t
            if f == t:
                cmap[code] = (225, 225, 225, 255)
            elif f in eco and NAMES[t] in LOSS_TARGETS:
                cmap[code] = (215, 25, 28, 255)
            elif f not in eco and t in eco:
                cmap[code] = (26, 150, 65, 255)
            else:
                h = colours[t].lstrip("#")
                rgb = [int(h[i:i + 2], 16) for i in (0, 2, 4)]
                cmap[code] = (*(int(0.5 * v + 0.5 * 200) for v in rgb), 255)  # type: ignore[assignment]
    return cmap


def change_output(lc1: Any, lc2: Any, path: str | Path, *, description: str = "land-cover change",
                  nodata: int = NODATA) -> Any:
    """The change map of two land-cover arrays as a categorical :class:`~sinks.outputs.RasterOutput`.

    Write it with :func:`sinks.outputs.write_rasters` (``change_<e1>_<e2>.tif`` in a run);
    the file carries the colour table and the code → transition legend as tags.
    """
    from .outputs import RasterOutput

    legend = ";".join(f"{k}={v}" for k, v in change_legend().items())
    return RasterOutput(Path(path), change_codes(lc1, lc2, nodata=nodata), nodata=NODATA, categorical=True,
                        description=description, colormap=change_colormap(),
                        tags={"encoding": "from*16+to (sinks legend codes), 0 = nodata", "legend": legend})
