"""Responsible gaming. protection_check is the one gate every deposit and stake passes through.

Decisions (see also the regulations cited where they apply):

- One lock per player. Every service here first locks the player's PlayerProtection row
  (created race-free on first use). protection_check runs inside the money service's transaction,
  so the lock is held until the deposit or stake commits: two concurrent requests cannot both see
  the same remaining allowance, and an exclusion cannot start half-way through a stake.
- The check is cheap for the common player. The lock and the status read after it travel in one
  round trip (two statements, see _lock_and_status_query), and `PlayerProtection.has_limits`, set
  under the same lock when the first limit row is created, lets a player who never set a limit skip
  the limits query. Every limit row must therefore be created through _save_limit.
- Rolling windows. A day is the last 24 hours, a week the last 7 × 24 hours, a month the last
  30 × 24 hours, counted back from the moment of the check. There is no midnight or month-start reset
  at which a player could spend two periods' worth back to back; the regulator's calendar periods
  (REPORTS.md: weekly Mon–Sun) are a reporting label, the cap is never looser than a calendar one.
- Usage is read from the ledger (apps.ledger.selectors.player_cash_flows): deposits = sum of deposit
  entries; wager = stakes minus rolled-back stakes; loss = −(stakes + wins + rollbacks), never below 0.
  A stake raises the loss by at most the stake, so a stake is refused if loss + stake > limit.
- The lowest applicable limit wins: every limit of the action's kinds is checked and the refusal
  names the one with the least room left (day 50 + week 30 → the week's 30 binds).
- Limit changes (UKGC RTS 12): a new limit, a decrease, or re-setting the current amount applies at
  once and cancels any pending raise or removal (the player chose the stricter state); a raise or a
  removal waits LIMIT_COOLING_OFF (24 h) as `pending_*`. Asking for the same pending raise again does
  not restart the clock; a different amount does. Due changes are applied lazily under the lock and by
  the periodic task `activate_pending_limits`.
- Time-out (24 … 1008 hours) and self-exclusion (6, 12 or 60 months, or permanent) can only be
  extended, never shortened or lifted: no service, API or admin path ends one early. Withdrawals never
  call protection_check, so pending withdrawals stay payable.
- Returning from self-exclusion takes positive action after the period ended (UKGC LCCP SR 3.5.3):
  `self_exclusion_reactivate` records the request, and the player's status returns to active only
  after a one-day cooling-off (SELF_EXCLUSION_RETURN_COOLING_OFF, default LIMIT_COOLING_OFF), done by
  the periodic task or lazily at the next check.
- `protection_session_start(player=...)` is for the auth code: call it at login (token obtain) so
  reality checks count from the start of the session.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from django.apps import apps as django_apps
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import Q

from apps.core import clock
from apps.core.errors import InvalidState, LimitExceeded, NotFound, SelfExcluded, ValidationFailed
from apps.core.history import save_with_history
from apps.core.money import Money
from apps.players.models import PlayerStatus
from apps.players.selectors import player_assert_can_play, player_by_public_id
from apps.players.services import player_reactivate, player_self_exclude

from .models import Exclusion, ExclusionEnd, ExclusionKind, Limit, LimitKind, LimitPeriod, PlayerProtection
from .selectors import (
    cooling_off,
    latest_self_exclusion,
    return_cooling_off,
    self_exclusion_active,
    timeout_active,
    usage_from_flows,
    window_flows,
)
from .signals import exclusion_started

ACTION_LIMIT_KINDS: dict[str, tuple[str, ...]] = {
    "deposit": (LimitKind.DEPOSIT,),
    "stake": (LimitKind.WAGER, LimitKind.LOSS),
}
TIMEOUT_HOURS = (24, 1008)
SELF_EXCLUSION_MONTHS = (6, 12, 60)
REALITY_CHECK_MINUTES = (15, 240)
PERIOD_ADJECTIVE = {LimitPeriod.DAY: "daily", LimitPeriod.WEEK: "weekly", LimitPeriod.MONTH: "monthly"}


# --- The per-player lock ---


def _ensure_protection(player_id: int) -> None:
    # INSERT ... ON CONFLICT DO NOTHING: a concurrent first request waits on the unique index and then
    # yields, with no savepoint to poison the caller's transaction.
    # A player's limit rows normally come after this row; should one exist already, the flag says so.
    has_limits = Limit.objects.filter(player_id=player_id).exists()
    PlayerProtection.objects.bulk_create([PlayerProtection(player_id=player_id, has_limits=has_limits)], ignore_conflicts=True)


def _lock_protection(player_id: int) -> PlayerProtection:
    """Lock (and on first use create) the player's protection row until the caller's transaction ends."""
    protection = PlayerProtection.objects.select_for_update().filter(player_id=player_id).first()
    if protection is None:
        _ensure_protection(player_id)
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


def _lock_protection_and_status(player) -> tuple[PlayerProtection, str, str]:
    """The stake and deposit check's lock: the protection row, then the player's (status, currency) as committed now."""
    if not _one_round_trip():
        protection = _lock_protection(player.pk)
        current = _fresh_player(player)
        return protection, current.status, current.currency
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(_lock_and_status_query(), [player.pk, player.pk])
            row = cursor.fetchone()
            cursor.nextset()
            status, currency = cursor.fetchone()
        if row is not None:
            return PlayerProtection.from_db(DEFAULT_DB_ALIAS, _PROTECTION_FIELDS, row), status, currency
        _ensure_protection(player.pk)  # first use; the second pass locks the new row
    raise PlayerProtection.DoesNotExist(f"Could not open the protection row of player {player.pk}.")  # pragma: no cover


def _fresh_player(player):
    """The player as committed now: read after the lock, so a status change that just committed is seen."""
    return player_by_public_id(player.public_id) or player


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- The gate for deposits and stakes ---


def _exclusion_details(protection: PlayerProtection, now: datetime) -> dict:
    if self_exclusion_active(protection, now):
        return {
            "reason": "self_exclusion",
            "until": _iso(protection.self_excluded_until),
            "permanent": protection.self_exclusion_permanent,
        }
    return {"reason": "self_exclusion"}


def protection_check(*, player, action: str, amount: Money, pending: Callable[[], Money] | None = None) -> None:
    """Refuse a deposit or stake the player's status, exclusions or limits do not allow.

    `pending` reports money already committed to but not yet in the ledger (deposits awaiting
    their PSP); it is called under the player's lock, so concurrent requests see each other's.

    Call it inside the money service's transaction, before anything is posted: the player's
    protection lock it takes is held until that transaction commits. Called outside one, the lock
    would end before the money moves and concurrent calls could jointly exceed a limit, so that is
    refused as a programming error.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("protection_check must run inside the transaction that posts the deposit or stake.")
    kinds = ACTION_LIMIT_KINDS.get(action)
    if kinds is None:
        raise ValueError(f"Unknown protected action {action!r}.")
    _protection_check_locked(player=player, kinds=kinds, amount=amount, pending=pending)


def _protection_check_locked(*, player, kinds: tuple[str, ...], amount: Money, pending: Callable[[], Money] | None) -> None:
    protection, status, currency = _lock_protection_and_status(player)
    now = clock.now()
    if status != PlayerStatus.ACTIVE:
        # The rare path: the whole player (read after the lock too), to complete a return from
        # self-exclusion or to refuse with the players app's own error.
        current = _fresh_player(player)
        if current.status == PlayerStatus.SELF_EXCLUDED:
            current = _complete_reactivation_locked(protection, current, now) or current
        try:
            player_assert_can_play(current)
        except SelfExcluded:
            raise SelfExcluded(details=_exclusion_details(protection, now)) from None
        currency = current.currency
    if timeout_active(protection, now):
        raise SelfExcluded(
            f"You are taking a time-out until {protection.timeout_until:%Y-%m-%d %H:%M} UTC.",
            details={"reason": "timeout", "until": _iso(protection.timeout_until)},
        )
    if self_exclusion_active(protection, now):
        raise SelfExcluded(details=_exclusion_details(protection, now))
    if amount.currency != currency:
        raise ValidationFailed(details={"currency": [f"Use {currency}."]})
    if protection.has_limits:
        _check_limits(player=player, kinds=kinds, amount=amount, now=now, pending=pending)


def _check_limits(*, player, kinds: tuple[str, ...], amount: Money, now: datetime, pending: Callable[[], Money] | None) -> None:
    flows_by_period: dict[str, dict[str, int]] = {}
    breaches: list[tuple[int, int, Limit, int]] = []
    pending_minor: int | None = None
    for limit in Limit.objects.filter(player_id=player.pk, kind__in=kinds):
        _apply_due_change(limit, now)
        if limit.amount_minor is None:
            continue
        if limit.period not in flows_by_period:
            flows_by_period[limit.period] = window_flows(player=player, period=limit.period, now=now)
        used = usage_from_flows(limit.kind, flows_by_period[limit.period])
        if limit.kind == LimitKind.DEPOSIT and pending is not None:
            # Unsettled deposits count in every window: they are younger than any of them.
            if pending_minor is None:
                pending_minor = pending().minor
            used += pending_minor
        remaining = max(limit.amount_minor - used, 0)
        if amount.minor > remaining:
            breaches.append((remaining, limit.amount_minor, limit, used))
    if not breaches:
        return
    # The lowest applicable limit wins: name the one with the least room left.
    remaining, _, limit, used = min(breaches, key=lambda b: (b[0], b[1]))
    currency = limit.currency
    raise LimitExceeded(
        f"This would exceed your {PERIOD_ADJECTIVE[limit.period]} {limit.kind} limit.",
        details={
            "kind": limit.kind,
            "period": limit.period,
            "limit": str(Money.from_minor(limit.amount_minor, currency)),
            "used": str(Money.from_minor(used, currency)),
            "remaining": str(Money.from_minor(remaining, currency)),
        },
    )


# --- Limits ---


def _apply_due_change(limit: Limit, now: datetime) -> bool:
    """Store a raise or removal whose cooling-off has passed; it took effect at pending_from, not now."""
    if limit.pending_from is None or limit.pending_from > now:
        return False
    removal = limit.pending_removal
    limit.amount_minor = None if removal else limit.pending_amount_minor
    limit.activated_at = limit.pending_from
    limit.pending_amount_minor = None
    limit.pending_removal = False
    limit.pending_from = None
    reason = "Cooling-off ended: removal took effect" if removal else "Cooling-off ended: raise took effect"
    save_with_history(limit, actor=None, reason=reason)
    return True


def _validate_kind_period(kind: str, period: str) -> None:
    details = {}
    if kind not in LimitKind.values:
        details["kind"] = [f"Choose one of {', '.join(LimitKind.values)}."]
    if period not in LimitPeriod.values:
        details["period"] = [f"Choose one of {', '.join(LimitPeriod.values)}."]
    if details:
        raise ValidationFailed(details=details)


def _validate_amount(player, amount: Money) -> None:
    if not isinstance(amount, Money):
        raise TypeError("A limit amount is Money.")
    if amount.currency != player.currency:
        raise ValidationFailed(details={"amount": [f"Limits are in the wallet currency, {player.currency}."]})
    if amount.minor <= 0:
        raise ValidationFailed(details={"amount": ["A limit must be greater than zero; remove it instead."]})


def _limit_locked(player, kind: str, period: str, now: datetime) -> Limit | None:
    """The player's limit row (the caller holds the protection lock, so nobody else changes it)."""
    limit = Limit.objects.filter(player_id=player.pk, kind=kind, period=period).first()
    if limit is not None:
        _apply_due_change(limit, now)
    return limit


def _apply_now(player, limit: Limit | None, *, kind: str, period: str, amount_minor: int, now: datetime) -> Limit:
    if limit is None:
        limit = Limit(player_id=player.pk, kind=kind, period=period, currency=player.currency)
    if limit.amount_minor != amount_minor:
        limit.amount_minor = amount_minor
        limit.activated_at = now
    limit.pending_amount_minor = None
    limit.pending_removal = False
    limit.pending_from = None
    limit.requested_at = now
    return limit


def _save_limit(protection: PlayerProtection, limit: Limit, *, actor, reason: str) -> None:
    """Save a limit; the player's first one also sets protection.has_limits, under the same lock and transaction."""
    created = limit.pk is None
    save_with_history(limit, actor=actor, reason=reason)
    if created and not protection.has_limits:
        PlayerProtection.objects.filter(pk=protection.pk).update(has_limits=True, updated_at=clock.now())
        protection.has_limits = True


def _has_pending(limit: Limit) -> bool:
    return limit.pending_from is not None


@transaction.atomic
def limit_set(*, player, kind: str, period: str, amount: Money) -> Limit:
    """Set the player's own limit. Tighter applies at once; looser waits the cooling-off (UKGC RTS 12)."""
    _validate_kind_period(kind, period)
    _validate_amount(player, amount)
    protection = _lock_protection(player.pk)
    now = clock.now()
    limit = _limit_locked(player, kind, period, now)
    new = amount.minor
    current = limit.amount_minor if limit is not None else None

    if current is None or new < current:
        limit = _apply_now(player, limit, kind=kind, period=period, amount_minor=new, now=now)
        reason = "New limit: applies at once" if current is None else "Decrease: applies at once (UKGC RTS 12)"
    elif new == current:
        if not _has_pending(limit):
            return limit
        limit = _apply_now(player, limit, kind=kind, period=period, amount_minor=new, now=now)
        reason = "Same amount again: pending change cancelled"
    else:
        if limit.pending_amount_minor == new:
            # Asking again for the same raise must not restart the player's cooling-off.
            return limit
        limit.pending_amount_minor = new
        limit.pending_removal = False
        limit.pending_from = now + cooling_off()
        limit.requested_at = now
        reason = "Increase requested: pending until the cooling-off ends (UKGC RTS 12)"
    _save_limit(protection, limit, actor=player.user, reason=reason)
    return limit


@transaction.atomic
def limit_remove(*, player, kind: str, period: str) -> Limit:
    """Ask to remove a limit: it stays in force for the cooling-off, as a raise would."""
    _validate_kind_period(kind, period)
    _lock_protection(player.pk)
    now = clock.now()
    limit = _limit_locked(player, kind, period, now)
    if limit is None or limit.amount_minor is None:
        raise NotFound("There is no such limit to remove.", details={"kind": kind, "period": period})
    if limit.pending_removal:
        return limit
    limit.pending_amount_minor = None
    limit.pending_removal = True
    limit.pending_from = now + cooling_off()
    limit.requested_at = now
    save_with_history(limit, actor=player.user, reason="Removal requested: pending until the cooling-off ends (UKGC RTS 12)")
    return limit


@transaction.atomic
def limit_tighten_by_operator(*, player, kind: str, period: str, amount: Money, actor, reason: str) -> Limit:
    """An operator makes a limit stricter (e.g. after a safer-gambling interaction); never looser."""
    _validate_kind_period(kind, period)
    _validate_amount(player, amount)
    if actor is None:
        raise ValidationFailed("A stricter limit set by staff needs the acting user.")
    if not reason or not reason.strip():
        raise ValidationFailed(details={"reason": ["A reason is required."]})
    protection = _lock_protection(player.pk)
    now = clock.now()
    limit = _limit_locked(player, kind, period, now)
    current = limit.amount_minor if limit is not None else None
    if current is not None and amount.minor > current:
        raise ValidationFailed(
            "Staff can only make a limit stricter, never looser.",
            details={"amount": [f"Must be at most {Money.from_minor(current, limit.currency)}."]},
        )
    if current is not None and amount.minor == current and not _has_pending(limit):
        raise ValidationFailed("This limit is already in force.", details={"amount": ["Choose a lower amount."]})
    limit = _apply_now(player, limit, kind=kind, period=period, amount_minor=amount.minor, now=now)
    _save_limit(protection, limit, actor=actor, reason=f"Made stricter by staff: {reason.strip()}")
    return limit


def limit_activate_due(*, now: datetime | None = None) -> int:
    """Store every raise or removal whose cooling-off has passed; one short transaction per player."""
    now = now or clock.now()
    player_ids = Limit.objects.filter(pending_from__lte=now).values_list("player_id", flat=True).distinct()
    return sum(_activate_due_for(player_id=player_id, now=now) for player_id in list(player_ids))


@transaction.atomic
def _activate_due_for(*, player_id: int, now: datetime) -> int:
    _lock_protection(player_id)
    return sum(_apply_due_change(limit, now) for limit in Limit.objects.filter(player_id=player_id, pending_from__lte=now))


# --- Time-outs and self-exclusion ---


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _end_open_exclusions(player_id: int, kind: str, *, at: datetime | None, reason: str) -> int:
    """Close the open history rows of one kind; `at=None` means each ends at its own scheduled end."""
    ended = 0
    for row in Exclusion.objects.filter(player_id=player_id, kind=kind, ended_at__isnull=True):
        row.ended_at = at or row.ends_at
        row.end_reason = reason
        save_with_history(row, actor=None, reason=f"{row.get_kind_display()} {ExclusionEnd(reason).label.lower()}")
        ended += 1
    return ended


def _announce(*, player_id: int, kind: str, until: datetime | None, permanent: bool) -> None:
    transaction.on_commit(
        partial(exclusion_started.send_robust, sender=PlayerProtection, player_id=player_id, kind=kind, until=until, permanent=permanent)
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@transaction.atomic
def timeout_start(*, player, hours: int) -> PlayerProtection:
    """A time-out: no deposit or stake until it ends. A new one may only end later, never sooner."""
    low, high = TIMEOUT_HOURS
    if not _is_int(hours) or not low <= hours <= high:
        raise ValidationFailed(details={"hours": [f"Choose a whole number of hours from {low} to {high}."]})
    protection = _lock_protection(player.pk)
    now = clock.now()
    until = now + timedelta(hours=hours)
    if timeout_active(protection, now):
        if until <= protection.timeout_until:
            raise InvalidState(
                "A time-out cannot be shortened or lifted early.",
                details={"timeout_until": _iso(protection.timeout_until)},
            )
        _end_open_exclusions(player.pk, ExclusionKind.TIMEOUT, at=now, reason=ExclusionEnd.EXTENDED)
    else:
        _end_open_exclusions(player.pk, ExclusionKind.TIMEOUT, at=None, reason=ExclusionEnd.EXPIRED)
    protection.timeout_until = until
    save_with_history(protection, actor=player.user, reason=f"Time-out of {hours} hours requested by the player")
    Exclusion.objects.create(
        player_id=player.pk,
        kind=ExclusionKind.TIMEOUT,
        requested_at=now,
        starts_at=now,
        ends_at=until,
        length=hours,
        length_unit="hours",
    )
    _announce(player_id=player.pk, kind=ExclusionKind.TIMEOUT, until=until, permanent=False)
    return protection


@transaction.atomic
def self_exclusion_start(*, player, months: int | None = None, permanent: bool = False) -> PlayerProtection:
    """Self-exclusion for 6, 12 or 60 months, or for good. It can be extended but never ended early, by anyone."""
    if not isinstance(permanent, bool):
        raise ValidationFailed(details={"permanent": ["Must be true or false."]})
    if permanent and months is not None:
        raise ValidationFailed(details={"months": ["Give either months or permanent, not both."]})
    if not permanent and (not _is_int(months) or months not in SELF_EXCLUSION_MONTHS):
        raise ValidationFailed(details={"months": [f"Choose one of {', '.join(map(str, SELF_EXCLUSION_MONTHS))} months, or permanent."]})
    protection = _lock_protection(player.pk)
    now = clock.now()
    until = None if permanent else _add_months(now, months)

    if self_exclusion_active(protection, now):
        if protection.self_exclusion_permanent:
            raise InvalidState("This self-exclusion is permanent already.", details={"permanent": True})
        if not permanent and until <= protection.self_excluded_until:
            raise InvalidState(
                "A self-exclusion cannot be shortened or lifted early.",
                details={"self_excluded_until": _iso(protection.self_excluded_until)},
            )
        _end_open_exclusions(player.pk, ExclusionKind.SELF_EXCLUSION, at=now, reason=ExclusionEnd.EXTENDED)
        starts = protection.self_excluded_from
    else:
        _end_open_exclusions(player.pk, ExclusionKind.SELF_EXCLUSION, at=None, reason=ExclusionEnd.EXPIRED)
        starts = now

    what = "permanent self-exclusion" if permanent else f"self-exclusion for {months} months"
    protection.self_excluded_from = starts
    protection.self_excluded_until = until
    protection.self_exclusion_permanent = permanent
    # A new exclusion overrides a pending request to return.
    protection.reactivation_requested_at = None
    save_with_history(protection, actor=player.user, reason=f"Player asked for {what}")
    Exclusion.objects.create(
        player_id=player.pk,
        kind=ExclusionKind.SELF_EXCLUSION,
        requested_at=now,
        starts_at=now,
        ends_at=until,
        permanent=permanent,
        length=months,
        length_unit="" if permanent else "months",
    )
    current = _fresh_player(player)
    if current.status != PlayerStatus.SELF_EXCLUDED:
        player_self_exclude(player=current, actor=player.user, reason=f"Player asked for {what}")
    _announce(player_id=player.pk, kind=ExclusionKind.SELF_EXCLUSION, until=until, permanent=permanent)
    return protection


def exclusion_end_due(*, now: datetime | None = None) -> int:
    """End every time-out and fixed-term self-exclusion whose period has passed; returns how many ended.

    Ending a self-exclusion does not make the player active again: that takes the player's own
    request (self_exclusion_reactivate). One short transaction per player, so one bad row blocks no one.
    """
    now = now or clock.now()
    due = PlayerProtection.objects.filter(
        Q(timeout_until__lte=now) | Q(self_exclusion_permanent=False, self_excluded_until__lte=now)
    ).values_list("player_id", flat=True)
    return sum(_end_expired_for(player_id=player_id, now=now) for player_id in list(due))


@transaction.atomic
def _end_expired_for(*, player_id: int, now: datetime) -> int:
    return _end_expired_locked(_lock_protection(player_id), now)


def _end_expired_locked(protection: PlayerProtection, now: datetime) -> int:
    ended = []
    if protection.timeout_until is not None and protection.timeout_until <= now:
        _end_open_exclusions(protection.player_id, ExclusionKind.TIMEOUT, at=None, reason=ExclusionEnd.EXPIRED)
        protection.timeout_until = None
        ended.append("time-out")
    if not protection.self_exclusion_permanent and protection.self_excluded_until is not None and protection.self_excluded_until <= now:
        _end_open_exclusions(protection.player_id, ExclusionKind.SELF_EXCLUSION, at=None, reason=ExclusionEnd.EXPIRED)
        protection.self_excluded_from = None
        protection.self_excluded_until = None
        ended.append("self-exclusion")
    if ended:
        save_with_history(protection, actor=None, reason=f"Period ended: {', '.join(ended)}")
    return len(ended)


@transaction.atomic
def self_exclusion_reactivate(*, player) -> PlayerProtection:
    """The player asks to return after the self-exclusion period has ended (positive action, UKGC LCCP SR 3.5.3).

    The status returns to active after the one-day cooling-off; before the period ends nobody,
    not the player and not staff, can end it.
    """
    protection = _lock_protection(player.pk)
    now = clock.now()
    if self_exclusion_active(protection, now):
        raise SelfExcluded("The self-exclusion has not ended yet and cannot be lifted early.", details=_exclusion_details(protection, now))
    current = _fresh_player(player)
    if current.status != PlayerStatus.SELF_EXCLUDED:
        raise InvalidState("This account is not self-excluded.", details={"status": current.status})
    _end_expired_locked(protection, now)
    last = latest_self_exclusion(player_id=player.pk)
    if last is None or last.permanent or last.ended_at is None or last.end_reason != ExclusionEnd.EXPIRED:
        # E.g. an exclusion imposed outside this app (a national register): no ended period of the player's own.
        raise InvalidState("There is no ended self-exclusion to return from.")
    if protection.reactivation_requested_at is not None:
        return protection
    protection.reactivation_requested_at = now
    save_with_history(
        protection, actor=player.user, reason="Player asked to return after the self-exclusion ended; one-day cooling-off started"
    )
    last.reactivation_requested_at = now
    save_with_history(last, actor=player.user, reason="Player asked to return")
    return protection


def _complete_reactivation_locked(protection: PlayerProtection, player, now: datetime):
    """Make the player active again once the return cooling-off has passed; returns the updated player or None."""
    requested = protection.reactivation_requested_at
    if requested is None or requested + return_cooling_off() > now or self_exclusion_active(protection, now):
        return None
    reactivated = None
    if player.status == PlayerStatus.SELF_EXCLUDED:
        reactivated = player_reactivate(
            player=player,
            actor=player.user,
            reason="Self-exclusion ended; the player asked to return and the one-day cooling-off has passed",
        )
    protection.reactivation_requested_at = None
    save_with_history(protection, actor=player.user, reason="Return from self-exclusion completed")
    last = latest_self_exclusion(player_id=protection.player_id)
    if last is not None and last.reactivated_at is None and reactivated is not None:
        last.reactivated_at = now
        save_with_history(last, actor=player.user, reason="Player reactivated")
    return reactivated


def reactivation_complete_due(*, now: datetime | None = None) -> int:
    """Reactivate every player whose return cooling-off has passed; returns how many."""
    now = now or clock.now()
    due = PlayerProtection.objects.filter(reactivation_requested_at__lte=now - return_cooling_off()).values_list("player_id", flat=True)
    return sum(_complete_reactivation_for(player_id=player_id, now=now) for player_id in list(due))


@transaction.atomic
def _complete_reactivation_for(*, player_id: int, now: datetime) -> int:
    protection = _lock_protection(player_id)
    player = player_by_public_id(protection.player.public_id)
    return int(_complete_reactivation_locked(protection, player, now) is not None)


# --- Reality checks ---


@transaction.atomic
def reality_check_set(*, player, minutes: int | None) -> PlayerProtection:
    """Remind the player every `minutes` of play (None switches reminders off)."""
    low, high = REALITY_CHECK_MINUTES
    if minutes is not None and (not _is_int(minutes) or not low <= minutes <= high):
        raise ValidationFailed(details={"minutes": [f"Choose a whole number of minutes from {low} to {high}, or null for off."]})
    protection = _lock_protection(player.pk)
    if protection.reality_check_minutes != minutes:
        protection.reality_check_minutes = minutes
        reason = f"Reality check every {minutes} minutes" if minutes else "Reality check off"
        save_with_history(protection, actor=player.user, reason=reason)
    return protection


@transaction.atomic
def protection_session_start(*, player) -> None:
    """For the auth code: call at login so reality checks count from the start of this session.

    A plain UPDATE without a history row: logins are not operator-relevant changes and would
    bury the real ones in the history.
    """
    _ensure_protection(player.pk)
    PlayerProtection.objects.filter(player_id=player.pk).update(
        session_started_at=clock.now(), reality_check_acknowledged_at=None, updated_at=clock.now()
    )


@transaction.atomic
def reality_check_acknowledge(*, player) -> None:
    """The player saw the reminder; the next one is due at the next interval."""
    _ensure_protection(player.pk)
    PlayerProtection.objects.filter(player_id=player.pk).update(reality_check_acknowledged_at=clock.now(), updated_at=clock.now())
