"""Who is on the other end of a request: the one client-IP function of the project.

Behind a load balancer the socket peer (REMOTE_ADDR) is the proxy, and the client's address is in
X-Forwarded-For. That header is written by whoever sends the request, so it is believed only when
the peer is one of TRUSTED_PROXIES (CIDRs, from the environment); otherwise anyone could pick a new
address per request and walk past the per-IP throttles. Throttles, the sign-up IP, the deposit and
withdrawal IP and django-axes all use client_ip, so they always agree.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip())


def trusted_proxies() -> tuple[Network, ...]:
    return _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))


def _parse(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(raw.strip())
    except ValueError:
        return None


def _is_trusted(address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(request) -> str | None:
    """The client's address: the peer, or, when the peer is a trusted proxy, the nearest untrusted
    address in X-Forwarded-For (read right to left: each proxy appends the address it saw).

    None when no valid address is known. `request` may be a Django or a DRF request.
    """
    meta = request.META
    peer = _parse(meta.get("REMOTE_ADDR", ""))
    if peer is None:
        return None
    networks = trusted_proxies()
    if not networks or not _is_trusted(peer, networks):
        return str(peer)
    client = peer
    for raw in reversed(meta.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _parse(raw)
        if address is None:
            # Garbage in the chain: stop at the last address a trusted proxy vouched for.
            break
        client = address
        if not _is_trusted(address, networks):
            break
    return str(client)


def axes_client_ip(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: django-axes records failed logins under the same address as the throttles."""
    return client_ip(request)
