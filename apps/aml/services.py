"""Every write of the AML app: recording hits into alerts, the officers' work on alerts, and the sweep.

Evaluations are idempotent by construction: a hit is keyed (player, rule, evidence key) in the
database, so the real-time task, a retried task and the sweep re-reading its overlap window can all
find the same pattern and only the first records it. Hits on a player add into their one active
alert (a partial unique constraint allows one open or investigated alert per player and category).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Min, Q

from apps.core import clock
from apps.core.errors import InvalidState, NotFound, PermissionDenied, ValidationFailed
from apps.core.fsm import fsm_step
from apps.core.history import save_with_history
from apps.ledger.models import LedgerTransaction

from . import rules as aml_rules
from .models import ACTIVE_STATUSES, AlertCategory, AlertLevel, AlertStatus, AmlAlert, AmlHit, RuleKind, Watermark, level_for_score
from .selectors import enabled_rules

logger = logging.getLogger(__name__)

WORK_PERMISSION = "aml.work_amlalert"
MONITORING_WATERMARK = "aml.monitoring"
TRANSITIONS = ("investigate", "dismiss", "escalate")


def sweep_overlap() -> timedelta:
    """How far behind its watermark a reader re-reads: ids are allocated before commit, so a transaction with a
    smaller id can commit after a larger one was read (ARCHITECTURE.md, "Events leave through the ledger's own log")."""
    return timedelta(minutes=int(getattr(settings, "AML_SWEEP_OVERLAP_MINUTES", 10)))


# --- recording hits -------------------------------------------------------------------------------


def _active_alert_for_update(*, player_id: int, category: str, rule: str) -> tuple[AmlAlert, bool]:
    alert = AmlAlert.objects.select_for_update().filter(player_id=player_id, category=category, status__in=ACTIVE_STATUSES).first()
    if alert is not None:
        return alert, False
    try:
        with transaction.atomic():
            alert = AmlAlert(player_id=player_id, category=category, rule=rule, evidence={"hits": []})
            save_with_history(alert, actor=None, reason=f"opened by rule {rule}")
            return alert, True
    except IntegrityError:
        # A concurrent evaluation opened it first; the constraint made us wait for its commit.
        return AmlAlert.objects.select_for_update().get(player_id=player_id, category=category, status__in=ACTIVE_STATUSES), False


@transaction.atomic
def _record_player_hits(*, player_id: int, category: str, hits: list[aml_rules.Hit]) -> AmlAlert | None:
    opening = max(hits, key=lambda hit: hit.score).rule  # the alert is named after its strongest rule
    alert, created = _active_alert_for_update(player_id=player_id, category=category, rule=opening)
    added = []
    for hit in hits:
        try:
            with transaction.atomic():
                AmlHit.objects.create(alert=alert, player_id=player_id, rule=hit.rule, dedup_key=hit.dedup_key, score=hit.score,
                                      evidence=hit.evidence)
        except IntegrityError:
            continue  # a concurrent evaluation recorded this very hit
        added.append(hit)
    if not added:
        if created:
            transaction.set_rollback(True)  # nothing new after all: no empty alert
        return None
    now = clock.now()
    # Each rule counts once per alert (its highest score): ten velocity hits are one velocity pattern.
    per_rule = alert.hits.values("rule").annotate(top=Max("score")).values_list("top", flat=True)
    alert.score = sum(per_rule)
    alert.level = level_for_score(alert.score)
    if alert.level == AlertLevel.CRITICAL or category == AlertCategory.SCREENING:
        alert.freezes_withdrawals = True
    alert.evidence = {"hits": [*alert.evidence.get("hits", []),
                               *({"rule": h.rule, "score": h.score, "key": h.dedup_key, "detected_at": now.isoformat(), **h.evidence}
                                 for h in added)]}
    save_with_history(alert, actor=None, reason=f"{len(added)} hit(s): {', '.join(sorted({h.rule for h in added}))}")
    return alert


def hits_record(*, hits: list[aml_rules.Hit]) -> list[AmlAlert]:
    """Add new hits into their players' active alerts (opening one if needed); known hits change nothing."""
    if not hits:
        return []
    unique = {(h.player_id, h.rule, h.dedup_key): h for h in hits}
    known = set(
        AmlHit.objects.filter(player_id__in={h.player_id for h in hits}, rule__in={h.rule for h in hits},
                              dedup_key__in={h.dedup_key for h in hits}).values_list("player_id", "rule", "dedup_key")
    )
    by_player: dict[tuple[int, str], list[aml_rules.Hit]] = defaultdict(list)
    for key, hit in unique.items():
        if key not in known:
            category = AlertCategory.SCREENING if hit.rule == RuleKind.SCREENING else AlertCategory.MONITORING
            by_player[(hit.player_id, category)].append(hit)
    alerts = []
    for (player_id, category), player_hits in sorted(by_player.items()):
        alert = _record_player_hits(player_id=player_id, category=category, hits=player_hits)
        if alert is not None:
            alerts.append(alert)
    return alerts


# --- evaluation -----------------------------------------------------------------------------------


def evaluate_transaction(*, transaction_id: int) -> list[AmlAlert]:
    """Real time: every rule as of this one posting, for the players it touched."""
    anchors = aml_rules.anchors_for(Q(transaction_id=transaction_id))
    touched = set(anchors.values_list("account__player_id", "account__currency"))
    if not touched:
        return []
    hits = aml_rules.evaluate(anchors=anchors, now=clock.now(), player_ids=sorted({p for p, _ in touched}), rules=enabled_rules(),
                              currencies=sorted({c for _, c in touched}))
    return hits_record(hits=hits)


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
    reference and date. Dismissing or escalating resolves the alert, which ends its withdrawal freeze.
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
    if alert.status not in ACTIVE_STATUSES:
        raise InvalidState(f"Cannot freeze withdrawals on an alert that is {alert.status}.", details={"status": alert.status})
    alert.freezes_withdrawals = True
    alert.last_note = note
    save_with_history(alert, actor=actor, reason=f"withdrawals frozen: {note}")
    return alert


__all__ = ["AlertStatus", "alert_assign", "alert_freeze_withdrawals", "alert_transition", "evaluate_transaction",
           "hits_record", "monitoring_sweep"]
