from django.urls import path

from . import api

urlpatterns = [
    path("staff/players", api.StaffPlayerListApi.as_view(), name="staff-players"),
]
