"""Who may see and ask for regulatory reports (apps.core.role_sync syncs these into the groups).

Reports hold every player's identity and money: compliance files them with the regulator, so only
compliance lists runs, downloads files and asks for new ones. Operators and support have no access.
"""

ROLE_PERMISSIONS = {
    "compliance": [
        "reports.view_reportrun",
        "reports.request_reportrun",
        "reports.download_reportrun",
    ],
}
