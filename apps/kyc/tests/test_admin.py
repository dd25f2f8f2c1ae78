"""The compliance review desk: queue, filters, decisions through notes, and who may open a document."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.admin import helpers
from django.urls import reverse

from apps.kyc.models import KycCase

from .samples import PNG_BYTES

CHANGELIST = "admin:kyc_kyccase_changelist"


def file_url(document) -> str:
    return reverse("admin:kyc_kyccase_document_file", args=[document.case_id, document.pk])


def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def document(player, upload):
    return upload(player, data=PNG_BYTES, name="passport.pdf", content_type="application/pdf")


@pytest.mark.django_db
def test_compliance_opens_the_file_inline_with_the_sniffed_type(client, officer, document):
    response = logged_in(client, officer).get(file_url(document))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG_BYTES
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert f'filename="passport-{document.public_id}.png"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["support", "operator"])
def test_support_and_operators_may_not_open_files(role, client, staff_user, document):
    response = logged_in(client, staff_user(role)).get(file_url(document))
    assert response.status_code == 403


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client, document):
    response = client.get(file_url(document))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.django_db
def test_file_view_checks_the_document_belongs_to_the_case(client, officer, make_player, upload, document):
    other = upload(make_player())
    wrong = reverse("admin:kyc_kyccase_document_file", args=[other.case_id, document.pk])
    assert logged_in(client, officer).get(wrong).status_code == 404


@pytest.mark.django_db
def test_case_page_shows_documents_to_compliance_only(client, officer, support_user, document):
    url = reverse("admin:kyc_kyccase_change", args=[document.case_id])
    compliance_page = logged_in(client, officer).get(url)
    assert compliance_page.status_code == 200
    assert document.sha256.encode() in compliance_page.content
    assert file_url(document).encode() in compliance_page.content
    client.logout()
    support_page = logged_in(client, support_user).get(url)
    assert support_page.status_code == 200
    assert b"Submitted" in support_page.content or b"Not submitted" in support_page.content
    assert document.sha256.encode() not in support_page.content
    assert file_url(document).encode() not in support_page.content


@pytest.mark.django_db
def test_nobody_edits_adds_or_deletes_cases_by_hand(client, officer, document):
    logged_in(client, officer)
    assert client.get(reverse("admin:kyc_kyccase_add")).status_code == 403
    assert client.get(reverse("admin:kyc_kyccase_delete", args=[document.case_id])).status_code == 403
    page = client.get(reverse("admin:kyc_kyccase_change", args=[document.case_id]))
    assert b'name="_save"' not in page.content


@pytest.mark.django_db
def test_queue_is_oldest_submission_first_and_filters_by_waiting_time(client, officer, make_player, case_in):
    players = [make_player() for _ in range(3)]
    with time_machine.travel(datetime(2030, 1, 9, 12, tzinfo=UTC), tick=False):
        case_in(players[0], "submitted")
    with time_machine.travel(datetime(2030, 1, 5, tzinfo=UTC), tick=False):
        case_in(players[1], "in_review")
    with time_machine.travel(datetime(2030, 1, 8, tzinfo=UTC), tick=False):
        case_in(players[2], "submitted")
    with time_machine.travel(datetime(2030, 1, 10, tzinfo=UTC), tick=False):
        logged_in(client, officer)  # inside the travel, so the session has not expired
        listed = client.get(reverse(CHANGELIST)).context["cl"].result_list
        assert [c.player_id for c in listed] == [players[1].pk, players[2].pk, players[0].pk]
        for bucket, expected in (("lt1", [players[0]]), ("1to3", [players[2]]), ("gt3", [players[1]])):
            listed = client.get(reverse(CHANGELIST), {"waiting": bucket}).context["cl"].result_list
            assert [c.player_id for c in listed] == [p.pk for p in expected], bucket
        listed = client.get(reverse(CHANGELIST), {"state__exact": "in_review"}).context["cl"].result_list
        assert [c.player_id for c in listed] == [players[1].pk]
        found = client.get(reverse(CHANGELIST), {"q": players[2].user.email}).context["cl"].result_list
        assert [c.player_id for c in found] == [players[2].pk]
        found = client.get(reverse(CHANGELIST), {"q": str(players[0].public_id)}).context["cl"].result_list
        assert [c.player_id for c in found] == [players[0].pk]


def action_post(client, action, cases, **form):
    """Post from the "All" view of the queue, as an officer who selected decided cases too would."""
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: [c.pk for c in cases], **form}
    return client.post(reverse(CHANGELIST) + "?queue=all", data)


@pytest.mark.django_db
def test_reject_asks_for_a_note_then_calls_the_service(client, officer, player, case_in):
    case = case_in(player, "in_review", officer=officer)
    logged_in(client, officer)
    first = action_post(client, "reject", [case], index=0)
    assert first.status_code == 200
    assert first.templates[0].name == "admin/confirm_action.html"
    assert b'name="note"' in first.content
    blank = action_post(client, "reject", [case], post="yes", note="  ")
    assert blank.status_code == 200  # form shown again with the error
    assert KycCase.objects.get(pk=case.pk).state == "in_review"
    done = action_post(client, "reject", [case], post="yes", note="The document is cut off.")
    assert done.status_code == 302
    case = KycCase.objects.get(pk=case.pk)
    assert case.state == "rejected"
    assert case.reviewer_note == "The document is cut off."
    latest = case.history.order_by("-history_id").first()
    assert latest.history_user == officer
    assert latest.history_change_reason == "Rejected: The document is cut off."


@pytest.mark.django_db
def test_start_review_then_approve_through_the_admin(client, officer, player, case_in):
    case = case_in(player, "submitted", officer=officer)
    logged_in(client, officer)
    assert action_post(client, "start_review", [case], post="yes", note="").status_code == 302
    assert KycCase.objects.get(pk=case.pk).state == "in_review"
    page = action_post(client, "approve", [case], index=0)
    assert b'name="id_document_number"' in page.content  # one case: the officer may record the number
    assert action_post(client, "approve", [case], post="yes", note="", id_document_number="P998877").status_code == 302
    case = KycCase.objects.get(pk=case.pk)
    assert case.state == "approved"
    assert case.player.id_document_number == "P998877"
    assert case.player.activated_at is not None


@pytest.mark.django_db
def test_batch_action_reports_refusals_per_case(client, officer, make_player, case_in):
    waiting, approved = case_in(make_player(), "submitted"), case_in(make_player(), "approved")
    logged_in(client, officer)
    page = action_post(client, "approve", [waiting, approved], index=0)
    assert b'name="id_document_number"' not in page.content  # never one number for several players
    response = action_post(client, "request_more_info", [waiting, approved], post="yes", note="Need a bill.")
    shown = [str(m) for m in response.wsgi_request._messages]
    assert not any(m.startswith("Not ") and waiting.player.user.email in m for m in shown)
    assert any(m.startswith("Not ") and approved.player.user.email in m for m in shown)
    assert KycCase.objects.get(pk=approved.pk).state == "approved"
    # The submitted case was reviewed and decided in one go; the refused one comes back with the note kept.
    assert KycCase.objects.get(pk=waiting.pk).state == "more_info_required"
    assert response.status_code == 200 and "Need a bill." in response.content.decode()
    page = response.content.decode()
    assert f'name="_selected_action" value="{approved.pk}"' in page
    assert f'name="_selected_action" value="{waiting.pk}"' not in page


@pytest.mark.django_db
def test_a_decision_on_a_submitted_case_starts_the_review_and_keeps_the_note(client, officer, player, case_in):
    case = case_in(player, "submitted")
    logged_in(client, officer)
    response = action_post(client, "request_more_info", [case], post="yes", note="Please add a bank statement.")
    assert response.status_code == 302
    case = KycCase.objects.get(pk=case.pk)
    assert (case.state, case.reviewer_note, case.reviewer) == ("more_info_required", "Please add a bank statement.", officer)
    reasons = [h.history_change_reason for h in case.history.order_by("history_id")]
    assert reasons[-2:] == ["Review started with the decision", "More information requested: Please add a bank statement."]


@pytest.mark.django_db
def test_request_more_info_through_the_admin(client, officer, player, case_in):
    case = case_in(player, "in_review", officer=officer)
    logged_in(client, officer)
    action_post(client, "request_more_info", [case], post="yes", note="Please add a bank statement.")
    case = KycCase.objects.get(pk=case.pk)
    assert (case.state, case.reviewer_note, case.reviewer) == ("more_info_required", "Please add a bank statement.", officer)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["support", "operator"])
def test_support_and_operators_see_the_queue_but_have_no_decisions(role, client, staff_user, player, case_in):
    case = case_in(player, "in_review")
    logged_in(client, staff_user(role))
    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    assert [c.pk for c in page.context["cl"].result_list] == [case.pk]
    # No decision is offered, so Django shows no action bar at all.
    assert page.context["action_form"] is None
    assert b"Approve the selected cases" not in page.content
    action_post(client, "approve", [case], post="yes", note="")
    assert KycCase.objects.get(pk=case.pk).state == "in_review"


@pytest.mark.django_db
def test_history_page_lists_the_decisions(client, officer, player, case_in):
    case = case_in(player, "rejected", officer=officer)
    page = logged_in(client, officer).get(reverse("admin:kyc_kyccase_history", args=[case.pk]))
    assert page.status_code == 200
    assert b"Rejected: The photo is blurred." in page.content


@pytest.mark.django_db
def test_queue_opens_on_cases_waiting_for_a_decision(client, officer, make_player, case_in):
    waiting, approved = case_in(make_player(), "submitted"), case_in(make_player(), "approved")
    logged_in(client, officer)
    default = client.get(reverse(CHANGELIST)).content.decode()
    assert waiting.player.user.email in default and approved.player.user.email not in default
    everything = client.get(reverse(CHANGELIST) + "?queue=all").content.decode()
    assert approved.player.user.email in everything
    by_state = client.get(reverse(CHANGELIST) + "?state__exact=approved").content.decode()
    assert approved.player.user.email in by_state and waiting.player.user.email not in by_state
