"""At KYC approval the verified identity, document number included, is checked against self-excluded people."""

from __future__ import annotations

import pytest

from apps.kyc import services
from apps.kyc.models import KycCase
from apps.players.models import Player, PlayerStatus
from apps.players.services import player_self_exclude, player_update_identity

pytestmark = pytest.mark.django_db


def test_kyc_approval_bars_an_account_whose_document_belongs_to_a_self_excluded_person(make_player, case_in, officer):
    excluded = make_player(first_name="Real", last_name="Name")
    player_update_identity(player=excluded, actor=officer, reason="KYC", id_document_type="PA", id_document_number="X1234567")
    player_self_exclude(player=Player.objects.get(pk=excluded.pk), actor=None, reason="asked")

    # Same person, other names typed at registration: only the document number can tell.
    newcomer = make_player(first_name="Alias", last_name="Person")
    case = case_in(newcomer, "in_review", officer=officer)
    services.kyc_approve(case=KycCase.objects.get(pk=case.pk), officer=officer, id_document_number="x-123 4567")
    newcomer.refresh_from_db()
    assert newcomer.status == PlayerStatus.SELF_EXCLUDED
    assert newcomer.history.latest().history_change_reason == "Identity matches a self-excluded person (KYC approval)"


def test_kyc_approval_of_an_unrelated_person_changes_nothing(make_player, case_in, officer):
    excluded = make_player(first_name="Real", last_name="Name")
    player_self_exclude(player=excluded, actor=None, reason="asked")
    newcomer = make_player(first_name="Someone", last_name="Else")
    case = case_in(newcomer, "in_review", officer=officer)
    services.kyc_approve(case=KycCase.objects.get(pk=case.pk), officer=officer, id_document_number="Z999")
    newcomer.refresh_from_db()
    assert newcomer.status == PlayerStatus.ACTIVE
