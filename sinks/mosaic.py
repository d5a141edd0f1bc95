"""How overlapping tiles combine into one block: named, swappable mosaic methods.

Every reader that mosaics tiles (the lazy scene reader in :mod:`sinks.io`, its
digital-number variant, and the decimated threshold sample in
:mod:`sinks.classify.sample`) visits the tiles overlapping a block in the method's
:meth:`MosaicMethod.order` and hands each tile's pixels to :meth:`MosaicMethod.fill`
(decoded to float32 reflectance) or :meth:`MosaicMethod.fill_dn` (digital numbers as
stored).  A pixel is taken from a tile only where every band is valid (not nodata,
finite, allowed by the QA and warp masks), so a mosaicked pixel never mixes tiles.
The methods are looked up by name (:data:`MOSAIC_METHODS`), as rasterio.merge's
``MERGE_METHODS`` are, so a task graph carries a short name rather than an object.
"""

from __future__ import annotations

import abc
from typing import ClassVar, Sequence, TypeVar

import numpy as np

from .errors import ConfigError

__all__ = ["MosaicMethod", "FirstValid", "LastValid", "MOSAIC_METHODS", "DEFAULT_MOSAIC", "mosaic_method"]

T = TypeVar("T")


class MosaicMethod(abc.ABC):
    """A rule for which tile fills each pixel of a block."""

    #: the name a spec, a graph or a caller uses for the method
    name: ClassVar[str]

    def order(self, tiles: Sequence[T]) -> list[T]:
        """The tiles in the order they are offered to :meth:`fill` (as given by default)."""
        return list(tiles)

    @abc.abstractmethod
    def fill(self, out: np.ndarray, filled: np.ndarray, data: np.ndarray, *, nodata: np.ndarray, scale: float,
             offset: float, row: int = 0, col: int = 0, valid: np.ndarray | None = None,
             first: bool = False) -> int:
        """Write one tile's ``(bands, h, w)`` digital numbers at ``(row, col)`` of the float32
        block ``out`` as reflectance (``DN × scale + offset``), marking ``filled``.

        ``first``: no tile has written to the block yet.  Returns the number of pixels
        settled by this tile (the reader stops once every pixel is settled).
        """

    @abc.abstractmethod
    def fill_dn(self, out: np.ndarray, filled: np.ndarray, data: np.ndarray, *, nodata: int, row: int = 0,
                col: int = 0, valid: np.ndarray | None = None) -> int:
        """:meth:`fill` for digital numbers copied as stored (``out`` starts as ``nodata``)."""

    def finish(self, out: np.ndarray, filled: np.ndarray) -> None:
        """Mark the pixels no tile filled as missing (NaN in every band of a float block)."""
        from ._kernels.mosaic import blank_unfilled

        blank_unfilled(out, filled)


class FirstValid(MosaicMethod):
    """The first tile, in the order given, with a valid pixel wins (the default).

    Tiles are listed in the spec's order, so a user puts the preferred acquisition or
    processing baseline first; compiled kernels do the work
    (:mod:`sinks._kernels.mosaic`).
    """

    name = "first"

    def fill(self, out: np.ndarray, filled: np.ndarray, data: np.ndarray, *, nodata: np.ndarray, scale: float,
             offset: float, row: int = 0, col: int = 0, valid: np.ndarray | None = None,
             first: bool = False) -> int:
        from ._kernels.mosaic import fill_first_valid

        return fill_first_valid(out, filled, data, nodata=nodata, scale=scale, offset=offset, row=row, col=col,
                                valid=valid, first=first)

    def fill_dn(self, out: np.ndarray, filled: np.ndarray, data: np.ndarray, *, nodata: int, row: int = 0,
                col: int = 0, valid: np.ndarray | None = None) -> int:
        from ._kernels.mosaic import fill_first_valid_dn

        return fill_first_valid_dn(out, filled, data, nodata=nodata, row=row, col=col, valid=valid)


class LastValid(FirstValid):
    """The last tile, in the order given, with a valid pixel wins (rasterio.merge's ``last``)."""

    name = "last"

    def order(self, tiles: Sequence[T]) -> list[T]:
        return list(tiles)[::-1]


#: The mosaic methods by name.
MOSAIC_METHODS: dict[str, MosaicMethod] = {m.name: m for m in (FirstValid(), LastValid())}

#: The method used unless one is asked for.
DEFAULT_MOSAIC = "first"


def mosaic_method(method: str | MosaicMethod = DEFAULT_MOSAIC) -> MosaicMethod:
    """The method named ``method`` (or ``method`` itself when it is one).

    Raises
    ------
    ConfigError
        No method has that name.
    """
    if isinstance(method, MosaicMethod):
        return method
    try:
        return MOSAIC_METHODS[method]
    except (KeyError, TypeError):
        raise ConfigError(f"mosaic method {method!r}: expected one of {', '.join(MOSAIC_METHODS)}") from None
