"""Per game, day and currency: rounds, turnover, payouts, GGR, actual vs target RTP; and the RTP monitor.

The monitor's test. A day's total payout P over turnover T is a sum of independent rounds, so by the
central limit theorem (Lyapunov: many rounds, none dominating) P is close to normal with mean
RTP × T and variance V = Σ Var(payout of round i). For in-house rounds V is exact: each round
stores stake² × the variance per unit stake of its paytable and choice (apps.games.engines). For
provider rounds we only know the game's declared volatility, so V uses a per-unit standard deviation
per volatility class (PROVIDER_SIGMA; conservative figures for slots of that class). The statistic is
z = (P − RTP × T) / √V, and a day is flagged when |z| > 3.29: a two-sided test at 99.9% confidence.
Why 99.9% and not 95%: the monitor runs every game every day, so at 95% an honest catalog of 50 games
would raise about 2.5 false alarms a day and compliance would learn to ignore them; at 99.9% it is
one in twenty days, while a real mis-configuration (a wrong paytable, a 5-point RTP error) on a day
with meaningful turnover still lands far outside the band. Days with fewer than MIN_ROUNDS rounds are
not judged: the normal approximation is poor for a handful of high-variance spins.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, Q, Sum

from apps.core import clock

from .models import Game, GameDayStats, ProviderTransaction, ProviderTransactionKind, Round, Volatility

STATS_PERMISSION = "games.view_gamedaystats"
Z_CRITICAL = 3.29  # two-sided, 99.9%
MIN_ROUNDS = 100
PROVIDER_SIGMA = {Volatility.LOW: 2.0, Volatility.MEDIUM: 5.0, Volatility.HIGH: 12.0}


def today() -> date:
    return clock.now().date()


def deviation_z(*, payouts_minor: int, turnover_minor: int, rtp: Decimal, variance: float) -> float | None:
    """The z statistic of a day's payouts against the target RTP, or None if it cannot be judged."""
    if turnover_minor <= 0 or variance <= 0:
        return None
    expected = float(rtp) / 100 * turnover_minor
    return (payouts_minor - expected) / math.sqrt(variance)


def is_flagged(z: float | None, rounds: int) -> bool:
    return z is not None and rounds >= MIN_ROUNDS and abs(z) > Z_CRITICAL


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=clock.now().tzinfo)
    return start, start + timedelta(days=1)


def _house_rows(day: date) -> dict[tuple[int, str], dict]:
    start, end = _bounds(day)
    rows = (
        Round.objects.filter(created_at__gte=start, created_at__lt=end)
        .values("game_id", "currency")
        .annotate(rounds=Count("id"), turnover=Sum("stake_minor"), payouts=Sum("payout_minor"), variance=Sum("variance"))
    )
    return {(r["game_id"], r["currency"]): r for r in rows}


def _provider_rows(day: date) -> dict[tuple[int, str], dict]:
    start, end = _bounds(day)
    base = ProviderTransaction.objects.filter(created_at__gte=start, created_at__lt=end, game__isnull=False)
    out: dict[tuple[int, str], dict] = defaultdict(lambda: {"rounds": 0, "turnover": 0, "payouts": 0, "stake_sq": 0})
    bets = (
        base.filter(kind=ProviderTransactionKind.BET, rolled_back=False)
        .values("game_id", "currency", "game__volatility")
        .annotate(
            rounds=Count("round_id", distinct=True), turnover=Sum("amount_minor"), stake_sq=Sum(F("amount_minor") * F("amount_minor"))
        )
    )
    for r in bets:
        row = out[(r["game_id"], r["currency"])]
        row.update(rounds=r["rounds"], turnover=r["turnover"] or 0, stake_sq=r["stake_sq"] or 0, volatility=r["game__volatility"])
    wins = base.filter(kind=ProviderTransactionKind.WIN).values("game_id", "currency").annotate(payouts=Sum("amount_minor"))
    for r in wins:
        out[(r["game_id"], r["currency"])]["payouts"] = r["payouts"] or 0
    for row in out.values():
        sigma = PROVIDER_SIGMA.get(row.get("volatility"), PROVIDER_SIGMA[Volatility.HIGH])
        row["variance"] = float(row["stake_sq"]) * sigma * sigma
    return out


@transaction.atomic
def stats_refresh(*, day: date) -> int:
    """Recompute one day's rows from the rounds and provider transactions; safe to run any number of times."""
    games = {g.pk: g for g in Game.objects.all()}
    rows = {**_provider_rows(day), **_house_rows(day)}
    flagged = 0
    for (game_id, currency), row in rows.items():
        game = games[game_id]
        turnover, payouts = int(row["turnover"] or 0), int(row["payouts"] or 0)
        variance = float(row["variance"] or 0.0)
        z = deviation_z(payouts_minor=payouts, turnover_minor=turnover, rtp=game.rtp, variance=variance)
        flag = is_flagged(z, int(row["rounds"]))
        flagged += flag
        GameDayStats.objects.update_or_create(
            game=game, day=day, currency=currency,
            defaults={"rounds": int(row["rounds"]), "turnover_minor": turnover, "payouts_minor": payouts, "rtp_target": game.rtp,
                      "variance": variance, "z_score": z, "flagged": flag},
        )
    return flagged


@dataclass
class StatsRow:
    slug: str
    currency: str
    rounds: int
    turnover_minor: int
    payouts_minor: int
    rtp_target: Decimal
    flagged_days: int

    @property
    def rtp_actual(self) -> Decimal | None:
        if not self.turnover_minor:
            return None
        return (Decimal(self.payouts_minor) * 100 / Decimal(self.turnover_minor)).quantize(Decimal("0.01"))


def stats_between(*, day_from: date, day_to: date) -> list[StatsRow]:
    """The days' rows summed per game and currency (currencies are never added together)."""
    rows = (
        GameDayStats.objects.filter(day__gte=day_from, day__lte=day_to)
        .values("game__slug", "currency", "game__rtp")
        .annotate(
            rounds=Sum("rounds"), turnover=Sum("turnover_minor"), payouts=Sum("payouts_minor"),
            flagged_days=Count("id", filter=Q(flagged=True)),
        )
        .order_by("game__slug", "currency")
    )
    return [
        StatsRow(
            slug=r["game__slug"], currency=r["currency"], rounds=int(r["rounds"] or 0), turnover_minor=int(r["turnover"] or 0),
            payouts_minor=int(r["payouts"] or 0), rtp_target=r["game__rtp"], flagged_days=int(r["flagged_days"] or 0),
        )
        for r in rows
    ]
