"""Operator UI for the ledger: read-only for everyone, superusers included.

No row is added, edited or deleted here (the database refuses UPDATE and DELETE on entries and
transactions anyway). What an operator can do:

- read an account's statement, newest first, with the running balance and who posted each line and why
  (/admin/ledger/account/<id>/statement/, keyset-paged so the house account's statement is as cheap);
- with `ledger.adjust_balance` (the operator role only), correct a player's cash through
  /admin/ledger/account/<id>/adjust/ or the list action: both call services.adjustment_post, which
  records the operator and the reason on the ledger transaction. Each form carries its own UUID as the
  idempotency key, so a double-submitted form posts once.

Search takes exact values, which the indexes answer on tables of any size: a player's email or public id,
an id, a transaction reference or idempotency key.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from unfold.admin import TabularInline

from apps.core.admin import (
    MoneyFormField,
    NoEditPermissions,
    ReadOnlyAdmin,
    action_hidden_fields,
    apply_to_each,
    confirm_action_page,
    log_service_action,
)
from apps.core.errors import DomainError
from apps.core.exports import CsvExportAdminMixin, ExportRangeForm, apply_range, export_form_page, stream_csv
from apps.core.models import ExportKind
from apps.core.money import Money, format_amount
from apps.core.panels import PanelTable, TimelineEvent, player_panel, player_timeline
from apps.core.player_list import PlayerColumn, register_player_column
from apps.core.services import data_export_start
from apps.core.timefmt import readable_time
from apps.players.models import Player
from apps.players.selectors import player_by_public_id

from . import selectors, services
from .models import Account, AccountKind, Entry, LedgerTransaction, TransactionKind

STATEMENT_PAGE_SIZE = 50
STATEMENT_EXPORT_PERMISSION = "core.export_ledger"
# Above this many rows (PostgreSQL's estimate), an unfiltered changelist shows the estimate instead of counting.
ESTIMATE_COUNT_ABOVE = 10_000


def _money(minor: int, currency: str) -> str:
    return f"{Money.from_minor(minor, currency)} {currency}"


def _player_for_term(term: str):
    """The player an exact search term names (public id or email), if any."""
    with contextlib.suppress(ValueError):
        return player_by_public_id(uuid.UUID(term))
    if "@" in term:
        # Emails are stored lower-cased (registration normalises them); the unique index answers this.
        return Player.objects.select_related("user").filter(user__email=term.lower()).first()
    return None


def _exact_search(queryset, search_term: str, *, for_player: Callable[[Player], Q], for_term: Callable[[str], Q]):
    """Exact matches only, which the indexes answer on tables of any size: a player's email or public id, else ids and keys."""
    term = search_term.strip()
    if not term:
        return queryset, False
    player = _player_for_term(term)
    return queryset.filter(for_term(term) if player is None else for_player(player)), False


def _player_link(player) -> str:
    if player is None:
        return "system"
    return format_html('<a href="{}">{}</a>', reverse("admin:players_player_change", args=[player.pk]), player.user.email)


def _account_link(account: Account) -> str:
    url = reverse("admin:ledger_account_change", args=[account.pk])
    return format_html('<a href="{}">{}</a> — {}', url, account.get_kind_display(), _player_link(account.player))


class EstimatedCountPaginator(Paginator):
    """Pages without COUNT(*) over a whole ledger table: unfiltered, PostgreSQL's row estimate is enough."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor == "postgresql" and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] >= ESTIMATE_COUNT_ABOVE:
                return row[0]
        return super().count


class LedgerReadOnlyAdmin(ReadOnlyAdmin):
    """Nobody adds, changes or deletes ledger rows in the admin; corrections are compensating transactions."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False


# --- Manual adjustments ---


class AdjustmentForm(forms.Form):
    amount = MoneyFormField(
        signed=True,
        max_length=32,
        help_text='Signed, in the account currency: "5.00" credits the player, "-5.00" debits (never below zero).',
    )
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Kept on the ledger transaction with your name.",
    )
    # A new UUID each time the form is shown; resubmitting the same form replays instead of posting twice.
    submission = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def __init__(self, *args, currency: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["amount"].currency = currency
        self.fields["amount"].label = f"Amount ({currency})"

    def clean_amount(self) -> int:
        return self.cleaned_data["amount"].minor

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason


def _refusal(exc: DomainError) -> str:
    """The service's refusal in one line, e.g. "Not enough funds. (available: player_cash 4.00)"."""
    parts = []
    for key, value in exc.details.items():
        if isinstance(value, dict):
            parts.append(f"{key}: " + ", ".join(f"{inner} {detail}" for inner, detail in value.items()))
        else:
            parts.append(f"{key}: {value}")
    return f"{exc.message} ({'; '.join(parts)})" if parts else exc.message


def _adjustable(account: Account) -> bool:
    """adjustment_post corrects a player's cash in the wallet currency; nothing else is adjusted by hand."""
    return account.kind == AccountKind.PLAYER_CASH and account.player is not None and account.currency == account.player.currency


def _post_adjustment(request, account: Account, data: dict) -> LedgerTransaction:
    return services.adjustment_post(
        player=account.player,
        amount_minor=data["amount"],
        actor=request.user,
        reason=data["reason"],
        idempotency_key=f"admin-adjust:{account.pk}:{data['submission']}",
    )


# --- Accounts ---


class OwnerFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        return (("player", "Players"), ("system", "System (house)"))

    def queryset(self, request, queryset):
        if self.value() in ("player", "system"):
            return queryset.filter(player__isnull=self.value() == "system")
        return queryset


@admin.register(Account)
class AccountAdmin(LedgerReadOnlyAdmin):
    list_display = ("id", "owner", "kind", "currency", "shard", "balance_display", "created_at", "statement_link")
    list_filter = ("kind", "currency", OwnerFilter)
    list_select_related = ("player__user",)
    search_fields = ("player__user__email",)
    search_help_text = "A player's email or public id (exact), an account id, or part of an email."
    ordering = ("id",)
    fields = ("id", "owner", "kind", "currency", "shard", "balance_display", "created_at")
    readonly_fields = fields
    actions = ("adjust_balances",)

    def has_adjust_balance_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("ledger.adjust_balance")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        player = _player_for_term(term) if term else None
        if player is not None:
            return queryset.filter(player=player), False
        if term.isdigit():
            return queryset.filter(pk=int(term)), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="owner", ordering="player__user__email")
    def owner(self, obj: Account) -> str:
        return _player_link(obj.player)

    @admin.display(description="balance", ordering="balance")
    def balance_display(self, obj: Account) -> str:
        return _money(obj.balance, obj.currency)

    @admin.display(description="statement")
    def statement_link(self, obj: Account) -> str:
        return format_html('<a href="{}">statement</a>', reverse("admin:ledger_account_statement", args=[obj.pk]))

    def get_urls(self):
        return [
            path("<path:object_id>/statement/", self.admin_site.admin_view(self.statement_view), name="ledger_account_statement"),
            path(
                "<path:object_id>/statement/export/", self.admin_site.admin_view(self.statement_export_view),
                name="ledger_account_statement_export",
            ),
            path("<path:object_id>/adjust/", self.admin_site.admin_view(self.adjust_view), name="ledger_account_adjust"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        account = self.get_object(request, unquote(object_id))
        if account is not None:
            if request.user.has_perm("ledger.view_entry"):
                extra_context["statement_url"] = reverse("admin:ledger_account_statement", args=[account.pk])
            if self.has_adjust_balance_permission(request) and _adjustable(account):
                extra_context["adjust_url"] = reverse("admin:ledger_account_adjust", args=[account.pk])
        return super().change_view(request, object_id, form_url, extra_context)

    def _page(self, request, template: str, title: str, **context):
        return TemplateResponse(
            request,
            f"admin/ledger/account/{template}",
            {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, **context},
        )

    def _adjust_page(self, request, title: str, accounts: list[Account], form: AdjustmentForm, **page):
        return confirm_action_page(
            self,
            request,
            title=title,
            intro="The adjustment is posted against the manual adjustments account, with your name and the reason.",
            items=[f"{account.player.user.email} — cash {_money(account.balance, account.currency)}" for account in accounts],
            form=form,
            submit_label="Post adjustment",
            **page,
        )

    def statement_view(self, request, object_id):
        """The account's entries, newest first, with the running balance and who posted each one and why."""
        # The statement shows movements, not only the balance: it needs the right to see entries.
        if not request.user.has_perm("ledger.view_entry"):
            raise PermissionDenied
        account = self.get_object(request, unquote(object_id))
        if account is None or not self.has_view_permission(request, account):
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        before = request.GET.get("before", "")
        entries = selectors.account_statement(
            account_id=account.pk, before=int(before) if before.isdigit() else None, limit=STATEMENT_PAGE_SIZE + 1
        )
        older = entries[STATEMENT_PAGE_SIZE - 1].pk if len(entries) > STATEMENT_PAGE_SIZE else None
        rows = [
            {
                "entry": entry,
                "amount": _money(entry.amount, account.currency),
                "balance_after": _money(entry.balance_after, account.currency),
                "transaction_url": reverse("admin:ledger_ledgertransaction_change", args=[entry.transaction_id]),
            }
            for entry in entries[:STATEMENT_PAGE_SIZE]
        ]
        adjust_url = None
        if self.has_adjust_balance_permission(request) and _adjustable(account):
            adjust_url = reverse("admin:ledger_account_adjust", args=[account.pk])
        return self._page(
            request,
            "statement.html",
            f"Statement of {account}",
            account=account,
            owner=_player_link(account.player),
            balance=_money(account.balance, account.currency),
            rows=rows,
            headers=["When", "Transaction", "Kind", "Reference", "Amount", "Balance after", "By", "Reason"],
            older_url=f"?before={older}" if older else None,
            newest_url="?" if before else None,
            change_url=reverse("admin:ledger_account_change", args=[account.pk]),
            adjust_url=adjust_url,
            export_url=reverse("admin:ledger_account_statement_export", args=[account.pk])
            if request.user.has_perm(STATEMENT_EXPORT_PERMISSION) else None,
        )

    def statement_export_view(self, request, object_id):
        """The account's statement as CSV for a date range: every entry, oldest first, with the running balance."""
        if not (request.user.has_perm("ledger.view_entry") and request.user.has_perm(STATEMENT_EXPORT_PERMISSION)):
            raise PermissionDenied("Your role may not export statements.")
        account = self.get_object(request, unquote(object_id))
        if account is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        form = ExportRangeForm(request.GET if "export" in request.GET else None)
        if not (form.is_bound and form.is_valid()):
            return export_form_page(
                request, admin_site=self.admin_site, opts=self.model._meta, title=f"Export the statement of {account} as CSV",
                form=form, hidden={}, cancel_url=reverse("admin:ledger_account_statement", args=[account.pk]),
            )
        entries = apply_range(
            Entry.objects.filter(account=account).select_related("transaction__created_by").order_by("id"), "created_at", form
        )
        export = data_export_start(
            kind=ExportKind.STATEMENT, user=request.user,
            filters={"account": account.pk, "player": account.player.public_id.hex if account.player else "", **form.as_filters()},
        )
        currency = account.currency
        rows = (
            [
                entry.created_at, entry.transaction_id, entry.kind, entry.transaction.reference, currency,
                format_amount(entry.amount, currency), format_amount(entry.balance_after, currency),
                entry.transaction.created_by.email if entry.transaction.created_by else "", entry.transaction.reason,
            ]
            for entry in entries.iterator(chunk_size=2000)
        )
        return stream_csv(
            export=export, filename=f"statement-account-{account.pk}.csv",
            header=["created_at", "transaction_id", "kind", "reference", "currency", "amount", "balance_after", "posted_by", "reason"],
            rows=rows,
        )

    def adjust_view(self, request, object_id):
        """Credit or debit one player's cash, with a reason, through services.adjustment_post."""
        if not self.has_adjust_balance_permission(request):
            raise PermissionDenied
        account = self.get_object(request, unquote(object_id))
        if account is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        change_url = reverse("admin:ledger_account_change", args=[account.pk])
        if not _adjustable(account):
            self.message_user(request, "Only a player's cash account in the wallet currency can be adjusted.", messages.ERROR)
            return HttpResponseRedirect(change_url)
        form = AdjustmentForm(request.POST or None, currency=account.currency)
        if request.method == "POST" and form.is_valid():
            try:
                txn = _post_adjustment(request, account, form.cleaned_data)
            except DomainError as exc:
                # Nothing was posted: show the same values under a fresh key, so a corrected
                # amount is not taken for a replay (or a conflict) of this refused one.
                form = AdjustmentForm({**request.POST.dict(), "submission": str(uuid.uuid4())}, currency=account.currency)
                form.is_valid()
                form.add_error(None, _refusal(exc))
            else:
                if txn.replayed:
                    self.message_user(request, f"This adjustment was already posted as transaction {txn.pk}; nothing new was posted.")
                else:
                    amount = _money(form.cleaned_data["amount"], account.currency)
                    log_service_action(self, request, account, f"Adjusted cash by {amount} (transaction {txn.pk})")
                    self.message_user(request, f"Posted adjustment {txn.pk}: {amount} to {account.player.user.email}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:ledger_account_statement", args=[account.pk]))
        return self._adjust_page(request, "Adjust a player's cash", [account], form, hidden=[], submit_name="adjust", cancel_url=change_url)

    @admin.action(description="Adjust the cash of the selected players (asks for an amount and a reason)", permissions=["adjust_balance"])
    def adjust_balances(self, request, queryset):
        accounts = list(queryset.select_related("player__user").order_by("pk"))
        adjustable = [account for account in accounts if _adjustable(account)]
        currencies = {account.currency for account in adjustable}
        if not adjustable or len(currencies) > 1:
            self.message_user(request, "Select player cash accounts, all in one currency.", messages.ERROR)
            return None
        form = AdjustmentForm(request.POST if "apply_adjustment" in request.POST else None, currency=currencies.pop())
        if form.is_bound and form.is_valid():
            apply_to_each(
                self,
                request,
                adjustable,
                lambda account: _post_adjustment(request, account, form.cleaned_data),
                verb="adjusted",
                label=lambda account: account.player.user.email,
                refusal=_refusal,
                done_label=lambda account, txn: f"{account.player.user.email} (#{txn.pk}{', already posted' if txn.replayed else ''})",
            )
            return None
        skipped = len(accounts) - len(adjustable)
        if skipped:
            self.message_user(request, f"{skipped} selected account(s) are not player cash accounts and are left out.", messages.WARNING)
        return self._adjust_page(
            request,
            "Adjust players' cash",
            adjustable,
            form,
            hidden=action_hidden_fields("adjust_balances", adjustable),
            submit_name="apply_adjustment",
            cancel_url=reverse("admin:ledger_account_changelist"),
        )


# --- Transactions and entries ---


class EntryColumns:
    """The columns an entry shows wherever it is listed: the transaction's inline and the entries changelist."""

    @admin.display(description="account")
    def account_display(self, obj: Entry) -> str:
        return _account_link(obj.account)

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj: Entry) -> str:
        return _money(obj.amount, obj.account.currency)

    @admin.display(description="balance after")
    def balance_after_display(self, obj: Entry) -> str:
        return _money(obj.balance_after, obj.account.currency)


class EntryInline(EntryColumns, NoEditPermissions, TabularInline):
    model = Entry
    fields = ("account_display", "amount_display", "balance_after_display", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__player__user").order_by("id")


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(LedgerReadOnlyAdmin):
    list_display = ("id", "kind", "reference", "created_by", "short_reason", "created_at")
    list_filter = ("kind",)
    list_select_related = ("created_by",)
    search_fields = ("=reference",)
    search_help_text = "Exact: a transaction id, reference or idempotency key, or a player's email or public id."
    ordering = ("-id",)
    fields = ("id", "kind", "reference", "idempotency_key", "fingerprint", "reason", "created_by", "created_at", "metadata")
    readonly_fields = fields
    inlines = (EntryInline,)
    actions = None

    def get_search_results(self, request, queryset, search_term):
        return _exact_search(
            queryset,
            search_term,
            for_player=lambda player: Q(pk__in=Entry.objects.filter(account__player=player).values("transaction_id")),
            for_term=lambda term: Q(reference=term) | Q(idempotency_key=term) | (Q(pk=int(term)) if term.isdigit() else Q()),
        )

    @admin.display(description="reason")
    def short_reason(self, obj: LedgerTransaction) -> str:
        return obj.reason if len(obj.reason) <= 60 else f"{obj.reason[:59]}…"


@admin.register(Entry)
class EntryAdmin(CsvExportAdminMixin, EntryColumns, LedgerReadOnlyAdmin):
    """Every entry; "Export CSV" gives the ledger journal (one row per entry) for a date range and the list's filters."""

    export_kind = ExportKind.LEDGER_JOURNAL
    export_permission = "core.export_ledger"
    export_header = (
        "entry_id", "transaction_id", "created_at", "kind", "reference", "account_id", "account_kind", "player_id", "currency",
        "amount", "balance_after", "posted_by", "reason",
    )

    def has_export_permission(self, request) -> bool:
        return super().has_export_permission(request) and request.user.has_perm("ledger.view_entry")

    def export_queryset(self, queryset):
        return queryset.select_related("account__player", "transaction__created_by").order_by("id")

    def export_rows(self, entries):
        for entry in entries:
            account, txn = entry.account, entry.transaction
            yield [
                entry.pk, entry.transaction_id, entry.created_at, entry.kind, txn.reference, account.pk, account.kind,
                account.player.public_id if account.player else "", account.currency, format_amount(entry.amount, account.currency),
                format_amount(entry.balance_after, account.currency), txn.created_by.email if txn.created_by else "", txn.reason,
            ]

    list_display = ("id", "transaction_link", "account_display", "kind", "amount_display", "balance_after_display", "created_at")
    list_filter = ("kind", "account__kind", "account__currency")
    list_select_related = ("account__player__user",)
    search_fields = ("=transaction__reference",)
    search_help_text = "Exact: an entry or transaction id, a transaction reference or idempotency key, or a player's email or public id."
    ordering = ("-id",)
    fields = ("id", "transaction_link", "account_display", "kind", "amount_display", "balance_after_display", "created_at")
    readonly_fields = fields
    actions = None

    def get_search_results(self, request, queryset, search_term):
        return _exact_search(
            queryset,
            search_term,
            for_player=lambda player: Q(account__player=player),
            for_term=lambda term: (
                Q(transaction__reference=term)
                | Q(transaction__idempotency_key=term)
                | (Q(pk=int(term)) | Q(transaction_id=int(term)) if term.isdigit() else Q())
            ),
        )

    @admin.display(description="transaction", ordering="transaction_id")
    def transaction_link(self, obj: Entry) -> str:
        url = reverse("admin:ledger_ledgertransaction_change", args=[obj.transaction_id])
        return format_html('<a href="{}">#{}</a>', url, obj.transaction_id)


# --- The ledger's section of the player 360° view ---


@player_panel("Ledger", order=25)
def _ledger_panel(player, request=None) -> list[tuple[str, object]]:
    cash = selectors.player_cash_account(player=player)
    if cash is None:
        return [("Cash account", "not opened yet (no money has moved)")]
    rows: list[tuple[str, object]] = [("Cash", _money(cash.balance, cash.currency))]
    if request is None or request.user.has_perm("ledger.view_entry"):
        statement_url = reverse("admin:ledger_account_statement", args=[cash.pk])
        rows[0] = ("Cash statement", format_html('<a href="{}">{}</a>', statement_url, _money(cash.balance, cash.currency)))
    # Only the role that may adjust sees the button; the adjustment view checks the permission again.
    if request is not None and request.user.has_perm("ledger.adjust_balance"):
        adjust_url = reverse("admin:ledger_account_adjust", args=[cash.pk])
        rows.append(("Manual adjustment", format_html('<a href="{}" id="player-adjust-cash">Adjust cash…</a>', adjust_url)))
    return rows


@player_panel("Wallet", order=20)
def _wallet_panel(player) -> list[tuple[str, object]]:
    balances = selectors.wallet_balances(player=player)
    currency = balances.currency
    return [
        ("Cash", f"{balances.cash} {currency}"),
        ("Bonus", f"{balances.bonus} {currency}"),
        ("Held (withdrawals pending)", f"{balances.held} {currency}"),
        ("Withdrawable", f"{balances.withdrawable} {currency}"),
    ]


@player_panel("Accounts", order=10, tab="balances")
def _balances_panel(player) -> PanelTable:
    """Every ledger account the player has, in every currency, with its cached balance (verify_ledger proves it)."""
    accounts = Account.objects.filter(player=player).order_by("currency", "kind")
    return PanelTable(
        headers=["account", "currency", "balance", "opened"],
        rows=[[a.get_kind_display(), a.currency, _money(a.balance, a.currency), readable_time(a.created_at, relative=False)]
              for a in accounts],
        empty="No account opened yet (no money has moved).",
    )


LEDGER_TAB_ROWS = 100


@player_panel("Cash ledger", order=10, tab="ledger")
def _cash_ledger_panel(player, request=None) -> PanelTable | None:
    """The latest cash entries with the running balance after each; the full statement and its CSV are one click away."""
    if request is not None and not request.user.has_perm("ledger.view_entry"):
        return None  # support sees balances, not the movements behind them
    cash = selectors.player_cash_account(player=player)
    if cash is None:
        return PanelTable(headers=[], rows=[], empty="No cash account yet.")
    entries = list(
        Entry.objects.filter(account=cash).select_related("transaction__created_by").order_by("-id")[:LEDGER_TAB_ROWS]
    )
    links = [format_html('<a href="{}">Full statement</a>', reverse("admin:ledger_account_statement", args=[cash.pk]))]
    if request is not None and request.user.has_perm(STATEMENT_EXPORT_PERMISSION):
        url = reverse("admin:ledger_account_statement_export", args=[cash.pk])
        links.append(format_html('<a href="{}" id="player-statement-export">Export statement (CSV)</a>', url))
    return PanelTable(
        headers=["when", "transaction", "kind", "reference", "amount", "balance after", "by", "reason"],
        rows=[
            [
                readable_time(e.created_at, relative=False),
                format_html('<a href="{}">#{}</a>', reverse("admin:ledger_ledgertransaction_change", args=[e.transaction_id]),
                            e.transaction_id),
                e.get_kind_display(), e.transaction.reference, _money(e.amount, cash.currency), _money(e.balance_after, cash.currency),
                e.transaction.created_by.email if e.transaction.created_by else "—", e.transaction.reason,
            ]
            for e in entries
        ],
        empty="No movements yet.",
        footer=format_html("<p>{}</p>", format_html_join(" · ", "{}", ((link,) for link in links))),
    )


@player_timeline("ledger")
def _ledger_timeline(player, *, limit: int, request=None) -> list[TimelineEvent]:
    """Manual adjustments: money moved by hand, with who and why."""
    if request is not None and not request.user.has_perm("ledger.view_entry"):
        return []
    entries = (
        Entry.objects.filter(account__player=player, kind=TransactionKind.ADJUSTMENT)
        .select_related("transaction__created_by", "account").order_by("-id")[:limit]
    )
    return [
        TimelineEvent(
            at=e.created_at, what=f"Balance adjusted by {_money(e.amount, e.account.currency)}", detail=e.transaction.reason,
            who=e.transaction.created_by.email if e.transaction.created_by else "", source="ledger",
            link=reverse("admin:ledger_ledgertransaction_change", args=[e.transaction_id]),
        )
        for e in entries
    ]


# --- The player list's balance column and filter ---


class BalanceRangeFilter(admin.SimpleListFilter):
    """Cash balance bands in the wallet's own currency (minor units compared, so JPY and EUR bands mean 'units')."""

    title = "cash balance"
    parameter_name = "balance"
    BANDS = {"zero": (0, 0), "lt100": (1, 99), "100to1000": (100, 999), "1000to10000": (1000, 9999), "gte10000": (10000, None)}

    def lookups(self, request, model_admin):
        return [("zero", "zero"), ("lt100", "under 100"), ("100to1000", "100 – 999"), ("1000to10000", "1,000 – 9,999"),
                ("gte10000", "10,000 and more")]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        from django.db.models.functions import Coalesce

        from apps.core.money import MINOR_UNITS

        low, high = band
        by_digits: dict[int, list[str]] = {}
        for currency, digits in MINOR_UNITS.items():
            by_digits.setdefault(digits, []).append(currency)
        matches = Q()
        for digits, currencies in by_digits.items():
            scale = 10**digits
            band_q = Q(currency__in=currencies, _balance__gte=low * scale)
            if high is not None:
                band_q &= Q(_balance__lt=(high + 1) * scale)
            matches |= band_q
        return queryset.annotate(_balance=Coalesce("cash_balance", 0)).filter(matches)


def _cash_balance_subquery():
    from django.db.models import OuterRef, Subquery

    return Subquery(
        Account.objects.filter(player=OuterRef("pk"), kind=AccountKind.PLAYER_CASH, currency=OuterRef("currency")).values("balance")[:1]
    )


register_player_column(PlayerColumn(
    name="cash_balance", label="cash", order=10, annotation=_cash_balance_subquery,
    display=lambda player, value: _money(value or 0, player.currency),
    csv=lambda player, value: format_amount(value or 0, player.currency),
    list_filter=BalanceRangeFilter,
))
