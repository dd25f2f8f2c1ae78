"""A player's whole life through the public API, with the compliance officer and operator in between.

Each step goes through the same entry points production uses (HTTP for the player, services
for the staff actions the admin calls), and the ledger must prove itself at the end.
"""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.core.money import Money
from apps.games.services import stake_place
from apps.kyc.models import KycCase
from apps.kyc.services import kyc_approve, kyc_start_review
from apps.ledger.checks import verify_ledger
from apps.ledger.services import win_post
from apps.payments.models import Withdrawal
from apps.payments.services import withdrawal_approve, withdrawal_mark_paid
from apps.players.models import Player, User

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def test_register_play_verify_withdraw_and_the_books_balance():
    anon = APIClient()
    registered = anon.post(
        "/api/v1/auth/register",
        {
            "email": "Journey@Example.com",
            "password": "Correct-horse-battery-9",
            "first_name": "Jo",
            "last_name": "Urney",
            "date_of_birth": "1991-05-17",
            "country": "DE",
            "currency": "EUR",
        },
        format="json",
    )
    assert registered.status_code == 201, registered.content
    tokens = anon.post("/api/v1/auth/token", {"email": "journey@example.com", "password": "Correct-horse-battery-9"}, format="json")
    assert tokens.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access']}")
    player = Player.objects.get(user__email="journey@example.com")

    # A deposit limit, then a deposit within it and one beyond it.
    assert client.put("/api/v1/responsible-gaming/limits/deposit/day", {"amount": "150.00"}, format="json").status_code == 200
    assert client.post("/api/v1/wallet/deposits", {"amount": "100.00", "method": "sandbox"}, format="json",
                       HTTP_IDEMPOTENCY_KEY="dep-1").status_code == 201
    refused = client.post("/api/v1/wallet/deposits", {"amount": "60.00", "method": "sandbox"}, format="json",
                          HTTP_IDEMPOTENCY_KEY="dep-2")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "limit_exceeded"

    # Play: a stake and a win, as the games issue will post them.
    stake_place(player=player, amount=Money(Decimal("20.00"), "EUR"), idempotency_key="round-1:bet", reference="round:1")
    win_post(player=player, amount=Money(Decimal("35.00"), "EUR"), idempotency_key="round-1:win", reference="round:1")
    assert client.get("/api/v1/wallet").json()["cash"] == "115.00"

    # No withdrawal before KYC; upload, submit, and a compliance officer approves.
    early = client.post("/api/v1/wallet/withdrawals", {"amount": "50.00"}, format="json", HTTP_IDEMPOTENCY_KEY="wd-0")
    assert early.status_code == 403 and early.json()["error"]["code"] == "kyc_required"
    upload = client.post(
        "/api/v1/kyc/documents",
        {"kind": "passport", "file": SimpleUploadedFile("passport.pdf", PDF, "application/pdf"), "expires_on": "2035-01-01"},
        format="multipart",
    )
    assert upload.status_code == 201, upload.content
    assert client.post("/api/v1/kyc/submit").json()["status"] == "submitted"
    officer = User.objects.create_user(email="officer@casino.test", password="Officer-pass-42", is_staff=True)
    officer.groups.add(Group.objects.get(name="compliance"))
    case = KycCase.objects.get(player=player)
    kyc_approve(case=kyc_start_review(case=case, officer=officer), officer=officer, note="Passport checked")
    assert client.get("/api/v1/me").json()["kyc_status"] == "approved"

    # Withdraw: cash moves to held, an operator approves and pays.
    wd = client.post("/api/v1/wallet/withdrawals", {"amount": "50.00"}, format="json", HTTP_IDEMPOTENCY_KEY="wd-1")
    assert wd.status_code == 201 and wd.json()["status"] == "requested"
    assert client.get("/api/v1/wallet").json() == {
        "currency": "EUR", "cash": "65.00", "bonus": "0.00", "held": "50.00", "withdrawable": "65.00",
    }
    operator = User.objects.create_user(email="ops@casino.test", password="Operator-pass-42", is_staff=True)
    operator.groups.add(Group.objects.get(name="operator"))
    withdrawal = Withdrawal.objects.get(pk=wd.json()["id"])
    withdrawal_mark_paid(withdrawal=withdrawal_approve(withdrawal=withdrawal, actor=operator), actor=operator,
                         psp_reference="payout-1")
    assert client.get("/api/v1/wallet").json()["held"] == "0.00"

    # Self-exclusion: no more deposits, but the statement and balance stay visible.
    assert client.post("/api/v1/responsible-gaming/self-exclusion", {"months": 6}, format="json").status_code == 200
    blocked = client.post("/api/v1/wallet/deposits", {"amount": "10.00", "method": "sandbox"}, format="json",
                          HTTP_IDEMPOTENCY_KEY="dep-3")
    assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "self_excluded"
    kinds = [row["kind"] for row in client.get("/api/v1/wallet/transactions").json()["results"]]
    assert kinds == ["withdrawal", "win", "bet", "deposit"]
    assert client.get("/api/v1/me").json()["status"] == "self_excluded"

    report = verify_ledger()
    assert report.ok, report.breaches
