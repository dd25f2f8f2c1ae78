"""What the staff roles may do with players (collected by apps.core.role_sync)."""

# Least privilege: support reads, never changes a player's status; operators also edit profile data.
# django-axes records failed logins and lock-outs: operators may unlock (delete the attempt), the others only look.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    "operator": [
        "players.view_player",
        "players.view_excludedidentity",
        "players.change_player",
        "players.change_player_status",
        "players.change_player_market",
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "axes.view_accessfailurelog",
        "axes.view_accesslog",
    ],
    "compliance": [
        "players.view_player",
        "players.view_excludedidentity",
        "players.change_player_status",
        "axes.view_accessattempt",
        "axes.view_accessfailurelog",
        "axes.view_accesslog",
    ],
    "support": [
        "players.view_player",
        "axes.view_accessattempt",
    ],
}
