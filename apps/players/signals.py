"""Signals the players app sends; higher apps connect to them in their AppConfig.ready() (ARCHITECTURE.md, "Layers")."""

from django.dispatch import Signal

# Sent with `player` inside the login's transaction, when a player obtains a new token pair:
# a new play session starts (limits resets the reality-check clock).
player_logged_in = Signal()

# Sent with `player` and `deposit_limits` ({"day"|"week"|"month": Money}, what the player chose at
# registration, possibly empty) inside the registration's transaction: the limits app creates the
# market's mandatory deposit limits and the chosen ones (DGOJ). A receiver that raises registers nobody.
player_registered = Signal()
