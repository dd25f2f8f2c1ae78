"""The per-player lock every responsible-gaming service takes first: the PlayerProtection row.

The row is created race-free on first use. protection_check runs inside the money service's
transaction, so the lock is held until the deposit or stake commits: two concurrent requests cannot
both see the same remaining allowance, and an exclusion cannot start half-way through a stake.
"""

from __future__ import annotations

from datetime import datetime

from django.apps import apps as django_apps
from django.db import DEFAULT_DB_ALIAS, connection

from apps.limits.models import Limit, PlayerProtection
from apps.limits.selectors import self_exclusion_active
from apps.players.selectors import player_by_public_id


def ensure_protection(player_id: int) -> None:
    # INSERT ... ON CONFLICT DO NOTHING: a concurrent first request waits on the unique index and then
    # yields, with no savepoint to poison the caller's transaction.
    # A player's limit rows normally come after this row; should one exist already, the flag says so.
    has_limits = Limit.objects.filter(player_id=player_id).exists()
    PlayerProtection.objects.bulk_create([PlayerProtection(player_id=player_id, has_limits=has_limits)], ignore_conflicts=True)


def lock_protection(player_id: int) -> PlayerProtection:
    """Lock (and on first use create) the player's protection row until the caller's transaction ends."""
    protection = PlayerProtection.objects.select_for_update().filter(player_id=player_id).first()
    if protection is None:
        ensure_protection(player_id)
        protection = PlayerProtection.objects.select_for_update().get(player_id=player_id)
    return protection


def _one_round_trip() -> bool:
    # Two statements in one execute() need psycopg's client-side binding (Django's default): with
    # server-side binding the server refuses several commands in one prepared statement.
    return connection.vendor == "postgresql" and connection.settings_dict.get("OPTIONS", {}).get("server_side_binding") is not True


_PROTECTION_FIELDS = [field.attname for field in PlayerProtection._meta.concrete_fields]
_lock_and_status_sql: str | None = None


def _lock_and_status_query() -> str:
    """Lock the protection row, then read the player's status: two statements sent in one round trip.

    They must stay two statements. In READ COMMITTED a statement reads other tables as of its start,
    that is before it waited for the lock; joining the player into the locking SELECT would read a
    status committed by the lock's previous holder (a reactivation, an exclusion) as it was before.
    The second statement starts once the first holds the lock, so it sees every such change.
    """
    global _lock_and_status_sql
    if _lock_and_status_sql is None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in PlayerProtection._meta.concrete_fields)
        player_table = quote(django_apps.get_model("players", "Player")._meta.db_table)
        _lock_and_status_sql = (
            f"SELECT {columns} FROM {quote(PlayerProtection._meta.db_table)} WHERE player_id = %s FOR UPDATE; "  # noqa: S608 - no input
            f"SELECT status, currency FROM {player_table} WHERE id = %s"
        )
    return _lock_and_status_sql


def lock_protection_and_status(player) -> tuple[PlayerProtection, str, str]:
    """The stake and deposit check's lock: the protection row, then the player's (status, currency) as committed now."""
    if not _one_round_trip():
        protection = lock_protection(player.pk)
        current = fresh_player(player)
        return protection, current.status, current.currency
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(_lock_and_status_query(), [player.pk, player.pk])
            row = cursor.fetchone()
            cursor.nextset()
            status, currency = cursor.fetchone()
        if row is not None:
            return PlayerProtection.from_db(DEFAULT_DB_ALIAS, _PROTECTION_FIELDS, row), status, currency
        ensure_protection(player.pk)  # first use; the second pass locks the new row
    raise PlayerProtection.DoesNotExist(f"Could not open the protection row of player {player.pk}.")  # pragma: no cover


def fresh_player(player):
    """The player as committed now: read after the lock, so a status change that just committed is seen."""
    return player_by_public_id(player.public_id) or player


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None



def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def exclusion_details(protection: PlayerProtection, now: datetime) -> dict:
    """The details of a self_excluded refusal: until when, or permanent."""
    if self_exclusion_active(protection, now):
        return {
            "reason": "self_exclusion",
            "until": iso(protection.self_excluded_until),
            "permanent": protection.self_exclusion_permanent,
        }
    return {"reason": "self_exclusion"}
