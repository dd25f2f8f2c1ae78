"""What the back-office dashboard and the sidebar's queue badges show, read through the other apps' selectors.

Money figures come from the ledger's entries (the source of truth), per currency: currencies are never
added together, and amounts stay integers of minor units until they are shown as Money. Definitions
(GLOSSARY.md): GGR = stakes − payouts (the house game revenue accounts' movements from bets, wins and
rollbacks); NGR = GGR − bonus cost (gaming tax is per market and lives in the regulatory reports);
an active player placed at least one stake (the UKGC's "active customer account"); an FTD is a
player's first credited deposit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from apps.aml import selectors as aml_selectors
from apps.aml.models import ACTIVE_STATUSES, AlertLevel
from apps.core import clock
from apps.core.money import Money
from apps.games import selectors as games_selectors
from apps.kyc import selectors as kyc_selectors
from apps.ledger import selectors as ledger_selectors
from apps.ledger.models import AccountKind, TransactionKind
from apps.payments import selectors as payments_selectors
from apps.payments.models import WithdrawalStatus
from apps.reports import selectors as reports_selectors

GAME_KINDS = [TransactionKind.BET, TransactionKind.WIN, TransactionKind.ROLLBACK]


@dataclass(frozen=True)
class Window:
    label: str
    start: datetime
    end: datetime


def windows(now: datetime | None = None) -> tuple[Window, Window]:
    """Today (since local midnight) and the last 30 days (30 × 24 h back from now)."""
    now = now or clock.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    end = now + timedelta(microseconds=1)  # what was posted at `now` counts
    return Window("Today", midnight, end), Window("Last 30 days", now - timedelta(days=30), end)


@dataclass(frozen=True)
class CurrencyFigures:
    """One currency's figures over one window."""

    currency: str
    deposits: Money
    deposit_count: int
    withdrawals: Money
    withdrawal_count: int
    first_time_depositors: int
    ggr: Money
    bonus_cost: Money
    active_players: int

    @property
    def ngr(self) -> Money:
        return Money.from_minor(self.ggr.minor - self.bonus_cost.minor, self.currency)


def money_figures(*, start: datetime, end: datetime) -> list[CurrencyFigures]:
    """Deposits credited, withdrawals paid out, FTDs, GGR, bonus cost, NGR and active players per currency in [start, end)."""
    cash = ledger_selectors.entry_totals(
        start=start, end=end, account_kinds=[AccountKind.PLAYER_CASH], kinds=[TransactionKind.DEPOSIT]
    )
    paid = ledger_selectors.entry_totals(
        start=start, end=end, account_kinds=[AccountKind.PLAYER_HOLD], kinds=[TransactionKind.WITHDRAWAL_PAYOUT]
    )
    house = ledger_selectors.entry_totals(start=start, end=end, account_kinds=[AccountKind.HOUSE_GAME_REVENUE], kinds=GAME_KINDS)
    bonus = ledger_selectors.entry_totals(start=start, end=end, account_kinds=[AccountKind.BONUS_COST])
    ftd = ledger_selectors.first_deposits_between(start=start, end=end)
    active = reports_selectors.active_accounts_between(start=start, end=end)
    currencies = sorted({currency for totals in (cash, paid, house, bonus) for _kind, currency in totals} | set(ftd) | set(active))

    def total(totals: dict, currency: str) -> tuple[int, int]:
        rows = [value for (_kind, cur), value in totals.items() if cur == currency]
        return sum(minor for minor, _n in rows), sum(n for _minor, n in rows)

    figures = []
    for currency in currencies:
        deposits, deposit_count = total(cash, currency)
        withdrawals, withdrawal_count = total(paid, currency)
        ggr, _ = total(house, currency)
        bonus_movement, _ = total(bonus, currency)
        figures.append(
            CurrencyFigures(
                currency=currency,
                deposits=Money.from_minor(deposits, currency),
                deposit_count=deposit_count,
                withdrawals=Money.from_minor(-withdrawals, currency),  # a payout debits the hold
                withdrawal_count=withdrawal_count,
                first_time_depositors=ftd.get(currency, 0),
                ggr=Money.from_minor(ggr, currency),
                bonus_cost=Money.from_minor(-bonus_movement, currency),  # a bonus credit debits bonus cost
                active_players=active.get(currency, 0),
            )
        )
    return figures


# --- Work queues ---


def withdrawals_awaiting_approval_count() -> int:
    return payments_selectors.withdrawal_queue().filter(status=WithdrawalStatus.REQUESTED).count()


def oldest_withdrawal_waiting_since() -> datetime | None:
    oldest = payments_selectors.withdrawal_queue().filter(status=WithdrawalStatus.REQUESTED).first()
    return oldest.created_at if oldest else None


def kyc_cases_awaiting_review_count() -> int:
    return kyc_selectors.kyc_review_queue().count()


def open_aml_alerts_by_level() -> dict[str, int]:
    """Open or investigated alerts per level, every level present (critical first), zero when none."""
    counts = dict.fromkeys(reversed(AlertLevel.values), 0)
    for level in aml_selectors.alerts().filter(status__in=ACTIVE_STATUSES).values_list("level", flat=True):
        counts[level] = counts.get(level, 0) + 1
    return counts


@dataclass(frozen=True)
class QueueFigures:
    withdrawals_waiting: int
    oldest_withdrawal_since: datetime | None
    kyc_open: int
    aml_open_by_level: dict[str, int] = field(default_factory=dict)

    @property
    def aml_open(self) -> int:
        return sum(self.aml_open_by_level.values())


def queue_figures() -> QueueFigures:
    return QueueFigures(
        withdrawals_waiting=withdrawals_awaiting_approval_count(),
        oldest_withdrawal_since=oldest_withdrawal_waiting_since(),
        kyc_open=kyc_cases_awaiting_review_count(),
        aml_open_by_level=open_aml_alerts_by_level(),
    )


# --- RTP ---


@dataclass(frozen=True)
class GameRtp:
    slug: str
    name: str
    currency: str
    stakes: Money
    payouts: Money
    target: Decimal | None  # None: stakes under a game name the catalog does not hold
    rounds: int

    @property
    def actual(self) -> Decimal | None:
        """Payouts ÷ stakes, in percent to two places; None before the first stake."""
        if not self.stakes.minor:
            return None
        return (Decimal(self.payouts.minor) * 100 / Decimal(self.stakes.minor)).quantize(Decimal("0.01"))


def rtp_by_game(*, start: datetime, end: datetime) -> list[GameRtp]:
    """Each game's actual RTP over the window (from the ledger's stakes and wins, rollbacks taken off the
    stakes) next to the RTP its catalog entry is configured to pay, per currency."""
    catalog = {game.slug: game for game in games_selectors.games_catalog()}
    sums: dict[tuple[str, str], dict[str, int]] = {}
    for row in reports_selectors.game_totals(start=start, end=end):
        if not row["game"]:
            continue
        bucket = sums.setdefault((row["game"], row["account__currency"]), {"bet": 0, "win": 0, "rollback": 0, "rounds": 0})
        bucket[row["kind"]] = bucket.get(row["kind"], 0) + int(row["total"])
        if row["kind"] == TransactionKind.BET:
            bucket["rounds"] += row["count"]
    result = []
    for (slug, currency), bucket in sorted(sums.items()):
        stakes = -bucket["bet"] - bucket["rollback"]  # a stake debits cash; a rollback gives it back
        game = catalog.get(slug)
        result.append(
            GameRtp(
                slug=slug, name=game.name if game else slug, currency=currency, stakes=Money.from_minor(stakes, currency),
                payouts=Money.from_minor(bucket["win"], currency), target=game.rtp if game else None, rounds=bucket["rounds"],
            )
        )
    return result


# --- Chart ---


def daily_money(*, days: int = 30, now: datetime | None = None) -> tuple[list[date], dict[str, dict[str, list[int]]]]:
    """The last `days` days and, per currency, the deposits, withdrawals paid and GGR of each day in minor units."""
    now = now or clock.now()
    today = timezone.localdate(now)
    day_list = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    start = timezone.make_aware(datetime.combine(day_list[0], datetime.min.time()))
    end = now + timedelta(microseconds=1)
    tz = timezone.get_current_timezone()
    series: dict[str, dict[str, list[int]]] = {}

    def add(totals: dict, name: str, sign: int) -> None:
        for (day, _kind, currency), minor in totals.items():
            if day in day_list:
                per = series.setdefault(currency, {"deposits": [0] * days, "withdrawals": [0] * days, "ggr": [0] * days})
                per[name][day_list.index(day)] += sign * minor

    add(ledger_selectors.entry_totals_by_day(start=start, end=end, account_kind=AccountKind.PLAYER_CASH,
                                             kinds=[TransactionKind.DEPOSIT], tzinfo=tz), "deposits", 1)
    add(ledger_selectors.entry_totals_by_day(start=start, end=end, account_kind=AccountKind.PLAYER_HOLD,
                                             kinds=[TransactionKind.WITHDRAWAL_PAYOUT], tzinfo=tz), "withdrawals", -1)
    add(ledger_selectors.entry_totals_by_day(start=start, end=end, account_kind=AccountKind.HOUSE_GAME_REVENUE,
                                             kinds=GAME_KINDS, tzinfo=tz), "ggr", 1)
    return day_list, series
