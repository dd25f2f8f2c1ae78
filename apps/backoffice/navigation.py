"""The admin shell's sidebar: grouped by task, not by app, with the work queues' sizes as badges.

Built per request (unfold's SIDEBAR.navigation names this module's `sidebar`): an item is listed only if
the viewer's role may open it (the model admin's own view permission, so the sidebar and the page never
disagree), and a group with nothing in it is left out. The badges count what waits for a decision and
come from apps.backoffice.selectors.
"""

from __future__ import annotations

from collections.abc import Callable

from django.apps import apps as django_apps
from django.contrib import admin
from django.urls import reverse

from . import selectors


def withdrawals_badge(request) -> int:
    return selectors.withdrawals_awaiting_approval_count()


def kyc_badge(request) -> int:
    return selectors.kyc_cases_awaiting_review_count()


def aml_badge(request) -> int:
    return sum(selectors.open_aml_alerts_by_level().values())


# (group title, [(item title, icon, "app_label.ModelName", badge callback or None), ...])
Item = tuple[str, str, str, Callable | None]
NAVIGATION: list[tuple[str, list[Item]]] = [
    ("Players", [
        ("Players", "person_search", "players.Player", None),
        ("Limits", "speed", "limits.Limit", None),
        ("Exclusions", "block", "limits.Exclusion", None),
        ("Player protection", "health_and_safety", "limits.PlayerProtection", None),
        ("Excluded identities", "person_off", "players.ExcludedIdentity", None),
    ]),
    ("Money and queues", [
        ("Withdrawals", "payments", "payments.Withdrawal", withdrawals_badge),
        ("Deposits", "savings", "payments.Deposit", None),
        ("Accounts", "account_balance_wallet", "ledger.Account", None),
        ("Ledger transactions", "receipt_long", "ledger.LedgerTransaction", None),
        ("Entries", "list", "ledger.Entry", None),
    ]),
    ("Compliance", [
        ("KYC cases", "badge", "kyc.KycCase", kyc_badge),
        ("AML alerts", "policy", "aml.AmlAlert", aml_badge),
        ("AML rules", "rule", "aml.AmlRule", None),
        ("Screening lists", "fact_check", "aml.ScreeningList", None),
        ("Markets", "public", "markets.Market", None),
        ("Exchange rates", "currency_exchange", "markets.ExchangeRate", None),
        ("National register", "gavel", "markets.NationalRegisterEntry", None),
    ]),
    ("Games", [
        ("Games", "casino", "games.Game", None),
        ("Providers", "hub", "games.Provider", None),
        ("Game sessions", "sports_esports", "games.GameSession", None),
        ("Rounds", "casino", "games.Round", None),
        ("Provider transactions", "sync_alt", "games.ProviderTransaction", None),
    ]),
    ("Reports", [
        ("Regulatory report runs", "summarize", "reports.ReportRun", None),
        ("RTP monitor", "monitoring", "games.GameDayStats", None),
    ]),
    ("System", [
        ("Periodic tasks", "schedule", "django_celery_beat.PeriodicTask", None),
        ("Crontab schedules", "calendar_month", "django_celery_beat.CrontabSchedule", None),
        ("Interval schedules", "timer", "django_celery_beat.IntervalSchedule", None),
        ("Login attempts", "lock_clock", "axes.AccessAttempt", None),
        ("Login failures", "lock", "axes.AccessFailureLog", None),
        ("Logins", "login", "axes.AccessLog", None),
        ("Two-factor devices", "phonelink_lock", "otp_totp.TOTPDevice", None),
        ("Staff and logins", "manage_accounts", "players.User", None),
        ("Roles (groups)", "groups", "auth.Group", None),
        ("Outstanding tokens", "key", "token_blacklist.OutstandingToken", None),
        ("Blacklisted tokens", "key_off", "token_blacklist.BlacklistedToken", None),
        ("Clocked schedules", "alarm", "django_celery_beat.ClockedSchedule", None),
        ("Solar schedules", "wb_sunny", "django_celery_beat.SolarSchedule", None),
    ]),
]


def _model_admin(label: str):
    try:
        model = django_apps.get_model(label)
    except LookupError:
        return None
    return admin.site._registry.get(model)


def sidebar(request) -> list[dict]:
    """The groups and items this viewer may open, each item with its queue badge when something waits."""
    groups = []
    for title, items in NAVIGATION:
        entries = []
        for item_title, icon, label, badge in items:
            model_admin = _model_admin(label)
            if model_admin is None or not model_admin.has_view_or_change_permission(request):
                continue
            opts = model_admin.model._meta
            entry = {"title": item_title, "icon": icon, "link": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")}
            if badge is not None and (count := badge(request)):
                entry["badge"] = count
            entries.append(entry)
        if entries:
            groups.append({"title": title, "collapsible": title == "System", "items": entries})
    return [{"items": [{"title": "Dashboard", "icon": "dashboard", "link": reverse("admin:index")}]}, *groups]
