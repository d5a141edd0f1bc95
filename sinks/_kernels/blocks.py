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

from typing import Callable

import numpy as np

from . import jit

__all__ = ["place_tile", "placer"]


@jit(inline="always")
def _overlap(out, dy, dx, th, tw):  # noqa: ANN001, ANN202
    """Rows ``y0:y1`` and columns ``x0:x1`` of a ``th`` × ``tw`` tile at (``dy``, ``dx``) that fall in ``out``."""
    h, w = out.shape[1], out.shape[2]
    return max(0, -dy), min(th, h - dy), max(0, -dx), min(tw, w - dx)


@jit
def _place(buf, spp, src, out, dst, dy, dx, th, tw, pred):  # noqa: ANN001, ANN202
    y0, y1, x0, x1 = _overlap(out, dy, dx, th, tw)
    if y1 <= y0 or x1 <= x0:
        return
    n = x1 - x0
    # every index below is a non-negative offset into a slice: numba then emits no
    # negative-index wraparound, which otherwise keeps LLVM from streamlining the loops
    for y in range(y0, y1):
        tile_row = buf[y * tw * spp:(y + 1) * tw * spp]
        for j in range(src.shape[0]):
            s = tile_row[src[j]:]
            row = out[dst[j], dy + y, dx + x0:dx + x1]
            if pred == 2:
                acc = s[0]  # the running sum starts at the tile's left edge
                for x in range(1, x0 + 1):
                    acc = acc + s[x * spp]
                row[0] = acc
                for x in range(1, n):
                    acc = acc + s[(x0 + x) * spp]
                    row[x] = acc
            else:
                for x in range(n):
                    row[x] = s[(x0 + x) * spp]


@jit(inline="always")
def _add6(r, i, a0, a1, a2, a3, a4, a5):  # noqa: ANN001, ANN202
    """The six running sums plus the pixel's samples at ``r[i:i + 6]``."""
    return a0 + r[i], a1 + r[i + 1], a2 + r[i + 2], a3 + r[i + 3], a4 + r[i + 4], a5 + r[i + 5]


@jit
def _place6(buf, dst, out, dy, dx, th, tw, pred):  # noqa: ANN001, ANN202
    # a six-sample tile whose samples all go to the window (sample k to band dst[k]): the
    # stride is a constant and each band's running sum a scalar of its own, so the
    # compiler keeps all six in registers and folds the addressing
    y0, y1, x0, x1 = _overlap(out, dy, dx, th, tw)
    if y1 <= y0 or x1 <= x0:
        return
    n = x1 - x0
    d0, d1, d2, d3, d4, d5 = dst[0], dst[1], dst[2], dst[3], dst[4], dst[5]
    for y in range(y0, y1):
        r = buf[y * tw * 6:(y + 1) * tw * 6]
        o0 = out[d0, dy + y, dx + x0:dx + x1]
        o1 = out[d1, dy + y, dx + x0:dx + x1]
        o2 = out[d2, dy + y, dx + x0:dx + x1]
        o3 = out[d3, dy + y, dx + x0:dx + x1]
        o4 = out[d4, dy + y, dx + x0:dx + x1]
        o5 = out[d5, dy + y, dx + x0:dx + x1]
        if pred == 2:
            # the running sums start at the tile's left edge: first over the pixels left of the window
            a0 = a1 = a2 = a3 = a4 = a5 = r[0] - r[0]  # zero of the samples' type (uint64 stays integer)
            for x in range(x0):
                a0, a1, a2, a3, a4, a5 = _add6(r, x * 6, a0, a1, a2, a3, a4, a5)
            p = r[x0 * 6:]
            for x in range(n):
                a0, a1, a2, a3, a4, a5 = _add6(p, x * 6, a0, a1, a2, a3, a4, a5)
                o0[x], o1[x], o2[x], o3[x], o4[x], o5[x] = a0, a1, a2, a3, a4, a5
        else:
            p = r[x0 * 6:]
            for x in range(n):
                i = x * 6
                o0[x], o1[x], o2[x], o3[x], o4[x], o5[x] = p[i], p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5]


@jit
def _place1(buf, band, out, dy, dx, th, tw, pred):  # noqa: ANN001, ANN202
    # a one-sample tile (a land-cover map, a band-per-tile TIFF): rows of consecutive
    # samples, which the compiler copies as blocks (the general kernel's run-time stride
    # keeps it to one sample at a time)
    y0, y1, x0, x1 = _overlap(out, dy, dx, th, tw)
    if y1 <= y0 or x1 <= x0:
        return
    n = x1 - x0
    for y in range(y0, y1):
        r = buf[y * tw:(y + 1) * tw]
        o = out[band, dy + y, dx + x0:dx + x1]
        if pred == 2:
            acc = r[0]  # the running sum starts at the tile's left edge
            for x in range(1, x0 + 1):
                acc = acc + r[x]
            o[0] = acc
            for x in range(1, n):
                acc = acc + r[x0 + x]
                o[x] = acc
        else:
            p = r[x0:x1]
            for x in range(n):
                o[x] = p[x]


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
    placer(samples, src, dst)(buf, out, dy, dx, th, tw, predictor)


def placer(samples: int, src: np.ndarray, dst: np.ndarray) -> Callable[..., None]:
    """:func:`place_tile` without its checks, for a caller that made them once for a run of
    tiles of the same shape, bands and dtype (:func:`sinks.tiffblocks.read_window`):
    ``placer(samples, src, dst)(buf, out, dy, dx, tile_height, tile_width, predictor)``.

    A tile of six samples that all go to the window (the stacks of every packaged sensor
    profile) has a kernel of its own: 0.18 ms against 0.35 for a 256 × 256 tile with the
    predictor, as a constant stride lets the compiler keep the six running sums in registers.
    So does a tile of one sample (a land-cover map, a band-per-tile TIFF), whose rows the
    compiler copies as blocks.
    """
    src = np.ascontiguousarray(src, dtype=np.int64)
    dst = np.ascontiguousarray(dst, dtype=np.int64)
    if samples == 6 and src.size == 6 and np.array_equal(np.sort(src), np.arange(6)):
        order = np.empty(6, np.int64)
        order[src] = dst

        def six(buf: np.ndarray, out: np.ndarray, dy: int, dx: int, th: int, tw: int, predictor: int) -> None:
            _place6(buf, order, out, dy, dx, th, tw, predictor)

        return six
    if samples == 1 and src.size == 1:
        band = int(dst[0])

        def one(buf: np.ndarray, out: np.ndarray, dy: int, dx: int, th: int, tw: int, predictor: int) -> None:
            _place1(buf, band, out, dy, dx, th, tw, predictor)

        return one

    def general(buf: np.ndarray, out: np.ndarray, dy: int, dx: int, th: int, tw: int, predictor: int) -> None:
        _place(buf, samples, src, out, dst, dy, dx, th, tw, predictor)

    return general
