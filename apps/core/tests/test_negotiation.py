"""JsonFirstContentNegotiation answers as DRF's own negotiation does, only faster for the common Accept values."""

from __future__ import annotations

import pytest
from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from apps.core.negotiation import JsonFirstContentNegotiation


def choose(negotiation, accept: str | None, path: str = "/api/v1/wallet", renderers=None):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(path, **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers or [JSONRenderer()])
    except NotAcceptable:
        return "406"
    except Http404:
        return "404"
    return type(renderer).__name__, media_type


@pytest.mark.parametrize(
    "accept",
    [None, "", "*/*", "application/json", " application/json ", "text/html", "application/xml",
     "application/json; indent=4", "application/*", "text/html, application/json;q=0.9"],
)
def test_the_same_choice_as_drf(accept):
    assert choose(JsonFirstContentNegotiation(), accept) == choose(DefaultContentNegotiation(), accept)


def test_a_format_override_and_other_renderers_take_drfs_path():
    renderers = [BrowsableAPIRenderer(), JSONRenderer()]
    for negotiation in (JsonFirstContentNegotiation(), DefaultContentNegotiation()):
        assert choose(negotiation, "*/*", renderers=renderers) == ("BrowsableAPIRenderer", "text/html")
    for accept in (None, "*/*"):
        negotiations = (JsonFirstContentNegotiation(), DefaultContentNegotiation())
        overridden = [choose(n, accept, path="/api/v1/wallet?format=xml") for n in negotiations]
        assert overridden == ["404", "404"]


def test_an_unacceptable_type_is_still_refused_over_http(player_client):
    response = player_client.get("/api/v1/wallet", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
