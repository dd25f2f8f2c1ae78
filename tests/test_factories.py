"""The factories build what the services build: a registered player, a completed deposit with its ledger posting."""

from decimal import Decimal

import pytest

from apps.ledger.checks import verify_ledger
from apps.ledger.selectors import wallet_balances
from apps.payments.models import DepositStatus
from apps.players.models import PlayerStatus
from tests.factories import DepositFactory, PlayerFactory

pytestmark = pytest.mark.django_db


def test_player_factory_registers_through_the_service():
    player = PlayerFactory(country="ES", currency="EUR")
    assert player.status == PlayerStatus.ACTIVE and player.country == "ES"
    assert player.history.count() == 1  # the service records the creation with its reason
    assert player.user.check_password("A-strong-passphrase-42")


def test_deposit_factory_posts_to_the_ledger():
    deposit = DepositFactory(amount="25.50")
    assert deposit.status == DepositStatus.COMPLETED
    assert wallet_balances(player=deposit.player).cash.amount == Decimal("25.50")
    assert verify_ledger().ok
