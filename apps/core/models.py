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
