"""The tags every operator uses from day one; more are added in the admin."""

from django.db import migrations

TAGS = [
    ("VIP", "High-value player: account manager, faster withdrawals review."),
    ("Problem gambling", "Markers of harm seen or reported; safer-gambling interaction required before any promotion."),
    ("Bonus abuse", "Suspected of abusing promotions; no bonus offers."),
    ("Fraud suspected", "Payments or identity under suspicion; review before approving withdrawals."),
]


def create(apps, schema_editor):
    Tag = apps.get_model("players", "Tag")
    for name, description in TAGS:
        Tag.objects.get_or_create(name=name, defaults={"description": description})


class Migration(migrations.Migration):
    dependencies = [("players", "0007_search_indexes")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
