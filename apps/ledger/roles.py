"""Who may see the ledger in the admin, and who may post a manual adjustment (apps.core.role_sync syncs these).

The ledger itself is read-only for everyone; the one way an operator moves money by hand is the
adjustment view, which needs `adjust_balance` and records the operator and the reason.
Support sees balances, not the movements behind them (those are for operators and compliance).
"""

ROLE_PERMISSIONS = {
    "operator": [
        "ledger.view_account",
        "ledger.view_ledgertransaction",
        "ledger.view_entry",
        "ledger.adjust_balance",
    ],
    "compliance": [
        "ledger.view_account",
        "ledger.view_ledgertransaction",
        "ledger.view_entry",
    ],
    "support": [
        "ledger.view_account",
    ],
}
