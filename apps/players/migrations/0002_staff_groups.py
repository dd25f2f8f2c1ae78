"""The staff roles exist from the first migrate on; their permissions are synced after every migrate (apps.players.roles)."""

from django.db import migrations

ROLES = ("operator", "compliance", "support")


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.using(schema_editor.connection.alias).get_or_create(name=name)


def remove_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("players", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
