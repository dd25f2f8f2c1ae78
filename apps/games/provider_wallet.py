"""The provider wallet: every rule of a seamless-wallet call, once, for every protocol.

The generic signed protocol and the Caleta/Hub88 family (apps.games.provider_api) only verify the
signature, translate fields and map a WalletRefusal to their own error; the rules are here:

- Every transaction id is idempotent per provider (a unique constraint): a replay answers OK with the
  current balance and moves nothing; the same id with a different player, round, game, kind or
  amount is a duplicate.
- A win needs a bet it settles: none is `transaction_does_not_exist`; a rolled-back one is
  `transaction_rolled_back`. Several wins per round are fine, and so is a win of zero (recorded, no posting).
- A rollback of a transaction we never saw answers OK, moves nothing and is remembered, so a late bet
  with that id is refused (the provider already told the player the bet did not happen); so is a
  late retry of a bet that was taken and then rolled back. A rollback
  never moves money twice, and rolling back one bet of a round leaves the others.
- Bets need the player's current launch token; a replaced or expired one is `token_expired`. Wins and
  rollbacks settle on any token the player was issued: they may arrive after the game ended.
- Bets pass the same responsible-gaming check as in-house rounds (games.services.stake_place), so a
  self-excluded, timed-out or suspended player's bets are refused; their wins and rollbacks still
  settle (the money is theirs).
- Wrong currency, unknown game, negative amounts and amounts finer than the currency's minor unit are
  refused, nothing moved and nothing rounded; not enough money answers with the balance.

Concurrency: every money call first takes a transaction-scoped advisory lock on the player (PostgreSQL
`pg_advisory_xact_lock`), then the protection lock (bets), then the ledger's locks: always that order.
It serialises one player's wallet calls, so 20 deliveries of one transaction id see each other, and a
rollback and a late bet of the same id cannot both pass. Other paths never take this lock, so it adds
no cycle to the lock graph.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q

from apps.core import clock
from apps.core.errors import (
    AccountBlocked,
    DomainError,
    InsufficientFunds,
    InvalidState,
    KycRequired,
    LimitExceeded,
    RateLimited,
    SelfExcluded,
    StakeOutOfRange,
)
from apps.core.money import MAX_INTEGER_DIGITS, Money, minor_units
from apps.core.prepared import PreparedQuery
from apps.ledger import selectors as ledger_selectors
from apps.ledger import services as ledger_services

from .models import Game, LaunchToken, Provider, ProviderTransaction, ProviderTransactionKind
from .services import _cash_after as cash_after
from .services import _stake_in_transaction as stake_in_transaction

_LOCK_CLASS = zlib.crc32(b"games.provider_wallet") & 0x7FFFFFFF


class Refusal:
    """The reasons a wallet call is refused, named as the Caleta family names them (without RS_ERROR_)."""

    INVALID_TOKEN = "invalid_token"
    TOKEN_EXPIRED = "token_expired"
    INVALID_PLAYER = "invalid_player"
    USER_DISABLED = "user_disabled"
    LIMIT_EXCEEDED = "limit_exceeded"
    NOT_ENOUGH_MONEY = "not_enough_money"
    WRONG_CURRENCY = "wrong_currency"
    INVALID_GAME = "invalid_game"
    BAD_AMOUNT = "bad_amount"
    DUPLICATE_TRANSACTION = "duplicate_transaction"
    TRANSACTION_DOES_NOT_EXIST = "transaction_does_not_exist"
    TRANSACTION_ROLLED_BACK = "transaction_rolled_back"
    # The market's and the player's play rules (apps.limits.services.play); `cause` carries the domain error.
    KYC_REQUIRED = "kyc_required"
    REALITY_CHECK_DUE = "reality_check_due"
    STAKE_OUT_OF_RANGE = "stake_out_of_range"
    TOO_FAST = "too_fast"


class WalletRefusal(Exception):
    def __init__(self, reason: str, message: str = "", *, balance: Money | None = None, cause: DomainError | None = None):
        self.reason = reason
        self.message = message or reason.replace("_", " ")
        self.balance = balance
        self.cause = cause
        super().__init__(self.message)


@dataclass
class WalletAnswer:
    balance: Money
    transaction_id: str = ""
    replayed: bool = False
    moved: bool = field(default=False)


def player_balance(player) -> Money:
    return ledger_selectors.wallet_balances(player=player).cash


def _balance_after(posting, cash_amount: int, player) -> Money:
    """The player's cash after a posting of this call, read from the posting's own entries (the cash leg carries
    `cash_amount`); the wallet stays locked until commit, so it is what a query would read. A ledger replay
    carries no entries: then it is read."""
    cash = cash_after(posting, cash_amount)
    return Money.from_minor(cash, player.currency) if cash is not None else player_balance(player)


def _lock_player(player) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, player.pk])
    # SQLite (the demo) serialises every writer with IMMEDIATE transactions already.


# Every provider call reads its launch token or its transaction first: compiled once per process (apps.core.prepared),
# because building these querysets cost more CPU than the stake's own posting (cProfile of a Caleta bet).
_TOKEN = PreparedQuery(lambda token: LaunchToken.objects.select_related("player", "game").filter(token=token), strs=("token",))
_BET_SEEN = PreparedQuery(
    lambda provider_id, transaction_id, referenced_id: ProviderTransaction.objects.filter(provider_id=provider_id).filter(
        Q(transaction_id=transaction_id) | Q(kind=ProviderTransactionKind.ROLLBACK, reference_transaction_id=referenced_id)
    ),
    ints=("provider_id",),
    strs=("transaction_id", "referenced_id"),
)


def token_for(*, provider: Provider, token: str) -> LaunchToken:
    """The launch token with its player and game (one query); its game's provider is `provider`, already read."""
    found = _TOKEN.first(token=token)  # the token is unique: one row or none
    if found is None or found.game.provider_id != provider.pk:
        raise WalletRefusal(Refusal.INVALID_TOKEN, "Unknown token.")
    found.game.provider = provider  # the same row (provider_id checked): no join for it
    return found


def token_assert_current(token: LaunchToken) -> None:
    """Bets only: the latest launch for the player and game, not expired."""
    if token.replaced_at is not None or token.expires_at <= clock.now():
        raise WalletRefusal(Refusal.TOKEN_EXPIRED, "A newer launch replaced this token, or it expired.")


def _launched_game(*, provider: Provider, player) -> Game | None:
    """The game a bet that names none is for: the player's latest current launch with this provider.

    Only the generic protocol may leave game_code out; the market's slot rules (stake cap, spin interval)
    need to know whether the bet is a slot spin, so it is taken from what the player launched.
    """
    token = (
        LaunchToken.objects.select_related("game").filter(player=player, game__provider=provider, replaced_at__isnull=True)
        .order_by("-created_at", "-id").first()
    )
    return token.game if token is not None else None


def game_for(*, provider: Provider, game_code: str | None, launched: Game | None = None) -> Game | None:
    """The provider's game with this code. `launched` (the call's launch token's game) answers without a query
    when it is that game: (provider, provider_game_code) is unique."""
    if not game_code:
        return None
    if launched is not None and launched.provider_id == provider.pk and launched.provider_game_code == game_code:
        return launched
    game = Game.objects.filter(provider=provider, provider_game_code=game_code).first()
    if game is None:
        raise WalletRefusal(Refusal.INVALID_GAME, "Unknown game_code.")
    return game


def amount_money(*, player, currency: str, amount: Decimal, allow_zero: bool) -> Money:
    """The exact amount in the player's wallet currency, or a refusal: never rounded."""
    if currency != player.currency:
        raise WalletRefusal(Refusal.WRONG_CURRENCY, f"The wallet is in {player.currency}.")
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0 or (amount == 0 and not allow_zero):
        raise WalletRefusal(Refusal.BAD_AMOUNT, "The amount must be a positive number.")
    if amount.adjusted() >= MAX_INTEGER_DIGITS:
        raise WalletRefusal(Refusal.BAD_AMOUNT, f"Amounts have at most {MAX_INTEGER_DIGITS} digits before the decimal point.")
    places = minor_units(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise WalletRefusal(Refusal.BAD_AMOUNT, f"{currency} amounts have at most {places} decimal places.")
    return Money(amount.quantize(Decimal(1).scaleb(-places)), currency)


def _ledger_key(provider: Provider, transaction_id: str) -> str:
    return f"provider:{provider.code}:{transaction_id}"


def _existing(provider: Provider, transaction_id: str) -> ProviderTransaction | None:
    return ProviderTransaction.objects.filter(provider=provider, transaction_id=transaction_id).first()


def _bet_seen(provider: Provider, transaction_id: str) -> tuple[ProviderTransaction | None, bool]:
    """(the transaction with this id, whether a rollback already named it as its reference), in one query."""
    existing, rolled_back_first = None, False
    rows = _BET_SEEN.all(provider_id=provider.pk, transaction_id=transaction_id, referenced_id=transaction_id)
    for row in rows:
        if row.transaction_id == transaction_id:
            existing = row
        else:
            rolled_back_first = True
    return existing, rolled_back_first


def _replay_or_duplicate(existing: ProviderTransaction, **expected) -> WalletAnswer:
    for name, value in expected.items():
        if getattr(existing, name) != value:
            raise WalletRefusal(Refusal.DUPLICATE_TRANSACTION, "This transaction id was used for another operation.")
    return WalletAnswer(balance=player_balance(existing.player), transaction_id=existing.transaction_id, replayed=True)


def _settle(call, player) -> WalletAnswer:
    """Run one call in its own transaction; on a refusal nothing stays, and the answer carries the balance."""
    try:
        with transaction.atomic():
            _lock_player(player)
            return call()
    except InsufficientFunds:
        raise WalletRefusal(Refusal.NOT_ENOUGH_MONEY, "Not enough money.", balance=player_balance(player)) from None
    except (SelfExcluded, AccountBlocked) as exc:
        raise WalletRefusal(Refusal.USER_DISABLED, exc.message, balance=player_balance(player), cause=exc) from None
    except LimitExceeded as exc:
        raise WalletRefusal(Refusal.LIMIT_EXCEEDED, exc.message, balance=player_balance(player), cause=exc) from None
    except KycRequired as exc:
        raise WalletRefusal(Refusal.KYC_REQUIRED, exc.message, balance=player_balance(player), cause=exc) from None
    except StakeOutOfRange as exc:
        raise WalletRefusal(Refusal.STAKE_OUT_OF_RANGE, exc.message, balance=player_balance(player), cause=exc) from None
    except RateLimited as exc:
        raise WalletRefusal(Refusal.TOO_FAST, exc.message, balance=player_balance(player), cause=exc) from None
    except InvalidState as exc:
        if exc.details.get("reason") != "reality_check_due":
            raise
        raise WalletRefusal(Refusal.REALITY_CHECK_DUE, exc.message, balance=player_balance(player), cause=exc) from None
    except WalletRefusal as refusal:
        if refusal.balance is None:
            refusal.balance = player_balance(player)
        raise


def wallet_balance(*, player) -> WalletAnswer:
    return WalletAnswer(balance=player_balance(player))


def wallet_bet(
    *,
    provider: Provider,
    player,
    transaction_id: str,
    round_id: str,
    amount: Decimal,
    currency: str,
    game: Game | None = None,
    token: LaunchToken | None = None,
) -> WalletAnswer:
    """Take a stake. `token` is checked for protocols that send one (Caleta); the generic one names the player."""

    def call() -> WalletAnswer:
        money = amount_money(player=player, currency=currency, amount=amount, allow_zero=False)
        existing, rolled_back_first = _bet_seen(provider, transaction_id)
        if existing is not None:
            answer = _replay_or_duplicate(
                existing, kind=ProviderTransactionKind.BET, player_id=player.pk, round_id=round_id,
                game_id=game.pk if game else None, amount_minor=money.minor, currency=currency,
            )
            if existing.rolled_back:
                # A late retry of a bet the provider has since cancelled: it must not look like a live bet.
                raise WalletRefusal(Refusal.TRANSACTION_ROLLED_BACK, "This bet was rolled back.")
            return answer
        if rolled_back_first:
            raise WalletRefusal(Refusal.TRANSACTION_ROLLED_BACK, "This bet was already rolled back; it cannot be placed now.")
        if token is not None:
            token_assert_current(token)
        if game is not None and not game.enabled:
            raise WalletRefusal(Refusal.INVALID_GAME, "This game is disabled.")
        reference = f"provider-round:{provider.code}:{round_id}"
        # stake_place's body without its savepoint: _settle's transaction ends on any refusal, so it has nothing to keep.
        posting = stake_in_transaction(
            player=player, amount=money, idempotency_key=_ledger_key(provider, transaction_id), reference=reference,
            metadata={"provider": provider.code, "round": round_id, "transaction": transaction_id},
            game=game or _launched_game(provider=provider, player=player),
        )
        ProviderTransaction.objects.create(
            provider=provider, transaction_id=transaction_id, kind=ProviderTransactionKind.BET, player=player, game=game,
            round_id=round_id, currency=currency, amount_minor=money.minor, ledger_transaction=posting,
        )
        return WalletAnswer(balance=_balance_after(posting, -money.minor, player), transaction_id=transaction_id, moved=True)

    return _settle(call, player)


def wallet_win(
    *,
    provider: Provider,
    player,
    transaction_id: str,
    round_id: str,
    amount: Decimal,
    currency: str,
    game: Game | None = None,
    reference_transaction_id: str = "",
) -> WalletAnswer:
    """Pay a win on a bet we took. With `reference_transaction_id` (Caleta) it settles that bet;
    without it (generic) it settles the round's bets."""

    def call() -> WalletAnswer:
        money = amount_money(player=player, currency=currency, amount=amount, allow_zero=True)
        existing = _existing(provider, transaction_id)
        if existing is not None:
            expected = {"kind": ProviderTransactionKind.WIN, "player_id": player.pk, "round_id": round_id, "amount_minor": money.minor,
                        "currency": currency, "reference_transaction_id": reference_transaction_id}
            if game is not None:  # a win that names no game took its bet's: only a named one can differ
                expected["game_id"] = game.pk
            return _replay_or_duplicate(existing, **expected)
        bets = ProviderTransaction.objects.filter(provider=provider, player=player, kind=ProviderTransactionKind.BET)
        bets = list(bets.filter(transaction_id=reference_transaction_id) if reference_transaction_id else bets.filter(round_id=round_id))
        if not bets:
            remembered = reference_transaction_id and ProviderTransaction.objects.filter(
                provider=provider, kind=ProviderTransactionKind.ROLLBACK, reference_transaction_id=reference_transaction_id
            ).exists()
            if remembered:
                raise WalletRefusal(Refusal.TRANSACTION_ROLLED_BACK, "The bet was rolled back.")
            raise WalletRefusal(Refusal.TRANSACTION_DOES_NOT_EXIST, "No bet to settle.")
        if all(bet.rolled_back for bet in bets):
            raise WalletRefusal(Refusal.TRANSACTION_ROLLED_BACK, "The bet was rolled back.")
        posting = None
        if money.minor > 0:
            posting = ledger_services.win_post(
                player=player, amount=money, idempotency_key=_ledger_key(provider, transaction_id),
                reference=f"provider-round:{provider.code}:{round_id}",
                metadata={"provider": provider.code, "round": round_id, "transaction": transaction_id}, savepoint=False,
            )
        ProviderTransaction.objects.create(
            provider=provider, transaction_id=transaction_id, kind=ProviderTransactionKind.WIN, player=player,
            # A win names the game only in some protocols; the stats need it, so it is taken from the bet.
            game=game or bets[0].game, round_id=round_id, reference_transaction_id=reference_transaction_id,
            currency=currency, amount_minor=money.minor, ledger_transaction=posting,
        )
        return WalletAnswer(balance=player_balance(player), transaction_id=transaction_id, moved=posting is not None)

    return _settle(call, player)


def wallet_rollback(
    *,
    provider: Provider,
    player,
    transaction_id: str,
    round_id: str,
    reference_transaction_id: str,
    game: Game | None = None,
) -> WalletAnswer:
    """Cancel a bet and return its stake, once; an unknown reference is remembered (see the module doc)."""

    def call() -> WalletAnswer:
        existing = _existing(provider, transaction_id)
        if existing is not None:
            return _replay_or_duplicate(
                existing, kind=ProviderTransactionKind.ROLLBACK, player_id=player.pk,
                reference_transaction_id=reference_transaction_id,
            )
        target = (
            ProviderTransaction.objects.select_for_update()
            .filter(provider=provider, transaction_id=reference_transaction_id)
            .first()
        )
        if target is not None and (target.kind != ProviderTransactionKind.BET or target.player_id != player.pk):
            raise WalletRefusal(Refusal.TRANSACTION_DOES_NOT_EXIST, "No bet of this player has that id.")
        posting = None
        amount_minor = 0
        if target is not None and not target.rolled_back:
            posting = ledger_services.rollback_post(
                player=player, amount=Money.from_minor(target.amount_minor, target.currency),
                idempotency_key=_ledger_key(provider, transaction_id), reference=f"provider-round:{provider.code}:{target.round_id}",
                metadata={"provider": provider.code, "round": target.round_id, "transaction": transaction_id,
                          "rolled_back": reference_transaction_id},
                savepoint=False,
            )
            amount_minor = target.amount_minor
            target.rolled_back = True
            target.save(update_fields=["rolled_back"])
        ProviderTransaction.objects.create(
            provider=provider, transaction_id=transaction_id, kind=ProviderTransactionKind.ROLLBACK, player=player,
            game=game or (target.game if target else None), round_id=round_id or (target.round_id if target else ""),
            reference_transaction_id=reference_transaction_id, currency=player.currency, amount_minor=amount_minor,
            ledger_transaction=posting,
        )
        return WalletAnswer(balance=player_balance(player), transaction_id=transaction_id, moved=posting is not None)

    return _settle(call, player)
