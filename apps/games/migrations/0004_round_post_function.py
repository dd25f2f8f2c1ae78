"""A whole in-house round in one PL/pgSQL call on PostgreSQL: games.services.round_play's fast path.

A round used to take about ten round trips (BEGIN, the session's lock, the replay lookup, the
protection lock and the player's status, the stake, the payout, the round's row, the nonce, COMMIT):
on a two-core machine the application's share of a round was its round trips, not PostgreSQL's work
(scripts/bench.py, bench/profiles/). games_round_post does the same steps, in the same lock order,
inside one statement, so a round is one read of the session (to compute the provably fair outcome
in Python) and this one call, each its own transaction when the caller has none:

1. lock the session (FOR UPDATE) and look the idempotency key up under that lock: 'replay';
2. the session's nonce must still be the one the outcome was computed for: else 'retry';
3. lock the player's protection row, then read the player's status and currency in a later statement
   (READ COMMITTED: a statement that starts after the lock sees what its previous holder committed);
4. only the plain case passes here: an active player in the stake's currency, no time-out, no
   self-exclusion, no limits (has_limits). Anything else answers 'fallback' before writing anything,
   and round_play runs its step-by-step path, whose protection_check gives the exact refusal or reads
   the limits (the same answer, a few round trips dearer, for the rare player it concerns);
5. the stake and the payout through ledger_post (migration ledger 0007: its idempotency gate, balance
   check under the lock, entries and cached balances); a refused stake answers 'fallback' too, so the
   refusal and its details come from the one place that words them;
6. the round's row and the session's next nonce.

Nothing is written unless everything is: a failure after the stake raises, which undoes the statement.
"""

from django.db import migrations

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION games_round_post(
    p_session_id bigint,
    p_player_id bigint,
    p_nonce integer,
    p_idempotency_key text,
    p_currency text,
    p_stake bigint,
    p_payout bigint,
    p_now timestamptz,
    p_choices jsonb,
    p_outcome jsonb,
    p_variance double precision,
    p_metadata jsonb,
    p_reference text,
    p_reference_json text,
    p_shard integer,
    OUT o_status text,
    OUT o_round_id bigint,
    OUT o_bet_id bigint,
    OUT o_win_id bigint,
    OUT o_balance bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_session record;
    v_protection record;
    v_player record;
    v_posted record;
BEGIN
    SELECT id, game_id, status, nonce, rtp INTO v_session FROM games_gamesession
    WHERE id = p_session_id AND player_id = p_player_id FOR UPDATE;
    IF NOT FOUND THEN
        o_status := 'fallback';
        RETURN;
    END IF;
    SELECT id INTO o_round_id FROM games_round WHERE session_id = p_session_id AND idempotency_key = p_idempotency_key;
    IF FOUND THEN
        o_status := 'replay';
        RETURN;
    END IF;
    IF v_session.status <> 'open' THEN
        o_status := 'fallback';
        RETURN;
    END IF;
    IF v_session.nonce <> p_nonce THEN
        o_status := 'retry';
        RETURN;
    END IF;

    SELECT timeout_until, self_excluded_from, self_excluded_until, self_exclusion_permanent, has_limits
    INTO v_protection FROM limits_playerprotection WHERE player_id = p_player_id FOR UPDATE;
    IF NOT FOUND THEN
        o_status := 'fallback';
        RETURN;
    END IF;
    -- A separate statement, after the lock: it sees a status change its previous holder committed.
    SELECT status, currency INTO v_player FROM players_player WHERE id = p_player_id;
    IF v_player.status <> 'active'
       OR v_player.currency <> p_currency
       OR v_protection.has_limits
       OR (v_protection.timeout_until IS NOT NULL AND v_protection.timeout_until > p_now)
       OR (v_protection.self_excluded_from IS NOT NULL
           AND (v_protection.self_exclusion_permanent
                OR (v_protection.self_excluded_until IS NOT NULL AND v_protection.self_excluded_until > p_now))) THEN
        o_status := 'fallback';
        RETURN;
    END IF;

    SELECT * INTO v_posted FROM ledger_post(
        'bet', p_reference || ':bet', p_reference, p_reference_json, '', p_metadata, NULL, p_now,
        ARRAY[-p_stake], NULL, NULL, p_player_id, p_currency, ARRAY['player_cash'], 'house_game_revenue', p_shard);
    IF v_posted.o_status <> 'posted' THEN
        o_status := 'fallback';
        RETURN;
    END IF;
    o_bet_id := v_posted.o_transaction_id;
    o_balance := v_posted.o_balances[array_position(v_posted.o_amounts, -p_stake)];

    IF p_payout > 0 THEN
        SELECT * INTO v_posted FROM ledger_post(
            'win', p_reference || ':win', p_reference, p_reference_json, '', p_metadata, NULL, p_now,
            ARRAY[p_payout], NULL, NULL, p_player_id, p_currency, ARRAY['player_cash'], 'house_game_revenue', p_shard);
        IF v_posted.o_status <> 'posted' THEN
            RAISE EXCEPTION 'The payout of round % of session % was refused: %', p_nonce, p_session_id, v_posted.o_status;
        END IF;
        o_win_id := v_posted.o_transaction_id;
        o_balance := v_posted.o_balances[array_position(v_posted.o_amounts, p_payout)];
    END IF;

    INSERT INTO games_round (session_id, player_id, game_id, nonce, idempotency_key, currency, stake_minor, payout_minor,
                             balance_after_minor, rtp, choices, outcome, variance, bet_transaction_id, win_transaction_id, created_at)
    VALUES (p_session_id, p_player_id, v_session.game_id, p_nonce, p_idempotency_key, p_currency, p_stake, p_payout,
            o_balance, v_session.rtp, p_choices, p_outcome, p_variance, o_bet_id, o_win_id, p_now)
    RETURNING id INTO o_round_id;
    UPDATE games_gamesession SET nonce = nonce + 1 WHERE id = p_session_id;
    o_status := 'posted';
END;
$$;
"""

PG_DROP = (
    "DROP FUNCTION IF EXISTS games_round_post(bigint, bigint, integer, text, text, bigint, bigint, timestamptz, jsonb, jsonb, "
    "double precision, jsonb, text, text, integer);"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("games", "0003_house_games"),
        ("ledger", "0007_ledger_post_function"),
        ("limits", "0006_limit_confirmation"),
        ("players", "0005_excluded_identity"),
    ]
    operations = [migrations.RunPython(create, drop)]
