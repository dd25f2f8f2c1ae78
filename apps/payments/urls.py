from django.urls import path

from . import api

urlpatterns = [
    path("wallet", api.WalletApi.as_view(), name="wallet"),
    path("wallet/transactions", api.WalletTransactionsApi.as_view(), name="wallet-transactions"),
    path("wallet/deposits", api.DepositCreateApi.as_view(), name="wallet-deposits"),
    path("wallet/withdrawals", api.WithdrawalCreateApi.as_view(), name="wallet-withdrawals"),
    path("wallet/withdrawals/<int:withdrawal_id>/cancel", api.WithdrawalCancelApi.as_view(), name="wallet-withdrawal-cancel"),
    path("payments/webhooks/psp", api.PspWebhookApi.as_view(), name="payments-psp-webhook"),
]
