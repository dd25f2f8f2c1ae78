"""The admin home (unfold's DASHBOARD_CALLBACK): today's and the last 30 days' figures, the queues, RTP per game.

Each block is shown only to a role that may see what it summarises: money movements to who may see the
ledger's transactions (operators, compliance), AML alerts to compliance only (EU AMLD art. 39: the fewer
people know of a suspicion, the less risk of tipping off), RTP to who may see the games' statistics.
"""

from __future__ import annotations

import json

from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from apps.core import clock
from apps.core.money import Money

from . import selectors

MONEY_PERMISSION = "ledger.view_ledgertransaction"
WITHDRAWALS_PERMISSION = "payments.view_withdrawal"
KYC_PERMISSION = "kyc.view_kyccase"
AML_PERMISSION = "aml.view_amlalert"
RTP_PERMISSION = "games.view_gamedaystats"

# One colour per series, the same on every chart.
SERIES = (("deposits", "Deposits", "#16a34a"), ("withdrawals", "Withdrawals paid", "#dc2626"), ("ggr", "GGR", "#9333ea"))


def _money_rows(window: selectors.Window) -> list[dict]:
    return [
        {
            "currency": figures.currency,
            "cells": [
                ("deposits", str(figures.deposits), f"{figures.deposit_count} credited"),
                ("withdrawals", str(figures.withdrawals), f"{figures.withdrawal_count} paid"),
                ("ftd", str(figures.first_time_depositors), "first-time depositors"),
                ("ggr", str(figures.ggr), "stakes − payouts"),
                ("ngr", str(figures.ngr), f"GGR − bonus cost {figures.bonus_cost}"),
                ("active", str(figures.active_players), "players who staked"),
            ],
        }
        for figures in selectors.money_figures(start=window.start, end=window.end)
    ]


def _charts(now) -> list[dict]:
    days, series = selectors.daily_money(days=30, now=now)
    charts = []
    for currency, per in sorted(series.items()):
        data = {
            "labels": [day.strftime("%d %b") for day in days],
            "datasets": [
                {
                    "label": label,
                    # Exact decimal strings (currency units); Chart.js reads them as numbers only to draw.
                    "data": [str(Money.from_minor(minor, currency).amount) for minor in per[name]],
                    "backgroundColor": colour,
                    "borderColor": colour,
                }
                for name, label, colour in SERIES
            ],
        }
        charts.append({"currency": currency, "data": json.dumps(data)})
    return charts


def _rtp_chart(rows: list[selectors.GameRtp]) -> str:
    data = {
        "labels": [f"{row.name} ({row.currency})" for row in rows],
        "datasets": [
            {"label": "Actual RTP %", "data": [str(row.actual) if row.actual is not None else None for row in rows],
             "backgroundColor": "#9333ea"},
            {
                "label": "Target RTP %",
                "data": [str(row.target) if row.target is not None else None for row in rows],
                "backgroundColor": "#d8b4fe",
            },
        ],
    }
    return json.dumps(data)


def dashboard_callback(request, context: dict) -> dict:
    user = request.user
    now = clock.now()
    today, month = selectors.windows(now)
    blocks: dict = {"now": now}
    if user.has_perm(MONEY_PERMISSION):
        blocks["money_windows"] = [{"label": window.label, "rows": _money_rows(window)} for window in (today, month)]
        blocks["charts"] = _charts(now)
    if user.has_perm(WITHDRAWALS_PERMISSION):
        waiting_since = selectors.oldest_withdrawal_waiting_since()
        blocks["withdrawals"] = {
            "waiting": selectors.withdrawals_awaiting_approval_count(),
            "oldest": timesince(waiting_since, now) if waiting_since else None,
            "oldest_at": timezone.localtime(waiting_since) if waiting_since else None,
            "url": reverse("admin:payments_withdrawal_changelist"),
        }
    if user.has_perm(KYC_PERMISSION):
        blocks["kyc"] = {"open": selectors.kyc_cases_awaiting_review_count(), "url": reverse("admin:kyc_kyccase_changelist")}
    if user.has_perm(AML_PERMISSION):
        by_level = selectors.open_aml_alerts_by_level()
        blocks["aml"] = {"by_level": by_level, "total": sum(by_level.values()), "url": reverse("admin:aml_amlalert_changelist")}
    if user.has_perm(RTP_PERMISSION):
        rows = selectors.rtp_by_game(start=month.start, end=month.end)
        blocks["rtp"] = {"rows": rows, "chart": _rtp_chart(rows) if rows else None}
    context.update(blocks)
    return context
