"""Which market takes a player, the rules a policy hands out, and EUR conversion at a point in time."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.core.money import Money
from apps.markets.models import ExchangeRate, Market
from apps.markets.selectors import (
    MissingExchangeRate,
    convert,
    from_eur,
    game_certified_rtps,
    market_for_country,
    policy_for,
    policy_for_code,
    slot_stake_cap_for,
    to_eur,
)
from apps.markets.services import market_update

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("country", "market"),
    [("GB", "ukgc"), ("gb", "ukgc"), ("ES", "dgoj"), ("DE", "intl"), ("MT", "intl"), ("US", None), ("KP", None)],
)
def test_market_for_country_ships_gb_ukgc_es_dgoj_and_the_default_licence(country, market):
    assert market_for_country(country) == market


def test_a_country_listed_by_a_market_is_accepted_even_if_the_setting_blocks_it(settings):
    settings.BLOCKED_COUNTRIES = ["GB", "DE"]
    assert market_for_country("GB") == "ukgc"
    assert market_for_country("DE") is None


def test_policy_for_reads_the_players_market_code_not_their_country():
    class Someone:
        market = "ukgc"
        country = "DE"

    policy = policy_for(Someone())
    assert policy.code == "ukgc"
    assert policy.verification_before_play is True
    assert policy.withdrawal_reversal_allowed is False


def test_shipped_rules_per_market():
    ukgc, dgoj, intl = policy_for_code("ukgc"), policy_for_code("dgoj"), policy_for_code("intl")
    assert ukgc.limit_raise_needs_confirmation and not dgoj.limit_raise_needs_confirmation and not intl.limit_raise_needs_confirmation
    assert dgoj.mandatory_deposit_limits_eur() == {"day": Decimal("600.00"), "week": Decimal("1500.00"), "month": Decimal("3000.00")}
    assert ukgc.mandatory_deposit_limits_eur() == {} == intl.mandatory_deposit_limits_eur()
    assert {p.due_diligence_threshold_eur for p in (ukgc, dgoj, intl)} == {Decimal("2000.00")}
    assert min(p.limit_cooling_off_hours for p in (ukgc, dgoj, intl)) >= 24
    assert "dgoj_rud_daily" in dgoj.reports and dgoj.report_time_zone == "Europe/Madrid"
    assert ukgc.slot_min_spin_interval_ms == 2500 and ukgc.slot_autoplay_allowed is False


@pytest.mark.parametrize(("age", "cap"), [(18, "2.00"), (24, "2.00"), (25, "5.00"), (70, "5.00")])
def test_ukgc_slot_stake_cap_by_age(age, cap):
    assert policy_for_code("ukgc").slot_stake_cap(age) == Money(Decimal(cap), "GBP")


def test_no_slot_stake_cap_outside_the_uk():
    assert policy_for_code("intl").slot_stake_cap(19) is None


def test_rtp_allowed_list_empty_means_any():
    market = Market.objects.get(code="dgoj")
    assert policy_for_code("dgoj").rtp_allowed(Decimal("91.37"))
    market_update(market=market, actor=None, reason="certified RTPs only", allowed_rtps=["94.00", "96.50"])
    policy = policy_for_code("dgoj")
    assert policy.rtp_allowed(Decimal("96.5")) and not policy.rtp_allowed(Decimal("95.00"))


def test_a_saved_rule_is_read_at_once_in_this_process():
    assert policy_for_code("intl").limit_cooling_off_hours == 24
    market_update(market=Market.objects.get(code="intl"), actor=None, reason="stricter", limit_cooling_off_hours=48)
    assert policy_for_code("intl").limit_cooling_off_hours == 48


def test_to_eur_uses_the_rate_valid_at_that_moment():
    ExchangeRate.objects.create(currency="GBP", rate_to_eur=Decimal("1.20"), valid_from=datetime(2026, 6, 1, tzinfo=UTC))
    assert to_eur(Money(Decimal("100.00"), "GBP"), datetime(2026, 5, 31, tzinfo=UTC)) == Decimal("117.00")  # demo rate
    assert to_eur(Money(Decimal("100.00"), "GBP"), datetime(2026, 6, 1, tzinfo=UTC)) == Decimal("120.00")
    assert to_eur(Money(Decimal("5.00"), "EUR")) == Decimal("5.00")


def test_conversions_round_down_so_a_rule_never_loosens():
    assert from_eur(Decimal("600.00"), "GBP") == Money(Decimal("512.82"), "GBP")  # 600 / 1.17 = 512.8205…
    assert from_eur(Decimal("600.00"), "JPY") == Money(Decimal("96774"), "JPY")
    assert convert(Money(Decimal("5.00"), "GBP"), "EUR") == Money(Decimal("5.85"), "EUR")
    assert convert(Money(Decimal("2.00"), "GBP"), "GBP") == Money(Decimal("2.00"), "GBP")


def test_no_rate_is_an_error_not_a_guess():
    with pytest.raises(MissingExchangeRate):
        to_eur(Money(Decimal("1.00"), "GBP"), datetime(2019, 1, 1, tzinfo=UTC))


def test_slot_stake_cap_for_a_player_in_their_wallet_currency_on_their_age_today(time_machine):
    class Player:
        market = "ukgc"
        country = "GB"
        currency = "EUR"

        def __init__(self, born):
            self.date_of_birth = born

    time_machine.move_to(datetime(2026, 6, 15, 12, tzinfo=UTC), tick=False)
    young = Player(datetime(2002, 6, 16).date())  # 23 today, 24 tomorrow
    assert slot_stake_cap_for(young) == Money(Decimal("2.34"), "EUR")  # 2 GBP at the demo 1.17
    assert slot_stake_cap_for(Player(datetime(2001, 6, 15).date())) == Money(Decimal("5.85"), "EUR")  # 25 today
    other = Player(datetime(2002, 6, 16).date())
    other.market = "intl"
    assert slot_stake_cap_for(other) is None


def test_game_certified_rtps_is_what_every_restricting_market_allows():
    assert game_certified_rtps(game=None) is None  # no market restricts
    market_update(market=Market.objects.get(code="dgoj"), actor=None, reason="homologated", allowed_rtps=["94.00", "96.00"])
    assert game_certified_rtps(game=None) == {Decimal("94.00"), Decimal("96.00")}
    market_update(market=Market.objects.get(code="ukgc"), actor=None, reason="tested", allowed_rtps=["96.00", "97.00"])
    assert game_certified_rtps(game=None) == {Decimal("96.00")}


def test_a_market_rtp_list_restricts_the_games_rtp_setting(staff_user):
    """End to end through the games app's seam (games.services.certified_rtps)."""
    from apps.core.errors import ValidationFailed
    from apps.games import services as games_services
    from apps.games.models import Game

    game = Game.objects.order_by("pk").first()
    assert game is not None, "the in-house games come with the first migrate"
    actor = staff_user(superuser=True)
    market_update(market=Market.objects.get(code="dgoj"), actor=None, reason="homologated", allowed_rtps=["94.00", "96.00"])
    with pytest.raises(ValidationFailed):
        games_services.game_rtp_set(game=game, rtp=Decimal("95.00"), actor=actor, reason="try")
    assert games_services.game_rtp_set(game=game, rtp=Decimal("96.00"), actor=actor, reason="certified").rtp == Decimal("96.00")
