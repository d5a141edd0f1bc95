"""Pixel areas: projected (scalar) and geographic (per-row ellipsoidal) grids."""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest
from affine import Affine
from rasterio.crs import CRS

from sinks.area import cell_area_ellipsoid_m2, is_uniform, pixel_area_array, pixel_area_ha, row_area_ha
from sinks.grid import Grid


def geod_cell_ha(lon0: float, lat0: float, dlon: float, dlat: float, n: int = 4000) -> float:
    """Area of a lat/lon cell from pyproj.Geod with densified parallels (ha)."""
    geod = pyproj.Geod(ellps="WGS84")
    lons = np.concatenate([np.linspace(lon0, lon0 + dlon, n), np.linspace(lon0 + dlon, lon0, n)])
    lats = np.concatenate([np.full(n, lat0), np.full(n, lat0 + dlat)])
    return abs(geod.polygon_area_perimeter(lons, lats)[0]) / 1e4


def test_utm_30m_pixel_is_0_09_ha() -> None:
    g = Grid(CRS.from_epsg(32650), Affine(30, 0, 500000, 0, -30, 2500000), 3, 3)
    assert is_uniform(g)
    assert pixel_area_ha(g) == pytest.approx(0.09, rel=1e-15)
    np.testing.assert_allclose(row_area_ha(g), 0.09)


def test_projected_feet_are_converted() -> None:
    g = Grid(CRS.from_epsg(2229), Affine(100, 0, 0, 0, -100, 0), 2, 2)  # US survey feet
    ft = 1200 / 3937
    assert pixel_area_ha(g) == pytest.approx((100 * ft) ** 2 / 1e4, rel=1e-12)


def test_one_degree_cell_at_equator() -> None:
    g = Grid(CRS.from_epsg(4326), Affine(1, 0, 0, 0, -1, 1), 1, 1)
    area = pixel_area_ha(g)
    assert isinstance(area, np.ndarray) and area.shape == (1,)
    assert area[0] / 100 == pytest.approx(12_308.46, abs=0.01)  # km²
    assert area[0] == pytest.approx(geod_cell_ha(0, 0, 1, 1), rel=1e-9)


@pytest.mark.parametrize("lat_top", [60.0, -10.0, 89.5, 45.25])
def test_rows_match_geod(lat_top: float) -> None:
    res = 0.25
    g = Grid(CRS.from_epsg(4326), Affine(res, 0, 100, 0, -res, lat_top), 5, 2)
    rows = row_area_ha(g)
    for i, a in enumerate(rows):
        assert a == pytest.approx(geod_cell_ha(100, lat_top - res * (i + 1), res, res), rel=1e-8)


def test_rows_symmetric_and_shrinking_toward_poles() -> None:
    g = Grid(CRS.from_epsg(4326), Affine(1, 0, 0, 0, -1, 90), 1, 180)
    rows = row_area_ha(g)
    np.testing.assert_allclose(rows, rows[::-1], rtol=1e-12)
    assert np.all(np.diff(rows[:90]) > 0)


def test_whole_globe_sums_to_ellipsoid_area() -> None:
    g = Grid(CRS.from_epsg(4326), Affine(1, 0, -180, 0, -1, 90), 360, 180)
    total_km2 = row_area_ha(g).sum() * 360 / 100
    assert total_km2 == pytest.approx(510_065_621.724, rel=1e-9)  # WGS84 surface


def test_sphere_reduces_to_r2_sin() -> None:
    r = 6_371_000.0
    got = cell_area_ellipsoid_m2(10.0, 11.0, 1.0, a=r, b=r)
    want = r * r * math.radians(1) * (math.sin(math.radians(11)) - math.sin(math.radians(10)))
    assert got == pytest.approx(want, rel=1e-12)


def test_dask_area_column_broadcasts() -> None:
    import dask.array as da

    g = Grid(CRS.from_epsg(4326), Affine(0.5, 0, 0, 0, -0.5, 10), 4, 6)
    col = pixel_area_array(g, chunks=4)
    assert col.shape == (6, 1)
    full = (da.ones((6, 4), chunks=(4, 2)) * col).compute()
    np.testing.assert_allclose(full, np.repeat(row_area_ha(g)[:, None], 4, axis=1))
