"""GDAL settings sinks applies to every read and write of a run (and passes to child processes)."""

from __future__ import annotations

import logging
import os

__all__ = ["GDAL_CACHE_MB", "gdal_cache_options"]

log = logging.getLogger("sinks")

#: GDAL block cache of a run (MB): enough for the reads in flight, small enough that the
#: blocks of the layers being read or written cannot grow the process with the raster.
GDAL_CACHE_MB = 128
_CACHE_ENV_SET_HERE = False


def gdal_cache_options() -> dict[str, int]:
    """Cap GDAL's block cache at :data:`GDAL_CACHE_MB` unless the user set ``GDAL_CACHEMAX``.

    Returns the option for ``rasterio.Env`` (empty when the user's value stands), and
    also sets ``GDAL_CACHEMAX`` in the environment: the exactextract and pyogrio wheels
    each carry their own GDAL, which sizes its cache from the environment when it first
    needs it (default 5 % of RAM, 1.2 GB on a 24 GB machine, which a 400 Mpx zonal pass
    fills), and child processes inherit it.  A GDAL that already sized its cache keeps it.
    """
    global _CACHE_ENV_SET_HERE
    if os.environ.get("GDAL_CACHEMAX") and not _CACHE_ENV_SET_HERE:
        return {}
    if not _CACHE_ENV_SET_HERE:
        os.environ["GDAL_CACHEMAX"] = str(GDAL_CACHE_MB)
        _CACHE_ENV_SET_HERE = True
        log.debug("GDAL_CACHEMAX set to %d MB for this process and its children", GDAL_CACHE_MB)
    return {"GDAL_CACHEMAX": GDAL_CACHE_MB * 1024 * 1024}
