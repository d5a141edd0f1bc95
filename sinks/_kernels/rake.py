"""Iterative proportional fitting of many small matrices at once (:func:`sinks.uncertainty.rake`).

The matrices are held cell-major, ``(K, K, n)``: each cell of all ``n`` matrices is one
contiguous vector.  :func:`rake_steps` fits one slice of the matrices, a few dozen at a
time so that the slice stays in the processor's cache through all its iterations, and
adds exactly as the numpy formulation does (a row's ``K`` cells in numpy's pairwise
order, a column's in row order), so the result is the same to the bit.
"""

from __future__ import annotations

import numpy as np

from . import jit

__all__ = ["rake_steps"]


@jit
def _row_sums(y, rs):  # noqa: ANN001, ANN202
    """``rs[i] = y[i].sum(axis=0)`` in numpy's pairwise order for ``K`` terms (``K <= 128``)."""
    k, m = y.shape[0], y.shape[2]
    for i in range(k):
        yi = y[i]
        out = rs[i]
        if k < 8:
            for d in range(m):
                out[d] = yi[0, d]
            for j in range(1, k):
                row = yi[j]
                for d in range(m):
                    out[d] += row[d]
            continue
        top = k - k % 8
        for d in range(m):
            a0, a1, a2, a3 = yi[0, d], yi[1, d], yi[2, d], yi[3, d]
            a4, a5, a6, a7 = yi[4, d], yi[5, d], yi[6, d], yi[7, d]
            j = 8
            while j < top:
                a0 += yi[j, d]
                a1 += yi[j + 1, d]
                a2 += yi[j + 2, d]
                a3 += yi[j + 3, d]
                a4 += yi[j + 4, d]
                a5 += yi[j + 5, d]
                a6 += yi[j + 6, d]
                a7 += yi[j + 7, d]
                j += 8
            res = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
            for q in range(top, k):
                res += yi[q, d]
            out[d] = res


@jit
def _factors(target, sums, f, tol):  # noqa: ANN001, ANN202
    """``f = target / sums`` where ``sums > 0``, else 1; returns how many factors are not
    within ``tol`` of 1 and how many of those are NaN.  One flat loop without a running
    maximum, so the compiler vectorises the divisions, which take most of an iteration."""
    k, m = f.shape
    t, s, out = target.reshape(k * m), sums.reshape(k * m), f.reshape(k * m)
    far = 0
    nan = 0
    for d in range(k * m):
        v = t[d] / s[d]
        v = v if s[d] > 0 else 1.0
        out[d] = v
        e = abs(v - 1.0)
        far += not e < tol
        nan += e != e
    return far, nan


@jit
def _worst(f):  # noqa: ANN001, ANN202
    """The largest ``|f - 1|`` (NaN if any factor is NaN, as ``numpy.max`` would give)."""
    worst = 0.0
    nan = False
    k, m = f.shape
    for i in range(k):
        fi = f[i]
        for d in range(m):
            e = abs(fi[d] - 1.0)
            nan |= e != e
            worst = max(worst, e)
    return np.nan if nan else worst


@jit
def rake_steps(y, r, c, steps, tol, stop):  # noqa: ANN001, ANN201
    """Up to ``steps`` iterations of fitting ``y`` (``(K, K, m)``, in place) to row sums
    ``r`` and column sums ``c`` (``(K, m)``).

    With ``stop``, returns after the first iteration whose row and column factors are all
    within ``tol`` of 1.  Returns ``(iterations run, largest |factor - 1| of the last)``.
    Scaling the rows and summing the columns are one sweep over the cells; the column sums
    still add in row order.
    """
    k, m = y.shape[0], y.shape[2]
    rs = np.empty((k, m))
    cs = np.empty((k, m))
    fr = np.empty((k, m))
    fc = np.empty((k, m))
    if steps <= 0:
        return 0, np.inf
    flat = y.reshape((k, k * m))
    fc_flat = fc.reshape(k * m)
    for it in range(steps):
        _row_sums(y, rs)
        far_r, nan_r = _factors(r, rs, fr, tol)
        for i in range(k):
            fi = fr[i]
            for j in range(k):
                cell = y[i, j]
                out = cs[j]
                if i == 0:
                    for d in range(m):
                        v = cell[d] * fi[d]
                        cell[d] = v
                        out[d] = v
                else:
                    for d in range(m):
                        v = cell[d] * fi[d]
                        cell[d] = v
                        out[d] += v
        far_c = _factors(c, cs, fc, tol)[0]
        for i in range(k):
            row = flat[i]
            for d in range(k * m):
                row[d] *= fc_flat[d]
        # the error below is max(ec, er) as Python's max takes it: a NaN among the row
        # factors is passed over, one among the column factors is the error
        if stop and tol > 0 and far_c == 0 and (far_r == 0 or nan_r > 0):
            steps = it + 1
            break
    er, ec = _worst(fr), _worst(fc)
    return steps, er if er > ec else ec  # max(ec, er) as Python's max does it, NaN included
