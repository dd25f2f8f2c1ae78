"""Keep the embedded SQLite database's triggers through schema changes.

SQLite cannot alter most columns in place, so Django rebuilds the table (create a copy, move the rows,
drop the old table, rename). A rebuild drops the table's own triggers with it, silently (the append-only
ledger, the has-limits flag would stop guarding the demo), and fails outright on a trigger elsewhere
that names the table. A migration that changes such a table wraps its operations:

    operations = [*around_sqlite_rebuild("limits_playerprotection", operations=[AddField(...), ...])]

Every trigger that mentions one of the tables is dropped before and re-created, from its own stored
SQL, after. PostgreSQL alters tables in place and keeps its triggers: there, nothing is done.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import migrations


def around_sqlite_rebuild(*tables: str, operations: Sequence[migrations.operations.base.Operation]) -> list:
    lifted: list[str] = []

    def lift(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "sqlite":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            rows = cursor.fetchall()
        for name, sql in rows:
            if any(table in sql for table in tables):
                lifted.append(sql)
                schema_editor.execute(f'DROP TRIGGER "{name}"')

    def restore(apps, schema_editor) -> None:
        while lifted:
            schema_editor.execute(lifted.pop(0))

    # Symmetric, so unapplying the migration lifts and restores in the same order.
    return [migrations.RunPython(lift, restore), *operations, migrations.RunPython(restore, lift)]
