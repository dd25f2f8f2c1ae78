"""What other apps may ask about a player's KYC. (Stub until the KYC app lands.)"""

from __future__ import annotations


def kyc_status(*, player) -> str:
    return "none"


def kyc_is_approved(*, player) -> bool:
    return kyc_status(player=player) == "approved"
