"""The posting engine's PostgreSQL path: one PL/pgSQL function, so a posting is one round trip.

ledger_post locks the accounts (the player's in id order, then several counterparties in id order;
a single counterparty is locked by the UPDATE that moves it, as late as possible), checks the player
balances against the locked values, passes the idempotency gate (INSERT ... ON CONFLICT DO NOTHING,
which waits for a concurrent twin), moves the cached balances and appends the entries. It answers
with a status instead of raising, so a refusal leaves the caller's transaction usable:

- 'posted': transaction id, fingerprint, and per account (by id) the entry id, amount and balance after;
- 'replay' / 'conflict': the idempotency key exists with the same / another fingerprint;
- 'insufficient': `available` holds {account kind: locked balance} of the accounts that would go negative;
- 'missing': a wallet posting found the player's accounts or the house shard not opened yet.

Only an account id that does not exist (a programming error) raises: SQLSTATE P0002, no_data_found.

The fingerprint is computed here with the same formula as apps.ledger.engine._fingerprint (SHA-256
of the JSON [kind, [[account id, amount], ...] by id, reference], reference JSON-encoded by Python),
because a wallet posting only learns its account ids here; a test pins the two as equal.
Other databases (the SQLite demo) keep the engine's step-by-step Python path.
"""

from django.db import migrations

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_post(
    p_kind text,
    p_idempotency_key text,
    p_reference text,
    p_reference_json text,
    p_reason text,
    p_metadata jsonb,
    p_created_by_id bigint,
    p_created_at timestamptz,
    p_amounts bigint[],
    p_player_ids bigint[],
    p_counterparty_ids bigint[],
    p_player_id bigint,
    p_currency text,
    p_leg_kinds text[],
    p_counterparty_kind text,
    p_shard integer,
    OUT o_status text,
    OUT o_transaction_id bigint,
    OUT o_fingerprint text,
    OUT o_account_ids bigint[],
    OUT o_entry_ids bigint[],
    OUT o_amounts bigint[],
    OUT o_balances bigint[],
    OUT o_available jsonb
) LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[] := '{}';
    v_amounts bigint[] := '{}';
    v_short jsonb := '{}';
    v_row record;
    v_i integer;
    v_counterparty bigint;
    v_stored text;
BEGIN
    IF p_player_id IS NOT NULL THEN
        -- A wallet posting (engine.player_post): p_amounts go with p_leg_kinds on the player's accounts
        -- in p_currency, balanced by the house account p_counterparty_kind, shard p_shard (if any).
        -- All of the player's accounts are locked, by id: they are this player's alone.
        FOR v_row IN
            SELECT id, kind, balance FROM ledger_account
            WHERE player_id = p_player_id AND currency = p_currency ORDER BY id FOR UPDATE
        LOOP
            v_i := array_position(p_leg_kinds, v_row.kind::text);
            IF v_i IS NOT NULL THEN
                v_ids := v_ids || v_row.id;
                v_amounts := v_amounts || p_amounts[v_i];
                IF v_row.balance + p_amounts[v_i] < 0 THEN
                    v_short := v_short || jsonb_build_object(v_row.kind, v_row.balance);
                END IF;
            END IF;
        END LOOP;
        IF cardinality(v_ids) <> cardinality(p_leg_kinds) THEN
            o_status := 'missing';
            RETURN;
        END IF;
        IF p_counterparty_kind IS NOT NULL THEN
            SELECT id INTO v_counterparty FROM ledger_account
            WHERE player_id IS NULL AND kind = p_counterparty_kind AND currency = p_currency AND shard = p_shard;
            IF v_counterparty IS NULL THEN
                o_status := 'missing';
                RETURN;
            END IF;
            v_ids := v_ids || v_counterparty;
            v_amounts := v_amounts || (SELECT -sum(a)::bigint FROM unnest(p_amounts) AS a);
        END IF;
    ELSE
        -- Given accounts (engine.transaction_post): p_amounts go with p_player_ids || p_counterparty_ids.
        v_ids := p_player_ids || p_counterparty_ids;
        v_amounts := p_amounts;
        v_i := 0;
        FOR v_row IN SELECT id, kind, balance FROM ledger_account WHERE id = ANY(p_player_ids) ORDER BY id FOR UPDATE LOOP
            v_i := v_i + 1;
            IF v_row.balance + p_amounts[array_position(v_ids, v_row.id)] < 0 THEN
                v_short := v_short || jsonb_build_object(v_row.kind, v_row.balance);
            END IF;
        END LOOP;
        IF v_i <> cardinality(p_player_ids) THEN
            RAISE EXCEPTION 'Ledger accounts % do not exist.', p_player_ids USING ERRCODE = 'no_data_found';
        END IF;
        IF cardinality(p_counterparty_ids) > 1 THEN
            PERFORM 1 FROM ledger_account WHERE id = ANY(p_counterparty_ids) ORDER BY id FOR UPDATE;
        END IF;
    END IF;

    o_fingerprint := encode(sha256(convert_to(
        '[' || to_json(p_kind)::text || ',['
        || (SELECT string_agg('[' || t.id || ',' || t.amount || ']', ',' ORDER BY t.id) FROM unnest(v_ids, v_amounts) AS t(id, amount))
        || '],' || p_reference_json || ']', 'UTF8')), 'hex');

    IF v_short <> '{}' THEN
        -- Refused, unless this is a replay: its first answer stands even if the balance has moved since.
        -- The INSERT waits for a concurrent twin like the normal path; the block's rollback undoes it.
        BEGIN
            INSERT INTO ledger_ledgertransaction
                (kind, idempotency_key, fingerprint, reference, reason, metadata, created_by_id, created_at)
            VALUES (p_kind, p_idempotency_key, o_fingerprint, p_reference, p_reason, p_metadata, p_created_by_id, p_created_at)
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id INTO o_transaction_id;
            IF o_transaction_id IS NOT NULL THEN
                RAISE EXCEPTION 'insufficient funds' USING ERRCODE = 'P0001';
            END IF;
        EXCEPTION WHEN raise_exception THEN
            o_transaction_id := NULL;
            o_status := 'insufficient';
            o_available := v_short;
            RETURN;
        END;
    ELSE
        INSERT INTO ledger_ledgertransaction
            (kind, idempotency_key, fingerprint, reference, reason, metadata, created_by_id, created_at)
        VALUES (p_kind, p_idempotency_key, o_fingerprint, p_reference, p_reason, p_metadata, p_created_by_id, p_created_at)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id INTO o_transaction_id;
    END IF;

    IF o_transaction_id IS NULL THEN
        SELECT id, fingerprint INTO o_transaction_id, v_stored FROM ledger_ledgertransaction WHERE idempotency_key = p_idempotency_key;
        o_status := CASE WHEN v_stored = o_fingerprint THEN 'replay' ELSE 'conflict' END;
        RETURN;
    END IF;

    WITH moved AS (
        UPDATE ledger_account AS account SET balance = account.balance + posting.amount
        FROM unnest(v_ids, v_amounts) AS posting(account_id, amount)
        WHERE account.id = posting.account_id
        RETURNING account.id, posting.amount, account.balance
    ), entries AS (
        INSERT INTO ledger_entry (transaction_id, account_id, amount, balance_after, kind, created_at)
        SELECT o_transaction_id, moved.id, moved.amount, moved.balance, p_kind, p_created_at FROM moved ORDER BY moved.id
        RETURNING id, account_id, amount, balance_after
    )
    SELECT array_agg(entries.account_id ORDER BY entries.account_id), array_agg(entries.id ORDER BY entries.account_id),
           array_agg(entries.amount ORDER BY entries.account_id), array_agg(entries.balance_after ORDER BY entries.account_id)
    INTO o_account_ids, o_entry_ids, o_amounts, o_balances FROM entries;
    IF cardinality(o_account_ids) IS DISTINCT FROM cardinality(v_ids) THEN
        -- Rolls back this statement, the transaction row included.
        RAISE EXCEPTION 'Ledger accounts % do not exist.', v_ids USING ERRCODE = 'no_data_found';
    END IF;
    o_status := 'posted';
END;
$$;
"""

PG_DROP = (
    "DROP FUNCTION IF EXISTS ledger_post(text, text, text, text, text, jsonb, bigint, timestamptz, bigint[], bigint[], bigint[], "
    "bigint, text, text[], text, integer);"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_sqlite_append_only_triggers_again")]
    operations = [migrations.RunPython(create, drop)]
