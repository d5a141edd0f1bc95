"""Placing one decoded TIFF tile into a band-sequential window, undoing its predictor.

A tiled TIFF stores each tile as rows of samples, interleaved by pixel (``PlanarConfig``
1: every pixel's bands side by side) or one band per tile (2).  With the horizontal
predictor (``Predictor`` 2) each sample is stored as its difference from the same
band's sample to its left, in the sample's own integer width; the running sum, wrapped
to that width, gives the value back.  :func:`place_tile` does the unpredicting and the
de-interleaving in one pass and writes straight into the caller's ``(bands, rows,
cols)`` window, clipped to it.  The kernel works on unsigned integers: signed and
floating-point samples are handled through an unsigned view of the same width, whose
bit patterns (and wrapped sums) are those of the stored type.
"""

from __future__ import annotations

import numpy as np

from . import jit

__all__ = ["place_tile", "place_tile_unchecked"]


@jit
def _place(buf, spp, src, out, dst, dy, dx, th, tw, pred):  # noqa: ANN001, ANN202
    h, w = out.shape[1], out.shape[2]
    y0, y1 = max(0, -dy), min(th, h - dy)
    x0, x1 = max(0, -dx), min(tw, w - dx)
    if y1 <= y0 or x1 <= x0:
        return
    for y in range(y0, y1):
        base = y * tw * spp
        for j in range(src.shape[0]):
            s = src[j]
            row = out[dst[j], dy + y]
            if pred == 2:
                acc = buf[base + s]
                for x in range(1, x0):  # the running sum starts at the tile's left edge
                    acc = acc + buf[base + x * spp + s]
                if x0 == 0:
                    row[dx] = acc
                for x in range(max(x0, 1), x1):
                    acc = acc + buf[base + x * spp + s]
                    row[dx + x] = acc
            else:
                for x in range(x0, x1):
                    row[dx + x] = buf[base + x * spp + s]


def place_tile(buf: np.ndarray, out: np.ndarray, *, samples: int, src: np.ndarray, dst: np.ndarray,
               dy: int, dx: int, tile_shape: tuple[int, int], predictor: int) -> None:
    """Write the samples ``src`` of one decoded tile into bands ``dst`` of ``out``.

    Parameters
    ----------
    buf : numpy.ndarray
        The tile's decoded bytes viewed as unsigned integers of the sample width, flat,
        ``rows × cols × samples`` long (read-only is fine).
    out : numpy.ndarray
        ``(bands, rows, cols)`` window of the same unsigned dtype, C-contiguous.
    samples : int
        Samples per pixel stored in ``buf`` (1 for a band-per-tile TIFF).
    src, dst : numpy.ndarray
        ``int64``: sample ``src[j]`` of the tile goes to band ``dst[j]`` of ``out``.
    dy, dx : int
        The tile's top-left corner in ``out``'s pixels (negative when it starts above
        or left of the window); only the overlap is written.
    tile_shape : (int, int)
        The tile's rows and columns as stored (edge tiles are stored whole).
    predictor : int
        1 (none) or 2 (horizontal differencing).
    """
    if buf.dtype != out.dtype or out.dtype.kind != "u":
        raise TypeError(f"place_tile works on one unsigned dtype, got {buf.dtype} and {out.dtype}")
    th, tw = tile_shape
    if buf.size < th * tw * samples:
        raise ValueError(f"a {th}x{tw} tile of {samples} samples needs {th * tw * samples} values, got {buf.size}")
    if predictor not in (1, 2):
        raise ValueError(f"predictor {predictor} is not supported here")
    if src.shape != dst.shape or (src.size and (src.min() < 0 or src.max() >= samples
                                                or dst.min() < 0 or dst.max() >= out.shape[0])):
        raise ValueError("src and dst must pair samples of the tile with bands of the window")
    _place(buf, samples, src, out, dst, dy, dx, th, tw, predictor)


#: :func:`place_tile` without its checks, for a caller that made them once for a run of
#: tiles of the same shape, bands and dtype (:func:`sinks.tiffblocks.read_window`):
#: ``place_tile_unchecked(buf, samples, src, out, dst, dy, dx, tile_height, tile_width, predictor)``.
place_tile_unchecked = _place
