"""Amounts in EUR for the rules' thresholds.

THE SEAM THE MARKETS ISSUE REPLACES: there is no exchange-rate table yet, so the rates are demo values
from settings.AML_DEMO_EUR_RATES (EUR per unit of the currency). When markets adds its ExchangeRate
table, only `eur_per_unit` changes; every rule reads EUR through these functions and nothing else.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.core.money import Money, minor_units


def eur_per_unit(currency: str) -> Decimal:
    rates = getattr(settings, "AML_DEMO_EUR_RATES", {"EUR": "1"})
    try:
        return Decimal(str(rates[currency]))
    except KeyError:
        raise ImproperlyConfigured(f"No EUR rate for {currency} in AML_DEMO_EUR_RATES.") from None


def rated_currencies() -> list[str]:
    return sorted(getattr(settings, "AML_DEMO_EUR_RATES", {"EUR": "1"}))


def to_eur(money: Money) -> Decimal:
    """The EUR value of an amount, to the cent."""
    return (money.amount * eur_per_unit(money.currency)).quantize(Decimal("0.01"))


def eur_in_minor(amount_eur: Decimal, currency: str) -> int:
    """The smallest amount in `currency` minor units worth at least `amount_eur`: a threshold for SQL comparisons."""
    units = Decimal(amount_eur) / eur_per_unit(currency)
    return int((units * (10 ** minor_units(currency))).to_integral_value(rounding=ROUND_CEILING))
