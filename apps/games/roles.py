"""Who may do what with games (synced into the groups by the players app after migrate).

Operators steer the catalog: they change RTP, stake limits and providers (each change with a reason,
kept in the history). Compliance reads everything, including the RTP monitor's statistics; support
sees the catalog and players' sessions to answer questions. Nobody edits a round or a provider
transaction: those are records of money that moved.
"""

_VIEW = [
    "games.view_game",
    "games.view_historicalgame",
    "games.view_gamesession",
    "games.view_historicalgamesession",
    "games.view_round",
]

ROLE_PERMISSIONS = {
    "operator": [
        *_VIEW,
        "games.change_game",
        "games.change_game_rtp",
        "games.view_provider",
        "games.change_provider",
        "games.view_historicalprovider",
        "games.view_providertransaction",
        "games.view_gamedaystats",
    ],
    "compliance": [
        *_VIEW,
        "games.view_provider",
        "games.view_historicalprovider",
        "games.view_providertransaction",
        "games.view_gamedaystats",
    ],
    "support": list(_VIEW),
}
