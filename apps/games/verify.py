"""Recompute a closed session's rounds from its revealed seed: what a player's own verifier does.

Importable (`verify_session(session_id)`) and behind `manage.py verify_rounds SESSION_ID`. Each round is
replayed from (server seed, client seed, nonce) with its stored choices, stake and RTP, and must give
the same outcome and payout; the server seed must hash to the commitment shown before the first bet,
and nonces must run 0, 1, 2, … without a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import fairness
from .engines import engine_for
from .models import GameSession, SessionStatus


@dataclass
class Verification:
    session_id: int
    rounds: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def verify_session(session_id: int) -> Verification:
    session = GameSession.objects.select_related("game").filter(pk=session_id).first()
    result = Verification(session_id=session_id)
    if session is None:
        result.mismatches.append("No such session.")
        return result
    if session.status != SessionStatus.CLOSED:
        result.mismatches.append("The session is still open: its server seed is not revealed yet.")
        return result
    if fairness.seed_hash(session.server_seed) != session.server_seed_hash:
        result.mismatches.append("The revealed server seed does not hash to the committed server_seed_hash.")
    engine = engine_for(session.game.kind)
    for expected_nonce, round_ in enumerate(session.rounds.order_by("nonce")):
        result.rounds += 1
        if round_.nonce != expected_nonce:
            result.mismatches.append(f"Round #{round_.pk}: nonce {round_.nonce}, expected {expected_nonce}.")
        units = fairness.round_units(session.server_seed, session.client_seed, round_.nonce, engine.floats)
        play = engine.play(units=units, stake_minor=round_.stake_minor, rtp=round_.rtp, choices=round_.choices)
        if play.outcome != round_.outcome:
            result.mismatches.append(f"Round #{round_.pk} (nonce {round_.nonce}): outcome {round_.outcome} != recomputed {play.outcome}.")
        if play.payout_minor != round_.payout_minor:
            result.mismatches.append(
                f"Round #{round_.pk} (nonce {round_.nonce}): payout {round_.payout_minor} != recomputed {play.payout_minor} (minor units)."
            )
        if round_.rtp != session.rtp:
            result.mismatches.append(f"Round #{round_.pk}: played at RTP {round_.rtp}, the session fixed {session.rtp}.")
    return result
