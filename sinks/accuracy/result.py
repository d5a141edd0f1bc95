"""The result of an accuracy assessment: :class:`AccuracyResult`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Z95", "OLOFSSON", "AccuracyResult"]

#: Normal quantile of the 95 % confidence intervals (as in Olofsson et al. 2014).
Z95: float = 1.96


#: ``AccuracyResult.method`` of the map-class estimators.
OLOFSSON = ("Olofsson et al. 2014 (RSE 148:42) stratified estimators, map classes as strata; "
            "95 % CI = ±1.96 SE")


@dataclass(frozen=True, eq=False)
class AccuracyResult:
    """Accuracy and area estimates from a stratified reference sample.

    Arrays are indexed like :attr:`classes`; areas are in hectares (or in the unit of
    the mapped areas given to :func:`area_adjusted`).  Standard errors are given as
    ``*_se``; the ``*_ci95`` properties are half-widths (estimate ± value).

    Attributes
    ----------
    classes : tuple of str
        Class names (rows = map, columns = reference of :attr:`counts`).
    counts : numpy.ndarray
        Sample counts ``n_ij``.
    mapped_area_ha : numpy.ndarray
        Mapped area ``A_m,i`` of each class.
    proportions : numpy.ndarray
        Estimated area proportions ``p̂_ij``.
    area_ha, area_se_ha : numpy.ndarray
        Area-adjusted area ``Â_j`` and its standard error ``A_tot S(p̂_·j)``.
    user_accuracy, user_accuracy_se : numpy.ndarray
        ``UA_i`` and ``S(UA_i)`` (``nan`` for map classes without samples).
    producer_accuracy, producer_accuracy_se : numpy.ndarray
        ``PA_j`` and ``S(PA_j)`` (``nan`` when the class has no estimated area).
    overall_accuracy, overall_accuracy_se : float
    kappa : float
        Cohen's kappa of the sample counts (not area-weighted).
    n_samples : int
        Samples in the matrix.
    n_dropped : dict
        Samples left out, by reason.
    sources : dict
        Inputs (``map``, ``reference``, ``label_field``) when known.
    notes : tuple of str
        Caveats (unsampled strata, strata with a single sample, a design that does
        not match the estimator).  Where a note says an estimate is withheld, the
        value is ``nan`` (``None`` in :meth:`to_dict`).
    method : str
        The estimator, with its source.
    design : dict
        The sampling design the estimator used (strata, their sizes and sample
        counts) when it is not the map classes.
    frame_area_ha : float, optional
        Area of the sampling frame (the sum of the stratum sizes) when the strata
        are not the map classes; the estimated areas add up to it.
    area_cov_ha2 : numpy.ndarray, optional
        ``(K, K)`` covariance of the estimated class areas (ha²) when the estimator gives
        it (Stehman); for map-class strata it follows from :attr:`counts`
        (:func:`sinks.uncertainty.olofsson_area_cov`).
    """

    classes: tuple[str, ...]
    counts: np.ndarray
    mapped_area_ha: np.ndarray
    proportions: np.ndarray
    area_ha: np.ndarray
    area_se_ha: np.ndarray
    user_accuracy: np.ndarray
    user_accuracy_se: np.ndarray
    producer_accuracy: np.ndarray
    producer_accuracy_se: np.ndarray
    overall_accuracy: float
    overall_accuracy_se: float
    kappa: float
    n_samples: int
    n_dropped: dict[str, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    method: str = OLOFSSON
    design: dict[str, Any] = field(default_factory=dict)
    frame_area_ha: float | None = None
    area_cov_ha2: np.ndarray | None = None

    # -- derived -----------------------------------------------------------------------
    @property
    def total_area_ha(self) -> float:
        """``A_tot``: the sampling frame's area (for map-class strata, the mapped area of all classes)."""
        if self.frame_area_ha is not None:
            return float(self.frame_area_ha)
        return float(np.nansum(self.mapped_area_ha))

    @property
    def weights(self) -> np.ndarray:
        """Map-class weights ``W_i = A_m,i / A_tot`` (of the mapped area)."""
        total = float(np.nansum(self.mapped_area_ha))
        return self.mapped_area_ha / total if total else np.zeros_like(self.mapped_area_ha)

    @property
    def area_ci95_ha(self) -> np.ndarray:
        """Half-width of the 95 % CI of :attr:`area_ha`."""
        return Z95 * self.area_se_ha

    @property
    def user_accuracy_ci95(self) -> np.ndarray:
        """Half-width of the 95 % CI of :attr:`user_accuracy`."""
        return Z95 * self.user_accuracy_se

    @property
    def producer_accuracy_ci95(self) -> np.ndarray:
        """Half-width of the 95 % CI of :attr:`producer_accuracy`."""
        return Z95 * self.producer_accuracy_se

    @property
    def overall_accuracy_ci95(self) -> float:
        """Half-width of the 95 % CI of :attr:`overall_accuracy`."""
        return Z95 * self.overall_accuracy_se

    # -- views -------------------------------------------------------------------------
    def confusion_dataframe(self) -> pd.DataFrame:
        """Sample counts as a DataFrame (index ``map``, columns ``reference``)."""
        return pd.DataFrame(self.counts.astype(np.int64), index=pd.Index(self.classes, name="map"),
                            columns=pd.Index(self.classes, name="reference"))

    def class_table(self) -> pd.DataFrame:
        """One row per class: mapped and adjusted areas with CIs, UA and PA with CIs."""
        return pd.DataFrame(
            {
                "n_map": self.counts.sum(axis=1).astype(np.int64),
                "n_reference": self.counts.sum(axis=0).astype(np.int64),
                "mapped_area_ha": self.mapped_area_ha,
                "area_ha": self.area_ha,
                "area_ci95_ha": self.area_ci95_ha,
                "user_accuracy": self.user_accuracy,
                "user_accuracy_ci95": self.user_accuracy_ci95,
                "producer_accuracy": self.producer_accuracy,
                "producer_accuracy_ci95": self.producer_accuracy_ci95,
            },
            index=pd.Index(self.classes, name="class"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready result: per-class values keyed by class name, ``nan`` as ``None``.

        ``confusion_matrix`` is nested ``{map_class: {reference_class: count}}``;
        ``*_ci95`` values are half-widths of 95 % confidence intervals.
        """
        def per_class(values: np.ndarray) -> dict[str, float | None]:
            return {c: _num(v) for c, v in zip(self.classes, values)}

        return {
            "n_samples": int(self.n_samples),
            "n_dropped": {k: int(v) for k, v in self.n_dropped.items()},
            "overall_accuracy": _num(self.overall_accuracy),
            "overall_accuracy_se": _num(self.overall_accuracy_se),
            "overall_accuracy_ci95": _num(self.overall_accuracy_ci95),
            "kappa": _num(self.kappa),
            "total_area_ha": _num(self.total_area_ha),
            "mapped_area_ha": per_class(self.mapped_area_ha),
            "area_ha": per_class(self.area_ha),
            "area_se_ha": per_class(self.area_se_ha),
            "area_ci95_ha": per_class(self.area_ci95_ha),
            "user_accuracy": per_class(self.user_accuracy),
            "user_accuracy_se": per_class(self.user_accuracy_se),
            "user_accuracy_ci95": per_class(self.user_accuracy_ci95),
            "producer_accuracy": per_class(self.producer_accuracy),
            "producer_accuracy_se": per_class(self.producer_accuracy_se),
            "producer_accuracy_ci95": per_class(self.producer_accuracy_ci95),
            "confusion_matrix": {
                m: {r: int(self.counts[i, j]) for j, r in enumerate(self.classes)}
                for i, m in enumerate(self.classes)
            },
            "confusion_matrix_axes": {"rows": "map", "columns": "reference"},
            "method": self.method,
            **({"design": self.design} if self.design else {}),
            "sources": dict(self.sources),
            "notes": list(self.notes),
        }


def _num(v: Any) -> float | None:
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else v


