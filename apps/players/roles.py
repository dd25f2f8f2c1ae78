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
        "players.view_tag",
        "players.add_tag",
        "players.change_tag",
        "players.view_playertag",
        "players.add_playertag",
        "players.delete_playertag",
        "players.view_playernote",
        "players.add_playernote",
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "axes.view_accessfailurelog",
        "axes.view_accesslog",
    ],
    "compliance": [
        "players.view_player",
        "players.view_excludedidentity",
        "players.change_player_status",
        "players.view_tag",
        "players.view_playertag",
        "players.add_playertag",
        "players.delete_playertag",
        "players.view_playernote",
        "players.add_playernote",
        "axes.view_accessattempt",
        "axes.view_accessfailurelog",
        "axes.view_accesslog",
    ],
    "support": [
        # Support answers players: they read tags and leave notes of what was said, never tag or change status.
        "players.view_player",
        "players.view_tag",
        "players.view_playertag",
        "players.view_playernote",
        "players.add_playernote",
        "axes.view_accessattempt",
    ],
}
