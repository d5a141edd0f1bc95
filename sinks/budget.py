"""The pixel budget: how large a raster one command may process, checked before any graph is built.

A GeoTIFF header can claim any size: a sparse 46 MB file declaring 10⁶ × 10⁶ pixels
would make sinks build a graph of a million blocks per layer and run for hours.  Every
command that computes over a whole raster (``run``, each ``batch`` region, ``classify``,
``train``, ``carbon``, and ``validate``, which reports it) first compares the pixels it
would process with the budget and stops with exit status 2, naming the raster and its
size, when they exceed it.

The default, :data:`DEFAULT_MAX_PIXELS` = 4 × 10⁹ pixels per layer (a 63,000-pixel
square: 630 km at 10 m), is sized for a 2-core machine with 24 GB of memory: ten times the
largest measured run (400 Mpx per date in about 200 s and 0.8 GB, ``docs/scaling.md``), so
a run at the budget takes some 35 minutes and its graph a few hundred MB.  Larger areas
run as a batch over regions or map sheets, whose grids are each checked.  Override with
``--max-pixels N`` (on the commands above) or the ``SINKS_MAX_PIXELS`` environment variable.

Graph building also stays bounded within the budget: :func:`bounded_chunks` widens the
dask chunks of a large grid so that no layer has more than :data:`MAX_BLOCKS` blocks,
whatever ``grid.chunks`` asks for.
"""

from __future__ import annotations

import logging
import math
import os

from .errors import ConfigError, InputError

__all__ = ["DEFAULT_MAX_PIXELS", "MAX_BLOCKS", "ENV", "PixelBudgetError", "max_pixels", "parse_pixels",
           "check_pixels", "bounded_chunks"]

log = logging.getLogger("sinks")

#: Default largest number of pixels (rows × columns) of one layer.
DEFAULT_MAX_PIXELS = 4_000_000_000
#: Most dask blocks per layer that a graph is built with (chunks are widened beyond it).
MAX_BLOCKS = 16_384
#: Environment variable overriding the budget.
ENV = "SINKS_MAX_PIXELS"


class PixelBudgetError(InputError, ValueError):
    """A raster (or target grid) has more pixels than the budget allows."""


def parse_pixels(value: str | int | float, *, source: str = ENV) -> int:
    """A pixel count from ``"4e9"``, ``"4000000000"`` or ``"4_000_000_000"``; positive."""
    try:
        n = float(str(value).replace("_", "").replace(",", ""))
    except ValueError:
        raise ConfigError(f"{source}: not a number of pixels: {value!r}") from None
    if not math.isfinite(n) or n < 1:
        raise ConfigError(f"{source}: the pixel budget must be a positive number, got {value!r}")
    return int(n)


def max_pixels() -> int:
    """The budget in force: ``SINKS_MAX_PIXELS`` when set, otherwise :data:`DEFAULT_MAX_PIXELS`."""
    env = os.environ.get(ENV, "").strip()
    return parse_pixels(env) if env else DEFAULT_MAX_PIXELS


def check_pixels(width: int, height: int, *, what: str, hint: str = "") -> None:
    """Raise :class:`PixelBudgetError` when a ``width`` × ``height`` raster exceeds the budget.

    Parameters
    ----------
    width, height : int
        Columns and rows.
    what : str
        The raster or grid, for the message (a file name, ``"target grid"`` ...).
    hint : str
        What to do instead (appended to the message).
    """
    n = int(width) * int(height)
    budget = max_pixels()
    if n > budget:
        raise PixelBudgetError(f"{what}: {int(width):,} x {int(height):,} pixels ({n:.3g}) is over the pixel "
                               f"budget of {budget:.3g}; {hint + ', or ' if hint else ''}raise the budget with "
                               f"--max-pixels or {ENV} if this machine can take it")


def bounded_chunks(width: int, height: int, chunks: int) -> int:
    """``chunks`` widened (to a multiple of 256) so a ``width`` × ``height`` layer has at most
    :data:`MAX_BLOCKS` blocks."""
    blocks = math.ceil(width / chunks) * math.ceil(height / chunks)
    if blocks <= MAX_BLOCKS:
        return chunks
    size = chunks
    while math.ceil(width / size) * math.ceil(height / size) > MAX_BLOCKS:
        size = (size // 256 + 1) * 256 if size >= 256 else 256
    log.info("chunks of %d px would cut a %d x %d grid into %d blocks; using %d px", chunks, width, height, blocks,
             size)
    return size
