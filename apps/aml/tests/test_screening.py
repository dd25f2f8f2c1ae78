"""Sanctions/PEP screening: fuzzy names, exact dates of birth, alerts that freeze, lists from CSV and XML."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.aml import screening
from apps.aml.models import AlertCategory, AmlAlert, AmlHit, AmlRule, RuleKind, ScreeningEntry, ScreeningList
from apps.core.holds import withdrawal_hold_reasons

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def sample_list(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # the re-screen is tested on its own
        screening.screening_list_load(path=FIXTURES / "sample_sanctions.csv")


def test_a_listed_name_with_a_typo_and_the_same_birth_date_matches_and_freezes(sample_list, make_player):
    player = make_player(first_name="Viktor", last_name="Grekov", date_of_birth=date(1971, 3, 14))  # "Grekhov" on the list
    [alert] = screening.screen_players(player_ids=[player.pk])
    assert (alert.category, alert.rule, alert.level, alert.freezes_withdrawals) == (AlertCategory.SCREENING, "screening", "critical", True)
    hit = alert.evidence["hits"][0]
    assert (hit["entry_id"], hit["listed_name"]) == ("FIC-001", "Viktor Anatolyevich Grekhov")
    assert hit["similarity"] >= 88
    assert withdrawal_hold_reasons(player)


def test_a_namesake_with_another_birth_date_does_not_match(sample_list, make_player):
    namesake = make_player(first_name="Marisol", last_name="Quintanar-Reyes", date_of_birth=date(1990, 11, 2))
    assert screening.screen_players(player_ids=[namesake.pk]) == []
    assert not AmlAlert.objects.exists()


def test_accents_word_order_and_case_do_not_hide_a_name(sample_list, make_player):
    player = make_player(first_name="REYES", last_name="Marisól Quintanar", date_of_birth=date(1983, 11, 2))
    assert len(screening.screen_players(player_ids=[player.pk])) == 1


def test_a_different_person_born_on_a_listed_date_does_not_match(sample_list, make_player):
    player = make_player(first_name="Anna", last_name="Schmidt", date_of_birth=date(1971, 3, 14))
    assert screening.screen_players(player_ids=[player.pk]) == []


def test_the_threshold_is_tunable(sample_list, make_player):
    player = make_player(first_name="Dmitry", last_name="Volkonov", date_of_birth=date(1965, 7, 21))  # two letters off
    AmlRule.objects.filter(kind=RuleKind.SCREENING).update(ratio="0.95")
    assert screening.screen_players(player_ids=[player.pk]) == []
    AmlRule.objects.filter(kind=RuleKind.SCREENING).update(ratio="0.85")
    assert len(screening.screen_players(player_ids=[player.pk])) == 1


def test_an_entry_without_a_birth_date_matches_on_the_name(sample_list, make_player):
    player = make_player(first_name="Henrik", last_name="Falstedt")
    assert len(screening.screen_players(player_ids=[player.pk])) == 1


def test_screening_again_adds_nothing_and_a_cleared_match_stays_cleared(sample_list, make_player, officer):
    from apps.aml import services

    player = make_player(first_name="Viktor", last_name="Grekhov", date_of_birth=date(1971, 3, 14))
    [alert] = screening.screen_players()
    assert screening.screen_players() == []
    services.alert_transition(alert_id=alert.pk, actor=officer, action="investigate", note="checking the passport")
    services.alert_transition(alert_id=alert.pk, actor=officer, action="dismiss", note="different person: other place of birth")
    assert screening.screen_players() == []
    assert withdrawal_hold_reasons(player) == []
    assert AmlHit.objects.count() == 1


def test_xml_list_with_aliases(make_player, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        screening_list, changed = screening.screening_list_load(path=FIXTURES / "sample_sanctions.xml")
    assert changed and screening_list.entries_count == 3
    assert set(ScreeningEntry.objects.values_list("source_id", flat=True)) == {"FXL-100", "FXL-100#1", "FXL-101"}
    player = make_player(first_name="Aleksandra", last_name="Berezhnaja", date_of_birth=date(1988, 5, 9))
    [alert] = screening.screen_players(player_ids=[player.pk])
    assert alert.evidence["hits"][0]["entry_id"] == "FXL-100#1"


def test_xml_entities_are_not_resolved(tmp_path):
    evil = tmp_path / "evil.xml"
    evil.write_text('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                    '<list><entity id="E1"><name>&x;</name></entity></list>')
    rows = screening.parse_xml(evil.read_bytes())
    assert all("root:" not in row["name"] for row in rows)


def test_the_command_loads_once_and_a_changed_list_rescreens_everyone(tmp_path, make_player, django_capture_on_commit_callbacks):
    player = make_player(first_name="Amara", last_name="Okonkwo Leigh", date_of_birth=date(1979, 1, 30))
    path = tmp_path / "pep.csv"
    path.write_text("id,name,date_of_birth,kind\nP-1,Someone Else,1950-01-01,pep\n")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("aml_load_list", str(path))
    assert ScreeningList.objects.get(name="pep").entries_count == 1
    assert not AmlAlert.objects.exists()
    path.write_text("id,name,date_of_birth,kind\nP-1,Someone Else,1950-01-01,pep\nP-2,Amara Okonkwo-Leigh,1979-01-30,pep\n")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("aml_load_list", str(path))
    assert AmlAlert.objects.get().player == player
    assert screening.rescreen_if_list_changed() == 0  # nothing changed since


def test_registration_screens_the_player(sample_list, make_player, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        player = make_player(first_name="Viktor", last_name="Grekhov", date_of_birth=date(1971, 3, 14))
    assert AmlAlert.objects.get().player == player


def test_kyc_approval_screens_the_player(make_player, staff_user, private_media, django_capture_on_commit_callbacks):
    from apps.kyc import services as kyc
    from apps.kyc.models import KycCase
    from apps.kyc.tests.samples import PDF_BYTES, a_file, valid_until

    player = make_player(first_name="Viktor", last_name="Grekhov", date_of_birth=date(1971, 3, 14))  # before the list existed
    with django_capture_on_commit_callbacks(execute=False):  # the list's own re-screen stays queued: KYC must find it
        screening.screening_list_load(path=FIXTURES / "sample_sanctions.csv")
    kyc.kyc_document_upload(player=player, kind="passport", uploaded_file=a_file(PDF_BYTES, "p.pdf", "application/pdf"),
                            expires_on=valid_until())
    kyc.kyc_submit(player=player)
    officer = staff_user("compliance")
    case = kyc.kyc_start_review(case=KycCase.objects.get(player=player), officer=officer)
    assert not AmlAlert.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        kyc.kyc_approve(case=case, officer=officer)
    assert AmlAlert.objects.get().player == player
