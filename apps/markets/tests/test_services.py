"""Changing a licence's rules and its exchange rates: validation, history, all-or-nothing loads."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from apps.core.errors import ValidationFailed
from apps.markets.models import ExchangeRate, Market
from apps.markets.services import exchange_rates_load, market_update

pytestmark = pytest.mark.django_db


def test_a_cooling_off_below_the_legal_24_hours_is_refused():
    market = Market.objects.get(code="ukgc")
    with pytest.raises(ValidationFailed) as refused:
        market_update(market=market, actor=None, reason="faster raises", limit_cooling_off_hours=23)
    assert "limit_cooling_off_hours" in refused.value.details
    market.refresh_from_db()
    assert market.limit_cooling_off_hours == 24


def test_a_rule_change_needs_a_reason_and_is_kept_in_the_history(staff_user):
    officer = staff_user("compliance")
    market = Market.objects.get(code="dgoj")
    with pytest.raises(ValidationFailed):
        market_update(market=market, actor=officer, reason="  ", limit_cooling_off_hours=72)
    market_update(market=market, actor=officer, reason="DGOJ circular", limit_cooling_off_hours=72)
    latest = market.history.latest()
    assert (latest.limit_cooling_off_hours, latest.history_user, latest.history_change_reason) == (72, officer, "DGOJ circular")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"countries": ["ES"]}, "countries"),  # already dgoj's
        ({"countries": ["gb"]}, "countries"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"allowed_rtps": [96]}, "allowed_rtps"),
        ({"mandatory_deposit_limit_day_eur": Decimal("5000.00"), "mandatory_deposit_limit_week_eur": Decimal("100.00")},
         "mandatory_deposit_limit_week_eur"),
        ({"slot_max_stake_young_adult": Decimal("1.00")}, "young_adult_max_age"),
        ({"code": "new"}, "code"),
    ],
)
def test_invalid_rules_are_refused(changes, field):
    with pytest.raises(ValidationFailed) as refused:
        market_update(market=Market.objects.get(code="intl"), actor=None, reason="test", **changes)
    assert field in refused.value.details


def test_exchange_rates_load_all_or_nothing():
    good = ["currency,rate_to_eur,valid_from", "GBP,1.19,2026-07-01T00:00:00+00:00", "USD,0.90,2026-07-01T00:00:00+00:00"]
    assert exchange_rates_load(lines=good, source="rates.csv") == 2
    assert ExchangeRate.objects.get(currency="GBP", valid_from=datetime(2026, 7, 1, tzinfo=UTC)).rate_to_eur == Decimal("1.19")

    bad = ["currency,rate_to_eur,valid_from", "SEK,0.09,2026-08-01T00:00:00+00:00", "NOK,abc,2026-08-01T00:00:00+00:00"]
    with pytest.raises(ValidationFailed) as refused:
        exchange_rates_load(lines=bad, source="bad.csv")
    assert "Line 3" in str(refused.value.details)
    assert not ExchangeRate.objects.filter(valid_from=datetime(2026, 8, 1, tzinfo=UTC)).exists()


def test_load_exchange_rates_command(tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text("currency,rate_to_eur,valid_from\nDKK,0.1341,2026-09-01T00:00:00Z\n", encoding="utf-8")
    call_command("load_exchange_rates", str(path))
    rate = ExchangeRate.objects.get(currency="DKK", valid_from=datetime(2026, 9, 1, tzinfo=UTC))
    assert rate.rate_to_eur == Decimal("0.1341")
    assert rate.history.latest().history_change_reason == "loaded from rates.csv"

    path.write_text("currency,rate_to_eur,valid_from\nDKK,0.1341,2026-09-01\n", encoding="utf-8")  # no time zone
    with pytest.raises(CommandError):
        call_command("load_exchange_rates", str(path))
