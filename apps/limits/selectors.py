"""Reads of responsible-gaming state: usage over rolling windows, limits in force, the player's overview.

Nothing here writes. A pending change whose cooling-off has passed is *shown* as in force even
before a service or the periodic task has stored it, so the player never sees a stale limit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, QuerySet

from apps.core import clock
from apps.core.money import Money
from apps.ledger.selectors import player_cash_flows
from apps.players.models import PlayerStatus

from .models import PERIOD_LENGTH, Exclusion, ExclusionKind, Limit, LimitKind, PlayerProtection
from .models import LimitPeriod as LimitPeriod  # re-exported: apps.reports maps it to the regulators' codes


def cooling_off() -> timedelta:
    """The default one-day cooling-off (LIMIT_COOLING_OFF); a limit's own comes from the player's market."""
    return getattr(settings, "LIMIT_COOLING_OFF", timedelta(hours=24))


def return_cooling_off() -> timedelta:
    """UKGC LCCP SR 3.5.3: a player returning from self-exclusion gets a one-day cooling-off first."""
    return getattr(settings, "SELF_EXCLUSION_RETURN_COOLING_OFF", cooling_off())


def usage_from_flows(kind: str, flows: dict[str, int]) -> int:
    """What a limit of `kind` has used, in minor units, from the signed cash flows of its window.

    Bets are negative and wins/rollbacks positive in the ledger, so a rollback gives back its
    stake's wager and loss. Loss is net of wins and never negative: a winning player has lost nothing.
    """
    bets, wins, rollbacks = flows.get("bet", 0), flows.get("win", 0), flows.get("rollback", 0)
    if kind == LimitKind.DEPOSIT:
        return max(flows.get("deposit", 0), 0)
    if kind == LimitKind.WAGER:
        return max(-(bets + rollbacks), 0)
    if kind == LimitKind.LOSS:
        return max(-(bets + wins + rollbacks), 0)
    raise ValueError(f"Unknown limit kind {kind!r}.")


def window_flows(*, player, period: str, now: datetime) -> dict[str, int]:
    """Cash flows of the rolling window (now − period, now]: an entry exactly one period old has left it."""
    since = now - PERIOD_LENGTH[period] + timedelta(microseconds=1)
    return player_cash_flows(player=player, since=since, kinds=["deposit", "bet", "win", "rollback"])


def limit_usage_minor(*, player, kind: str, period: str, now: datetime | None = None) -> int:
    return usage_from_flows(kind, window_flows(player=player, period=period, now=now or clock.now()))


@dataclass(frozen=True)
class EffectiveLimit:
    """A limit as it stands at a moment: any pending change that is due already applied."""

    amount_minor: int | None
    pending_amount_minor: int | None
    pending_removal: bool
    pending_from: datetime | None
    activated_at: datetime | None
    confirmation_required: bool = False


def effective_limit(limit: Limit, now: datetime) -> EffectiveLimit:
    """A change waiting for the player's confirmation (UKGC RTS 12) is not in force until confirmed, and is
    gone once it lapsed, even before a service or the periodic task has stored that."""
    if limit.pending_from is not None and limit.confirmation_required:
        if limit.confirmation_lapses_at <= now:
            return EffectiveLimit(limit.amount_minor, None, False, None, limit.activated_at)
        return EffectiveLimit(
            limit.amount_minor, limit.pending_amount_minor, limit.pending_removal, limit.pending_from, limit.activated_at, True
        )
    if limit.pending_from is not None and limit.pending_from <= now:
        amount = None if limit.pending_removal else limit.pending_amount_minor
        return EffectiveLimit(amount, None, False, None, limit.pending_from)
    return EffectiveLimit(limit.amount_minor, limit.pending_amount_minor, limit.pending_removal, limit.pending_from, limit.activated_at)


def timeout_active(protection: PlayerProtection | None, now: datetime) -> bool:
    return bool(protection and protection.timeout_until and protection.timeout_until > now)


def self_exclusion_active(protection: PlayerProtection | None, now: datetime) -> bool:
    if protection is None or protection.self_excluded_from is None:
        return False
    if protection.self_exclusion_permanent:
        return True
    return protection.self_excluded_until is not None and protection.self_excluded_until > now


def reactivation_from(protection: PlayerProtection | None) -> datetime | None:
    if protection is None or protection.reactivation_requested_at is None:
        return None
    return protection.reactivation_requested_at + return_cooling_off()


def return_due(protection: PlayerProtection | None, now: datetime) -> bool:
    """The player asked to return from an ended self-exclusion and the one-day cooling-off has passed."""
    returns_at = reactivation_from(protection)
    return returns_at is not None and returns_at <= now and not self_exclusion_active(protection, now)


def status_after_return(protection: PlayerProtection) -> str:
    """The status a return from self-exclusion restores: the one the player had before it (a suspension
    is not wiped by an exclusion), active when there was none."""
    before = protection.status_before_exclusion
    return before if before in (PlayerStatus.ACTIVE, PlayerStatus.SUSPENDED) else PlayerStatus.ACTIVE


@dataclass(frozen=True)
class RealityCheck:
    due: bool
    next_at: datetime | None


def reality_check_state(protection: PlayerProtection | None, now: datetime) -> RealityCheck:
    """A reminder is due once `session_started_at + n × interval` has passed and was not yet acknowledged."""
    if protection is None or not protection.reality_check_minutes or protection.session_started_at is None:
        return RealityCheck(due=False, next_at=None)
    interval = timedelta(minutes=protection.reality_check_minutes)
    elapsed = now - protection.session_started_at
    intervals_passed = max(elapsed // interval, 0)
    next_at = protection.session_started_at + (intervals_passed + 1) * interval
    if intervals_passed == 0:
        return RealityCheck(due=False, next_at=next_at)
    last_due_at = protection.session_started_at + intervals_passed * interval
    acknowledged = protection.reality_check_acknowledged_at
    return RealityCheck(due=acknowledged is None or acknowledged < last_due_at, next_at=next_at)


@dataclass(frozen=True)
class LimitView:
    kind: str
    period: str
    currency: str
    amount: Money
    pending_amount: Money | None
    pending_from: datetime | None
    pending_removal: bool
    used: Money
    remaining: Money
    requested_at: datetime
    activated_at: datetime | None
    confirmation_required: bool = False
    confirmation_lapses_at: datetime | None = None


def limit_view(*, player, limit: Limit, now: datetime, flows: dict[str, int] | None = None) -> LimitView | None:
    """The limit as the player sees it, with its usage; None when no limit is in force."""
    state = effective_limit(limit, now)
    if state.amount_minor is None:
        return None
    if flows is None:
        flows = window_flows(player=player, period=limit.period, now=now)
    used = usage_from_flows(limit.kind, flows)
    currency = limit.currency

    def money(minor: int) -> Money:
        return Money.from_minor(minor, currency)

    return LimitView(
        kind=limit.kind,
        period=limit.period,
        currency=currency,
        amount=money(state.amount_minor),
        pending_amount=money(state.pending_amount_minor) if state.pending_amount_minor is not None else None,
        pending_from=state.pending_from,
        pending_removal=state.pending_removal,
        used=money(used),
        remaining=money(max(state.amount_minor - used, 0)),
        requested_at=limit.requested_at,
        activated_at=state.activated_at,
        confirmation_required=state.confirmation_required,
        confirmation_lapses_at=limit.confirmation_lapses_at if state.confirmation_required else None,
    )


def player_limits(*, player, now: datetime | None = None) -> list[LimitView]:
    now = now or clock.now()
    flows_by_period: dict[str, dict[str, int]] = {}
    views = []
    for limit in Limit.objects.filter(player_id=player.pk).order_by("kind", "period"):
        if limit.period not in flows_by_period:
            flows_by_period[limit.period] = window_flows(player=player, period=limit.period, now=now)
        view = limit_view(player=player, limit=limit, now=now, flows=flows_by_period[limit.period])
        if view is not None:
            views.append(view)
    return views


@dataclass(frozen=True)
class ProtectionOverview:
    limits: list[LimitView]
    timeout_until: datetime | None
    self_excluded_from: datetime | None
    self_excluded_until: datetime | None
    permanent_exclusion: bool
    reactivation_requested_at: datetime | None
    reactivation_from: datetime | None
    reality_check_minutes: int | None
    session_started_at: datetime | None
    reality_check_due: bool
    reality_check_next_at: datetime | None
    session_elapsed_seconds: int | None = None
    session_net_position: Money | None = None


def session_net_position(*, player, since: datetime) -> Money:
    """Wins (and returned stakes) minus stakes since the session started: what a reality check shows (UKGC RTS 13)."""
    flows = player_cash_flows(player=player, since=since, kinds=["bet", "win", "rollback"])
    return Money.from_minor(sum(flows.values()), player.currency)


def protection_overview(*, player, now: datetime | None = None) -> ProtectionOverview:
    """What GET /responsible-gaming shows: only what is in force now (an expired time-out shows as none)."""
    now = now or clock.now()
    protection = PlayerProtection.objects.filter(player_id=player.pk).first()
    excluded = self_exclusion_active(protection, now)
    reality = reality_check_state(protection, now)
    started = protection.session_started_at if protection else None
    return ProtectionOverview(
        limits=player_limits(player=player, now=now),
        timeout_until=protection.timeout_until if timeout_active(protection, now) else None,
        self_excluded_from=protection.self_excluded_from if excluded else None,
        self_excluded_until=protection.self_excluded_until if excluded else None,
        permanent_exclusion=bool(excluded and protection.self_exclusion_permanent),
        reactivation_requested_at=protection.reactivation_requested_at if protection else None,
        reactivation_from=reactivation_from(protection),
        reality_check_minutes=protection.reality_check_minutes if protection else None,
        session_started_at=protection.session_started_at if protection else None,
        reality_check_due=reality.due,
        reality_check_next_at=reality.next_at,
        session_elapsed_seconds=int((now - started).total_seconds()) if started else None,
        session_net_position=session_net_position(player=player, since=started) if started else None,
    )


def player_exclusions(*, player) -> list[Exclusion]:
    """Every time-out and self-exclusion of the player, newest first (the registry report's exclusions)."""
    return list(Exclusion.objects.filter(player_id=player.pk).order_by("-starts_at", "-id"))


def latest_self_exclusion(*, player_id: int) -> Exclusion | None:
    return Exclusion.objects.filter(player_id=player_id, kind=ExclusionKind.SELF_EXCLUSION).order_by("-starts_at", "-id").first()


# --- for regulatory reports (apps.reports) ---------------------------------------------------------


def limit_player_ids_changed_between(*, start: datetime, end: datetime) -> list[QuerySet]:
    """Subqueries of the players whose limits, or whose exclusions, changed in the period."""
    return [
        Limit.history.filter(history_date__gte=start, history_date__lt=end).values("player_id"),
        Exclusion.history.filter(history_date__gte=start, history_date__lt=end).values("player_id"),
    ]


def limits_requested_before(*, player_ids: Iterable[int], end: datetime) -> dict[int, list[Limit]]:
    found: dict[int, list[Limit]] = defaultdict(list)
    for limit in Limit.objects.filter(player_id__in=list(player_ids), requested_at__lt=end).order_by("player_id", "kind", "period"):
        found[limit.player_id].append(limit)
    return found


def exclusions_requested_before(*, player_ids: Iterable[int], end: datetime) -> dict[int, list[Exclusion]]:
    found: dict[int, list[Exclusion]] = defaultdict(list)
    exclusions = Exclusion.objects.filter(player_id__in=list(player_ids), requested_at__lt=end)
    for exclusion in exclusions.order_by("player_id", "starts_at", "id"):
        found[exclusion.player_id].append(exclusion)
    return found


def self_exclusions_started(*, start: datetime, end: datetime) -> dict[str, int]:
    """Per wallet currency, self-exclusions that began in the period."""
    rows = (
        Exclusion.objects.filter(kind=ExclusionKind.SELF_EXCLUSION, starts_at__gte=start, starts_at__lt=end)
        .values("player__currency")
        .annotate(n=Count("id"))
    )
    return {r["player__currency"]: r["n"] for r in rows}
