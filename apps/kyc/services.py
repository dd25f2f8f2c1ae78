"""Every write to KYC cases and documents. The API, the admin and the expiry task call these, never the models."""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from datetime import UTC, date, datetime, time
from typing import Any

import filetype
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum

from apps.core import clock
from apps.core.errors import AccountBlocked, InvalidState, PermissionDenied, ValidationFailed
from apps.core.fsm import fsm_step
from apps.core.history import save_with_history
from apps.players.models import DocumentType, PlayerStatus
from apps.players.services import player_bar_if_identity_excluded, player_mark_activated, player_update_identity

from .models import (
    IDENTITY_KINDS,
    RESUBMITTABLE_STATES,
    UPLOAD_STATES,
    DocumentContentType,
    DocumentKind,
    DocumentStatus,
    KycCase,
    KycDocument,
    KycState,
)
from .selectors import kyc_cases_due_for_expiry

logger = logging.getLogger(__name__)

# filetype reads at most this many bytes to recognise a format.
_SNIFF_BYTES = 8192
DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
ALLOWED_CONTENT_TYPES = frozenset(c.value for c in DocumentContentType)
# The regulator's identity document codes (REPORTS.md) for the kinds we accept as identity.
REGULATOR_DOCUMENT_TYPE = {
    DocumentKind.PASSPORT: DocumentType.PASSPORT,
    DocumentKind.ID_CARD: DocumentType.NATIONAL_ID,
    DocumentKind.DRIVING_LICENCE: DocumentType.DRIVING_LICENCE,
}
REVIEW_PERMISSION = "kyc.review_kyccase"


# --- helpers ------------------------------------------------------------------------------------


def _max_upload_bytes() -> int:
    return int(getattr(settings, "KYC_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


def sniff_content_type(uploaded_file: Any) -> str | None:
    """The type the bytes say they are. The name, extension and declared Content-Type are the sender's claims."""
    uploaded_file.seek(0)
    head = uploaded_file.read(_SNIFF_BYTES)
    uploaded_file.seek(0)
    kind = filetype.guess(bytes(head)) if head else None
    return kind.mime if kind is not None else None


def _sha256(uploaded_file: Any) -> str:
    digest = hashlib.sha256()
    uploaded_file.seek(0)
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
    uploaded_file.seek(0)
    return digest.hexdigest()


def sanitize_original_name(name: str | None) -> str:
    """Keep the player's file name for display only: last path part, no control characters, bounded length."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C")).strip()
    return name[:200] or "document"


def _expiry_instant(expires_on: date) -> datetime:
    # Conservative: an identity document is no longer relied on from the first moment of its expiry date (UTC).
    return datetime.combine(expires_on, time.min, tzinfo=UTC)


def _lock_case(case: KycCase) -> KycCase:
    # of=("self",): lock the case row only, not the joined player and user rows.
    return KycCase.objects.select_for_update(of=("self",)).select_related("player__user").get(pk=case.pk)


def _lock_or_create_case(player) -> KycCase:
    """The player's case, row-locked; created on first use. Two first uploads racing both end up on one row."""
    case = KycCase.objects.select_for_update().filter(player=player).first()
    if case is not None:
        return case
    try:
        with transaction.atomic():
            save_with_history(KycCase(player=player), actor=player.user, reason="Case opened by the player's first upload")
    except IntegrityError:
        pass  # The other request created it; lock theirs.
    return KycCase.objects.select_for_update().get(player=player)


def _assert_player_may_act(player) -> None:
    # A closed account is finished business; a suspended or self-excluded player may still prove their identity.
    if player.status == PlayerStatus.CLOSED:
        raise AccountBlocked(details={"status": player.status})


def _assert_officer(case: KycCase, officer) -> None:
    """Least privilege and four eyes, enforced here so no caller (admin, shell, task) can skip them."""
    if officer is None or not getattr(officer, "is_authenticated", False) or not officer.has_perm(REVIEW_PERMISSION):
        raise PermissionDenied("Only compliance officers can take KYC decisions.")
    if case.player.user_id == officer.pk:
        raise PermissionDenied("Nobody may decide on their own KYC case.")


def _require_note(note: str | None, *, what: str) -> str:
    note = (note or "").strip()
    if not note:
        # The player is told what is wrong or missing; an empty message leaves them stuck.
        raise ValidationFailed(f"A note to the player is required to {what}.", details={"note": ["This field is required."]})
    return note


def _human_size(size: int) -> str:
    mib = 1024 * 1024
    return f"{size // mib} MB" if size % mib == 0 else f"{size} bytes"


def _expire_if_lapsed(case: KycCase, now: datetime) -> bool:
    """Expire a locked, approved case whose identity document has lapsed; False if there was nothing to do.

    The daily task does this for everyone; the player's own actions do it too, so a player whose
    approval lapsed at midnight can renew before the 02:00 run instead of being told "approved".
    """
    if case.state != KycState.APPROVED or case.expires_at is None or case.expires_at > now:
        return False
    case.expire()
    save_with_history(case, actor=None, reason=f"Identity document expired ({case.expires_at:%Y-%m-%d})")
    return True


def _decision_reason(action: str, note: str) -> str:
    return f"{action}: {note}" if note else action


# --- player actions -----------------------------------------------------------------------------


def kyc_document_upload(*, player, kind: str, uploaded_file: Any, expires_on: date | None = None) -> KycDocument:
    """Store one document for the player's case after checking size and real type.

    The bytes are written before the database row, outside the row lock, so a slow disk never holds the
    case lock; if the row is then refused (wrong state) or fails, the file is deleted again.
    """
    _assert_player_may_act(player)
    errors: dict[str, list[str]] = {}
    if kind not in DocumentKind.values:
        errors["kind"] = [f"Choose one of: {', '.join(DocumentKind.values)}."]
    if expires_on is not None:
        if kind not in IDENTITY_KINDS:
            errors["expires_on"] = ["Only identity documents (passport, id_card, driving_licence) have an expiry date."]
        elif expires_on <= clock.now().date():
            errors["expires_on"] = ["This document has already expired; upload a valid one."]
    size = getattr(uploaded_file, "size", None) or 0
    max_bytes = _max_upload_bytes()
    if uploaded_file is None or size <= 0:
        errors["file"] = ["The file is empty."]
    elif size > max_bytes:
        errors["file"] = [f"The file is larger than the {_human_size(max_bytes)} limit."]
    if errors:
        raise ValidationFailed("The document was not accepted.", details=errors)

    content_type = sniff_content_type(uploaded_file)
    if content_type not in ALLOWED_CONTENT_TYPES:
        # Judged by the bytes only: a text file named passport.pdf, an executable or a GIF are all refused.
        raise ValidationFailed(
            "Only PDF, JPEG and PNG documents are accepted.",
            details={"file": ["The file's content is not a PDF, JPEG or PNG document."]},
        )
    sha256 = _sha256(uploaded_file)
    now = clock.now()
    document = KycDocument(
        kind=kind,
        content_type=content_type,
        size=size,
        sha256=sha256,
        original_name=sanitize_original_name(getattr(uploaded_file, "name", "")),
        expires_on=expires_on,
        uploaded_at=now,
    )
    uploaded_file.seek(0)
    document.file.save("upload", uploaded_file, save=False)
    stored_name = document.file.name
    try:
        return _document_record(player=player, document=document, now=now)
    except BaseException:
        document.file.storage.delete(stored_name)
        raise


def _assert_within_quota(case: KycCase, document: KycDocument) -> None:
    """A cap per player on stored documents and bytes (KYC_MAX_DOCUMENTS, KYC_MAX_TOTAL_BYTES), so one
    account cannot fill the private storage. Checked under the case lock, so parallel uploads cannot
    jointly pass it; rejected documents count too: they are kept as evidence (AMLD record keeping)."""
    stored = case.documents.aggregate(count=Count("id"), size=Sum("size"))
    max_documents = int(settings.KYC_MAX_DOCUMENTS)
    max_bytes = int(settings.KYC_MAX_TOTAL_BYTES)
    if stored["count"] >= max_documents:
        raise ValidationFailed(
            "You have stored the most documents we accept.",
            details={"file": [f"At most {max_documents} documents per player; contact support if you need to send more."]},
        )
    if (stored["size"] or 0) + document.size > max_bytes:
        raise ValidationFailed(
            "Your documents would exceed the storage we accept.",
            details={"file": [f"At most {_human_size(max_bytes)} of documents per player; contact support if you need to send more."]},
        )


@transaction.atomic
def _document_record(*, player, document: KycDocument, now: datetime) -> KycDocument:
    case = _lock_or_create_case(player)
    _expire_if_lapsed(case, now)
    if case.state not in UPLOAD_STATES:
        raise InvalidState(
            "Documents cannot be added while the case is being reviewed or is approved.", details={"status": case.state}
        )
    _assert_within_quota(case, document)
    document.case = case
    # Added to a case still waiting in the queue, the document joins that submission.
    document.submitted_at = now if case.state == KycState.SUBMITTED else None
    save_with_history(document, actor=player.user, reason="Uploaded by the player")
    return document


@transaction.atomic
def kyc_submit(*, player) -> KycCase:
    """Put the newly uploaded documents forward for review."""
    _assert_player_may_act(player)
    case = KycCase.objects.select_for_update().filter(player=player).first()
    if case is None:
        raise InvalidState("There is nothing to submit: upload a document first.", details={"status": KycState.NONE.value})
    now = clock.now()
    _expire_if_lapsed(case, now)
    if case.state not in RESUBMITTABLE_STATES:
        raise InvalidState(f"The case is already {case.state}.", details={"status": case.state})
    new_documents = case.documents.filter(submitted_at__isnull=True, status=DocumentStatus.PENDING)
    if not new_documents.exists():
        raise InvalidState("There is nothing new to submit: upload a document first.", details={"status": case.state})
    fsm_step(case, "submit", verb="submit", state_field="state")
    for document in new_documents:
        document.submitted_at = now
        save_with_history(document, actor=player.user, reason="Submitted for review")
    case.submitted_at = now
    save_with_history(case, actor=player.user, reason="Submitted by the player")
    return case


# --- officer actions ----------------------------------------------------------------------------


@transaction.atomic
def kyc_start_review(*, case: KycCase, officer, note: str = "") -> KycCase:
    """An officer takes the case; from here the documents are frozen until a decision."""
    case = _lock_case(case)
    _assert_officer(case, officer)
    fsm_step(case, "start_review", verb="start reviewing", state_field="state")
    case.reviewer = officer
    note = (note or "").strip()
    save_with_history(case, actor=officer, reason=_decision_reason("Review started", note))
    return case


def _review_if_submitted(case: KycCase, officer) -> None:
    """A decision taken on a submitted case starts its review first (both steps in the history): the
    officer who decides is reviewing it, and refusing the decision would only lose what they wrote."""
    if case.state == KycState.SUBMITTED:
        fsm_step(case, "start_review", verb="start reviewing", state_field="state")
        case.reviewer = officer
        save_with_history(case, actor=officer, reason="Review started with the decision")


def _valid_identity_documents(case: KycCase, today: date):
    return case.documents.filter(
        Q(status=DocumentStatus.ACCEPTED) | Q(status=DocumentStatus.PENDING, submitted_at__isnull=False),
        kind__in=IDENTITY_KINDS,
    ).filter(Q(expires_on__isnull=True) | Q(expires_on__gt=today))


@transaction.atomic
def kyc_approve(*, case: KycCase, officer, note: str = "", id_document_number: str = "") -> KycCase:
    """Accept the submitted documents and approve the player's identity.

    The note is optional: approval is the expected outcome of a clean check, and the history already
    records the officer and time. The approval lapses at the earliest expiry of the valid accepted identity
    documents. If the officer read the document number, it goes to the player's identity (REPORTS.md).
    """
    case = _lock_case(case)
    _assert_officer(case, officer)
    _review_if_submitted(case, officer)
    if case.state != KycState.IN_REVIEW:
        raise InvalidState(f"Cannot approve a KYC case that is {case.state}.", details={"status": case.state})
    now = clock.now()
    today = now.date()
    identity_documents = list(_valid_identity_documents(case, today).order_by("-uploaded_at", "-id"))
    if not identity_documents:
        raise InvalidState(
            "Cannot approve without a valid identity document (passport, identity card or driving licence).",
            details={"status": case.state},
        )
    note = (note or "").strip()
    reason = _decision_reason("Approved", note)
    for document in case.documents.filter(status=DocumentStatus.PENDING, submitted_at__isnull=False):
        document.status = DocumentStatus.ACCEPTED
        save_with_history(document, actor=officer, reason=reason)
    expiries = [d.expires_on for d in identity_documents if d.expires_on is not None]
    fsm_step(case, "approve", verb="approve", state_field="state")
    case.reviewer = officer
    case.reviewer_note = note
    case.reviewed_at = now
    case.approved_at = now
    case.expires_at = _expiry_instant(min(expiries)) if expiries else None
    save_with_history(case, actor=officer, reason=reason)

    player = player_mark_activated(player=case.player, actor=officer)
    id_document_number = (id_document_number or "").strip()
    if id_document_number:
        latest = identity_documents[0]
        player_update_identity(
            player=player,
            actor=officer,
            reason="Identity document verified at KYC approval",
            id_document_type=REGULATOR_DOCUMENT_TYPE[DocumentKind(latest.kind)],
            id_document_number=id_document_number[:64],
        )
    # The verified identity (names, birth date and now the document) may be a self-excluded person's.
    player_bar_if_identity_excluded(player=player, actor=officer, when="KYC approval")
    return case


@transaction.atomic
def kyc_reject(*, case: KycCase, officer, note: str) -> KycCase:
    """Refuse the submitted documents; the player may upload new ones and submit again."""
    note = _require_note(note, what="reject a case")
    case = _lock_case(case)
    _assert_officer(case, officer)
    _review_if_submitted(case, officer)
    fsm_step(case, "reject", verb="reject", state_field="state")
    reason = _decision_reason("Rejected", note)
    for document in case.documents.filter(status=DocumentStatus.PENDING, submitted_at__isnull=False):
        document.status = DocumentStatus.REJECTED
        save_with_history(document, actor=officer, reason=reason)
    case.reviewer = officer
    case.reviewer_note = note
    case.reviewed_at = clock.now()
    save_with_history(case, actor=officer, reason=reason)
    return case


@transaction.atomic
def kyc_request_more_info(*, case: KycCase, officer, note: str) -> KycCase:
    """Ask the player for more; the documents already sent stay pending and are reviewed again with the new ones."""
    note = _require_note(note, what="ask for more information")
    case = _lock_case(case)
    _assert_officer(case, officer)
    _review_if_submitted(case, officer)
    fsm_step(case, "request_more_info", verb="ask for more information on", state_field="state")
    case.reviewer = officer
    case.reviewer_note = note
    case.reviewed_at = clock.now()
    save_with_history(case, actor=officer, reason=_decision_reason("More information requested", note))
    return case


# --- scheduled ----------------------------------------------------------------------------------


def kyc_expire_due(*, now: datetime | None = None) -> int:
    """Expire every approval whose identity document has lapsed; safe to run any number of times.

    Each case is expired in its own transaction under its row lock, so one bad row never holds back the rest
    and a case an officer is touching at the same moment is simply re-checked after the lock.
    """
    now = now or clock.now()
    expired = 0
    for case_id in list(kyc_cases_due_for_expiry(now=now).values_list("id", flat=True)):
        with transaction.atomic():
            case = KycCase.objects.select_for_update().filter(pk=case_id).first()
            if case is not None and _expire_if_lapsed(case, now):
                expired += 1
    if expired:
        logger.info("kyc: expired %s approved case(s) whose identity documents lapsed", expired)
    return expired
