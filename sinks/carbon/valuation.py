"""Net present value of a carbon stock change, as InVEST's carbon model computes it.

InVEST (``natcap.invest.carbon``) values the change between the current and the
alternate (future) map as if it happened in equal annual steps over the ``n`` years
between them, each step priced at that year's (changing) price and discounted::

    value = ΔC × (p / n) × Σ_{t=0}^{n−1} 1 / ((1 + r)^t (1 + c)^t)

with ΔC the stock change (Mg C = t C; negative for a loss), ``p`` the price per t C in
the first year, ``r`` the annual discount rate and ``c`` the annual rate of change of
the price.  The sum is a geometric series with ratio ``q = 1/((1 + r)(1 + c))``:
``(1 − qⁿ)/(1 − q)``, or ``n`` when ``q = 1``.  InVEST takes ``r`` and ``c`` in percent;
here they are **fractions** (7 % → 0.07).  A price per t CO₂e is converted with
44/12 t CO₂ per t C.  Note that, as in InVEST, a rising price (``c > 0``) *lowers* the
value: the model discounts by ``(1 + c)^t`` too.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from ..errors import ConfigError
from .constants import CO2_PER_C

__all__ = ["ValuationResult", "valuation", "valuation_factor"]



class ValuationResult(BaseModel):
    """Value of a carbon change; ``npv`` is in ``currency`` (negative for a loss)."""

    model_config = ConfigDict(frozen=True)

    npv: float
    currency: str
    change_mg_c: float
    price_per_t_c: float
    years: int
    discount_rate: float
    price_change_rate: float
    valuation_factor: float
    formula: str = "npv = change_mg_c * price_per_t_c / years * sum_{t=0}^{years-1} 1/((1+r)^t (1+c)^t)"

    def to_dict(self) -> dict:
        return self.model_dump()


def valuation_factor(*, years: int, discount_rate: float = 0.0, price_change: float = 0.0) -> float:
    """``Σ_{t=0}^{n−1} 1/((1+r)^t (1+c)^t)`` (the geometric sum of the module docstring)."""
    n = _years(years)
    r, c = _rate(discount_rate, "discount_rate"), _rate(price_change, "price_change")
    q = 1.0 / ((1.0 + r) * (1.0 + c))
    if q == 1.0:
        return float(n)
    return (1.0 - q ** n) / (1.0 - q)


def valuation(change_mg_c: float, *, years: int, price: float, price_unit: str = "t_c", discount_rate: float = 0.0,
              price_change: float = 0.0, currency: str = "CNY") -> ValuationResult:
    """Net present value of a carbon stock change (InVEST's formula, module docstring).

    Parameters
    ----------
    change_mg_c : float
        Alternate − current stock (Mg C).
    years : int
        ``yr_alt − yr_cur`` (≥ 1).
    price : float
        Price per t C (``price_unit="t_c"``) or per t CO₂e (``"t_co2e"``, × 44/12).
    discount_rate, price_change : float
        Annual rates as fractions.
    currency : str

    Returns
    -------
    ValuationResult
    """
    if not math.isfinite(float(price)) or price < 0:
        raise ConfigError(f"price must be a non-negative number, got {price!r}")
    if price_unit == "t_c":
        p = float(price)
    elif price_unit == "t_co2e":
        p = float(price) * CO2_PER_C
    else:
        raise ConfigError(f"price_unit must be 't_c' or 't_co2e', got {price_unit!r}")
    n = _years(years)
    f = valuation_factor(years=n, discount_rate=discount_rate, price_change=price_change)
    return ValuationResult(npv=float(change_mg_c) * p / n * f, currency=currency, change_mg_c=float(change_mg_c),
                           price_per_t_c=p, years=n, discount_rate=float(discount_rate),
                           price_change_rate=float(price_change), valuation_factor=f)


def _years(years: int | float) -> int:
    try:
        n = int(years)
    except (TypeError, ValueError):
        raise ConfigError(f"years must be a positive integer, got {years!r}") from None
    if n != years or n < 1:
        raise ConfigError(f"years (yr_alt - yr_cur) must be a positive integer, got {years!r}")
    return n


def _rate(v: float, name: str) -> float:
    v = float(v)
    if not math.isfinite(v) or v <= -1.0:
        raise ConfigError(f"{name} must be a fraction greater than -1 (7 % = 0.07), got {v!r}")
    return v
