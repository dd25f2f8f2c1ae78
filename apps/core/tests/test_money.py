"""Money: exact decimals at the currency's minor units; the API accepts only plain decimal strings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework import serializers

from apps.core.api import MoneyField
from apps.core.money import Money, MoneyError, format_amount, minor_units, parse_amount


@pytest.mark.parametrize(
    ("raw", "currency", "minor"),
    [("10.00", "EUR", 1000), ("10", "EUR", 1000), ("10.5", "EUR", 1050), ("0.01", "EUR", 1), ("1000", "JPY", 1000),
     ("1.234", "KWD", 1234), ("999999999999", "JPY", 999999999999)],
)
def test_plain_decimal_strings_parse_exactly(raw, currency, minor):
    money = parse_amount(raw, currency)
    assert money.minor == minor and money.currency == currency


@pytest.mark.parametrize(
    "raw",
    [
        10.0, 10, 0.1, True, None, ["10.00"], {"amount": "10.00"},  # not a JSON string
        "1e3", "1E3", "1.0e1", "+10.00", "-10.00", " 10.00", "10.00 ", "1,000.00", "1_000", "10.", ".5", "010.00",
        "NaN", "nan", "Infinity", "-Infinity", "inf", "", "ten", "10.00EUR", "0x10", "١٠",  # not plain notation
    ],
)
def test_anything_but_a_plain_decimal_string_is_refused(raw):
    with pytest.raises(MoneyError):
        parse_amount(raw, "EUR")


@pytest.mark.parametrize(("raw", "currency"), [("10.001", "EUR"), ("0.001", "USD"), ("100.5", "JPY"), ("100.0", "JPY"), ("1.2345", "KWD")])
def test_more_decimals_than_the_currency_has_is_refused(raw, currency):
    with pytest.raises(MoneyError, match="decimal places"):
        parse_amount(raw, currency)


def test_zero_is_refused_where_money_moves_but_allowed_when_asked():
    for raw in ("0", "0.00"):
        with pytest.raises(MoneyError):
            parse_amount(raw, "EUR")
    assert parse_amount("0.00", "EUR", positive=False).minor == 0


def test_unknown_currency_is_refused():
    with pytest.raises(MoneyError):
        parse_amount("1.00", "XYZ")
    with pytest.raises(MoneyError):
        minor_units("eur")


def test_jpy_has_no_minor_unit():
    yen = Money.from_minor(1500, "JPY")
    assert yen.amount == Decimal("1500")
    assert str(yen) == "1500"
    assert format_amount(1500, "JPY") == "1500"
    assert str(Money.from_minor(1500, "EUR")) == "15.00"
    assert str(Money.from_minor(1500, "KWD")) == "1.500"


def test_money_never_takes_a_float_or_an_int():
    with pytest.raises(TypeError):
        Money(10.0, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(10, "EUR")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(Decimal("0.001"), "EUR")


def test_arithmetic_is_exact_and_single_currency():
    a, b = Money(Decimal("0.10"), "EUR"), Money(Decimal("0.20"), "EUR")
    assert (a + b).amount == Decimal("0.30")
    assert (a - b).minor == -10
    assert (-a).minor == -10
    with pytest.raises(MoneyError):
        a + Money(Decimal("0.10"), "USD")


def test_minor_round_trip_and_negative_formatting():
    for minor in (0, 1, -1, 99, 100, 123456789):
        assert Money.from_minor(minor, "EUR").minor == minor
    assert format_amount(-5, "EUR") == "-0.05"


class _AmountIn(serializers.Serializer):
    amount = MoneyField()


class _PriceIn(serializers.Serializer):
    currency = serializers.CharField()
    amount = MoneyField(currency_field="currency", allow_zero=True)


def test_money_field_uses_the_context_currency():
    ok = _AmountIn(data={"amount": "1000"}, context={"currency": "JPY"})
    assert ok.is_valid(), ok.errors
    assert ok.validated_data["amount"] == Money(Decimal("1000"), "JPY")
    jpy_cents = _AmountIn(data={"amount": "10.50"}, context={"currency": "JPY"})
    assert not jpy_cents.is_valid()
    assert "amount" in jpy_cents.errors


@pytest.mark.parametrize("raw", [10, 10.5, "1e2", "-1.00", "NaN", "0.00"])
def test_money_field_refuses_numbers_exponents_signs_nan_and_zero(raw):
    form = _AmountIn(data={"amount": raw}, context={"currency": "EUR"})
    assert not form.is_valid()
    assert "amount" in form.errors


def test_money_field_can_read_the_currency_from_the_body():
    form = _PriceIn(data={"currency": "KWD", "amount": "0.000"})
    assert form.is_valid(), form.errors
    assert form.validated_data["amount"].currency == "KWD"

def test_money_field_renders_the_plain_decimal_string():
    assert MoneyField().to_representation(Money.from_minor(250, "EUR")) == "2.50"
    assert MoneyField().to_representation(Money.from_minor(250, "JPY")) == "250"


def test_amounts_beyond_twelve_integer_digits_are_refused_not_overflowed():
    assert parse_amount("999999999999.99", "EUR").minor == 99999999999999
    for raw in ("1000000000000.00", "99999999999999999.99", "9" * 40):
        with pytest.raises(MoneyError):
            parse_amount(raw, "EUR")
