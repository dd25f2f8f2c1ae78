"""Re-create the SQLite append-only triggers on ledger entries.

0004 altered a column of ledger_entry; on SQLite that rebuilds the table and drops its triggers with it,
so embedded (demo) databases lost the append-only guard on entries. PostgreSQL kept its triggers: there
this does nothing. tests/test_embedded_sqlite.py now migrates a fresh SQLite database and checks every
trigger, so a later rebuild cannot drop them unnoticed (wrap such a migration in
apps.core.sqlite_triggers.around_sqlite_rebuild).
"""

from django.db import migrations

TABLES = ("ledger_ledgertransaction", "ledger_entry")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for table in TABLES:
        for op in ("UPDATE", "DELETE"):
            schema_editor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'ledger is append-only: {op} on {table} refused'); END;"
            )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0005_reconciliation_schedule")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
