"""Compiled per-pixel kernels (numba) for the hot loops of the raster pipeline.

Each kernel makes one pass over a block where numpy would make a dozen (one
temporary array per operation): mosaicking digital numbers into reflectance
(:mod:`.mosaic`), the rule-based classifier (:mod:`.rules`) and the neighbour vote
of the minimum-mapping-unit sieve (:mod:`.sieve`).  They are compiled on first use
and cached on disk (``cache=True``), and release the GIL (``nogil=True``) so dask's
threads run them in parallel.  Arithmetic is ``float32`` exactly as the numpy
formulation would do it (no fast-math), so results do not depend on which is used.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["jit"]


def jit(func: Callable[..., Any] | None = None, *, inline: str = "never") -> Any:
    """``numba.njit`` with the project's settings (cached, GIL released, numpy division semantics).

    ``@jit(inline="always")`` marks a helper that numba copies into each kernel calling
    it, so the compiler optimises the two as one loop nest.
    """
    from numba import njit

    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        return njit(cache=True, nogil=True, error_model="numpy", inline=inline)(f)

    return wrap if func is None else wrap(func)
