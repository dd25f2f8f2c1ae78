"""Who may do what with markets (collected by apps.core.role_sync).

Compliance owns the licences' rules and the exchange rates behind the EUR thresholds; operators and
support read them (to answer "why was I refused?"). Moving a player between markets is the operator's
(players.change_player_market, in apps/players/roles.py).
"""

ROLE_PERMISSIONS = {
    "compliance": [
        "markets.view_market",
        "markets.change_market",
        "markets.view_exchangerate",
        "markets.add_exchangerate",
        "markets.change_exchangerate",
        "markets.view_nationalregisterentry",
        "markets.add_nationalregisterentry",
        "markets.change_nationalregisterentry",
        "markets.delete_nationalregisterentry",
    ],
    "operator": ["markets.view_market", "markets.view_exchangerate"],
    "support": ["markets.view_market"],
}
