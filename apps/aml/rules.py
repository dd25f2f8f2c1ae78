"""The rule kinds: how each pattern is found, in SQL aggregates over the ledger's entries.

Every transaction rule is evaluated *as of an anchor*: a player cash entry of the transaction under
evaluation, looking back over the rule's window from the entry's own time. The same function serves
the real-time task (anchors = one transaction) and the sweep (anchors = every transaction past the
watermark), so both find exactly the same hits, and a hit's key (rule, anchoring transaction) makes
re-finding it harmless. Each rule is one query with correlated sub-aggregates on the
(account, kind, created_at) index; Python only touches the rows that hit.

aml is a reader of lower apps' tables (ARCHITECTURE.md, layer 6): it imports their models to query
them and never writes them.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from axes.models import AccessLog
from django.conf import settings
from django.db import connection
from django.db.models import (
    CharField,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Abs, Coalesce, Greatest
from django.db.models.lookups import Exact

from apps.ledger.models import AccountKind, Entry, TransactionKind
from apps.payments.models import Deposit, Withdrawal
from apps.players.models import Player, User

from .fx import eur_in_minor, rated_currencies
from .models import AmlRule, RuleKind


@dataclass(frozen=True)
class Hit:
    player_id: int
    rule: str
    dedup_key: str
    score: int
    evidence: dict = field(default_factory=dict)
    # When the pattern happened (the anchoring posting's time; detection time for identity and screening):
    # hits on a player within a rule's window add into one alert (services._assign_alerts).
    at: datetime | None = None


def _cash_entries():
    return Entry.objects.filter(account__kind=AccountKind.PLAYER_CASH)


def _since(delta: timedelta) -> ExpressionWrapper:
    return ExpressionWrapper(OuterRef("created_at") - Value(delta, output_field=DurationField()), output_field=DateTimeField())


def _outer_player_cash_only(qs):
    """Refer to the outer row's account kind inside the sub-aggregate. Without it PostgreSQL may evaluate the
    sub-aggregate while scanning entries, before the join to accounts drops the house side of each posting,
    and the PSP clearing account has an entry for every deposit: a 30-second sweep instead of a one-second one."""
    outer_kind = ExpressionWrapper(OuterRef("account__kind"), output_field=CharField())
    return qs.filter(Exact(outer_kind, Value(AccountKind.PLAYER_CASH, output_field=CharField())))


def _window_sum(kind: str, *, start: timedelta, end: timedelta = timedelta(0), extra: Q | None = None) -> Coalesce:
    """Signed sum of the same account's entries of `kind` in (anchor - start, anchor - end]."""
    qs = _outer_player_cash_only(
        Entry.objects.filter(account_id=OuterRef("account_id"), kind=kind, created_at__gt=_since(start), created_at__lte=_since(end))
    )
    if extra is not None:
        qs = qs.filter(extra)
    total = qs.order_by().values("account_id").annotate(total=Sum("amount")).values("total")
    return Coalesce(Subquery(total, output_field=IntegerField()), 0)


def _window_count(kind: str, *, start: timedelta, extra: Q | None = None) -> Coalesce:
    qs = _outer_player_cash_only(
        Entry.objects.filter(
            account_id=OuterRef("account_id"), kind=kind, created_at__gt=_since(start), created_at__lte=OuterRef("created_at")
        )
    )
    if extra is not None:
        qs = qs.filter(extra)
    counted = qs.order_by().values("account_id").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _anchor_values(qs, *fields: str) -> list[dict]:
    return list(qs.values("transaction_id", "account_id", "created_at", "amount", "kind", *fields,
                          player_id=F("account__player_id"), currency=F("account__currency")))


EVIDENCE_TRANSACTIONS = 200  # transaction ids frozen into one hit's evidence, at most
_EVIDENCE_WALLETS_PER_QUERY = 500


def _window_transactions(rows: list[dict], *, window: timedelta, kinds: list[str], extra: Q | None = None) -> list[list[int]]:
    """Per hit row, the transaction ids behind it, frozen into its evidence: the wallet's entries of `kinds` in
    (anchor - window, anchor], by transaction id, at most EVIDENCE_TRANSACTIONS.

    One query for every hit of a rule (per 500 wallets), not one per hit: a batch of postings or a sweep that trips
    a rule on fifty players costs what tripping it on one does. Each wallet's entries are read once over the union
    of its hits' windows and cut per hit here. A player cash account is the player's wallet in that currency
    (unique per player, kind and currency), so the anchor's account is the wallet.
    """
    spans: dict[int, tuple[datetime, datetime]] = {}
    for row in rows:
        start, end = row["created_at"] - window, row["created_at"]
        low, high = spans.get(row["account_id"], (start, end))
        spans[row["account_id"]] = (min(low, start), max(high, end))
    entries: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    accounts = sorted(spans)
    for first in range(0, len(accounts), _EVIDENCE_WALLETS_PER_QUERY):
        wallets = Q()
        for account_id in accounts[first:first + _EVIDENCE_WALLETS_PER_QUERY]:
            low, high = spans[account_id]
            wallets |= Q(account_id=account_id, created_at__gt=low, created_at__lte=high)
        qs = Entry.objects.filter(wallets, kind__in=kinds)
        if extra is not None:
            qs = qs.filter(extra)
        for account_id, created_at, transaction_id in qs.order_by().values_list("account_id", "created_at", "transaction_id"):
            entries[account_id].append((created_at, transaction_id))
    for found in entries.values():
        found.sort()
    times = {account_id: [created_at for created_at, _ in found] for account_id, found in entries.items()}
    ids = []
    for row in rows:
        found, at = entries.get(row["account_id"], []), times.get(row["account_id"], [])
        within = found[bisect_right(at, row["created_at"] - window):bisect_right(at, row["created_at"])]
        ids.append(sorted(transaction_id for _, transaction_id in within)[:EVIDENCE_TRANSACTIONS])
    return ids


def _wallet_currencies() -> list[str]:
    """The rated currencies that player wallets use: a per-currency query runs only where it can match."""
    from apps.ledger.models import Account

    used = set(Account.objects.filter(kind=AccountKind.PLAYER_CASH).values_list("currency", flat=True).distinct())
    return [currency for currency in rated_currencies() if currency in used]


def _minor_str(minor: int, currency: str) -> str:
    from apps.core.money import format_amount

    return f"{format_amount(int(minor), currency)} {currency}"


# --- transaction rules ---------------------------------------------------------------------------


def deposit_velocity(rule: AmlRule, anchors, currencies: list[str]) -> list[Hit]:
    window = timedelta(minutes=rule.window_minutes)
    rows = _anchor_values(
        anchors.filter(kind=TransactionKind.DEPOSIT)
        .annotate(n=_window_count(TransactionKind.DEPOSIT, start=window))
        .filter(n__gte=rule.count),
        "n",
    )
    evidence = _window_transactions(rows, window=window, kinds=[TransactionKind.DEPOSIT])
    return [
        Hit(row["player_id"], rule.kind, str(row["transaction_id"]), rule.score, {
            "deposits": row["n"], "window_minutes": rule.window_minutes, "threshold": rule.count, "transaction_ids": transaction_ids,
        }, at=row["created_at"])
        for row, transaction_ids in zip(rows, evidence, strict=True)
    ]


def large_transaction(rule: AmlRule, anchors, currencies: list[str]) -> list[Hit]:
    by_currency = Q(pk__in=[])
    for currency in currencies:
        by_currency |= Q(account__currency=currency, size__gte=eur_in_minor(rule.amount_eur, currency))
    rows = _anchor_values(
        anchors.filter(kind__in=[TransactionKind.DEPOSIT, TransactionKind.WITHDRAWAL]).annotate(size=Abs("amount")).filter(by_currency),
    )
    return [
        Hit(row["player_id"], rule.kind, str(row["transaction_id"]), rule.score, {
            "kind": row["kind"], "amount": _minor_str(abs(row["amount"]), row["currency"]), "threshold_eur": str(rule.amount_eur),
            "transaction_ids": [row["transaction_id"]],
        }, at=row["created_at"])
        for row in rows
    ]


def structuring(rule: AmlRule, anchors, currencies: list[str]) -> list[Hit]:
    """Deposits kept just under the due-diligence threshold (EU AMLD art. 11: 2,000 EUR for gambling)."""
    window = timedelta(minutes=rule.window_minutes)
    hits = []
    for currency in currencies:
        top = eur_in_minor(rule.amount_eur, currency)
        low = eur_in_minor(rule.amount_eur * rule.ratio, currency)
        band = Q(amount__gte=low, amount__lt=top)
        rows = _anchor_values(
            anchors.filter(band, kind=TransactionKind.DEPOSIT, account__currency=currency)
            .annotate(n=_window_count(TransactionKind.DEPOSIT, start=window, extra=band)).filter(n__gte=rule.count),
            "n",
        )
        evidence = _window_transactions(rows, window=window, kinds=[TransactionKind.DEPOSIT], extra=band)
        hits += [
            Hit(row["player_id"], rule.kind, str(row["transaction_id"]), rule.score, {
                "deposits_in_band": row["n"], "band": f"{_minor_str(low, currency)} – {_minor_str(top, currency)}",
                "window_minutes": rule.window_minutes, "transaction_ids": transaction_ids,
            }, at=row["created_at"])
            for row, transaction_ids in zip(rows, evidence, strict=True)
        ]
    return hits


def rapid_cycling(rule: AmlRule, anchors, currencies: list[str]) -> list[Hit]:
    """A withdrawal of money that was barely played: the classic placement-and-layering pattern (FATF casino typologies)."""
    window = timedelta(minutes=rule.window_minutes)
    ratio_bp = int(rule.ratio * 10000)
    rows = _anchor_values(
        anchors.filter(kind=TransactionKind.WITHDRAWAL)
        .annotate(deposited=_window_sum(TransactionKind.DEPOSIT, start=window), staked=-_window_sum(TransactionKind.BET, start=window))
        .filter(deposited__gt=0)
        .filter(**{"staked__lt": ExpressionWrapper(F("deposited") * ratio_bp / 10000, output_field=IntegerField())}),
        "deposited", "staked",
    )
    return [
        Hit(row["player_id"], rule.kind, str(row["transaction_id"]), rule.score, {
            "withdrawal": _minor_str(-row["amount"], row["currency"]), "deposited": _minor_str(row["deposited"], row["currency"]),
            "wagered": _minor_str(row["staked"], row["currency"]), "min_wagered_ratio": str(rule.ratio),
            "window_minutes": rule.window_minutes, "transaction_ids": [row["transaction_id"]],
        }, at=row["created_at"])
        for row in rows
    ]


def history_change(rule: AmlRule, anchors, currencies: list[str]) -> list[Hit]:
    window = timedelta(minutes=rule.window_minutes)
    lookback = timedelta(days=rule.lookback_days)
    ratio_bp = int(rule.ratio * 10000)
    hits = []
    for currency in currencies:
        floor_total = eur_in_minor(rule.amount_eur, currency) * rule.lookback_days
        rows = _anchor_values(
            anchors.filter(kind=TransactionKind.DEPOSIT, account__currency=currency)
            .annotate(recent=_window_sum(TransactionKind.DEPOSIT, start=window),
                      before=_window_sum(TransactionKind.DEPOSIT, start=window + lookback, end=window))
            # recent > ratio × max(daily average, floor), in integers: recent × days × 10⁴ > ratio_bp × max(before, floor × days)
            .annotate(lhs=ExpressionWrapper(F("recent") * rule.lookback_days * 10000, output_field=IntegerField()),
                      rhs=ExpressionWrapper(Greatest(F("before"), Value(floor_total)) * ratio_bp, output_field=IntegerField()))
            # No history, nothing to change against: a newcomer's first large deposit is the large-transaction rule's.
            .filter(before__gt=0, lhs__gt=F("rhs")),
            "recent", "before",
        )
        evidence = _window_transactions(rows, window=window, kinds=[TransactionKind.DEPOSIT])
        hits += [
            Hit(row["player_id"], rule.kind, str(row["transaction_id"]), rule.score, {
                "deposits_window": _minor_str(row["recent"], currency),
                "daily_average": _minor_str(row["before"] // rule.lookback_days, currency),
                "floor_eur": str(rule.amount_eur), "multiple": str(rule.ratio), "window_minutes": rule.window_minutes,
                "transaction_ids": transaction_ids,
            }, at=row["created_at"])
            for row, transaction_ids in zip(rows, evidence, strict=True)
        ]
    return hits


TRANSACTION_RULES = {
    RuleKind.DEPOSIT_VELOCITY: deposit_velocity,
    RuleKind.LARGE_TRANSACTION: large_transaction,
    RuleKind.STRUCTURING: structuring,
    RuleKind.RAPID_CYCLING: rapid_cycling,
    RuleKind.HISTORY_CHANGE: history_change,
}


# --- shared identity ------------------------------------------------------------------------------


def _ignored_network(value: str) -> bool:
    """Loopback, private and the operator's own proxies say nothing about who is behind them."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return True
    if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved or address.is_unspecified:
        return True
    for proxy in getattr(settings, "TRUSTED_PROXIES", ()) or ():
        try:
            if address in ipaddress.ip_network(str(proxy), strict=False):
                return True
        except ValueError:
            continue
    return False


def _shared_groups(sql_sources: list[tuple[str, str, str, str, bool]], *, since: datetime, min_players: int,
                   only_values: list[str] | None) -> list[tuple[str, list[int]]]:
    """(value, player ids) for every identifier used by at least `min_players` players since `since`: one GROUP BY over a UNION."""
    parts, params = [], []
    for table, value_col, player_col, time_col, is_ip in sql_sources:
        # PostgreSQL's inet prints as "1.2.3.4/32"; HOST() gives the address as the other sources write it.
        value = f"HOST({value_col})" if is_ip and connection.vendor == "postgresql" else f"CAST({value_col} AS TEXT)"
        parts.append(
            f"SELECT {value} AS v, {player_col} AS p FROM {table} "  # noqa: S608 -- table and column names are ours
            f"WHERE {value_col} IS NOT NULL AND {value} <> '' AND {time_col} >= %s"
        )
        params.append(since)
    agg = "STRING_AGG(DISTINCT CAST(p AS TEXT), ',')" if connection.vendor == "postgresql" else "GROUP_CONCAT(DISTINCT p)"
    where = ""
    if only_values is not None:
        if not only_values:
            return []
        where = f"WHERE v IN ({', '.join(['%s'] * len(only_values))})"
        params += only_values
    sql = f"SELECT v, {agg} FROM ({' UNION ALL '.join(parts)}) u {where} GROUP BY v HAVING COUNT(DISTINCT p) >= %s"  # noqa: S608
    params.append(min_players)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(value, sorted(int(p) for p in str(players).split(","))) for value, players in cursor.fetchall()]


def shared_identity(rule: AmlRule, *, now: datetime, player_ids: list[int] | None = None) -> list[Hit]:
    """Devices, public IP addresses and payment instruments used by `count` or more players within `lookback_days`.

    Sources: the device id and IP recorded at sign-up (players), the IP of every login (django-axes'
    access log) and of every deposit and withdrawal request (payments), and the payment-instrument
    fingerprint payments records from the PSP (a keyed hash of method, last four digits and the PSP's
    token, never the number): one card funding three accounts is the classic multi-accounting sign
    (FATF, "Vulnerabilities of Casinos and Gaming Sector", 2009).
    """
    since = now - timedelta(days=rule.lookback_days)
    player_t, deposit_t, withdrawal_t = Player._meta.db_table, Deposit._meta.db_table, Withdrawal._meta.db_table
    # Logins: django-axes logs every successful one (AccessLog, with the same client_ip as everything else),
    # by the email typed; the join finds the player.
    logins = (
        f"(SELECT a.ip_address AS ip_address, p.id AS player_id, a.attempt_time AS created_at "  # noqa: S608 -- our table names
        f"FROM {AccessLog._meta.db_table} a "
        f"JOIN {User._meta.db_table} u ON u.email = LOWER(a.username) JOIN {player_t} p ON p.user_id = u.id) logins"
    )
    ip_sources = [
        (player_t, "signup_ip", "id", "created_at", True),
        (logins, "ip_address", "player_id", "created_at", True),
        (deposit_t, "ip_address", "player_id", "created_at", True),
        (withdrawal_t, "ip_address", "player_id", "created_at", True),
    ]
    device_sources = [(player_t, "device_id", "id", "created_at", False)]
    instrument_sources = [
        (deposit_t, "instrument_fingerprint", "player_id", "created_at", False),
        (withdrawal_t, "instrument_fingerprint", "player_id", "created_at", False),
    ]
    wanted_ips = wanted_devices = wanted_instruments = None
    if player_ids is not None:
        players = Player.objects.filter(pk__in=player_ids)
        wanted_devices = list(players.exclude(device_id="").values_list("device_id", flat=True))
        wanted_ips = {str(ip) for ip in players.exclude(signup_ip=None).values_list("signup_ip", flat=True)}
        wanted_ips |= {str(ip) for ip in Deposit.objects.filter(player_id__in=player_ids, created_at__gte=since)
                       .exclude(ip_address=None).values_list("ip_address", flat=True).distinct()}
        wanted_ips |= {str(ip) for ip in Withdrawal.objects.filter(player_id__in=player_ids, created_at__gte=since)
                       .exclude(ip_address=None).values_list("ip_address", flat=True).distinct()}
        emails = list(players.values_list("user__email", flat=True))
        wanted_ips |= {str(ip) for ip in AccessLog.objects.filter(username__in=emails, attempt_time__gte=since)
                       .exclude(ip_address=None).values_list("ip_address", flat=True).distinct()}
        wanted_ips = sorted(ip for ip in wanted_ips if not _ignored_network(ip))
        wanted_instruments = sorted(
            {fp for model in (Deposit, Withdrawal)
             for fp in model.objects.filter(player_id__in=player_ids, created_at__gte=since).exclude(instrument_fingerprint="")
             .values_list("instrument_fingerprint", flat=True).distinct()}
        )
    hits = []
    groups = [("ip", v, ps) for v, ps in _shared_groups(ip_sources, since=since, min_players=rule.count, only_values=wanted_ips)]
    devices = _shared_groups(device_sources, since=since, min_players=rule.count, only_values=wanted_devices)
    groups += [("device", v, ps) for v, ps in devices]
    instruments = _shared_groups(instrument_sources, since=since, min_players=rule.count, only_values=wanted_instruments)
    groups += [("instrument", v, ps) for v, ps in instruments]
    for what, value, players_sharing in groups:
        if what == "ip" and _ignored_network(value):
            continue
        for player_id in players_sharing:
            hits.append(Hit(player_id, rule.kind, f"{what}:{value}"[:200], rule.score, {
                "identifier": what, "value": value, "players": players_sharing[:50], "lookback_days": rule.lookback_days,
            }, at=now))
    return hits


def evaluate(
    *, anchors, now: datetime, player_ids: list[int] | None, rules: list[AmlRule], currencies: list[str] | None = None
) -> list[Hit]:
    """Every enabled rule over the anchors; shared identity for `player_ids` (None: every player).

    `currencies`: the wallet currencies the anchors can be in, when the caller knows them (one posting's);
    otherwise every currency player wallets use. The per-currency thresholds run one query each.
    """
    currencies = [c for c in (currencies if currencies is not None else _wallet_currencies()) if c in rated_currencies()]
    hits: list[Hit] = []
    for rule in rules:
        if not rule.enabled:
            continue
        if rule.kind in TRANSACTION_RULES:
            hits += TRANSACTION_RULES[rule.kind](rule, anchors, currencies)
        elif rule.kind == RuleKind.SHARED_IDENTITY:
            hits += shared_identity(rule, now=now, player_ids=player_ids)
    return hits


def anchors_for(q: Q):
    return _cash_entries().filter(q)


