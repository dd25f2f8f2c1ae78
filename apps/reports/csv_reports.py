"""The CSV report types: the ledger journal, GGR and gaming tax, and the UKGC-style quarterly return."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import BinaryIO

from apps.core.money import format_amount
from apps.ledger.selectors import TransactionKind

from . import selectors
from .registry import Period, ReportType, register


class CsvReport(ReportType):
    fmt = "csv"
    header: tuple[str, ...] = ()

    def write(self, fh: BinaryIO, *, period: Period, run) -> int:
        # A text layer over the binary temp file: rows go to disk as they are produced, never held.
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="", write_through=False)
        try:
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow(self.header)
            rows = 0
            for row in self.rows(period=period):
                writer.writerow(row)
                rows += 1
            text.flush()
        finally:
            text.detach()
        return rows

    def rows(self, *, period: Period):  # pragma: no cover - abstract
        raise NotImplementedError


@register
class LedgerJournalDaily(CsvReport):
    """Every ledger transaction of the day with each of its entries: one row per entry."""

    code = "ledger_journal_daily"
    period_kind = "day"
    description = "Ledger journal: every transaction of the day with its entries (CSV)."
    header = (
        "transaction_id", "created_at", "kind", "reference", "reason", "created_by_id",
        "entry_id", "account_id", "account_kind", "player_id", "currency", "amount", "balance_after",
    )

    def rows(self, *, period: Period):
        start, end = period.bounds(self.time_zone)
        for entry in selectors.journal_entries(start=start, end=end):
            tx, account = entry.transaction, entry.account
            yield (
                tx.pk, tx.created_at.isoformat(), tx.kind, tx.reference, tx.reason, tx.created_by_id or "",
                entry.pk, account.pk, account.kind, account.player_id or "", account.currency,
                format_amount(entry.amount, account.currency), format_amount(entry.balance_after, account.currency),
            )


def tax_on(ggr_minor: int, rate: Decimal) -> int:
    """Tax in minor units, rounded half up; no tax is due on a negative GGR (it is not refunded either)."""
    if ggr_minor <= 0:
        return 0
    return int((Decimal(ggr_minor) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _rate(value: Decimal | None) -> Decimal:
    """The market's rate as written in the file: two decimals (0.20) unless it has more (0.1525)."""
    value = value or Decimal("0")
    cents = value.quantize(Decimal("0.01"))
    return cents if cents == value else value.normalize()


@register
class GgrDaily(CsvReport):
    """GGR and gaming tax per game and day. GGR = stakes - rollbacks - wins (GLOSSARY.md)."""

    code = "ggr_daily"
    period_kind = "day"
    description = "GGR and gaming tax per game per day (CSV)."
    header = ("date", "game", "currency", "stakes", "rollbacks", "wins", "ggr", "tax_rate", "tax", "bets")

    def rows(self, *, period: Period):
        start, end = period.bounds(self.time_zone)
        rate = _rate(self.market.gaming_tax_rate)
        games: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in selectors.game_totals(start=start, end=end):
            figures = games[(selectors.game_of(row["game"]), row["account__currency"])]
            figures[row["kind"]] += int(row["total"])
            if row["kind"] == TransactionKind.BET:
                figures["bets"] += row["count"]
        for (game, currency), figures in sorted(games.items()):
            stakes = -figures[TransactionKind.BET]
            rollbacks = figures[TransactionKind.ROLLBACK]
            wins = figures[TransactionKind.WIN]
            ggr = stakes - rollbacks - wins
            yield (
                period.label, game, currency, format_amount(stakes, currency), format_amount(rollbacks, currency),
                format_amount(wins, currency), format_amount(ggr, currency), f"{rate:f}",
                format_amount(tax_on(ggr, rate), currency), figures["bets"],
            )


@register
class UkgcQuarterly(CsvReport):
    """UKGC-style quarterly return, one row per wallet currency."""

    code = "ukgc_quarterly"
    period_kind = "quarter"
    description = "UKGC-style quarterly return (CSV)."
    header = (
        "quarter", "currency", "active_accounts", "registrations", "customer_funds_at_quarter_end",
        "ggr", "self_exclusions_started", "complaints",
    )

    def rows(self, *, period: Period):
        start, end = period.bounds(self.time_zone)
        active = selectors.active_accounts_between(start=start, end=end)
        registrations = selectors.registrations_between(start=start, end=end)
        funds = selectors.customer_funds_at(moment=end)
        exclusions = selectors.self_exclusions_started(start=start, end=end)
        ggr: dict[str, int] = defaultdict(int)
        for row in selectors.game_totals(start=start, end=end):
            # Player-cash side: stakes are negative, wins and rollbacks positive; GGR is minus their sum.
            ggr[row["account__currency"]] -= int(row["total"])
        currencies = sorted(set(active) | set(registrations) | set(funds) | set(exclusions) | set(ggr))
        for currency in currencies:
            yield (
                period.label, currency, active.get(currency, 0), registrations.get(currency, 0),
                format_amount(funds.get(currency, 0), currency), format_amount(ggr.get(currency, 0), currency),
                exclusions.get(currency, 0),
                "",  # complaints: no complaints register yet; the column keeps the return's shape
            )
