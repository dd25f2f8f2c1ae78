"""The licences the project ships with, demo EUR rates, and each existing player's market.

Defaults (README "Markets" lists each rule with its legal source): GB → ukgc, ES → dgoj, every
other accepted country → the default licence, whose rules are the lenient behaviour from before markets.
"""

from django.db import migrations

from apps.markets.defaults import install_defaults

def forwards(apps, schema_editor):
    Market = apps.get_model("markets", "Market")
    Player = apps.get_model("players", "Player")
    install_defaults(Market, apps.get_model("markets", "ExchangeRate"))
    by_country = {c: m.code for m in Market.objects.all() for c in m.countries}
    default = Market.objects.filter(is_default=True).values_list("code", flat=True).first()
    for country in Player.objects.filter(market="").values_list("country", flat=True).distinct():
        Player.objects.filter(market="", country=country).update(market=by_country.get(country, default))


class Migration(migrations.Migration):
    dependencies = [
        ("markets", "0001_initial"),
        ("players", "0004_player_market"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
