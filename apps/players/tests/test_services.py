"""Player services: registration rules, status transitions with their audit trail, sessions."""

from __future__ import annotations

from datetime import date

import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.core.errors import AccountBlocked, CountryBlocked, EmailTaken, InvalidState, TokenInvalid, Underage, ValidationFailed
from apps.core.testing import run_together
from apps.players import services
from apps.players.models import Player, PlayerStatus, User

pytestmark = pytest.mark.django_db


def test_register_normalises_email_country_and_currency(make_player):
    player = make_player(email="  Mixed.Case@Example.COM ", country="de", currency="eur")
    assert player.user.email == "mixed.case@example.com"
    assert (player.country, player.currency, player.status) == ("DE", "EUR", PlayerStatus.ACTIVE)
    assert player.status_changed_at is not None
    assert player.history.count() == 1


def test_register_refuses_underage_blocked_and_unsupported(make_player):
    with pytest.raises(Underage):
        make_player(date_of_birth=date(date.today().year - 17, 1, 1))
    with pytest.raises(CountryBlocked):
        make_player(country="us")
    with pytest.raises(ValidationFailed) as exc:
        make_player(currency="XYZ")
    assert "currency" in exc.value.details
    assert not User.objects.exists()


def test_register_weak_password_creates_nothing(make_player):
    with pytest.raises(ValidationFailed) as exc:
        make_player(password="123")
    assert exc.value.details["password"]
    assert not User.objects.exists() and not Player.objects.exists()


def test_register_duplicate_email_is_refused_case_insensitively(make_player):
    make_player(email="dup@example.com")
    with pytest.raises(EmailTaken):
        make_player(email="DUP@example.com")


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_email_create_one_player(make_player):
    results = run_together(4, lambda _: make_player(email="race@example.com"))
    outcomes = ["taken" if isinstance(r, EmailTaken) else "created" if isinstance(r, Player) else repr(r) for r in results]
    assert sorted(outcomes) == ["created", "taken", "taken", "taken"]
    assert Player.objects.filter(user__email="race@example.com").count() == 1


def test_status_transitions_record_actor_and_reason(player, staff_user):
    operator = staff_user("operator")
    suspended = services.player_suspend(player=player, actor=operator, reason="chargeback investigation")
    assert suspended.status == PlayerStatus.SUSPENDED
    assert suspended.status_reason == "chargeback investigation"
    latest = suspended.history.latest()
    assert (latest.status, latest.history_user, latest.history_change_reason) == ("suspended", operator, "chargeback investigation")

    reinstated = services.player_reinstate(player=suspended, actor=operator, reason="cleared")
    assert reinstated.status == PlayerStatus.ACTIVE
    closed = services.player_close(player=reinstated, actor=operator, reason="player request")
    assert closed.status == PlayerStatus.CLOSED
    assert [h.status for h in closed.history.order_by("history_id")] == ["active", "suspended", "active", "closed"]


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], "player_reinstate"),
        (["player_close"], "player_suspend"),
        (["player_close"], "player_close"),
        (["player_self_exclude"], "player_reinstate"),
        (["player_self_exclude"], "player_suspend"),
    ],
)
def test_impossible_transitions_are_invalid_state_and_change_nothing(player, setup, action):
    for step in setup:
        player = getattr(services, step)(player=player, actor=None, reason="setup")
    before = (player.status, player.history.count())
    with pytest.raises(InvalidState):
        getattr(services, action)(player=player, actor=None, reason="nope")
    # A protected FSM field cannot be refreshed in place; read the row again.
    again = Player.objects.get(pk=player.pk)
    assert (again.status, again.history.count()) == before


def test_status_field_cannot_be_set_directly(player):
    with pytest.raises(AttributeError):
        player.status = PlayerStatus.CLOSED


def test_long_reason_is_kept_in_full_on_the_player_and_shortened_in_the_history_label(player):
    reason = "r" * 250
    suspended = services.player_suspend(player=player, actor=None, reason=reason)
    assert suspended.status_reason == reason
    latest = suspended.history.latest()
    assert latest.status_reason == reason
    assert len(latest.history_change_reason) == 100


def test_update_identity_accepts_profile_fields_only(player, staff_user):
    operator = staff_user("operator")
    updated = services.player_update_identity(player=player, actor=operator, reason="typo", address_city="Berlin")
    assert updated.address_city == "Berlin"
    assert updated.history.latest().history_user == operator
    with pytest.raises(ValidationFailed):
        services.player_update_identity(player=player, actor=operator, reason="sneaky", currency="USD")


def test_set_test_flag_is_audited_and_idempotent(player, staff_user):
    operator = staff_user("operator")
    flagged = services.player_set_test_flag(player=player, actor=operator, is_test_player=True, reason="QA account")
    assert flagged.is_test_player is True
    count = flagged.history.count()
    services.player_set_test_flag(player=flagged, actor=operator, is_test_player=True, reason="again")
    assert flagged.history.count() == count


def test_tokens_issue_for_active_suspended_and_self_excluded_but_not_closed(make_player):
    active = make_player()
    suspended = services.player_suspend(player=make_player(), actor=None, reason="x")
    excluded = services.player_self_exclude(player=make_player(), actor=None, reason="x")
    closed = services.player_close(player=make_player(), actor=None, reason="x")
    for player in (active, suspended, excluded):
        pair = services.auth_tokens_issue(user=player.user)
        assert pair.access and pair.refresh
    with pytest.raises(AccountBlocked):
        services.auth_tokens_issue(user=closed.user)


def test_refresh_spends_the_token_once(player):
    pair = services.auth_tokens_issue(user=player.user)
    rotated = services.auth_token_refresh(refresh=pair.refresh)
    assert rotated.refresh != pair.refresh
    with pytest.raises(TokenInvalid):
        services.auth_token_refresh(refresh=pair.refresh)
    services.auth_token_refresh(refresh=rotated.refresh)


def test_refresh_refuses_an_unrecorded_token(player):
    token = RefreshToken.for_user(player.user)
    OutstandingToken.objects.filter(jti=token["jti"]).delete()
    with pytest.raises(TokenInvalid):
        services.auth_token_refresh(refresh=str(token))


def test_refresh_refuses_an_inactive_login(player):
    pair = services.auth_tokens_issue(user=player.user)
    User.objects.filter(pk=player.user_id).update(is_active=False)
    with pytest.raises(TokenInvalid):
        services.auth_token_refresh(refresh=pair.refresh)


def test_logout_blacklists_and_second_logout_is_refused(player):
    pair = services.auth_tokens_issue(user=player.user)
    services.auth_logout(refresh=pair.refresh)
    assert BlacklistedToken.objects.filter(token__user=player.user).count() == 1
    with pytest.raises(TokenInvalid):
        services.auth_logout(refresh=pair.refresh)


def test_closing_revokes_every_live_refresh_token(player):
    pairs = [services.auth_tokens_issue(user=player.user) for _ in range(3)]
    services.player_close(player=player, actor=None, reason="closed")
    assert BlacklistedToken.objects.filter(token__user=player.user).count() == 3
    for pair in pairs:
        with pytest.raises(TokenInvalid):
            services.auth_token_refresh(refresh=pair.refresh)
