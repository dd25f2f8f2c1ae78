"""Read queries over deposits and withdrawals."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet, Sum

from apps.core.money import Money

from .models import Deposit, DepositStatus, Withdrawal, WithdrawalStatus


def deposits_in_flight_total(*, player) -> Money:
    """Deposits the PSP has not settled yet, in the wallet currency.

    The KYC threshold counts them too: otherwise a player could open several asynchronous
    deposits, each under the threshold on its own, that together cross it.
    """
    total = (
        Deposit.objects.filter(player_id=player.pk, currency=player.currency, status=DepositStatus.INITIATED).aggregate(
            total=Sum("amount_minor")
        )["total"]
        or 0
    )
    return Money.from_minor(int(total), player.currency)


def deposit_by_psp_reference(*, psp_reference: str) -> Deposit | None:
    if not psp_reference:
        return None
    return Deposit.objects.filter(psp_reference=psp_reference).first()


def withdrawal_queue() -> QuerySet[Withdrawal]:
    """What operators work through: open requests, oldest first (first in, first paid)."""
    return (
        Withdrawal.objects.filter(status__in=[WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED])
        .select_related("player__user")
        .order_by("created_at", "pk")
    )


@dataclass(frozen=True)
class PaymentsSummary:
    lifetime_deposits: Money
    deposit_count: int
    in_flight: Money
    open_withdrawals: int
    open_withdrawal_total: Money
    paid_withdrawals: Money


def player_payments_summary(*, player) -> PaymentsSummary:
    """The payments part of the operator's 360° view, in three aggregate queries."""
    currency = player.currency
    deposits = Deposit.objects.filter(player_id=player.pk, status=DepositStatus.COMPLETED).aggregate(
        total=Sum("amount_minor"), n=Count("pk")
    )
    open_w = Withdrawal.objects.filter(
        player_id=player.pk, status__in=[WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED]
    ).aggregate(total=Sum("amount_minor"), n=Count("pk"))
    paid = Withdrawal.objects.filter(player_id=player.pk, status=WithdrawalStatus.PAID).aggregate(total=Sum("amount_minor"))
    return PaymentsSummary(
        lifetime_deposits=Money.from_minor(deposits["total"] or 0, currency),
        deposit_count=deposits["n"],
        in_flight=deposits_in_flight_total(player=player),
        open_withdrawals=open_w["n"],
        open_withdrawal_total=Money.from_minor(open_w["total"] or 0, currency),
        paid_withdrawals=Money.from_minor(paid["total"] or 0, currency),
    )


# --- for regulatory reports (apps.reports) ---------------------------------------------------------


def payments_by_ledger_transaction(*, transaction_ids: Iterable[int]) -> dict[int, Deposit | Withdrawal]:
    """The deposit credited or the withdrawal paid by each ledger transaction (regulators ask per operation)."""
    ids = list(transaction_ids)
    found: dict[int, Deposit | Withdrawal] = {
        w.settlement_transaction_id: w for w in Withdrawal.objects.filter(settlement_transaction_id__in=ids)
    }
    found.update({d.ledger_transaction_id: d for d in Deposit.objects.filter(ledger_transaction_id__in=ids)})
    return found


def failed_deposits(*, start: datetime, end: datetime, player_ids: Iterable[int] | None = None) -> QuerySet[Deposit]:
    """Deposits the PSP refused in the period: reported with their result, no money moved."""
    qs = Deposit.objects.filter(status=DepositStatus.FAILED, updated_at__gte=start, updated_at__lt=end)
    if player_ids is not None:
        qs = qs.filter(player_id__in=list(player_ids))
    return qs.order_by("updated_at", "id")


def cancelled_withdrawals(*, start: datetime, end: datetime, player_ids: Iterable[int] | None = None) -> QuerySet[Withdrawal]:
    """Withdrawals cancelled by the player or rejected by the operator in the period."""
    qs = Withdrawal.objects.filter(
        Q(status=WithdrawalStatus.CANCELLED, cancelled_at__gte=start, cancelled_at__lt=end)
        | Q(status=WithdrawalStatus.REJECTED, reviewed_at__gte=start, reviewed_at__lt=end)
    )
    if player_ids is not None:
        qs = qs.filter(player_id__in=list(player_ids))
    return qs.order_by("id")
