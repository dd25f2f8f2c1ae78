"""Every admin page a member of staff can reach renders, for every role, on the demo data.

A back-office is used all day: a page that 500s for one role on real-looking data is a
broken tool, whatever the unit tests say.
"""

from io import StringIO

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse

from apps.players.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(private_media):
    call_command("seed_demo", allow_production=True, stdout=StringIO())


def _admin_urls():
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        yield reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        obj = model_admin.get_queryset(_FakeRequest()).order_by("-pk").first() if hasattr(model, "pk") else None
        if obj is not None:
            for view in ("change", "history"):
                url = _reverse_or_none(f"admin:{opts.app_label}_{opts.model_name}_{view}", obj.pk)
                if url:
                    yield url


def _reverse_or_none(name: str, pk) -> str | None:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return None


class _FakeRequest:
    """get_queryset only needs a request for per-user filtering, which none of our admins do for lookups."""

    user = None
    GET: dict = {}


@pytest.mark.parametrize("email", ["operator@casino.test", "compliance@casino.test", "support@casino.test"])
def test_every_admin_page_renders_or_refuses_cleanly_for_each_role(client, demo, email):
    client.force_login(User.objects.get(email=email))
    home = client.get(reverse("admin:index"))
    assert home.status_code == 200
    assert 'id="dashboard"' in home.content.decode(), "the admin home is the dashboard"
    seen = 0
    for url in _admin_urls():
        response = client.get(url)
        assert response.status_code in (200, 302, 403), f"{email} {url} -> {response.status_code}"
        seen += response.status_code == 200
    assert seen > 0
