"""Two thin adapters over apps.games.provider_wallet: the generic signed protocol of API.md and the
Caleta / Hub88 family. Each checks the signature over the raw body first (constant time; a bad one
does nothing), translates the fields, calls the wallet service and maps its refusal to the protocol's
own error. No rule lives here.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import error_body, error_response
from apps.core.money import minor_units
from apps.players.selectors import player_by_public_id

from . import crypto, provider_wallet
from .models import Provider, ProviderProtocol
from .provider_wallet import Refusal, WalletAnswer, WalletRefusal

_ID_MAX = 100
_PLAIN_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,18})?$")


class _BadBody(Exception):
    def __init__(self, message: str, *, types: bool = False):
        self.types = types
        super().__init__(message)


def _reject_constant(name: str) -> Any:
    raise _BadBody(f"{name} is not JSON.")


def _json(raw: bytes) -> dict[str, Any]:
    """The body as JSON, with exact decimals (never floats); anything but an object is refused."""
    try:
        data = json.loads(raw or b"null", parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError):
        raise _BadBody("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise _BadBody("The body must be a JSON object.")
    return data


def _text(data: dict, name: str, *, required: bool = True, blank: bool = False) -> str:
    value = data.get(name)
    if value is None:
        if required:
            raise _BadBody(f"{name} is required.")
        return ""
    if not isinstance(value, str):
        raise _BadBody(f"{name} must be a string.", types=True)
    if (not value and not blank) or len(value) > _ID_MAX:
        raise _BadBody(f"{name} must have 1 to {_ID_MAX} characters.")
    return value


class _ProviderView(APIView):
    """No session or JWT: the provider proves itself by the signature alone."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # Not throttled per IP (as the PSP webhook): an aggregator sends every player's bets and wins from a few
    # addresses, and a refused win or rollback would leave a player's money unsettled. The signature gates them.
    throttle_classes: list = []


# --- Generic signed protocol (API.md) ---------------------------------------------------------------

_GENERIC_ERRORS: dict[str, tuple[int, str]] = {
    Refusal.LIMIT_EXCEEDED: (422, "limit_exceeded"),
    Refusal.NOT_ENOUGH_MONEY: (422, "insufficient_funds"),
    Refusal.WRONG_CURRENCY: (400, "validation_error"),
    Refusal.BAD_AMOUNT: (400, "validation_error"),
    Refusal.INVALID_GAME: (404, "not_found"),
    Refusal.INVALID_PLAYER: (404, "not_found"),
    Refusal.DUPLICATE_TRANSACTION: (409, "idempotency_conflict"),
    Refusal.TRANSACTION_DOES_NOT_EXIST: (404, "not_found"),
    Refusal.TRANSACTION_ROLLED_BACK: (409, "invalid_state"),
    Refusal.INVALID_TOKEN: (401, "token_invalid"),
    Refusal.TOKEN_EXPIRED: (401, "token_invalid"),
}


# Refused by a rule of the player's protection or market: the domain error's own status and code (API.md's error
# shape): 403 self_excluded / account_blocked / kyc_required, 409 invalid_state (a reality check is due),
# 422 stake_out_of_range (the market's slot cap), 429 rate_limited (spins too fast, with Retry-After).
_CAUSE_SPEAKS = {Refusal.USER_DISABLED, Refusal.KYC_REQUIRED, Refusal.REALITY_CHECK_DUE, Refusal.STAKE_OUT_OF_RANGE, Refusal.TOO_FAST}


def _generic_refusal(refusal: WalletRefusal) -> Response:
    headers = {}
    if refusal.reason in _CAUSE_SPEAKS and refusal.cause is not None:
        status, code = refusal.cause.status_code, refusal.cause.code
        retry_after = getattr(refusal.cause, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
    else:
        status, code = _GENERIC_ERRORS.get(refusal.reason, (400, "validation_error"))
    details: dict[str, Any] = {**(refusal.cause.details if refusal.cause is not None else {}), "reason": refusal.reason}
    if refusal.balance is not None:
        details["balance"] = str(refusal.balance)
    return Response(error_body(code, refusal.message, details), status=status, headers=headers)


def _generic_amount(data: dict, name: str = "amount") -> Decimal:
    value = data.get(name)
    if not isinstance(value, str) or not _PLAIN_DECIMAL.match(value):
        raise _BadBody(f'{name} must be a decimal string in plain notation, e.g. "10.00".')
    return Decimal(value)


class _GenericView(_ProviderView):
    SIGNATURE_HEADER = "X-Signature"
    operation = ""

    def post(self, request, code: str):
        provider = Provider.objects.filter(code=code, protocol=ProviderProtocol.GENERIC, enabled=True).first()
        secret = crypto.secret_decrypt(provider.secret_encrypted) if provider and provider.secret_encrypted else None
        # Signature before anything else: an unknown provider and a bad signature look the same.
        signature = request.headers.get(self.SIGNATURE_HEADER)
        if not signature:
            message = f"The {self.SIGNATURE_HEADER} header is required; nothing was done."
            return Response(error_body("not_authenticated", message), status=401)
        if not crypto.hmac_valid(secret, request.body, signature):
            return Response(error_body("invalid_credentials", "The signature does not match the body; nothing was done."), status=401)
        try:
            data = _json(request.body)
            player = player_by_public_id(_uuid(data.get("player_id")))
            if player is None:
                raise WalletRefusal(Refusal.INVALID_PLAYER, "Unknown player_id.")
            answer = self.handle(provider, player, data)
        except _BadBody as exc:
            return Response(error_body("validation_error", str(exc)), status=400)
        except WalletRefusal as refusal:
            return _generic_refusal(refusal)
        return Response(self.render(answer))

    def handle(self, provider: Provider, player, data: dict) -> WalletAnswer:
        raise NotImplementedError

    def render(self, answer: WalletAnswer) -> dict:
        return {"balance": str(answer.balance), "transaction_id": answer.transaction_id}


def _uuid(value: Any) -> str:
    import uuid

    if not isinstance(value, str):
        raise _BadBody("player_id must be the player's id (a UUID string).")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise _BadBody("player_id must be the player's id (a UUID string).") from None


def _generic_schema(operation: str, fields: dict, out: dict, extra: dict | None = None):
    return extend_schema(
        operation_id=f"provider_generic_{operation}",
        request=inline_serializer(f"GenericProvider{operation.title()}In", fields),
        parameters=[OpenApiParameter("X-Signature", str, OpenApiParameter.HEADER, required=True,
                                     description="hex HMAC-SHA256(provider secret, raw body)")],
        responses={
            200: inline_serializer(f"GenericProvider{operation.title()}Out", out),
            400: error_response("validation_error (fields, currency, amount precision)"),
            401: error_response("missing or bad signature; nothing was done"),
            403: error_response("self_excluded, account_blocked, kyc_required (bets only)"),
            404: error_response("not_found (player, game, or the bet a win settles)"),
            409: error_response(
                "idempotency_conflict (transaction_id reused differently), invalid_state (rolled back; a reality check is due)"
            ),
            422: error_response("insufficient_funds, limit_exceeded, stake_out_of_range (the market's slot stake cap)"),
            **(extra or {}),
        },
        tags=["providers"],
    )


_S = serializers.CharField
_BAL = {"balance": _S()}
_BAL_TX = {"balance": _S(), "transaction_id": _S()}
_MONEY_IN = {"player_id": serializers.UUIDField(), "round_id": _S(), "transaction_id": _S(), "amount": _S(), "currency": _S(),
             "game_code": _S(required=False)}


class GenericBalanceApi(_GenericView):
    @_generic_schema("balance", {"player_id": serializers.UUIDField(), "currency": _S()}, _BAL)
    def post(self, request, code: str):
        return super().post(request, code)

    def handle(self, provider, player, data):
        currency = _text(data, "currency")
        if currency != player.currency:
            raise WalletRefusal(Refusal.WRONG_CURRENCY, f"The wallet is in {player.currency}.")
        return provider_wallet.wallet_balance(player=player)

    def render(self, answer):
        return {"balance": str(answer.balance)}


class GenericBetApi(_GenericView):
    @_generic_schema("bet", _MONEY_IN, _BAL_TX,
                     {429: error_response("rate_limited: a slot spin sooner than the market allows (Retry-After); never throttled")})
    def post(self, request, code: str):
        return super().post(request, code)

    def handle(self, provider, player, data):
        return provider_wallet.wallet_bet(
            provider=provider, player=player, transaction_id=_text(data, "transaction_id"), round_id=_text(data, "round_id"),
            amount=_generic_amount(data), currency=_text(data, "currency"),
            game=provider_wallet.game_for(provider=provider, game_code=_text(data, "game_code", required=False)),
        )


class GenericWinApi(_GenericView):
    @_generic_schema("win", _MONEY_IN, _BAL_TX)
    def post(self, request, code: str):
        return super().post(request, code)

    def handle(self, provider, player, data):
        return provider_wallet.wallet_win(
            provider=provider, player=player, transaction_id=_text(data, "transaction_id"), round_id=_text(data, "round_id"),
            amount=_generic_amount(data), currency=_text(data, "currency"),
            game=provider_wallet.game_for(provider=provider, game_code=_text(data, "game_code", required=False)),
        )


class GenericRollbackApi(_GenericView):
    @_generic_schema(
        "rollback",
        {"player_id": serializers.UUIDField(), "round_id": _S(), "transaction_id": _S(), "rolled_back_transaction_id": _S()},
        _BAL,
    )
    def post(self, request, code: str):
        return super().post(request, code)

    def handle(self, provider, player, data):
        return provider_wallet.wallet_rollback(
            provider=provider, player=player, transaction_id=_text(data, "transaction_id"), round_id=_text(data, "round_id"),
            reference_transaction_id=_text(data, "rolled_back_transaction_id"),
        )

    def render(self, answer):
        return {"balance": str(answer.balance)}


# --- Caleta / Hub88 family ------------------------------------------------------------------------------

CALETA_CODE = "caleta"
CALETA_UNITS = 5  # amounts are integers of 1/100,000 of the currency unit
RS_OK = "RS_OK"
_RS: dict[str, str] = {
    Refusal.INVALID_TOKEN: "RS_ERROR_INVALID_TOKEN",
    Refusal.INVALID_PLAYER: "RS_ERROR_INVALID_TOKEN",
    Refusal.TOKEN_EXPIRED: "RS_ERROR_TOKEN_EXPIRED",
    Refusal.USER_DISABLED: "RS_ERROR_USER_DISABLED",
    # The family has no status for a responsible-gaming limit; like an exclusion, it stops new bets. So do
    # the market's identity rules (verification, due diligence) and a reality check awaiting acknowledgement.
    Refusal.LIMIT_EXCEEDED: "RS_ERROR_USER_DISABLED",
    Refusal.KYC_REQUIRED: "RS_ERROR_USER_DISABLED",
    Refusal.REALITY_CHECK_DUE: "RS_ERROR_USER_DISABLED",
    # No status names a stake cap or a spin too soon; the family's general error ("no special error code")
    # refuses that one bet without telling the provider the player is locked.
    Refusal.STAKE_OUT_OF_RANGE: "RS_ERROR_UNKNOWN",
    Refusal.TOO_FAST: "RS_ERROR_UNKNOWN",
    Refusal.NOT_ENOUGH_MONEY: "RS_ERROR_NOT_ENOUGH_MONEY",
    Refusal.WRONG_CURRENCY: "RS_ERROR_WRONG_CURRENCY",
    Refusal.INVALID_GAME: "RS_ERROR_INVALID_GAME",
    Refusal.BAD_AMOUNT: "RS_ERROR_WRONG_SYNTAX",
    Refusal.DUPLICATE_TRANSACTION: "RS_ERROR_DUPLICATE_TRANSACTION",
    Refusal.TRANSACTION_DOES_NOT_EXIST: "RS_ERROR_TRANSACTION_DOES_NOT_EXIST",
    Refusal.TRANSACTION_ROLLED_BACK: "RS_ERROR_TRANSACTION_ROLLED_BACK",
}


def caleta_units(minor: int, currency: str) -> int:
    return minor * 10 ** (CALETA_UNITS - minor_units(currency))


def _caleta_amount(data: dict) -> Decimal:
    value = data.get("amount")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _BadBody("amount must be an integer of 1/100,000 units.", types=True)
    return Decimal(value).scaleb(-CALETA_UNITS)


class _CaletaView(_ProviderView):
    SIGNATURE_HEADER = "X-Auth-Signature"

    def post(self, request):
        provider = Provider.objects.filter(code=CALETA_CODE, protocol=ProviderProtocol.CALETA, enabled=True).first()
        if provider is None or not crypto.rsa_valid(provider.public_key_pem, request.body, request.headers.get(self.SIGNATURE_HEADER)):
            return Response({"status": "RS_ERROR_INVALID_SIGNATURE"})
        body: dict[str, Any] = {}
        token = None
        try:
            data = _json(request.body)
            body["request_uuid"] = data.get("request_uuid") if isinstance(data.get("request_uuid"), str) else None
            token = self.token = provider_wallet.token_for(provider=provider, token=_text(data, "token"))
            player = token.player
            body.update(user=str(player.public_id), currency=player.currency)
            if "user" in data and data["user"] != str(player.public_id):
                raise WalletRefusal(Refusal.INVALID_TOKEN, "The token belongs to another user.")
            answer = self.handle(provider, token, data)
        except _BadBody as exc:
            return Response({"status": "RS_ERROR_WRONG_TYPES" if exc.types else "RS_ERROR_WRONG_SYNTAX", **body})
        except WalletRefusal as refusal:
            if refusal.balance is not None and token is not None:
                body["balance"] = caleta_units(refusal.balance.minor, refusal.balance.currency)
            return Response({"status": _RS.get(refusal.reason, "RS_ERROR_UNKNOWN"), **body})
        return Response(self.render(answer, body))

    def handle(self, provider: Provider, token, data: dict) -> WalletAnswer:
        raise NotImplementedError

    def render(self, answer: WalletAnswer, body: dict) -> dict:
        return {**body, "status": RS_OK, "balance": caleta_units(answer.balance.minor, answer.balance.currency)}


# Only `status` is always there: a refusal before the token is known (a bad signature, a forged token) cannot
# name the user, currency or balance. `token` answers `check` only.
_CALETA_OUT = inline_serializer(
    "CaletaWalletOut",
    {
        "status": _S(help_text="RS_OK or an RS_ERROR_* status"),
        "user": _S(required=False, help_text="The player's id, as /me gives it."),
        "request_uuid": _S(required=False, allow_null=True),
        "currency": _S(required=False),
        "balance": serializers.IntegerField(required=False, help_text="1/100,000 of the currency unit"),
        "token": _S(required=False, help_text="check only: the token checked."),
    },
)


def _caleta_schema(operation: str, fields: dict):
    return extend_schema(
        operation_id=f"provider_caleta_{operation}",
        request=inline_serializer(f"Caleta{operation.title()}In", fields),
        parameters=[OpenApiParameter("X-Auth-Signature", str, OpenApiParameter.HEADER, required=True,
                                     description="base64(RSA-SHA256(raw body)) with the provider's private key")],
        responses={200: _CALETA_OUT},
        tags=["providers"],
        description="Every outcome is an HTTP 200; the body's `status` says RS_OK or which RS_ERROR_* it is.",
    )


_I = serializers.IntegerField
_CALETA_COMMON = {"token": _S(), "request_uuid": _S(), "game_code": _S(required=False), "user": _S(required=False)}
_CALETA_MONEY = {**_CALETA_COMMON, "transaction_uuid": _S(), "round": _S(), "currency": _S(), "amount": _I(),
                 "round_closed": serializers.BooleanField(required=False), "is_free": serializers.BooleanField(required=False)}


class CaletaCheckApi(_CaletaView):
    @_caleta_schema("check", {"token": _S(), "game_code": _S(required=False)})
    def post(self, request):
        return super().post(request)

    def handle(self, provider, token, data):
        return provider_wallet.wallet_balance(player=token.player)

    def render(self, answer, body):
        return {"user": body.get("user"), "status": RS_OK, "token": self.token.token}


class CaletaBalanceApi(_CaletaView):
    @_caleta_schema("balance", _CALETA_COMMON)
    def post(self, request):
        return super().post(request)

    def handle(self, provider, token, data):
        return provider_wallet.wallet_balance(player=token.player)


def _round(data: dict) -> str:
    """The family allows a null round (a bet outside any round); it is then kept as an empty string."""
    return _text(data, "round", required=False)


def _caleta_game(provider, data, token=None):
    """The named game; the launch token's own game (already read with the token) when it is that one."""
    return provider_wallet.game_for(provider=provider, game_code=_text(data, "game_code"), launched=token.game if token else None)


class CaletaBetApi(_CaletaView):
    @_caleta_schema("bet", _CALETA_MONEY)
    def post(self, request):
        return super().post(request)

    def handle(self, provider, token, data):
        return provider_wallet.wallet_bet(
            provider=provider, player=token.player, transaction_id=_text(data, "transaction_uuid"), round_id=_round(data),
            amount=_caleta_amount(data), currency=_text(data, "currency"), game=_caleta_game(provider, data, token), token=token,
        )


class CaletaWinApi(_CaletaView):
    @_caleta_schema("win", {**_CALETA_MONEY, "reference_transaction_uuid": _S()})
    def post(self, request):
        return super().post(request)

    def handle(self, provider, token, data):
        return provider_wallet.wallet_win(
            provider=provider, player=token.player, transaction_id=_text(data, "transaction_uuid"), round_id=_round(data),
            amount=_caleta_amount(data), currency=_text(data, "currency"), game=_caleta_game(provider, data, token),
            reference_transaction_id=_text(data, "reference_transaction_uuid"),
        )


class CaletaRollbackApi(_CaletaView):
    @_caleta_schema("rollback", {**_CALETA_COMMON, "transaction_uuid": _S(), "round": _S(), "reference_transaction_uuid": _S()})
    def post(self, request):
        return super().post(request)

    def handle(self, provider, token, data):
        return provider_wallet.wallet_rollback(
            provider=provider, player=token.player, transaction_id=_text(data, "transaction_uuid"),
            round_id=_text(data, "round", required=False), reference_transaction_id=_text(data, "reference_transaction_uuid"),
            game=_caleta_game(provider, data, token) if data.get("game_code") else None,
        )
