"""What other apps, the API and the admin may ask about a player's KYC."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Case, CharField, F, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from apps.core import clock

from .models import OPEN_STATES, KycCase, KycDocument, KycState


def kyc_case_for_player(*, player) -> KycCase | None:
    return KycCase.objects.filter(player=player).first()


def _effective_state(case: KycCase, now: datetime) -> str:
    # An approval whose identity document has lapsed is no longer an approval, even if the daily
    # expiry task has not run yet: deposits must not rely on a scheduler being up.
    if case.state == KycState.APPROVED and case.expires_at is not None and case.expires_at <= now:
        return KycState.EXPIRED
    return case.state


def kyc_case_status(*, case: KycCase | None, now: datetime | None = None) -> str:
    if case is None:
        return KycState.NONE.value
    return str(_effective_state(case, now or clock.now()))


def kyc_status(*, player) -> str:
    """The player's KYC state as API.md names it; "none" until they upload something."""
    return kyc_case_status(case=kyc_case_for_player(player=player))


def kyc_is_approved(*, player) -> bool:
    return kyc_status(player=player) == KycState.APPROVED


def kyc_documents(*, case: KycCase | None) -> QuerySet[KycDocument]:
    if case is None:
        return KycDocument.objects.none()
    return case.documents.order_by("uploaded_at", "id")


def kyc_review_queue() -> QuerySet[KycCase]:
    """Open cases, oldest submission first: the order in which compliance must work them."""
    return (
        KycCase.objects.filter(state__in=OPEN_STATES)
        .select_related("player__user", "reviewer")
        .order_by(F("submitted_at").asc(nulls_last=True), "id")
    )


def kyc_cases_due_for_expiry(*, now: datetime) -> QuerySet[KycCase]:
    return KycCase.objects.filter(state=KycState.APPROVED, expires_at__isnull=False, expires_at__lte=now).order_by("id")


def kyc_document_for_staff(*, document_id: int, case_id: int | None = None) -> KycDocument | None:
    """The document row for the admin's file view; the caller checks the permission first."""
    documents = KycDocument.objects.select_related("case")
    if case_id is not None:
        documents = documents.filter(case_id=case_id)
    return documents.filter(pk=document_id).first()


# --- for regulatory reports (apps.reports) ---------------------------------------------------------


def kyc_player_ids_changed_between(*, start: datetime, end: datetime) -> QuerySet:
    """A subquery of the players whose KYC case changed in the period."""
    return KycCase.history.filter(history_date__gte=start, history_date__lt=end).values("player_id")


def kyc_cases_with_accepted_documents(*, player_ids: Iterable[int]) -> dict[int, tuple[KycCase, list[KycDocument]]]:
    """player id -> (their case, its accepted documents oldest first): the documentary verification."""
    cases = {c.player_id: c for c in KycCase.objects.filter(player_id__in=list(player_ids))}
    docs: dict[int, list[KycDocument]] = defaultdict(list)
    for document in KycDocument.objects.filter(case__in=list(cases.values()), status="accepted").order_by("uploaded_at", "id"):
        docs[document.case_id].append(document)
    return {player_id: (case, docs.get(case.pk, [])) for player_id, case in cases.items()}
def annotate_kyc_status(queryset: QuerySet, *, now: datetime | None = None) -> QuerySet:
    """Players annotated with `kyc_status` as API.md names it (kyc_status() for a whole page in one query)."""
    now = now or clock.now()
    effective = Case(
        When(state=KycState.APPROVED, expires_at__isnull=False, expires_at__lte=now, then=Value(KycState.EXPIRED.value)),
        default=F("state"), output_field=CharField(),
    )
    case = KycCase.objects.filter(player=OuterRef("pk")).annotate(effective=effective).values("effective")[:1]
    return queryset.annotate(kyc_status=Coalesce(Subquery(case), Value(KycState.NONE.value), output_field=CharField()))
def kyc_approved_sql(*, alias: str) -> str:
    """An SQL condition, true when the KYC case row `alias` is approved and not lapsed, for callers that fold
    the KYC state into a round trip they already make (the stake check, apps.limits.services.lock).

    One placeholder: the moment. Same rule as `_effective_state`: an approval whose document expired is none.
    """
    return f"({alias}.state = '{KycState.APPROVED.value}' AND ({alias}.expires_at IS NULL OR {alias}.expires_at > %s))"


def kyc_case_table() -> str:
    from django.db import connection

    return connection.ops.quote_name(KycCase._meta.db_table)
