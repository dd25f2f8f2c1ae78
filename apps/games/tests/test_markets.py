"""Games under each market's rules (issue #11), black-box through the player API and both provider protocols,
with a controlled clock: verification before play (UKGC LCCP 17.1), due diligence over deposits, stakes and
winnings (EU AMLD art. 11(d)), the slot stake cap by age (UK Online Games Stake Limits regulations 2025),
the minimum time between spins and no autoplay (UKGC RTS 14), and reality checks that stop play until the
player acknowledges them (UKGC RTS 13)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from apps.core.errors import KycRequired, MarketRestricted, RateLimited, StakeOutOfRange
from apps.core.money import Money
from apps.core.testing import run_together
from apps.games import services
from apps.games.models import ProviderTransaction, Round
from apps.ledger import services as ledger_services
from apps.ledger.selectors import wallet_balances
from apps.limits.services import protection_session_start, reality_check_set
from apps.markets.models import Market
from apps.markets.services import market_update

from .conftest import eur

pytestmark = pytest.mark.django_db

START = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock_at(time_machine):
    time_machine.move_to(START, tick=False)
    return time_machine


def client_of(player) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=player.user)  # no JWT: the clock moves
    return client


_keys = iter(range(1, 10**6))


def play(client, session_id: int, stake: str, **choices):
    return client.post(f"/api/v1/game-sessions/{session_id}/rounds", {"stake": stake, **choices}, format="json",
                       HTTP_IDEMPOTENCY_KEY=f"round-{next(_keys)}")


def error(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def set_rule(code: str, **changes) -> None:
    market_update(market=Market.objects.get(code=code), actor=None, reason="test", **changes)


def gbp(amount: str) -> Money:
    return Money(Decimal(amount), "GBP")


def stake(player, amount: Money, *, game=None, key: str | None = None, reference: str | None = None):
    """One stake, each its own game cycle unless `reference` says otherwise."""
    number = next(_keys)
    return services.stake_place(player=player, amount=amount, idempotency_key=key or f"stake-{number}",
                                reference=reference or f"round:{number}", game=game)


# --- Verification before play (UKGC LCCP licence condition 17.1) ---


def test_an_unverified_gb_player_cannot_open_a_session_play_or_launch(make_player, fund, house_games, caleta_provider):
    player = make_player(country="GB", currency="EUR")
    fund(player, "50.00")
    client = client_of(player)
    assert error(client.post("/api/v1/games/dice/sessions", {}, format="json")) == (403, "kyc_required")
    assert error(client.post(f"/api/v1/games/{caleta_provider.game.slug}/launch")) == (403, "kyc_required")
    # A session opened before the rule applied (an operator moved the player) still refuses the round.
    set_rule("ukgc", verification_before_play=False)
    session = client.post("/api/v1/games/dice/sessions", {}, format="json").json()
    set_rule("ukgc", verification_before_play=True)
    refused = play(client, session["id"], "1.00")
    assert error(refused) == (403, "kyc_required") and refused.json()["error"]["details"] == {"market": "ukgc"}
    assert not Round.objects.exists() and wallet_balances(player=player).cash == eur("50.00")


def test_a_verified_gb_player_plays(make_player, fund, house_games, approve):
    player = approve(make_player(country="GB", currency="EUR"))
    fund(player, "50.00")
    client = client_of(player)
    session = client.post("/api/v1/games/dice/sessions", {}, format="json").json()
    assert play(client, session["id"], "1.00").status_code == 201


def test_an_unverified_gb_players_provider_bets_are_refused_in_each_protocols_form(make_player, fund, generic_provider,
                                                                                   caleta_provider):
    player = make_player(country="GB", currency="EUR")
    fund(player, "50.00")
    generic = generic_provider.call("bet", {"player_id": str(player.public_id), "round_id": "r1", "transaction_id": "b1",
                                            "amount": "1.00", "currency": "EUR", "game_code": "acme_slot"})
    assert error(generic) == (403, "kyc_required")
    assert generic.json()["error"]["details"]["balance"] == "50.00"

    set_rule("ukgc", verification_before_play=False)  # a token from before the rule applied
    token = services.launch_create(player=player, game=caleta_provider.game)
    set_rule("ukgc", verification_before_play=True)
    caleta = caleta_provider.call("bet", {"token": token.token, "request_uuid": "u1", "game_code": "clt_fruits", "transaction_uuid": "t1",
                                          "round": "r1", "currency": "EUR", "amount": 100_000, "user": str(player.public_id)})
    assert caleta.status_code == 200
    assert caleta.json()["status"] == "RS_ERROR_USER_DISABLED" and caleta.json()["balance"] == 5_000_000
    assert not ProviderTransaction.objects.exists() and wallet_balances(player=player).cash == eur("50.00")


# --- Due diligence over deposits, stakes and winnings (EU AMLD art. 11(d)) ---


def test_the_due_diligence_threshold_counts_deposits_stakes_and_winnings(player, fund, approve):
    set_rule("intl", due_diligence_threshold_eur=Decimal("100.00"))
    fund(player, "50.00")
    ledger_services.win_post(player=player, amount=eur("30.00"), idempotency_key="win-1", reference="round:x")
    stake(player, eur("20.00"))  # 50 + 30 + 20 = 100: at the threshold, not past it
    with pytest.raises(KycRequired) as refused:
        stake(player, eur("0.01"))
    assert refused.value.details == {"threshold": "100.00", "currency": "EUR"}
    assert wallet_balances(player=player).cash == eur("60.00")
    approve(player)
    stake(player, eur("10.00"))  # approved: the threshold no longer asks anything
    assert wallet_balances(player=player).cash == eur("50.00")


def test_past_the_threshold_rounds_launches_and_provider_bets_answer_kyc_required(player, fund, house_games, generic_provider):
    set_rule("intl", due_diligence_threshold_eur=Decimal("100.00"))
    client = client_of(player)
    session = client.post("/api/v1/games/dice/sessions", {}, format="json").json()
    fund(player, "100.00")  # at the threshold: the next stake would pass it
    assert error(play(client, session["id"], "1.00")) == (403, "kyc_required")
    bet = generic_provider.call("bet", {"player_id": str(player.public_id), "round_id": "r1", "transaction_id": "b1",
                                        "amount": "1.00", "currency": "EUR"})
    assert error(bet) == (403, "kyc_required")
    fund(player, "0.01")  # past it: even starting a game asks for verification first
    assert error(client.post("/api/v1/games/roulette/sessions", {}, format="json")) == (403, "kyc_required")
    assert wallet_balances(player=player).cash == eur("100.01")


def test_the_threshold_is_counted_in_eur_for_other_wallets(make_player, fund):
    set_rule("intl", due_diligence_threshold_eur=Decimal("117.00"))
    player = make_player(country="DE", currency="GBP")  # demo rate: 1 GBP = 1.17 EUR
    fund(player, "90.00")
    stake(player, gbp("10.00"))  # 100 GBP = 117.00 EUR
    with pytest.raises(KycRequired):
        stake(player, gbp("0.01"))


# --- Slot stake cap by age (UK: Gambling Act 2005 (Online Games Stake Limits) Regulations 2025) ---


@pytest.fixture
def gb_player(make_player, fund, approve):
    def make(born: date, currency: str = "GBP"):
        player = approve(make_player(country="GB", currency=currency, date_of_birth=born))
        fund(player, "100.00")
        return player

    return make


def test_the_slot_cap_is_5_gbp_and_2_gbp_for_players_aged_18_to_24(gb_player, house_games, clock_at):
    slot = house_games["fruit-slot"]
    young = gb_player(date(2001, 6, 3))  # 23 on START, 24 tomorrow
    older = gb_player(date(1990, 1, 1))
    stake(young, gbp("2.00"), game=slot)
    with pytest.raises(StakeOutOfRange) as refused:
        stake(young, gbp("2.01"), game=slot)
    assert refused.value.details == {"max_stake": "2.00", "reason": "market_slot_stake_cap", "market": "ukgc"}
    stake(young, gbp("50.00"), game=house_games["dice"])  # not a slot: the game's own range applies
    stake(older, gbp("5.00"), game=slot)
    with pytest.raises(StakeOutOfRange):
        stake(older, gbp("5.01"), game=slot)


def test_the_young_adult_cap_ends_on_the_25th_birthday(gb_player, house_games, clock_at):
    slot = house_games["fruit-slot"]
    player = gb_player(date(2000, 6, 3))  # 24 on START, 25 tomorrow
    with pytest.raises(StakeOutOfRange):
        stake(player, gbp("2.50"), game=slot)
    clock_at.move_to(START + timedelta(days=1), tick=False)
    stake(player, gbp("2.50"), game=slot)


def test_the_cap_is_converted_to_the_wallet_currency_and_answered_by_the_round_api(gb_player, house_games, clock_at):
    player = gb_player(date(1990, 1, 1), currency="EUR")  # 5 GBP at the demo rate 1.17 = 5.85 EUR
    client = client_of(player)
    session = client.post("/api/v1/games/fruit-slot/sessions", {}, format="json").json()
    refused = play(client, session["id"], "5.86")
    assert error(refused) == (422, "stake_out_of_range") and refused.json()["error"]["details"]["max_stake"] == "5.85"
    assert play(client, session["id"], "5.85").status_code == 201


def test_other_markets_have_no_slot_cap(player, fund, house_games):
    fund(player, "100.00")
    stake(player, eur("50.00"), game=house_games["fruit-slot"])
    stake(player, eur("0.10"), game=house_games["fruit-slot"])  # and no interval either


def test_provider_slot_bets_are_capped_in_each_protocols_form(gb_player, generic_provider, caleta_provider, clock_at):
    player = gb_player(date(1990, 1, 1), currency="EUR")
    body = {"player_id": str(player.public_id), "round_id": "r1", "transaction_id": "b1", "amount": "5.86", "currency": "EUR",
            "game_code": "acme_slot"}
    assert error(generic_provider.call("bet", body)) == (422, "stake_out_of_range")
    token = services.launch_create(player=player, game=caleta_provider.game)
    caleta = caleta_provider.call("bet", {"token": token.token, "request_uuid": "u1", "game_code": "clt_fruits", "transaction_uuid": "t1",
                                          "round": "r1", "currency": "EUR", "amount": 586_000})
    assert caleta.json()["status"] == "RS_ERROR_UNKNOWN" and caleta.json()["balance"] == 10_000_000
    # A generic bet without game_code is for the game the player launched with that provider.
    services.launch_create(player=player, game=generic_provider.game)
    body.pop("game_code")
    assert error(generic_provider.call("bet", body)) == (422, "stake_out_of_range")
    assert not ProviderTransaction.objects.exists()


# --- Minimum time between slot spins and no autoplay (UKGC RTS 14) ---


def test_a_spin_sooner_than_2_5_seconds_is_429_with_retry_after(gb_player, house_games, clock_at):
    player = gb_player(date(1990, 1, 1))
    client = client_of(player)
    session = client.post("/api/v1/games/fruit-slot/sessions", {}, format="json").json()
    assert play(client, session["id"], "1.00").status_code == 201
    clock_at.shift(timedelta(seconds=1))
    early = play(client, session["id"], "1.00")
    assert error(early) == (429, "rate_limited") and early["Retry-After"] == "2"  # 1.5 s left, rounded up
    assert early.json()["error"]["details"]["reason"] == "slot_min_spin_interval"
    dice = client.post("/api/v1/games/dice/sessions", {}, format="json").json()
    assert play(client, dice["id"], "1.00").status_code == 201  # not a slot
    clock_at.shift(timedelta(milliseconds=1500))
    assert play(client, session["id"], "1.00").status_code == 201  # 2.5 s after the last spin
    assert Round.objects.filter(session_id=session["id"]).count() == 2


def test_the_interval_spans_sessions_and_provider_bets_of_one_round_are_one_spin(gb_player, house_games, generic_provider, clock_at):
    player = gb_player(date(1990, 1, 1), currency="EUR")
    slot = house_games["fruit-slot"]
    other = services.session_open(player=player, game=slot)
    stake(player, eur("1.00"), game=slot, reference="game-round:elsewhere")
    with pytest.raises(RateLimited):  # a second session does not reset the clock
        services.round_play(player=player, session_id=other.pk, stake=eur("1.00"), choices={}, idempotency_key="k")
    clock_at.shift(timedelta(seconds=3))
    bet = {"player_id": str(player.public_id), "round_id": "r1", "amount": "1.00", "currency": "EUR", "game_code": "acme_slot"}
    assert generic_provider.call("bet", {**bet, "transaction_id": "b1"}).status_code == 200
    assert generic_provider.call("bet", {**bet, "transaction_id": "b2"}).status_code == 200  # a side bet of the same spin
    too_fast = generic_provider.call("bet", {**bet, "transaction_id": "b3", "round_id": "r2"})
    assert error(too_fast) == (429, "rate_limited") and too_fast["Retry-After"] == "3"


def test_markets_without_an_interval_spin_freely_and_the_rule_is_data(gb_player, house_games, clock_at):
    player = gb_player(date(1990, 1, 1))
    slot = house_games["fruit-slot"]
    set_rule("ukgc", slot_min_spin_interval_ms=None)
    stake(player, gbp("1.00"), game=slot)
    stake(player, gbp("1.00"), game=slot)
    set_rule("ukgc", slot_min_spin_interval_ms=500)
    clock_at.shift(timedelta(seconds=1))
    stake(player, gbp("1.00"), game=slot)
    with pytest.raises(RateLimited):
        stake(player, gbp("1.00"), game=slot)


@pytest.mark.django_db(transaction=True)
def test_concurrent_spins_one_passes_the_other_waits(gb_player, house_games, clock_at):
    """Two spins of one player at the same instant, on real threads: the protection lock orders them, so the
    second sees the first's time and is refused; exactly one stake is in the ledger."""
    player = gb_player(date(1990, 1, 1))
    slot = house_games["fruit-slot"]

    def spin(i: int):
        with transaction.atomic():
            return stake(player, gbp("1.00"), game=slot, reference=f"round:{i}")

    results = run_together(2, spin)
    assert sorted(type(r).__name__ for r in results) == ["LedgerTransaction", "RateLimited"]
    assert wallet_balances(player=player).cash == gbp("99.00")


def test_there_is_no_autoplay(gb_player, house_games, clock_at):
    player = gb_player(date(1990, 1, 1))
    client = client_of(player)
    session = client.post("/api/v1/games/fruit-slot/sessions", {}, format="json").json()
    asked = play(client, session["id"], "1.00", autoplay=10)
    assert error(asked) == (400, "validation_error")  # every round is one request; no batch or autoplay choice exists
    with pytest.raises(MarketRestricted):
        services.round_many(player=player, session_id=session["id"], stake=gbp("1.00"), count=3)
    assert not Round.objects.exists()


# --- Reality checks (UKGC RTS 13) ---


@pytest.fixture
def checked_player(player, fund, clock_at):
    fund(player, "100.00")
    reality_check_set(player=player, minutes=15)
    protection_session_start(player=player)
    return player


def test_a_due_reality_check_stops_rounds_until_acknowledged(checked_player, house_games, clock_at):
    client = client_of(checked_player)
    session = client.post("/api/v1/games/dice/sessions", {}, format="json").json()
    assert play(client, session["id"], "1.00").status_code == 201
    clock_at.shift(timedelta(minutes=15))
    due = play(client, session["id"], "1.00")
    assert error(due) == (409, "invalid_state")
    details = due.json()["error"]["details"]
    assert details["reason"] == "reality_check_due" and details["elapsed_seconds"] == 900
    assert details["acknowledge"] == "/api/v1/responsible-gaming/reality-check/acknowledge"
    overview = client.get("/api/v1/responsible-gaming").json()
    assert overview["reality_check_due"] is True and overview["session_elapsed_seconds"] == 900
    assert client.post("/api/v1/responsible-gaming/reality-check/acknowledge").status_code == 200
    assert play(client, session["id"], "1.00").status_code == 201
    clock_at.shift(timedelta(minutes=15))  # the next interval
    assert error(play(client, session["id"], "1.00")) == (409, "invalid_state")


def test_a_due_reality_check_refuses_provider_bets_but_wins_settle(checked_player, generic_provider, caleta_provider, clock_at):
    token = services.launch_create(player=checked_player, game=caleta_provider.game)
    bet = {"player_id": str(checked_player.public_id), "round_id": "r1", "amount": "1.00", "currency": "EUR"}
    assert generic_provider.call("bet", {**bet, "transaction_id": "b1"}).status_code == 200
    clock_at.shift(timedelta(minutes=16))
    assert error(generic_provider.call("bet", {**bet, "transaction_id": "b2"})) == (409, "invalid_state")
    assert generic_provider.call("win", {**bet, "transaction_id": "w1", "amount": "3.00"}).status_code == 200
    caleta = caleta_provider.call("bet", {"token": token.token, "request_uuid": "u1", "game_code": "clt_fruits", "transaction_uuid": "t1",
                                          "round": "r9", "currency": "EUR", "amount": 100_000})
    assert caleta.json()["status"] == "RS_ERROR_USER_DISABLED"
    assert wallet_balances(player=checked_player).cash == eur("102.00")


def test_the_overview_shows_the_sessions_time_and_net_position(checked_player, clock_at):
    stake(checked_player, eur("10.00"))
    ledger_services.win_post(player=checked_player, amount=eur("4.00"), idempotency_key="w", reference="round:test")
    clock_at.shift(timedelta(minutes=7))
    overview = client_of(checked_player).get("/api/v1/responsible-gaming").json()
    assert (overview["session_elapsed_seconds"], overview["session_net_position"]) == (420, "-6.00")
    protection_session_start(player=checked_player)  # a new login starts a new session
    overview = client_of(checked_player).get("/api/v1/responsible-gaming").json()
    assert (overview["session_elapsed_seconds"], overview["session_net_position"]) == (0, "0.00")


def test_without_reality_checks_nothing_is_due(player, fund, clock_at):
    fund(player, "10.00")
    protection_session_start(player=player)
    clock_at.shift(timedelta(hours=5))
    stake(player, eur("1.00"))


def test_the_cap_is_on_the_total_staked_in_one_game_cycle(gb_player, generic_provider, clock_at):
    """SI 2025/215: "the total amount which an individual may stake in relation to any game cycle"."""
    player = gb_player(date(1990, 1, 1), currency="EUR")  # cap 5.85 EUR
    bet = {"player_id": str(player.public_id), "round_id": "r1", "amount": "3.00", "currency": "EUR", "game_code": "acme_slot"}
    assert generic_provider.call("bet", {**bet, "transaction_id": "b1"}).status_code == 200
    refused = generic_provider.call("bet", {**bet, "transaction_id": "b2"})
    assert error(refused) == (422, "stake_out_of_range") and refused.json()["error"]["details"]["max_stake"] == "2.85"
    assert generic_provider.call("bet", {**bet, "transaction_id": "b3", "amount": "2.85"}).status_code == 200
    clock_at.shift(timedelta(seconds=3))
    assert generic_provider.call("bet", {**bet, "transaction_id": "b4", "round_id": "r2", "amount": "5.85"}).status_code == 200
    assert wallet_balances(player=player).cash == eur("88.30")


# --- What the market checks cost (the pins in test_stake.py and test_query_counts.py did not move) ---


def test_the_market_checks_ride_the_protection_locks_round_trip(player, fund, django_assert_max_num_queries):
    """Default market, unverified player: the KYC state and the due-diligence volume come in the lock's one round trip."""
    fund(player, "10.00")
    stake(player, eur("1.00"))
    with django_assert_max_num_queries(5) as captured:
        stake(player, eur("1.00"))
    lock = next(q["sql"] for q in captured.captured_queries if "FOR UPDATE" in q["sql"])
    assert "kyc_kyccase" in lock and "ledger_entry" in lock


def test_a_gb_slot_spin_adds_one_update_for_the_spin_time(gb_player, house_games, clock_at, django_assert_max_num_queries):
    player = gb_player(date(1990, 1, 1))
    slot = house_games["fruit-slot"]
    stake(player, gbp("1.00"), game=slot)
    clock_at.shift(timedelta(seconds=3))
    with django_assert_max_num_queries(6) as captured:
        stake(player, gbp("1.00"), game=slot)
    updates = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1 and "limits_playerprotection" in updates[0]
