"""The withdrawal-hold registry: payments asks it, higher apps answer it."""

import pytest

from apps.core import holds
from apps.core.errors import AccountUnderReview


@pytest.fixture
def provider(monkeypatch):
    monkeypatch.setattr(holds, "_providers", {})  # only this test's provider, not the apps' own
    held: dict[int, str] = {}
    holds.register_hold_provider("test", lambda player: held.get(player))
    return held


def test_no_reason_no_hold(provider):
    holds.assert_withdrawals_not_held(1)
    assert holds.withdrawal_hold_reasons(1) == []


def test_a_reason_holds_and_is_not_told_to_the_player(provider):
    provider[1] = "AML alert #7 under review"
    assert holds.withdrawal_hold_reasons(1) == ["AML alert #7 under review"]
    with pytest.raises(AccountUnderReview) as raised:
        holds.assert_withdrawals_not_held(1)
    assert raised.value.details == {} and "AML" not in raised.value.message
    holds.assert_withdrawals_not_held(2)
