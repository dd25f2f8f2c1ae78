"""Games place stakes: the responsible-gaming check, then the ledger posting, in one transaction."""

from __future__ import annotations

from django.db import transaction

from apps.core.errors import DomainError
from apps.core.money import Money
from apps.ledger import selectors as ledger_selectors
from apps.ledger import services as ledger_services
from apps.ledger.models import LedgerTransaction
from apps.limits.services import protection_check


@transaction.atomic
def stake_place(*, player, amount: Money, idempotency_key: str, reference: str, metadata: dict | None = None) -> LedgerTransaction:
    """A stake, after the protection check (ARCHITECTURE.md: games orchestrate, the ledger only moves money).

    The check runs first, inside this transaction, and holds the player's protection lock until commit, so
    concurrent stakes cannot jointly exceed a limit; it takes its lock before the ledger's account locks, in
    the same order deposits do, so the two never deadlock.
    """
    try:
        protection_check(player=player, action="stake", amount=amount)
    except DomainError:
        # A replay of a stake already taken must answer as before, even if a limit is now reached or the
        # player is now excluded. Asking only after a refusal keeps the lookup off the hot path; a refusal
        # is raised before any database error, so the transaction is still usable.
        if not ledger_selectors.transaction_exists(idempotency_key=idempotency_key):
            raise
    # No savepoint: any refusal of the posting ends this whole transaction, protection lock included.
    return ledger_services.bet_post(
        player=player, amount=amount, idempotency_key=idempotency_key, reference=reference, metadata=metadata, savepoint=False
    )
