"""KYC: one case per player, the documents they upload, and the officers' decisions on them.

The case state is a protected FSM: only apps.kyc.services moves it, and every move records the
acting user and a reason in the history, so compliance can show a regulator who decided what, when and why.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords


class KycState(models.TextChoices):
    NONE = "none", "Not submitted"
    SUBMITTED = "submitted", "Submitted, waiting for review"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    MORE_INFO_REQUIRED = "more_info_required", "More information required"
    EXPIRED = "expired", "Expired (identity document out of date)"


# A rejected case is not final: the player may upload new documents and submit again (a blurred
# photo is the usual cause). Fraud is dealt with on the player account (suspend/close), not by
# locking the KYC case. An expired case is renewed the same way, with a new identity document.
RESUBMITTABLE_STATES = (KycState.NONE, KycState.MORE_INFO_REQUIRED, KycState.REJECTED, KycState.EXPIRED)
# Uploads are also accepted while the case waits in the queue: nobody has looked at it yet, and the
# case row lock makes an upload and the officer's "start review" strictly ordered. Once review starts,
# the set of documents is frozen until the officer decides.
UPLOAD_STATES = (*RESUBMITTABLE_STATES, KycState.SUBMITTED)
OPEN_STATES = (KycState.SUBMITTED, KycState.IN_REVIEW)


class DocumentKind(models.TextChoices):
    PASSPORT = "passport", "Passport"
    ID_CARD = "id_card", "National identity card"
    DRIVING_LICENCE = "driving_licence", "Driving licence"
    PROOF_OF_ADDRESS = "proof_of_address", "Proof of address"
    SOURCE_OF_FUNDS = "source_of_funds", "Source of funds"


# Documents that prove identity; only these carry an expiry date, and their expiry ends an approval.
IDENTITY_KINDS = (DocumentKind.PASSPORT, DocumentKind.ID_CARD, DocumentKind.DRIVING_LICENCE)


class DocumentContentType(models.TextChoices):
    # The only formats an officer's browser renders safely; decided from the bytes, never the name.
    PDF = "application/pdf", "PDF"
    JPEG = "image/jpeg", "JPEG image"
    PNG = "image/png", "PNG image"


EXTENSION_FOR_CONTENT_TYPE = {
    DocumentContentType.PDF: "pdf",
    DocumentContentType.JPEG: "jpg",
    DocumentContentType.PNG: "png",
}


class DocumentStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class KycCase(FSMModelMixin, models.Model):
    """A player's identity verification. Created on the first upload; never deleted (audit trail)."""

    player = models.OneToOneField("players.Player", on_delete=models.PROTECT, related_name="kyc_case")
    state = FSMField(default=KycState.NONE, choices=KycState.choices, protected=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The officer who last took the case into review or decided on it.",
    )
    reviewer_note = models.TextField(blank=True, help_text="The officer's message to the player about the latest decision.")
    submitted_at = models.DateTimeField(null=True, blank=True, help_text="Latest submission; the review queue is ordered by it.")
    reviewed_at = models.DateTimeField(null=True, blank=True, help_text="Latest decision (approve, reject, more information).")
    approved_at = models.DateTimeField(null=True, blank=True, help_text="Latest approval.")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="When the approval lapses: the earliest expiry of the accepted identity documents."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "KYC case"
        verbose_name_plural = "KYC cases"
        indexes = [
            models.Index(fields=["state", "submitted_at"], name="kyc_case_queue_idx"),
            models.Index(fields=["state", "expires_at"], name="kyc_case_expiry_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(state=KycState.APPROVED) | models.Q(approved_at__isnull=False, reviewer__isnull=False),
                name="kyc_case_approved_has_officer_and_time",
            ),
        ]
        permissions = [
            ("review_kyccase", "Can take KYC decisions"),
            ("view_kyc_documents", "Can view KYC document files"),
        ]

    def __str__(self) -> str:
        return f"KYC case {self.pk} ({self.state})"

    # Transitions: called only by apps.kyc.services, which locks the row and records who and why.
    @transition(field=state, source=list(RESUBMITTABLE_STATES), target=KycState.SUBMITTED)
    def submit(self) -> None: ...

    @transition(field=state, source=KycState.SUBMITTED, target=KycState.IN_REVIEW)
    def start_review(self) -> None: ...

    @transition(field=state, source=KycState.IN_REVIEW, target=KycState.APPROVED)
    def approve(self) -> None: ...

    @transition(field=state, source=KycState.IN_REVIEW, target=KycState.REJECTED)
    def reject(self) -> None: ...

    @transition(field=state, source=KycState.IN_REVIEW, target=KycState.MORE_INFO_REQUIRED)
    def request_more_info(self) -> None: ...

    @transition(field=state, source=KycState.APPROVED, target=KycState.EXPIRED)
    def expire(self) -> None: ...


def document_upload_to(instance: KycDocument, filename: str) -> str:
    """A random name with the extension of the sniffed type: the player's file name never reaches the disk."""
    extension = EXTENSION_FOR_CONTENT_TYPE.get(instance.content_type, "bin")
    return f"kyc/{instance.uploaded_at:%Y/%m}/{uuid.uuid4().hex}.{extension}"


class KycDocument(models.Model):
    """One uploaded file. Stored on private storage only; staff read it through a permission-checked admin view."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(KycCase, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=32, choices=DocumentKind.choices)
    file = models.FileField(upload_to=document_upload_to, max_length=255)
    content_type = models.CharField(max_length=32, choices=DocumentContentType.choices)
    size = models.PositiveIntegerField(help_text="Bytes.")
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the stored bytes, hex; proves the file was not altered.")
    original_name = models.CharField(max_length=255, blank=True, help_text="As the player named it; display only.")
    expires_on = models.DateField(null=True, blank=True, help_text="Expiry printed on an identity document, as the player entered it.")
    status = models.CharField(max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.PENDING)
    uploaded_at = models.DateTimeField()
    submitted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the player put it forward for review; empty while it is only uploaded."
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = "KYC document"
        ordering = ["uploaded_at", "id"]
        indexes = [models.Index(fields=["case", "status"], name="kyc_document_case_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(content_type__in=[c.value for c in DocumentContentType]), name="kyc_document_content_type_allowed"
            ),
            models.CheckConstraint(condition=models.Q(size__gt=0), name="kyc_document_size_positive"),
            models.CheckConstraint(
                condition=models.Q(expires_on__isnull=True) | models.Q(kind__in=[k.value for k in IDENTITY_KINDS]),
                name="kyc_document_expiry_only_on_identity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_content_type_display()}, {self.size} bytes)"

    @property
    def is_identity(self) -> bool:
        return self.kind in IDENTITY_KINDS
