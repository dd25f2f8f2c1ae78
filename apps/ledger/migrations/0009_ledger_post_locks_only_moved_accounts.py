"""ledger_post locks only the player's accounts the posting moves, not every account the player holds.

Migration 0007 locked all of the player's accounts in the currency (cash, bonus, held) FOR UPDATE, then moved
the ones with a leg. A stake or a win moves cash alone: the two other row locks protected nothing (the balance
check reads only the legs' balances) and each wrote a tuple lock to the heap and the WAL, on every posting.
Locks are still taken in account id order within the player, then the house account, so two postings of one
player still queue in the same order and never deadlock; a posting of cash and held (a withdrawal) locks both.
The function is otherwise 0007's, derived from it here so the two cannot drift apart (a test pins the result).
"""

from importlib import import_module

from django.db import migrations

_0007 = import_module("apps.ledger.migrations.0007_ledger_post_function")

_ALL_ACCOUNTS = "WHERE player_id = p_player_id AND currency = p_currency ORDER BY id FOR UPDATE"
_MOVED_ACCOUNTS = (
    "WHERE player_id = p_player_id AND currency = p_currency AND kind = ANY(p_leg_kinds) ORDER BY id FOR UPDATE"
)
_COMMENT_BEFORE = "-- All of the player's accounts are locked, by id: they are this player's alone."
_COMMENT_AFTER = "-- The player's accounts with a leg are locked, by id (migration 0009)."

assert _0007.PG_FUNCTION.count(_ALL_ACCOUNTS) == 1 and _0007.PG_FUNCTION.count(_COMMENT_BEFORE) == 1
PG_FUNCTION = _0007.PG_FUNCTION.replace(_ALL_ACCOUNTS, _MOVED_ACCOUNTS).replace(_COMMENT_BEFORE, _COMMENT_AFTER)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)


def restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_0007.PG_FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_transaction_indexes_written_per_posting")]
    operations = [migrations.RunPython(create, restore)]
