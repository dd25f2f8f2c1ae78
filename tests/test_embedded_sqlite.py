"""The embedded default (`make run`) migrates a fresh SQLite database and keeps its database-level guards.

The suite runs on PostgreSQL; this is the one test of the SQLite path's schema. On SQLite, Django
rebuilds a table to alter it, and a rebuild drops the table's triggers with it (or fails on a trigger
that names the table): the append-only ledger and the has-limits flag would silently lose their guard
in the demo. So: migrate from nothing, then check every trigger is there and does its job.
"""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

EXPECTED_TRIGGERS = {
    "ledger_entry_no_update",
    "ledger_entry_no_delete",
    "ledger_ledgertransaction_no_update",
    "ledger_ledgertransaction_no_delete",
    "limits_limit_marks_protection",
}


@pytest.mark.slow
def test_a_fresh_sqlite_database_migrates_and_seeds_with_every_trigger_in_place(tmp_path):
    """What `make run` does on a fresh machine: migrate, then the demo seed through the real services."""
    database = tmp_path / "fresh.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{database}",
        "PRIVATE_MEDIA_ROOT": str(tmp_path / "media"),
    }
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    seeded = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert seeded.returncode == 0, seeded.stdout[-2000:] + seeded.stderr[-4000:]
    assert "Demo data ready." in seeded.stdout
    verified = subprocess.run(
        [sys.executable, "manage.py", "verify_ledger"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]

    with sqlite3.connect(database) as db:
        triggers = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert triggers >= EXPECTED_TRIGGERS, sorted(EXPECTED_TRIGGERS - triggers)
        # And they still bite: an entry cannot be rewritten.
        db.execute("INSERT INTO ledger_ledgertransaction (kind, idempotency_key, fingerprint, reference, reason, metadata, created_at) "
                   "VALUES ('adjustment', 'test-k', 'f', '', '', '{}', '2026-01-01')")
        try:
            db.execute("UPDATE ledger_ledgertransaction SET reference = 'changed'")
        except sqlite3.DatabaseError as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError("an UPDATE of a ledger transaction went through")
