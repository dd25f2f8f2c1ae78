"""Provably fair sessions and rounds through the API (API.md "Games")."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.games import services
from apps.games.models import GameSession, Round, SessionStatus
from apps.games.verify import verify_session
from apps.ledger.models import LedgerTransaction
from apps.ledger.selectors import wallet_balances
from apps.limits import services as limits_services
from conftest import client_for

from .conftest import eur

pytestmark = pytest.mark.django_db


def _open(client, slug="dice", **body):
    response = client.post(f"/api/v1/games/{slug}/sessions", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _round(client, session_id, body, key):
    return client.post(f"/api/v1/game-sessions/{session_id}/rounds", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_the_catalog_lists_in_house_games_with_stakes_in_the_players_currency(player_client, house_games):
    response = player_client.get("/api/v1/games")
    assert response.status_code == 200
    dice = next(g for g in response.json()["results"] if g["slug"] == "dice")
    assert dice == {"slug": "dice", "name": "Dice", "kind": "dice", "provider": "house", "provider_game_code": "", "rtp": "99.00",
                    "min_stake": "0.10", "max_stake": "100.00", "enabled": True}


def test_a_session_commits_to_its_seed_and_a_round_moves_stake_and_payout_atomically(player_client, fund, house_games):
    player = player_client.player
    fund(player, "50.00")
    session = _open(player_client, client_seed="my-lucky-seed")
    assert set(session) == {"id", "game", "server_seed_hash", "client_seed", "nonce", "rtp", "status"}
    assert (session["client_seed"], session["nonce"], session["status"], session["rtp"]) == ("my-lucky-seed", 0, "open", "99.00")

    response = _round(player_client, session["id"], {"stake": "10.00", "target": "50.00", "direction": "over"}, "r-1")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["nonce"] == 0 and body["rtp"] == "99.00" and body["server_seed_hash"] == session["server_seed_hash"]
    assert body["server_seed"] is None  # not before close
    payout = Decimal(body["payout"])
    assert payout == (Decimal("19.80") if body["outcome"]["win"] else Decimal("0.00"))
    assert Decimal(body["balance"]) == Decimal("40.00") + payout == wallet_balances(player=player).cash.amount
    kinds = sorted(LedgerTransaction.objects.filter(reference=f"game-round:{session['id']}:0").values_list("kind", flat=True))
    assert kinds == (["bet", "win"] if body["outcome"]["win"] else ["bet"])


def test_a_retried_round_answers_the_same_and_moves_nothing(player_client, fund, house_games):
    player = player_client.player
    fund(player, "50.00")
    session = _open(player_client)
    first = _round(player_client, session["id"], {"stake": "1.00"}, "same-key")
    again = _round(player_client, session["id"], {"stake": "1.00"}, "same-key")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert Round.objects.filter(session_id=session["id"]).count() == 1
    conflict = _round(player_client, session["id"], {"stake": "2.00"}, "same-key")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency_conflict"
    missing = player_client.post(f"/api/v1/game-sessions/{session['id']}/rounds", {"stake": "1.00"}, format="json")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("roulette", [False, True], ids=["dice", "roulette"])
def test_a_rounds_answer_is_roundout_field_for_field_in_order_open_and_closed(player_client, fund, house_games, roulette):
    """The view builds the round's body by hand (apps.games.api._round_body, for speed): it must stay RoundOut's, key
    order included (a replay returns the stored text), whether the session is open or closed (the seed shown)."""
    import json

    from apps.games.api import RoundOut, _round_body

    fund(player_client.player, "50.00")
    session = _open(player_client, "roulette" if roulette else "dice")
    body = {"stake": "1.00", "bet": "straight", "number": 7} if roulette else {"stake": "1.00", "target": "2.00"}
    response = _round(player_client, session["id"], body, "pinned")
    assert response.status_code == 201, response.content
    round_ = Round.objects.select_related("session").get(session_id=session["id"])

    def serialized() -> dict:
        expected = dict(RoundOut(round_).data)
        expected["stake"], expected["payout"] = str(round_.stake), str(round_.payout)
        return expected

    assert list(response.json().items()) == list(json.loads(json.dumps(serialized())).items())
    assert list(_round_body(round_).items()) == list(serialized().items())
    services.session_close(player=player_client.player, session_id=session["id"])
    round_ = Round.objects.select_related("session").get(session_id=session["id"])
    closed = _round_body(round_)
    assert closed["server_seed"] == round_.session.server_seed and closed["server_seed"]
    assert list(closed.items()) == list(serialized().items())


@pytest.mark.parametrize("stake", ["0.09", "100.01"])
def test_a_stake_outside_the_games_range_is_422_and_moves_nothing(player_client, fund, house_games, stake):
    fund(player_client.player, "500.00")
    session = _open(player_client)
    response = _round(player_client, session["id"], {"stake": stake}, "k")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "stake_out_of_range"
    assert response.json()["error"]["details"] == {"min_stake": "0.10", "max_stake": "100.00"}
    assert wallet_balances(player=player_client.player).cash == eur("500.00")
    assert GameSession.objects.get(pk=session["id"]).nonce == 0


def test_not_enough_money_is_422_and_leaves_no_round(player_client, fund, house_games):
    fund(player_client.player, "0.50")
    session = _open(player_client)
    response = _round(player_client, session["id"], {"stake": "1.00"}, "k")
    assert response.status_code == 422 and response.json()["error"]["code"] == "insufficient_funds"
    assert not Round.objects.exists() and wallet_balances(player=player_client.player).cash == eur("0.50")


def test_another_players_session_is_not_found(player_client, make_player, fund, house_games):
    session = _open(player_client)
    intruder = make_player()
    fund(intruder, "10.00")
    other = client_for(intruder)
    assert _round(other, session["id"], {"stake": "1.00"}, "k").status_code == 404
    assert other.post(f"/api/v1/game-sessions/{session['id']}/close").status_code == 404
    assert other.get(f"/api/v1/game-sessions/{session['id']}/rounds").status_code == 404
    assert wallet_balances(player=intruder).cash == eur("10.00")


def test_close_reveals_the_seed_and_a_closed_session_refuses_rounds(player_client, fund, house_games):
    fund(player_client.player, "20.00")
    session = _open(player_client, "roulette")
    for n in range(3):
        assert _round(player_client, session["id"], {"stake": "1.00", "bet": "straight", "number": n}, f"k{n}").status_code == 201
    closed = player_client.post(f"/api/v1/game-sessions/{session['id']}/close")
    assert closed.status_code == 200
    body = closed.json()
    assert body["status"] == "closed" and body["nonce"] == 3
    assert hashlib.sha256(body["server_seed"].encode()).hexdigest() == session["server_seed_hash"]

    refused = _round(player_client, session["id"], {"stake": "1.00"}, "after-close")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "invalid_state"
    assert player_client.post(f"/api/v1/game-sessions/{session['id']}/close").status_code == 409

    listed = player_client.get(f"/api/v1/game-sessions/{session['id']}/rounds").json()["results"]
    assert [r["nonce"] for r in listed] == [2, 1, 0]
    assert all(r["server_seed"] == body["server_seed"] and r["client_seed"] == session["client_seed"] for r in listed)


def test_an_open_session_keeps_its_rtp_after_a_change_and_each_round_records_it(player_client, fund, house_games, staff_user):
    fund(player_client.player, "20.00")
    before = _open(player_client)
    services.game_rtp_set(game=house_games["dice"], rtp=Decimal("95.00"), actor=staff_user(superuser=True), reason="test")
    after = _open(player_client)
    old = _round(player_client, before["id"], {"stake": "1.00"}, "a").json()
    new = _round(player_client, after["id"], {"stake": "1.00"}, "b").json()
    assert (before["rtp"], old["rtp"]) == ("99.00", "99.00")
    assert (after["rtp"], new["rtp"]) == ("95.00", "95.00")
    assert old["outcome"]["multiplier"] == "1.9801" and new["outcome"]["multiplier"] == "1.9001"


def test_self_exclusion_closes_open_sessions_and_refuses_play(player_client, fund, house_games, django_capture_on_commit_callbacks):
    player = player_client.player
    fund(player, "20.00")
    session = _open(player_client)
    with django_capture_on_commit_callbacks(execute=True):
        limits_services.self_exclusion_start(player=player, months=6)
    assert GameSession.objects.get(pk=session["id"]).status == SessionStatus.CLOSED
    response = player_client.post("/api/v1/games/dice/sessions", {}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "self_excluded"


def test_a_time_out_closes_open_sessions(player_client, house_games, django_capture_on_commit_callbacks):
    session = _open(player_client)
    with django_capture_on_commit_callbacks(execute=True):
        limits_services.timeout_start(player=player_client.player, hours=24)
    closed = GameSession.objects.get(pk=session["id"])
    assert closed.status == SessionStatus.CLOSED and "timeout" in closed.close_reason


def test_the_verifier_passes_an_honest_session_and_catches_a_forged_round(player, fund, house_games):
    fund(player, "50.00")
    for slug in ("dice", "roulette", "fruit-slot"):
        session = services.session_open(player=player, game=house_games[slug])
        for n in range(5):
            services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key=f"{slug}-{n}")
        with pytest.raises(CommandError):
            call_command("verify_rounds", str(session.pk), stdout=StringIO(), stderr=StringIO())  # still open: seed not revealed
        services.session_close(player=player, session_id=session.pk)
        out = StringIO()
        call_command("verify_rounds", str(session.pk), stdout=out)
        assert "all 5 round(s) verified" in out.getvalue()

    forged = Round.objects.filter(session=session).order_by("nonce")[2]
    Round.objects.filter(pk=forged.pk).update(payout_minor=forged.payout_minor + 500)
    result = verify_session(session.pk)
    assert not result.ok and len(result.mismatches) == 1 and "nonce 2" in result.mismatches[0]
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_rounds", str(session.pk), stdout=StringIO(), stderr=err)
    assert "payout" in err.getvalue()


def test_a_suspended_player_cannot_open_a_session(player_client, house_games, staff_user):
    from apps.players.services import player_suspend

    player_suspend(player=player_client.player, actor=staff_user(superuser=True), reason="test")
    response = player_client.post("/api/v1/games/dice/sessions", {}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "account_blocked"


def test_bad_choices_and_client_seed_are_validation_errors(player_client, fund, house_games):
    fund(player_client.player, "5.00")
    bad_seed = player_client.post("/api/v1/games/dice/sessions", {"client_seed": "a:b"}, format="json")
    assert bad_seed.status_code == 400
    session = _open(player_client)
    response = _round(player_client, session["id"], {"stake": "1.00", "target": "150"}, "k")
    assert response.status_code == 400 and "target" in response.json()["error"]["details"]
    assert player_client.post("/api/v1/games/no-such-game/sessions", {}, format="json").status_code == 404


def test_the_service_refuses_a_key_reused_for_another_stake(player, fund, house_games):
    from apps.core.errors import IdempotencyConflict

    fund(player, "10.00")
    session = services.session_open(player=player, game=house_games["dice"])
    first = services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="k")
    again = services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="k")
    assert again.pk == first.pk and again.replayed and not first.replayed
    with pytest.raises(IdempotencyConflict):
        services.round_play(player=player, session_id=session.pk, stake=eur("2.00"), choices={}, idempotency_key="k")
    assert Round.objects.count() == 1
