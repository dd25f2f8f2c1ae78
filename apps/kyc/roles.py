"""Which operator roles may do what with KYC; the players app syncs this into the groups after migrate.

Least privilege: identity documents are the most sensitive data we hold, so only compliance opens them.
Operators and support see where a player's verification stands (to answer "why can't I deposit?"),
never the files, and never take the decision.
"""

ROLE_PERMISSIONS = {
    "compliance": [
        "kyc.view_kyccase",
        "kyc.change_kyccase",
        "kyc.review_kyccase",
        "kyc.view_kyc_documents",
        "kyc.view_kycdocument",
    ],
    "operator": ["kyc.view_kyccase"],
    "support": ["kyc.view_kyccase"],
}
