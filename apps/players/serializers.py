"""Input and output shapes of the players API (API.md "Players and auth")."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.money import MoneyError, parse_amount
from apps.core.player_facts import player_fact, player_fact_schema

from .models import Device, PlayerStatus, Sex

_ALPHA2 = r"^[A-Za-z]{2}$"
_ALPHA3 = r"^[A-Za-z]{3}$"


class DepositLimitsInput(serializers.Serializer):
    """Decimal strings in the wallet currency; the registration serializer parses them once it knows the currency."""

    day = serializers.CharField(required=False, allow_null=True, help_text="e.g. \"100.00\"")
    week = serializers.CharField(required=False, allow_null=True)
    month = serializers.CharField(required=False, allow_null=True)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(f"Unknown period {', '.join(unknown)}: use day, week or month.")
            for value in data.values():
                if value is not None and not isinstance(value, str):
                    # API.md: money is a decimal string; a JSON number is refused, not coerced.
                    raise serializers.ValidationError("Amounts are decimal strings, e.g. \"100.00\".")
        return super().to_internal_value(data)


class RegisterInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150)
    date_of_birth = serializers.DateField(input_formats=["%Y-%m-%d"])
    country = serializers.RegexField(_ALPHA2, help_text="Country of residence, ISO 3166-1 alpha-2.")
    currency = serializers.RegexField(_ALPHA3, help_text="Wallet currency, ISO 4217; fixed for the life of the account.")
    # Optional identity data; the rest is completed at KYC.
    second_surname = serializers.CharField(max_length=150, required=False)
    nationality = serializers.RegexField(_ALPHA2, required=False)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False)
    phone = serializers.RegexField(r"^\+?[0-9 ()-]{6,31}$", required=False)
    address_street = serializers.CharField(max_length=255, required=False)
    address_city = serializers.CharField(max_length=120, required=False)
    address_postcode = serializers.CharField(max_length=20, required=False)
    address_country = serializers.RegexField(_ALPHA2, required=False)
    signup_device = serializers.ChoiceField(
        choices=Device.choices, required=False, help_text="Device class for the regulator's registry; or send the X-Device-Type header."
    )
    device_id = serializers.CharField(max_length=128, required=False)
    deposit_limits = DepositLimitsInput(
        required=False,
        help_text="Deposit limits from the start, in the wallet currency; a market may impose defaults (DGOJ: 600/1,500/3,000 EUR).",
    )

    def validate_date_of_birth(self, value):
        if value.year < 1900:
            raise serializers.ValidationError("Enter a real date of birth.")
        return value

    def validate(self, attrs: dict) -> dict:
        for name in ("country", "currency", "nationality", "address_country"):
            if name in attrs:
                attrs[name] = attrs[name].upper()
        attrs["email"] = attrs["email"].strip().lower()
        if "deposit_limits" in attrs:
            # Parsed here, not in the nested serializer: the amounts are in the currency chosen beside them.
            limits, problems = {}, {}
            for period, raw in attrs["deposit_limits"].items():
                if raw is None:
                    continue
                try:
                    limits[period] = parse_amount(raw, attrs["currency"])
                except MoneyError as exc:
                    problems[period] = [str(exc)]
            if problems:
                raise serializers.ValidationError({"deposit_limits": problems})
            attrs["deposit_limits"] = limits
        return attrs


class CredentialsInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class PlayerSerializer(serializers.Serializer):
    """The player's own view of their account (GET /me, and the answer to registration)."""

    id = serializers.UUIDField(source="public_id")
    email = serializers.EmailField(source="user.email")
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")
    country = serializers.CharField()
    currency = serializers.CharField()
    market = serializers.CharField(help_text="The licence whose rules apply to the player, e.g. ukgc, dgoj.")
    status = serializers.ChoiceField(choices=PlayerStatus.choices)
    kyc_status = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(player_fact_schema("kyc_status"))
    def get_kyc_status(self, player) -> str:
        # apps.kyc owns the states and registers this fact (core.player_facts): players sits below kyc.
        return player_fact("kyc_status", player)
