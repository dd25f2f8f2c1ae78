from django.conf import settings
from django.db import models


class IdempotentRequest(models.Model):
    """The first successful answer to a money POST, replayed for any retry with the same key.

    The row is inserted in the same transaction as the money movement, so a concurrent
    retry waits on the unique index and then replays instead of moving money twice.
    """

    scope = models.CharField(max_length=80, help_text="Whose key space: a player or a provider.")
    key = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField(null=True)
    # Text, not jsonb: a replay must return the same body byte for byte, key order included.
    response_body = models.TextField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="core_idempotency_scope_key_unique")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class ExportKind(models.TextChoices):
    PLAYERS = "players", "Player list"
    DEPOSITS = "deposits", "Deposits"
    WITHDRAWALS = "withdrawals", "Withdrawals"
    STATEMENT = "statement", "Player statement"
    LEDGER_JOURNAL = "ledger_journal", "Ledger journal"


class DataExport(models.Model):
    """Who took which personal or financial data out of the back-office, with what filter, when, how many rows.

    A CSV of players or payments is personal data leaving the system: the controller must be able to show
    who processed it (GDPR art. 5(2) accountability, art. 30 records, art. 32 access control), and the
    regulators' record-keeping rules (UKGC LCCP 17, RD 1614/2011) expect the same of financial records.
    The row is written before the first byte is streamed; `rows` and `completed_at` when the last byte
    left, so an export the browser abandoned shows as never completed.
    """

    kind = models.CharField(max_length=32, choices=ExportKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filters = models.JSONField(default=dict, blank=True, help_text="The list filters, search and date range as the officer chose them.")
    rows = models.PositiveIntegerField(null=True, blank=True, help_text="Data rows sent (the header not counted).")
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-started_at", "-id")
        permissions = [
            ("export_players", "Can export player lists (CSV)"),
            ("export_payments", "Can export deposits and withdrawals (CSV)"),
            ("export_ledger", "Can export statements and the ledger journal (CSV)"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.user} at {self.started_at:%Y-%m-%d %H:%M}"
