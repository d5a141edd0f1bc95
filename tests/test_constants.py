"""The carbon ratios are declared once (sinks/data/carbon_constants.yaml); code and spec derive from it."""

from __future__ import annotations

import inspect

import pytest
import yaml

from sinks.carbon.constants import CO2_PER_C, carbon_constants, growing_stock_presets
from sinks.carbon.packaged import data_path


def test_module_constants_and_defaults_come_from_the_data_file():
    import importlib

    sink = importlib.import_module("sinks.carbon.sink")  # the module (sinks.carbon.sink is also the function)
    volume = importlib.import_module("sinks.carbon.volume")
    from sinks.indicators import region_indicators
    from sinks.spec import CarbonSpec

    raw = yaml.safe_load(data_path("carbon_constants.yaml").read_text(encoding="utf-8"))
    m3 = growing_stock_presets()[raw["growing_stock_preset"]]["m3_per_ha"]
    assert volume.GROWING_STOCK_M3_PER_HA == m3 == 94.83
    assert volume.CARBON_PER_M3 == raw["carbon_per_m3"]["value"] == 0.523
    assert volume.GROWTH_M3_PER_HA_YR == raw["growth_m3_per_ha_yr"]["value"]
    assert volume.BEF_CARBON_FRACTION == raw["bef_carbon_fraction"]["value"]
    assert sink.SOIL_TRANSITION_YEARS == raw["soil_transition_years"]["value"] == 20
    spec = CarbonSpec()
    assert (spec.volume_m3_per_ha, spec.carbon_per_m3, spec.soil_transition_years) == (m3, 0.523, 20)
    params = inspect.signature(region_indicators).parameters
    assert params["volume_m3_per_ha"].default == m3 and params["carbon_per_m3"].default == 0.523
    assert sink.CO2_PER_C == CO2_PER_C == pytest.approx(44 / 12)


def test_every_constant_has_unit_and_source():
    c = carbon_constants()
    for name in ("carbon_per_m3", "growth_m3_per_ha_yr", "soil_transition_years", "bef_carbon_fraction"):
        value = getattr(c, name)
        assert value.unit and value.source.startswith(("[", "carbon fraction")), name


def test_rule_thresholds_are_declared_only_in_rules_yaml():
    """The rule models carry no values: every field is required, and the packaged YAML fills them all."""
    from pydantic import BaseModel

    from sinks.classify.rules import RuleConfig, load_rules

    def fields(model: type[BaseModel], prefix: str = "") -> list[str]:
        out = []
        for name, info in model.model_fields.items():
            assert info.is_required(), f"{prefix}{name} has a default in the model"
            sub = info.annotation
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                out += fields(sub, f"{prefix}{name}.")
            else:
                out.append(prefix + name)
        return out

    names = fields(RuleConfig)
    cfg = load_rules()
    assert len(names) > 40 and cfg.water.mndwi.default == 0.0 and cfg.forest.min_votes == 2
