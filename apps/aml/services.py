"""Every write of the AML app: recording hits into alerts, the officers' work on alerts, and the sweep.

Evaluations are idempotent by construction: a hit is keyed (player, rule, evidence key) in the
database, so the real-time task, a retried task and the sweep re-reading its overlap window can all
find the same pattern and only the first records it. Hits on a player add into their one active
alert (a partial unique constraint allows one open or investigated alert per player and category).
"""

from __future__ import annotations

import logging
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min, Q
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from apps.core import clock
from apps.core.errors import InvalidState, NotFound, PermissionDenied, ValidationFailed
from apps.core.fsm import fsm_step
from apps.core.history import save_with_history
from apps.ledger.models import LedgerTransaction

from . import rules as aml_rules
from .models import (
    ACTIVE_STATUSES,
    FREEZING_STATUSES,
    AlertCategory,
    AlertLevel,
    AlertStatus,
    AmlAlert,
    AmlHit,
    AmlRule,
    RuleKind,
    Watermark,
    level_for_score,
)
from .selectors import enabled_rules
from .signals import alerts_opened

logger = logging.getLogger(__name__)

WORK_PERMISSION = "aml.work_amlalert"
MONITORING_WATERMARK = "aml.monitoring"
TRANSITIONS = ("investigate", "dismiss", "escalate")


def sweep_overlap() -> timedelta:
    """How far behind its watermark a reader re-reads: ids are allocated before commit, so a transaction with a
    smaller id can commit after a larger one was read (ARCHITECTURE.md, "Events leave through the ledger's own log")."""
    return timedelta(minutes=int(getattr(settings, "AML_SWEEP_OVERLAP_MINUTES", 10)))


# --- recording hits -------------------------------------------------------------------------------

_LOCK_CLASS = zlib.crc32(b"aml.alerts") & 0x7FFFFFFF


def _lock_players(player_ids: list[int]) -> None:
    """Serialise recording per player until commit, in a stable order (no deadlock between two sweeps).

    Hits add into an alert chosen by time window, so there is no row to lock before the first alert
    exists and no unique key to race on: a transaction-scoped advisory lock per player does it, taken
    for every player of a batch in one statement. SQLite (the demo) serialises writers anyway.
    """
    if connection.vendor != "postgresql" or not player_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, p) FROM (SELECT DISTINCT unnest(%s::integer[]) AS p ORDER BY 1) players",
            [_LOCK_CLASS, sorted(player_ids)],
        )


def alert_windows() -> dict[str, timedelta | None]:
    """How close in time a hit must be to an alert's hits to add into it, per rule: the rule's own window.

    A velocity hit adds into an alert whose hits are within its 60 minutes; shared identity within its
    30 days; a rule with no window (a single large transaction) uses AML_ALERT_WINDOW_MINUTES (24 h).
    Screening has none: a listed person stays one case until an officer clears it.
    """
    default = timedelta(minutes=int(getattr(settings, "AML_ALERT_WINDOW_MINUTES", 24 * 60)))
    windows: dict[str, timedelta | None] = dict.fromkeys(RuleKind.values, default)
    windows[RuleKind.SCREENING] = None
    for rule in AmlRule.objects.all():
        if rule.kind == RuleKind.SCREENING:
            continue
        if rule.window_minutes:
            windows[rule.kind] = timedelta(minutes=rule.window_minutes)
        elif rule.lookback_days:
            windows[rule.kind] = timedelta(days=rule.lookback_days)
    return windows


def _category(rule: str) -> str:
    return AlertCategory.SCREENING if rule == RuleKind.SCREENING else AlertCategory.MONITORING


def _fits(alert: AmlAlert, at: datetime, window: timedelta | None) -> bool:
    if window is None or alert.first_hit_at is None:
        return True
    return alert.first_hit_at - window <= at <= alert.last_hit_at + window


def _score(rule_scores: dict[str, int]) -> int:
    # Each rule counts once per alert (its highest score): ten velocity hits are one velocity pattern.
    return sum(rule_scores.values())


def hits_record(*, hits: list[aml_rules.Hit]) -> list[AmlAlert]:
    """Add new hits into their players' alerts, opening alerts where no active one is within the window.

    Set-based, so a sweep that flags a thousand players costs a handful of statements, not ten per
    player: lock the players, drop the hits already recorded, choose each hit's alert in memory,
    then bulk-create the new alerts and the hits and bulk-update the alerts that grew, with one history
    row each (simple-history's bulk helpers). Known hits change nothing (idempotent re-runs).

    Each player's hits are taken in the order they happened, and a new alert is named after the strongest
    rule of the moment that opened it (its earliest hits), not of everything recorded with it: so the name
    is the same whether the postings were evaluated one at a time, in a batch or by the sweep.
    """
    if not hits:
        return []
    with transaction.atomic():
        return _hits_record(hits)


def _hits_record(hits: list[aml_rules.Hit]) -> list[AmlAlert]:
    now = clock.now()
    unique = {(h.player_id, h.rule, h.dedup_key): h for h in hits}
    player_ids = sorted({h.player_id for h in unique.values()})
    _lock_players(player_ids)
    known: set[tuple[int, str, str]] = set()
    for chunk in (player_ids[i:i + 5000] for i in range(0, len(player_ids), 5000)):
        known |= set(
            AmlHit.objects.filter(player_id__in=chunk, rule__in={h.rule for h in hits}, dedup_key__in={h.dedup_key for h in hits})
            .values_list("player_id", "rule", "dedup_key")
        )
    fresh = sorted((h for key, h in unique.items() if key not in known),
                   key=lambda h: (h.player_id, h.at or now, h.rule, h.dedup_key))
    if not fresh:
        return []
    windows = alert_windows()
    active: dict[tuple[int, str], list[AmlAlert]] = defaultdict(list)
    for alert in AmlAlert.objects.filter(player_id__in=player_ids, status__in=ACTIVE_STATUSES).order_by("id"):
        active[(alert.player_id, alert.category)].append(alert)
    existing = {alert.pk: alert for alerts in active.values() for alert in alerts}
    # Keyed by id(alert): new alerts have no pk until the bulk insert.
    rule_scores: dict[int, dict[str, int]] = defaultdict(dict)
    for alert_id, rule, top in (AmlHit.objects.filter(alert_id__in=list(existing)).values("alert_id", "rule")
                                .annotate(top=Max("score")).values_list("alert_id", "rule", "top")):
        rule_scores[id(existing[alert_id])][rule] = top
    touched: dict[int, AmlAlert] = {}
    added: dict[int, list[aml_rules.Hit]] = defaultdict(list)
    new_alerts: list[AmlAlert] = []
    opened_at: dict[int, datetime] = {}
    opening_scores: dict[int, dict[str, int]] = defaultdict(dict)
    for hit in fresh:
        at = hit.at or now
        category = _category(hit.rule)
        window = windows.get(hit.rule)
        alert = next((a for a in reversed(active[(hit.player_id, category)]) if _fits(a, at, window)), None)
        if alert is None:
            alert = AmlAlert(player_id=hit.player_id, category=category, rule=hit.rule, evidence={"hits": []})
            active[(hit.player_id, category)].append(alert)
            new_alerts.append(alert)
            opened_at[id(alert)] = at
        touched[id(alert)] = alert
        added[id(alert)].append(hit)
        alert.first_hit_at = min(alert.first_hit_at or at, at)
        alert.last_hit_at = max(alert.last_hit_at or at, at)
        scores = rule_scores[id(alert)]
        scores[hit.rule] = max(scores.get(hit.rule, 0), hit.score)
        if opened_at.get(id(alert)) == at:  # fresh is in time order per player: the opening moment's hits come first
            opening = opening_scores[id(alert)]
            opening[hit.rule] = max(opening.get(hit.rule, 0), hit.score)
    for key, alert in touched.items():
        scores = rule_scores[key]
        if alert.pk is None:
            alert.rule = max(opening_scores[key].items(), key=lambda item: item[1])[0]  # the strongest rule that opened it
        alert.score = _score(scores)
        alert.level = level_for_score(alert.score)
        if alert.level == AlertLevel.CRITICAL or alert.category == AlertCategory.SCREENING:
            alert.freezes_withdrawals = True
        alert.evidence = {"hits": [*alert.evidence.get("hits", []),
                                   *({"rule": h.rule, "score": h.score, "key": h.dedup_key, "detected_at": now.isoformat(),
                                      **({"at": h.at.isoformat()} if h.at else {}), **h.evidence} for h in added[key])]}
    if new_alerts:
        bulk_create_with_history(new_alerts, AmlAlert, batch_size=500, default_change_reason="opened by monitoring")
        if any(alert.pk is None for alert in new_alerts):  # pragma: no cover - PostgreSQL and SQLite both return ids
            raise RuntimeError("bulk_create did not return the new alerts' ids")
        # After commit, with the level each alert committed with (a rolled-back recording announces nothing).
        transaction.on_commit(partial(alerts_opened.send_robust, sender=AmlAlert, alerts=list(new_alerts)))
    grown = [alert for alert in touched.values() if alert.pk in existing]
    if grown:
        for alert in grown:
            alert.updated_at = now  # bulk_update does not run auto_now
        bulk_update_with_history(
            grown, AmlAlert, ["score", "level", "freezes_withdrawals", "evidence", "first_hit_at", "last_hit_at", "updated_at"],
            batch_size=500, default_change_reason="new hits added",
        )
    AmlHit.objects.bulk_create(
        [AmlHit(alert=alert, player_id=h.player_id, rule=h.rule, dedup_key=h.dedup_key, score=h.score, evidence=h.evidence)
         for key, alert in touched.items() for h in added[key]],
        batch_size=1000,
    )
    return list(touched.values())


# --- evaluation -----------------------------------------------------------------------------------


# Postings evaluated in one pass at most: the web's PostingBatcher sends no more per task (MAX_IDS), and a longer
# list (a task sent by hand, a backlog) is taken in passes of this size, so one pass's IN lists and hits stay bounded.
EVALUATION_BATCH = 500


def evaluate_transactions(*, transaction_ids: list[int]) -> list[AmlAlert]:
    """Near-real time: every rule as of each of these postings, for the players they touched, in one set-based pass.

    The rules already run over a set of anchors (the sweep gives them every posting past its watermark); here the
    anchors are the batch's postings, so a batch costs one query per rule (per currency for the per-currency
    thresholds), one shared-identity lookup for all the players touched and one recording, whatever its size, where
    evaluating the postings one at a time cost all of that per posting. The hits are those of the one-at-a-time
    evaluation (each rule is computed as of each anchor) and are keyed (player, rule, anchoring posting), so a task
    run twice, an overlapping batch or the sweep records nothing twice. Returns the alerts opened or grown.
    """
    ids = sorted(set(transaction_ids))
    alerts: dict[int, AmlAlert] = {}
    for first in range(0, len(ids), EVALUATION_BATCH):
        for alert in _evaluate_pass(ids[first:first + EVALUATION_BATCH]):
            alerts[alert.pk] = alert
    return list(alerts.values())


def _evaluate_pass(transaction_ids: list[int]) -> list[AmlAlert]:
    anchors = aml_rules.anchors_for(Q(transaction_id__in=transaction_ids))
    touched = set(anchors.order_by().values_list("account__player_id", "account__currency").distinct())
    if not touched:
        return []
    hits = aml_rules.evaluate(anchors=anchors, now=clock.now(), player_ids=sorted({p for p, _ in touched}), rules=enabled_rules(),
                              currencies=sorted({c for _, c in touched}))
    return hits_record(hits=hits)


def evaluate_transaction(*, transaction_id: int) -> list[AmlAlert]:
    """Real time: every rule as of this one posting, for the players it touched (a batch of one)."""
    return evaluate_transactions(transaction_ids=[transaction_id])


@dataclass(frozen=True)
class SweepResult:
    from_id: int
    to_id: int
    alerts: int


def watermark_for_update(name: str) -> Watermark:
    Watermark.objects.get_or_create(name=name)
    return Watermark.objects.select_for_update().get(name=name)


def read_window(mark: Watermark, *, now: datetime) -> tuple[int, int]:
    """(exclusive low, inclusive high) of the ledger ids to read: past the watermark, plus the overlap window behind it."""
    high = LedgerTransaction.objects.aggregate(top=Max("id"))["top"] or 0
    recent = LedgerTransaction.objects.filter(created_at__gte=now - sweep_overlap(), id__lte=high).aggregate(low=Min("id"))["low"]
    low = mark.last_id if recent is None else min(mark.last_id, recent - 1)
    return max(low, 0), high


@transaction.atomic
def monitoring_sweep(*, now: datetime | None = None) -> SweepResult:
    """The guarantee behind the real-time task: every rule over every transaction since the watermark.

    The watermark row is locked for the whole sweep (two sweeps never interleave) and moves only
    when the sweep commits, so a sweep that dies moves nothing and the next one reads the window again.
    """
    now = now or clock.now()
    mark = watermark_for_update(MONITORING_WATERMARK)
    low, high = read_window(mark, now=now)
    anchors = aml_rules.anchors_for(Q(transaction_id__gt=low, transaction_id__lte=high))
    hits = aml_rules.evaluate(anchors=anchors, now=now, player_ids=None, rules=enabled_rules())
    alerts = hits_record(hits=hits)
    mark.last_id = max(mark.last_id, high)
    mark.save()
    return SweepResult(from_id=low, to_id=high, alerts=len(alerts))


# --- officers' work -------------------------------------------------------------------------------


def _require_officer(actor) -> None:
    if actor is None or not actor.is_active or not actor.has_perm(WORK_PERMISSION):
        raise PermissionDenied("Working AML alerts needs the compliance role.")


def _lock_alert(alert_id: int) -> AmlAlert:
    alert = AmlAlert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise NotFound("No such alert.")
    return alert


def _require_note(note: str | None) -> str:
    note = (note or "").strip()
    if not note:
        raise ValidationFailed(details={"note": ["Every transition needs a note: the file must show why."]})
    return note


@transaction.atomic
def alert_transition(
    *, alert_id: int, actor, action: str, note: str, sar_reference: str = "", sar_filed_on: date | None = None
) -> AmlAlert:
    """investigate (open → investigating), dismiss or escalate (investigating → …), always with a note.

    Escalating records the suspicious activity report filed with the FIU (EU AMLD art. 33): its
    reference and date. Dismissing ends the alert's withdrawal freeze (no suspicion after all);
    escalating does not: a filed report is not a cleared player, and the FIU may ask the funds to be
    held (art. 35), so the freeze stays until an officer lifts it with a note (alert_lift_freeze).
    """
    _require_officer(actor)
    if action not in TRANSITIONS:
        raise ValidationFailed(details={"action": [f"Use one of {', '.join(TRANSITIONS)}."]})
    note = _require_note(note)
    sar_reference = (sar_reference or "").strip()
    if action == "escalate" and not sar_reference:
        raise ValidationFailed(details={"sar_reference": ["Escalating records the reference of the report filed."]})
    alert = _lock_alert(alert_id)
    fsm_step(alert, action)
    alert.last_note = note
    if action == "investigate" and alert.assigned_to_id is None:
        alert.assigned_to = actor
    if action in ("dismiss", "escalate"):
        alert.resolved_at = clock.now()
        alert.resolved_by = actor
    if action == "dismiss":
        alert.freezes_withdrawals = False
    if action == "escalate":
        alert.sar_reference = sar_reference[:100]
        alert.sar_filed_on = sar_filed_on or clock.now().date()
    save_with_history(alert, actor=actor, reason=f"{action}: {note}")
    return alert


@transaction.atomic
def alert_assign(*, alert_id: int, actor, officer) -> AmlAlert:
    _require_officer(actor)
    _require_officer(officer)
    alert = _lock_alert(alert_id)
    alert.assigned_to = officer
    save_with_history(alert, actor=actor, reason=f"assigned to {officer.email}")
    return alert


@transaction.atomic
def alert_freeze_withdrawals(*, alert_id: int, actor, note: str) -> AmlAlert:
    """An officer holds the player's withdrawals while the alert is worked, whatever its level."""
    _require_officer(actor)
    note = _require_note(note)
    alert = _lock_alert(alert_id)
    if alert.status not in FREEZING_STATUSES:
        raise InvalidState(f"Cannot freeze withdrawals on an alert that is {alert.status}.", details={"status": alert.status})
    alert.freezes_withdrawals = True
    alert.last_note = note
    save_with_history(alert, actor=actor, reason=f"withdrawals frozen: {note}")
    return alert


@transaction.atomic
def alert_lift_freeze(*, alert_id: int, actor, note: str) -> AmlAlert:
    """An officer releases the player's withdrawals held by this alert, saying why (kept in its history).

    The only way an escalated alert stops holding withdrawals, e.g. once the FIU has answered; on an
    active alert it lets the player withdraw while the case is still worked.
    """
    _require_officer(actor)
    note = _require_note(note)
    alert = _lock_alert(alert_id)
    if not alert.freezes_withdrawals:
        raise InvalidState("This alert does not hold withdrawals.", details={"status": alert.status})
    alert.freezes_withdrawals = False
    alert.last_note = note
    save_with_history(alert, actor=actor, reason=f"withdrawal freeze lifted: {note}")
    return alert


__all__ = ["AlertStatus", "alert_assign", "alert_freeze_withdrawals", "alert_lift_freeze", "alert_transition", "evaluate_transaction",
           "evaluate_transactions", "hits_record", "monitoring_sweep"]
