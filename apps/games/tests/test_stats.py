"""Statistics per game and day, the RTP monitor's band, and the staff API over them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import F
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from apps.games import services, stats
from apps.games.models import Game, GameDayStats, Round
from apps.games.tasks import refresh_game_stats

from .conftest import eur

pytestmark = pytest.mark.django_db


def test_the_band_flags_a_real_deviation_and_not_noise():
    # 10,000 rounds of 1.00 at a per-round standard deviation of 1.00 (variance 10,000 × 100² minor²).
    variance = 10_000 * 100.0**2
    honest = stats.deviation_z(payouts_minor=960_500, turnover_minor=1_000_000, rtp=Decimal("96.00"), variance=variance)
    broken = stats.deviation_z(payouts_minor=1_010_000, turnover_minor=1_000_000, rtp=Decimal("96.00"), variance=variance)
    assert abs(honest) < stats.Z_CRITICAL and not stats.is_flagged(honest, 10_000)
    assert broken > stats.Z_CRITICAL and stats.is_flagged(broken, 10_000)
    assert not stats.is_flagged(broken, stats.MIN_ROUNDS - 1)  # too few rounds to judge
    assert stats.deviation_z(payouts_minor=0, turnover_minor=0, rtp=Decimal("96.00"), variance=0) is None


def _play(player, game, count, stake="1.00", choices=None):
    session = services.session_open(player=player, game=game)
    for n in range(count):
        services.round_play(player=player, session_id=session.pk, stake=eur(stake), choices=choices or {}, idempotency_key=f"s{n}")
    return session


def test_refresh_sums_the_days_rounds_and_is_idempotent(player, fund, house_games):
    fund(player, "500.00")
    _play(player, house_games["roulette"], 30)
    assert stats.stats_refresh(day=stats.today()) == 0
    assert stats.stats_refresh(day=stats.today()) == 0
    row = GameDayStats.objects.get()
    payouts = sum(Round.objects.values_list("payout_minor", flat=True))
    assert (row.rounds, row.turnover_minor, row.payouts_minor, row.currency) == (30, 3000, payouts, "EUR")
    assert row.rtp_target == Decimal("97.30") and row.variance > 0 and not row.flagged


def test_a_game_paying_far_above_its_rtp_is_flagged(player, fund, house_games):
    fund(player, "500.00")
    _play(player, house_games["roulette"], stats.MIN_ROUNDS)
    # Forge the records as a broken paytable would leave them: every round paid back double.
    Round.objects.update(payout_minor=F("stake_minor") * 2)
    assert stats.stats_refresh(day=stats.today()) == 1
    row = GameDayStats.objects.get()
    assert row.flagged and row.z_score > stats.Z_CRITICAL


def test_the_monitor_is_scheduled_and_the_task_refreshes_today_and_yesterday(player, fund, house_games):
    assert PeriodicTask.objects.filter(task="apps.games.tasks.refresh_game_stats", enabled=True).exists()
    fund(player, "10.00")
    _play(player, house_games["dice"], 2)
    result = refresh_game_stats.apply().get()
    assert list(result) == [str(stats.today() - timedelta(days=1)), str(stats.today())]
    assert GameDayStats.objects.filter(day=stats.today()).count() == 1


def test_provider_rounds_count_in_the_stats(caleta_provider, player, fund):
    from apps.games import provider_wallet

    fund(player, "100.00")
    token = services.launch_create(player=player, game=caleta_provider.game)
    for n in range(3):
        provider_wallet.wallet_bet(provider=caleta_provider.provider, player=player, transaction_id=f"b{n}", round_id=f"r{n}",
                                   amount=Decimal("2.00"), currency="EUR", game=caleta_provider.game, token=token)
    provider_wallet.wallet_win(provider=caleta_provider.provider, player=player, transaction_id="w0", round_id="r0",
                               amount=Decimal("3.00"), currency="EUR", game=caleta_provider.game, reference_transaction_id="b0")
    provider_wallet.wallet_rollback(provider=caleta_provider.provider, player=player, transaction_id="rb2", round_id="r2",
                                    reference_transaction_id="b2")
    stats.stats_refresh(day=stats.today())
    row = GameDayStats.objects.get(game=caleta_provider.game)
    assert (row.rounds, row.turnover_minor, row.payouts_minor) == (2, 400, 300)  # the rolled-back bet is not turnover


@pytest.fixture
def staff_client(staff_user):
    def make(role: str | None):
        client = APIClient()
        client.force_authenticate(user=staff_user(group=role) if role else staff_user(superuser=True))
        return client

    return make


def test_staff_stats_for_operator_and_compliance_only(staff_client, player_client, fund, house_games):
    fund(player_client.player, "100.00")
    _play(player_client.player, house_games["dice"], 4)
    stats.stats_refresh(day=stats.today())
    day = stats.today().isoformat()
    for role in ("operator", "compliance"):
        response = staff_client(role).get(f"/api/v1/staff/games/stats?from={day}&to={day}")
        assert response.status_code == 200, response.content
        (row,) = response.json()
        assert (row["slug"], row["rounds"], row["turnover"], row["rtp_target"]) == ("dice", 4, "4.00", "99.00")
        payouts = Decimal(row["payouts"])
        assert Decimal(row["ggr"]) == Decimal("4.00") - payouts
        assert Decimal(row["rtp_actual"]) == (payouts * 100 / 4).quantize(Decimal("0.01"))
    assert staff_client("support").get("/api/v1/staff/games/stats").status_code == 403
    denied = player_client.get("/api/v1/staff/games/stats")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
    assert staff_client("operator").get("/api/v1/staff/games/stats?from=2025-13-01").status_code == 400


def test_staff_rtp_change_by_operator_with_history(staff_client, house_games):
    operator = staff_client("operator")
    response = operator.put("/api/v1/staff/games/dice/rtp", {"rtp": "96.50", "reason": "Market launch"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["rtp"] == "96.50"
    game = Game.objects.get(slug="dice")
    latest = game.history.first()
    assert game.rtp == Decimal("96.50") and "Market launch" in latest.history_change_reason and latest.history_user is not None

    for bad in ("79.99", "99.01", "96.555", 96):
        refused = operator.put("/api/v1/staff/games/dice/rtp", {"rtp": bad}, format="json")
        assert refused.status_code == 400, bad
    assert staff_client("compliance").put("/api/v1/staff/games/dice/rtp", {"rtp": "95.00"}, format="json").status_code == 403
    assert operator.put("/api/v1/staff/games/nope/rtp", {"rtp": "95.00"}, format="json").status_code == 404
    assert Game.objects.get(slug="dice").rtp == Decimal("96.50")


def test_a_market_can_restrict_the_rtp_to_certified_values(monkeypatch, house_games, staff_user):
    """The seam the markets issue fills: certified values override the operator's free choice in the range."""
    from apps.core.errors import ValidationFailed

    monkeypatch.setattr(services, "certified_rtps", lambda game: frozenset({Decimal("94.00"), Decimal("96.00")}))
    actor = staff_user(superuser=True)
    with pytest.raises(ValidationFailed):
        services.game_rtp_set(game=house_games["dice"], rtp=Decimal("95.00"), actor=actor, reason="try")
    assert services.game_rtp_set(game=house_games["dice"], rtp=Decimal("96.00"), actor=actor, reason="certified").rtp == Decimal("96.00")
