"""Carbon stock of a land-cover map and of an alternate map: the workflow of ``sinks carbon``.

:func:`assess` opens the maps, loads the carbon table, counts class areas, totals the
stock per pool, values the change and draws Monte Carlo intervals when asked, and with
``out`` writes the density and stock maps as COGs (:func:`sinks.outputs.write_rasters`)
and ``carbon_summary.json``.  It returns a :class:`CarbonAssessment`; the command only
parses its options, calls it and prints the result.

Valuation and the Monte Carlo draws (pydantic), dask and the QGIS side files are
imported where they are used: ``sinks carbon`` on an in-memory map imports none of
them unless asked, which keeps its start-up short.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

from ..errors import ConfigError
from ..grid import Grid
from .lcio import LandCover, effective_nodata, open_landcover
from .load import load_table
from .stock import ClassAreas, StockTotals, change_layers, check_codes, class_areas_ha, stock_layers, stock_totals
from .tables import POOLS, CarbonTable

__all__ = ["CarbonAssessment", "assess"]


#: Name of the summary written beside the maps.
SUMMARY_NAME = "carbon_summary.json"


@dataclass(frozen=True)
class CarbonAssessment:
    """Result of :func:`assess`.

    Attributes
    ----------
    baseline, alternate : LandCover
        The maps as opened (``alternate`` is ``None`` without one).
    table : CarbonTable
    nodata : tuple
        Effective nodata of the baseline and alternate maps.
    areas : tuple of ClassAreas
        Class areas of the baseline (and alternate) map.
    totals : tuple of StockTotals
        Stock totals of the baseline (and alternate) map.
    valuation : dict, optional
        Net present value of the change (:func:`sinks.carbon.valuation`).
    uncertainty : dict, optional
        Monte Carlo intervals (:func:`sinks.uncertainty.monte_carlo`).
    written : list of Path
        COGs written (empty without ``out``).
    summary_path : Path, optional
        ``carbon_summary.json``, when written.
    seconds : float
        Wall time of the assessment.
    """

    baseline: LandCover
    alternate: LandCover | None
    table: CarbonTable
    nodata: tuple[int | None, int | None]
    areas: tuple[ClassAreas, ...]
    totals: tuple[StockTotals, ...]
    valuation: dict[str, Any] | None = None
    uncertainty: dict[str, Any] | None = None
    written: list[Path] = field(default_factory=list)
    summary_path: Path | None = None
    seconds: float = 0.0

    @property
    def grid(self) -> Grid:
        """The baseline grid (the alternate map is on it too)."""
        return self.baseline.grid

    @property
    def change_mg_c(self) -> dict[str, float] | None:
        """Alternate minus baseline stock per pool (Mg C), ``None`` without an alternate map."""
        if self.alternate is None:
            return None
        b, a = self.totals[0].stock_mg_c, self.totals[1].stock_mg_c
        return {k: a[k] - b[k] for k in ("total", *POOLS)}

    @property
    def zero_width(self) -> bool:
        """True when Monte Carlo intervals were drawn and every one is a single value (the
        table gives no low–high range for the map's classes)."""
        return self.uncertainty is not None and _zero_width(self.uncertainty)

    def to_dict(self) -> dict[str, Any]:
        """Totals, change, valuation and intervals (the JSON ``sinks carbon --json`` prints)."""
        out: dict[str, Any] = {"baseline": self.totals[0].to_dict()}
        if self.alternate is not None:
            out["alternate"] = self.totals[1].to_dict()
            out["change_mg_c"] = self.change_mg_c
        if self.valuation is not None:
            out["valuation"] = self.valuation
        if self.uncertainty is not None:
            out["uncertainty"] = self.uncertainty
        return out

    def summary(self) -> dict[str, Any]:
        """The content of ``carbon_summary.json``: :meth:`to_dict` with the inputs, the
        table, the grid, class areas, stock by class, the layers written and units."""
        base, other = self.baseline, self.alternate
        names = ("baseline", "alternate")
        return {
            **self.to_dict(),
            "inputs": {"baseline": base.path, "alternate": other.path if other is not None else None,
                       "alternate_warped": bool(other is not None and other.warped),
                       "nodata": {"baseline": self.nodata[0], "alternate": self.nodata[1]}},
            "carbon_table": self.table.to_dict(),
            "grid": self.grid.to_dict(),
            "class_areas": {k: a.to_dict() for k, a in zip(names, self.areas)},
            "by_class_mg_c": {k: t.to_dict(detail=True)["by_class"] for k, t in zip(names, self.totals)},
            "missing_codes_pixels": {k: {str(c): n for c, n in t.missing_pixels.items()}
                                     for k, t in zip(names, self.totals) if t.missing_pixels},
            "layers": [str(p.name) for p in self.written],
            "units": {"stock": "Mg C", "area": "ha", "density": "Mg C/ha"},
            "seconds": round(self.seconds, 3),
        }


def assess(lulc: str | os.PathLike, *, pools: Any = "china", alt: str | os.PathLike | None = None,
           align: bool = False, missing: Literal["error", "zero"] = "error", soil_depth: str | None = None,
           lucode_map: str | os.PathLike | None = None, climate_zone: str | None = None,
           out: str | os.PathLike | None = None, overwrite: bool = False, rasters: bool = True,
           pool_layers: bool = False, years: tuple[int, int] | None = None, price: float | None = None,
           currency: str = "CNY", price_unit: Literal["t_c", "t_co2e"] = "t_c", discount_rate: float = 0.0,
           price_change: float = 0.0, draws: int = 0, seed: int | None = 20261122, chunks: int = 1024,
           in_memory: bool | None = None, align_hint: str = "align=True") -> CarbonAssessment:
    """Carbon stock of land-cover map ``lulc`` (Mg C per pool) and, with ``alt``, of a second map and the change.

    Stock = Σ class area (ha) × density (Mg C/ha) over four pools (above, below, soil,
    dead), from per-class pixel counts in float64, as InVEST's carbon model computes
    it.  Nodata pixels are not counted.

    Parameters
    ----------
    lulc : path
        Baseline land-cover map (single-band integer raster).
    pools : str, path, mapping or CarbonTable
        Carbon table, anything :func:`sinks.carbon.load_table` reads (``"china"``,
        ``"ipcc:gez=...,climate=..."``, an InVEST CSV, a YAML table).
    alt : path, optional
        Alternate (e.g. future) map: its stock and the change are reported too.
    align : bool
        Warp ``alt`` onto the baseline grid (nearest neighbour) if the grids differ;
        otherwise :class:`~sinks.errors.GridMismatchError`.
    missing : {"error", "zero"}
        Codes absent from the table: :class:`~sinks.errors.CoefficientError`, or
        counted at zero density (and written as zero instead of nodata).
    soil_depth, lucode_map, climate_zone
        Passed to :func:`~sinks.carbon.load_table`.
    out : path, optional
        Folder for the COGs and ``carbon_summary.json`` (nothing is written without it).
    overwrite : bool
        Replace existing outputs (otherwise :class:`~sinks.errors.OutputExistsError`
        before anything is computed).
    rasters : bool
        With ``out``, write the maps (``False``: only ``carbon_summary.json``).
    pool_layers : bool
        Also write a density map per pool.
    years : (int, int), optional
        Years of the two maps (for valuation).
    price, currency, price_unit, discount_rate, price_change
        Valuation of the change (:func:`sinks.carbon.valuation`); ``price`` needs
        ``alt`` and ``years``.
    draws : int
        Monte Carlo draws over the table's ranges (0: none); ``seed`` seeds them.
    chunks : int
        Block size of large (dask) maps.
    in_memory : bool, optional
        Read the maps into memory (``None``: when they are small).
    align_hint : str
        How the grid-mismatch error names the ``align`` option.

    Returns
    -------
    CarbonAssessment
    """
    t0 = time.perf_counter()
    if price is not None and not (alt and years):
        raise ConfigError("--price needs --alt and --years BASE ALT")
    if years is not None and years[1] <= years[0]:
        raise ConfigError(f"--years: the alternate year must be after the baseline year, got {years[0]} {years[1]}")
    if draws < 0:
        raise ConfigError(f"--draws must be >= 0, got {draws}")
    table = load_table(pools, soil_depth=soil_depth, lucode_map=lucode_map, climate_zone=climate_zone)
    base = open_landcover(lulc, in_memory=in_memory, chunks=chunks)
    other = None
    if alt:
        other = open_landcover(alt, grid=base.grid, align=align, in_memory=in_memory, chunks=chunks,
                               reference=base.path, align_hint=align_hint)
    maps = [base] if other is None else [base, other]
    nodata = (effective_nodata(base.nodata, table), effective_nodata(other.nodata, table) if other else None)
    out_dir = Path(out) if out is not None else None
    summary_path = out_dir / SUMMARY_NAME if out_dir is not None else None
    layers: list = []
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise ConfigError(f"{out_dir}: -o must be a directory")
        if rasters:
            layers = _layers(maps, nodata[:len(maps)], table, out_dir, missing=missing, pool_layers=pool_layers)
        from ..outputs import ensure_writable

        ensure_writable([*(lay.path for lay in layers), summary_path], overwrite=overwrite)

    areas = _class_areas(maps, nodata[:len(maps)])
    if missing == "error":
        for m, a in zip(maps, areas):
            check_codes(a, table, label=m.path)
    totals = tuple(stock_totals(a, table, missing="zero") for a in areas)
    valued = None
    if price is not None and years is not None:
        from .valuation import valuation

        change = totals[1].stock_mg_c["total"] - totals[0].stock_mg_c["total"]
        valued = valuation(change, years=years[1] - years[0], price=price, price_unit=price_unit,
                           discount_rate=discount_rate, price_change=price_change, currency=currency).to_dict()
    intervals = None
    if draws:
        from ..uncertainty import monte_carlo

        intervals = monte_carlo(table, areas_ha=areas[0], alternate_areas_ha=areas[1] if other is not None else None,
                                draws=draws, seed=seed, missing="zero").to_dict()
    written: list[Path] = []
    if layers:
        from ..outputs import write_rasters
        from ..qgis import write_sidecars

        written = write_rasters(layers, base.grid, overwrite=overwrite)
        write_sidecars(layers)  # units for GDAL and QGIS (.aux.xml)
    result = CarbonAssessment(baseline=base, alternate=other, table=table, nodata=nodata, areas=areas,
                              totals=totals, valuation=valued, uncertainty=intervals, written=written,
                              summary_path=summary_path, seconds=time.perf_counter() - t0)
    if summary_path is not None:
        from ..outputs import atomic_write_json

        atomic_write_json(summary_path, result.summary(), overwrite=overwrite)
    return result


def _layers(maps: Sequence[LandCover], nodata: Sequence[int | None], table: CarbonTable, out_dir: Path, *,
            missing: str, pool_layers: bool) -> list:
    """The COGs of :func:`assess`: total density and stock of each map (suffixed
    ``_baseline``/``_alternate`` with two maps) and their change."""
    fill = "zero" if missing == "zero" else "nan"
    kw: dict[str, Any] = {} if pool_layers else {"pools": ()}
    grid = maps[0].grid
    if len(maps) == 1:
        return stock_layers(maps[0].data, grid, table, out_dir=out_dir, nodata=nodata[0], missing=fill, **kw)
    return (stock_layers(maps[0].data, grid, table, out_dir=out_dir, suffix="_baseline", nodata=nodata[0],
                         missing=fill, **kw)
            + stock_layers(maps[1].data, grid, table, out_dir=out_dir, suffix="_alternate", nodata=nodata[1],
                           missing=fill, **kw)
            + change_layers(maps[0].data, maps[1].data, grid, table, out_dir=out_dir, nodata=tuple(nodata),
                            missing=fill))


def _class_areas(maps: Sequence[LandCover], nodata: Sequence[int | None]) -> tuple[ClassAreas, ...]:
    """Class areas of each map (one pass per map; dask maps in a single compute)."""
    if any(_is_dask(m.data) for m in maps):
        import dask

        return tuple(dask.compute(*[class_areas_ha(m.data, m.grid, nodata=nd, compute=False)
                                    for m, nd in zip(maps, nodata)]))
    return tuple(class_areas_ha(m.data, m.grid, nodata=nd) for m, nd in zip(maps, nodata))


def _zero_width(unc: dict[str, Any]) -> bool:
    """True when every interval of a Monte Carlo result is a single value."""
    ivs = [iv for k, v in unc.items() if k.startswith("stock_mg_c") and isinstance(v, dict) for iv in v.values()]
    ivs += [v for k, v in unc.items() if isinstance(v, dict) and "low" in v]
    return bool(ivs) and all(abs(iv["high"] - iv["low"]) <= 1e-9 * max(1.0, abs(iv["central"])) for iv in ivs)


def _is_dask(arr: Any) -> bool:
    return type(arr).__module__.startswith("dask")
