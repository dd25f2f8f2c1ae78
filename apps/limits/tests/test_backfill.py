"""The data migration that gives players registered before the markets existed their market's mandatory deposit
limits (dgoj: 600 / 1,500 / 3,000 EUR; RD 1614/2011 art. 36), keeping lower ones and bringing higher ones down."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from apps.limits.models import Limit, PlayerProtection

pytestmark = pytest.mark.django_db

backfill = importlib.import_module("apps.limits.migrations.0010_backfill_mandatory_deposit_limits").backfill


def amounts(player) -> dict[str, int]:
    return dict(Limit.objects.filter(player=player, kind="deposit").values_list("period", "amount_minor"))


def test_legacy_spanish_players_get_the_mandatory_limits(make_player):
    legacy = make_player(country="ES")
    higher = make_player(country="ES")
    lower = make_player(country="ES")
    gbp = make_player(country="ES", currency="GBP")
    german = make_player(country="DE")
    Limit.objects.filter(player__in=[legacy, gbp]).delete()  # as if registered before the rule existed
    Limit.objects.filter(player=higher, period="day").update(amount_minor=100_000)
    Limit.objects.filter(player=lower, period="week").update(amount_minor=10_000)

    assert backfill(apps, None) == 3 + 1 + 3  # legacy's three, higher's day, the GBP player's three

    assert amounts(legacy) == {"day": 60_000, "week": 150_000, "month": 300_000}
    assert amounts(higher)["day"] == 60_000
    assert amounts(lower)["week"] == 10_000  # the player's lower choice stands
    assert amounts(gbp) == {"day": 51_282, "week": 128_205, "month": 256_410}  # at the demo rate 1 GBP = 1.17 EUR, rounded down
    assert amounts(german) == {}
    assert PlayerProtection.objects.get(player=legacy).has_limits
    day = Limit.objects.get(player=legacy, period="day")
    assert day.history.filter(history_change_reason__startswith="Mandatory deposit limit of the player's market").exists()
    assert backfill(apps, None) == 0  # idempotent
