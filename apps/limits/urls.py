from django.urls import path

from . import api

urlpatterns = [
    path("responsible-gaming", api.ResponsibleGamingApi.as_view(), name="rg-overview"),
    path("responsible-gaming/limits/<str:kind>/<str:period>", api.LimitApi.as_view(), name="rg-limit"),
    path("responsible-gaming/limits/<str:kind>/<str:period>/confirm", api.LimitConfirmApi.as_view(), name="rg-limit-confirm"),
    path("responsible-gaming/timeout", api.TimeoutApi.as_view(), name="rg-timeout"),
    path("responsible-gaming/self-exclusion", api.SelfExclusionApi.as_view(), name="rg-self-exclusion"),
    path("responsible-gaming/reality-check", api.RealityCheckApi.as_view(), name="rg-reality-check"),
    path("responsible-gaming/reality-check/acknowledge", api.RealityCheckAcknowledgeApi.as_view(), name="rg-reality-check-acknowledge"),
    path("responsible-gaming/reactivate", api.ReactivateApi.as_view(), name="rg-reactivate"),
]
