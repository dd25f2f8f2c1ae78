"""The market's identity rules on money going in or at risk: verification before play, due diligence.

Every deposit (apps.payments) and every stake (apps.games: rounds and provider bets) calls
`market_money_check` in its own transaction, after protection_check. Both rules come from the
player's market (apps.markets.selectors.policy_for), never from the player's country.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from apps.core import clock
from apps.core.errors import KycRequired
from apps.core.money import Money
from apps.kyc import selectors as kyc_selectors
from apps.ledger import selectors as ledger_selectors
from apps.markets import selectors as markets_selectors

# Money movements that count towards the due-diligence threshold (EU AMLD 2015/849 art. 11(d): stakes
# and winnings, single or linked; the issue adds deposits, which is what a casino sees first). One
# definition for the ORM path here and the stake check's SQL (lock.py).
from .lock import DUE_DILIGENCE_KINDS

logger = logging.getLogger(__name__)


def due_diligence_volume(*, player, extra: Money | None = None, pending: Callable[[], Money] | None = None) -> Money:
    """Deposits + stakes + winnings in the market's window (or the account's life), in the wallet currency.

    `pending` adds money committed but not yet in the ledger (deposits awaiting their PSP), so parallel
    pending deposits cannot slip past the threshold.
    """
    since = due_diligence_since(player=player, policy=markets_selectors.policy_for(player))
    flows = ledger_selectors.player_cash_flows(player=player, since=since, kinds=list(DUE_DILIGENCE_KINDS))
    minor = sum(abs(total) for total in flows.values())
    if pending is not None:
        minor += pending().minor
    if extra is not None:
        minor += extra.minor
    return Money.from_minor(minor, player.currency)


def due_diligence_since(*, player, policy) -> datetime:
    """The start of the due-diligence window: the market's window back from now, or the account's life."""
    window = policy.due_diligence_window
    return clock.now() - window if window is not None else player.created_at


def market_identity_rules(*, player, policy, kyc_approved: bool, volume_minor: int | None, amount: Money) -> None:
    """market_money_check's rules on facts the caller already read (the stake check reads them with its lock).

    `volume_minor`: deposits + stakes + winnings in the window, without `amount`; read only when not approved.
    """
    if kyc_approved:
        return
    if policy.verification_before_play:
        raise KycRequired("Your identity must be verified before you deposit or play.", details={"market": policy.code})
    if volume_minor is None:  # pragma: no cover - the callers read it whenever KYC is not approved
        raise RuntimeError("The due-diligence volume was not read.")
    _refuse_past_threshold(player=player, policy=policy, volume=Money.from_minor(volume_minor + amount.minor, player.currency))


def _refuse_past_threshold(*, player, policy, volume: Money) -> None:
    try:
        crossed = markets_selectors.to_eur(volume) > policy.due_diligence_threshold_eur
    except markets_selectors.MissingExchangeRate:
        logger.error("no EUR rate for %s: due diligence asked of player %s", player.currency, player.pk)
        crossed = True
    if crossed:
        raise KycRequired(
            f"Deposits, stakes and winnings above {policy.due_diligence_threshold_eur} EUR in total need approved identity verification.",
            details={"threshold": str(policy.due_diligence_threshold_eur), "currency": "EUR"},
        )


def market_money_check(*, player, amount: Money, pending: Callable[[], Money] | None = None) -> None:
    """Refuse money in (a deposit) or at risk (a stake) that the player's market does not allow before KYC.

    - Verification before play (UKGC LCCP licence condition 17.1): no deposit or stake before KYC is approved.
    - Customer due diligence (EU AMLD art. 11(d), UK MLR 2017 reg. 27(5)): past the market's EUR threshold
      of deposits + stakes + winnings, nothing more without approved KYC. The volume is converted at today's
      rate (markets.ExchangeRate); with no rate on record the threshold cannot be shown uncrossed, so KYC is asked.
    An approved player passes at once, with one query.
    """
    if kyc_selectors.kyc_is_approved(player=player):
        return
    policy = markets_selectors.policy_for(player)
    if policy.verification_before_play:
        raise KycRequired("Your identity must be verified before you deposit or play.", details={"market": policy.code})
    _refuse_past_threshold(player=player, policy=policy, volume=due_diligence_volume(player=player, extra=amount, pending=pending))
