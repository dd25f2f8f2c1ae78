"""The last slot spin's time, game cycle and amount staked in it (UKGC RTS 14 spin interval; SI 2025/215 cap per cycle)."""

from django.db import migrations, models

from apps.core.sqlite_triggers import around_sqlite_rebuild


class Migration(migrations.Migration):
    dependencies = [
        ("limits", "0006_limit_confirmation"),
    ]

    # The has-limits trigger (0004) names limits_playerprotection: lift it around SQLite's table rebuild.
    operations = around_sqlite_rebuild("limits_playerprotection", operations=[
        migrations.AddField(model_name="playerprotection", name="last_slot_spin_at", field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="playerprotection", name="last_slot_spin_cycle", field=models.CharField(blank=True, max_length=200)),
        migrations.AddField(model_name="playerprotection", name="last_slot_cycle_staked_minor", field=models.BigIntegerField(default=0)),
    ])
