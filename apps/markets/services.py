"""Every write to markets and exchange rates: full validation, who and why in the history, one transaction."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.dateparse import parse_datetime

from apps.core.errors import ValidationFailed
from apps.core.history import save_with_history

from .models import ExchangeRate, Market

# Fields an officer may change; `code` is stored on every player, so it never changes once created.
RULE_FIELDS = tuple(
    f.name for f in Market._meta.concrete_fields if f.name not in {"id", "code", "updated_at"}
)


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(details={"reason": ["Say why the rule changes; it is kept in the market's history."]})
    return reason


def _full_clean(obj) -> None:
    try:
        obj.full_clean()
    except DjangoValidationError as exc:
        raise ValidationFailed(details=exc.message_dict) from None


@transaction.atomic
def market_update(*, market: Market, actor, reason: str, **changes: object) -> Market:
    """Change a licence's rules. A value the law does not allow (a cooling-off under 24 h) is refused."""
    reason = _require_reason(reason)
    unknown = set(changes) - set(RULE_FIELDS)
    if unknown:
        raise ValidationFailed(details={name: ["Not a rule of a market."] for name in sorted(unknown)})
    locked = Market.objects.select_for_update().get(pk=market.pk)
    for name, value in changes.items():
        setattr(locked, name, value)
    _full_clean(locked)
    save_with_history(locked, actor=actor, reason=reason)
    transaction.on_commit(_forget_policies)
    return locked


def _forget_policies() -> None:
    from .selectors import clear_policy_cache

    clear_policy_cache()


@transaction.atomic
def exchange_rate_set(
    *, currency: str, rate_to_eur: Decimal, valid_from: datetime, actor=None, reason: str, source: str = ""
) -> ExchangeRate:
    """Record a rate from an instant on; the same currency and instant again corrects that row (with history)."""
    reason = _require_reason(reason)
    currency = currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ValidationFailed(details={"currency": ["An ISO 4217 code, e.g. GBP."]})
    rate = ExchangeRate.objects.select_for_update().filter(currency=currency, valid_from=valid_from).first()
    if rate is None:
        rate = ExchangeRate(currency=currency, valid_from=valid_from)
    rate.rate_to_eur = rate_to_eur
    rate.source = source[:100]
    _full_clean(rate)
    save_with_history(rate, actor=actor, reason=reason)
    return rate


@transaction.atomic
def exchange_rates_load(*, lines: Iterable[str], actor=None, source: str) -> int:
    """Load rates from CSV lines with the header `currency,rate_to_eur,valid_from` (ISO 8601 with offset).

    All or nothing: one bad line refuses the whole file, naming the line, so a half-loaded set never
    decides a threshold.
    """
    count = 0
    reader = csv.DictReader(lines)
    if set(reader.fieldnames or ()) < {"currency", "rate_to_eur", "valid_from"}:
        raise ValidationFailed(details={"file": ["The header must be currency,rate_to_eur,valid_from."]})
    for number, row in enumerate(reader, start=2):
        try:
            rate = Decimal((row["rate_to_eur"] or "").strip())
        except InvalidOperation:
            raise ValidationFailed(details={"file": [f"Line {number}: {row['rate_to_eur']!r} is not a decimal."]}) from None
        valid_from = parse_datetime((row["valid_from"] or "").strip())
        if valid_from is None or valid_from.tzinfo is None:
            raise ValidationFailed(details={"file": [f"Line {number}: valid_from must be ISO 8601 with a time zone."]})
        try:
            exchange_rate_set(
                currency=row["currency"] or "", rate_to_eur=rate, valid_from=valid_from, actor=actor,
                reason=f"loaded from {source}", source=source,
            )
        except ValidationFailed as exc:
            raise ValidationFailed(details={"file": [f"Line {number}: {exc.details}"]}) from None
        count += 1
    return count
