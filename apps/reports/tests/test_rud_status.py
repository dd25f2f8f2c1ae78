"""The RUD's regulator status of excluded players: PR for a person the national register (RGIAJ) names, AE for
one who self-excluded with us (DGOJ v3.3 EstadoCNJ), in the current status and in the period's status history.

Every status here is reached through the services that exclude, bar and lift (limits' self-exclusion, the login
and daily register checks, the operator's lifting of a bar); only the register's own entries are written here.
"""

from __future__ import annotations

import pytest
import time_machine
from lxml import etree

from apps.markets.models import NationalRegisterEntry
from apps.reports.dgoj import estado_cnj

from .conftest import DAY1, DAY2, _spanish, at, run_report

NS = {"d": "http://cnjuego.gob.es/sci/v3.3.xsd"}


def on_rgiaj(player) -> NationalRegisterEntry:
    return NationalRegisterEntry.objects.create(
        register="rgiaj", first_name=player.user.first_name, last_name=player.user.last_name, date_of_birth=player.date_of_birth
    )


def players_of(run) -> dict[str, etree._Element]:
    assert run.status == "done", run.error  # valid against our XSD, which admits PR
    root = etree.parse(run.file.path).getroot()
    return {j.findtext("d:JugadorId", namespaces=NS): j for j in root.iterfind(".//d:Jugador", NS)}


def estado(jugador) -> tuple[str, str]:
    return jugador.findtext("d:Estado/d:EstadoCNJ", namespaces=NS), jugador.findtext("d:Estado/d:EstadoOperador", namespaces=NS)


def historico(jugador) -> list[tuple[str, str, str]]:
    return [
        (h.findtext("d:EstadoCNJ", namespaces=NS), h.findtext("d:EstadoOperador", namespaces=NS), h.findtext("d:Desde", namespaces=NS))
        for h in jugador.iterfind("d:Estado/d:Historico", NS)
    ]


@pytest.fixture
def excluded(db, make_player, private_media):
    """Day 1 in Madrid: Carla is barred at login (the register names her), Diego self-excludes, Elena
    self-excludes and the daily register check then bars her too."""
    from apps.limits.services import self_exclusion_start
    from apps.players.services import auth_tokens_issue, national_register_batch_check

    with time_machine.travel(at(DAY1, 9), tick=False) as clock:
        carla = _spanish(make_player, email="carla@example.es", first="Carla", last="Vidal", dni="23456789D", sex="F")
        diego = _spanish(make_player, email="diego@example.es", first="Diego", last="Sanz", dni="34567890V", sex="M")
        elena = _spanish(make_player, email="elena@example.es", first="Elena", last="Mora", dni="45678901G", sex="F")
        clock.move_to(at(DAY1, 10))
        self_exclusion_start(player=diego, months=6)
        self_exclusion_start(player=elena, months=6)
        clock.move_to(at(DAY1, 11))
        on_rgiaj(carla)
        auth_tokens_issue(user=carla.user)
        clock.move_to(at(DAY1, 12))
        on_rgiaj(elena)
        assert national_register_batch_check() == {"checked": 2, "barred": 1}  # Elena; Diego is on no register
    for player in (carla, diego, elena):
        player.refresh_from_db()
    assert {p.status for p in (carla, diego, elena)} == {"self_excluded"}  # one status of ours for all three
    assert (carla.legally_barred_register, diego.legally_barred_at, elena.legally_barred_register) == ("rgiaj", None, "rgiaj")
    return carla, diego, elena


def test_a_legally_barred_player_is_pr_and_a_self_excluded_one_ae_with_the_change_in_the_history(excluded):
    carla, diego, elena = excluded
    rud = players_of(run_report("dgoj_rud_daily", DAY1.isoformat()))

    barred = rud[str(carla.public_id)]
    assert estado(barred) == ("PR", "self_excluded")
    assert barred.find("d:Estado/d:Motivo", NS) is None  # a reason goes with S and C only
    assert historico(barred) == [
        ("PV", "active", "20261110090000+0100"),
        ("PR", "self_excluded", "20261110110000+0100"),  # barred at the login
    ]
    assert estado(rud[str(diego.public_id)]) == ("AE", "self_excluded")
    assert historico(rud[str(diego.public_id)]) == [
        ("PV", "active", "20261110090000+0100"),
        ("AE", "self_excluded", "20261110100000+0100"),
    ]
    # Self-excluded first, then named by the register: our status stays self_excluded, the regulator's turns to PR.
    assert estado(rud[str(elena.public_id)]) == ("PR", "self_excluded")
    assert historico(rud[str(elena.public_id)]) == [
        ("PV", "active", "20261110090000+0100"),
        ("AE", "self_excluded", "20261110100000+0100"),
        ("PR", "self_excluded", "20261110120000+0100"),
    ]

    monthly = players_of(run_report("dgoj_rud_monthly", "2026-11"))
    assert [estado(monthly[str(p.public_id)])[0] for p in (carla, diego, elena)] == ["PR", "AE", "PR"]
    assert [h[0] for h in historico(monthly[str(elena.public_id)])] == ["PV", "AE", "PR"]


def test_a_day_without_a_status_change_reports_pr_since_the_bar_and_a_lifted_bar_leaves_pr(excluded, staff_user):
    from apps.players.services import player_reinstate_barred, player_update_identity

    carla, _, elena = excluded
    with time_machine.travel(at(DAY2, 10), tick=False) as clock:
        # A new phone number puts Elena in day 2's file; her status did not change that day.
        player_update_identity(player=elena, actor=None, reason="New phone number", phone="+34600333444")
        clock.move_to(at(DAY2, 14))
        NationalRegisterEntry.objects.filter(first_name="Carla").delete()  # the register dropped her
        player_reinstate_barred(player=carla, actor=staff_user("operator"), reason="RGIAJ no longer lists her")
    rud = players_of(run_report("dgoj_rud_daily", DAY2.isoformat()))

    assert estado(rud[str(elena.public_id)]) == ("PR", "self_excluded")
    # No change in the period: the current status since it began, which is the bar, not her self-exclusion.
    assert historico(rud[str(elena.public_id)]) == [("PR", "self_excluded", "20261110120000+0100")]
    # The bar lifted: back to active, pending verification as before it (she never passed KYC).
    assert estado(rud[str(carla.public_id)]) == ("PV", "active")
    assert historico(rud[str(carla.public_id)]) == [("PV", "active", "20261111140000+0100")]


@pytest.mark.parametrize(
    ("status", "activated", "barred", "code"),
    [
        ("active", False, False, "PV"),
        ("active", True, False, "A"),
        ("suspended", True, False, "S"),
        ("self_excluded", True, False, "AE"),
        ("self_excluded", True, True, "PR"),
        ("self_excluded", False, True, "PR"),
        ("active", True, True, "PR"),  # a mark left on an open account still says what the person is
        ("closed", True, True, "C"),  # a closed account is cancelled, barred or not
    ],
)
def test_the_regulator_status_of_each_combination_of_status_facts(status, activated, barred, code):
    assert estado_cnj(status=status, activated=activated, legally_barred=barred) == code
