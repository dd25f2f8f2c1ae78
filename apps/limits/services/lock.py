"""The per-player lock every responsible-gaming service takes first: the PlayerProtection row.

The row is created race-free on first use. protection_check runs inside the money service's
transaction, so the lock is held until the deposit or stake commits: two concurrent requests cannot
both see the same remaining allowance, and an exclusion cannot start half-way through a stake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.apps import apps as django_apps
from django.db import DEFAULT_DB_ALIAS, connection

from apps.core import clock
from apps.kyc import selectors as kyc_selectors
from apps.ledger import selectors as ledger_selectors
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


@dataclass
class StakeFacts:
    """What a stake is decided on, read under the player's protection lock in one round trip."""

    protection: PlayerProtection
    status: str
    currency: str
    kyc_approved: bool
    # Deposits + stakes + winnings since `since` (minor units); None when not read (KYC approved, or not asked).
    due_diligence_minor: int | None


DUE_DILIGENCE_KINDS = ("deposit", "bet", "win")
_stake_sql: dict[bool, str] = {}


def _stake_query(with_volume: bool) -> str:
    """The stake check's lock: lock the protection row; then the player's status, currency and KYC approval;
    then, when asked, the due-diligence volume unless KYC is approved (PostgreSQL runs a CASE branch's
    subquery only when it is taken). Three statements, one round trip, for the reason _lock_and_status_query
    gives: the reads after the lock see what its previous holder committed.
    """
    if with_volume not in _stake_sql:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in PlayerProtection._meta.concrete_fields)
        player_table = quote(django_apps.get_model("players", "Player")._meta.db_table)
        kyc_table = kyc_selectors.kyc_case_table()
        sql = (
            f"SELECT {columns} FROM {quote(PlayerProtection._meta.db_table)} WHERE player_id = %s FOR UPDATE; "  # noqa: S608 - no input
            f"SELECT p.status, p.currency, COALESCE({kyc_selectors.kyc_approved_sql(alias='k')}, FALSE) "
            f"FROM {player_table} p LEFT JOIN {kyc_table} k ON k.player_id = p.id WHERE p.id = %s"
        )
        if with_volume:
            volume = ledger_selectors.player_cash_volume_sql().format(kinds=", ".join(["%s"] * len(DUE_DILIGENCE_KINDS)))
            sql += (
                f"; SELECT CASE WHEN EXISTS (SELECT 1 FROM {kyc_table} k WHERE k.player_id = %s "  # noqa: S608 - no input
                f"AND {kyc_selectors.kyc_approved_sql(alias='k')}) THEN NULL ELSE ({volume}) END"
            )
        _stake_sql[with_volume] = sql
    return _stake_sql[with_volume]


def lock_for_stake(player, *, volume_since: datetime | None) -> StakeFacts:
    """Lock the protection row and read what a stake is decided on; the due-diligence volume only with `volume_since`."""
    now = clock.now()
    with_volume = volume_since is not None
    if not _one_round_trip():
        protection = lock_protection(player.pk)
        current = fresh_player(player)
        approved = kyc_selectors.kyc_is_approved(player=current)
        volume = None
        if with_volume and not approved:
            flows = ledger_selectors.player_cash_flows(player=current, since=volume_since, kinds=list(DUE_DILIGENCE_KINDS))
            volume = sum(abs(total) for total in flows.values())
        return StakeFacts(protection, current.status, current.currency, approved, volume)
    params: list = [player.pk, now, player.pk]
    if with_volume:
        params += [player.pk, now, player.pk, player.currency, *DUE_DILIGENCE_KINDS, volume_since]
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(_stake_query(with_volume), params)
            row = cursor.fetchone()
            cursor.nextset()
            status, currency, approved = cursor.fetchone()
            volume = None
            if with_volume:
                cursor.nextset()
                (volume,) = cursor.fetchone()
        if row is not None:
            protection = PlayerProtection.from_db(DEFAULT_DB_ALIAS, _PROTECTION_FIELDS, row)
            return StakeFacts(protection, status, currency, bool(approved), None if volume is None else int(volume))
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
