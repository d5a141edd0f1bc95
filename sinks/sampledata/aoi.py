"""Vector data of the synthetic scene: redlines, regions, coastal zone, wetlands, training and reference samples."""

from __future__ import annotations

import numpy as np

from ..landcover import NAMES
from .layout import Layout

__all__ = ["scene_vectors", "sample_points"]

#: County-level divisions of Beihai (codes of the national administrative division list).
REGIONS = (("450502", "海城区"), ("450503", "银海区"), ("450512", "铁山港区"), ("450521", "合浦县"))


def _poly(pts_uv, to_xy):  # noqa: ANN001, ANN202
    from shapely.geometry import Polygon

    return Polygon([to_xy(u, v) for u, v in pts_uv])


def scene_vectors(layout: Layout, *, to_xy, crs: str) -> dict:  # noqa: ANN001
    """GeoDataFrames of the redlines (EPSG:4326), regions, coastal zone and wetland layer (scene CRS)."""
    import geopandas as gpd
    from shapely.geometry import MultiPolygon, Polygon

    us = np.linspace(0.0, 1.0, 61)
    coast = layout.coast(us)

    # coastal zone: from ~0.2 (≈ 1 km at the default size) inland of the shore to the sea edge
    zone = _poly([(u, c - 0.20) for u, c in zip(us, coast)] + [(1.0, 1.0), (0.0, 1.0)], to_xy)

    # redlines
    def band(u0: float, u1: float, up: float, down: float) -> Polygon:
        sel = (us >= u0) & (us <= u1)
        top = [(u, c - up) for u, c in zip(us[sel], coast[sel])]
        bot = [(u, c + down) for u, c in zip(us[sel][::-1], coast[sel][::-1])]
        return _poly(top + bot, to_xy)

    mangrove = MultiPolygon([band(0.02, 0.30, 0.07, 0.02), band(0.38, 0.80, 0.07, 0.02)])
    marsh = band(0.64, 0.97, 0.15, 0.01)
    hills_outer = [(0.48, 0.02), (0.98, 0.02), (0.98, 0.30), (0.48, 0.34)]
    quarry_hole = [(0.74, 0.10), (0.82, 0.10), (0.82, 0.18), (0.74, 0.18)]
    hills = Polygon([to_xy(u, v) for u, v in hills_outer], [[to_xy(u, v) for u, v in quarry_hole]])
    vs = np.linspace(0.0, 0.70, 36)
    ru = layout.river_u(vs)
    river = _poly([(u - 0.03, v) for u, v in zip(ru, vs)] + [(u + 0.03, v) for u, v in zip(ru[::-1], vs[::-1])],
                  to_xy)
    redlines = gpd.GeoDataFrame({
        "redline_id": ["HL-001", "HL-002", "HL-003", "HL-004"],
        "name": ["红树林保护红线", "滨海湿地保护红线", "丘陵水源涵养红线", "河流生态廊道红线"],
        "category": ["mangrove protection", "coastal wetland", "forest water conservation", "river corridor"],
    }, geometry=[mangrove, marsh, hills, river], crs=crs).to_crs("EPSG:4326")

    # regions: a 2 x 2 partition of the land around the scene along two wavy borders
    import shapely
    from shapely.geometry import LineString, box
    from shapely.ops import split

    t = np.linspace(-0.1, 1.1, 40)
    vline = LineString([(0.46 + 0.03 * np.sin(6 * v), v) for v in t])
    hline = LineString([(u, 0.52 + 0.03 * np.sin(5 * u)) for u in t])
    cells = []
    # the divisions end at the shoreline: the sea lies outside every region (as it lies outside a
    # county's area in its forest coverage rate, domain.md §4); inland water stays inside
    land = Polygon([(0.0, float(coast[0]))] + [(float(u), float(c)) for u, c in zip(us, coast)]
                   + [(1.0, float(coast[-1])), (1.0, 0.0), (0.0, 0.0)])   # within the scene, north of the shore
    for half in split(box(-0.05, -0.05, 1.05, 1.05), vline).geoms:
        cells.extend(g.intersection(land) for g in split(half, hline).geoms)
    cells.sort(key=lambda g: (round(g.centroid.y > 0.5), g.centroid.x))  # NW, NE, SW, SE
    polys = [shapely.transform(g, lambda c: np.column_stack(to_xy(c[:, 0], c[:, 1]))) for g in cells]
    regions = gpd.GeoDataFrame({"region_id": [r[0] for r in REGIONS], "name": [r[1] for r in REGIONS]},
                               geometry=polys, crs=crs)
    coastal = gpd.GeoDataFrame({"name": ["coastal zone (intertidal and near-shore, mangrove habitat)"]},
                               geometry=[zone], crs=crs)
    # a wetland inventory layer (as from a national wetland survey): the coastal marsh
    wetlands = gpd.GeoDataFrame({"wetland_id": ["W-001"], "name": ["coastal marsh"], "type": ["coastal marsh"]},
                                geometry=[marsh], crs=crs)
    return {"redlines": redlines, "regions": regions, "coastal_zone": coastal, "wetlands": wetlands}


def stratum_sizes_ha(truth: np.ndarray, cell_ha: float) -> dict[str, float]:
    """Area (ha) of every class of ``truth`` (cells of ``cell_ha``): the sizes of its class strata."""
    counts = np.bincount(truth.ravel(), minlength=max(NAMES) + 1)
    return {NAMES[c]: float(counts[c]) * cell_ha for c in sorted(NAMES) if counts[c]}


def sample_points(truths: dict[int, np.ndarray], *, year: int, per_class: int, seed: int, homogeneous: bool,
                  exclude: np.ndarray | None, to_xy) -> "object":  # noqa: ANN001
    """Stratified random points by the truth class of ``year`` (labels of every epoch attached).

    ``per_class`` cells are drawn at random, without replacement, among the cells of
    each class (all of them when fewer), outside ``exclude``; with ``homogeneous``
    only cells whose 3 × 3 neighbourhood holds one class.
    """
    import geopandas as gpd
    from scipy import ndimage
    from shapely.geometry import Point

    rng = np.random.default_rng(seed)
    base = truths[year]
    ok = np.ones(base.shape, bool) if exclude is None else ~exclude
    if homogeneous:  # pure pixels: the 3 x 3 neighbourhood has one class
        mx = ndimage.maximum_filter(base, 3)
        mn = ndimage.minimum_filter(base, 3)
        ok &= mx == mn
    rows, recs = [], []
    for code in sorted(NAMES):
        rr, cc = np.nonzero((base == code) & ok)
        if not len(rr):
            continue
        pick = rng.choice(len(rr), size=min(per_class, len(rr)), replace=False)
        for i in sorted(pick):
            r, c = int(rr[i]), int(cc[i])
            rows.append(Point(to_xy((c + 0.5) / base.shape[1], (r + 0.5) / base.shape[0])))
            recs.append({f"label_{y}": NAMES[int(t[r, c])] for y, t in truths.items()})
    gdf = gpd.GeoDataFrame(recs, geometry=rows)
    gdf["label"] = gdf[f"label_{year}"]
    return gdf
