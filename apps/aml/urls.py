from django.urls import path

from . import api

urlpatterns = [
    path("staff/aml/alerts", api.AlertListApi.as_view(), name="staff-aml-alerts"),
    path("staff/aml/alerts/<int:alert_id>/transition", api.AlertTransitionApi.as_view(), name="staff-aml-alert-transition"),
]
