"""DRF content negotiation with a shortcut for what every API client sends.

The API renders JSON only. DRF's DefaultContentNegotiation parses the Accept header into media types and
matches them against each renderer on every request, which cost as much CPU as reading the wallet
(cProfile of GET /api/v1/wallet, README "Web servers"). An absent Accept, `*/*` or `application/json`
can only pick the JSON renderer, with the answer DRF itself would give; anything else (another type,
a `?format=`, parameters) still goes through DRF, so a 406 stays a 406.
"""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer

_ANY = frozenset({"*/*", "application/json"})  # and no Accept at all; an empty one is a 406 in DRF


class JsonFirstContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            format_suffix is None
            and renderers
            and type(renderers[0]) is JSONRenderer
            and request.META.get("HTTP_ACCEPT", "*/*").strip() in _ANY
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
