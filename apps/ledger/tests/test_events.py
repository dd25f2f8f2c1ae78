"""Other systems hear about a posting only once it is committed, and never about a rolled-back one."""

from decimal import Decimal

import pytest
from django.db import transaction

from apps.core.errors import InsufficientFunds
from apps.core.money import Money
from apps.ledger import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    received: list[int] = []

    def receiver(sender, transaction_id, **kwargs):
        received.append(transaction_id)

    services.transaction_posted.connect(receiver, weak=False)
    yield received
    services.transaction_posted.disconnect(receiver)


def test_posting_is_announced_after_commit_only(player, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        txn = services.deposit_post(player=player, amount=Money(Decimal("5.00"), "EUR"), idempotency_key="e1", reference="d")
        assert heard == []  # still inside the transaction: nobody may act on it yet
    assert len(callbacks) == 1
    callbacks[0]()
    assert heard == [txn.pk]


def test_refused_or_rolled_back_postings_are_never_announced(player, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(InsufficientFunds):
            services.bet_post(player=player, amount=Money(Decimal("1.00"), "EUR"), idempotency_key="b1", reference="r")
        with pytest.raises(RuntimeError), transaction.atomic():
            services.deposit_post(player=player, amount=Money(Decimal("5.00"), "EUR"), idempotency_key="e2", reference="d")
            raise RuntimeError("caller fails after posting")
    assert heard == []


def test_a_replay_is_not_announced_twice(player, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.deposit_post(player=player, amount=Money(Decimal("5.00"), "EUR"), idempotency_key="e3", reference="d")
        services.deposit_post(player=player, amount=Money(Decimal("5.00"), "EUR"), idempotency_key="e3", reference="d")
    assert heard == [first.pk]
