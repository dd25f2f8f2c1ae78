from django.urls import path

from . import api, provider_api

urlpatterns = [
    path("games", api.GameListApi.as_view(), name="games"),
    path("games/<slug:slug>/sessions", api.SessionOpenApi.as_view(), name="games-session-open"),
    path("games/<slug:slug>/launch", api.LaunchApi.as_view(), name="games-launch"),
    path("game-sessions/<int:session_id>/rounds", api.SessionRoundsApi.as_view(), name="games-session-rounds"),
    path("game-sessions/<int:session_id>/close", api.SessionCloseApi.as_view(), name="games-session-close"),
    path("staff/games/stats", api.StaffGameStatsApi.as_view(), name="staff-games-stats"),
    path("staff/games/<slug:slug>/rtp", api.StaffGameRtpApi.as_view(), name="staff-games-rtp"),
    # The Caleta family's fixed paths come before the generic {code} ones.
    path("providers/caleta/wallet/check", provider_api.CaletaCheckApi.as_view(), name="provider-caleta-check"),
    path("providers/caleta/wallet/balance", provider_api.CaletaBalanceApi.as_view(), name="provider-caleta-balance"),
    path("providers/caleta/wallet/bet", provider_api.CaletaBetApi.as_view(), name="provider-caleta-bet"),
    path("providers/caleta/wallet/win", provider_api.CaletaWinApi.as_view(), name="provider-caleta-win"),
    path("providers/caleta/wallet/rollback", provider_api.CaletaRollbackApi.as_view(), name="provider-caleta-rollback"),
    path("providers/<slug:code>/balance", provider_api.GenericBalanceApi.as_view(), name="provider-generic-balance"),
    path("providers/<slug:code>/bet", provider_api.GenericBetApi.as_view(), name="provider-generic-bet"),
    path("providers/<slug:code>/win", provider_api.GenericWinApi.as_view(), name="provider-generic-win"),
    path("providers/<slug:code>/rollback", provider_api.GenericRollbackApi.as_view(), name="provider-generic-rollback"),
]
