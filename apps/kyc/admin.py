"""The compliance officers' KYC review desk.

Decisions are admin actions that ask for a note and call the services; nothing about a case is edited by hand.
Document files are shown only to holders of kyc.view_kyc_documents, through a view that streams them
with the type sniffed at upload; they have no URL outside this view.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import FileResponse, Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.timezone import localtime
from unfold.admin import TabularInline

from apps.core import clock
from apps.core.admin import (
    NoEditPermissions,
    ReadOnlyHistoryAdmin,
    WorkQueueFilter,
    action_hidden_fields,
    apply_to_each,
    confirm_action_page,
)
from apps.core.errors import DomainError
from apps.core.panels import TimelineEvent, player_panel, player_timeline
from apps.core.player_list import PlayerColumn, register_player_column
from apps.core.timefmt import readable_time

from .models import EXTENSION_FOR_CONTENT_TYPE, OPEN_STATES, KycCase, KycDocument, KycState
from .selectors import kyc_document_for_staff, kyc_status
from .services import kyc_approve, kyc_reject, kyc_request_more_info, kyc_start_review

logger = logging.getLogger(__name__)

VIEW_DOCUMENTS_PERMISSION = "kyc.view_kyc_documents"
REVIEW_PERMISSION = "kyc.review_kyccase"


class WaitingFilter(admin.SimpleListFilter):
    """How long an open case has waited since the player submitted it (service-level targets are in days)."""

    title = "waiting for a decision"
    parameter_name = "waiting"

    def lookups(self, request, model_admin):
        return [("lt1", "less than 1 day"), ("1to3", "1 to 3 days"), ("gt3", "more than 3 days")]

    def queryset(self, request, queryset):
        value = self.value()
        if value not in {"lt1", "1to3", "gt3"}:
            return queryset
        now = clock.now()
        one_day, three_days = now - timedelta(days=1), now - timedelta(days=3)
        waiting = queryset.filter(state__in=OPEN_STATES, submitted_at__isnull=False)
        if value == "lt1":
            return waiting.filter(submitted_at__gt=one_day)
        if value == "1to3":
            return waiting.filter(submitted_at__lte=one_day, submitted_at__gt=three_days)
        return waiting.filter(submitted_at__lte=three_days)


class KycDocumentInline(NoEditPermissions, TabularInline):
    """Read-only list of the case's documents; hidden entirely from anyone who may not see identity documents."""

    model = KycDocument
    fields = ("kind", "content_type", "size", "sha256", "expires_on", "status", "uploaded_at", "submitted_at", "original_name", "view")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(VIEW_DOCUMENTS_PERMISSION)

    @admin.display(description="file")
    def view(self, obj: KycDocument) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("admin:kyc_kyccase_document_file", args=[obj.case_id, obj.pk])
        return format_html('<a href="{}" target="_blank" rel="noopener noreferrer">view</a>', url)


class NoteForm(forms.Form):
    note = forms.CharField(
        label="Note to the player",
        help_text="Shown to the player in their account and kept in the case history.",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        required=True,
        max_length=2000,
    )


class OptionalNoteForm(NoteForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].required = False


class StartReviewForm(OptionalNoteForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].label = "Internal note"
        self.fields["note"].help_text = "Optional; kept in the case history only."


class ApproveForm(OptionalNoteForm):
    id_document_number = forms.CharField(
        label="Identity document number",
        required=False,
        max_length=64,
        help_text=(
            "Optional: the number printed on the identity document you checked; saved to the player's identity for regulatory reports."
        ),
    )


def _case_line(case: KycCase) -> str:
    line = f"{case.player.user.email} — {case.get_state_display()}"
    if case.submitted_at:
        line += f", submitted {localtime(case.submitted_at):%Y-%m-%d %H:%M} UTC"
    return line


@dataclass(frozen=True)
class Decision:
    name: str
    title: str
    button: str
    form_class: type[forms.Form]
    service: Callable[..., KycCase]
    done: str
    single_case_fields: tuple[str, ...] = ()


DECISIONS = {
    "start_review": Decision("start_review", "Start reviewing", "Start review", StartReviewForm, kyc_start_review, "put in review"),
    "approve": Decision("approve", "Approve", "Approve", ApproveForm, kyc_approve, "approved", single_case_fields=("id_document_number",)),
    "reject": Decision("reject", "Reject", "Reject", NoteForm, kyc_reject, "rejected"),
    "request_more_info": Decision(
        "request_more_info",
        "Request more information on",
        "Request more information",
        NoteForm,
        kyc_request_more_info,
        "asked for more information",
    ),
}


class KycQueueFilter(WorkQueueFilter):
    state_field = "state"
    open_states = tuple(OPEN_STATES)
    open_label = "Waiting for a decision (submitted or in review)"


@admin.register(KycCase)
class KycCaseAdmin(ReadOnlyHistoryAdmin):
    """No add (a case opens with the player's first upload), no change (every change is a decision through an
    action and a service, and simple-history's revert must not bypass the state machine), no delete (KYC records
    are kept for the regulator's retention period).
    """

    list_display = ("player_email", "state", "submitted_at", "waiting", "reviewer", "reviewed_at", "expires_at")
    list_filter = (KycQueueFilter, "state", WaitingFilter)
    list_select_related = ("player__user", "reviewer")
    search_fields = ("player__user__email", "player__user__first_name", "player__user__last_name", "player__public_id__exact")
    # The review queue: oldest submission first, cases never submitted last.
    ordering = (F("submitted_at").asc(nulls_last=True), "id")
    fields = (
        "player", "state", "reviewer", "reviewer_note",
        "submitted_at", "reviewed_at", "approved_at", "expires_at", "created_at", "updated_at",
    )
    readonly_fields = fields
    inlines = (KycDocumentInline,)
    actions = ("start_review", "approve", "reject", "request_more_info")
    history_list_display = ("state", "reviewer", "reviewer_note")

    def has_review_permission(self, request) -> bool:
        return request.user.has_perm(REVIEW_PERMISSION)

    @admin.display(description="player", ordering="player__user__email")
    def player_email(self, obj: KycCase) -> str:
        return obj.player.user.email

    @admin.display(description="waiting")
    def waiting(self, obj: KycCase) -> str:
        if obj.state not in OPEN_STATES or obj.submitted_at is None:
            return "-"
        return timesince(obj.submitted_at, clock.now())

    # --- the document file view ---------------------------------------------------------------

    def get_urls(self):
        extra = [
            path(
                "<int:case_id>/documents/<int:document_id>/file/",
                self.admin_site.admin_view(self.document_file_view),
                name="kyc_kyccase_document_file",
            ),
            path("<path:object_id>/decide/<str:decision>/", self.admin_site.admin_view(self.decide_view), name="kyc_kyccase_decide"),
        ]
        return extra + super().get_urls()

    def document_file_view(self, request, case_id: int, document_id: int):
        """Stream one document to an officer allowed to see it; every opening is logged (who saw whose identity)."""
        if not request.user.has_perm(VIEW_DOCUMENTS_PERMISSION):
            raise PermissionDenied
        document = kyc_document_for_staff(document_id=document_id, case_id=case_id)
        if document is None:
            raise Http404("No such document.")
        try:
            handle = document.file.open("rb")
        except FileNotFoundError:
            raise Http404("The document file is missing from storage.") from None
        logger.info("kyc document %s (case %s) opened by user %s", document.pk, document.case_id, request.user.pk)
        extension = EXTENSION_FOR_CONTENT_TYPE.get(document.content_type, "bin")
        response = FileResponse(
            handle, content_type=document.content_type, as_attachment=False, filename=f"{document.kind}-{document.public_id}.{extension}"
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        response["Referrer-Policy"] = "no-referrer"
        # Previewed inside the case page (an <iframe> of our own origin), never framed by another site.
        response["X-Frame-Options"] = "SAMEORIGIN"
        # A document is shown, never run: no script, no plugin, no form can act from inside it.
        response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"
        return response

    # --- the case page: identity, document preview and the decisions the state allows ------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        case = self.get_object(request, unquote(object_id))
        if case is not None:
            player = case.player
            extra_context["player_url"] = reverse("admin:players_player_change", args=[player.pk])
            extra_context["identity"] = _identity_rows(player)
            if request.user.has_perm(VIEW_DOCUMENTS_PERMISSION):
                extra_context["previews"] = [
                    {
                        "document": document,
                        "url": reverse("admin:kyc_kyccase_document_file", args=[case.pk, document.pk]),
                        "is_image": document.content_type.startswith("image/"),
                        "uploaded": readable_time(document.uploaded_at),
                    }
                    for document in case.documents.order_by("-uploaded_at", "-id")
                ]
            if self.has_review_permission(request):
                extra_context["decisions"] = [
                    {"name": name, "button": DECISIONS[name].button, "url": reverse("admin:kyc_kyccase_decide", args=[case.pk, name]),
                     "note_required": DECISIONS[name].form_class is NoteForm}
                    for name in allowed_decisions(case)
                ]
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, object_id, decision: str):
        """POST only: one decision on one case. The permission is checked here and in the service; the service
        also refuses a transition the state does not allow (409 invalid_state), shown to the officer."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_review_permission(request) or decision not in DECISIONS:
            raise PermissionDenied("Your role may not take KYC decisions.")
        case = self.get_object(request, unquote(object_id))
        if case is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        choice = DECISIONS[decision]
        form = choice.form_class(request.POST)
        back = HttpResponseRedirect(reverse("admin:kyc_kyccase_change", args=[case.pk]))
        if not form.is_valid():
            errors = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in form.errors.items())
            self.message_user(request, f"Not {choice.done}: {errors}", messages.ERROR)
            return back
        try:
            choice.service(case=case, officer=request.user, **form.cleaned_data)
        except DomainError as exc:
            self.message_user(request, f"Not {choice.done}: {exc.message}", messages.ERROR)
        else:
            self.log_change(request, case, f"{choice.button}: {form.cleaned_data.get('note', '')}".strip(": "))
            self.message_user(request, f"KYC case of {case.player.user.email} {choice.done}.", messages.SUCCESS)
        return back

    # --- decisions ----------------------------------------------------------------------------

    def _decide(self, request, queryset, decision: Decision):
        cases = list(queryset.select_related("player__user").order_by("submitted_at", "id"))
        single = len(cases) == 1
        form = decision.form_class(request.POST if request.POST.get("post") == "yes" else None)
        if not single:
            for name in decision.single_case_fields:
                form.fields.pop(name, None)
        if form.is_bound and form.is_valid():
            refused = self._apply(request, cases, decision, form.cleaned_data)
            if not refused:
                return None
            # Never drop what the officer typed: the refused cases come back on the same page, with
            # the note as entered, next to the reason of each refusal.
            cases = refused
        return confirm_action_page(
            self,
            request,
            title=f"{decision.title} {len(cases)} KYC case{'s' if len(cases) != 1 else ''}",
            items=[_case_line(case) for case in cases],
            form=form,
            hidden=[*action_hidden_fields(decision.name, cases), ("post", "yes")],
            submit_label=decision.button,
        )

    def _apply(self, request, cases: list[KycCase], decision: Decision, data: dict) -> list[KycCase]:
        """Take the decision on each case; returns the cases the service refused."""
        refused: list[KycCase] = []

        def decide(case: KycCase) -> KycCase:
            try:
                return decision.service(case=case, officer=request.user, **data)
            except DomainError:
                refused.append(case)
                raise

        apply_to_each(self, request, cases, decide, verb=decision.done, label=lambda case: case.player.user.email)
        return refused

    @admin.action(permissions=["review"], description="Start reviewing the selected cases")
    def start_review(self, request, queryset):
        return self._decide(request, queryset, DECISIONS["start_review"])

    @admin.action(permissions=["review"], description="Approve the selected cases")
    def approve(self, request, queryset):
        return self._decide(request, queryset, DECISIONS["approve"])

    @admin.action(permissions=["review"], description="Reject the selected cases")
    def reject(self, request, queryset):
        return self._decide(request, queryset, DECISIONS["reject"])

    @admin.action(permissions=["review"], description="Request more information on the selected cases")
    def request_more_info(self, request, queryset):
        return self._decide(request, queryset, DECISIONS["request_more_info"])


def allowed_decisions(case: KycCase) -> list[str]:
    """What the case's state allows: a submitted case may be decided at once (the review starts implicitly)."""
    if case.state == KycState.SUBMITTED:
        return ["start_review", "approve", "reject", "request_more_info"]
    if case.state == KycState.IN_REVIEW:
        return ["approve", "reject", "request_more_info"]
    return []


def _identity_rows(player) -> list[tuple[str, object]]:
    """What the officer compares the document with: the identity the player declared."""
    user = player.user
    address = ", ".join(part for part in (player.address_street, player.address_postcode, player.address_city, player.address_country)
                        if part)
    return [
        ("Name", f"{user.first_name} {user.last_name} {player.second_surname}".strip()),
        ("Date of birth", player.date_of_birth),
        ("Nationality", player.nationality or "—"),
        ("Country of residence", player.country),
        ("Address", address or "—"),
        ("Identity document", f"{player.get_id_document_type_display() or '—'} {player.id_document_number}".strip()),
        ("Email", user.email),
        ("Phone", player.phone or "—"),
        ("Registered", readable_time(player.created_at)),
    ]


@player_panel("KYC", order=40)
def _kyc_panel(player) -> list[tuple[str, object]]:
    return [("KYC status", kyc_status(player=player))]


# --- The player list's KYC column and filter, and the KYC part of the player's timeline ---

_KYC_LABELS = dict(KycState.choices)


class KycStateFilter(admin.SimpleListFilter):
    title = "KYC"
    parameter_name = "kyc"

    def lookups(self, request, model_admin):
        return [(value, label) for value, label in KycState.choices if value != KycState.EXPIRED]

    def queryset(self, request, queryset):
        value = self.value()
        if value == KycState.NONE:
            return queryset.filter(kyc_state__isnull=True)
        if value in KycState.values:
            return queryset.filter(kyc_state=value)
        return queryset


def _kyc_state_subquery():
    from django.db.models import OuterRef, Subquery

    return Subquery(KycCase.objects.filter(player=OuterRef("pk")).values("state")[:1])


register_player_column(PlayerColumn(
    name="kyc_state", label="KYC", order=20, annotation=_kyc_state_subquery,
    display=lambda player, value: _KYC_LABELS.get(value or KycState.NONE, value),
    csv=lambda player, value: value or KycState.NONE,
    list_filter=KycStateFilter,
))


@player_timeline("kyc")
def _kyc_timeline(player, *, limit: int) -> list[TimelineEvent]:
    """Submissions and decisions on the player's KYC case, from its history (who decided, with the note)."""
    case = KycCase.objects.filter(player=player).only("pk").first()
    if case is None:
        return []
    url = reverse("admin:kyc_kyccase_change", args=[case.pk])
    rows = list(case.history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1])
    events = []
    for row, previous in zip(rows, [*rows[1:], None], strict=False):
        if row is rows[-1] and len(rows) > limit:
            break  # fetched only to compare with
        if previous is not None and previous.state == row.state:
            continue
        events.append(TimelineEvent(
            at=row.history_date, what=f"KYC: {_KYC_LABELS.get(row.state, row.state)}",
            detail=row.history_change_reason or row.reviewer_note or "", who=row.history_user.email if row.history_user else "",
            source="kyc", link=url,
        ))
    return events
