"""A forged provider signature on each protocol and each operation: refused, nothing done, nothing told.

A provider call moves money with no player session: the signature is the only proof that the
provider sent it (API.md: generic HMAC-SHA256 over the raw body, 401 with nothing done; Caleta
RSA-SHA256 verified with the registered public key, RS_ERROR_INVALID_SIGNATURE). Forgeries tried:
none, the wrong secret or key, a valid signature of another body (a replayed header with a changed
amount), and another provider's valid signature on this provider's path.
"""

from __future__ import annotations

import json
import uuid

import pytest
from rest_framework.test import APIClient

from apps.games import crypto, services
from apps.games.models import ProviderTransaction
from apps.games.services import provider_key_set
from apps.games.tests.conftest import caleta_keys, caleta_provider, generic_provider  # noqa: F401 - fixtures
from apps.ledger.models import LedgerTransaction
from apps.ledger.selectors import wallet_balances

pytestmark = pytest.mark.django_db

GENERIC_OPERATIONS = ("balance", "bet", "win", "rollback")
CALETA_OPERATIONS = ("check", "balance", "bet", "win", "rollback")


def _nothing_moved(player, cash_before) -> None:
    assert wallet_balances(player=player).cash == cash_before
    assert not ProviderTransaction.objects.exists()
    assert LedgerTransaction.objects.exclude(kind="deposit").count() == 0


def _generic_body(player, operation: str) -> dict:
    body = {"player_id": str(player.public_id), "currency": "EUR"}
    if operation != "balance":
        body |= {"round_id": "r1", "transaction_id": f"{operation}-1"}
    if operation in ("bet", "win"):
        body["amount"] = "5.00"
    if operation == "rollback":
        body["rolled_back_transaction_id"] = "bet-1"
    return body


@pytest.mark.parametrize("operation", GENERIC_OPERATIONS)
def test_generic_protocol_refuses_every_forged_signature(generic_provider, player, fund, operation):  # noqa: F811
    fund(player, "100.00")
    cash = wallet_balances(player=player).cash
    other_secret = "another-providers-secret-" + "z" * 20
    provider_key_set(code="rival", secret=other_secret)
    body = _generic_body(player, operation)
    raw = json.dumps(body).encode()
    other_body = json.dumps({**body, "amount": "0.01"}).encode()
    forgeries = {
        "missing": None,
        "empty": "",
        "wrong_secret": crypto.hmac_hex("not-the-secret-" + "q" * 30, raw),
        "other_body": crypto.hmac_hex(generic_provider.secret, other_body),
        "other_provider": crypto.hmac_hex(other_secret, raw),
        "not_hex": "zz" * 32,
        "truncated": crypto.hmac_hex(generic_provider.secret, raw)[:-2],
    }
    client = APIClient()
    for name, signature in forgeries.items():
        headers = {} if signature is None else {"HTTP_X_SIGNATURE": signature}
        path = f"/api/v1/providers/{generic_provider.provider.code}/{operation}"
        response = client.post(path, raw, content_type="application/json", **headers)
        assert response.status_code == 401, (operation, name, response.status_code)
        assert set(response.json()["error"]) == {"code", "message", "details"}
        assert "balance" not in response.json()  # a forger learns nothing about the wallet
    _nothing_moved(player, cash)
    # The genuine signature is accepted: the refusals above were the signature's doing.
    genuine = client.post(f"/api/v1/providers/{generic_provider.provider.code}/{operation}", raw, content_type="application/json",
                          HTTP_X_SIGNATURE=crypto.hmac_hex(generic_provider.secret, raw))
    assert genuine.status_code != 401, genuine.content  # a win with no bet is a 404 of its own


def _caleta_body(player, token: str, operation: str) -> dict:
    if operation == "check":
        return {"token": token, "game_code": "clt_fruits"}
    body = {"token": token, "request_uuid": str(uuid.uuid4()), "user": str(player.public_id), "game_code": "clt_fruits", "currency": "EUR"}
    if operation in ("bet", "win", "rollback"):
        body |= {"transaction_uuid": f"{operation}-1", "round": "r1"}
    if operation in ("bet", "win"):
        body |= {"amount": 500_000, "round_closed": operation == "win"}
    if operation in ("win", "rollback"):
        body["reference_transaction_uuid"] = "bet-1"
    return body


@pytest.mark.parametrize("operation", CALETA_OPERATIONS)
def test_caleta_protocol_refuses_every_forged_signature(caleta_provider, player, fund, operation):  # noqa: F811
    fund(player, "100.00")
    cash = wallet_balances(player=player).cash
    token = services.launch_create(player=player, game=caleta_provider.game).token
    body = _caleta_body(player, token, operation)
    raw = json.dumps(body).encode()
    other_key = crypto.rsa_keypair()[0]
    forgeries = {
        "missing": None,
        "empty": "",
        "other_key": crypto.rsa_sign(other_key, raw),
        "other_body": crypto.rsa_sign(caleta_provider.private_pem, json.dumps({**body, "amount": 1}).encode()),
        "not_base64": "%%%not-base64%%%",
        "hmac_instead_of_rsa": crypto.hmac_hex("secret", raw),
    }
    client = APIClient()
    for name, signature in forgeries.items():
        headers = {} if signature is None else {"HTTP_X_AUTH_SIGNATURE": signature}
        response = client.post(f"/api/v1/providers/caleta/wallet/{operation}", raw, content_type="application/json", **headers)
        refused = response.status_code == 200 and response.json() == {"status": "RS_ERROR_INVALID_SIGNATURE"}
        assert refused, (operation, name, response.content)
    _nothing_moved(player, cash)
    genuine = client.post(f"/api/v1/providers/caleta/wallet/{operation}", raw, content_type="application/json",
                          HTTP_X_AUTH_SIGNATURE=crypto.rsa_sign(caleta_provider.private_pem, raw))
    assert genuine.json()["status"] != "RS_ERROR_INVALID_SIGNATURE", genuine.content
