"""Who may do what with AML (synced into the groups after migrate).

Compliance works the alerts and tunes the rules and the screening list. Operators and support see a
player's risk level on the 360 view only: telling them why would widen the circle that could tip the
player off (EU AMLD art. 39), so they get no AML permission at all.
"""

ROLE_PERMISSIONS = {
    "compliance": [
        "aml.view_amlalert",
        "aml.work_amlalert",
        "aml.view_amlrule",
        "aml.change_amlrule",
        "aml.view_screeninglist",
        "aml.view_screeningentry",
    ],
}
