"""The provider wallet's compiled reads (apps.core.prepared) give what the querysets they replace gave."""

from __future__ import annotations

import pytest
from django.db.models import Q

from apps.games import provider_wallet, services
from apps.games.models import LaunchToken, ProviderTransaction, ProviderTransactionKind

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_the_token_read_matches_the_queryset_with_player_and_game_cached(player, caleta_provider, django_assert_num_queries):
    launch = services.launch_create(player=player, game=caleta_provider.game)
    expected = LaunchToken.objects.select_related("player", "game").get(token=launch.token)
    with django_assert_num_queries(1):
        found = provider_wallet.token_for(provider=caleta_provider.provider, token=launch.token)
        assert (_fields(found.player), _fields(found.game)) == (_fields(expected.player), _fields(expected.game))
    assert _fields(found) == _fields(expected)
    with pytest.raises(provider_wallet.WalletRefusal):
        provider_wallet.token_for(provider=caleta_provider.provider, token="no-such-token")


def test_the_bet_seen_read_matches_the_queryset(player, caleta_provider):
    provider = caleta_provider.provider
    common = {"provider": provider, "player": player, "round_id": "r1", "currency": "EUR", "amount_minor": 100}
    ProviderTransaction.objects.create(transaction_id="bet-1", kind=ProviderTransactionKind.BET, **common)
    ProviderTransaction.objects.create(
        transaction_id="rb-1", kind=ProviderTransactionKind.ROLLBACK, reference_transaction_id="bet-2", **common
    )
    for transaction_id, expected in (("bet-1", ("bet-1", False)), ("bet-2", (None, True)), ("bet-3", (None, False))):
        rows = ProviderTransaction.objects.filter(provider=provider).filter(
            Q(transaction_id=transaction_id) | Q(kind=ProviderTransactionKind.ROLLBACK, reference_transaction_id=transaction_id)
        )
        existing, rolled_back_first = provider_wallet._bet_seen(provider, transaction_id)
        assert (existing.transaction_id if existing else None, rolled_back_first) == expected
        compiled = provider_wallet._BET_SEEN.all(provider_id=provider.pk, transaction_id=transaction_id, referenced_id=transaction_id)
        assert sorted(r.pk for r in rows) == sorted(r.pk for r in compiled)
