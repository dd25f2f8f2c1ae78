"""seed_demo: staff per role, a dozen players with payments, KYC, play and protections, and nothing doubled on a second run."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.backoffice.management.commands import seed_demo
from apps.core.errors import SelfExcluded
from apps.core.money import Money
from apps.kyc import selectors as kyc_selectors
from apps.kyc import services as kyc_services
from apps.kyc.models import KycCase, KycDocument, KycState
from apps.ledger.checks import verify_ledger
from apps.ledger.models import LedgerTransaction
from apps.ledger.selectors import wallet_balances
from apps.limits import selectors as limits_selectors
from apps.limits.models import Exclusion, Limit
from apps.payments import selectors as payments_selectors
from apps.payments import services as payments_services
from apps.payments.models import Deposit, DepositStatus, Withdrawal, WithdrawalStatus
from apps.players.models import Player, PlayerStatus, User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_media(private_media):
    """The demo's KYC uploads go to a throw-away directory, never the developer's private media."""
    return private_media


def run() -> str:
    out = StringIO()
    call_command("seed_demo", allow_production=True, stdout=out)
    return out.getvalue()


def demo_player(local: str) -> Player:
    return Player.objects.select_related("user").get(user__email=seed_demo.player_email(local))


def snapshot() -> dict:
    return {
        "users": User.objects.count(),
        "staff": User.objects.filter(is_staff=True).count(),
        "players": Player.objects.count(),
        "deposits": Counter(Deposit.objects.values_list("status", flat=True)),
        "withdrawals": Counter(Withdrawal.objects.values_list("status", flat=True)),
        "kyc_cases": Counter(KycCase.objects.values_list("state", flat=True)),
        "kyc_documents": KycDocument.objects.count(),
        "ledger_transactions": LedgerTransaction.objects.count(),
        "limits": Limit.objects.count(),
        "exclusions": Exclusion.objects.count(),
        "player_statuses": Counter(Player.objects.values_list("status", flat=True)),
    }


def test_seed_twice_gives_the_same_data(monkeypatch, private_media):
    monkeypatch.delenv("DEMO_OPERATOR_PASSWORD", raising=False)
    first = run()
    after_first = snapshot()
    assert (after_first["staff"], after_first["players"]) == (3, 15)
    assert after_first["deposits"] == {DepositStatus.COMPLETED: 14}  # chloe (ukgc, unverified) cannot deposit
    assert after_first["withdrawals"] == {WithdrawalStatus.REQUESTED: 2, WithdrawalStatus.APPROVED: 1, WithdrawalStatus.PAID: 1}
    assert after_first["kyc_cases"] == {KycState.APPROVED: 5, KycState.SUBMITTED: 2, KycState.MORE_INFO_REQUIRED: 1}
    rounds = [seed_demo.rounds_for(i) for i, p in enumerate(seed_demo.PLAYERS) if p[-1] is not None]
    bets = sum(len(r) for r in rounds)
    wins = sum(1 for r in rounds for _stake, win in r if Decimal(win) > 0)
    # 14 deposits, every stake and win, 4 holds and the one payout.
    assert after_first["ledger_transactions"] == 14 + bets + wins + 4 + 1
    assert "15 new, 14 deposits made" in first
    assert "Markets:   dgoj: 2, intl: 11, ukgc: 2 players" in first

    second = run()
    assert snapshot() == after_first
    assert "0 new, 0 deposits made" in second
    assert "nothing changed" in second and "0 ledger transactions this run" in second
    assert verify_ledger().ok
    # One stored file per document, all in the private directory the settings point at.
    assert len([p for p in private_media.rglob("*") if p.is_file()]) == after_first["kyc_documents"] == 8


def test_seed_fills_the_review_and_withdrawal_queues():
    run()
    queued = {case.player.user.email for case in kyc_selectors.kyc_review_queue()}
    assert queued == {seed_demo.player_email("javier.garcia"), seed_demo.player_email("maja.andersson")}
    waiting = {(w.player.user.email, w.status) for w in payments_selectors.withdrawal_queue()}
    assert waiting == {
        (seed_demo.player_email("anna.schmidt"), WithdrawalStatus.REQUESTED),
        (seed_demo.player_email("aoife.murphy"), WithdrawalStatus.REQUESTED),
        (seed_demo.player_email("erik.lindqvist"), WithdrawalStatus.APPROVED),
    }
    assert kyc_selectors.kyc_case_for_player(player=demo_player("mikko.virtanen")).reviewer_note == seed_demo.MORE_INFO_NOTE
    compliance = User.objects.get(email=seed_demo.COMPLIANCE_EMAIL)
    approved = KycCase.objects.filter(state=KycState.APPROVED)
    assert approved.count() == 5 and all(case.reviewer_id == compliance.pk and case.expires_at for case in approved)
    paid = Withdrawal.objects.get(status=WithdrawalStatus.PAID)
    assert paid.player == demo_player("sofia.rossi") and paid.paid_by.email == seed_demo.OPERATOR_EMAIL


def test_seed_balances_follow_deposits_play_and_withdrawals():
    run()
    run()
    withdrawn = {local: (Decimal(amount), status) for local, amount, status in seed_demo.WITHDRAWALS}
    for index, (local, *_rest, currency, _born, amount) in enumerate(seed_demo.PLAYERS):
        player = demo_player(local)
        assert player.currency == currency
        rounds = seed_demo.rounds_for(index) if amount is not None else ()
        cash = Decimal(amount or "0.00") - sum(Decimal(s) for s, _ in rounds) + sum(Decimal(w) for _, w in rounds)
        hold = Decimal("0.00")
        if local in withdrawn:
            out, status = withdrawn[local]
            cash -= out
            hold = out if status != WithdrawalStatus.PAID else hold
        balances = wallet_balances(player=player)
        assert (balances.cash.amount, balances.held.amount) == (cash, hold), local
    assert {p.currency for p in Player.objects.all()} >= {"EUR", "SEK", "GBP"}
    assert {p.market for p in Player.objects.all()} == {"ukgc", "dgoj", "intl"}


def test_seed_sets_up_responsible_gaming():
    run()
    run()
    local, period, amount = seed_demo.DEPOSIT_LIMIT
    limits = limits_selectors.player_limits(player=demo_player(local))
    assert [(v.kind, v.period, str(v.amount.amount)) for v in limits] == [("deposit", period, amount)]

    timed_out = demo_player(seed_demo.TIMEOUT[0])
    assert limits_selectors.protection_overview(player=timed_out).timeout_until is not None
    excluded = demo_player(seed_demo.SELF_EXCLUSION[0])
    assert excluded.status == PlayerStatus.SELF_EXCLUDED
    assert limits_selectors.protection_overview(player=excluded).self_excluded_until is not None
    assert Exclusion.objects.count() == 2
    # The exclusions came after the money steps, and they really bite.
    for player in (timed_out, excluded):
        with pytest.raises(SelfExcluded):
            payments_services.deposit_create(
                player=player, amount=Money(Decimal("10.00"), player.currency), method="sandbox", idempotency_key="after-seed"
            )


def test_seed_leaves_what_demo_users_changed_alone():
    """An officer or operator working the demo queues must not make the next `make run` fail or undo their work."""
    run()
    compliance = User.objects.get(email=seed_demo.COMPLIANCE_EMAIL)
    operator = User.objects.get(email=seed_demo.OPERATOR_EMAIL)
    case = kyc_selectors.kyc_case_for_player(player=demo_player("javier.garcia"))
    case = kyc_services.kyc_start_review(case=case, officer=compliance)
    kyc_services.kyc_reject(case=case, officer=compliance, note="Blurred.")
    requested = Withdrawal.objects.get(player=demo_player("anna.schmidt"))
    payments_services.withdrawal_reject(withdrawal=requested, actor=operator, reason="Demo rejection.")
    before = snapshot()

    output = run()
    assert snapshot() == before
    assert kyc_selectors.kyc_status(player=demo_player("javier.garcia")) == KycState.REJECTED
    assert Withdrawal.objects.get(pk=requested.pk).status == WithdrawalStatus.REJECTED
    assert "nothing changed" in output
    assert verify_ledger().ok


def test_seed_prints_where_and_how_to_log_in(monkeypatch):
    monkeypatch.setenv("DEMO_OPERATOR_PASSWORD", "Env-chosen-pass-77")
    output = run()
    assert "http://127.0.0.1:8000/admin/" in output
    assert "operator@casino.test" in output and "Env-chosen-pass-77" in output
    assert "compliance@casino.test" in output and "support@casino.test" in output
    assert f"/api/v1/auth/token  email: {seed_demo.player_email(seed_demo.API_DEMO_PLAYER)}" in output
    assert seed_demo.DEFAULT_PLAYER_PASSWORD in output
    assert "2 in the compliance review queue" in output and "3 in the operator queue" in output
    assert "Games:" in output  # "none yet" until the games issue adds its seed
    assert User.objects.get(email="operator@casino.test").check_password("Env-chosen-pass-77")
    assert demo_player(seed_demo.API_DEMO_PLAYER).user.check_password(seed_demo.DEFAULT_PLAYER_PASSWORD)


def test_seed_staff_have_their_roles():
    run()
    operator = User.objects.get(email="operator@casino.test")
    compliance = User.objects.get(email="compliance@casino.test")
    support = User.objects.get(email="support@casino.test")
    assert operator.is_superuser and operator.is_staff
    assert compliance.is_staff and not compliance.is_superuser and compliance.has_perm("players.change_player_status")
    assert compliance.has_perm("kyc.review_kyccase")
    assert support.is_staff and support.has_perm("players.view_player") and not support.has_perm("players.change_player_status")
    assert not Player.objects.filter(user__in=[operator, compliance, support]).exists()


def test_seed_restores_a_changed_demo_password():
    run()
    operator = User.objects.get(email="operator@casino.test")
    operator.set_password("Someone-changed-it-1")
    operator.save()
    run()
    assert User.objects.get(email="operator@casino.test").check_password(seed_demo.DEFAULT_STAFF_PASSWORD)


def test_seed_refuses_with_debug_off_unless_told(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()
