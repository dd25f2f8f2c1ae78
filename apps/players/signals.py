"""Signals the players app sends; higher apps connect to them in their AppConfig.ready() (ARCHITECTURE.md, "Layers")."""

from django.dispatch import Signal

# Sent with `player` inside the login's transaction, when a player obtains a new token pair:
# a new play session starts (limits resets the reality-check clock).
player_logged_in = Signal()
