"""Connected patches of equal value (4- or 8-connected), labelled in one pass."""

from __future__ import annotations

import numpy as np

from . import jit

__all__ = ["label_equal", "max_provisional"]


def max_provisional(img: np.ndarray) -> int:
    """An upper bound of the provisional labels :func:`_label_equal` opens on ``img``, plus one:
    the runs of equal non-zero values along the rows (a pixel opens a label only where its
    left neighbour differs)."""
    img = np.asarray(img)
    if img.size == 0:
        return 1
    starts = np.count_nonzero(img[:, 0]) + np.count_nonzero((img[:, 1:] != img[:, :-1]) & (img[:, 1:] != 0))
    return int(starts) + 1


@jit
def _find(parent, i):  # noqa: ANN001, ANN202
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@jit
def _union(parent, a, b):  # noqa: ANN001, ANN202
    ra, rb = _find(parent, a), _find(parent, b)
    if ra < rb:
        parent[rb] = ra
    elif rb < ra:
        parent[ra] = rb


@jit
def _label_equal(img, eight, labels, parent):  # noqa: ANN001, ANN202
    """One raster pass with union-find on provisional labels.  Under 8-connectivity, if the
    pixel above has the same value, every other labelled neighbour of that value (left,
    upper left, upper right) touches it too, so its label is taken with no union;
    otherwise only the upper-right neighbour can join two provisional labels.  A patch's
    smallest provisional label is that of its first pixel in scan order: its root.

    ``parent`` (int64) holds one entry per provisional label: a pixel opens a label only
    where its left neighbour differs, so :func:`max_provisional` entries suffice (a fixed
    array: growing it inside the loop made the kernel take three times as long to compile).
    """
    h, w = img.shape
    parent[0] = 0
    nxt = 1
    for y in range(h):
        for x in range(w):
            v = img[y, x]
            if v == 0:
                labels[y, x] = 0
                continue
            up = labels[y - 1, x] if y > 0 and img[y - 1, x] == v else 0
            left = labels[y, x - 1] if x > 0 and img[y, x - 1] == v else 0
            lab = 0
            if eight:
                if up:  # left, upper left and upper right, if equal, all touch the pixel above
                    labels[y, x] = up
                    continue
                if left == 0 and y > 0 and x > 0 and img[y - 1, x - 1] == v:
                    left = labels[y - 1, x - 1]
                ne = labels[y - 1, x + 1] if y > 0 and x + 1 < w and img[y - 1, x + 1] == v else 0
                lab = left if left else ne
                if left and ne:
                    _union(parent, left, ne)
            else:
                lab = up if up else left
                if up and left:
                    _union(parent, up, left)
            if lab == 0:
                parent[nxt] = nxt
                lab = nxt
                nxt += 1
            labels[y, x] = lab
    final = np.zeros(nxt, dtype=np.int64)
    count = 0
    for i in range(1, nxt):
        r = _find(parent, i)
        if r == i:
            count += 1
            final[i] = count
        else:
            final[i] = final[r]
    sizes = np.zeros(count + 1, dtype=np.int64)
    values = np.zeros(count + 1, dtype=np.int64)
    first = np.full(count + 1, -1, dtype=np.int64)
    for y in range(h):
        for x in range(w):
            lab = labels[y, x]
            if lab:
                lab = final[lab]
                labels[y, x] = lab
                sizes[lab] += 1
                values[lab] = img[y, x]
                if first[lab] < 0:
                    first[lab] = y * w + x
    return sizes, values, first


def label_equal(img: np.ndarray, *, connectivity: int = 8
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Label patches of equal non-zero value.

    Parameters
    ----------
    img : numpy.ndarray
        Integer ``(rows, cols)`` image; 0 is background.
    connectivity : {8, 4}

    Returns
    -------
    (labels, sizes, values, first)
        ``int32`` labels (1.. in raster-scan order of each patch's first pixel, 0 for
        background), and per label (index 0 unused) its pixel count, its value and the
        flat index of its first pixel.
    """
    img = np.ascontiguousarray(img)
    labels = np.empty(img.shape, dtype=np.int32)
    parent = np.empty(max_provisional(img), dtype=np.int64)
    sizes, values, first = _label_equal(img, connectivity == 8, labels, parent)
    return labels, sizes, values, first
