"""The operator's admin (changes with a reason, nothing secret shown), provider_key, and the demo seed."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.games import crypto, services
from apps.games.models import Game, Provider
from apps.games.seed import seed_demo_games

pytestmark = pytest.mark.django_db


def _change_form(game: Game, **overrides) -> dict:
    data = {"name": game.name, "enabled": "on", "rtp": str(game.rtp), "volatility": game.volatility,
            "stake_limits": '{"EUR": {"min": 10, "max": 5000}}', "reason": "Lower max stake for the launch"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_an_operator_changes_rtp_and_limits_in_the_admin_with_a_reason(client, staff_user, house_games):
    operator = staff_user("operator")
    client.force_login(operator)
    game = house_games["dice"]
    url = reverse("admin:games_game_change", args=[game.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, _change_form(game, rtp="97.00"))
    assert response.status_code == 302, response.content
    game.refresh_from_db()
    assert game.rtp == Decimal("97.00") and game.stake_limits == {"EUR": {"min": 10, "max": 5000}}
    latest = game.history.first()
    assert latest.history_user == operator and latest.history_change_reason == "Lower max stake for the launch"


@pytest.mark.parametrize("overrides", [{"reason": ""}, {"rtp": "70.00"}, {"stake_limits": '{"EUR": {"min": 0, "max": 5}}'}])
def test_the_admin_refuses_a_change_without_reason_or_out_of_range(client, staff_user, house_games, overrides):
    client.force_login(staff_user("operator"))
    game = house_games["dice"]
    response = client.post(reverse("admin:games_game_change", args=[game.pk]), _change_form(game, **overrides))
    assert response.status_code == 200  # the form again, with its errors
    game.refresh_from_db()
    assert game.rtp == Decimal("99.00") and game.history.count() == 1


@pytest.mark.parametrize("role", ["compliance", "support"])
def test_other_roles_only_read_the_catalog(client, staff_user, house_games, role):
    client.force_login(staff_user(role))
    game = house_games["dice"]
    url = reverse("admin:games_game_change", args=[game.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, _change_form(game, rtp="90.00")).status_code == 403
    game.refresh_from_db()
    assert game.rtp == Decimal("99.00")


def test_the_admin_never_shows_a_provider_secret_or_an_open_sessions_seed(client, staff_user, generic_provider, player, house_games):
    client.force_login(staff_user(superuser=True))
    provider = generic_provider.provider
    page = client.get(reverse("admin:games_provider_change", args=[provider.pk])).content.decode()
    assert generic_provider.secret not in page and provider.secret_encrypted not in page
    history = client.get(reverse("admin:games_provider_history", args=[provider.pk])).content.decode()
    assert provider.secret_encrypted not in history

    session = services.session_open(player=player, game=house_games["dice"])
    for view in ("change", "history"):
        page = client.get(reverse(f"admin:games_gamesession_{view}", args=[session.pk])).content.decode()
        assert session.server_seed not in page
    services.session_close(player=player, session_id=session.pk)
    assert session.server_seed in client.get(reverse("admin:games_gamesession_change", args=[session.pk])).content.decode()


def test_provider_key_registers_and_rotates_a_secret_kept_encrypted(tmp_path):
    out = StringIO()
    call_command("provider_key", "newco", "--secret", "s" * 40, stdout=out)
    assert "registered (new provider)" in out.getvalue()
    provider = Provider.objects.get(code="newco")
    assert provider.protocol == "generic" and "s" * 40 not in provider.secret_encrypted
    assert crypto.secret_decrypt(provider.secret_encrypted) == "s" * 40
    call_command("provider_key", "newco", "--secret", "t" * 40, stdout=StringIO())
    provider.refresh_from_db()
    assert crypto.secret_decrypt(provider.secret_encrypted) == "t" * 40
    with pytest.raises(CommandError):
        call_command("provider_key", "newco", "--secret", "short", stdout=StringIO())
    pem = tmp_path / "key.pem"
    pem.write_text(crypto.rsa_keypair()[1])
    with pytest.raises(CommandError):  # a generic provider signs with a secret, not an RSA key
        call_command("provider_key", "newco", "--public-key", str(pem), stdout=StringIO())


def test_provider_key_registers_an_rsa_public_key_and_refuses_garbage(tmp_path):
    pem = tmp_path / "key.pem"
    pem.write_text(crypto.rsa_keypair()[1])
    call_command("provider_key", "caleta", "--public-key", str(pem), stdout=StringIO())
    provider = Provider.objects.get(code="caleta")
    assert provider.protocol == "caleta" and provider.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(CommandError):
        call_command("provider_key", "caleta", "--public-key", str(bad), stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("provider_key", "caleta", "--public-key", str(tmp_path / "missing.pem"), stdout=StringIO())


def test_the_demo_seed_is_idempotent_and_registers_both_protocols():
    first = seed_demo_games()
    second = seed_demo_games()
    assert "7 games" in first and "4 games and 2 providers new" not in second and "0 games and 0 providers new" in second
    assert set(Game.objects.filter(provider__isnull=True).values_list("slug", flat=True)) == {"dice", "roulette", "fruit-slot"}
    assert {p.protocol for p in Provider.objects.all()} == {"generic", "caleta"}
    assert all(p.has_key for p in Provider.objects.all())


def test_launch_issues_a_token_and_url_for_provider_games_only(player_client, caleta_provider, house_games):
    response = player_client.post(f"/api/v1/games/{caleta_provider.game.slug}/launch")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "url", "expires_at"} and body["token"] in body["url"]
    assert player_client.post("/api/v1/games/dice/launch").status_code == 404


def test_launch_is_refused_like_a_round(player_client, caleta_provider):
    from apps.limits import services as limits_services

    limits_services.timeout_start(player=player_client.player, hours=24)
    response = player_client.post(f"/api/v1/games/{caleta_provider.game.slug}/launch")
    assert response.status_code == 403 and response.json()["error"]["code"] == "self_excluded"


def test_an_operator_edits_a_provider_with_a_reason_and_the_key_stays(client, staff_user, generic_provider):
    operator = staff_user("operator")
    client.force_login(operator)
    provider = generic_provider.provider
    before = provider.secret_encrypted
    url = reverse("admin:games_provider_change", args=[provider.pk])
    data = {"name": "Acme Gaming", "enabled": "on", "currencies": '["EUR", "USD"]', "launch_url": "https://games.acme.test/launch",
            "reason": "Contract signed"}
    assert client.post(url, data).status_code == 302
    provider.refresh_from_db()
    assert (provider.name, provider.currencies, provider.secret_encrypted) == ("Acme Gaming", ["EUR", "USD"], before)
    assert provider.history.first().history_user == operator
    client.force_login(staff_user("compliance"))
    assert client.post(url, {**data, "name": "Hijacked"}).status_code == 403


def test_dice_is_always_in_the_catalog_from_the_first_migrate():
    """API.md: dice is always in the catalog. The migration registered it, with a history row."""
    dice = Game.objects.get(slug="dice")
    assert dice.provider is None and dice.kind == "dice" and dice.enabled
    assert dice.history.filter(history_type="+").exists()
    assert set(Game.objects.filter(provider__isnull=True).values_list("slug", flat=True)) >= {"dice", "roulette", "fruit-slot"}
