"""The in-house games exist from the first migrate: API.md says dice is always in the catalog.

Written with the historical models (no service can run in a migration), with the creation recorded in
the games' history as the services would record it. An existing row (seeded or edited) is left alone.
"""

from decimal import Decimal

from django.db import migrations
from django.utils import timezone

# Copied, not imported: a migration must not change when apps.games.seed does.
HOUSE_GAMES = [
    ("dice", "Dice", "dice", Decimal("99.00"), "low"),
    ("roulette", "European Roulette", "roulette", Decimal("97.30"), "medium"),
    ("fruit-slot", "Fruit Slot (3 reels)", "slots", Decimal("96.00"), "high"),
]
MINOR_UNITS = {
    "EUR": 2, "USD": 2, "GBP": 2, "SEK": 2, "NOK": 2, "DKK": 2, "CHF": 2, "CAD": 2, "AUD": 2,
    "NZD": 2, "PLN": 2, "CZK": 2, "HUF": 2, "RON": 2, "BGN": 2, "BRL": 2, "MXN": 2, "INR": 2,
    "ZAR": 2, "TRY": 2, "JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "KWD": 3, "BHD": 3, "JOD": 3,
}


def _limits() -> dict:
    limits = {}
    for currency, places in MINOR_UNITS.items():
        unit = 10**places
        limits[currency] = {"min": max(unit // 10, 10) if places else 10, "max": 100 * unit if places else 10_000}
    return limits


def create_house_games(apps, schema_editor):
    db = schema_editor.connection.alias
    Game = apps.get_model("games", "Game")
    HistoricalGame = apps.get_model("games", "HistoricalGame")
    now = timezone.now()
    for slug, name, kind, rtp, volatility in HOUSE_GAMES:
        if Game.objects.using(db).filter(slug=slug).exists():
            continue
        game = Game.objects.using(db).create(
            slug=slug, name=name, kind=kind, rtp=rtp, volatility=volatility, stake_limits=_limits(), enabled=True, provider_game_code=""
        )
        HistoricalGame.objects.using(db).create(
            id=game.pk, slug=slug, name=name, kind=kind, rtp=rtp, volatility=volatility, stake_limits=game.stake_limits, enabled=True,
            provider_game_code="", provider_id=None, created_at=game.created_at, updated_at=game.updated_at,
            history_date=now, history_type="+", history_change_reason="Registered by migration (in-house catalog)",
        )


class Migration(migrations.Migration):
    dependencies = [("games", "0002_rtp_monitor_schedule")]

    operations = [migrations.RunPython(create_house_games, migrations.RunPython.noop)]
