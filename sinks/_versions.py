"""Versions of sinks and its geospatial stack (``sinks --show-versions``, manifests)."""

from __future__ import annotations

import platform
from importlib import metadata

from . import __version__

_PACKAGES = ("numpy", "dask", "xarray", "rasterio", "rioxarray", "geopandas", "shapely", "pyproj",
             "exactextract", "scikit-learn", "pydantic")


def versions() -> dict[str, str]:
    """Return ``{name: version}`` for sinks, Python, GDAL, PROJ, GEOS and key packages."""
    out: dict[str, str] = {"sinks": __version__, "python": platform.python_version()}
    try:
        import rasterio

        out["GDAL"] = rasterio.__gdal_version__
    except Exception:  # pragma: no cover - rasterio is a hard dependency
        out["GDAL"] = "unavailable"
    try:
        import pyproj

        out["PROJ"] = pyproj.proj_version_str
    except Exception:  # pragma: no cover
        out["PROJ"] = "unavailable"
    try:
        import shapely

        out["GEOS"] = shapely.geos_version_string
    except Exception:  # pragma: no cover
        out["GEOS"] = "unavailable"
    for pkg in _PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out
