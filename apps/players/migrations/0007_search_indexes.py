"""Accent-insensitive, substring search on email, name and phone: functions and trigram indexes (PostgreSQL).

On SQLite (the demo) the same functions are registered per connection (apps.players.search), and no index
is needed for a demo's few players.
"""

from django.db import migrations

from apps.players.search import POSTGRES_SETUP, POSTGRES_TEARDOWN


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("players", "0006_tags_and_notes")]

    operations = [migrations.RunPython(_run(POSTGRES_SETUP), _run(POSTGRES_TEARDOWN), elidable=False)]
