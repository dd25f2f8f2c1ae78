"""Games place stakes: the responsible-gaming check, then the ledger posting, in one transaction.

Also the catalog's writes (RTP and stake limits, with a reason), provably fair sessions and their
rounds, and launch tokens for provider games. The provider wallets' rules live in
apps.games.provider_wallet; the RTP monitor in apps.games.stats.
"""

from __future__ import annotations

import importlib
import json
import secrets
import time
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import F

from apps.core import clock
from apps.core.dbcall import call_prepared
from apps.core.errors import DomainError, IdempotencyConflict, InvalidState, MarketRestricted, NotFound, StakeOutOfRange, ValidationFailed
from apps.core.fsm import fsm_step
from apps.core.history import save_with_history
from apps.core.money import Money
from apps.ledger import selectors as ledger_selectors
from apps.ledger import services as ledger_services
from apps.ledger.models import LedgerTransaction, TransactionKind
from apps.limits.services import play_check, stake_check
from apps.markets import selectors as markets_selectors

from . import fairness
from .engines import engine_for
from .models import Game, GameKind, GameSession, LaunchToken, Provider, Round, SessionStatus

_CLIENT_SEED_MAX = 64


def is_slot(game: Game | None) -> bool:
    """A game the markets' slot rules (stake cap, spin interval, no autoplay) apply to."""
    return game is not None and game.kind == GameKind.SLOTS


@transaction.atomic
def stake_place(
    *, player, amount: Money, idempotency_key: str, reference: str, metadata: dict | None = None, game: Game | None = None
) -> LedgerTransaction:
    """A stake, after the stake check (ARCHITECTURE.md: games orchestrate, the ledger only moves money).

    The check runs first, inside this transaction, and holds the player's protection lock until commit, so
    concurrent stakes cannot jointly exceed a limit; it takes its lock before the ledger's account locks, in
    the same order deposits do, so the two never deadlock. It applies the player's market's rules too
    (apps.limits.services.play): verification or due diligence, reality checks, and for a slot `game` the
    stake cap and spin interval; `reference` names the game cycle.
    """
    return _stake_in_transaction(
        player=player, amount=amount, idempotency_key=idempotency_key, reference=reference, metadata=metadata, game=game
    )


def _stake_in_transaction(
    *, player, amount: Money, idempotency_key: str, reference: str, metadata: dict | None, game: Game | None = None
) -> LedgerTransaction:
    """stake_place's body, for a caller already in its own transaction that lets any refusal end it (no savepoint)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("A stake must run inside the transaction that records it.")
    try:
        stake_check(player=player, amount=amount, slot=is_slot(game), cycle=reference)
    except DomainError:
        # A replay of a stake already taken must answer as before, even if a limit is now reached or the
        # player is now excluded. Asking only after a refusal keeps the lookup off the hot path; a refusal
        # is raised before any database error, so the transaction is still usable.
        if not ledger_selectors.transaction_exists(idempotency_key=idempotency_key):
            raise
    # No savepoint: any refusal of the posting ends this whole transaction, protection lock included.
    return ledger_services.bet_post(
        player=player, amount=amount, idempotency_key=idempotency_key, reference=reference, metadata=metadata, savepoint=False
    )


# --- Catalog: RTP and stake limits ------------------------------------------------------------------


def rtp_range() -> tuple[Decimal, Decimal]:
    """The RTP an operator may set (API.md: 80.00–99.00 unless the jurisdiction allows otherwise)."""
    low, high = getattr(settings, "GAMES_RTP_RANGE", ("80.00", "99.00"))
    return Decimal(low), Decimal(high)


def certified_rtps(game: Game) -> frozenset[Decimal] | None:
    """The RTP values a market's regulator certified for this game, or None when nothing restricts it.

    The seam for the markets issue: it provides `apps.markets.selectors.game_certified_rtps(game=...)`
    returning the certified values (e.g. Spain's DGOJ homologates a game at given RTPs); until that
    exists, only the operator's range applies. Games may import markets (layer 2), never the reverse.
    """
    try:
        module = importlib.import_module("apps.markets.selectors")
    except ImportError:
        return None
    hook = getattr(module, "game_certified_rtps", None)
    if hook is None:
        return None
    values = hook(game=game)
    return None if values is None else frozenset(Decimal(str(v)) for v in values)


def parse_rtp(raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str):
        raise ValidationFailed(details={"rtp": ['Send the RTP as a decimal string, e.g. "96.00".']})
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValidationFailed(details={"rtp": ["Not a decimal number."]}) from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise ValidationFailed(details={"rtp": ["At most two decimals."]})
    return value.quantize(Decimal("0.01"))


def _reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise ValidationFailed(details={"reason": ["Say why: the history keeps it for the regulator."]})
    return reason.strip()


@transaction.atomic
def game_rtp_set(*, game: Game, rtp: Decimal, actor, reason: str) -> Game:
    """Change a game's target RTP; sessions already open keep theirs (each session fixes its RTP at open).

    Regulators (e.g. UKGC RTS 7, DGOJ) require the published RTP to be the one played, so a change must
    never reach a session the player already started under the old figure.
    """
    reason = _reason(reason)
    low, high = rtp_range()
    if not low <= rtp <= high:
        raise ValidationFailed(details={"rtp": [f"Use {low} to {high}."]})
    locked = Game.objects.select_for_update().get(pk=game.pk)
    certified = certified_rtps(locked)
    if certified is not None and rtp not in certified:
        raise ValidationFailed(details={"rtp": [f"Certified values: {', '.join(str(v) for v in sorted(certified))}."]})
    locked.rtp = rtp
    save_with_history(locked, actor=actor, reason=f"RTP {rtp}: {reason}")
    return locked


@transaction.atomic
def game_stake_limits_set(*, game: Game, currency: str, min_stake: Money, max_stake: Money, actor, reason: str) -> Game:
    reason = _reason(reason)
    if min_stake.currency != currency or max_stake.currency != currency:
        raise ValidationFailed(details={"currency": ["Both limits must be in the currency they set."]})
    if not 0 < min_stake.minor <= max_stake.minor:
        raise ValidationFailed(details={"min_stake": ["The minimum must be positive and at most the maximum."]})
    locked = Game.objects.select_for_update().get(pk=game.pk)
    locked.stake_limits = {**(locked.stake_limits or {}), currency: {"min": min_stake.minor, "max": max_stake.minor}}
    save_with_history(locked, actor=actor, reason=f"Stakes {currency} {min_stake}–{max_stake}: {reason}")
    return locked


@transaction.atomic
def game_enabled_set(*, game: Game, enabled: bool, actor, reason: str) -> Game:
    reason = _reason(reason)
    locked = Game.objects.select_for_update().get(pk=game.pk)
    locked.enabled = enabled
    save_with_history(locked, actor=actor, reason=f"{'Enabled' if enabled else 'Disabled'}: {reason}")
    return locked


# --- Provably fair sessions and rounds ----------------------------------------------------------------


def _playable_check(player, game: Game) -> None:
    """The same refusal a stake would get (exclusion, time-out, status, the market's KYC rules), before a session or launch exists."""
    play_check(player=player, currency=player.currency)
    if not game.enabled:
        raise InvalidState("This game is not available.")
    if game.stake_range(player.currency) is None:
        raise ValidationFailed(details={"currency": [f"This game is not offered in {player.currency}."]})


def _client_seed(raw: str | None) -> str:
    if raw is None or raw == "":
        return fairness.new_client_seed()
    if not isinstance(raw, str) or len(raw) > _CLIENT_SEED_MAX or not raw.isascii() or not raw.isprintable() or ":" in raw:
        # ":" separates the HMAC message's parts; allowing it would make two (seed, nonce) pairs collide.
        raise ValidationFailed(details={"client_seed": [f"1–{_CLIENT_SEED_MAX} printable ASCII characters, no colon."]})
    return raw


@transaction.atomic
def session_open(*, player, game: Game, client_seed: str | None = None) -> GameSession:
    """Open a provably fair session: the server seed is drawn now and only its hash is shown until close."""
    if game.provider_id is not None or engine_for(game.kind) is None:
        raise NotFound("No in-house game with this slug.")
    _playable_check(player, game)
    server_seed = fairness.new_server_seed()
    session = GameSession(
        player=player,
        game=game,
        server_seed=server_seed,
        server_seed_hash=fairness.seed_hash(server_seed),
        client_seed=_client_seed(client_seed),
        rtp=game.rtp,
    )
    save_with_history(session, actor=None, reason="Opened by the player")
    return session


def _session_for(player, session_id: int, *, lock: bool) -> GameSession:
    qs = GameSession.objects.select_related("game")
    if lock:
        qs = qs.select_for_update(of=("self",))
    # Another player's session is "not found", never "forbidden": ids must not be probed.
    session = qs.filter(pk=session_id, player_id=player.pk).first()
    if session is None:
        raise NotFound("No such game session.")
    return session


@transaction.atomic
def session_close(*, player, session_id: int, reason: str = "Closed by the player") -> GameSession:
    """Close the session and so reveal its server seed; a closed session refuses rounds."""
    session = _session_for(player, session_id, lock=True)
    if session.status != SessionStatus.OPEN:
        raise InvalidState("This session is already closed.")
    _close(session, reason)
    return session


def _close(session: GameSession, reason: str) -> None:
    fsm_step(session, "close")
    session.closed_at = clock.now()
    session.close_reason = reason[:100]
    save_with_history(session, actor=None, reason=reason)


def sessions_close_for_player(*, player_id: int, reason: str) -> int:
    """Close every open session of the player (self-exclusion, time-out: UKGC SR 3.5.3, no play may continue)."""
    closed = 0
    for session_id in GameSession.objects.filter(player_id=player_id, status=SessionStatus.OPEN).values_list("pk", flat=True):
        with transaction.atomic():
            session = GameSession.objects.select_for_update().filter(pk=session_id, status=SessionStatus.OPEN).first()
            if session is not None:
                _close(session, reason)
                closed += 1
    return closed


def close_sessions_on_exclusion(sender, *, player_id: int, kind: str, **kwargs: Any) -> None:
    """Receiver of apps.limits.signals.exclusion_started (sent after the exclusion committed)."""
    sessions_close_for_player(player_id=player_id, reason=f"Closed by {kind.replace('_', '-')}")


def round_play(*, player, session_id: int, stake: Money, choices: dict[str, Any], idempotency_key: str) -> Round:
    """One round: the stake (after the protection check), the outcome, and the payout, all or nothing.

    The session's row lock serialises its rounds, so nonces are consecutive and never reused; it is
    taken before the protection lock and the ledger's locks, the order every games path uses.
    The ledger keys are derived from the session and nonce, so the postings are idempotent too; a
    repeated `idempotency_key` returns the round already played (`.replayed = True`).

    On PostgreSQL the plain round (an active, KYC-approved player without limits, time-out, exclusion or
    reality checks, funds enough, and no market slot rules for the game) is one read and one call of
    games_round_post (migrations 0004 and 0005), which takes the same locks
    in the same order; everything else, and every refusal, takes the step-by-step path below, so the
    answers and their wording come from one place. The SQLite demo always takes the step-by-step path.
    """
    if connection.vendor == "postgresql":
        played = _round_play_in_database(
            player=player, session_id=session_id, stake=stake, choices=choices, idempotency_key=idempotency_key
        )
        if played is not None:
            return played
    return _round_play_step_by_step(player=player, session_id=session_id, stake=stake, choices=choices, idempotency_key=idempotency_key)


_ROUND_POST = (
    "SELECT * FROM games_round_post(%s::bigint, %s::bigint, %s::integer, %s::text, %s::text, %s::bigint, %s::bigint, "
    "%s::timestamptz, %s::jsonb, %s::jsonb, %s::float8, %s::jsonb, %s::text, %s::text, %s::integer)"
)

def _round_post_in_database(args: list) -> tuple:
    """Call games_round_post (migrations 0004/0005): the whole round in one prepared statement; returns its one row."""
    return call_prepared(_ROUND_POST, args)


_SESSION_FIELDS = GameSession._meta.concrete_fields
_GAME_FIELDS = Game._meta.concrete_fields
_ROUND_FIELDS = [field.attname for field in Round._meta.concrete_fields]
_session_sql: str | None = None


def _session_query() -> str:
    """The session and its game in one row, as the ORM's select_related would read them (built once)."""
    global _session_sql
    if _session_sql is None:
        quote = connection.ops.quote_name
        columns = [f"s.{quote(f.column)}" for f in _SESSION_FIELDS] + [f"g.{quote(f.column)}" for f in _GAME_FIELDS]
        _session_sql = (
            f"SELECT {', '.join(columns)} FROM {quote(GameSession._meta.db_table)} AS s "  # noqa: S608 - no input
            f"JOIN {quote(Game._meta.db_table)} AS g ON g.id = s.game_id WHERE s.id = %s AND s.player_id = %s"
        )
    return _session_sql


_converters: dict[type, tuple[list[str], list[tuple[int, list]]]] = {}


def _loaded(model, fields, values: Sequence) -> Any:
    """A model instance from a raw row, with the fields' own converters (JSON) applied, as the ORM does."""
    known = _converters.get(model)
    if known is None:
        # Looked up once per process: the attribute names, and which fields convert their values (JSON) how.
        known = _converters[model] = (
            [field.attname for field in fields],
            [(i, converters) for i, field in enumerate(fields) if (converters := field.get_db_converters(connection))],
        )
    names, converting = known
    if converting:
        values = list(values)
        for i, converters in converting:
            for converter in converters:
                values[i] = converter(values[i], None, connection)
    return model.from_db(DEFAULT_DB_ALIAS, names, values)


def _session_read(player, session_id: int, *, lock: bool = False) -> GameSession | None:
    """The player's session with its game: one prepared statement instead of the ORM's query building, which cost
    more client CPU than the rest of a round (bench/profiles). `lock`: FOR UPDATE OF the session, as _session_for."""
    row = call_prepared(_session_query() + (" FOR UPDATE OF s" if lock else ""), [session_id, player.pk])
    if row is None:
        return None
    split = len(_SESSION_FIELDS)
    session = _loaded(GameSession, _SESSION_FIELDS, row[:split])
    session.game = _loaded(Game, _GAME_FIELDS, row[split:])
    return session


def _round_play_in_database(*, player, session_id: int, stake: Money, choices: dict[str, Any], idempotency_key: str) -> Round | None:
    """The plain round in one statement after one read; None when round_play must take its step-by-step path.

    The outcome is computed from the session as read (unlocked); games_round_post then locks the
    session and posts only if its nonce is still the one the outcome was drawn for ('retry' otherwise:
    another round of the same session came first). Outside a caller's transaction the call is its own
    transaction (one statement is atomic), so a round costs two round trips and no BEGIN/COMMIT.
    A round that lost that race is played again with the session read under its lock, in a transaction,
    so it cannot lose twice: several clients on one session take turns instead of falling back to the
    step-by-step path, which holds the same lock for ten round trips. A session that lost such a race in
    this process within the last second goes straight to the locked read (its rounds are queuing anyway:
    the unlocked try would mostly cost a wasted read and call).
    """
    if not _recently_contended(session_id):
        session = _session_read(player, session_id)
        played = _round_try(player=player, session=session, stake=stake, choices=choices, idempotency_key=idempotency_key)
        if played != "retry":
            return played
        if len(_contended) > 10_000:  # a lost race is rare outside a shared session: forget old ones wholesale
            _contended.clear()
        _contended[session_id] = time.monotonic()
    with transaction.atomic():
        session = _session_read(player, session_id, lock=True)
        played = _round_try(player=player, session=session, stake=stake, choices=choices, idempotency_key=idempotency_key)
    return None if played == "retry" else played  # pragma: no branch - under the lock the nonce cannot move


_CONTENDED_SECONDS = 1.0
_contended: dict[int, float] = {}  # session id -> when a round of it last lost the nonce race in this process


def _recently_contended(session_id: int) -> bool:
    lost = _contended.get(session_id)
    if lost is None:
        return False
    if time.monotonic() - lost < _CONTENDED_SECONDS:
        return True
    _contended.pop(session_id, None)
    return False


def _round_try(*, player, session: GameSession | None, stake: Money, choices: dict[str, Any], idempotency_key: str) -> Round | str | None:
    """Draw the outcome for the session's current nonce and call games_round_post: the round, "retry", or None (fallback)."""
    if session is None or session.status != SessionStatus.OPEN or stake.currency != player.currency:
        return None
    game = session.game
    if is_slot(game) and _market_has_slot_rules(player):
        return None  # the cap and the spin interval are stake_check's (migration 0005)
    engine = engine_for(game.kind)
    stake_range = game.stake_range(stake.currency) if game.enabled and engine is not None else None
    if stake_range is None or not stake_range[0].minor <= stake.minor <= stake_range[1].minor:
        return None
    try:
        parsed = engine.parse_choices(choices)
    except DomainError:
        return None  # a replay must answer as before even with choices that no longer parse: the slow path knows
    nonce = session.nonce
    units = fairness.round_units(session.server_seed, session.client_seed, nonce, engine.floats)
    play = engine.play(units=units, stake_minor=stake.minor, rtp=session.rtp, choices=parsed)
    reference = f"game-round:{session.pk}:{nonce}"
    metadata = {"game": game.slug, "session": session.pk, "nonce": nonce}
    variance = stake.minor**2 * engine.variance_per_unit(rtp=session.rtp, choices=parsed)
    now = clock.now()
    adapt = connection.ops.adapt_json_value
    args = [
        session.pk, player.pk, nonce, idempotency_key, stake.currency, stake.minor, play.payout_minor, now,
        adapt(parsed, None), adapt(play.outcome, None), variance, adapt(metadata, None), reference, json.dumps(reference),
        ledger_services.counterparty_shard(player),
    ]
    status, round_id, bet_id, win_id, balance = _round_post_in_database(args)
    if status == "retry":
        return "retry"
    if status != "posted":
        return None  # replay, refusal, or a case the function leaves to protection_check
    wallet = (player.pk, stake.currency)
    ledger_services.transaction_announce(bet_id, ledger_services.wallet_movements(TransactionKind.BET, [(*wallet, -stake.minor)]))
    if win_id is not None:
        ledger_services.transaction_announce(win_id, ledger_services.wallet_movements(TransactionKind.WIN, [(*wallet, play.payout_minor)]))
    session.nonce = nonce + 1
    values = {
        "id": round_id, "session_id": session.pk, "player_id": player.pk, "game_id": game.pk, "nonce": nonce,
        "idempotency_key": idempotency_key, "currency": stake.currency, "stake_minor": stake.minor, "payout_minor": play.payout_minor,
        "balance_after_minor": balance, "rtp": session.rtp, "choices": parsed, "outcome": play.outcome, "variance": variance,
        "bet_transaction_id": bet_id, "win_transaction_id": win_id, "created_at": now,
    }
    # Built positionally (Django's fast __init__), then the objects in hand attached as the ORM would cache them.
    round_ = Round.from_db(DEFAULT_DB_ALIAS, _ROUND_FIELDS, [values[name] for name in _ROUND_FIELDS])
    round_.session, round_.player, round_.game = session, player, game
    round_.replayed = False
    return round_


def _market_has_slot_rules(player) -> bool:
    """Slot rounds of a market with a stake cap or a minimum spin interval take the step-by-step path,
    where stake_check applies them (SI 2025/215; UKGC RTS 14). The policy is cached per process."""
    policy = markets_selectors.policy_for(player)
    return policy.slot_min_spin_interval is not None or markets_selectors.slot_stake_cap_for(player) is not None


@transaction.atomic
def _round_play_step_by_step(*, player, session_id: int, stake: Money, choices: dict[str, Any], idempotency_key: str) -> Round:
    session = _session_for(player, session_id, lock=True)
    existing = Round.objects.filter(session=session, idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.stake_minor != stake.minor or existing.currency != stake.currency:
            raise IdempotencyConflict(details={"idempotency_key": idempotency_key})
        existing.replayed = True
        existing.session = session
        return existing
    if session.status != SessionStatus.OPEN:
        raise InvalidState("This session is closed; open a new one to play on.")
    game = session.game
    if not game.enabled:
        raise InvalidState("This game is not available.")
    engine = engine_for(game.kind)
    parsed = engine.parse_choices(choices)
    stake_range = game.stake_range(stake.currency)
    if stake.currency != player.currency:
        raise ValidationFailed(details={"currency": [f"Use {player.currency}."]})
    if stake_range is None or not stake_range[0].minor <= stake.minor <= stake_range[1].minor:
        details = {"min_stake": str(stake_range[0]), "max_stake": str(stake_range[1])} if stake_range else {}
        raise StakeOutOfRange(details=details)

    nonce = session.nonce
    units = fairness.round_units(session.server_seed, session.client_seed, nonce, engine.floats)
    play = engine.play(units=units, stake_minor=stake.minor, rtp=session.rtp, choices=parsed)
    reference = f"game-round:{session.pk}:{nonce}"
    metadata = {"game": game.slug, "session": session.pk, "nonce": nonce}
    bet = _stake_in_transaction(
        player=player, amount=stake, idempotency_key=f"{reference}:bet", reference=reference, metadata=metadata, game=game
    )
    balance_minor = _cash_after(bet, -stake.minor)
    win = None
    if play.payout_minor > 0:
        win = ledger_services.win_post(
            player=player, amount=Money.from_minor(play.payout_minor, stake.currency), idempotency_key=f"{reference}:win",
            reference=reference, metadata=metadata, savepoint=False,
        )
        balance_minor = _cash_after(win, play.payout_minor)
    if balance_minor is None:  # pragma: no cover - a posting without its entries (a ledger replay) cannot happen under the session lock
        balance_minor = ledger_selectors.wallet_balances(player=player).cash.minor
    round_ = Round.objects.create(
        session=session,
        player=player,
        game=game,
        nonce=nonce,
        idempotency_key=idempotency_key,
        currency=stake.currency,
        stake_minor=stake.minor,
        payout_minor=play.payout_minor,
        balance_after_minor=balance_minor,
        rtp=session.rtp,
        choices=parsed,
        outcome=play.outcome,
        variance=stake.minor**2 * engine.variance_per_unit(rtp=session.rtp, choices=parsed),
        bet_transaction=bet,
        win_transaction=win,
    )
    GameSession.objects.filter(pk=session.pk).update(nonce=F("nonce") + 1)
    session.nonce = nonce + 1
    round_.session = session
    round_.replayed = False
    return round_


def _cash_after(posting: LedgerTransaction, cash_amount: int) -> int | None:
    """The player's cash after a two-legged game posting, read from its own entries (no extra query).

    The cash leg is the entry carrying `cash_amount` (−stake for a bet, +payout for a win); the house
    leg carries the opposite sign, so the two never match the same amount.
    """
    for entry in getattr(posting, "posted_entries", ()):
        if entry.amount == cash_amount:
            return entry.balance_after
    return None


def round_many(*, player, session_id: int, stake: Money, count: int, choices: dict[str, Any] | None = None, key_prefix: str = "") -> int:
    """`count` rounds one after another, each its own transaction (scripts/bench.py's stake+win path).

    This is autoplay: a slot game in a market that forbids it (UKGC RTS 14: no autoplay on online slots) is
    refused (403 market_restricted). The player API has no such call: every round is one request.
    """
    session = GameSession.objects.select_related("game").filter(pk=session_id, player_id=player.pk).first()
    if session is not None and is_slot(session.game) and not markets_selectors.policy_for(player).slot_autoplay_allowed:
        raise MarketRestricted("Your market does not allow autoplay on slots.", details={"reason": "slot_autoplay"})
    prefix = key_prefix or secrets.token_hex(6)
    for n in range(count):
        round_play(player=player, session_id=session_id, stake=stake, choices=choices or {}, idempotency_key=f"{prefix}-{n}")
    return count


# --- Provider games: launch tokens ---------------------------------------------------------------------


def launch_token_ttl() -> timedelta:
    return timedelta(hours=getattr(settings, "GAMES_LAUNCH_TOKEN_HOURS", 12))


@transaction.atomic
def launch_create(*, player, game: Game) -> LaunchToken:
    """Issue the token a provider sends back on every wallet call; it replaces the player's previous one
    for this game, which from now on settles wins and rollbacks but takes no new bets."""
    if game.provider_id is None:
        raise NotFound("No provider game with this slug.")
    provider: Provider = game.provider
    if not provider.enabled:
        raise InvalidState("This game is not available.")
    if player.currency not in (provider.currencies or []):
        raise ValidationFailed(details={"currency": [f"This game is not offered in {player.currency}."]})
    play_check(player=player, currency=player.currency)
    if not game.enabled:
        raise InvalidState("This game is not available.")
    now = clock.now()
    LaunchToken.objects.filter(player=player, game=game, replaced_at__isnull=True).update(replaced_at=now)
    return LaunchToken.objects.create(token=secrets.token_urlsafe(32), player=player, game=game, expires_at=now + launch_token_ttl())


def launch_url(token: LaunchToken) -> str:
    from urllib.parse import urlencode

    base = token.game.provider.launch_url or f"https://sandbox.invalid/{token.game.provider.code}/launch"
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode({'token': token.token, 'game': token.game.provider_game_code})}"


# --- Registration (seed, provider_key) ----------------------------------------------------------------


@transaction.atomic
def provider_key_set(*, code: str, secret: str | None = None, public_key_pem: str | None = None, actor=None) -> tuple[Provider, bool]:
    """Register or rotate a provider's key; creates the provider if new (API.md, Operations: provider_key).

    A generic provider signs with an HMAC secret (kept encrypted); a Caleta-family provider with an RSA
    key whose public half we keep. Returns (provider, created).
    """
    from . import crypto
    from .models import ProviderProtocol

    if (secret is None) == (public_key_pem is None):
        raise ValidationFailed("Give exactly one of a secret or a public key.")
    provider = Provider.objects.select_for_update().filter(code=code).first()
    created = provider is None
    protocol = ProviderProtocol.GENERIC if secret is not None else ProviderProtocol.CALETA
    if created:
        provider = Provider(code=code, name=code, protocol=protocol, currencies=["EUR"])
    elif provider.protocol != protocol:
        raise ValidationFailed(f"{code} uses the {provider.protocol} protocol; give the key that protocol signs with.")
    if secret is not None:
        if len(secret) < 32:
            raise ValidationFailed(details={"secret": ["At least 32 characters."]})
        provider.secret_encrypted = crypto.secret_encrypt(secret)
    else:
        try:
            crypto.public_key_load(public_key_pem)
        except ValueError as exc:
            raise ValidationFailed(details={"public_key": [str(exc)]}) from None
        provider.public_key_pem = public_key_pem.strip() + "\n"
    provider.key_rotated_at = clock.now()
    save_with_history(provider, actor=actor, reason="Key registered" if created else "Key rotated")
    return provider, created


# --- Admin edits (with a reason, one history row each) ---------------------------------------------------


def validate_stake_limits(stake_limits: object) -> dict:
    from apps.core.money import MINOR_UNITS

    if not isinstance(stake_limits, dict):
        raise ValidationFailed(details={"stake_limits": ['A JSON object: {"EUR": {"min": 10, "max": 10000}} in minor units.']})
    clean = {}
    for currency, limits in stake_limits.items():
        if currency not in MINOR_UNITS:
            raise ValidationFailed(details={"stake_limits": [f"Unknown currency {currency!r}."]})
        low = limits.get("min") if isinstance(limits, dict) else None
        high = limits.get("max") if isinstance(limits, dict) else None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) or not 0 < low <= high:
            raise ValidationFailed(details={"stake_limits": [f"{currency}: integer minor units with 0 < min <= max."]})
        clean[currency] = {"min": low, "max": high}
    return clean


GAME_EDITABLE = ("name", "enabled", "rtp", "volatility", "stake_limits")


@transaction.atomic
def game_update(*, game: Game, changes: dict[str, Any], actor, reason: str) -> Game:
    """An operator's edit of the catalog entry: RTP within the allowed range (and certified values), stake
    limits per currency; one history row with who and why."""
    reason = _reason(reason)
    unknown = set(changes) - set(GAME_EDITABLE)
    if unknown:
        raise ValidationFailed(f"These fields are not editable: {', '.join(sorted(unknown))}.")
    locked = Game.objects.select_for_update().get(pk=game.pk)
    if "rtp" in changes and changes["rtp"] != locked.rtp:
        rtp = Decimal(changes["rtp"])
        low, high = rtp_range()
        if not low <= rtp <= high:
            raise ValidationFailed(details={"rtp": [f"Use {low} to {high}."]})
        certified = certified_rtps(locked)
        if certified is not None and rtp not in certified:
            raise ValidationFailed(details={"rtp": [f"Certified values: {', '.join(str(v) for v in sorted(certified))}."]})
    if "stake_limits" in changes:
        changes = {**changes, "stake_limits": validate_stake_limits(changes["stake_limits"])}
    for name, value in changes.items():
        setattr(locked, name, value)
    save_with_history(locked, actor=actor, reason=reason)
    return locked


PROVIDER_EDITABLE = ("name", "enabled", "currencies", "launch_url")


@transaction.atomic
def provider_update(*, provider: Provider, changes: dict[str, Any], actor, reason: str) -> Provider:
    from apps.core.money import MINOR_UNITS

    reason = _reason(reason)
    unknown = set(changes) - set(PROVIDER_EDITABLE)
    if unknown:
        raise ValidationFailed(f"These fields are not editable: {', '.join(sorted(unknown))}.")
    currencies = changes.get("currencies")
    if currencies is not None and (not isinstance(currencies, list) or any(c not in MINOR_UNITS for c in currencies)):
        raise ValidationFailed(details={"currencies": ['A JSON list of ISO 4217 codes, e.g. ["EUR"].']})
    locked = Provider.objects.select_for_update().get(pk=provider.pk)
    for name, value in changes.items():
        setattr(locked, name, value)
    save_with_history(locked, actor=actor, reason=reason)
    return locked


@transaction.atomic
def game_register(
    *, slug: str, name: str, kind: str, rtp: Decimal, stake_limits: dict, provider: Provider | None = None,
    provider_game_code: str = "", volatility: str = "medium", actor=None,
) -> tuple[Game, bool]:
    """Add a game to the catalog unless its slug exists (an existing entry, maybe edited by an operator, is kept)."""
    existing = Game.objects.filter(slug=slug).first()
    if existing is not None:
        return existing, False
    game = Game(
        slug=slug, name=name, kind=kind, rtp=rtp, stake_limits=validate_stake_limits(stake_limits), provider=provider,
        provider_game_code=provider_game_code, volatility=volatility,
    )
    save_with_history(game, actor=actor, reason="Registered")
    return game, True
