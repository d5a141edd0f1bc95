"""Carbon accounting: coefficient tables, stock maps and totals, stock volume, sink, valuation.

=====================  ==============================================================
module                 job
=====================  ==============================================================
``tables``             :class:`CarbonTable` (densities per class and pool, ranges, sources)
``load``               :func:`load_table` (``"china"``, ``"ipcc:..."``, CSV, YAML, mappings)
``tableio``            table formats: InVEST and long CSV, YAML/JSON mappings, lucode maps
``packaged``           the packaged data files and :func:`china_table`
``ipcc``               :func:`ipcc_table`: IPCC Tier 1 values by zone
``stock``              density/stock maps (``lut[codes]`` in ``map_blocks``), class areas, totals
``volume``             forest stock volume (m³) and volume → biomass carbon (ratio or continuous BEF)
``sink``               transition matrix, gain–loss and stock-difference sink, CO₂e
``growth``             gain–loss coefficients: NFI growth rows, marginal carbon, young stands
``soil``               soil organic carbon from one IPCC climate zone (Eq. 2.25)
``valuation``          InVEST-style net present value of a carbon change
``assessment``         :func:`assess`: the stock of one or two maps, the change, maps and summary
=====================  ==============================================================

Units follow DESIGN §7: carbon in Mg C (= t C), densities in Mg C/ha, areas in ha,
volume in m³, CO₂e = C × 44/12; result keys carry their unit.

Example
-------
>>> from sinks.carbon import load_table, class_areas_ha, stock_totals   # doctest: +SKIP
>>> table = load_table("china")
>>> areas = class_areas_ha(landcover, grid, nodata=0)
>>> stock_totals(areas, table).to_dict()
{'stock_mg_c': {'total': ..., 'above': ..., ...}, 'area_ha': ...}
"""

from __future__ import annotations

from .assessment import CarbonAssessment, assess
from .lcio import LandCover, effective_nodata, open_landcover
from .stock import (
    ClassAreas,
    LazyLayer,
    StockTotals,
    change_layers,
    check_codes,
    class_areas_ha,
    density,
    density_lut,
    missing_codes,
    stock,
    stock_layers,
    stock_totals,
)
from .load import load_table
from .packaged import china_table
from .tableio import (
    parse_lucode_map,
    read_invest_csv,
    read_table_csv,
    table_from_mapping,
    write_invest_csv,
    write_table_csv,
)
from .tables import POOLS, SOIL_DEPTHS, CarbonTable

__all__ = [
    "assess",
    "CarbonAssessment",
    "POOLS",
    "SOIL_DEPTHS",
    "CarbonTable",
    "load_table",
    "china_table",
    "ipcc_table",
    "read_table_csv",
    "read_invest_csv",
    "write_invest_csv",
    "write_table_csv",
    "table_from_mapping",
    "parse_lucode_map",
    "ClassAreas",
    "StockTotals",
    "LazyLayer",
    "LandCover",
    "open_landcover",
    "effective_nodata",
    "density",
    "density_lut",
    "stock",
    "stock_layers",
    "change_layers",
    "class_areas_ha",
    "missing_codes",
    "check_codes",
    "stock_totals",
    "GROWING_STOCK_M3_PER_HA",
    "CARBON_PER_M3",
    "VolumeResult",
    "growing_stock",
    "stock_volume",
    "volume_from_raster",
    "volume_to_carbon",
    "bef_parameters",
    "TransitionMatrix",
    "SinkResult",
    "METHODS",
    "Coefficient",
    "ForestGrowth",
    "forest_growth",
    "growth_rows",
    "DEFAULT_CLIMATE_ZONE",
    "CLIMATE_ZONES",
    "apply_climate_zone",
    "CO2_PER_C",
    "transition_matrix",
    "sink",
    "ValuationResult",
    "valuation",
    "valuation_factor",
]


# sink, valuation, volume and the IPCC tables load on first use (pydantic, yaml), so that
# ``sinks carbon`` starts fast.
_LAZY = {
    "CO2_PER_C": "sink", "METHODS": "sink", "SinkResult": "sink", "TransitionMatrix": "sink", "sink": "sink",
    "transition_matrix": "sink",
    "ValuationResult": "valuation", "valuation": "valuation", "valuation_factor": "valuation",
    "CARBON_PER_M3": "volume", "GROWING_STOCK_M3_PER_HA": "volume", "VolumeResult": "volume",
    "bef_parameters": "volume", "growing_stock": "volume", "stock_volume": "volume",
    "volume_from_raster": "volume", "volume_to_carbon": "volume",
    "ipcc_table": "ipcc",
    "Coefficient": "growth", "ForestGrowth": "growth", "forest_growth": "growth", "growth_rows": "growth",
    "DEFAULT_CLIMATE_ZONE": "soil", "CLIMATE_ZONES": "soil", "apply_climate_zone": "soil",
}


def __getattr__(name: str):  # noqa: ANN202 - PEP 562 lazy attributes
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'sinks.carbon' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(f"{__name__}.{mod}")
    # importing the submodule binds its name here (``sink`` the module): rebind every lazy name it holds
    for other, where in _LAZY.items():
        if where == mod:
            globals()[other] = getattr(module, other)
    return globals()[name]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
