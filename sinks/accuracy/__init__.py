"""Map accuracy and area estimation from a reference sample.

Two families of numbers come out of a reference sample:

Sample-count statistics
    :func:`confusion_matrix`, :func:`overall_accuracy`, :func:`cohen_kappa`,
    :func:`users_accuracy` and :func:`producers_accuracy` treat every sample alike.
    They describe the sample, and are unbiased for the map only when the sample is
    a simple random one.

Area-adjusted estimators (Olofsson et al. 2014, RSE 148:42–57)
    :func:`area_adjusted` (:mod:`.olofsson`) implements the good-practice stratified estimators with the
    map classes as strata (domain.md §6).  With map-class weights
    ``W_i = A_m,i / A_tot`` and counts ``n_ij`` (row = map class ``i``, column =
    reference class ``j``)::

        p̂_ij   = W_i n_ij / n_i·
        Â_j    = A_tot Σ_i p̂_ij
        S(p̂_·j) = sqrt( Σ_i W_i² (n_ij/n_i·)(1 − n_ij/n_i·) / (n_i· − 1) )
        OA     = Σ_j p̂_jj,       V(OA)   = Σ_i W_i² U_i (1 − U_i) / (n_i· − 1)
        UA_i   = p̂_ii / p̂_i·,    V(UA_i) = U_i (1 − U_i) / (n_i· − 1)
        PA_j   = p̂_jj / p̂_·j
        V(PA_j) = N̂_·j⁻² [ N_j·² (1 − P_j)² U_j (1 − U_j) / (n_j· − 1)
                           + P_j² Σ_{i≠j} N_i·² (n_ij/n_i·)(1 − n_ij/n_i·) / (n_i· − 1) ]

    with ``N_i·`` the mapped size of class ``i`` and ``N̂_·j = Σ_i N_i· n_ij / n_i·``
    (areas are used, so per-row pixel areas of geographic grids are handled).  The
    95 % confidence intervals are ± 1.96 standard errors; :func:`sample_size` plans
    ``n = (Σ W_i S_i / S(Ô))²`` with ``S_i = sqrt(U_i (1 − U_i))``.

:func:`assess_map` does the whole job for a land-cover raster and a reference
vector: it samples the map at the reference points, counts the mapped area of each
class block by block (with :func:`sinks.carbon.stock.count_codes`, the counting step of
:func:`~sinks.carbon.class_areas_ha`), and returns an :class:`AccuracyResult`.

A map class with mapped area but no reference sample cannot be corrected; its area
is carried as mapped (without variance) and the result's ``notes`` say so.

=================  =============================================================
module             job
=================  =============================================================
``counts``         sample-count statistics (confusion matrix, OA, kappa, UA, PA): pure
``result``         :class:`AccuracyResult`
``olofsson``       :func:`area_adjusted`, :func:`sample_size` (map classes as strata): pure
``stehman``        :func:`stratified_estimates` (strata that are not the map classes): pure
``assess``         :func:`assess_map`, :func:`mapped_area_ha`: reads a raster and a sample
``truth``          :func:`truth_counts`, :func:`truth_summary`, :func:`truth_confusion` (a truth raster)
=================  =============================================================
"""

from __future__ import annotations

from .assess import assess_map, mapped_area_ha
from .counts import cohen_kappa, confusion_matrix, overall_accuracy, producers_accuracy, users_accuracy
from .olofsson import area_adjusted, sample_size
from .result import Z95, AccuracyResult
from .stehman import stratified_estimates
from .truth import truth_confusion, truth_counts, truth_summary

__all__ = [
    "Z95",
    "confusion_matrix",
    "overall_accuracy",
    "cohen_kappa",
    "users_accuracy",
    "producers_accuracy",
    "AccuracyResult",
    "area_adjusted",
    "sample_size",
    "stratified_estimates",
    "assess_map",
    "mapped_area_ha",
    "truth_counts",
    "truth_summary",
    "truth_confusion",
]
