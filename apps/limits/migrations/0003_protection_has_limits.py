from django.db import migrations, models


def mark_players_with_limits(apps, schema_editor):
    """Players who already have limit rows must keep having them checked."""
    PlayerProtection = apps.get_model("limits", "PlayerProtection")
    Limit = apps.get_model("limits", "Limit")
    PlayerProtection.objects.filter(player_id__in=Limit.objects.values("player_id")).update(has_limits=True)


class Migration(migrations.Migration):
    dependencies = [
        ("limits", "0002_periodic_tasks"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalplayerprotection",
            name="has_limits",
            field=models.BooleanField(
                default=False,
                help_text="Set, under this row's lock, when the player's first limit row is created; never cleared (rows are never deleted). "
                "Lets every deposit and stake of a player without limits skip reading them.",
            ),
        ),
        migrations.AddField(
            model_name="playerprotection",
            name="has_limits",
            field=models.BooleanField(
                default=False,
                help_text="Set, under this row's lock, when the player's first limit row is created; never cleared (rows are never deleted). "
                "Lets every deposit and stake of a player without limits skip reading them.",
            ),
        ),
        migrations.RunPython(mark_players_with_limits, migrations.RunPython.noop),
    ]
