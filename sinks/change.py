"""Land-cover change maps: one uint8 code per from → to pair.

``code = from × 16 + to`` for legend codes 1..8 (so 17 … 136), 0 where either date is
nodata.  Persistence (``from == to``) keeps its code, so a map reader can tell
"stayed forest" (17) from "forest → built-up" (23).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .landcover import CLASSES, ECOLOGICAL, NAMES, NODATA, CODES

__all__ = ["change_codes", "decode", "change_output", "change_colormap", "LOSS_TARGETS", "is_eco_loss"]

#: Classes whose gain at the expense of ecological land counts as encroachment / loss.
LOSS_TARGETS: tuple[str, ...] = ("built_up", "cropland", "bare")


def _block(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ok = (a != NODATA) & (b != NODATA) & (a < 16) & (b < 16)
    out = np.zeros(a.shape, dtype=np.uint8)
    out[ok] = (a[ok].astype(np.uint16) * 16 + b[ok]).astype(np.uint8)
    return out


def change_codes(lc1: Any, lc2: Any) -> Any:
    """``from × 16 + to`` (uint8; 0 = nodata in either) for numpy or dask land-cover arrays."""
    if type(lc1).__module__.startswith("dask") or type(lc2).__module__.startswith("dask"):
        import dask.array as da

        a, b = da.asarray(lc1), da.asarray(lc2)
        b = b.rechunk(a.chunks)
        return da.map_blocks(_block, a, b, dtype=np.uint8)
    return _block(np.asarray(lc1), np.asarray(lc2))


def decode(code: int | np.ndarray) -> tuple[Any, Any]:
    """``(from, to)`` legend codes of change codes."""
    c = np.asarray(code)
    return c // 16, c % 16


def is_eco_loss(code: int | np.ndarray) -> Any:
    """True where the change is from an ecological class to built-up, cropland or bare."""
    f, t = decode(code)
    eco = np.isin(f, [CODES[n] for n in ECOLOGICAL])
    loss = np.isin(t, [CODES[n] for n in LOSS_TARGETS])
    return eco & loss


def change_colormap() -> dict[int, tuple[int, int, int, int]]:
    """Colours: persistence pale grey, loss of ecological land red, gain of ecological land green,
    other changes the colour of the new class (muted)."""
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
                cmap[code] = (*(int(0.5 * v + 0.5 * 200) for v in rgb), 255)
    return cmap


def change_output(lc1: Any, lc2: Any, path: str | Path, *, description: str = "land-cover change") -> Any:
    """The change map of two land-cover arrays as a categorical :class:`~sinks.outputs.RasterOutput`."""
    from .outputs import RasterOutput

    legend = ";".join(f"{f * 16 + t}={NAMES[f]}->{NAMES[t]}" for f in NAMES for t in NAMES)
    return RasterOutput(Path(path), change_codes(lc1, lc2), nodata=NODATA, categorical=True,
                        description=description, colormap=change_colormap(),
                        tags={"encoding": "from*16+to (sinks legend codes), 0 = nodata", "legend": legend})
