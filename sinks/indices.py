"""Spectral indices as pure numpy-or-dask functions.

Formulas (domain.md §5; band roles as in :mod:`sinks.sensors`):

=====  ==================================  ==============================
index  formula                             reference
=====  ==================================  ==============================
NDVI   (N − R) / (N + R)                   Rouse et al. 1974
EVI    2.5 (N − R) / (N + 6R − 7.5B + 1)   Huete et al. 2002
NDWI   (G − N) / (G + N)                   McFeeters 1996
MNDWI  (G − S1) / (G + S1)                 Xu 2006
NDBI   (S1 − N) / (S1 + N)                 Zha et al. 2003
MVI    |N − G| / |S1 − G|                  Baloloy et al. 2020 (as published)
NDMI   (N − S1) / (N + S1)                 Wilson & Sader 2002
=====  ==================================  ==============================

Every function takes reflectance (not digital numbers) as numpy arrays, dask
arrays or xarray objects and returns float32 of the same kind.  ``NaN`` in any
input gives ``NaN``; a zero (or, for EVI, vanishing) denominator gives ``NaN``
instead of ``inf``, so nodata never turns into a value.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import BandMismatchError, ConfigError

__all__ = [
    "INDICES",
    "ndvi",
    "evi",
    "ndwi",
    "mndwi",
    "ndbi",
    "mvi",
    "ndmi",
    "normalized_difference",
    "safe_ratio",
    "index_bands",
    "compute_indices",
]

_TINY = 1e-6


def safe_ratio(num: Any, den: Any) -> Any:
    """``num / den`` as float32, ``NaN`` where ``|den|`` is below 1e-6 or an input is NaN."""
    num = num.astype(np.float32) if hasattr(num, "astype") else np.float32(num)
    den = den.astype(np.float32) if hasattr(den, "astype") else np.float32(den)
    ok = abs(den) > _TINY
    # where() keeps the lazy kind (numpy / dask / xarray) of the inputs.
    safe_den = _where(ok, den, np.float32(1.0))
    return _where(ok, num / safe_den, np.float32(np.nan)).astype(np.float32)


def _where(cond: Any, a: Any, b: Any) -> Any:
    if hasattr(cond, "dims"):  # xarray
        import xarray as xr

        return xr.where(cond, a, b, keep_attrs=True)
    if type(cond).__module__.startswith("dask"):
        import dask.array as da

        return da.where(cond, a, b)
    return np.where(cond, a, b)


def normalized_difference(a: Any, b: Any) -> Any:
    """``(a − b) / (a + b)``, NaN-safe."""
    return safe_ratio(a - b, a + b)


def ndvi(*, nir: Any, red: Any, **_: Any) -> Any:
    """Normalized difference vegetation index."""
    return normalized_difference(nir, red)


def evi(*, nir: Any, red: Any, blue: Any, **_: Any) -> Any:
    """Enhanced vegetation index (MODIS coefficients G=2.5, C1=6, C2=7.5, L=1)."""
    return safe_ratio(2.5 * (nir - red), nir + 6.0 * red - 7.5 * blue + 1.0)


def ndwi(*, green: Any, nir: Any, **_: Any) -> Any:
    """McFeeters' normalized difference water index."""
    return normalized_difference(green, nir)


def mndwi(*, green: Any, swir1: Any, **_: Any) -> Any:
    """Xu's modified NDWI (green vs short-wave infrared)."""
    return normalized_difference(green, swir1)


def ndbi(*, swir1: Any, nir: Any, **_: Any) -> Any:
    """Normalized difference built-up index."""
    return normalized_difference(swir1, nir)


def mvi(*, nir: Any, green: Any, swir1: Any, **_: Any) -> Any:
    """Mangrove vegetation index, ``|N − G| / |S1 − G|`` (Baloloy et al. 2020)."""
    return safe_ratio(abs(nir - green), abs(swir1 - green))


def ndmi(*, nir: Any, swir1: Any, **_: Any) -> Any:
    """Normalized difference moisture index."""
    return normalized_difference(nir, swir1)


#: name → (function, roles it needs)
INDICES: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {
    "ndvi": (ndvi, ("nir", "red")),
    "evi": (evi, ("nir", "red", "blue")),
    "ndwi": (ndwi, ("green", "nir")),
    "mndwi": (mndwi, ("green", "swir1")),
    "ndbi": (ndbi, ("swir1", "nir")),
    "mvi": (mvi, ("nir", "green", "swir1")),
    "ndmi": (ndmi, ("nir", "swir1")),
}


def index_bands(names: Sequence[str]) -> tuple[str, ...]:
    """The band roles needed for ``names``, in canonical order."""
    from .sensors import REFLECTANCE_ROLES

    need: set[str] = set()
    for n in names:
        key = n.lower()
        if key not in INDICES:
            raise ConfigError(f"unknown index {n!r}; known: {', '.join(INDICES)}")
        need.update(INDICES[key][1])
    return tuple(r for r in REFLECTANCE_ROLES if r in need)


def compute_indices(refl: Any, names: Sequence[str] | None = None) -> Any:
    """Lazy indices of one acquisition.

    Parameters
    ----------
    refl : xarray.DataArray or mapping of role to array
        Reflectance with a ``band`` dimension whose coordinate holds band roles
        (as returned by :func:`sinks.io.open_scene`), or ``{role: array}``.
    names : sequence of str, optional
        Indices to compute (default: all of :data:`INDICES`).

    Returns
    -------
    xarray.Dataset or dict
        One float32 variable per index (a dict when ``refl`` is a mapping).

    Raises
    ------
    BandMismatchError
        A needed band role is not present.
    """
    names = [n.lower() for n in (names or list(INDICES))]
    index_bands(names)  # validates names
    if isinstance(refl, Mapping):
        bands = dict(refl)
        have = set(bands)
    else:
        have = set(str(b) for b in refl.band.values)
        bands = {}
    out: dict[str, Any] = {}
    for n in names:
        fn, roles = INDICES[n]
        missing = [r for r in roles if r not in have]
        if missing:
            raise BandMismatchError(f"index {n.upper()} needs band role(s) {', '.join(missing)}")
        if isinstance(refl, Mapping):
            args = {r: bands[r] for r in roles}
        else:
            args = {r: refl.sel(band=r, drop=True) for r in roles}
        res = fn(**args)
        if hasattr(res, "name"):
            res.name = n
            res.attrs = {"long_name": n.upper(), "units": "1"}
        out[n] = res
    if isinstance(refl, Mapping):
        return out
    import xarray as xr

    return xr.Dataset(out)
