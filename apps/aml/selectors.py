"""Read queries about AML alerts that the API, the admin, the 360 panel and payments' hold need."""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When

from .models import ACTIVE_STATUSES, FREEZING_STATUSES, LEVEL_RANK, AlertLevel, AmlAlert, AmlRule


def enabled_rules() -> list[AmlRule]:
    return list(AmlRule.objects.filter(enabled=True))


def alerts(*, player_id: int | None = None, status: str | None = None, level: str | None = None) -> QuerySet[AmlAlert]:
    qs = AmlAlert.objects.all()
    if player_id is not None:
        qs = qs.filter(player_id=player_id)
    if status:
        qs = qs.filter(status=status)
    if level:
        qs = qs.filter(level=level)
    return qs


def level_rank() -> Case:
    """An SQL expression ranking levels, so the queue sorts critical first (then oldest first)."""
    return Case(*(When(level=level, then=Value(rank)) for level, rank in LEVEL_RANK.items()), default=Value(0), output_field=IntegerField())


def player_risk_level(*, player) -> str:
    """The highest level among the player's open or investigated alerts; "none" when nothing is open."""
    top = (
        AmlAlert.objects.filter(player_id=player.pk, status__in=ACTIVE_STATUSES)
        .annotate(rank=level_rank()).order_by("-rank").values_list("level", flat=True).first()
    )
    return top or "none"


def withdrawal_hold_reason(player) -> str | None:
    """The hold payments asks for (apps.core.holds): an open, investigated or escalated alert that freezes withdrawals.

    Escalated counts: a SAR filed is not a player cleared (see services.alert_transition).
    """
    alert_id = (
        AmlAlert.objects.filter(player_id=player.pk, status__in=FREEZING_STATUSES, freezes_withdrawals=True)
        .order_by("id").values_list("id", flat=True).first()
    )
    return f"AML alert #{alert_id} under review" if alert_id else None


__all__ = ["AlertLevel", "alerts", "enabled_rules", "level_rank", "player_risk_level", "withdrawal_hold_reason"]
