"""The regulator's structured reason for a suspension or closure is recorded with the transition."""

import pytest

from apps.core.errors import ValidationFailed
from apps.players.models import Player, PlayerStatus, StatusReason
from apps.players.services import player_close, player_reinstate, player_suspend


def test_suspension_records_the_structured_reason_and_reinstatement_clears_it(player):
    suspended = player_suspend(player=player, actor=None, reason="chargebacks", reason_code=StatusReason.FRAUD_PAYMENT)
    assert (suspended.status, suspended.status_reason_code) == (PlayerStatus.SUSPENDED, "fraud_payment")
    assert suspended.history.first().status_reason_code == "fraud_payment"
    reinstated = player_reinstate(player=suspended, actor=None, reason="cleared")
    assert reinstated.status_reason_code == ""


def test_closure_without_a_code_says_other(player):
    assert player_close(player=player, actor=None, reason="asked by email").status_reason_code == StatusReason.OTHER


def test_an_unknown_code_is_refused_and_changes_nothing(player):
    with pytest.raises(ValidationFailed):
        player_suspend(player=player, actor=None, reason="x", reason_code="because")
    assert Player.objects.get(pk=player.pk).status == PlayerStatus.ACTIVE


@pytest.mark.django_db
def test_backfill_marks_earlier_suspensions_other(make_player):
    from importlib import import_module

    from django.apps import apps
    from django.db import connection

    backfill = import_module("apps.players.migrations.0003_status_reason_code").backfill
    suspended = player_suspend(player=make_player(), actor=None, reason="old")
    Player.objects.filter(pk=suspended.pk).update(status_reason_code="")
    active = make_player()
    backfill(apps, connection.schema_editor())
    assert Player.objects.get(pk=suspended.pk).status_reason_code == "other"
    assert Player.objects.get(pk=active.pk).status_reason_code == ""
