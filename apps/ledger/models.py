"""The double-entry ledger. Every cent a player owns is the sum of its entries and nothing else.

Amounts are signed integers of the currency's minor units (cents for EUR, yen for JPY).
Entries and transactions are append-only: database triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AccountKind(models.TextChoices):
    PLAYER_CASH = "player_cash", "Player cash"
    PLAYER_BONUS = "player_bonus", "Player bonus"
    PLAYER_HOLD = "player_hold", "Player withdrawal hold"
    HOUSE_GAME_REVENUE = "house_game_revenue", "House game revenue"
    PSP_CLEARING = "psp_clearing", "PSP clearing"
    BONUS_COST = "bonus_cost", "Bonus cost"
    ADJUSTMENTS = "adjustments", "Manual adjustments"


# A player's own money can never go below zero; system accounts are counterparties and may.
PLAYER_KINDS = frozenset({AccountKind.PLAYER_CASH, AccountKind.PLAYER_BONUS, AccountKind.PLAYER_HOLD})


class TransactionKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal requested (cash to hold)"
    WITHDRAWAL_REVERSAL = "withdrawal_reversal", "Withdrawal rejected or cancelled (hold to cash)"
    WITHDRAWAL_PAYOUT = "withdrawal_payout", "Withdrawal paid (hold to PSP)"
    BET = "bet", "Bet"
    WIN = "win", "Win"
    ROLLBACK = "rollback", "Bet rollback"
    BONUS_CREDIT = "bonus_credit", "Bonus credit"
    BONUS_DEBIT = "bonus_debit", "Bonus debit"
    ADJUSTMENT = "adjustment", "Manual adjustment"


# A house account of one kind and currency is split into this many shards, each with its own cached
# balance: every stake and every deposit touches a house account, and one row locked by all of them
# would let only one posting commit at a time. A player's postings always use shard player_id % N, so
# they stay in order; the house's balance is the sum of its shards (selectors.system_balance).
# Changing N is safe: shards are opened on first use and old ones keep their entries.
COUNTERPARTY_SHARDS = 16


class Account(models.Model):
    player = models.ForeignKey("players.Player", null=True, blank=True, on_delete=models.PROTECT, related_name="accounts")
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    currency = models.CharField(max_length=3)
    shard = models.PositiveSmallIntegerField(default=0, help_text="House accounts only: which shard of the kind and currency.")
    # A cache of the sum of this account's entries, written only by the posting service in the
    # same transaction as the entries; verify_ledger proves it equal to the sum.
    balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Only the operator role holds it (roles.py): the admin's manual adjustment posts money.
        permissions = [("adjust_balance", "Can post manual balance adjustments")]
        constraints = [
            models.UniqueConstraint(
                fields=["player", "kind", "currency"],
                condition=models.Q(player__isnull=False),
                name="ledger_account_player_kind_currency_unique",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency", "shard"],
                condition=models.Q(player__isnull=True),
                name="ledger_account_system_shard_unique",
            ),
            models.CheckConstraint(condition=models.Q(player__isnull=True) | models.Q(shard=0), name="ledger_account_player_unsharded"),
            models.CheckConstraint(
                condition=~models.Q(kind__in=sorted(PLAYER_KINDS)) | models.Q(balance__gte=0),
                name="ledger_account_player_balance_non_negative",
            ),
        ]

    def __str__(self) -> str:
        owner = f"player {self.player_id}" if self.player_id else f"house, shard {self.shard}"
        return f"{self.get_kind_display()} {self.currency} ({owner})"


class LedgerTransaction(models.Model):
    kind = models.CharField(max_length=32, choices=TransactionKind.choices)
    # Unique through Meta.constraints, not unique=True: that adds a second (LIKE) index written by every posting and never read.
    idempotency_key = models.CharField(max_length=160)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the postings; a replay must match it.")
    reference = models.CharField(max_length=160, blank=True, help_text="What caused it, e.g. deposit:42.")  # indexed in Meta
    reason = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "ledger transaction"
        # Every index here is written by every posting (migration 0008): plain btrees only, no LIKE twins (nothing
        # searches these by prefix), and the staff author only where there is one (stakes and wins have none).
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="ledger_txn_idempotency_key_unique")]
        indexes = [
            models.Index(fields=["reference"], name="ledger_txn_reference"),
            models.Index(fields=["created_by"], name="ledger_txn_created_by", condition=models.Q(created_by__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.reference}"


class Entry(models.Model):
    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    # Indexed by ledger_entry_statement (account, id) below, which also serves every lookup by account.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries", db_index=False)
    amount = models.BigIntegerField(help_text="Signed minor units: positive credits the account.")
    balance_after = models.BigIntegerField()
    # Copied from the transaction so window sums (limits, reports) need no join.
    kind = models.CharField(max_length=32, choices=TransactionKind.choices)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "entries"
        indexes = [
            models.Index(fields=["account", "kind", "created_at"], name="ledger_entry_acct_kind_time"),
            # A statement, newest first, pages through one account's entries by id without sorting
            # them all (the house account has one per stake); verify_ledger reads the last one the same way.
            models.Index(fields=["account", "id"], name="ledger_entry_statement"),
        ]
        constraints = [models.CheckConstraint(condition=~models.Q(amount=0), name="ledger_entry_amount_non_zero")]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.amount}"
