"""The gate every stake (in-house round, provider bet) and every game start (session, launch) passes.

One lock, one round trip for the common player: `lock_for_stake` locks the player's protection row and
reads, after the lock, the status, the currency, the KYC approval and (only when it matters) the
due-diligence volume. On those facts, in this order:

1. status, time-out, self-exclusion (403 self_excluded / account_blocked), as protection_check;
2. the market's identity rules (403 kyc_required): verification before play (UKGC LCCP licence condition
   17.1), or approved KYC once deposits + stakes + winnings pass the due-diligence threshold (EU AMLD
   2015/849 art. 11(d), UK MLR 2017 reg. 27(5));
3. a reality check that is due and not acknowledged (409 invalid_state; UKGC RTS 13): no new stake until
   the player acknowledges it (POST /api/v1/responsible-gaming/reality-check/acknowledge);
4. slots only, the market's stake cap by age (422 stake_out_of_range; UK: the Gambling Act 2005 (Online
   Games Stake Limits) regulations 2025, 5 GBP per spin, 2 GBP aged 18-24) and minimum time between spins
   (429 rate_limited with Retry-After; UKGC RTS 14, 2.5 s);
5. the player's wager and loss limits (422 limit_exceeded), as protection_check.

Every rule value comes from `policy_for(player)` (cached per process), so the default market's stake
costs no more round trips than before. The spin time is written only in markets that set an interval.
"""

from __future__ import annotations

import math

from django.db import transaction

from apps.core import clock
from apps.core.errors import InvalidState, RateLimited, StakeOutOfRange
from apps.core.money import Money
from apps.limits.models import PlayerProtection
from apps.limits.selectors import reality_check_state
from apps.markets import selectors as markets_selectors

from .lock import iso, lock_for_stake
from .market_gate import due_diligence_since, market_identity_rules
from .protection import ACTION_LIMIT_KINDS, _check_limits, _status_and_exclusions

REALITY_CHECK_ACKNOWLEDGE_PATH = "/api/v1/responsible-gaming/reality-check/acknowledge"


def _in_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("The stake check must run inside the transaction that posts the stake.")


def stake_check(*, player, amount: Money, slot: bool = False, cycle: str = "") -> None:
    """Refuse a stake that the player's status, exclusions, market, reality check or limits do not allow.

    `slot`: the stake is a spin of a slot game (the market's slot rules apply). `cycle` names the game
    cycle (round) the stake belongs to: a second stake of the same cycle (a provider's side bet) is not a
    new spin for the minimum interval. Call inside the stake's transaction, before the posting: the lock
    is held until it commits, so concurrent spins of one player see each other's time.
    """
    _in_transaction()
    policy = markets_selectors.policy_for(player)
    needs_volume = not policy.verification_before_play
    facts = lock_for_stake(player, volume_since=due_diligence_since(player=player, policy=policy) if needs_volume else None)
    now = clock.now()
    protection = facts.protection
    _status_and_exclusions(player, protection, facts.status, facts.currency, amount, now)
    market_identity_rules(player=player, policy=policy, kyc_approved=facts.kyc_approved, volume_minor=facts.due_diligence_minor,
                          amount=amount)
    reality = reality_check_state(protection, now)
    if reality.due:
        raise InvalidState(
            "A reality check is due: acknowledge it to play on.",
            details={
                "reason": "reality_check_due",
                "session_started_at": iso(protection.session_started_at),
                "elapsed_seconds": int((now - protection.session_started_at).total_seconds()),
                "acknowledge": REALITY_CHECK_ACKNOWLEDGE_PATH,
            },
        )
    interval = policy.slot_min_spin_interval if slot else None
    cap = markets_selectors.slot_stake_cap_for(player, now) if slot else None
    same_cycle = slot and _same_cycle(protection, cycle)
    staked_in_cycle = protection.last_slot_cycle_staked_minor if same_cycle else 0
    if slot:
        if cap is not None and staked_in_cycle + amount.minor > cap.minor:
            # SI 2025/215: the cap is on the total staked in one game cycle, so a provider's further bets of a round add up.
            raise StakeOutOfRange(
                f"Your market allows at most {cap} {cap.currency} per slot game cycle.",
                details={"max_stake": str(Money.from_minor(max(cap.minor - staked_in_cycle, 0), cap.currency)),
                         "reason": "market_slot_stake_cap", "market": policy.code},
            )
        if interval is not None and same_cycle:
            interval = None  # another stake of the spin already timed
        if interval is not None and protection.last_slot_spin_at is not None:
            wait = protection.last_slot_spin_at + interval - now
            if wait.total_seconds() > 0:
                raise RateLimited(
                    f"Slot spins must be at least {interval.total_seconds():.1f} seconds apart in your market.",
                    retry_after=math.ceil(wait.total_seconds()),
                    details={"reason": "slot_min_spin_interval", "market": policy.code},
                )
    if protection.has_limits:
        _check_limits(player=player, kinds=ACTION_LIMIT_KINDS["stake"], amount=amount, now=now, pending=None)
    if slot and (interval is not None or cap is not None or same_cycle):
        # Only in markets with slot rules (one UPDATE under the lock already held); rolled back with a refused posting.
        spin = {} if same_cycle else {"last_slot_spin_at": now, "last_slot_spin_cycle": cycle[:200]}
        PlayerProtection.objects.filter(pk=protection.pk).update(last_slot_cycle_staked_minor=staked_in_cycle + amount.minor, **spin)


def _same_cycle(protection: PlayerProtection, cycle: str) -> bool:
    return bool(cycle) and protection.last_slot_spin_cycle == cycle[:200]


def play_check(*, player, currency: str) -> None:
    """Before a game session opens or a provider game launches: refused like a stake (status, exclusions,
    the market's identity rules). A reality check does not block a start: it blocks the next stake."""
    _in_transaction()
    policy = markets_selectors.policy_for(player)
    needs_volume = not policy.verification_before_play
    facts = lock_for_stake(player, volume_since=due_diligence_since(player=player, policy=policy) if needs_volume else None)
    zero = Money.zero(currency)
    _status_and_exclusions(player, facts.protection, facts.status, facts.currency, zero, clock.now())
    market_identity_rules(player=player, policy=policy, kyc_approved=facts.kyc_approved, volume_minor=facts.due_diligence_minor,
                          amount=zero)
