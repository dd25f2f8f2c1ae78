"""The issue's browser journeys: each role works its queue in a real browser, against the live server.

Data is made through the real services (registration, ledger, KYC, payments, AML) and the staff come from
the real role sync, so the pages show states production can reach. Every decision is asserted twice: on
the page the operator sees after the click, and in the database, where only the service could have put it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.xdist_group("browser")]

PHONE = "+49 170 555 0123"


def _passport_pdf(player) -> tuple[bytes, object]:
    """The demo's hand-built one-page specimen passport: a real PDF Chromium shows inline."""
    from apps.backoffice.demo_documents import specimen_passport_pdf
    from apps.core import clock

    expires = clock.now().date() + timedelta(days=4 * 365)
    pdf = specimen_passport_pdf(
        surname=player.user.last_name, given_names=player.user.first_name, nationality=player.country,
        born=player.date_of_birth, number=f"SPEC{player.pk:06d}", expires=expires,
    )
    return pdf, expires


def _submitted_case(player):
    """Upload a passport and submit, as the player would through the API: the case waits for compliance."""
    from apps.kyc import services as kyc

    pdf, expires = _passport_pdf(player)
    document = kyc.kyc_document_upload(
        player=player, kind="passport", expires_on=expires,
        uploaded_file=SimpleUploadedFile("passport.pdf", pdf, content_type="application/pdf"),
    )
    return kyc.kyc_submit(player=player), document


@pytest.fixture
def shipped_aml_rules(db):
    """The AML rules as migration 0002 ships them: a transactional test's flush empties data-migration rows too."""
    from importlib import import_module

    from apps.aml.models import AmlRule

    for rule in import_module("apps.aml.migrations.0002_default_rules_and_schedules").RULES:
        AmlRule.objects.get_or_create(kind=rule["kind"], defaults=rule)


@pytest.fixture
def kyc_approved_player(make_player, staff_user, private_media):
    """A player with a phone number whose identity compliance has approved through the KYC services."""
    from apps.kyc import services as kyc

    def make(**overrides):
        player = make_player(**overrides)
        case, _document = _submitted_case(player)
        officer = staff_user("compliance")
        case = kyc.kyc_start_review(case=case, officer=officer)
        kyc.kyc_approve(case=case, officer=officer, note="Passport checked.")
        return player

    return make


@pytest.fixture
def pending_withdrawal(kyc_approved_player, fund):
    """A withdrawal of 40.00 awaiting an operator, from a KYC-approved player with 100.00 and a phone number."""
    from apps.core.money import Money
    from apps.payments.services import withdrawal_request

    player = kyc_approved_player(phone=PHONE, first_name="Greta", last_name="Phonefinder")
    fund(player, "100.00")
    withdrawal = withdrawal_request(player=player, amount=Money(Decimal("40.00"), player.currency), idempotency_key="browser-wd-1")
    assert withdrawal.status == "requested"
    return withdrawal


def test_operator_finds_a_player_by_phone_and_approves_a_withdrawal_from_the_360(login_as, live_server, pending_withdrawal, make_player):
    from apps.payments.models import Withdrawal

    make_player(first_name="Other", last_name="Player", phone="+49 170 555 9999")  # must not match the search
    player = pending_withdrawal.player
    page, operator = login_as("operator")

    # The list's search takes the phone as written elsewhere: digits only, without the country prefix.
    page.goto(f"{live_server.url}/admin/players/player/")
    page.fill("#searchbar", "170 5550123")
    with page.expect_navigation():
        page.press("#searchbar", "Enter")
    result_links = page.locator("#result_list a[href*='/admin/players/player/']")
    assert result_links.filter(has_text=player.user.email).count() == 1
    assert "Other" not in page.locator("#result_list").inner_text()

    with page.expect_navigation():
        result_links.filter(has_text=player.user.email).first.click()
    assert re.search(rf"/admin/players/player/{player.pk}/change/", page.url)

    with page.expect_navigation():
        page.click("#tab-payments")
    tab = page.locator("#player-tab-payments")
    assert "40.00" in tab.inner_text()
    with page.expect_navigation():
        page.click(f"#withdrawal-{pending_withdrawal.pk}-approve")

    # Back on the same tab, which now shows the decision with who made it.
    assert "tab=payments" in page.url
    assert f"Withdrawal #{pending_withdrawal.pk} approved." in page.content()
    row = page.locator("#player-tab-payments tr", has_text=f"#{pending_withdrawal.pk}")
    assert "Approved" in row.inner_text()
    assert operator.email in row.inner_text()
    assert page.locator(f"#withdrawal-{pending_withdrawal.pk}-approve").count() == 0  # nothing left to decide

    withdrawal = Withdrawal.objects.get(pk=pending_withdrawal.pk)
    assert withdrawal.status == "approved"
    assert withdrawal.reviewed_by_id == operator.pk
    assert withdrawal.reviewed_at is not None
    assert withdrawal.history.filter(status="approved", history_user_id=operator.pk).exists()  # the service's history row


def test_compliance_views_the_document_approves_the_case_and_escalates_an_aml_alert(login_as, live_server, make_player, fund,
                                                                                     private_media, shipped_aml_rules):
    from apps.aml.models import AmlAlert
    from apps.aml.services import evaluate_transaction

    applicant = make_player(first_name="Karla", last_name="Casewaiting")
    case, document = _submitted_case(applicant)
    launderer = make_player()
    big = fund(launderer, "15000.00")  # one large deposit: the real-time rules raise an alert on it
    evaluate_transaction(transaction_id=big.pk)
    alert = AmlAlert.objects.get(player=launderer)
    assert alert.status == "open"

    page, officer = login_as("compliance")

    # The KYC queue opens on the cases waiting; the case page previews the document inline.
    page.goto(f"{live_server.url}/admin/kyc/kyccase/")
    preview_url = f"/admin/kyc/kyccase/{case.pk}/documents/{document.pk}/file/"
    with page.expect_response(lambda r: preview_url in r.url) as preview, page.expect_navigation():
        page.locator("#result_list a", has_text=applicant.user.email).first.click()
    assert page.locator(f"#kyc-document-{document.pk}-preview").count() == 1
    response = preview.value
    assert response.status == 200
    assert response.headers["content-type"].split(";")[0] in {"application/pdf", "image/png"}
    # Chromium hands the frame's PDF to its viewer, so the bytes are read again with the officer's session.
    assert page.request.get(response.url).body()[:5] == b"%PDF-"

    page.fill("#kyc-approve-note", "Passport matches the declared identity.")
    # Chromium's PDF viewer, still starting in the frame above, can swallow a mouse click on the page
    # (seen in headless runs); the keyboard is as real an action and lands deterministically.
    page.focus("#kyc-approve")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    case.refresh_from_db()
    assert case.state == "approved"
    assert case.reviewer_id == officer.pk
    assert "approved" in page.content().lower()
    assert page.locator("#kyc-approve").count() == 0  # an approved case offers no approval again

    # The AML alert, from the queue: take it into investigation, then escalate with the SAR's reference.
    page.goto(f"{live_server.url}/admin/aml/amlalert/")
    with page.expect_navigation():
        page.locator(f"#result_list a[href*='/admin/aml/amlalert/{alert.pk}/change/']").first.click()
    assert page.locator("#aml-escalate").count() == 0  # an open alert is investigated before it is escalated
    page.fill("#aml-investigate-note", "Large first deposit; asking for the source of funds.")
    with page.expect_navigation():
        page.click("#aml-investigate")
    alert.refresh_from_db()
    assert alert.status == "investigating"
    page.fill("#aml-escalate-note", "Source of funds unexplained; reported to the FIU.")
    page.fill("#aml-escalate-sar-reference", "SAR-2026-0042")
    page.fill("#aml-escalate-sar-filed-on", "2026-12-01")
    with page.expect_navigation():
        page.click("#aml-escalate")
    alert.refresh_from_db()
    assert alert.status == "escalated"
    assert alert.sar_reference == "SAR-2026-0042"
    assert alert.history.filter(status="escalated", history_user_id=officer.pk).exists()
    assert "SAR-2026-0042" in page.content()
    assert page.locator("#aml-escalate").count() == 0


def test_support_sees_no_money_actions_and_is_refused_them_by_url(login_as, live_server, pending_withdrawal):
    from apps.payments.models import Withdrawal

    player = pending_withdrawal.player
    page, _support = login_as("support")

    # The 360: the payments tab lists the withdrawal but offers no decision; no cash adjustment anywhere.
    page.goto(f"{live_server.url}/admin/players/player/{player.pk}/change/?tab=payments")
    assert "40.00" in page.locator("#player-tab-payments").inner_text()
    assert page.locator(f"#withdrawal-{pending_withdrawal.pk}-approve").count() == 0
    assert page.locator(f"#withdrawal-{pending_withdrawal.pk}-reject").count() == 0
    page.goto(f"{live_server.url}/admin/players/player/{player.pk}/change/")
    assert page.locator("#player-adjust-cash").count() == 0
    assert page.get_by_role("button", name=re.compile("Approve|Reject|Adjust")).count() == 0

    # The withdrawal page: the player's context, but no decision form.
    page.goto(f"{live_server.url}/admin/payments/withdrawal/{pending_withdrawal.pk}/change/")
    assert page.locator("#withdrawal-player-context").count() == 1
    for selector in ("#decision", "#withdrawal-approve", "#withdrawal-reject", "#withdrawal-reject-reason"):
        assert page.locator(selector).count() == 0, selector
    assert page.get_by_role("button", name=re.compile("Approve|Reject")).count() == 0

    # By URL: a forged approval POST (with the session's own CSRF token) is a 403 inside the admin layout.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    refused = page.request.post(
        f"{live_server.url}/admin/payments/withdrawal/{pending_withdrawal.pk}/decide/approve/",
        form={"csrfmiddlewaretoken": token, "reason": "forged"},
        headers={"Referer": f"{live_server.url}/admin/", "X-CSRFToken": token},
        max_redirects=0,
    )
    assert refused.status == 403
    assert "Casino back-office" in refused.text()
    assert Withdrawal.objects.get(pk=pending_withdrawal.pk).status == "requested"

    # And the cash adjustment page, opened by URL, is a 403 page with a way back.
    from apps.ledger.models import Account

    cash = Account.objects.get(player=player, kind="player_cash", currency=player.currency)
    response = page.goto(f"{live_server.url}/admin/ledger/account/{cash.pk}/adjust/")
    assert response.status == 403
    assert "Casino back-office" in page.title()
    assert page.locator("a[href='/admin/']").count() >= 1
