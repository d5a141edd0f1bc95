"""Exception and warning tree of sinks.

Every error subclasses :class:`SinksError` and a matching standard-library type, so
callers may catch either.  Errors that are the user's fault (bad files, bad specs,
bad options) derive from :class:`InputError`; the CLI maps those to exit status 2 and
prints their one-line message.  Everything else is exit status 1.
"""

from __future__ import annotations

__all__ = [
    "first_line",
    "SinksError",
    "InputError",
    "ConfigError",
    "SpecError",
    "TileReadError",
    "CRSMismatchError",
    "GridMismatchError",
    "BandMismatchError",
    "NoOverlapError",
    "VectorError",
    "ModelError",
    "CoefficientError",
    "OutputExistsError",
    "RunLockedError",
    "IncompleteRunError",
    "OutputWriteError",
    "SinksWarning",
    "EmptyZoneWarning",
    "GeometryRepairedWarning",
    "NonFiniteWarning",
]


class SinksError(Exception):
    """Base class of every error raised by sinks."""


class InputError(SinksError):
    """The user's input (file, option, spec) is wrong; the CLI exits with status 2."""


class ConfigError(InputError, ValueError):
    """An option or configuration value is invalid."""


class SpecError(ConfigError):
    """A pipeline spec failed validation.

    Parameters
    ----------
    message : str
        One-line summary.
    problems : list of str, optional
        Every problem found, each naming its key.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class TileReadError(InputError, OSError):
    """A raster could not be opened or read (missing, truncated, not a raster)."""


class CRSMismatchError(InputError, ValueError):
    """A dataset lacks a CRS or its CRS cannot be reconciled with the target grid."""


class GridMismatchError(InputError, ValueError):
    """Two rasters that must share a grid do not."""


class BandMismatchError(InputError, ValueError):
    """Band count or band roles do not match the sensor profile or the model."""


class NoOverlapError(InputError, ValueError):
    """Tiles, AOI or samples do not overlap the target grid."""


class VectorError(InputError, OSError):
    """A vector file is missing, empty, lacks a field or a CRS."""


class ModelError(InputError, ValueError):
    """A classifier model file is invalid, untrusted or incompatible with the image."""


class CoefficientError(InputError, ValueError):
    """A carbon coefficient table is malformed or incomplete."""


class OutputExistsError(InputError, FileExistsError):
    """An output exists and ``overwrite`` was not given."""


class RunLockedError(InputError, OSError):
    """Another sinks run holds the output folder's lock (the message names its pid and host)."""


class IncompleteRunError(InputError, ValueError):
    """A run folder whose run did not finish (its marker is not ``complete``)."""


class OutputWriteError(SinksError, OSError):
    """An output could not be written (disk full, I/O error); the message names the file."""


class SinksWarning(UserWarning):
    """Base class of warnings issued by sinks."""


class EmptyZoneWarning(SinksWarning):
    """A zone polygon does not touch any valid pixel."""


class GeometryRepairedWarning(SinksWarning):
    """An invalid geometry was repaired."""


class NonFiniteWarning(SinksWarning):
    """A float raster holds ±inf; those pixels are treated as nodata."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none), for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
