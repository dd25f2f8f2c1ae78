"""Markers of harm and the safer-gambling interactions they open (UKGC LCCP SR 3.4.3, customer interaction).

`harm_markers_detect` (the beat task "limits: detect markers of harm", hourly) reads every player's net loss
over 24 hours and 30 days and the rise of their deposits from the ledger, in a few grouped queries, compares
each with the player's market's thresholds (`policy_for(player).harm_*`, stated in the market's rule
currency and converted at today's rate), and opens one SafeGamblingInteraction per player, marker and window:

- net loss (stakes − wins − returned stakes) in the last 24 hours ≥ `harm_net_loss_24h` (window: that day);
- net loss in the last 30 days ≥ `harm_net_loss_30d` (window: a 30-day block);
- deposits of the last 7 days ≥ `harm_deposit_rise_factor` × the weekly average of the 28 days before, and
  ≥ `harm_deposit_rise_min` (window: a 7-day block).

Idempotent: the (player, marker, window) row is unique in the database, and while an interaction for that
player and marker is still open or contacted no other is opened, so a re-run or an overlapping run opens
nothing twice and an officer's queue does not fill with the same concern.

Officers work the queue through `interaction_contact` and `interaction_close` (a note on every step, who
and when in the history); closing may impose a restriction the officer chooses: a stricter deposit limit
(limit_tighten_by_operator) or a suspension with the regulator's reason "safer gambling".
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from apps.core import clock
from apps.core.errors import PermissionDenied, ValidationFailed
from apps.core.fsm import fsm_step
from apps.core.history import save_with_history
from apps.core.money import Money
from apps.ledger import selectors as ledger_selectors
from apps.limits.models import HarmMarker, InteractionRestriction, InteractionStatus, SafeGamblingInteraction
from apps.markets import selectors as markets_selectors
from apps.players import selectors as players_selectors
from apps.players.models import PlayerStatus, StatusReason
from apps.players.services import player_suspend

from .limits import limit_tighten_by_operator

logger = logging.getLogger(__name__)

WORK_PERMISSION = "limits.work_interaction"
_BLOCKS = {HarmMarker.NET_LOSS_24H: 1, HarmMarker.NET_LOSS_30D: 30, HarmMarker.DEPOSITS_RISING: 7}


def _window(marker: str, now: datetime) -> date:
    """The first day of the block of days `now` falls in: the unit of idempotency per marker."""
    days = _BLOCKS[marker]
    ordinal = now.date().toordinal()
    return date.fromordinal(ordinal - ordinal % days)


def _in_wallet(policy, amount: Decimal | None, currency: str, now: datetime) -> Money | None:
    if amount is None:
        return None
    try:
        return markets_selectors.convert(Money(amount, policy.rule_currency), currency, now)
    except markets_selectors.MissingExchangeRate:
        logger.error("no EUR rate for %s or %s: markers of harm not checked in that currency", policy.rule_currency, currency)
        return None


def _net_loss(flows: dict[str, int]) -> int:
    return -(flows.get("bet", 0) + flows.get("win", 0) + flows.get("rollback", 0))


def harm_markers_find(*, now: datetime | None = None) -> list[tuple[Any, str, dict]]:
    """(player, marker, evidence) for every marker found now; reads only."""
    now = now or clock.now()
    kinds = ["bet", "win", "rollback"]
    day = ledger_selectors.players_cash_flows(since=now - timedelta(hours=24), kinds=kinds)
    month = ledger_selectors.players_cash_flows(since=now - timedelta(days=30), kinds=kinds)
    deposits = ledger_selectors.players_deposits_split(earlier_since=now - timedelta(days=35), recent_since=now - timedelta(days=7))
    losing = {pid for pid, flows in month.items() if _net_loss(flows) > 0}
    candidates = losing | {pid for pid, (_, recent) in deposits.items() if recent > 0}
    found = []
    for player in players_selectors.players_by_ids(sorted(candidates)):
        policy = markets_selectors.policy_for(player)
        currency = player.currency

        def money(minor: int, currency: str = currency) -> str:
            return str(Money.from_minor(minor, currency))

        base = {"market": policy.code, "currency": currency}
        for marker, flows, threshold_amount in (
            (HarmMarker.NET_LOSS_24H, day.get(player.pk, {}), policy.harm_net_loss_24h),
            (HarmMarker.NET_LOSS_30D, month.get(player.pk, {}), policy.harm_net_loss_30d),
        ):
            threshold = _in_wallet(policy, threshold_amount, currency, now)
            loss = _net_loss(flows)
            if threshold is not None and loss >= threshold.minor:
                found.append((player, marker, {**base, "net_loss": money(loss), "threshold": str(threshold),
                                               "threshold_rule": f"{threshold_amount} {policy.rule_currency}"}))
        earlier, recent = deposits.get(player.pk, (0, 0))
        minimum = _in_wallet(policy, policy.harm_deposit_rise_min, currency, now)
        factor = policy.harm_deposit_rise_factor
        weekly_average = Decimal(earlier) / 4
        if minimum is not None and factor is not None and recent >= minimum.minor and recent >= factor * weekly_average:
            found.append((player, HarmMarker.DEPOSITS_RISING, {
                **base, "deposits_7d": money(recent), "weekly_average_28d_before": money(int(weekly_average)),
                "factor": str(factor), "minimum": str(minimum),
            }))
    return found


def harm_markers_detect(*, now: datetime | None = None) -> int:
    """Open an interaction for every marker found now that has none for its window; returns how many opened."""
    now = now or clock.now()
    opened = 0
    for player, marker, evidence in harm_markers_find(now=now):
        opened += int(interaction_open(player=player, marker=marker, window=_window(marker, now), evidence=evidence) is not None)
    return opened


def interaction_open(*, player, marker: str, window: date, evidence: dict) -> SafeGamblingInteraction | None:
    """Open one interaction unless this player, marker and window has one, or one of the marker is still being worked."""
    if SafeGamblingInteraction.objects.filter(player_id=player.pk, marker=marker).exclude(status=InteractionStatus.CLOSED).exists():
        return None
    try:
        with transaction.atomic():
            interaction, created = SafeGamblingInteraction.objects.get_or_create(
                player_id=player.pk, marker=marker, window=window, defaults={"evidence": evidence}
            )
    except IntegrityError:  # a concurrent run opened it first
        return None
    return interaction if created else None


def _check(actor) -> None:
    if actor is None or not actor.has_perm(WORK_PERMISSION):
        raise PermissionDenied("Only operators and compliance officers work safer-gambling interactions.")


def _note(note: str) -> str:
    note = (note or "").strip()
    if not note:
        raise ValidationFailed(details={"note": ["Write what was done or said; it is kept in the interaction's history."]})
    return note


@transaction.atomic
def interaction_contact(*, interaction_id: int, actor, channel: str, note: str) -> SafeGamblingInteraction:
    """Record that the player was contacted: by whom (the actor), when (now), how, and what was said."""
    _check(actor)
    note = _note(note)
    channel = (channel or "").strip()
    if not channel:
        raise ValidationFailed(details={"channel": ["How was the player contacted (email, phone, chat)?"]})
    interaction = SafeGamblingInteraction.objects.select_for_update().get(pk=interaction_id)
    fsm_step(interaction, "contact", verb="record contact on")
    interaction.contacted_by, interaction.contacted_at, interaction.contact_channel = actor, clock.now(), channel[:16]
    interaction.last_note = note
    save_with_history(interaction, actor=actor, reason=f"Contacted by {channel}: {note}")
    return interaction


@transaction.atomic
def interaction_close(
    *, interaction_id: int, actor, outcome: str, restriction: str = InteractionRestriction.NONE,
    deposit_limit: Money | None = None, deposit_limit_period: str = "day",
) -> SafeGamblingInteraction:
    """Close with the outcome; impose the restriction the officer chose, in the same transaction."""
    _check(actor)
    outcome = _note(outcome)
    if restriction not in InteractionRestriction.values:
        raise ValidationFailed(details={"restriction": [f"Choose one of {', '.join(InteractionRestriction.values)}."]})
    interaction = SafeGamblingInteraction.objects.select_for_update().select_related("player").get(pk=interaction_id)
    fsm_step(interaction, "close")
    player = interaction.player
    reason = f"Safer-gambling interaction #{interaction.pk}: {outcome}"
    if restriction == InteractionRestriction.DEPOSIT_LIMIT:
        if deposit_limit is None:
            raise ValidationFailed(details={"deposit_limit": ["Give the deposit limit to impose."]})
        limit_tighten_by_operator(
            player=player, kind="deposit", period=deposit_limit_period, amount=deposit_limit, actor=actor, reason=reason
        )
    elif restriction == InteractionRestriction.SUSPENSION and player.status == PlayerStatus.ACTIVE:
        player_suspend(player=player, actor=actor, reason=reason[:255], reason_code=StatusReason.SAFER_GAMBLING)
    interaction.outcome, interaction.restriction = outcome, restriction
    interaction.closed_by, interaction.closed_at, interaction.last_note = actor, clock.now(), outcome
    save_with_history(interaction, actor=actor, reason=f"Closed ({restriction}): {outcome}")
    return interaction
