"""The daily national-register batch (RGIAJ for dgoj), the legally barred mark (the RUD's PR) beside the status,
and the operator's path back for an account whose bar no longer holds (issue #11)."""

from __future__ import annotations

from datetime import date

import pytest
from django_celery_beat.models import PeriodicTask

from apps.core.errors import InvalidState
from apps.markets.models import NationalRegisterEntry
from apps.players.models import PlayerStatus
from apps.players.services import national_register_batch_check, player_close, player_reinstate_barred
from apps.players.tasks import national_register_daily_check

pytestmark = pytest.mark.django_db


def on_rgiaj(first_name: str, last_name: str, born: date = date(1990, 1, 1)) -> NationalRegisterEntry:
    return NationalRegisterEntry.objects.create(register="rgiaj", first_name=first_name, last_name=last_name, date_of_birth=born)


def test_the_batch_bars_spanish_players_the_register_names_and_no_one_else(make_player):
    listed = make_player(country="ES", first_name="Lucía", last_name="García")
    other = make_player(country="ES", first_name="Ana", last_name="López")
    german = make_player(country="DE", first_name="Lucía", last_name="García")  # the default licence checks no register
    closed = make_player(country="ES", first_name="Lucía", last_name="García", email="closed@example.com")
    player_close(player=closed, actor=None, reason="test")
    on_rgiaj("LUCIA", "garcia")

    assert national_register_batch_check() == {"checked": 2, "barred": 1}
    for player in (listed, other, german):
        player.refresh_from_db()
    assert listed.status == PlayerStatus.SELF_EXCLUDED
    assert listed.legally_barred_at is not None and listed.legally_barred_register == "rgiaj"
    assert (other.status, german.status) == (PlayerStatus.ACTIVE, PlayerStatus.ACTIVE)
    assert listed.history.first().history_change_reason == "On the national self-exclusion register (daily register check)"
    assert national_register_daily_check() == {"checked": 1, "barred": 0}  # idempotent: the barred one is not checked again


def test_a_self_excluded_player_on_the_register_is_marked_legally_barred(make_player):
    from apps.limits.services import self_exclusion_start

    player = make_player(country="ES", first_name="Pau", last_name="Roig")
    self_exclusion_start(player=player, months=6)
    on_rgiaj("Pau", "Roig")
    assert national_register_batch_check()["barred"] == 1
    player.refresh_from_db()
    assert player.status == PlayerStatus.SELF_EXCLUDED and player.legally_barred_register == "rgiaj"


def test_the_batch_is_scheduled_daily():
    task = PeriodicTask.objects.get(name="players: national register daily check")
    assert task.task == "apps.players.tasks.national_register_daily_check"
    assert (task.crontab.hour, task.crontab.minute) == ("5", "0")


def test_a_bar_is_lifted_only_once_its_reason_is_gone(make_player, staff_user):
    operator = staff_user("operator")
    player = make_player(country="ES", first_name="Joan", last_name="Puig")
    entry = on_rgiaj("Joan", "Puig")
    national_register_batch_check()
    with pytest.raises(InvalidState, match="still names"):
        player_reinstate_barred(player=player, actor=operator, reason="Asked by the player")
    entry.delete()  # the register dropped them
    lifted = player_reinstate_barred(player=player, actor=operator, reason="RGIAJ no longer lists the player")
    assert lifted.status == PlayerStatus.ACTIVE and lifted.legally_barred_at is None
    assert lifted.history.first().history_user == operator


def test_a_barred_duplicate_comes_back_when_the_persons_exclusion_ends_but_never_the_self_excluder(make_player, staff_user):
    from apps.limits.services import self_exclusion_start
    from apps.players.models import ExcludedIdentity
    from apps.players.services import player_bar_if_identity_excluded

    operator = staff_user("operator")
    original = make_player(first_name="Eva", last_name="Marx", email="eva@example.com")
    duplicate = make_player(first_name="Eva", last_name="Marx", email="eva2@example.com")  # opened before the exclusion
    self_exclusion_start(player=original, months=6)
    assert player_bar_if_identity_excluded(player=duplicate, actor=None, when="login")
    with pytest.raises(InvalidState):
        player_reinstate_barred(player=original, actor=operator, reason="no")  # their own exclusion: limits' return only
    with pytest.raises(InvalidState, match="still matches"):
        player_reinstate_barred(player=duplicate, actor=operator, reason="no")
    ExcludedIdentity.objects.filter(player=original).update(active=False)  # the person's exclusion ended and they returned
    assert player_reinstate_barred(player=duplicate, actor=operator, reason="The person's exclusion ended").status == PlayerStatus.ACTIVE


def test_the_admin_offers_lifting_the_bar(client, make_player, staff_user):
    player = make_player(country="ES", first_name="Iker", last_name="Sanz")
    entry = on_rgiaj("Iker", "Sanz")
    national_register_batch_check()
    entry.delete()
    client.force_login(staff_user("operator"))
    response = client.post(f"/admin/players/player/{player.pk}/status/reactivate/", {"reason": "Register dropped the entry"})
    assert response.status_code == 302
    player.refresh_from_db()
    assert player.status == PlayerStatus.ACTIVE


# --- A legal bar outlasts the player's own self-exclusion: no status change takes them back to play (UKGC LCCP
# SR 3.5.4, GAMSTOP; RD 1614/2011 art. 26, RGIAJ). apps/limits/tests/test_legally_barred.py drives the return itself.


def _self_excluded_then_barred(make_player, first_name: str, last_name: str):
    from apps.limits.services import self_exclusion_start

    player = make_player(country="ES", first_name=first_name, last_name=last_name)
    self_exclusion_start(player=player, months=6)
    entry = on_rgiaj(first_name, last_name)
    assert national_register_batch_check()["barred"] == 1
    player.refresh_from_db()
    return player, entry


@pytest.mark.parametrize("service", ["player_reactivate", "player_return_suspended"])
def test_no_return_service_takes_a_barred_player_out_of_self_exclusion(make_player, service):
    from apps.core.errors import SelfExcluded
    from apps.players import services

    player, _entry = _self_excluded_then_barred(make_player, "Marta", "Soler")
    rows = player.history.count()
    with pytest.raises(SelfExcluded) as refused:
        getattr(services, service)(player=player, actor=None, reason="Self-exclusion over")
    assert refused.value.details == {"reason": "legally_barred", "register": "rgiaj"}
    player.refresh_from_db()
    assert (player.status, player.legally_barred_register) == (PlayerStatus.SELF_EXCLUDED, "rgiaj")
    assert player.history.count() == rows
    assert player.excluded_identities.filter(active=True).exists()  # the person's own exclusion is not lifted either


def test_a_barred_player_may_still_be_closed(make_player):
    player, _entry = _self_excluded_then_barred(make_player, "Marta", "Soler")
    assert player_close(player=player, actor=None, reason="Player asked to close").status == PlayerStatus.CLOSED


def test_the_operators_reinstatement_does_not_make_a_barred_player_active(client, make_player, staff_user):
    """A barred player found suspended: what the return from a self-exclusion begun while suspended left before
    this rule (players.0011 re-bars such rows). The admin's Reinstate must not make them active."""
    from apps.core.errors import SelfExcluded
    from apps.players.models import Player
    from apps.players.services import player_reinstate

    player, _entry = _self_excluded_then_barred(make_player, "Marta", "Soler")
    Player.objects.filter(pk=player.pk).update(status=PlayerStatus.SUSPENDED)
    player.refresh_from_db()
    with pytest.raises(SelfExcluded):
        player_reinstate(player=player, actor=None, reason="Investigation closed")

    client.force_login(staff_user("operator"))
    response = client.post(f"/admin/players/player/{player.pk}/status/reinstate/", {"reason": "Investigation closed"}, follow=True)
    assert "Not reinstated" in response.content.decode() and "national self-exclusion register" in response.content.decode()
    player.refresh_from_db()
    assert player.status == PlayerStatus.SUSPENDED and player.legally_barred_at is not None


def test_lifting_the_bar_of_a_self_excluder_leaves_their_own_exclusion(client, make_player, staff_user):
    operator = staff_user("operator")
    player, entry = _self_excluded_then_barred(make_player, "Marta", "Soler")
    client.force_login(operator)
    url = f"/admin/players/player/{player.pk}/status/reactivate/"

    response = client.post(url, {"reason": "Player says RGIAJ dropped them"}, follow=True)
    assert "still names this person" in response.content.decode()
    player.refresh_from_db()
    assert player.legally_barred_at is not None

    entry.delete()
    assert client.post(url, {"reason": "RGIAJ no longer lists the player"}).status_code == 302
    player.refresh_from_db()
    assert (player.status, player.legally_barred_at, player.legally_barred_register) == (PlayerStatus.SELF_EXCLUDED, None, "")
    assert player.excluded_identities.filter(active=True).exists()
    latest = player.history.first()
    assert latest.history_user == operator and latest.history_change_reason.startswith("Bar lifted, the player's own")
    with pytest.raises(InvalidState, match="self-excluded this account"):  # nothing left to lift: their own exclusion
        player_reinstate_barred(player=player, actor=operator, reason="again")


def test_the_migration_bars_again_the_players_the_old_return_let_back(make_player):
    import importlib

    from django.apps import apps

    from apps.players.models import Player

    rebar = importlib.import_module("apps.players.migrations.0011_rebar_players_returned_while_barred").rebar
    returned, _ = _self_excluded_then_barred(make_player, "Marta", "Soler")
    was_suspended, _ = _self_excluded_then_barred(make_player, "Pere", "Mas")
    still_barred, _ = _self_excluded_then_barred(make_player, "Rosa", "Vila")
    free = make_player(country="ES", first_name="Jordi", last_name="Pons")
    # What the return from self-exclusion left before the rule: the status back, the bar still marked.
    Player.objects.filter(pk=returned.pk).update(status=PlayerStatus.ACTIVE)
    Player.objects.filter(pk=was_suspended.pk).update(status=PlayerStatus.SUSPENDED)

    assert rebar(apps, None) == 2
    for player in (returned, was_suspended, still_barred, free):
        player.refresh_from_db()
    assert (returned.status, was_suspended.status) == (PlayerStatus.SELF_EXCLUDED, PlayerStatus.SELF_EXCLUDED)
    assert returned.legally_barred_register == "rgiaj"
    assert returned.history.first().history_change_reason.startswith("Legally barred: self-excluded again")
    assert returned.history.first().status == PlayerStatus.SELF_EXCLUDED
    assert still_barred.history.first().history_change_reason.startswith("On the national self-exclusion register")
    assert free.status == PlayerStatus.ACTIVE
    assert rebar(apps, None) == 0
