"""The KYC state machine and the officers' decisions, through the services only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from apps.core.errors import AccountBlocked, InvalidState, PermissionDenied, ValidationFailed
from apps.kyc import services
from apps.kyc.models import DocumentStatus, KycCase, KycState
from apps.kyc.selectors import kyc_is_approved, kyc_review_queue, kyc_status
from apps.players.models import Player

ALL_STATES = [s.value for s in KycState]
# Which action each state allows; everything else must be refused and leave the case as it was.
ALLOWED = {
    "submit": {"none", "more_info_required", "rejected", "expired"},
    "start_review": {"submitted"},
    # A decision on a submitted case starts the review implicitly (issue 7: the officer's note was lost).
    "approve": {"submitted", "in_review"},
    "reject": {"submitted", "in_review"},
    "request_more_info": {"submitted", "in_review"},
    "expire": {"approved"},
}


def _attempt(action, case, officer, upload):
    player = case.player
    if action == "submit":
        if case.state in ALLOWED["submit"]:
            upload(player)  # something new to submit, so only the state decides
        return services.kyc_submit(player=player)
    if action == "start_review":
        return services.kyc_start_review(case=case, officer=officer)
    if action == "approve":
        return services.kyc_approve(case=case, officer=officer, note="")
    if action == "reject":
        return services.kyc_reject(case=case, officer=officer, note="Unreadable scan.")
    if action == "request_more_info":
        return services.kyc_request_more_info(case=case, officer=officer, note="Add a utility bill.")
    if action == "expire":
        far_future = datetime(2999, 1, 1, tzinfo=UTC)
        if services.kyc_expire_due(now=far_future) == 0:
            raise InvalidState("nothing expired")
        return KycCase.objects.get(pk=case.pk)
    raise AssertionError(action)


@pytest.mark.django_db
@pytest.mark.parametrize("state", ALL_STATES)
@pytest.mark.parametrize("action", list(ALLOWED))
def test_every_transition_is_allowed_or_refused(state, action, make_player, case_in, officer, upload):
    case = case_in(make_player(), state, officer=officer)
    if state in ALLOWED[action]:
        result = _attempt(action, case, officer, upload)
        assert result.state != state
    else:
        with pytest.raises(InvalidState):
            _attempt(action, case, officer, upload)
        assert KycCase.objects.get(pk=case.pk).state == state


@pytest.mark.django_db
def test_protected_state_cannot_be_set_by_hand(player, case_in):
    case = case_in(player, "submitted")
    with pytest.raises(AttributeError):
        case.state = KycState.APPROVED


@pytest.mark.django_db
def test_no_case_reads_as_none(player):
    assert kyc_status(player=player) == "none"
    assert kyc_is_approved(player=player) is False
    assert not KycCase.objects.filter(player=player).exists()


@pytest.mark.django_db
def test_submit_without_documents_is_refused(player, upload):
    with pytest.raises(InvalidState):
        services.kyc_submit(player=player)
    upload(player)
    services.kyc_submit(player=player)
    assert kyc_status(player=player) == "submitted"


@pytest.mark.django_db
def test_resubmission_needs_a_new_document(player, case_in, upload):
    case_in(player, "more_info_required")
    with pytest.raises(InvalidState, match="nothing new"):
        services.kyc_submit(player=player)
    upload(player, kind="proof_of_address", name="bill.pdf")
    case = services.kyc_submit(player=player)
    assert case.state == "submitted"
    # The documents sent before stay pending and are reviewed again together with the new one.
    assert set(case.documents.values_list("status", flat=True)) == {DocumentStatus.PENDING}
    assert not case.documents.filter(submitted_at__isnull=True).exists()


@pytest.mark.django_db
def test_rejected_case_can_be_resubmitted_with_new_documents(player, case_in, upload, officer):
    case = case_in(player, "rejected", officer=officer)
    assert list(case.documents.values_list("status", flat=True)) == [DocumentStatus.REJECTED]
    upload(player, data=b"%PDF-1.7\nsharper scan\n%%EOF\n")
    services.kyc_submit(player=player)
    case = services.kyc_start_review(case=case, officer=officer)
    case = services.kyc_approve(case=case, officer=officer)
    assert case.state == "approved"
    statuses = sorted(case.documents.values_list("status", flat=True))
    assert statuses == [DocumentStatus.ACCEPTED, DocumentStatus.REJECTED]


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["in_review", "approved"])
def test_uploads_are_refused_while_in_review_or_approved(state, player, case_in, upload):
    case_in(player, state)
    with pytest.raises(InvalidState):
        upload(player)


@pytest.mark.django_db
def test_upload_while_waiting_in_the_queue_joins_the_submission(player, case_in, upload):
    case = case_in(player, "submitted")
    document = upload(player, kind="proof_of_address", name="bill.png")
    assert document.submitted_at is not None
    with pytest.raises(InvalidState, match="already submitted"):
        services.kyc_submit(player=player)
    assert case.documents.count() == 2


@pytest.mark.django_db
def test_closed_player_can_neither_upload_nor_submit(player, upload, staff_user):
    from apps.players.services import player_close

    upload(player)
    player = player_close(player=player, actor=staff_user(superuser=True), reason="Requested by the player")
    with pytest.raises(AccountBlocked):
        upload(player)
    with pytest.raises(AccountBlocked):
        services.kyc_submit(player=player)


@pytest.mark.django_db
@pytest.mark.parametrize("decision", ["reject", "request_more_info"])
@pytest.mark.parametrize("note", ["", "   ", None])
def test_reject_and_more_info_need_a_note(decision, note, player, case_in, officer):
    case = case_in(player, "in_review", officer=officer)
    with pytest.raises(ValidationFailed) as raised:
        getattr(services, f"kyc_{decision}")(case=case, officer=officer, note=note)
    assert "note" in raised.value.details
    assert KycCase.objects.get(pk=case.pk).state == "in_review"


@pytest.mark.django_db
def test_decisions_record_officer_and_note_in_history(player, case_in, officer):
    case = case_in(player, "in_review", officer=officer)
    services.kyc_request_more_info(case=case, officer=officer, note="Please upload a proof of address.")
    latest = KycCase.history.filter(id=case.pk).order_by("-history_id").first()
    assert latest.state == "more_info_required"
    assert latest.history_user == officer
    assert latest.history_change_reason == "More information requested: Please upload a proof of address."
    assert latest.reviewer_note == "Please upload a proof of address."
    started = KycCase.history.filter(id=case.pk, state="in_review").first()
    assert started.history_user == officer
    submitted = KycCase.history.filter(id=case.pk, state="submitted").first()
    assert submitted.history_user == player.user


@pytest.mark.django_db
def test_long_note_is_kept_whole_on_the_case_and_shortened_in_the_reason(player, case_in, officer):
    case = case_in(player, "in_review", officer=officer)
    note = "The address on the bill does not match the registered address. " * 5
    services.kyc_reject(case=case, officer=officer, note=note)
    latest = KycCase.history.filter(id=case.pk).order_by("-history_id").first()
    assert latest.reviewer_note == note.strip()
    assert len(latest.history_change_reason) == 100
    assert latest.history_change_reason.endswith("…")


@pytest.mark.django_db
def test_approve_accepts_documents_activates_player_and_sets_expiry(player, upload, officer):
    with time_machine.travel(datetime(2030, 1, 15, 10, 0, tzinfo=UTC), tick=False):
        upload(player, kind="passport", expires_on=datetime(2034, 6, 30).date())
        upload(player, kind="driving_licence", expires_on=datetime(2031, 3, 10).date())
        upload(player, kind="proof_of_address", name="bill.pdf")
        services.kyc_submit(player=player)
        case = services.kyc_start_review(case=KycCase.objects.get(player=player), officer=officer)
        case = services.kyc_approve(case=case, officer=officer, note="All good.", id_document_number="X1234567")
    assert case.state == "approved"
    assert case.reviewer == officer
    assert case.approved_at == datetime(2030, 1, 15, 10, 0, tzinfo=UTC)
    # The earliest identity document expiry ends the approval, from the first moment of that day (UTC).
    assert case.expires_at == datetime(2031, 3, 10, 0, 0, tzinfo=UTC)
    assert set(case.documents.values_list("status", flat=True)) == {DocumentStatus.ACCEPTED}
    player = Player.objects.get(pk=player.pk)
    assert player.activated_at == datetime(2030, 1, 15, 10, 0, tzinfo=UTC)
    # The regulator's document type comes from the newest identity document the officer checked.
    assert (player.id_document_type, player.id_document_number) == ("DL", "X1234567")
    assert kyc_is_approved(player=player)


@pytest.mark.django_db
def test_activation_time_is_the_first_approval(player, case_in, upload, officer):
    with time_machine.travel(datetime(2030, 1, 1, tzinfo=UTC), tick=False):
        case_in(player, "approved", officer=officer, expires_on=datetime(2030, 6, 1).date())
    with time_machine.travel(datetime(2030, 7, 1, tzinfo=UTC), tick=False):
        services.kyc_expire_due()
        upload(player, expires_on=datetime(2040, 1, 1).date())
        services.kyc_submit(player=player)
        case = services.kyc_start_review(case=KycCase.objects.get(player=player), officer=officer)
        case = services.kyc_approve(case=case, officer=officer)
    player = Player.objects.get(pk=player.pk)
    assert player.activated_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert case.approved_at == datetime(2030, 7, 1, tzinfo=UTC)
    # The old, lapsed passport no longer decides the expiry; the new one does.
    assert case.expires_at == datetime(2040, 1, 1, tzinfo=UTC)


@pytest.mark.django_db
def test_identity_document_without_expiry_gives_open_ended_approval(player, case_in):
    case = case_in(player, "approved", expires_on=None)
    assert case.expires_at is None
    assert services.kyc_expire_due(now=datetime(2999, 1, 1, tzinfo=UTC)) == 0


@pytest.mark.django_db
def test_approval_needs_a_valid_identity_document(player, upload, officer):
    upload(player, kind="proof_of_address", name="bill.pdf")
    services.kyc_submit(player=player)
    case = services.kyc_start_review(case=KycCase.objects.get(player=player), officer=officer)
    with pytest.raises(InvalidState, match="identity document"):
        services.kyc_approve(case=case, officer=officer)
    assert KycCase.objects.get(pk=case.pk).state == "in_review"


@pytest.mark.django_db
def test_approval_refused_when_the_identity_document_lapsed_during_review(player, upload, officer):
    with time_machine.travel(datetime(2030, 1, 1, tzinfo=UTC), tick=False):
        upload(player, expires_on=datetime(2030, 1, 20).date())
        services.kyc_submit(player=player)
        case = services.kyc_start_review(case=KycCase.objects.get(player=player), officer=officer)
    with time_machine.travel(datetime(2030, 1, 20, 9, 0, tzinfo=UTC), tick=False), pytest.raises(InvalidState):
        services.kyc_approve(case=case, officer=officer)


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["support", "operator"])
def test_only_compliance_takes_decisions(who, player, case_in, staff_user):
    case = case_in(player, "submitted")
    with pytest.raises(PermissionDenied):
        services.kyc_start_review(case=case, officer=staff_user(who))
    assert KycCase.objects.get(pk=case.pk).state == "submitted"


@pytest.mark.django_db
def test_support_cannot_approve_or_reject(player, case_in, support_user):
    case = case_in(player, "in_review")
    for decide in (
        lambda: services.kyc_approve(case=case, officer=support_user),
        lambda: services.kyc_reject(case=case, officer=support_user, note="no"),
        lambda: services.kyc_request_more_info(case=case, officer=support_user, note="more"),
    ):
        with pytest.raises(PermissionDenied):
            decide()
    assert KycCase.objects.get(pk=case.pk).state == "in_review"


@pytest.mark.django_db
def test_nobody_decides_on_their_own_case(player, case_in, staff_user):
    from django.contrib.auth.models import Group

    own = player.user
    own.is_staff = True
    own.save()
    own.groups.add(Group.objects.get(name="compliance"))
    case = case_in(player, "submitted")
    with pytest.raises(PermissionDenied, match="own"):
        services.kyc_start_review(case=case, officer=type(own).objects.get(pk=own.pk))


@pytest.mark.django_db
def test_superuser_may_decide(player, case_in, staff_user):
    case = case_in(player, "submitted")
    assert services.kyc_start_review(case=case, officer=staff_user(superuser=True)).state == "in_review"


@pytest.mark.django_db
def test_review_queue_is_open_cases_oldest_first(make_player, case_in):
    players = [make_player() for _ in range(4)]
    with time_machine.travel(datetime(2030, 1, 3, tzinfo=UTC), tick=False):
        case_in(players[0], "submitted")
    with time_machine.travel(datetime(2030, 1, 1, tzinfo=UTC), tick=False):
        case_in(players[1], "in_review")
    with time_machine.travel(datetime(2030, 1, 2, tzinfo=UTC), tick=False):
        case_in(players[2], "submitted")
    case_in(players[3], "approved")
    queue = [c.player_id for c in kyc_review_queue()]
    assert queue == [players[1].pk, players[2].pk, players[0].pk]


@pytest.mark.django_db
def test_expire_due_is_idempotent_and_leaves_others_alone(make_player, case_in):
    lapsing, lasting = make_player(), make_player()
    with time_machine.travel(datetime(2030, 1, 1, tzinfo=UTC), tick=False):
        a = case_in(lapsing, "approved", expires_on=datetime(2030, 2, 1).date())
        b = case_in(lasting, "approved", expires_on=datetime(2035, 2, 1).date())
    moment = datetime(2030, 2, 1, 2, 0, tzinfo=UTC)
    assert services.kyc_expire_due(now=moment) == 1
    assert services.kyc_expire_due(now=moment) == 0
    assert KycCase.objects.get(pk=a.pk).state == "expired"
    assert KycCase.objects.get(pk=b.pk).state == "approved"
    expired_row = KycCase.history.filter(id=a.pk, state="expired").get()
    assert expired_row.history_user is None
    assert expired_row.history_change_reason == "Identity document expired (2030-02-01)"


@pytest.mark.django_db
def test_expired_case_renews_with_a_new_identity_document(player, case_in, upload, officer):
    case_in(player, "expired", officer=officer)
    with pytest.raises(InvalidState):
        services.kyc_submit(player=player)
    upload(player, kind="id_card", name="id.png", expires_on=(datetime.now(UTC) + timedelta(days=900)).date())
    assert services.kyc_submit(player=player).state == "submitted"
