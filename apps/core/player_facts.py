"""Facts about a player that a higher app owns and a lower one shows, e.g. `/me`'s `kyc_status`.

The players app (layer 2) answers `GET /me` but may not import kyc (layer 3): ARCHITECTURE.md's layers.
So the owning app registers a provider in its AppConfig.ready(), with the values it can take, and the
players serializer asks this registry. The schema dict is shared and filled in at registration, so the
OpenAPI document, generated after start-up, lists the owner's real values (an `expired` KYC case
included) rather than a hand copy that drifts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

_providers: dict[str, Callable[[Any], Any]] = {}
_schemas: dict[str, dict] = {}


def player_fact_schema(name: str) -> dict:
    """The OpenAPI schema of a fact, for `extend_schema_field`; completed when the owner registers."""
    return _schemas.setdefault(name, {"type": "string"})


def register_player_fact(name: str, provider: Callable[[Any], Any], *, choices: Iterable[str] | None = None) -> None:
    _providers[name] = provider
    if choices is not None:
        player_fact_schema(name)["enum"] = list(choices)


def player_fact(name: str, player: Any) -> Any:
    """The fact's value for this player; a fact nobody registered is a programming error, not a silent blank."""
    try:
        provider = _providers[name]
    except KeyError:
        raise LookupError(f"No app registered the player fact {name!r}.") from None
    return provider(player)
