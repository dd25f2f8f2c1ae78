"""DRF throttles keyed on apps.core.http.client_ip, never on the raw X-Forwarded-For header.

DRF's own get_ident trusts X-Forwarded-For from anyone unless NUM_PROXIES is set; one setting
(TRUSTED_PROXIES) decides that for the whole project instead. When the cache behind the throttles
(Redis) is unreachable, apps.core.cache.DegradingRedisCache answers empty and the request is allowed:
throttling is abuse protection, not a gate worth refusing logins over.
"""

from __future__ import annotations

from rest_framework import throttling

from .http import client_ip


class _ClientIpIdent:
    def get_ident(self, request) -> str:
        return client_ip(request) or "unknown"


class AnonRateThrottle(_ClientIpIdent, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_ClientIpIdent, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(_ClientIpIdent, throttling.ScopedRateThrottle):
    pass
