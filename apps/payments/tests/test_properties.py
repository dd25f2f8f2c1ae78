"""Random sequences of wallet operations against a tiny model of what cash and hold should be.

After every step: the wallet equals the model, nothing is negative, every open withdrawal is
exactly what is held, and the ledger's own invariants hold (verify_ledger).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from apps.core.errors import InsufficientFunds, InvalidState
from apps.core.money import Money
from apps.ledger import services as ledger_services
from apps.ledger.checks import verify_ledger
from apps.ledger.selectors import wallet_balances
from apps.payments import services
from apps.payments.models import Deposit, DepositStatus, Withdrawal, WithdrawalStatus

_keys = itertools.count(1)
amounts = st.integers(min_value=1, max_value=20_000)  # minor units: 0.01 to 200.00 EUR
OPEN = (WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED)


def eur(minor: int) -> Money:
    return Money.from_minor(minor, "EUR")


def key(prefix: str) -> str:
    return f"{prefix}-{next(_keys)}"


class WalletMachine(RuleBasedStateMachine):
    make_player = None  # set by the test: the root conftest's factory
    operator = None

    def __init__(self) -> None:
        super().__init__()
        self.player = type(self).make_player()
        self.cash = 0
        self.withdrawals: dict[int, tuple[int, str]] = {}  # id -> (amount, status)

    def _with_status(self, *states: str) -> list[int]:
        return sorted(pk for pk, (_, status) in self.withdrawals.items() if status in states)

    def _set(self, pk: int, status: str) -> None:
        self.withdrawals[pk] = (self.withdrawals[pk][0], status)

    @rule(amount=amounts)
    def deposit(self, amount: int) -> None:
        deposit = services.deposit_create(player=self.player, amount=eur(amount), method="sandbox", idempotency_key=key("d"))
        assert deposit.status == DepositStatus.COMPLETED
        self.cash += amount

    @rule(amount=amounts, completes=st.booleans(), delivered_twice=st.booleans())
    def deposit_via_webhook(self, amount: int, completes: bool, delivered_twice: bool) -> None:
        deposit = services.deposit_create(player=self.player, amount=eur(amount), method="sandbox_async", idempotency_key=key("a"))
        assert self._cash_now() == self.cash  # nothing until the PSP says so
        status = DepositStatus.COMPLETED if completes else DepositStatus.FAILED
        for _ in range(2 if delivered_twice else 1):
            services.deposit_apply_psp_notification(status=status, psp_reference=deposit.psp_reference)
        assert Deposit.objects.get(pk=deposit.pk).status == status
        if completes:
            self.cash += amount

    @rule(amount=amounts)
    def bet(self, amount: int) -> None:
        try:
            ledger_services.bet_post(player=self.player, amount=eur(amount), idempotency_key=key("b"), reference="round")
        except InsufficientFunds:
            assert amount > self.cash
        else:
            assert amount <= self.cash
            self.cash -= amount

    @rule(amount=amounts)
    def win(self, amount: int) -> None:
        ledger_services.win_post(player=self.player, amount=eur(amount), idempotency_key=key("w"), reference="round")
        self.cash += amount

    @rule(amount=amounts, replay=st.booleans())
    def request_withdrawal(self, amount: int, replay: bool) -> None:
        idem = key("r")
        try:
            withdrawal = services.withdrawal_request(player=self.player, amount=eur(amount), idempotency_key=idem)
        except InsufficientFunds:
            assert amount > self.cash
            return
        assert amount <= self.cash
        self.cash -= amount
        self.withdrawals[withdrawal.pk] = (amount, WithdrawalStatus.REQUESTED)
        if replay:
            again = services.withdrawal_request(player=self.player, amount=eur(amount), idempotency_key=idem)
            assert again.pk == withdrawal.pk

    @precondition(lambda self: self._with_status(WithdrawalStatus.REQUESTED))
    @rule(data=st.data())
    def cancel(self, data) -> None:
        pk = data.draw(st.sampled_from(self._with_status(WithdrawalStatus.REQUESTED)))
        services.withdrawal_cancel(player=self.player, withdrawal_id=pk)
        self.cash += self.withdrawals[pk][0]
        self._set(pk, WithdrawalStatus.CANCELLED)

    @precondition(lambda self: self._with_status(*OPEN))
    @rule(data=st.data())
    def reject(self, data) -> None:
        pk = data.draw(st.sampled_from(self._with_status(*OPEN)))
        services.withdrawal_reject(withdrawal=Withdrawal.objects.get(pk=pk), actor=self.operator, reason="property test")
        self.cash += self.withdrawals[pk][0]
        self._set(pk, WithdrawalStatus.REJECTED)

    @precondition(lambda self: self._with_status(WithdrawalStatus.REQUESTED))
    @rule(data=st.data(), pay=st.booleans())
    def approve(self, data, pay: bool) -> None:
        pk = data.draw(st.sampled_from(self._with_status(WithdrawalStatus.REQUESTED)))
        withdrawal = services.withdrawal_approve(withdrawal=Withdrawal.objects.get(pk=pk), actor=self.operator)
        self._set(pk, WithdrawalStatus.APPROVED)
        if pay:
            services.withdrawal_mark_paid(withdrawal=withdrawal, actor=self.operator, psp_reference="p")
            self._set(pk, WithdrawalStatus.PAID)

    @precondition(lambda self: self.withdrawals)
    @rule(data=st.data())
    def player_cancels_anything(self, data) -> None:
        """Cancelling is allowed only while requested; otherwise 409 and nothing moves."""
        pk = data.draw(st.sampled_from(sorted(self.withdrawals)))
        amount, status = self.withdrawals[pk]
        try:
            services.withdrawal_cancel(player=self.player, withdrawal_id=pk)
        except InvalidState:
            assert status != WithdrawalStatus.REQUESTED
        else:
            assert status == WithdrawalStatus.REQUESTED
            self.cash += amount
            self._set(pk, WithdrawalStatus.CANCELLED)

    def _cash_now(self) -> int:
        return wallet_balances(player=self.player).cash.minor

    @invariant()
    def wallet_matches_the_model(self) -> None:
        balances = wallet_balances(player=self.player)
        held = sum(amount for amount, status in self.withdrawals.values() if status in OPEN)
        assert balances.cash.minor == self.cash >= 0
        assert balances.held.minor == held >= 0
        stored = dict(Withdrawal.objects.filter(player=self.player).values_list("pk", "status"))
        assert stored == {pk: status for pk, (_, status) in self.withdrawals.items()}

    @invariant()
    def ledger_is_sound(self) -> None:
        report = verify_ledger()
        assert report.ok, report.breaches


@pytest.mark.slow
@pytest.mark.django_db
def test_wallet_operations_keep_the_books_straight(make_player, staff_user, kyc_approved):
    WalletMachine.make_player = staticmethod(make_player)
    WalletMachine.operator = staff_user(superuser=True)
    run_state_machine_as_test(
        WalletMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )
