"""The licences and demo EUR rates the project ships with (README "Markets" gives each rule's legal source).

Installed by the data migration, and again after a database flush (post_migrate) when the table is
empty, as in transactional tests: without a market no one can register.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

MARKETS = [
    {
        "code": "ukgc",
        "name": "Great Britain",
        "regulator": "Gambling Commission (UKGC)",
        "countries": ["GB"],
        "time_zone": "Europe/London",
        "verification_before_play": True,
        "limit_raise_needs_confirmation": True,
        "confirmation_lapse_days": 7,
        "withdrawal_reversal_allowed": False,
        "rule_currency": "GBP",
        "slot_max_stake": Decimal("5.00"),
        "slot_max_stake_young_adult": Decimal("2.00"),
        "young_adult_max_age": 24,
        "slot_min_spin_interval_ms": 2500,
        "slot_autoplay_allowed": False,
        # UKGC customer interaction guidance / financial risk checks: 1,000 GBP net loss in 24 h, 500 GBP in 30 days.
        "harm_net_loss_24h": Decimal("1000.00"),
        "harm_net_loss_30d": Decimal("500.00"),
        "harm_deposit_rise_factor": Decimal("3.00"),
        "harm_deposit_rise_min": Decimal("500.00"),
        "reports": ["ukgc_quarterly"],
        "national_register": "gamstop",
        "report_time_zone": "Europe/London",
        "gaming_tax_rate": Decimal("0.21"),  # Remote Gaming Duty (Finance Act 2014 s.155, as amended)
    },
    {
        "code": "dgoj",
        "name": "Spain",
        "regulator": "Dirección General de Ordenación del Juego (DGOJ)",
        "countries": ["ES"],
        "time_zone": "Europe/Madrid",
        "mandatory_deposit_limit_day_eur": Decimal("600.00"),
        "mandatory_deposit_limit_week_eur": Decimal("1500.00"),
        "mandatory_deposit_limit_month_eur": Decimal("3000.00"),
        # No statutory figure: the operator's own policy, in EUR.
        "harm_net_loss_24h": Decimal("1000.00"),
        "harm_net_loss_30d": Decimal("2000.00"),
        "harm_deposit_rise_factor": Decimal("3.00"),
        "harm_deposit_rise_min": Decimal("500.00"),
        "reports": ["dgoj_rud_daily", "dgoj_cjd_daily", "dgoj_rud_monthly", "dgoj_cjd_monthly"],
        "national_register": "rgiaj",
        "report_time_zone": "Europe/Madrid",
        # The ids the DGOJ assigns at licensing: placeholders until compliance enters the real ones in the admin.
        "report_operator_id": "OP01",
        "report_store_id": "ALM01",
        "report_fiscal_region": "01",
        "gaming_tax_rate": Decimal("0.20"),  # Ley 13/2011, art. 48: 20 % of GGR
    },
    {
        "code": "intl",
        "name": "Other accepted countries",
        "regulator": "The operator's default licence",
        "countries": [],
        "is_default": True,
        "harm_net_loss_24h": Decimal("1000.00"),
        "harm_net_loss_30d": Decimal("2000.00"),
        "harm_deposit_rise_factor": Decimal("3.00"),
        "harm_deposit_rise_min": Decimal("500.00"),
        "reports": ["ledger_journal_daily", "ggr_daily"],
        # The operator's own files follow its home licence's calendar and tax (the demo operator is Spanish):
        # change both here when the home licence is another.
        "report_time_zone": "Europe/Madrid",
        "gaming_tax_rate": Decimal("0.20"),
    },
]

# Demo rates only (EUR per unit, late 2024): load real ones with `manage.py load_exchange_rates FILE.csv`.
DEMO_RATES = {
    "USD": "0.92", "GBP": "1.17", "SEK": "0.087", "NOK": "0.085", "DKK": "0.134",
    "CAD": "0.68", "JPY": "0.0062", "CHF": "1.05", "AUD": "0.60",
}
DEMO_VALID_FROM = datetime(2020, 1, 1, tzinfo=UTC)


def install_defaults(market_model, rate_model) -> None:
    """Create the shipped markets and demo rates that are missing; never overwrite what an officer changed."""
    # A migration passes its historical model, which may not have every field yet: later migrations set those.
    known = {field.name for field in market_model._meta.get_fields()}
    for values in MARKETS:
        values = {name: value for name, value in values.items() if name in known}
        market_model.objects.get_or_create(code=values.pop("code"), defaults=values)
    for currency, rate in DEMO_RATES.items():
        rate_model.objects.get_or_create(
            currency=currency, valid_from=DEMO_VALID_FROM,
            defaults={"rate_to_eur": Decimal(rate), "source": "demo rates (data migration)"},
        )
