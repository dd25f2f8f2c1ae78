"""What each staff role may do with responsible-gaming data (synced into the groups by the players app).

Nobody may lift an exclusion or loosen a limit, so there is no change or delete permission to grant:
staff can only look, and operator/compliance can make a limit stricter.
"""

_VIEW = [
    "limits.view_playerprotection",
    "limits.view_historicalplayerprotection",
    "limits.view_limit",
    "limits.view_historicallimit",
    "limits.view_exclusion",
    "limits.view_historicalexclusion",
    "limits.view_safegamblinginteraction",
    "limits.view_historicalsafegamblinginteraction",
]

ROLE_PERMISSIONS = {
    "operator": [*_VIEW, "limits.tighten_limit", "limits.work_interaction"],
    "compliance": [*_VIEW, "limits.tighten_limit", "limits.work_interaction"],
    "support": list(_VIEW),
}
