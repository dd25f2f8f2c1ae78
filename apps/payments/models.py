"""Deposits and withdrawals: the PSP-facing side of the wallet.

These rows track the lifecycle of a payment; the money itself moves only in the ledger,
and each row keeps the id of the ledger transaction(s) it caused. Amounts are integer
minor units in the player's wallet currency.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from apps.core.money import Money


class DepositStatus(models.TextChoices):
    INITIATED = "initiated", "Initiated"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class DepositMethod(models.TextChoices):
    # The built-in sandbox PSP settles at once; the async variant waits for its signed webhook,
    # which is how a real card or bank PSP behaves.
    SANDBOX = "sandbox", "Sandbox PSP (settles at once)"
    SANDBOX_ASYNC = "sandbox_async", "Sandbox PSP (settles by webhook)"


class Deposit(models.Model):
    player = models.ForeignKey("players.Player", on_delete=models.PROTECT, related_name="deposits")
    amount_minor = models.BigIntegerField(help_text="Minor units of the currency (cents for EUR).")
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=32, choices=DepositMethod.choices)
    status = FSMField(default=DepositStatus.INITIATED, choices=DepositStatus.choices, protected=True)
    psp_reference = models.CharField(max_length=100, blank=True, help_text="The PSP's id for this payment.")
    idempotency_key = models.CharField(max_length=64)
    ledger_transaction = models.ForeignKey(
        "ledger.LedgerTransaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The ledger posting that credited the cash (set on completion).",
    )
    failure_reason = models.CharField(max_length=255, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True, help_text="Regulatory reports ask for it per operation.")
    # The rest of what the regulator asks per operation (DGOJ CJD, REPORTS.md): the device class at the
    # request (MO, PC, TB, TF, OT), and from the PSP the last four digits and whether the payer is the player.
    device = models.CharField(max_length=2, blank=True, help_text="Device class at the request: MO, PC, TB, TF or OT.")
    card_last4 = models.CharField(max_length=4, blank=True, help_text="Last four digits of the card or account, from the PSP.")
    holder_verified = models.BooleanField(default=False, help_text="The PSP confirmed the payer is the player.")
    instrument_fingerprint = models.CharField(
        max_length=64, blank=True, db_index=True,
        help_text="Keyed hash (HMAC-SHA256) of the payment instrument: method, last four digits and the PSP's instrument token. "
        "Never the card or account number; AML compares it across players (shared identity).",
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["player", "idempotency_key"], name="payments_deposit_player_key_unique"),
            models.UniqueConstraint(
                fields=["psp_reference"], condition=~models.Q(psp_reference=""), name="payments_deposit_psp_reference_unique"
            ),
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="payments_deposit_amount_positive"),
        ]
        indexes = [models.Index(fields=["player", "status"], name="payments_dep_player_status")]

    def __str__(self) -> str:
        return f"Deposit #{self.pk} {self.amount} {self.status}"

    @property
    def amount(self) -> Money:
        return Money.from_minor(self.amount_minor, self.currency)

    # Transitions: called only by apps.payments.services.
    @transition(field=status, source=DepositStatus.INITIATED, target=DepositStatus.COMPLETED)
    def complete(self) -> None: ...

    @transition(field=status, source=DepositStatus.INITIATED, target=DepositStatus.FAILED)
    def fail(self) -> None: ...


class WithdrawalStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    PAID = "paid", "Paid"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


class Withdrawal(models.Model):
    """A player's request to take cash out.

    requested -> approved -> paid is the normal path; requested -> cancelled (by the player)
    or -> rejected (by an operator) returns the held money to cash. An *approved* withdrawal
    can still be rejected: the PSP may refuse the payout, or a late AML finding may stop it,
    and until it is paid the money is still in the player's hold account, so it goes back to
    cash. Once paid, nothing here undoes it: a PSP return is a new ledger transaction.
    """

    player = models.ForeignKey("players.Player", on_delete=models.PROTECT, related_name="withdrawals")
    amount_minor = models.BigIntegerField(help_text="Minor units of the currency (cents for EUR).")
    currency = models.CharField(max_length=3)
    status = FSMField(default=WithdrawalStatus.REQUESTED, choices=WithdrawalStatus.choices, protected=True)
    idempotency_key = models.CharField(max_length=64)
    hold_transaction = models.ForeignKey(
        "ledger.LedgerTransaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Cash to hold, at request time.",
    )
    settlement_transaction = models.ForeignKey(
        "ledger.LedgerTransaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Hold to PSP (paid) or hold back to cash (rejected or cancelled).",
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The operator who approved or rejected it.",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)
    rejection_reason = models.TextField(blank=True)
    paid_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    paid_at = models.DateTimeField(null=True, blank=True)
    psp_reference = models.CharField(max_length=100, blank=True, help_text="The PSP's id for the payout.")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # An operator's return of an excluded player's funds (issue #11): to the method the player deposited with.
    return_reason = models.TextField(blank=True, help_text="Set when an operator returned an excluded player's funds; why.")
    payout_method = models.CharField(max_length=32, blank=True, help_text="The payment method the money goes back to.")
    ip_address = models.GenericIPAddressField(null=True, blank=True, help_text="Regulatory reports ask for it per operation.")
    device = models.CharField(max_length=2, blank=True, help_text="Device class at the request: MO, PC, TB, TF or OT.")
    card_last4 = models.CharField(max_length=4, blank=True, help_text="Last four digits of the card or account paid to, from the PSP.")
    instrument_fingerprint = models.CharField(
        max_length=64, blank=True, db_index=True,
        help_text="Keyed hash (HMAC-SHA256) of the payment instrument: method, last four digits and the PSP's instrument token. "
        "Never the card or account number; AML compares it across players (shared identity).",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["player", "idempotency_key"], name="payments_withdrawal_player_key_unique"),
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="payments_withdrawal_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="payments_wd_status_created"),
            models.Index(fields=["player", "status"], name="payments_wd_player_status"),
        ]
        permissions = [("review_withdrawal", "Can approve, reject and mark paid withdrawals")]

    def __str__(self) -> str:
        return f"Withdrawal #{self.pk} {self.amount} {self.status}"

    @property
    def amount(self) -> Money:
        return Money.from_minor(self.amount_minor, self.currency)

    # Transitions: called only by apps.payments.services, under a row lock.
    @transition(field=status, source=WithdrawalStatus.REQUESTED, target=WithdrawalStatus.APPROVED)
    def approve(self) -> None: ...

    @transition(field=status, source=[WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED], target=WithdrawalStatus.REJECTED)
    def reject(self) -> None: ...

    @transition(field=status, source=WithdrawalStatus.REQUESTED, target=WithdrawalStatus.CANCELLED)
    def cancel(self) -> None: ...

    @transition(field=status, source=WithdrawalStatus.APPROVED, target=WithdrawalStatus.PAID)
    def mark_paid(self) -> None: ...
