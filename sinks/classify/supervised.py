"""Supervised land-cover classification: train on labelled samples, predict block by block.

Training reads only the pixels under the samples (dask fetches just the blocks that
hold them), fits a scikit-learn random forest (or histogram gradient boosting) on the
features of :mod:`.features` (bands, indices and 5 × 5 texture of every acquisition),
and estimates its accuracy by spatially grouped cross-validation: samples are grouped
by 32 × 32-pixel cells, so neighbouring pixels of one field never sit on both sides of
a fold.  Prediction maps the model over the feature blocks lazily (``map_blocks``);
nodata pixels stay nodata.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError, ModelError, NoOverlapError, SinksWarning
from ..grid import Grid
from ..landcover import NAMES, NODATA, code_of
from .features import FEATURE_SETS, feature_names, feature_stack
from .modelio import SinksModel, load_model, save_model

__all__ = ["train", "predict", "load_model", "save_model", "SinksModel", "sample_pixels"]

log = logging.getLogger("sinks")

_CELL = 32          # px, spatial groups for cross-validation
_MAX_PER_POLYGON = 200


def sample_pixels(samples: Any, grid: Grid, *, label_field: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns and legend codes of the sample pixels (points, or pixel centres in polygons)."""
    from rasterio.features import geometry_mask

    from ..vectors import read_vector

    name = str(samples) if isinstance(samples, (str, os.PathLike)) else "samples"
    gdf = read_vector(samples, target_crs=grid.crs, what="samples", require_fields=[label_field])
    labels = gdf[label_field].astype(str).str.strip()
    unknown = sorted({v for v in labels if _code(v) is None})
    if unknown:
        raise ConfigError(f"{name}: labels not in the legend: {', '.join(unknown[:10])} "
                          f"(legend: {', '.join(NAMES.values())})")
    inv = ~grid.transform
    rows, cols, codes = [], [], []
    for geom, lab in zip(gdf.geometry, labels):
        if geom is None or geom.is_empty:
            continue
        code = _code(lab)
        if geom.geom_type == "Point":
            c, r = inv * (geom.x, geom.y)
            rows.append(int(np.floor(r)))
            cols.append(int(np.floor(c)))
            codes.append(code)
            continue
        win = grid.window(geom.bounds)
        if win.width == 0 or win.height == 0:
            continue
        sub = grid.subgrid(win)
        inside = ~geometry_mask([geom], out_shape=sub.shape, transform=sub.transform)
        rr, cc = np.nonzero(inside)
        if len(rr) > _MAX_PER_POLYGON:
            pick = np.random.default_rng(len(rows)).choice(len(rr), _MAX_PER_POLYGON, replace=False)
            rr, cc = rr[pick], cc[pick]
        rows.extend((rr + int(win.row_off)).tolist())
        cols.extend((cc + int(win.col_off)).tolist())
        codes.extend([code] * len(rr))
    r, c, k = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(codes, dtype=np.int64)
    ok = (r >= 0) & (r < grid.height) & (c >= 0) & (c < grid.width)
    if not ok.any():
        raise NoOverlapError(f"{name}: no sample falls inside the image")
    if (~ok).sum():
        warnings.warn(f"{name}: {int((~ok).sum())} sample(s) outside the image dropped", SinksWarning, stacklevel=2)
    return r[ok], c[ok], k[ok]


def _code(label: str) -> int | None:
    try:
        return code_of(label)
    except ConfigError:
        return None


def train(scenes: Sequence[Any], samples: Any = None, *, label_field: str | None = None, grid: Grid,
          sensor: str, roles: Sequence[str], model_type: str = "rf", seed: int = 0, cv_folds: int = 5,
          texture: bool = True, pixels: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
          n_jobs: int | None = None, features: str = "standard") -> SinksModel:
    """Fit a classifier on the samples' pixels of ``scenes`` (see the module docstring).

    Parameters
    ----------
    scenes : sequence of xarray.DataArray
        The acquisitions, ``(band, y, x)`` reflectance on ``grid``.
    samples : path or GeoDataFrame, optional
        Labelled points or polygons (field ``label_field`` holds legend names).
    label_field : str, optional
    grid : Grid
    sensor : str
    roles : sequence of str
    model_type : {"rf", "hgb"}
    seed : int
    cv_folds : int
        Folds of the spatially grouped cross-validation.
    texture : bool
    pixels : (rows, cols, codes), optional
        Training pixels given directly (e.g. :func:`sinks.classify.reference.reference_pixels`)
        instead of ``samples``.
    n_jobs : int, optional
        Threads for fitting and cross-validation (default: every core).
    features : {"standard", "extended"}
        The feature set (:mod:`.features`).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    jobs = n_jobs or os.cpu_count() or 1
    roles = [r for r in roles if r in [str(b) for b in scenes[0].band.values]]
    if pixels is not None:
        rows, cols, y = (np.asarray(a, dtype=np.int64) for a in pixels)
    elif samples is not None and label_field:
        rows, cols, y = sample_pixels(samples, grid, label_field=label_field)
    else:
        raise ConfigError("training needs labelled samples (and their label field) or a reference map")
    if features not in FEATURE_SETS:
        raise ConfigError(f"feature set must be one of {', '.join(FEATURE_SETS)}, got {features!r}")
    feats = feature_stack(scenes, roles, texture=texture, features=features).transpose(1, 2, 0)
    X = np.asarray(feats.vindex[rows, cols].compute(), dtype=np.float32)
    ok = np.isfinite(X).all(axis=1)
    if (~ok).sum():
        warnings.warn(f"{int((~ok).sum())} sample(s) on nodata pixels dropped", SinksWarning, stacklevel=2)
    X, y, rows, cols = X[ok], y[ok], rows[ok], cols[ok]
    classes = np.unique(y)
    if len(classes) < 2:
        raise ConfigError(f"training needs samples of at least two classes, found {len(classes)}")
    if model_type == "rf":
        est = RandomForestClassifier(n_estimators=200, n_jobs=jobs, random_state=seed, class_weight="balanced")
    elif model_type == "hgb":
        est = HistGradientBoostingClassifier(random_state=seed, class_weight="balanced")
    else:
        raise ConfigError(f"model type must be 'rf' or 'hgb', got {model_type!r}")
    groups = (rows // _CELL) * (grid.width // _CELL + 1) + cols // _CELL
    folds = min(cv_folds, len(np.unique(groups)))
    cv: dict[str, Any] = {}
    if folds >= 2:
        with threadpool_limits(limits=jobs):  # OpenMP (gradient boosting) and BLAS: every core, no more
            pred = cross_val_predict(est, X, y, groups=groups, cv=GroupKFold(n_splits=folds))
        cv["cv_accuracy"] = float((pred == y).mean())
        cv["cv_class_accuracy"] = {
            NAMES[int(c)]: {"producer": float((pred[y == c] == c).mean()),
                            "user": float((y[pred == c] == c).mean()) if (pred == c).any() else None}
            for c in classes}
        cv["cv_folds"] = folds
    with threadpool_limits(limits=jobs):
        est.fit(X, y)
    meta = {"model_type": model_type,
            "feature_names": feature_names(roles, len(scenes), texture=texture, features=features),
            "feature_set": features, "roles": list(roles), "sensor": sensor, "n_dates": len(scenes), "texture": texture,
            "legend": {str(c): NAMES[int(c)] for c in classes}, "n_samples": int(len(y)),
            "samples_per_class": {NAMES[int(c)]: int((y == c).sum()) for c in classes}, **cv}
    log.info("trained %s on %d samples, CV accuracy %s", model_type, len(y), cv.get("cv_accuracy"))
    return SinksModel(est, meta)


def _check(model: SinksModel, scenes: Sequence[Any], sensor: str | None) -> list[str]:
    meta = model.meta
    roles = list(meta["roles"])
    have = [str(b) for b in scenes[0].band.values]
    missing = [r for r in roles if r not in have]
    src = meta.get("source", "model")
    if missing:
        raise ModelError(f"{src}: trained on band roles {','.join(roles)}; the image lacks {','.join(missing)}")
    if len(scenes) != int(meta["n_dates"]):
        raise ModelError(f"{src}: trained on {meta['n_dates']} acquisition(s), got {len(scenes)}")
    ms = meta.get("sensor")
    if sensor and ms and "generic" not in (sensor, ms) and sensor.split("_pre")[0].split("_post")[0] != \
            ms.split("_pre")[0].split("_post")[0]:
        raise ModelError(f"{src}: trained on {ms} images, this image is {sensor}")
    return roles


def predict(model: SinksModel | str | os.PathLike, scenes: Sequence[Any], *, grid: Grid,
            sensor: str | None = None) -> Any:
    """Lazy uint8 land cover ``(y, x)`` from ``model`` (0 where any feature is NaN)."""
    if not isinstance(model, SinksModel):
        path = str(model)
        model = load_model(model)
        model.meta["source"] = path
    roles = _check(model, scenes, sensor)
    feats = feature_stack(scenes, roles, texture=bool(model.meta.get("texture", True)),
                          features=str(model.meta.get("feature_set", "standard")))
    est = model.estimator
    if getattr(est, "n_jobs", None) not in (None, 1):
        import copy

        est = copy.copy(est)   # dask's threads run the blocks in parallel: one thread per block
        est.n_jobs = 1

    def block(f: np.ndarray) -> np.ndarray:
        n, h, w = f.shape
        X = f.reshape(n, -1).T
        ok = np.isfinite(X).all(axis=1)
        out = np.full(h * w, NODATA, dtype=np.uint8)
        if ok.any():
            out[ok] = est.predict(X[ok]).astype(np.uint8)
        return out.reshape(h, w)

    return feats.map_blocks(block, drop_axis=0, dtype=np.uint8, meta=np.zeros((0, 0), np.uint8))
