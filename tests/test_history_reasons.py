"""A long reason typed by staff or sent by the PSP is kept in full on the row; the history's 100-character
change reason gets a shortened copy instead of failing the whole change with a database error."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.core.money import Money

pytestmark = pytest.mark.django_db

LONG = "The player called support and explained at length why this must happen; " * 4  # ~300 characters


def _eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


@pytest.fixture
def kyc_approved(monkeypatch):
    from apps.kyc import selectors as kyc_selectors

    monkeypatch.setattr(kyc_selectors, "kyc_is_approved", lambda *, player: True)


def test_withdrawal_reject_with_a_long_reason(make_player, fund, staff_user, kyc_approved):
    from apps.payments.services import withdrawal_reject, withdrawal_request

    player = make_player()
    fund(player, "20.00")
    withdrawal = withdrawal_request(player=player, amount=_eur("5.00"), idempotency_key="long-reason-wd")
    rejected = withdrawal_reject(withdrawal=withdrawal, actor=staff_user(superuser=True), reason=LONG)

    assert rejected.rejection_reason == LONG.strip()
    latest = rejected.history.latest()
    assert latest.history_change_reason and len(latest.history_change_reason) <= 100


def test_psp_failure_with_a_long_reason(make_player):
    from apps.payments.services import deposit_apply_psp_notification, deposit_create

    player = make_player()
    deposit = deposit_create(player=player, amount=_eur("5.00"), method="sandbox_async", idempotency_key="long-reason-dep")
    failed = deposit_apply_psp_notification(status="failed", deposit_id=deposit.pk, failure_reason=LONG[:255])

    assert failed.failure_reason == LONG[:255]
    assert len(failed.history.latest().history_change_reason) <= 100


def test_operator_tightens_a_limit_with_a_long_reason(make_player, staff_user):
    from apps.limits.services import limit_set, limit_tighten_by_operator

    player = make_player()
    limit_set(player=player, kind="deposit", period="day", amount=_eur("100.00"))
    limit = limit_tighten_by_operator(
        player=player, kind="deposit", period="day", amount=_eur("50.00"), actor=staff_user(superuser=True), reason=LONG
    )

    assert limit.amount_minor == 5000
    assert len(limit.history.latest().history_change_reason) <= 100
