"""Responsible gaming. protection_check is the one gate every deposit and stake passes through."""

from __future__ import annotations

from apps.core.money import Money
from apps.players.selectors import player_assert_can_play


def protection_check(*, player, action: str, amount: Money) -> None:
    """Refuse a deposit or stake the player's status, exclusions or limits do not allow.

    Called inside the money service's transaction, before anything is posted.
    (Stub: the limits issue adds limits, time-outs and the per-player lock.)
    """
    player_assert_can_play(player)
