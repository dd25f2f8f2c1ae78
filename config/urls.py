from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core.api import api_not_found
from apps.core.views import healthz

admin.site.site_header = "Casino back-office"
admin.site.site_title = "Casino back-office"
admin.site.index_title = "Players, money and compliance"

api_v1 = [
    path("", include("apps.players.urls")),
    path("", include("apps.payments.urls")),
    path("", include("apps.kyc.urls")),
    path("", include("apps.limits.urls")),
    path("", include("apps.aml.urls")),
    path("", include("apps.reports.urls")),
    path("", include("apps.games.urls")),
    path("", include("apps.backoffice.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include(api_v1)),
    re_path(r"^api/", api_not_found),
]

handler400 = "apps.core.api.api_bad_request"
handler500 = "apps.core.api.api_server_error"
