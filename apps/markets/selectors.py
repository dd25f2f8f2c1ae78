"""How every other app reads a market rule: `policy_for(player)`, and EUR conversion for the EUR-stated rules.

Services must not branch on a player's country (a test greps for it): the country decided the
market once, at registration; from then on the player's `market` code is what counts, and an
operator may move a player between markets (with a reason) without any service changing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.conf import settings

from apps.core import clock
from apps.core.money import Money, minor_units

from .models import ExchangeRate, Market

# A rule change reaches other processes within this many seconds; in this process at once (apps.py
# clears the cache when a Market is saved). Rules change rarely and are read on every money movement.
POLICY_CACHE_SECONDS = 30


class MissingExchangeRate(LookupError):
    """No rate for a currency at that time: callers fail closed (treat the rule as triggered)."""


@dataclass(frozen=True)
class MarketPolicy:
    """One market's rules as plain values: what services, and the games app, read.

    Amounts ending in `_eur` are EUR; slot caps are in `rule_currency` (the UK states them in GBP).
    """

    code: str
    name: str
    regulator: str
    time_zone: str
    verification_before_play: bool
    due_diligence_threshold_eur: Decimal
    due_diligence_window_days: int | None
    limit_cooling_off_hours: int
    limit_raise_needs_confirmation: bool
    confirmation_lapse_days: int
    mandatory_deposit_limit_day_eur: Decimal | None
    mandatory_deposit_limit_week_eur: Decimal | None
    mandatory_deposit_limit_month_eur: Decimal | None
    withdrawal_reversal_allowed: bool
    rule_currency: str
    slot_max_stake: Decimal | None
    slot_max_stake_young_adult: Decimal | None
    young_adult_max_age: int | None
    slot_min_spin_interval_ms: int | None
    slot_autoplay_allowed: bool
    allowed_rtps: tuple[str, ...]
    reports: tuple[str, ...]
    report_time_zone: str
    report_operator_id: str
    report_store_id: str
    report_fiscal_region: str
    gaming_tax_rate: Decimal | None
    harm_net_loss_24h: Decimal | None = None
    harm_net_loss_30d: Decimal | None = None
    harm_deposit_rise_factor: Decimal | None = None
    harm_deposit_rise_min: Decimal | None = None
    national_register: str = ""

    @classmethod
    def from_market(cls, market: Market) -> MarketPolicy:
        values: dict[str, Any] = {f.name: getattr(market, f.name) for f in fields(cls)}
        values["allowed_rtps"] = tuple(market.allowed_rtps)
        values["reports"] = tuple(market.reports)
        return cls(**values)

    @property
    def limit_cooling_off(self) -> timedelta:
        return timedelta(hours=self.limit_cooling_off_hours)

    @property
    def confirmation_lapse(self) -> timedelta:
        return timedelta(days=self.confirmation_lapse_days)

    @property
    def due_diligence_window(self) -> timedelta | None:
        return None if self.due_diligence_window_days is None else timedelta(days=self.due_diligence_window_days)

    def mandatory_deposit_limits_eur(self) -> dict[str, Decimal]:
        """period ("day", "week", "month") → EUR, only the periods this market imposes."""
        limits = {
            "day": self.mandatory_deposit_limit_day_eur,
            "week": self.mandatory_deposit_limit_week_eur,
            "month": self.mandatory_deposit_limit_month_eur,
        }
        return {period: amount for period, amount in limits.items() if amount is not None}

    def slot_stake_cap(self, age: int) -> Money | None:
        """The highest stake on one slot spin for a player of this age, in `rule_currency`; None: no cap.

        UK (the Gambling Act 2005 (Operating Licence Conditions) (Amendment) Regulations 2025, SI 2025/215): the total
        staked on one game cycle of an online slot, 5 GBP, 2 GBP for an individual under 25.
        """
        if self.young_adult_max_age is not None and self.slot_max_stake_young_adult is not None and age <= self.young_adult_max_age:
            return Money(self.slot_max_stake_young_adult, self.rule_currency)
        return None if self.slot_max_stake is None else Money(self.slot_max_stake, self.rule_currency)

    @property
    def slot_min_spin_interval(self) -> timedelta | None:
        return None if self.slot_min_spin_interval_ms is None else timedelta(milliseconds=self.slot_min_spin_interval_ms)

    def rtp_allowed(self, rtp: Decimal) -> bool:
        """May a game run at this RTP (percent) in this market? An empty list allows any."""
        return not self.allowed_rtps or any(Decimal(allowed) == rtp for allowed in self.allowed_rtps)


_cache: dict[str, tuple[float, MarketPolicy]] = {}
# currency → (expires, the newest rate's valid_from, that rate): a stake converting a slot cap or a
# due-diligence volume reads no table. Same freshness as the policies; cleared when a rate is saved here.
_rate_cache: dict[str, tuple[float, datetime, Decimal]] = {}
_cache_lock = threading.Lock()


def clear_policy_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _rate_cache.clear()


def policy_for_code(code: str) -> MarketPolicy:
    """The rules of one market by code; an unknown code is a data error (LookupError), never a silent default."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(code)
    if hit is not None and hit[0] > now:
        return hit[1]
    market = Market.objects.filter(code=code).first()
    if market is None:
        raise LookupError(f"No market with code {code!r}.")
    policy = MarketPolicy.from_market(market)
    with _cache_lock:
        _cache[code] = (now + POLICY_CACHE_SECONDS, policy)
    return policy


def policy_for(player: Any) -> MarketPolicy:
    """The rules that apply to this player: the one way services read a market rule.

    Duck-typed on `player.market` (markets may not import players). A player stored before markets
    existed and never backfilled falls back to the market of their country.
    """
    code = getattr(player, "market", "") or market_for_country(player.country)
    if code is None:
        raise LookupError(f"Player {getattr(player, 'pk', '?')} is on no market.")
    return policy_for_code(code)


def market_for_report(report_type: str) -> MarketPolicy:
    """The market whose report set lists this report type: its calendar, ids and tax are the report's.

    A type listed by no market is a configuration error (LookupError): nothing would say in whose time
    zone its periods run. Read per run, not cached beyond the policy cache, so an admin change applies
    to the next run.
    """
    codes = [code for code, reports in Market.objects.values_list("code", "reports") if report_type in (reports or [])]
    if not codes:
        raise LookupError(f"No market files the report type {report_type!r}: add it to a market's reports in the admin.")
    if len(codes) > 1:
        raise LookupError(f"The report type {report_type!r} is listed by several markets: {', '.join(sorted(codes))}.")
    return policy_for_code(codes[0])


def market_for_country(country: str) -> str | None:
    """The licence that takes players from this country, or None (registration refused: `country_blocked`).

    A market listing the country wins; otherwise the default licence, unless the country is in
    BLOCKED_COUNTRIES (the countries the default licence does not cover).
    """
    country = country.upper()
    markets = list(Market.objects.only("code", "countries", "is_default"))
    for market in markets:
        if country in market.countries:
            return market.code
    if country in settings.BLOCKED_COUNTRIES:
        return None
    return next((market.code for market in markets if market.is_default), None)


def game_certified_rtps(*, game: Any = None) -> frozenset[Decimal] | None:
    """The games app's seam (games.services.certified_rtps): the RTP values a game may be set to.

    A game is offered in every market, so it may only run at an RTP every restricting market allows: the
    intersection of the markets' non-empty `allowed_rtps` (an empty intersection allows none). None when no
    market restricts. Per-game certification (DGOJ homologates each game) is not modelled yet: the lists
    are per market.
    """
    lists = [frozenset(Decimal(v) for v in rtps) for rtps in Market.objects.values_list("allowed_rtps", flat=True) if rtps]
    if not lists:
        return None
    return frozenset.intersection(*lists)


def market_codes() -> list[str]:
    return list(Market.objects.order_by("code").values_list("code", flat=True))


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def slot_stake_cap_for(player: Any, at: datetime | None = None) -> Money | None:
    """The games app's seam: the highest slot stake this player may place now, in their wallet currency.

    Age on today's date picks the cap (UK: 2 GBP up to 24, else 5 GBP); a cap in another currency is
    converted at today's rate and rounded down. None: the market sets no cap. A stake above it is
    422 stake_out_of_range (games.stake_place, for slot games only).
    """
    at = at or clock.now()
    cap = policy_for(player).slot_stake_cap(age_on(player.date_of_birth, at.date()))
    return None if cap is None else convert(cap, player.currency, at)


# --- Exchange rates ---


def rate_to_eur(currency: str, at: datetime | None = None) -> Decimal:
    """EUR per one unit of `currency`, as valid at `at` (now by default)."""
    if currency == "EUR":
        return Decimal(1)
    at = at or clock.now()
    now = time.monotonic()
    with _cache_lock:
        hit = _rate_cache.get(currency)
    if hit is not None and hit[0] > now and hit[1] <= at:
        return hit[2]
    newest = ExchangeRate.objects.filter(currency=currency).order_by("-valid_from").values_list("valid_from", "rate_to_eur").first()
    if newest is not None and newest[0] <= clock.now():
        # Only a rate already in force is cached: one dated in the future must not answer for "now" once it starts.
        with _cache_lock:
            _rate_cache[currency] = (now + POLICY_CACHE_SECONDS, newest[0], newest[1])
        if newest[0] <= at:
            return newest[1]
    rate = (
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=at)
        .order_by("-valid_from")
        .values_list("rate_to_eur", flat=True)
        .first()
    )
    if rate is None:
        raise MissingExchangeRate(f"No EUR rate for {currency} at {at:%Y-%m-%d %H:%M}.")
    return rate


def to_eur(money: Money, at: datetime | None = None) -> Decimal:
    """The EUR value of an amount, exact to the cent, rounded down (a threshold is crossed only when truly crossed)."""
    return (money.amount * rate_to_eur(money.currency, at)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def from_eur(amount_eur: Decimal, currency: str, at: datetime | None = None) -> Money:
    """An EUR rule amount in a wallet currency, rounded down: a limit converted never ends up looser than stated."""
    places = minor_units(currency)
    amount = (amount_eur / rate_to_eur(currency, at)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    return Money(amount, currency)


def convert(money: Money, currency: str, at: datetime | None = None) -> Money:
    """Any amount into another currency through EUR, rounded down (a cap converted never grows)."""
    if money.currency == currency:
        return money
    places = minor_units(currency)
    eur = money.amount * rate_to_eur(money.currency, at)
    amount = (eur / rate_to_eur(currency, at)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    return Money(amount, currency)


def rated_currencies(at: datetime | None = None) -> list[str]:
    """EUR and every currency with a rate valid at `at` (now by default)."""
    at = at or clock.now()
    return sorted({"EUR", *ExchangeRate.objects.filter(valid_from__lte=at).values_list("currency", flat=True).distinct()})
