"""Per-pixel features for the supervised classifier: bands, indices and neighbourhood texture.

For each acquisition ``d`` (stacked "dates"): the reflectance of every band role
(``d0_nir`` …), the indices of :mod:`sinks.indices` (``d0_ndvi`` …) and, with
``texture``, the 5 × 5 mean and standard deviation of NDVI, MNDWI and NIR
(``d0_ndvi_mean5``, ``d0_ndvi_std5`` …).  The ``extended`` set adds NBR and BSI of
every acquisition (the SWIR contrasts the rules use) and, with several acquisitions,
the minimum, median, maximum and amplitude of NDVI, MNDWI and NBR across them
(``all_ndvi_min`` …), the phenology of a seasonal stack.  Texture is computed with dask
``map_overlap`` (halo 2), so block edges are exact and the features do not depend on
the chunk size.  Float32; NaN wherever an input is NaN.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["feature_names", "feature_block", "feature_stack", "TEXTURE_OF", "WINDOW", "FEATURE_SETS"]

INDEX_NAMES = ("ndvi", "evi", "ndwi", "mndwi", "ndbi", "mvi", "ndmi")
EXTRA_NAMES = ("nbr", "bsi")
ACROSS_OF = ("ndvi", "mndwi", "nbr")
ACROSS_STATS = ("min", "median", "max", "amplitude")
TEXTURE_OF = ("ndvi", "mndwi", "nir")
WINDOW = 5
#: Feature sets a model can be trained on.
FEATURE_SETS = ("standard", "extended")


def feature_names(roles: Sequence[str], n_dates: int, *, texture: bool, features: str = "standard") -> list[str]:
    """Names of the features, in the order of :func:`feature_block`'s output."""
    per: list[str] = [*roles, *INDEX_NAMES]
    if features == "extended" and {"blue", "red", "nir", "swir1", "swir2"} <= set(roles):
        per += list(EXTRA_NAMES)
    if texture:
        per += [f"{v}_{s}{WINDOW}" for v in TEXTURE_OF for s in ("mean", "std")]
    names = [f"d{d}_{n}" for d in range(n_dates) for n in per]
    if features == "extended" and n_dates > 1:
        names += [f"all_{v}_{s}" for v in _across(roles) for s in ACROSS_STATS]
    return names


def _across(roles: Sequence[str]) -> tuple[str, ...]:
    return tuple(v for v in ACROSS_OF if v != "nbr" or {"nir", "swir2"} <= set(roles))


def _nd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((a - b) / (a + b)).astype(np.float32)


def _box_mean(a: np.ndarray, w: int) -> np.ndarray:
    from scipy import ndimage

    ok = np.isfinite(a)
    num = ndimage.uniform_filter(np.where(ok, a, 0.0).astype(np.float64), w, mode="constant")
    den = ndimage.uniform_filter(ok.astype(np.float64), w, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def feature_block(stack: np.ndarray, roles: Sequence[str], *, texture: bool, features: str = "standard"
                  ) -> np.ndarray:
    """Features ``(n_features, rows, cols)`` of a block ``(n_dates, n_roles, rows, cols)``."""
    from ..indices import compute_indices

    out = []
    extra = features == "extended" and {"blue", "red", "nir", "swir1", "swir2"} <= set(roles)
    across: dict[str, list[np.ndarray]] = {v: [] for v in _across(roles)}
    for d in range(stack.shape[0]):
        bands = {r: stack[d, i].astype(np.float32) for i, r in enumerate(roles)}
        idx = compute_indices(bands, [n for n in INDEX_NAMES])
        out.extend(bands[r] for r in roles)
        out.extend(np.asarray(idx[n], dtype=np.float32) for n in INDEX_NAMES)
        if extra:
            out.append(_nd(bands["nir"], bands["swir2"]))
            out.append(_nd(bands["swir1"] + bands["red"], bands["nir"] + bands["blue"]))
        if features == "extended":
            for v in across:
                across[v].append(_nd(bands["nir"], bands["swir2"]) if v == "nbr" else np.asarray(idx[v], np.float32))
        if texture:
            src = {"ndvi": idx["ndvi"], "mndwi": idx["mndwi"], "nir": bands["nir"]}
            for v in TEXTURE_OF:
                a = np.asarray(src[v], dtype=np.float64)
                m = _box_mean(a, WINDOW)
                sq = _box_mean(a * a, WINDOW)
                sd = np.sqrt(np.maximum(sq - m * m, 0.0))
                nan = ~np.isfinite(a)
                out.append(np.where(nan, np.nan, m).astype(np.float32))
                out.append(np.where(nan, np.nan, sd).astype(np.float32))
    if features == "extended" and stack.shape[0] > 1:
        for v, series in across.items():
            st = np.stack(series)
            lo, med, hi = np.min(st, axis=0), np.median(st, axis=0), np.max(st, axis=0)   # NaN where any date is
            out.extend([lo, med.astype(np.float32), hi, hi - lo])
    return np.stack(out)


def feature_stack(scenes: Sequence[Any], roles: Sequence[str], *, texture: bool, features: str = "standard") -> Any:
    """Lazy ``(n_features, y, x)`` dask array of the scenes (DataArrays ``(band, y, x)``)."""
    import dask.array as da

    stack = da.stack([sc.sel(band=list(roles)).data for sc in scenes]).rechunk({0: -1, 1: -1})
    n = len(feature_names(roles, len(scenes), texture=texture, features=features))
    h = WINDOW // 2 if texture else 0

    if not h:
        def block(b: np.ndarray) -> np.ndarray:
            return feature_block(b, roles, texture=texture, features=features)[None]

        return stack.map_blocks(block, dtype=np.float32, chunks=((1,), (n,), *stack.chunks[2:]))[0]
    from ..runtime.halo import map_halo

    # halos exchanged as copied edge strips where the blocks allow: a view would keep the
    # whole (scene, band) block alive until every neighbour had been computed
    return map_halo(stack, feature_block, depth=h, fill=np.nan, name="texture", dtype=np.float32,
                    lead=(n,), roles=tuple(roles), texture=texture, features=features)
