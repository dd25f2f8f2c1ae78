"""The WebSockets against the Redis channel layer of the test settings (config/settings/test.py).

Transactional tests (transaction=True): a push happens after COMMIT, so the postings here really commit.
Each test runs one async scenario (async_to_sync); database work runs in a worker thread
(database_sync_to_async), as a sync view's would under the ASGI server, and its after-commit push goes
through the same channel layer the sockets listen on.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from apps.backoffice import realtime
from apps.core.money import Money
from config.asgi import application
from conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://testserver")
_keys = itertools.count(1)


class Rollback(Exception):
    pass


@pytest.fixture(autouse=True)
def _fresh_backoff():
    realtime.reset_backoff()
    yield
    realtime.reset_backoff()


@pytest.fixture(autouse=True)
def _fresh_wallet_batcher(monkeypatch):
    """Each test's batcher is built from its own settings."""
    monkeypatch.setattr(realtime, "_wallet_batcher", None)


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """A channel layer of this test's own: channels-redis keeps asyncio locks bound to the loop that last waited on
    them, and a socket left receiving by an earlier test of the same process (a browser test's live server, in
    another loop, under pytest-xdist) would leave one locked for ever."""
    from channels.layers import channel_layers

    channel_layers.backends.pop("default", None)
    yield
    channel_layers.backends.pop("default", None)


def _token(player) -> str:
    return str(AccessToken.for_user(player.user))


def run(scenario) -> None:
    async_to_sync(scenario)()


async def _open(path: str, headers=(ORIGIN,)) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, path, headers=list(headers))
    connected, _ = await socket.connect(timeout=5)
    assert connected
    return socket


async def wallet_socket(player) -> tuple[WebsocketCommunicator, dict]:
    """A player's wallet socket, authenticated by ?token=, and the balance it gets on joining."""
    socket = await _open(f"/ws/wallet/?token={_token(player)}")
    return socket, await socket.receive_json_from(timeout=5)


async def refusal(socket: WebsocketCommunicator) -> tuple[str, int]:
    """(error code, close code) of a socket the server refuses after accepting it."""
    error = await socket.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["message"]
    closing = await socket.receive_output(timeout=5)
    assert closing["type"] == "websocket.close"
    return error["code"], closing["code"]


def _deposit(player, amount: str):
    from apps.ledger.services import deposit_post

    return deposit_post(
        player=player, amount=Money(Decimal(amount), player.currency), idempotency_key=f"rt:{next(_keys)}", reference="realtime-test"
    )


# --- the player's wallet -------------------------------------------------------------------------


def test_a_deposit_pushes_the_new_balance_to_that_players_socket_only_after_commit(make_player):
    anna, ben = make_player(), make_player()

    async def scenario():
        anna_socket, joined = await wallet_socket(anna)
        assert joined == {
            "type": "balance", "currency": "EUR", "cash": "0.00", "bonus": "0.00", "held": "0.00", "withdrawable": "0.00", "sequence": 0,
        }
        ben_socket, _ = await wallet_socket(ben)

        def deposit_then_look_before_commit():
            with transaction.atomic():
                _deposit(anna, "25.00")
                # Posted but not committed: nothing may have reached the socket yet.
                return async_to_sync(anna_socket.receive_nothing)(timeout=0.3)

        assert await database_sync_to_async(deposit_then_look_before_commit)() is True
        pushed = await anna_socket.receive_json_from(timeout=5)
        assert pushed["type"] == "balance"
        assert (pushed["cash"], pushed["bonus"], pushed["held"], pushed["withdrawable"]) == ("25.00", "0.00", "0.00", "25.00")
        assert pushed["sequence"] > 0
        assert await ben_socket.receive_nothing(timeout=0.3) is True
        await anna_socket.disconnect()
        await ben_socket.disconnect()

    run(scenario)


def test_a_rolled_back_posting_pushes_nothing_and_the_next_one_shows_only_committed_money(make_player):
    anna = make_player()

    async def scenario():
        socket, _ = await wallet_socket(anna)

        def rolled_back():
            with contextlib.suppress(Rollback), transaction.atomic():
                _deposit(anna, "10.00")
                raise Rollback

        await database_sync_to_async(rolled_back)()
        assert await socket.receive_nothing(timeout=0.5) is True
        await database_sync_to_async(_deposit)(anna, "3.00")
        assert (await socket.receive_json_from(timeout=5))["cash"] == "3.00"
        await socket.disconnect()

    run(scenario)


def test_the_api_deposit_and_a_withdrawal_request_push_cash_held_and_withdrawable(make_player, monkeypatch):
    from apps.kyc import selectors as kyc_selectors

    monkeypatch.setattr(kyc_selectors, "kyc_is_approved", lambda *, player: True)
    anna = make_player()
    api = client_for(anna)

    async def scenario():
        socket, _ = await wallet_socket(anna)
        post = database_sync_to_async(api.post)
        deposit = await post("/api/v1/wallet/deposits", {"amount": "50.00", "method": "sandbox"}, format="json", HTTP_IDEMPOTENCY_KEY="d-1")
        assert deposit.status_code == 201, deposit.content
        first = await socket.receive_json_from(timeout=5)
        assert (first["cash"], first["held"]) == ("50.00", "0.00")
        withdrawal = await post("/api/v1/wallet/withdrawals", {"amount": "20.00"}, format="json", HTTP_IDEMPOTENCY_KEY="w-1")
        assert withdrawal.status_code == 201, withdrawal.content
        second = await socket.receive_json_from(timeout=5)
        assert (second["cash"], second["held"], second["withdrawable"]) == ("30.00", "20.00", "30.00")
        assert second["sequence"] > first["sequence"]
        await socket.disconnect()

    run(scenario)


def test_the_token_may_come_as_the_first_message(make_player):
    anna = make_player()

    async def scenario():
        socket = await _open("/ws/wallet/")
        await socket.send_json_to({"token": _token(anna)})
        assert (await socket.receive_json_from(timeout=5))["type"] == "balance"
        await database_sync_to_async(_deposit)(anna, "1.00")
        assert (await socket.receive_json_from(timeout=5))["cash"] == "1.00"
        await socket.disconnect()

    run(scenario)


def _forged(player) -> str:
    header, payload, signature = _token(player).split(".")
    return f"{header}.{payload}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}"


def _expired(player) -> str:
    token = AccessToken.for_user(player.user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    return str(token)


@pytest.mark.parametrize(
    ("make_token", "expected"),
    [
        (lambda player: "not-a-jwt", ("token_invalid", 4401)),
        (_forged, ("token_invalid", 4401)),
        (_expired, ("token_invalid", 4401)),
        # A refresh token is not an access token (simplejwt's token type check).
        (lambda player: str(RefreshToken.for_user(player.user)), ("token_invalid", 4401)),
    ],
    ids=["garbage", "forged-signature", "expired", "refresh-token"],
)
def test_bad_tokens_are_refused_with_a_clear_close_code(make_player, make_token, expected):
    anna = make_player()
    token = make_token(anna)

    async def scenario():
        by_query = await _open(f"/ws/wallet/?token={token}")
        assert await refusal(by_query) == expected
        by_message = await _open("/ws/wallet/")
        await by_message.send_json_to({"token": token})
        assert await refusal(by_message) == expected

    run(scenario)


def test_a_socket_without_a_token_is_closed_after_the_auth_timeout(settings):
    settings.WS_AUTH_TIMEOUT_SECONDS = 0.1

    async def scenario():
        assert await refusal(await _open("/ws/wallet/")) == ("not_authenticated", 4408)

    run(scenario)


def test_an_open_socket_is_closed_when_its_token_expires(make_player):
    anna = make_player()
    token = AccessToken.for_user(anna.user)
    # exp is whole seconds (truncated): a 1 s lifetime left anything from 0 to 1 s, and on a busy machine the token had
    # expired before the socket's first balance (flaky). 3 s leaves at least 2 s to connect, then the test waits for it.
    token.set_exp(lifetime=timedelta(seconds=3))

    async def scenario():
        socket = await _open(f"/ws/wallet/?token={token}")
        assert (await socket.receive_json_from(timeout=5))["type"] == "balance"
        assert await refusal(socket) == ("token_invalid", 4401)

    run(scenario)


def test_a_refused_token_joins_no_group_so_later_postings_reach_nobody(make_player):
    anna = make_player()

    async def scenario():
        socket = await _open(f"/ws/wallet/?token={_forged(anna)}")
        await refusal(socket)
        await database_sync_to_async(_deposit)(anna, "5.00")
        assert await socket.receive_nothing(timeout=0.3) is True

    run(scenario)


def test_a_staff_token_has_no_wallet_and_a_malformed_first_message_is_refused(staff_user):
    operator = staff_user("operator")

    async def scenario():
        socket = await _open(f"/ws/wallet/?token={AccessToken.for_user(operator)}")
        assert await refusal(socket) == ("permission_denied", 4403)
        socket = await _open("/ws/wallet/")
        await socket.send_to(text_data="{not json")
        assert await refusal(socket) == ("validation_error", 4400)

    run(scenario)


def test_a_foreign_origin_and_an_unknown_path_are_refused(make_player):
    anna = make_player()

    async def scenario():
        foreign = WebsocketCommunicator(application, f"/ws/wallet/?token={_token(anna)}", headers=[(b"origin", b"https://evil.example")])
        connected, _ = await foreign.connect(timeout=5)
        assert connected is False
        unknown = await _open("/ws/nothing-here/")
        assert await refusal(unknown) == ("not_found", 4404)

    run(scenario)


def test_a_push_from_a_thread_running_an_event_loop_is_sent_as_a_task_of_that_loop(staff_user):
    operator = staff_user("operator")

    async def scenario():
        socket = await staff_socket(operator)
        await socket.receive_json_from(timeout=5)
        assert realtime.push_staff("withdrawal", {"id": 1}) is True  # sync code, called with this loop running
        assert await socket.receive_json_from(timeout=5) == {"type": "withdrawal", "id": 1}
        await socket.disconnect()

    run(scenario)


def test_redis_down_money_keeps_moving_and_the_failure_is_logged(make_player, settings, caplog):
    anna = make_player()
    # Nothing listens on port 1: the layer's connection is refused at once.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}}
    with caplog.at_level(logging.ERROR, logger="apps.backoffice.realtime"):
        _deposit(anna, "7.00")
        _deposit(anna, "8.00")  # within the pause: not even tried
    from apps.ledger.selectors import wallet_balances

    assert str(wallet_balances(player=anna).cash) == "15.00"
    errors = [r for r in caplog.records if r.name == "apps.backoffice.realtime" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and "could not push" in errors[0].getMessage()


def test_pushes_batched_in_the_background_check_presence_once_and_push_each_listened_wallet_once(make_player, monkeypatch):
    """REALTIME_PUSH_BATCH_SECONDS > 0 (production): the postings committed within the window share one presence
    check, from the batcher's thread; a wallet moved twice gets one push, of its latest balance; an unwatched one none."""
    from apps.core.batching import Batcher

    anna, ben = make_player(), make_player()
    checks: list[list[str]] = []
    sent: list[str] = []
    listened_groups, send = realtime._listened_groups, realtime._send
    monkeypatch.setattr(realtime, "_listened_groups", lambda groups: checks.append(list(groups)) or listened_groups(groups))
    monkeypatch.setattr(realtime, "_send", lambda group, message: sent.append(group) or send(group, message))
    monkeypatch.setattr(realtime, "_wallet_batcher", Batcher(realtime._push_wallets_in_background, 0.5, name="test-wallet-pushes"))

    async def scenario():
        socket, joined = await wallet_socket(anna)
        assert joined["cash"] == "0.00"

        def three_postings():
            _deposit(anna, "5.00")
            _deposit(ben, "6.00")
            _deposit(anna, "7.00")

        await database_sync_to_async(three_postings)()
        pushed = await socket.receive_json_from(timeout=5)
        assert pushed["cash"] == "12.00"
        assert await socket.receive_nothing(timeout=0.6) is True
        await socket.disconnect()

    run(scenario)
    assert checks == [[realtime.wallet_group(anna.pk), realtime.wallet_group(ben.pk)]]
    assert sent == [realtime.wallet_group(anna.pk)]


def test_with_pushing_off_the_receiver_reads_nothing(make_player, settings, django_assert_num_queries):
    anna = make_player()
    txn = _deposit(anna, "1.00")
    settings.REALTIME_PUSH = False
    with django_assert_num_queries(0):
        realtime.transaction_posted_receiver(sender=None, transaction_id=txn.pk)


def test_a_posting_nobody_listens_to_reads_no_balances_and_sends_nothing(make_player, monkeypatch, django_assert_num_queries):
    """The presence check (one Redis read) spares the balance query and the send when the player has no socket open;
    once a socket is in the player's group, the same posting's balance is read and pushed."""
    anna = make_player()
    sent: list[str] = []
    send = realtime._send
    monkeypatch.setattr(realtime, "_send", lambda group, message: sent.append(group) or send(group, message))
    txn = _deposit(anna, "4.00")
    sent.clear()
    with django_assert_num_queries(1):  # which wallets the posting touched; no balances
        realtime.transaction_posted_receiver(sender=None, transaction_id=txn.pk)
    assert sent == []

    async def scenario():
        socket, joined = await wallet_socket(anna)
        assert joined["cash"] == "4.00"
        await database_sync_to_async(realtime.transaction_posted_receiver)(sender=None, transaction_id=txn.pk)
        assert (await socket.receive_json_from(timeout=5))["sequence"] == joined["sequence"]
        await socket.disconnect()

    run(scenario)
    assert sent == [realtime.wallet_group(anna.pk)]


# --- the staff feed ------------------------------------------------------------------------------


def _session_cookie(user, otp_device=None) -> tuple[bytes, bytes]:
    """A logged-in admin session; with `otp_device`, one that has passed the second factor with it (as the
    2FA verify page leaves it: django_otp.login stores the device's persistent id in the session)."""
    client = Client()
    client.force_login(user)
    if otp_device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = otp_device.persistent_id
        session.save()
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def staff_socket(user, otp_device=None) -> WebsocketCommunicator:
    cookie = await database_sync_to_async(_session_cookie)(user, otp_device)
    return await _open("/ws/staff/", headers=(ORIGIN, cookie))


def test_the_staff_feed_refuses_visitors_players_and_roles_without_a_feed(staff_user, make_player):
    support = staff_user("support")
    player_user = make_player().user

    async def scenario():
        assert await refusal(await _open("/ws/staff/")) == ("not_authenticated", 4401)
        assert await refusal(await staff_socket(player_user)) == ("not_authenticated", 4401)
        assert await refusal(await staff_socket(support)) == ("permission_denied", 4403)

    run(scenario)


def test_each_role_gets_the_feeds_it_may_see(staff_user):
    operator, compliance = staff_user("operator"), staff_user("compliance")

    async def scenario():
        operator_socket, compliance_socket = await staff_socket(operator), await staff_socket(compliance)
        assert await operator_socket.receive_json_from(timeout=5) == {"type": "hello", "feeds": ["withdrawal", "large_transaction"]}
        assert await compliance_socket.receive_json_from(timeout=5) == {"type": "hello", "feeds": ["aml_alert", "large_transaction"]}
        await operator_socket.disconnect()
        await compliance_socket.disconnect()

    run(scenario)


def _device(user, *, confirmed: bool = True) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=confirmed)


@pytest.mark.parametrize("who", ["operator", "compliance", "superuser"])
def test_where_2fa_is_required_the_staff_feed_opens_only_to_a_session_that_passed_it(staff_user, settings, who):
    settings.STAFF_2FA_REQUIRED_ROLES = ["operator", "compliance"]  # production's rule (config/settings/production.py)
    user = staff_user(superuser=True) if who == "superuser" else staff_user(who)
    device = _device(user)

    async def scenario():
        # A password alone (logged in, no code entered) is refused, although the user has a device.
        assert await refusal(await staff_socket(user)) == ("two_factor_required", 4401)
        verified = await staff_socket(user, otp_device=device)
        hello = await verified.receive_json_from(timeout=5)
        assert hello["type"] == "hello" and hello["feeds"]
        await verified.disconnect()

    run(scenario)


def test_a_session_verified_by_someone_elses_or_an_unconfirmed_device_is_refused(staff_user, settings):
    settings.STAFF_2FA_REQUIRED_ROLES = ["operator", "compliance"]
    operator, compliance = staff_user("operator"), staff_user("compliance")
    colleagues_device, unconfirmed = _device(compliance), _device(operator, confirmed=False)

    async def scenario():
        assert await refusal(await staff_socket(operator, otp_device=colleagues_device)) == ("two_factor_required", 4401)
        assert await refusal(await staff_socket(operator, otp_device=unconfirmed)) == ("two_factor_required", 4401)

    run(scenario)


def test_where_2fa_is_optional_a_password_session_opens_the_feed_and_unrequired_roles_never_need_it(staff_user, settings):
    operator, root = staff_user("operator"), staff_user(superuser=True)

    async def scenario():
        # The demo and test settings: no role must pass a second factor, superusers neither.
        for user in (operator, root):
            socket = await staff_socket(user)
            assert (await socket.receive_json_from(timeout=5))["type"] == "hello"
            await socket.disconnect()

    run(scenario)
    settings.STAFF_2FA_REQUIRED_ROLES = ["operator", "compliance"]
    support = staff_user("support")

    async def unrequired_role():
        # Support is not a required role: it gets past the second factor to the role check (no feed: 4403).
        assert await refusal(await staff_socket(support)) == ("permission_denied", 4403)

    run(unrequired_role)


def test_a_new_aml_alert_reaches_compliance_at_its_committed_level_and_not_operators(staff_user, make_player):
    from apps.aml.rules import Hit
    from apps.aml.services import hits_record

    operator, compliance = staff_user("operator"), staff_user("compliance")
    anna = make_player()

    async def scenario():
        operator_socket, compliance_socket = await staff_socket(operator), await staff_socket(compliance)
        await operator_socket.receive_json_from(timeout=5)
        await compliance_socket.receive_json_from(timeout=5)
        alerts = await database_sync_to_async(hits_record)(
            hits=[Hit(player_id=anna.pk, rule="large_transaction", dedup_key="rt-1", score=70, evidence={})]
        )
        event = await compliance_socket.receive_json_from(timeout=5)
        assert event["type"] == "aml_alert"
        assert (event["id"], event["level"], event["rule"], event["player_id"]) == (alerts[0].pk, "high", "large_transaction", anna.pk)
        assert event["url"].endswith(f"/{alerts[0].pk}/change/")
        assert await operator_socket.receive_nothing(timeout=0.3) is True
        await operator_socket.disconnect()
        await compliance_socket.disconnect()

    run(scenario)


def test_withdrawals_and_large_transactions_reach_operators(staff_user, make_player, monkeypatch):
    from apps.kyc import selectors as kyc_selectors
    from apps.payments.services import withdrawal_request

    monkeypatch.setattr(kyc_selectors, "kyc_is_approved", lambda *, player: True)
    operator = staff_user("operator")
    anna = make_player()

    async def scenario():
        socket = await staff_socket(operator)
        await socket.receive_json_from(timeout=5)
        await database_sync_to_async(_deposit)(anna, "1999.99")  # under the EUR 2,000 threshold: nothing
        assert await socket.receive_nothing(timeout=0.3) is True
        txn = await database_sync_to_async(_deposit)(anna, "2000.00")
        large = await socket.receive_json_from(timeout=5)
        assert large["type"] == "large_transaction"
        assert (large["transaction_id"], large["kind"], large["player_id"], large["amount"], large["amount_eur"]) == (
            txn.pk, "deposit", anna.pk, "2000.00", "2000.00"
        )
        withdrawal = await database_sync_to_async(withdrawal_request)(
            player=anna, amount=Money(Decimal("15.00"), "EUR"), idempotency_key="rt-w-1"
        )
        event = await socket.receive_json_from(timeout=5)
        assert event["type"] == "withdrawal"
        assert (event["id"], event["player_id"], event["amount"], event["currency"]) == (withdrawal.pk, anna.pk, "15.00", "EUR")
        await socket.disconnect()

    run(scenario)
