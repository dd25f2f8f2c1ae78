"""Existing players of a market with mandatory deposit limits (dgoj: 600 / 1,500 / 3,000 EUR a day / week / month,
RD 1614/2011 art. 36) get them now: the rule applied only at registration, so players registered before the
markets existed had none. A lower limit the player already has is kept; a higher one (or a pending raise) is
brought down at once, as a decrease always applies at once. Amounts are converted at the newest rate in force,
rounded down; a currency without a rate is skipped (logged) rather than guessed. Each change writes a history row.
"""

import logging
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal

from django.db import migrations

from apps.core.money import minor_units

logger = logging.getLogger(__name__)
PERIODS = ("day", "week", "month")
REASON = "Mandatory deposit limit of the player's market (backfill, RD 1614/2011 art. 36)"


def _rate(ExchangeRate, currency, now):
    if currency == "EUR":
        return Decimal(1)
    return (
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=now).order_by("-valid_from").values_list("rate_to_eur", flat=True).first()
    )


def backfill(apps, schema_editor, now=None):
    Market = apps.get_model("markets", "Market")
    Player = apps.get_model("players", "Player")
    Limit = apps.get_model("limits", "Limit")
    HistoricalLimit = apps.get_model("limits", "HistoricalLimit")
    PlayerProtection = apps.get_model("limits", "PlayerProtection")
    ExchangeRate = apps.get_model("markets", "ExchangeRate")
    now = now or datetime.now(UTC)
    changed = 0
    for market in Market.objects.all():
        mandatory = {
            period: getattr(market, f"mandatory_deposit_limit_{period}_eur")
            for period in PERIODS
            if getattr(market, f"mandatory_deposit_limit_{period}_eur") is not None
        }
        if not mandatory:
            continue
        for player in Player.objects.filter(market=market.code).exclude(status="closed").iterator():
            rate = _rate(ExchangeRate, player.currency, now)
            if rate is None:
                logger.error("no EUR rate for %s: mandatory limits of player %s not backfilled", player.currency, player.pk)
                continue
            unit = Decimal(1).scaleb(-minor_units(player.currency))
            for period, amount_eur in mandatory.items():
                wanted = int((amount_eur / rate).quantize(unit, rounding=ROUND_DOWN) / unit)
                limit = Limit.objects.filter(player_id=player.pk, kind="deposit", period=period).first()
                if limit is not None and limit.amount_minor is not None and limit.amount_minor <= wanted and limit.pending_from is None:
                    continue
                if limit is None:
                    limit = Limit(player_id=player.pk, kind="deposit", period=period, currency=player.currency)
                if limit.amount_minor is not None and limit.amount_minor <= wanted:
                    wanted = limit.amount_minor  # keep the player's lower limit; only the pending raise goes
                limit.amount_minor, limit.activated_at, limit.requested_at = wanted, now, now
                limit.pending_amount_minor, limit.pending_removal, limit.pending_from = None, False, None
                limit.confirmation_required, limit.confirmation_lapses_at = False, None
                limit.save()
                HistoricalLimit.objects.create(
                    **{f.attname: getattr(limit, f.attname) for f in Limit._meta.concrete_fields},
                    history_date=now, history_type="~", history_change_reason=REASON,
                )
                changed += 1
            PlayerProtection.objects.filter(player_id=player.pk).update(has_limits=True)
    return changed


class Migration(migrations.Migration):
    dependencies = [
        ("limits", "0009_harm_markers_schedule"),
        ("markets", "0005_harm_markers"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
