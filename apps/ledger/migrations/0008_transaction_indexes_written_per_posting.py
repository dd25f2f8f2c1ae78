"""Fewer indexes written by every posting: each ledger transaction row wrote seven, two of them never read.

unique=True and db_index=True on a CharField give PostgreSQL a second, varchar_pattern_ops index for LIKE
'prefix%' searches; nothing searches idempotency keys or references by prefix (the admin's "=reference" is
an exact match), so both twins go: the key stays unique through a named constraint (created first, so
there is never a moment without one; ledger_post's ON CONFLICT (idempotency_key) uses it), the reference
keeps one plain btree. The staff author is indexed only where there is one: stakes, wins and deposits have
none, and an index on a NULL still costs a write. Seven index writes per transaction become four
(scripts/bench.py, issue #13).

On SQLite the altered fields rebuild the table: its append-only triggers are lifted and restored around it.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from apps.core.sqlite_triggers import around_sqlite_rebuild


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0007_ledger_post_function"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = around_sqlite_rebuild(
        "ledger_ledgertransaction",
        operations=[
            migrations.AddConstraint(
                model_name="ledgertransaction",
                constraint=models.UniqueConstraint(fields=("idempotency_key",), name="ledger_txn_idempotency_key_unique"),
            ),
            migrations.AlterField(
                model_name="ledgertransaction",
                name="idempotency_key",
                field=models.CharField(max_length=160),
            ),
            migrations.AlterField(
                model_name="ledgertransaction",
                name="reference",
                field=models.CharField(blank=True, help_text="What caused it, e.g. deposit:42.", max_length=160),
            ),
            migrations.AddIndex(
                model_name="ledgertransaction",
                index=models.Index(fields=["reference"], name="ledger_txn_reference"),
            ),
            migrations.AlterField(
                model_name="ledgertransaction",
                name="created_by",
                field=models.ForeignKey(
                    blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                    to=settings.AUTH_USER_MODEL,
                ),
            ),
            migrations.AddIndex(
                model_name="ledgertransaction",
                index=models.Index(condition=models.Q(("created_by__isnull", False)), fields=["created_by"], name="ledger_txn_created_by"),
            ),
        ],
    )
