"""The database keeps PlayerProtection.has_limits true once a player has any limit row.

protection_check skips the limits query when the flag is false, so a limit row created by any
path that forgets the flag (a shell session, a raw insert, a future admin form) would silently go
unenforced. The services set it under the player's lock; this trigger makes it impossible to miss.
"""

from django.db import migrations

PG = """
CREATE OR REPLACE FUNCTION limits_mark_has_limits() RETURNS trigger AS $$
BEGIN
    UPDATE limits_playerprotection SET has_limits = TRUE WHERE player_id = NEW.player_id AND NOT has_limits;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER limits_limit_marks_protection AFTER INSERT ON limits_limit
    FOR EACH ROW EXECUTE FUNCTION limits_mark_has_limits();
"""

SQLITE = """
CREATE TRIGGER limits_limit_marks_protection AFTER INSERT ON limits_limit
BEGIN
    UPDATE limits_playerprotection SET has_limits = 1 WHERE player_id = NEW.player_id;
END;
"""


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE, params=None)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute("DROP TRIGGER IF EXISTS limits_limit_marks_protection" + (" ON limits_limit" if vendor == "postgresql" else ""))
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS limits_mark_has_limits()")


class Migration(migrations.Migration):
    dependencies = [("limits", "0003_protection_has_limits")]
    operations = [migrations.RunPython(create, drop)]
