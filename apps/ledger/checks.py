"""The ledger's invariants, checked from the entries themselves (used by verify_ledger and the tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, F, OuterRef, Subquery, Sum

from .models import PLAYER_KINDS, Account, Entry, LedgerTransaction


@dataclass
class LedgerReport:
    transactions: int = 0
    entries: int = 0
    accounts: int = 0
    breaches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaches


def verify_ledger(*, limit: int = 50) -> LedgerReport:
    report = LedgerReport(
        transactions=LedgerTransaction.objects.count(),
        entries=Entry.objects.count(),
        accounts=Account.objects.count(),
    )
    unbalanced = (
        Entry.objects.values("transaction_id", "account__currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("transaction_id")[:limit]
    )
    for row in unbalanced:
        report.breaches.append(
            f"transaction {row['transaction_id']} does not balance in {row['account__currency']}: {row['total']}"
        )
    short = LedgerTransaction.objects.annotate(n=Count("entries")).filter(n__lt=2).values_list("pk", "n")[:limit]
    for pk, n in short:
        report.breaches.append(f"transaction {pk} has {n} entries (at least 2 required)")

    sums = Entry.objects.filter(account=OuterRef("pk")).values("account").annotate(total=Sum("amount")).values("total")
    last = Entry.objects.filter(account=OuterRef("pk")).order_by("-id").values("balance_after")[:1]
    accounts = Account.objects.annotate(entry_sum=Subquery(sums), last_balance=Subquery(last))
    for account in accounts.iterator(chunk_size=2000):
        entry_sum = account.entry_sum or 0
        if entry_sum != account.balance:
            report.breaches.append(
                f"account {account.pk} ({account.kind} {account.currency}) caches {account.balance} but its entries sum to {entry_sum}"
            )
        if account.last_balance is not None and account.last_balance != account.balance:
            report.breaches.append(
                f"account {account.pk} last entry balance_after {account.last_balance} differs from balance {account.balance}"
            )
        if account.kind in PLAYER_KINDS and account.balance < 0:
            report.breaches.append(f"player account {account.pk} ({account.kind}) is negative: {account.balance}")
        if len(report.breaches) >= limit:
            break
    # Entries in a transaction must all carry its kind and time (they are copied for fast window sums).
    drift = Entry.objects.exclude(kind=F("transaction__kind")).values_list("pk", flat=True)[:limit]
    for pk in drift:
        report.breaches.append(f"entry {pk} kind differs from its transaction")
    return report
