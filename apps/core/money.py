"""Exact money: Decimal amounts at the currency's ISO 4217 minor-unit precision, stored as integer minor units.

No float ever becomes money here: constructing Money from a float is a TypeError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .errors import ValidationFailed

# ISO 4217 minor units for the currencies an operator is likely to offer.
MINOR_UNITS: dict[str, int] = {
    "EUR": 2, "USD": 2, "GBP": 2, "SEK": 2, "NOK": 2, "DKK": 2, "CHF": 2, "CAD": 2, "AUD": 2,
    "NZD": 2, "PLN": 2, "CZK": 2, "HUF": 2, "RON": 2, "BGN": 2, "BRL": 2, "MXN": 2, "INR": 2,
    "ZAR": 2, "TRY": 2, "JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "KWD": 3, "BHD": 3, "JOD": 3,
}

# Plain notation only: no sign, no exponent, no spaces, no thousands separators.
_PLAIN_DECIMAL = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]{1,18})?$")
# The regulator's reports carry at most 12 integer digits (REPORTS.md); anything larger is a typo
# or an attack, and would overflow the database's 64-bit minor-unit columns in sums.
MAX_INTEGER_DIGITS = 12


class MoneyError(ValueError):
    """The text is not a valid amount for the currency; the message is safe to show a player."""


def minor_units(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise MoneyError(f"Unsupported currency {currency!r}.") from None


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money.amount must be a Decimal, never a float or int.")
        places = minor_units(self.currency)
        if self.amount != self.amount.quantize(Decimal(1).scaleb(-places)):
            raise MoneyError(f"{self.currency} amounts have at most {places} decimal places.")

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        places = minor_units(currency)
        return cls(Decimal(int(minor)).scaleb(-places).quantize(Decimal(1).scaleb(-places)), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls.from_minor(0, currency)

    @property
    def minor(self) -> int:
        return int(self.amount.scaleb(minor_units(self.currency)))

    def __str__(self) -> str:
        return format_amount(self.minor, self.currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise MoneyError("Cannot combine amounts in different currencies.")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money.from_minor(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money.from_minor(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money.from_minor(-self.minor, self.currency)


def format_amount(minor: int, currency: str) -> str:
    """Render minor units as the API's plain decimal string ("10.00" EUR, "1000" JPY)."""
    places = minor_units(currency)
    value = Decimal(int(minor)).scaleb(-places).quantize(Decimal(1).scaleb(-places))
    return f"{value:f}"


def parse_amount(raw: object, currency: str, *, positive: bool = True) -> Money:
    """Parse an API amount. Only a JSON string in plain notation is accepted (API.md conventions)."""
    if isinstance(raw, bool) or not isinstance(raw, str):
        raise MoneyError('Send amounts as a decimal string, e.g. "10.00".')
    if not _PLAIN_DECIMAL.match(raw):
        raise MoneyError('Amounts are plain decimal strings such as "10.00": no sign, exponent or spaces.')
    places = minor_units(currency)
    whole, _, fraction = raw.partition(".")
    if len(whole) > MAX_INTEGER_DIGITS:
        raise MoneyError(f"Amounts have at most {MAX_INTEGER_DIGITS} digits before the decimal point.")
    if len(fraction) > places:
        raise MoneyError(f"{currency} amounts have at most {places} decimal places.")
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the regex already excludes this
        raise MoneyError("Not a decimal amount.") from None
    money = Money(value.quantize(Decimal(1).scaleb(-places)), currency)
    if positive and money.minor <= 0:
        raise MoneyError("The amount must be greater than zero.")
    return money


def require_wallet_amount(amount: Money, currency: str) -> None:
    """Money moved on a wallet is positive and in the wallet's own currency: there is no silent conversion.

    Raises the API's 400 validation_error (a service's guard; the API has usually said so already).
    """
    if not isinstance(amount, Money):
        raise TypeError("amount must be Money.")
    if amount.currency != currency:
        raise ValidationFailed(f"The wallet is in {currency}, not {amount.currency}.", details={"currency": [f"Use {currency}."]})
    if amount.minor <= 0:
        raise ValidationFailed(details={"amount": ["The amount must be greater than zero."]})
