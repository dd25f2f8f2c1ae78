"""Signals other apps listen to. Sent only after the exclusion has committed (never for a rolled-back one)."""

from django.dispatch import Signal

# Sent with player_id, kind ("timeout" | "self_exclusion"), until (datetime | None) and permanent (bool)
# once a time-out or self-exclusion starts or is extended.
# HOOK for the games issue: "open game sessions close" on exclusion. The games app connects a receiver
# in its AppConfig.ready(), e.g.
#     exclusion_started.connect(close_open_sessions_on_exclusion)
# and closes every open GameSession of player_id through its own service. Until it does, no stake can be
# placed anyway: games.stake_place calls protection_check, which refuses an excluded player.
exclusion_started = Signal()
