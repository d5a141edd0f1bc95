"""Monte Carlo over coefficient ranges and area estimates."""

from __future__ import annotations

import time

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from sinks.carbon import china_table, load_table, sink, stock_totals, transition_matrix
from sinks.errors import ConfigError
from sinks.grid import Grid
import sinks.uncertainty as unc
from sinks.uncertainty import monte_carlo, sample_densities, sample_range, truncated_normal

AREAS = {1: 1000.0, 2: 500.0, 3: 50.0, 4: 10.0, 6: 800.0, 7: 100.0}


def test_reproducible_with_seed() -> None:
    t = china_table()
    a = monte_carlo(t, areas_ha=AREAS, draws=2000, seed=7)
    b = monte_carlo(t, areas_ha=AREAS, draws=2000, seed=7)
    c = monte_carlo(t, areas_ha=AREAS, draws=2000, seed=8)
    assert a.to_dict() == b.to_dict()
    assert a.stock_mg_c["total"].low != c.stock_mg_c["total"].low


@pytest.mark.parametrize("distribution", ["triangular", "pert"])
def test_density_draws_reused_and_generator_advanced(distribution: str) -> None:
    t = china_table()
    codes = [1, 2, 6]

    def draw():
        rng = np.random.default_rng(11)
        dens = sample_densities(t, codes, draws=500, rng=rng, distribution=distribution)
        return dens, rng.random(3)

    unc._DENSITY_CACHE.clear()
    fresh, after_fresh = draw()
    again, after_again = draw()
    assert again is fresh and not fresh.flags.writeable
    np.testing.assert_array_equal(after_again, after_fresh)  # the generator moved on as if it had sampled
    unc._DENSITY_CACHE.clear()
    redone, after_redone = draw()
    assert redone is not fresh
    np.testing.assert_array_equal(redone, fresh)
    np.testing.assert_array_equal(after_redone, after_fresh)
    other = sample_densities(t, [1, 2, 7], draws=500, rng=np.random.default_rng(11), distribution=distribution)
    assert not np.array_equal(other[:, 2], fresh[:, 2])  # another class set is another key


@pytest.mark.parametrize("distribution", ["triangular", "pert", "uniform"])
def test_central_inside_interval(distribution: str) -> None:
    t = china_table()
    r = monte_carlo(t, areas_ha=AREAS, draws=10_000, seed=1, distribution=distribution)
    central = stock_totals(AREAS, t).stock_mg_c
    for pool, iv in r.stock_mg_c.items():
        assert iv.central == pytest.approx(central[pool])
        assert iv.low <= iv.central <= iv.high, (pool, iv)
        assert iv.low < iv.high or pool == "dead" and iv.low == iv.high


def test_zero_width_ranges_collapse_to_point() -> None:
    t = load_table({"classes": {1: {"above": 10, "below": 2, "soil": 50, "dead": 1},
                                2: {"above": [3, 3, 3], "below": 1, "soil": 20, "dead": 0}}})
    r = monte_carlo(t, areas_ha={1: 2.0, 2: 4.0}, draws=500, seed=3)
    iv = r.stock_mg_c["total"]
    assert iv.low == iv.high == iv.mean == iv.central == pytest.approx(2 * 63 + 4 * 24)


def test_ten_thousand_draws_are_fast() -> None:
    t = china_table()
    lc1 = np.random.default_rng(0).integers(1, 9, (200, 200)).astype(np.uint8)
    lc2 = np.where(lc1 == 1, 6, lc1).astype(np.uint8)
    grid = Grid(CRS.from_epsg(32650), Affine(30, 0, 0, 0, -30, 0), 200, 200)
    tm = transition_matrix(lc1, lc2, grid)
    t0 = time.perf_counter()
    r = monte_carlo(t, areas_ha=AREAS, alternate_areas_ha=AREAS, transitions=tm, years=5, draws=10_000, seed=1)
    assert time.perf_counter() - t0 < 1.0
    s = sink(tm, t, years=5)
    assert r.sink_mg_c_per_yr.central == pytest.approx(s.sink_mg_c_per_yr)
    assert r.sink_mg_c_per_yr.low <= r.sink_mg_c_per_yr.central <= r.sink_mg_c_per_yr.high
    assert r.net_emissions_tco2e_per_yr.central == pytest.approx(s.net_emissions_tco2e_per_yr)
    assert r.net_emissions_tco2e_per_yr.high == pytest.approx(-r.sink_mg_c_per_yr.low * 44 / 12)


def test_area_uncertainty_widens_and_stays_positive() -> None:
    t = china_table()
    plain = monte_carlo(t, areas_ha=AREAS, draws=5000, seed=2)
    se = {k: 0.3 * v for k, v in AREAS.items()}
    wide = monte_carlo(t, areas_ha=AREAS, area_se_ha=se, draws=5000, seed=2)
    assert wide.area_uncertainty
    p, w = plain.stock_mg_c["total"], wide.stock_mg_c["total"]
    assert (w.high - w.low) > (p.high - p.low)
    x = truncated_normal(np.array([1.0, 100.0]), np.array([5.0, 0.0]), size=(20_000, 2),
                         rng=np.random.default_rng(0))
    assert x.min() >= 0 and np.all(x[:, 1] == 100.0)
    assert x[:, 0].mean() > 1.0  # truncation at 0 shifts the mean up


def test_growth_range_and_errors() -> None:
    t = china_table()
    lc = np.ones((4, 4), np.uint8)
    grid = Grid(CRS.from_epsg(32650), Affine(100, 0, 0, 0, -100, 0), 4, 4)
    tm = transition_matrix(lc, lc, grid)
    r = monte_carlo(t, transitions=tm, years=5, growth_mg_c_per_ha_yr=2.0, growth_range=(1.0, 3.0), draws=20_000,
                    seed=4)
    assert r.sink_mg_c_per_yr.central == pytest.approx(16 * 2.0)
    # the range is read as a 95 % interval: the sink's interval reproduces it
    assert r.sink_mg_c_per_yr.low == pytest.approx(16 * 1.0, rel=0.03)
    assert r.sink_mg_c_per_yr.high == pytest.approx(16 * 3.0, rel=0.03)
    tri = monte_carlo(t, transitions=tm, years=5, growth_mg_c_per_ha_yr=2.0, growth_range=(1.0, 3.0), draws=4000,
                      seed=4, distribution="triangular")
    assert 16 * 1.0 < tri.sink_mg_c_per_yr.low < 16 * 2.0 < tri.sink_mg_c_per_yr.high < 16 * 3.0
    with pytest.raises(ConfigError):
        monte_carlo(t, draws=10)
    with pytest.raises(ConfigError):
        monte_carlo(t, transitions=tm)


def test_sample_range_shapes() -> None:
    u = np.array([0.0, 0.25, 0.5, 1.0])
    np.testing.assert_allclose(sample_range(u, 0.0, 0.0, 2.0), [0, 2 - np.sqrt(3), 2 - np.sqrt(2), 2])
    np.testing.assert_allclose(sample_range(u, 1.0, 1.0, 1.0), 1.0)
    with pytest.raises(ConfigError):
        sample_range(u, 0, 1, 2, distribution="lognormal")
