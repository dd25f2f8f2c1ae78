"""Who may do what with payments (synced into the groups by the players app after migrate).

Least privilege: only operators move a withdrawal on; compliance and support look, never touch.
"""

ROLE_PERMISSIONS = {
    "operator": ["payments.view_deposit", "payments.view_withdrawal", "payments.review_withdrawal"],
    "compliance": ["payments.view_deposit", "payments.view_withdrawal"],
    "support": ["payments.view_deposit", "payments.view_withdrawal"],
}
