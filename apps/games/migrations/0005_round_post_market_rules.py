"""games_round_post leaves to round_play's step-by-step path every player the markets' rules concern.

Migration 0004's fast path knew only status, time-out, self-exclusion and limits. The markets' rules
(issue #11) live in apps.limits.services.play.stake_check: verification before play (UKGC LCCP 17.1),
the due-diligence threshold for unverified players (EU AMLD art. 11(d)), reality checks (UKGC RTS 13)
and the slot rules (SI 2025/215, RTS 14). Without this change a plain round skipped them all. Here the
function answers 'fallback' for a player without an approved, unexpired KYC case (which settles both
identity rules: an approved player passes them) and for a player with reality checks on; round_play
sends slot rounds of markets with slot rules down the step-by-step path before calling it. The plain
case left on the fast path is the verified player without limits, time-out, exclusion or reminders.
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

    SELECT timeout_until, self_excluded_from, self_excluded_until, self_exclusion_permanent, has_limits, reality_check_minutes
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
       OR v_protection.reality_check_minutes IS NOT NULL
       OR NOT EXISTS (SELECT 1 FROM kyc_kyccase k WHERE k.player_id = p_player_id AND k.state = 'approved'
                      AND (k.expires_at IS NULL OR k.expires_at > p_now))
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


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("games", "0004_round_post_function"),
        ("kyc", "0002_expiry_schedule"),
        ("limits", "0010_backfill_mandatory_deposit_limits"),
    ]
    # Backwards: 0004's own reverse drops the function; the older body needs no restoring here.
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
