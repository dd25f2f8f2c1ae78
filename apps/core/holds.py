"""Holds on a player's withdrawals that a higher app owns and payments enforces.

Payments (layer 5) refuses a withdrawal request, and the approval of a pending one, while any app
says the player's money is under review, but it may not import the app that decides (aml, layer 6;
ARCHITECTURE.md, "Layers"). So that app registers a provider in its AppConfig.ready(), and payments
asks this registry. A provider answers a short reason, or None when it holds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import AccountUnderReview

_providers: dict[str, Callable[[Any], str | None]] = {}


def register_hold_provider(name: str, provider: Callable[[Any], str | None]) -> None:
    """Registering a name again replaces it (autoreload, tests)."""
    _providers[name] = provider


def unregister_hold_provider(name: str) -> None:
    _providers.pop(name, None)


def withdrawal_hold_reasons(player: Any) -> list[str]:
    return [reason for provider in _providers.values() if (reason := provider(player))]


def assert_withdrawals_not_held(player: Any) -> None:
    """Raise 403 account_under_review while any registered provider holds the player's withdrawals."""
    # The reasons stay out of the answer: telling a player that a suspicious activity report is being
    # considered is "tipping off", an offence under EU AMLD art. 39. Staff see them in the admin.
    if withdrawal_hold_reasons(player):
        raise AccountUnderReview()
