"""Amounts in EUR for the rules' thresholds, at the rates of the markets' ExchangeRate table.

Every rule reads EUR through these functions and nothing else, so a rate an officer corrects in the
admin (or loads with `load_exchange_rates`) applies to AML at once, the same rate the markets' due
diligence uses.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from apps.core.money import minor_units
from apps.markets.selectors import rate_to_eur
from apps.markets.selectors import rated_currencies as markets_rated_currencies


def eur_per_unit(currency: str) -> Decimal:
    return rate_to_eur(currency)


def rated_currencies() -> list[str]:
    """Currencies with a EUR rate now: a rule cannot compare a currency it cannot convert."""
    return markets_rated_currencies()


def eur_in_minor(amount_eur: Decimal, currency: str) -> int:
    """The smallest amount in `currency` minor units worth at least `amount_eur`: a threshold for SQL comparisons."""
    units = Decimal(amount_eur) / eur_per_unit(currency)
    return int((units * (10 ** minor_units(currency))).to_integral_value(rounding=ROUND_CEILING))
