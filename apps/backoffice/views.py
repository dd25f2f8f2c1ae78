"""Error pages of the admin shell: a refusal is explained inside the admin layout, with a way back."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults

DEFAULT_REASON = "Your role does not allow this page or action. Ask an administrator if you need it."


def permission_denied(request, exception=None) -> HttpResponse:
    """handler403: staff refused in the admin see why, in the admin layout, with links back; others get Django's page.

    Support following a link it may not use (a money action, an AML alert) must not land on a bare
    "403 Forbidden" outside the back-office: it needs to know it is a matter of role, and how to go on.
    """
    user = getattr(request, "user", None)
    if not request.path.startswith(reverse("admin:index")) or not (user and user.is_active and user.is_staff):
        return defaults.permission_denied(request, exception)
    reason = str(exception) if exception and str(exception) else DEFAULT_REASON
    referer = request.META.get("HTTP_REFERER", "")
    back = referer if referer and url_has_allowed_host_and_scheme(referer, {request.get_host()}, request.is_secure()) else None
    context = {
        **admin.site.each_context(request),
        "title": "Not allowed",
        "reason": reason,
        "back_url": back,
        "home_url": reverse("admin:index"),
    }
    response = TemplateResponse(request, "admin/403.html", context, status=403)
    return response.render()
