"""China's official forest coverage rate (森林覆盖率) of a zone, from class areas.

    forest coverage (%) = forest area / zone area × 100

(domain.md §4).  *Forest area* is arbor forest including mangrove forest and economic
forest, bamboo, and specially designated shrubland (国家特别规定灌木林地) — here the
``forest`` and ``mangrove`` classes, plus ``shrubland`` lying in zones designated for
it when the user says which (the map alone cannot tell).  *Zone area* is the whole
area inside the zone's boundary: inland water counts (a county with 30 % forest and
10 % lakes reports 30 %, not 33.3 %), sea outside the boundary does not.  The
national check: 220.45 Mha / 960 Mha = 22.96 % (9th NFI).

Area the map does not see inside the zone (clouds, nodata, codes outside the
legend, the part of the zone beyond the raster) is *unobserved*: it is reported as
its own fraction, and stays in the denominator, so the rate is a lower bound —
the forest that may hide there is at most the unobserved share.  A rate whose
unobserved fraction exceeds ``max_unobserved`` (default 5 %) is flagged.

Every place that reports a coverage rate (the run summary, the redline and region
tables, ``sinks indicators``, goal tracking) takes it from :func:`coverage_rate`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FOREST_CLASSES", "MAX_UNOBSERVED", "coverage_rate", "DEFINITION"]

#: Classes whose whole area counts as forest.
FOREST_CLASSES: tuple[str, ...] = ("forest", "mangrove")

#: Default largest unobserved share of a zone before its rate is flagged.
MAX_UNOBSERVED: float = 0.05

#: One-line definition, for summaries and reports.
DEFINITION = ("forest coverage = (forest + mangrove [+ special shrubland where designated]) / whole zone area "
              "(inland water included, sea outside the boundary excluded) × 100; unobserved area stays in the "
              "denominator (the rate is then a lower bound) and is reported apart (domain.md §4)")


def coverage_rate(*, forest_ha: Any, mangrove_ha: Any, zone_area_ha: Any, unobserved_ha: Any,
                  special_shrub_ha: Any = 0.0, max_unobserved: float = MAX_UNOBSERVED) -> dict[str, Any]:
    """Forest coverage of one or many zones (numbers or arrays, broadcast together).

    Parameters
    ----------
    forest_ha, mangrove_ha : float or array
        Mapped forest and mangrove area (ha).
    zone_area_ha : float or array
        Whole area inside the zone boundary (ha).
    unobserved_ha : float or array
        Area of the zone the map does not see (ha).
    special_shrub_ha : float or array
        Shrubland inside zones designated as special shrubland (ha); 0 when not used.
    max_unobserved : float
        Unobserved share above which the rate is flagged.

    Returns
    -------
    dict
        ``forest_area_ha`` (forest + mangrove + special shrubland),
        ``forest_coverage_pct`` (``nan`` for a zone of no area), ``unobserved_fraction``,
        ``forest_coverage_pct_max`` (the rate if every unobserved hectare were forest)
        and ``coverage_flagged`` (unobserved fraction > ``max_unobserved``).
    """
    zone = np.asarray(zone_area_ha, dtype=np.float64)
    forest = (np.asarray(forest_ha, dtype=np.float64) + np.asarray(mangrove_ha, dtype=np.float64)
              + np.asarray(special_shrub_ha, dtype=np.float64))
    unobs = np.clip(np.asarray(unobserved_ha, dtype=np.float64), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(zone > 0, 100.0 * forest / zone, np.nan)
        frac = np.where(zone > 0, np.clip(unobs / zone, 0.0, 1.0), np.nan)
        top = np.where(zone > 0, np.minimum(100.0, 100.0 * (forest + unobs) / zone), np.nan)
    flagged = np.where(np.isnan(frac), True, frac > max_unobserved)
    out = {"forest_area_ha": forest, "forest_coverage_pct": pct, "unobserved_fraction": frac,
           "forest_coverage_pct_max": top, "coverage_flagged": flagged}
    if np.ndim(zone) == 0 and all(np.ndim(v) == 0 for v in out.values()):
        return {k: (bool(v) if k == "coverage_flagged" else float(v)) for k, v in out.items()}
    return out
