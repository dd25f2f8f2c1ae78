"""The player's wallet API (API.md "Wallet") and the PSP webhook.

Thin views: validate the input, call one service, render the answer. Every money POST runs
through core's idempotent_response, so a retried request gets the first answer and moves
nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import MoneyField, NewestFirstPagination, error_response, idempotent_response
from apps.core.api import idempotency_key as request_idempotency_key
from apps.core.errors import InvalidCredentials, NotAuthenticated, ValidationFailed
from apps.core.http import client_ip
from apps.core.money import format_amount
from apps.ledger import selectors as ledger_selectors
from apps.ledger.models import TransactionKind
from apps.players.selectors import player_required

from . import services
from .models import Deposit, DepositMethod, Withdrawal

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Signature"

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=True, description="1–64 printable ASCII characters; a retry reuses it."
)


def _error(description: str) -> OpenApiResponse:
    return error_response(description)


def _player(request):
    return player_required(request.user, what="a wallet")


class _WalletInput(serializers.Serializer):
    """Amounts are parsed in the wallet's currency; a `currency` field, if sent, must name it."""

    currency = serializers.CharField(required=False, max_length=3)

    def validate_currency(self, value: str) -> str:
        if value != self.context["currency"]:
            raise serializers.ValidationError(f"The wallet is in {self.context['currency']}.")
        return value


def _validated(serializer_class, request, player) -> dict:
    serializer = serializer_class(data=request.data, context={"currency": player.currency, "request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- outputs ---


class WalletOut(serializers.Serializer):
    currency = serializers.CharField()
    cash = serializers.CharField()
    bonus = serializers.CharField()
    held = serializers.CharField()
    withdrawable = serializers.CharField()


class EntryOut(serializers.Serializer):
    id = serializers.IntegerField(source="transaction_id", help_text="The ledger transaction id.")
    kind = serializers.CharField()
    amount = serializers.SerializerMethodField(help_text="Signed: negative when cash left the wallet.")
    balance_after = serializers.SerializerMethodField()
    reference = serializers.CharField(source="transaction.reference")
    created_at = serializers.DateTimeField()

    def get_amount(self, entry) -> str:
        return format_amount(entry.amount, entry.account.currency)

    def get_balance_after(self, entry) -> str:
        return format_amount(entry.balance_after, entry.account.currency)


class DepositOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    amount = serializers.SerializerMethodField()

    def get_amount(self, deposit: Deposit) -> str:
        return str(deposit.amount)


class WithdrawalOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    amount = serializers.SerializerMethodField()

    def get_amount(self, withdrawal: Withdrawal) -> str:
        return str(withdrawal.amount)


# --- views ---


class WalletApi(APIView):
    @extend_schema(operation_id="wallet_retrieve", responses={200: WalletOut, 403: _error("Not a player")}, tags=["wallet"])
    def get(self, request):
        balances = ledger_selectors.wallet_balances(player=_player(request))
        return Response(
            {
                "currency": balances.currency,
                "cash": str(balances.cash),
                "bonus": str(balances.bonus),
                "held": str(balances.held),
                "withdrawable": str(balances.withdrawable),
            }
        )


class WalletTransactionsApi(generics.ListAPIView):
    serializer_class = EntryOut
    pagination_class = NewestFirstPagination

    def get_queryset(self):
        kind = self.request.query_params.get("kind") or None
        if kind is not None and kind not in TransactionKind.values:
            raise ValidationFailed(details={"kind": [f"Choose one of {', '.join(TransactionKind.values)}."]})
        return ledger_selectors.player_cash_entries(player=_player(self.request), kind=kind)

    @extend_schema(
        operation_id="wallet_transactions_list",
        parameters=[OpenApiParameter("kind", str, enum=TransactionKind.values, description="Only this kind of movement.")],
        responses={200: EntryOut(many=True), 400: _error("Unknown kind")},
        tags=["wallet"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class DepositIn(_WalletInput):
    amount = MoneyField()
    method = serializers.ChoiceField(choices=DepositMethod.choices)


class WithdrawalIn(_WalletInput):
    amount = MoneyField()


# The regulator asks the device class of every deposit and withdrawal (REPORTS.md, CJD operations).
DEVICE_HEADER = OpenApiParameter(
    "X-Device-Type", str, OpenApiParameter.HEADER, required=False, enum=list(services.DEVICE_CLASSES),
    description="Device class of the client (MO mobile, PC, TB tablet, TF phone, OT other); kept for regulatory reports.",
)


class DepositCreateApi(APIView):
    @extend_schema(
        operation_id="wallet_deposit_create",
        request=DepositIn,
        parameters=[IDEMPOTENCY_HEADER, DEVICE_HEADER],
        responses={
            201: DepositOut,
            400: _error("validation_error"),
            403: _error("self_excluded, account_blocked, kyc_required (lifetime deposits above the KYC threshold)"),
            409: _error("idempotency_conflict"),
            422: _error("limit_exceeded"),
        },
        tags=["wallet"],
    )
    def post(self, request):
        player = _player(request)
        data = _validated(DepositIn, request, player)
        key = request_idempotency_key(request)

        def action() -> tuple[int, dict]:
            deposit = services.deposit_create(
                player=player, amount=data["amount"], method=data["method"], idempotency_key=key, ip_address=client_ip(request),
                device=request.headers.get("X-Device-Type", ""),
            )
            return 201, dict(DepositOut(deposit).data)

        return idempotent_response(request, scope=f"player:{player.pk}", action=action)


class WithdrawalCreateApi(APIView):
    @extend_schema(
        operation_id="wallet_withdrawal_create",
        request=WithdrawalIn,
        parameters=[IDEMPOTENCY_HEADER, DEVICE_HEADER],
        responses={
            201: WithdrawalOut,
            400: _error("validation_error"),
            403: _error("kyc_required, account_blocked"),
            409: _error("idempotency_conflict"),
            422: _error("insufficient_funds"),
        },
        tags=["wallet"],
    )
    def post(self, request):
        player = _player(request)
        data = _validated(WithdrawalIn, request, player)
        key = request_idempotency_key(request)

        def action() -> tuple[int, dict]:
            withdrawal = services.withdrawal_request(
                player=player, amount=data["amount"], idempotency_key=key, ip_address=client_ip(request),
                device=request.headers.get("X-Device-Type", ""),
            )
            return 201, dict(WithdrawalOut(withdrawal).data)

        return idempotent_response(request, scope=f"player:{player.pk}", action=action)


class WithdrawalCancelApi(APIView):
    @extend_schema(
        operation_id="wallet_withdrawal_cancel",
        request=None,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                description="Optional: with it, a retry gets the first 200 instead of 409.",
            )
        ],
        responses={200: WithdrawalOut, 404: _error("not_found"), 409: _error("invalid_state")},
        tags=["wallet"],
    )
    def post(self, request, withdrawal_id: int):
        player = _player(request)

        def action() -> tuple[int, dict]:
            withdrawal = services.withdrawal_cancel(player=player, withdrawal_id=withdrawal_id)
            return 200, dict(WithdrawalOut(withdrawal).data)

        # API.md does not ask for an Idempotency-Key here (a second cancel is a harmless 409),
        # but a client that sends one gets the usual replay semantics.
        if "Idempotency-Key" in request.headers:
            return idempotent_response(request, scope=f"player:{player.pk}", action=action)
        status_code, body = action()
        return Response(body, status=status_code)


def _verify_signature(request) -> None:
    """X-Signature = hex HMAC-SHA256(PSP_WEBHOOK_SECRET, raw body); checked before anything is parsed."""
    secret = getattr(settings, "PSP_WEBHOOK_SECRET", "")
    provided = request.headers.get(SIGNATURE_HEADER)
    if not provided:
        raise NotAuthenticated(f"The {SIGNATURE_HEADER} header is required.")
    if not secret:
        logger.error("PSP_WEBHOOK_SECRET is not set; refusing every PSP webhook.")
        raise InvalidCredentials("The signature does not match the body.")
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), provided.strip().lower().encode("utf-8", "replace")):
        raise InvalidCredentials("The signature does not match the body.")


class _StrictString(serializers.CharField):
    """A JSON string only: a PSP sending a number for an amount is refused, never coerced."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class PspNotificationIn(serializers.Serializer):
    deposit_id = serializers.IntegerField(required=False, min_value=1)
    psp_reference = _StrictString(required=False, max_length=100)
    status = serializers.ChoiceField(choices=["completed", "failed"])
    amount = _StrictString(required=False, help_text="If sent, must equal the deposit's amount.")
    currency = _StrictString(required=False, max_length=3)
    failure_reason = _StrictString(required=False, allow_blank=True, max_length=255)
    card_last4 = serializers.RegexField(r"^\d{4}$", required=False, help_text="Last four digits of the card or account used.")
    holder_verified = serializers.BooleanField(required=False, help_text="The PSP confirmed the payer is the account holder.")
    instrument_token = _StrictString(
        required=False, max_length=200,
        help_text="The PSP's stable token for the card or account used (never its number); stored only as a keyed hash.",
    )


class PspNotificationOut(serializers.Serializer):
    deposit_id = serializers.IntegerField(source="id")
    psp_reference = serializers.CharField()
    status = serializers.CharField()


class PspWebhookApi(APIView):
    """The PSP tells us how a deposit ended. Signed, and safe to deliver more than once."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # Not throttled per IP: the PSP sends every notification from a few addresses, and a dropped
    # one would leave a deposit unsettled; the HMAC signature refuses anyone else before any work.
    throttle_classes: list = []

    @extend_schema(
        operation_id="payments_psp_webhook",
        request=PspNotificationIn,
        parameters=[
            OpenApiParameter(SIGNATURE_HEADER, str, OpenApiParameter.HEADER, required=True, description="hex HMAC-SHA256 of the raw body")
        ],
        responses={
            200: PspNotificationOut,
            400: _error("validation_error"),
            401: _error("missing or bad signature; nothing was done"),
            404: _error("not_found"),
            409: _error("invalid_state (e.g. completing a failed deposit)"),
        },
        tags=["payments"],
    )
    def post(self, request):
        _verify_signature(request)
        serializer = PspNotificationIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        deposit = services.deposit_apply_psp_notification(
            status=data["status"],
            deposit_id=data.get("deposit_id"),
            psp_reference=data.get("psp_reference", ""),
            amount=data.get("amount"),
            currency=data.get("currency"),
            failure_reason=data.get("failure_reason", ""),
            card_last4=data.get("card_last4", ""),
            holder_verified=data.get("holder_verified", False),
            instrument_token=data.get("instrument_token", ""),
        )
        return Response(PspNotificationOut(deposit).data)
