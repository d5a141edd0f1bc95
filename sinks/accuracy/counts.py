"""Sample-count statistics of a reference sample: confusion matrix, OA, kappa, UA, PA.

They treat every sample alike: they describe the sample, and are unbiased for the
map only when the sample is a simple random one.  For stratified samples use the
area-weighted estimators of :mod:`sinks.accuracy.olofsson` (map classes as strata)
or :mod:`sinks.accuracy.stehman` (any strata).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..landcover import NODATA, code_of, name_of

__all__ = ["confusion_matrix", "overall_accuracy", "cohen_kappa", "users_accuracy", "producers_accuracy"]


def _as_codes(values: Any, what: str) -> np.ndarray:
    """Legend codes from integer codes or (case-insensitive) class names."""
    arr = np.asarray(values)
    if arr.dtype.kind in "OUS":
        return np.array([NODATA if str(v).strip().lower() == "nodata" else code_of(str(v)) for v in arr.ravel()],
                        dtype=np.int64).reshape(arr.shape)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ConfigError(f"{what}: codes must be integers")
    elif arr.dtype.kind not in "iub":
        raise ConfigError(f"{what}: expected land-cover codes or class names, got {arr.dtype}")
    return arr.astype(np.int64)


def confusion_matrix(map_codes: Sequence[int] | np.ndarray, ref_codes: Sequence[int] | np.ndarray, *,
                     classes: Sequence[int | str] | None = None) -> pd.DataFrame:
    """Confusion matrix of sample counts: rows = map class, columns = reference class.

    Parameters
    ----------
    map_codes, ref_codes : array_like
        Legend codes (or class names) of the map and the reference at each sample.
    classes : sequence of int or str, optional
        Classes (codes or names) and their order; default every class present,
        by code.

    Returns
    -------
    pandas.DataFrame
        ``int64`` counts indexed by class name (index ``"map"``, columns
        ``"reference"``).  ``df.attrs["n_dropped_nodata"]`` counts the samples
        dropped because either side is nodata (code 0).

    Raises
    ------
    ConfigError
        Lengths differ, a code is not in the legend, or a sample's class is not in
        ``classes``.
    """
    m = _as_codes(map_codes, "map codes").ravel()
    r = _as_codes(ref_codes, "reference codes").ravel()
    if m.shape != r.shape:
        raise ConfigError(f"map and reference codes differ in length ({m.size} != {r.size})")
    keep = (m != NODATA) & (r != NODATA)
    dropped = int((~keep).sum())
    m, r = m[keep], r[keep]
    if classes is None:
        codes = sorted({int(c) for c in np.unique(np.concatenate([m, r]))})
    else:
        codes = [int(c) for c in _as_codes(list(classes), "classes")]
        if len(set(codes)) != len(codes) or NODATA in codes:
            raise ConfigError(f"classes must be distinct legend classes, got {list(classes)}")
        extra = sorted(set(np.unique(np.concatenate([m, r])).tolist()) - set(codes))
        if extra:
            raise ConfigError(f"samples of classes not listed in classes: {', '.join(_name(c) for c in extra)}")
    names = [name_of(c) for c in codes]
    pos = np.full(max(codes, default=0) + 1, -1, dtype=np.int64)
    pos[codes] = np.arange(len(codes))
    k = len(codes)
    counts = np.bincount(pos[m] * k + pos[r], minlength=k * k).reshape(k, k) if k else np.zeros((0, 0), np.int64)
    df = pd.DataFrame(counts.astype(np.int64), index=pd.Index(names, name="map"),
                      columns=pd.Index(names, name="reference"))
    df.attrs["n_dropped_nodata"] = dropped
    return df


def _name(code: int) -> str:
    try:
        return name_of(code)
    except ConfigError:
        return str(code)


def _matrix(cm: pd.DataFrame | np.ndarray) -> np.ndarray:
    a = np.asarray(cm, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ConfigError(f"confusion matrix must be square, got shape {a.shape}")
    if np.any(a < 0) or not np.all(np.isfinite(a)):
        raise ConfigError("confusion matrix counts must be finite and non-negative")
    return a


def overall_accuracy(cm: pd.DataFrame | np.ndarray) -> float:
    """Share of samples on the diagonal (``nan`` for an empty matrix)."""
    a = _matrix(cm)
    total = a.sum()
    return float(np.trace(a) / total) if total else math.nan


def cohen_kappa(cm: pd.DataFrame | np.ndarray) -> float:
    """Cohen's kappa of a confusion matrix of sample counts.

    ``κ = (p_o − p_e) / (1 − p_e)`` with ``p_e = Σ_k (row_k · col_k) / n²``; ``nan``
    when undefined (empty matrix, or ``p_e = 1``).
    """
    a = _matrix(cm)
    n = a.sum()
    if not n:
        return math.nan
    po = np.trace(a) / n
    pe = float((a.sum(axis=1) * a.sum(axis=0)).sum() / (n * n))
    return float((po - pe) / (1.0 - pe)) if pe < 1.0 else math.nan


def _labels_of(cm: pd.DataFrame | np.ndarray) -> list:
    return list(cm.index) if isinstance(cm, pd.DataFrame) else list(range(np.asarray(cm).shape[0]))


def users_accuracy(cm: pd.DataFrame | np.ndarray) -> pd.Series:
    """User's accuracy per map class: ``n_ii / n_i·`` (``nan`` for unsampled classes)."""
    a = _matrix(cm)
    rows = a.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ua = np.where(rows > 0, np.diag(a) / rows, np.nan)
    return pd.Series(ua, index=_labels_of(cm), name="user_accuracy")


def producers_accuracy(cm: pd.DataFrame | np.ndarray) -> pd.Series:
    """Producer's accuracy per reference class: ``n_jj / n_·j`` (``nan`` when absent)."""
    a = _matrix(cm)
    cols = a.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pa = np.where(cols > 0, np.diag(a) / cols, np.nan)
    return pd.Series(pa, index=_labels_of(cm), name="producer_accuracy")


