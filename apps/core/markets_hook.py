"""Which licence (market) takes a player from a country: asked by players, answered by markets.

The players app (layer 2) decides a new player's market at registration but may not import the
markets app (also layer 2): ARCHITECTURE.md's layers. So markets registers its resolver here in its
AppConfig.ready(), and registration asks this module. A market is stored on the player as its code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class _Resolver:
    market_for_country: Callable[[str], str | None]
    market_codes: Callable[[], Iterable[str]]
    on_national_register: Callable[..., bool]
    register_of: Callable[[str], str] | None = None
    markets_with_register: Callable[[], Iterable[str]] | None = None


_resolver: _Resolver | None = None


def register_market_resolver(
    *,
    market_for_country: Callable[[str], str | None],
    market_codes: Callable[[], Iterable[str]],
    on_national_register: Callable[..., bool],
    register_of: Callable[[str], str] | None = None,
    markets_with_register: Callable[[], Iterable[str]] | None = None,
) -> None:
    global _resolver
    _resolver = _Resolver(
        market_for_country=market_for_country, market_codes=market_codes, on_national_register=on_national_register,
        register_of=register_of, markets_with_register=markets_with_register,
    )


def _required() -> _Resolver:
    if _resolver is None:
        # A deployment without the markets app would accept players under no licence's rules.
        raise LookupError("No app registered a market resolver (apps.markets must be installed).")
    return _resolver


def market_for_country(country: str) -> str | None:
    """The code of the market that licenses play from this country, or None: no licence, registration refused."""
    return _required().market_for_country(country.upper())


def market_codes() -> list[str]:
    """Every market code, for the operator's choice when moving a player between markets."""
    return sorted(_required().market_codes())


def identity_on_national_register(market: str, *, first_name: str, last_name: str, date_of_birth, id_document_number: str = "") -> bool:
    """Does the market's national self-exclusion register (GAMSTOP, RGIAJ) name this person? False if it has none."""
    return _required().on_national_register(
        market, first_name=first_name, last_name=last_name, date_of_birth=date_of_birth, id_document_number=id_document_number
    )


def national_register_of(market: str) -> str:
    """The code of the market's national register ("rgiaj", "gamstop"), or "" when it has none."""
    resolver = _required()
    return resolver.register_of(market) if resolver.register_of else ""


def markets_with_national_register() -> list[str]:
    """The codes of the markets whose players are checked against a national register (the daily batch)."""
    resolver = _required()
    return sorted(resolver.markets_with_register()) if resolver.markets_with_register else []
