"""Live updates: what the WebSockets (apps/backoffice/consumers.py) push, and when.

The lower apps know nothing of sockets (ARCHITECTURE.md, layers). The ledger already sends
`transaction_posted` once a posting has COMMITTED (one on_commit per posting, never for a rolled-back
one); AML alerts and withdrawals are saved by their own services. This top-layer module listens to
those signals (wired in BackofficeConfig.ready) and, after commit, reads what it needs through the
ledger's selectors and sends it to a channel-layer group:

- `wallet.<player id>`: the player's balances, after every committed change of that player's wallet;
- `staff.aml`, `staff.withdrawals`, `staff.transactions`: new AML alerts, withdrawals awaiting approval
  and large transactions, for the staff dashboard (each group only for the role that may see it).

The posting engine is untouched: no query is added inside the posting's transaction; the balance is
computed here, after commit, in two small queries, and only when REALTIME_PUSH is on and a socket of that
player is listening (one pipelined Redis read per batch of postings, from a background thread: most postings
have nobody watching, and reading and sending balances to an empty group cost more than the posting's own
statements). A push is a
courtesy, never a condition of moving money: when Redis is down the error is logged, pushing pauses for
BACKOFF_SECONDS (each attempt against a dead Redis stalls the request that posted), and money keeps moving.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from decimal import Decimal
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections, transaction
from django.urls import NoReverseMatch, reverse

from apps.core.batching import Batcher
from apps.core.money import Money
from apps.ledger import selectors as ledger_selectors
from apps.markets import selectors as market_selectors

logger = logging.getLogger(__name__)

# After a failed push, skip pushing for this long (the AML enqueue does the same: apps/aml/apps.py).
BACKOFF_SECONDS = 30.0
_skip_until = 0.0
# Sends scheduled on a running loop, held until done (the loop keeps only weak references to its tasks).
_in_flight: set[asyncio.Task] = set()

# The staff feeds: message type → (group, the permission a staff user needs to receive it).
# Least privilege as on the admin pages: AML alerts only to compliance (EU AMLD art. 39, no tipping-off
# circle wider than needed), withdrawals to whoever may approve them, money movements to ledger readers.
STAFF_FEEDS: dict[str, tuple[str, str]] = {
    "aml_alert": ("staff.aml", "aml.view_amlalert"),
    "withdrawal": ("staff.withdrawals", "payments.review_withdrawal"),
    "large_transaction": ("staff.transactions", "ledger.view_ledgertransaction"),
}


def wallet_group(player_id: int) -> str:
    return f"wallet.{player_id}"


def reset_backoff() -> None:
    """Forget a past failure (tests; an operator who just brought Redis back can wait 30 s instead)."""
    global _skip_until
    _skip_until = 0.0


def _paused() -> bool:
    return time.monotonic() < _skip_until


def _send(group: str, message: dict) -> bool:
    """group_send from sync code; on any failure log it, pause pushing, and answer False (never raise)."""
    if _paused():
        logger.info("realtime: pushing paused after a channel-layer failure; %s not sent", group)
        return False
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        # Called from a thread that runs an event loop (async_to_sync cannot block it): send as a task of that loop.
        task = loop.create_task(layer.group_send(group, message))
        _in_flight.add(task)
        task.add_done_callback(partial(_sent, group))
        return True
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception as exc:  # noqa: BLE001 - whatever the layer raises (Redis down, timeout, full channel), money goes on
        _failed(group, exc)
        return False
    return True


def _failed(group: str, exc: BaseException) -> None:
    global _skip_until
    _skip_until = time.monotonic() + BACKOFF_SECONDS
    logger.error(
        "realtime: could not push to %s; pushing paused for %.0f s, money keeps moving", group, BACKOFF_SECONDS, exc_info=exc
    )


def _sent(group: str, task: asyncio.Task) -> None:
    _in_flight.discard(task)
    if not task.cancelled() and task.exception() is not None:
        _failed(group, task.exception())


# Sync Redis clients for the presence check, one per channel-layer host address, per process (thread-safe pools).
_presence_clients: dict[str, object] = {}
_presence_lock = threading.Lock()


def _presence_client(host: dict):
    address = host["address"]
    client = _presence_clients.get(address)
    if client is None:
        import redis

        options = {k: v for k, v in host.items() if k != "address"}
        options.setdefault("socket_timeout", 1)  # a hung Redis must not hold the request that posted
        with _presence_lock:
            client = _presence_clients.setdefault(address, redis.Redis.from_url(address, **options))
    return client


def _listened_groups(groups: list[str]) -> set[str]:
    """Which of `groups` have a socket in them now, asked without sending: one Redis round trip per layer host
    (a pipeline of ZCOUNTs of each group's live members, as channels-redis keeps them) instead of the balance
    queries and a send that would reach nobody.

    A socket joins its group before it reads the balance it starts from (consumers.py), so a posting committed
    before this check is in that first balance, and one committed after it finds the socket here. Layers this
    cannot ask (another backend, a Redis Sentinel host) answer every group: the send itself then finds out.
    """
    layer = get_channel_layer()
    if layer is None or not groups:
        return set()
    try:
        from channels_redis.core import RedisChannelLayer
    except ImportError:  # pragma: no cover - channels-redis is a dependency
        RedisChannelLayer = ()
    if isinstance(layer, RedisChannelLayer):
        by_host: dict[int, list[str]] = {}
        for group in groups:
            by_host.setdefault(layer.consistent_hash(group), []).append(group)
        listened: set[str] = set()
        live_from = f"({int(time.time()) - layer.group_expiry}"
        for index, host_groups in by_host.items():
            host = layer.hosts[index]
            if "address" not in host:
                listened.update(host_groups)
                continue
            try:
                pipe = _presence_client(host).pipeline(transaction=False)
                for group in host_groups:
                    pipe.zcount(layer._group_key(group), live_from, "+inf")
                counts = pipe.execute()
            except Exception as exc:  # noqa: BLE001 - Redis down or slow: as a failed send, log, pause, move money on
                _failed(host_groups[0], exc)
                continue
            listened.update(group for group, count in zip(host_groups, counts, strict=True) if count)
        return listened
    in_memory = getattr(layer, "groups", None)  # the in-memory layer of the embedded demo
    if isinstance(in_memory, dict):
        return {group for group in groups if in_memory.get(group)}
    return set(groups)


def _admin_url(name: str, pk: int) -> str | None:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return None


# --- Player wallets ------------------------------------------------------------------------------


def balance_message(snapshot: ledger_selectors.WalletSnapshot) -> dict:
    """API.md's wallet shape (decimal strings in the currency's precision), plus the ordering sequence."""
    balances = snapshot.balances
    return {
        "type": "balance",
        "currency": balances.currency,
        "cash": str(balances.cash),
        "bonus": str(balances.bonus),
        "held": str(balances.held),
        "withdrawable": str(balances.withdrawable),
        "sequence": snapshot.sequence,
    }


def push_wallet(*, player_id: int, currency: str) -> bool:
    snapshot = ledger_selectors.wallet_snapshot(player_id=player_id, currency=currency)
    return _send(wallet_group(player_id), {"type": "wallet.balance", "balance": balance_message(snapshot)})


def large_transaction_threshold_eur() -> Decimal:
    """EU AMLD4 art. 11(d): gambling providers apply due diligence from EUR 2,000 per transaction; the operator
    may set a lower figure (STAFF_LARGE_TRANSACTION_EUR) for the dashboard's attention."""
    return Decimal(str(settings.STAFF_LARGE_TRANSACTION_EUR))


def _amount_eur(movement: ledger_selectors.WalletMovement) -> Decimal | None:
    money = Money.from_minor(movement.largest_minor, movement.currency)
    try:
        return market_selectors.to_eur(money)
    except market_selectors.MissingExchangeRate:
        logger.warning("realtime: no EUR rate for %s; large-transaction check skipped", movement.currency)
        return None


def _push_wallets(wallets: list[tuple[int, str]]) -> None:
    """Push each moved wallet whose player has a socket open: one presence round trip for the whole batch,
    then a balance read and a send per listened wallet (several postings of one wallet in a batch: one push
    of its latest balance; the message's sequence orders it against the others)."""
    if _paused():
        return
    unique = list(dict.fromkeys(wallets))
    listened = _listened_groups([wallet_group(player_id) for player_id, _ in unique])
    for player_id, currency in unique:
        if wallet_group(player_id) in listened:
            push_wallet(player_id=player_id, currency=currency)


def _push_wallets_in_background(wallets: list[tuple[int, str]]) -> None:
    """The batcher's thread: its database connection is kept and checked as a request's would be."""
    close_old_connections()
    try:
        _push_wallets(wallets)
    except Exception:
        logger.exception("realtime: balance pushes for %s wallets failed", len(wallets))
    finally:
        close_old_connections()


_wallet_batcher: Batcher[tuple[int, str]] | None = None
_wallet_batcher_lock = threading.Lock()


def wallet_pushes() -> Batcher[tuple[int, str]]:
    """This process's batcher of wallet pushes (REALTIME_PUSH_BATCH_SECONDS; 0 pushes in the committing thread)."""
    global _wallet_batcher
    if _wallet_batcher is None:
        with _wallet_batcher_lock:
            if _wallet_batcher is None:
                window = settings.REALTIME_PUSH_BATCH_SECONDS
                _wallet_batcher = Batcher(
                    _push_wallets_in_background if window > 0 else _push_wallets, window, name="realtime-wallet-pushes"
                )
    return _wallet_batcher


def transaction_posted_receiver(sender, transaction_id: int, movements=None, **kwargs) -> None:
    """The ledger's after-commit signal: push each touched wallet's balance, and large movements to staff.

    The poster announces which wallets it moved (`movements`); only a sender that does not is read back.
    The wallet pushes go through this process's batcher (apps.core.batching): a round's stake and win, and
    every other posting committed within the window, share one presence check, off the request's thread.
    """
    if not settings.REALTIME_PUSH or _paused() or get_channel_layer() is None:
        return  # nobody could listen: not even the wallets are read
    try:
        if movements is None:
            movements = ledger_selectors.transaction_wallet_movements(transaction_id=transaction_id)
        for movement in movements:
            wallet_pushes().add((movement.player_id, movement.currency))
            amount_eur = _amount_eur(movement)
            if amount_eur is not None and amount_eur >= large_transaction_threshold_eur():
                push_staff(
                    "large_transaction",
                    {
                        "transaction_id": transaction_id,
                        "kind": movement.kind,
                        "player_id": movement.player_id,
                        "amount": str(Money.from_minor(movement.largest_minor, movement.currency)),
                        "currency": movement.currency,
                        "amount_eur": str(amount_eur),
                        "url": _admin_url("admin:ledger_ledgertransaction_change", transaction_id),
                    },
                )
    except Exception:
        # After commit, in the request that posted: a failure here must not turn a done posting into a 500.
        logger.exception("realtime: push after transaction %s failed", transaction_id)


# --- Staff feeds ---------------------------------------------------------------------------------


def push_staff(kind: str, payload: dict) -> bool:
    group, _permission = STAFF_FEEDS[kind]
    return _send(group, {"type": "staff.event", "event": {"type": kind, **payload}})


def _after_commit_staff(kind: str, payload: dict) -> None:
    if settings.REALTIME_PUSH:
        transaction.on_commit(partial(push_staff, kind, payload))


def _aml_alert_event(alert) -> dict:
    return {
        "id": alert.pk,
        "level": alert.level,
        "rule": alert.rule,
        "player_id": alert.player_id,
        "created_at": alert.created_at.isoformat() if alert.created_at else None,
        "url": _admin_url("admin:aml_amlalert_change", alert.pk),
    }


def aml_alerts_opened(sender, alerts, **kwargs) -> None:
    """Receiver of apps.aml.signals.alerts_opened (sent on commit): each new case for the compliance queue.

    Hits on a player add into the open alert, so only a newly opened alert is news; the AML service
    writes alerts in bulk and scores them before the insert, so each carries the level it committed with.
    """
    if settings.REALTIME_PUSH:
        for alert in alerts:
            push_staff("aml_alert", _aml_alert_event(alert))


def withdrawal_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """A new request enters the operators' approval queue."""
    from apps.payments.models import WithdrawalStatus

    if not created or raw or instance.status != WithdrawalStatus.REQUESTED:
        return
    _after_commit_staff(
        "withdrawal",
        {
            "id": instance.pk,
            "player_id": instance.player_id,
            "amount": str(instance.amount),
            "currency": instance.currency,
            "created_at": instance.created_at.isoformat() if instance.created_at else None,
            "url": _admin_url("admin:payments_withdrawal_change", instance.pk),
        },
    )


def connect_signals() -> None:
    from django.db.models.signals import post_save

    from apps.aml.signals import alerts_opened
    from apps.ledger.services import transaction_posted
    from apps.payments.models import Withdrawal

    transaction_posted.connect(transaction_posted_receiver, dispatch_uid="backoffice.realtime.wallet", weak=False)
    alerts_opened.connect(aml_alerts_opened, dispatch_uid="backoffice.realtime.aml_alert", weak=False)
    post_save.connect(withdrawal_saved, sender=Withdrawal, dispatch_uid="backoffice.realtime.withdrawal", weak=False)
