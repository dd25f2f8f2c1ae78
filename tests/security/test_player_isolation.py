"""A player reaches only their own data: another player's ids and tokens, and tokens that are not ours.

API.md: "a player only ever sees and changes their own data (there is no player id in player paths)".
The paths that do carry an id (a withdrawal, a game session) must answer 404 for another player's id,
exactly as for an id that does not exist, so ids cannot be probed (OWASP API1:2023, broken object
level authorization). Tokens: an expired, a forged (wrong key), an `alg=none` and a refresh token used
as an access token are all 401 `token_invalid`, and nothing is done (OWASP API2:2023).
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from decimal import Decimal

import jwt
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from apps.core.money import Money
from apps.games.models import Game, GameSession, Round
from apps.games.seed import seed_demo_games
from apps.games.services import session_open
from apps.ledger.selectors import wallet_balances
from apps.payments.models import Withdrawal
from apps.payments.services import deposit_create, withdrawal_request

pytestmark = pytest.mark.django_db


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def access_for(player) -> str:
    return str(RefreshToken.for_user(player.user).access_token)


@pytest.fixture
def kyc_approved(monkeypatch):
    from apps.kyc import selectors as kyc_selectors

    monkeypatch.setattr(kyc_selectors, "kyc_is_approved", lambda *, player: True)


@pytest.fixture
def two_players(make_player, kyc_approved):
    """Alice (the attacker) and Bob (the victim), Bob with a pending withdrawal and an open dice session."""
    if not Game.objects.filter(slug="dice").exists():
        seed_demo_games()
    alice, bob = make_player(), make_player()
    for who in (alice, bob):
        deposit_create(player=who, amount=eur("50.00"), method="sandbox", idempotency_key=f"sec-dep-{who.pk}")
    withdrawal = withdrawal_request(player=bob, amount=eur("20.00"), idempotency_key="sec-wd-bob")
    session = session_open(player=bob, game=Game.objects.get(slug="dice"))
    return alice, bob, withdrawal, session


def test_another_players_ids_answer_404_like_ids_that_do_not_exist(two_players):
    alice, bob, withdrawal, session = two_players
    client = client_with(access_for(alice))
    missing = 10**9
    attempts = [
        ("post", f"/api/v1/wallet/withdrawals/{withdrawal.pk}/cancel", {}, f"/api/v1/wallet/withdrawals/{missing}/cancel"),
        ("post", f"/api/v1/game-sessions/{session.pk}/rounds", {"stake": "1.00"}, f"/api/v1/game-sessions/{missing}/rounds"),
        ("get", f"/api/v1/game-sessions/{session.pk}/rounds", None, f"/api/v1/game-sessions/{missing}/rounds"),
        ("post", f"/api/v1/game-sessions/{session.pk}/close", {}, f"/api/v1/game-sessions/{missing}/close"),
    ]
    for method, path, body, missing_path in attempts:
        kwargs = {"format": "json", "HTTP_IDEMPOTENCY_KEY": "sec-attempt"} if method == "post" else {}
        theirs = getattr(client, method)(path, body, **kwargs)
        nobody = getattr(client, method)(missing_path, body, **kwargs)
        assert theirs.status_code == nobody.status_code == 404, (path, theirs.status_code, theirs.content)
        assert theirs.json() == nobody.json() and theirs.json()["error"]["code"] == "not_found"
    # Nothing of Bob's moved: the withdrawal is still requested, no round was played, the session is open.
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "requested"
    assert GameSession.objects.get(pk=session.pk).status == "open"
    assert not Round.objects.filter(session_id=session.pk).exists()
    assert wallet_balances(player=bob).cash == eur("30.00") and wallet_balances(player=alice).cash == eur("50.00")


def test_player_reads_answer_only_the_callers_own_data(two_players):
    alice, bob, _, _ = two_players
    client = client_with(access_for(alice))
    me = client.get("/api/v1/me").json()
    assert me["email"] == alice.user.email
    wallet = client.get("/api/v1/wallet").json()
    assert wallet["cash"] == "50.00" and wallet["held"] == "0.00"  # Bob's hold of 20.00 is not Alice's
    transactions = client.get("/api/v1/wallet/transactions").json()["results"]
    assert [t["amount"] for t in transactions] == ["50.00"]
    # A ?player= or player_id in the query or body is not a way in: it is ignored.
    assert client.get(f"/api/v1/wallet?player={bob.pk}&player_id={bob.pk}").json() == wallet


def test_another_players_refresh_token_logs_out_only_that_token_and_never_grants_the_callers_session(two_players):
    """A refresh token is a bearer secret: whoever holds Bob's can use it (as with any bearer token), but holding it
    never gives Alice's access token Bob's data, and Alice's access token cannot revoke Bob's token without it."""
    alice, bob, _, _ = two_players
    bob_refresh = str(RefreshToken.for_user(bob.user))
    alice_client = client_with(access_for(alice))
    # Alice's access token as a refresh token: refused.
    refused = APIClient().post("/api/v1/auth/token/refresh", {"refresh": access_for(alice)}, format="json")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_invalid"
    # Bob's refresh token still works after Alice called /me and /wallet with her own token.
    alice_client.get("/api/v1/me")
    rotated = APIClient().post("/api/v1/auth/token/refresh", {"refresh": bob_refresh}, format="json")
    assert rotated.status_code == 200
    assert client_with(rotated.json()["access"]).get("/api/v1/me").json()["email"] == bob.user.email


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _bad_tokens(player) -> dict[str, str]:
    good = AccessToken.for_user(player.user)
    claims = dict(good.payload)
    return {
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "alg_none_upper": f"{_b64({'alg': 'NONE', 'typ': 'JWT'})}.{_b64(claims)}.",
        "forged_key": jwt.encode(claims, "not-the-signing-key-" + "x" * 40, algorithm="HS256"),
        "tampered_user": jwt.encode({**claims, "user_id": str(10**9)}, "wrong-key-" + "y" * 40, algorithm="HS256"),
        "hs512_wrong_key": jwt.encode(claims, "k" * 64, algorithm="HS512"),
        "refresh_as_access": str(RefreshToken.for_user(player.user)),
        "truncated": str(good)[:-5],
        "garbage": "not.a.jwt",
    }


@pytest.mark.parametrize(
    "kind", ["alg_none", "alg_none_upper", "forged_key", "tampered_user", "hs512_wrong_key", "refresh_as_access", "truncated", "garbage"]
)
def test_forged_tokens_are_401_token_invalid_and_do_nothing(player, kind):
    token = _bad_tokens(player)[kind]
    client = client_with(token)
    for method, path in (("get", "/api/v1/me"), ("get", "/api/v1/wallet"), ("post", "/api/v1/wallet/deposits")):
        kwargs = {"format": "json", "HTTP_IDEMPOTENCY_KEY": f"forged-{kind}"} if method == "post" else {}
        response = getattr(client, method)(path, {"amount": "10.00", "method": "sandbox"} if method == "post" else None, **kwargs)
        assert response.status_code == 401, (kind, path, response.status_code)
        assert response.json()["error"]["code"] == "token_invalid"
    assert wallet_balances(player=player).cash == eur("0.00")


def test_an_expired_access_token_is_401_and_a_fresh_one_works(player):
    token = access_for(player)
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    with time_machine.travel(timezone.now() + lifetime + timedelta(seconds=5)):
        response = client_with(token).get("/api/v1/me")
    assert response.status_code == 401 and response.json()["error"]["code"] == "token_invalid"
    assert client_with(token).get("/api/v1/me").status_code == 200


def test_an_expired_refresh_token_is_refused(player):
    refresh = str(RefreshToken.for_user(player.user))
    lifetime = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    with time_machine.travel(timezone.now() + lifetime + timedelta(seconds=5)):
        response = APIClient().post("/api/v1/auth/token/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 401 and response.json()["error"]["code"] == "token_invalid"


def test_a_token_of_a_suspended_or_deleted_user_no_longer_reaches_data(make_player):
    player = make_player()
    token = access_for(player)
    player.user.is_active = False
    player.user.save(update_fields=["is_active"])
    response = client_with(token).get("/api/v1/wallet")
    assert response.status_code == 401


def test_staff_tokens_do_not_reach_player_money(staff_user):
    """A member of staff has no player profile: the player endpoints refuse them instead of acting on some player."""
    user = staff_user("operator")
    client = client_with(str(RefreshToken.for_user(user).access_token))
    body = {"amount": "10.00", "method": "sandbox"}
    deposit = client.post("/api/v1/wallet/deposits", body, format="json", HTTP_IDEMPOTENCY_KEY="staff-dep")
    assert deposit.status_code in (403, 404) and "error" in deposit.json()
    assert GameSession.objects.count() == 0 and Withdrawal.objects.count() == 0
