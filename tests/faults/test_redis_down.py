"""Redis down during traffic (issue #13, faults): the shared Redis is never stopped; the app is pointed
at a port where nothing listens, for its cache and its Celery broker at once, as an outage looks to it.

Money keeps moving (PostgreSQL is the only store of money), logins, refreshes and registrations keep
working (throttling and the lock-out cache degrade, apps.core.cache), and a task that cannot be sent
is logged and left to a sweep: the AML sweep reads the ledger from its watermark, and a report run
that could not be queued stays `queued` until the reports sweeper sends it again once Redis is back.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from apps.aml import apps as aml_apps
from apps.aml import services as aml_services
from apps.aml.models import AmlAlert
from apps.core import clock
from apps.core.cache import DegradingRedisCache
from apps.games import crypto
from apps.games.models import Game, GameKind
from apps.games.seed import default_stake_limits, seed_demo_games
from apps.games.services import game_register, provider_key_set, session_open
from apps.ledger.checks import verify_ledger
from apps.ledger.selectors import wallet_balances
from apps.reports.models import ReportRun, RunStatus
from apps.reports.services import report_run_sweep_stale
from config.celery import app

pytestmark = pytest.mark.django_db(transaction=True)

DEAD = "redis://127.0.0.1:1/0"  # nothing listens on port 1
DEAD_CACHE = {
    "default": {
        "BACKEND": "apps.core.cache.DegradingRedisCache",
        "LOCATION": DEAD,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}
BROKER = os.environ.get("AML_TEST_BROKER_URL", "redis://127.0.0.1:6379/5")


def _use_broker(url: str) -> None:
    app.conf.broker_url = url
    app._pool = None
    app.__dict__.pop("amqp", None)


@pytest.fixture
def redis_down(monkeypatch, settings):
    """Cache and broker both unreachable; Celery sends for real (not eagerly), as production does."""
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager", "broker_connection_retry", "broker_connection_max_retries")}
    app.conf.task_always_eager = False
    _use_broker(DEAD)
    monkeypatch.setattr(aml_apps, "_skip_until", 0.0)
    DegradingRedisCache._last_logged = 0.0
    # Through pytest-django's `settings`, not a nested override_settings: another fixture of the test (private_media)
    # also overrides settings through it, and unwinding the two kinds out of order left the dead cache in place for
    # every later test of the session.
    settings.CACHES = DEAD_CACHE
    yield
    app.conf.update(saved)
    _use_broker(saved["broker_url"])


@pytest.fixture(autouse=True)
def shipped_aml_rules(db):
    from importlib import import_module

    from apps.aml.models import AmlRule

    for rule in import_module("apps.aml.migrations.0002_default_rules_and_schedules").RULES:
        AmlRule.objects.get_or_create(kind=rule["kind"], defaults=rule)


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def test_money_moves_and_auth_works_while_redis_is_down_and_the_aml_sweep_catches_up(make_player, redis_down, caplog, monkeypatch):
    # The dispatch failure is read off the logger call itself: caplog depends on the logging configuration that
    # earlier tests (a Celery worker's setup) may have changed.
    not_sent: list[str] = []
    monkeypatch.setattr(aml_apps.logger, "warning", lambda message, *args, **kwargs: not_sent.append(message % args))
    seed_demo_games()
    player = make_player()
    secret = "p" * 40
    provider, _ = provider_key_set(code="acme", secret=secret)
    game_register(slug="acme-slot", name="Acme", kind=GameKind.SLOTS, rtp="96.00", stake_limits=default_stake_limits(),
                  provider=provider, provider_game_code="acme_slot")
    session = session_open(player=player, game=Game.objects.get(slug="dice"))
    client = _client(player.user)
    with caplog.at_level(logging.WARNING):
        deposits = [client.post("/api/v1/wallet/deposits", {"amount": "10.00", "method": "sandbox"}, format="json",
                                HTTP_IDEMPOTENCY_KEY=f"down-{n}") for n in range(6)]
        round_ = client.post(f"/api/v1/game-sessions/{session.pk}/rounds", {"stake": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="down-r")
        raw = json.dumps({"player_id": str(player.public_id), "round_id": "r1", "transaction_id": "t1", "amount": "2.00",
                          "currency": "EUR"}).encode()
        signature = crypto.hmac_hex(secret, raw)
        bet = APIClient().post("/api/v1/providers/acme/bet", raw, content_type="application/json", HTTP_X_SIGNATURE=signature)
        registered = APIClient().post("/api/v1/auth/register", {
            "email": "during-outage@example.com", "password": "A-strong-passphrase-42", "first_name": "Ada", "last_name": "L",
            "date_of_birth": "1990-01-01", "country": "DE", "currency": "EUR"}, format="json")
        login = APIClient().post("/api/v1/auth/token", {"email": player.user.email, "password": "A-strong-passphrase-42"}, format="json")
        refreshed = APIClient().post("/api/v1/auth/token/refresh", {"refresh": login.json().get("refresh")}, format="json")
    assert [d.status_code for d in deposits] == [201] * 6, [d.content for d in deposits]
    statuses = (round_.status_code, bet.status_code, registered.status_code, login.status_code, refreshed.status_code)
    assert statuses == (201, 200, 201, 200, 200)
    from decimal import Decimal

    expected = Decimal("60.00") - Decimal("1.00") - Decimal("2.00") + Decimal(round_.json()["payout"])
    assert wallet_balances(player=player).cash.amount == expected
    assert "Redis unreachable" in caplog.text  # the cache said so, once
    assert any("could not enqueue" in line for line in not_sent)  # and so did the task dispatch
    assert not AmlAlert.objects.exists()  # no real-time evaluation could run

    # Redis is back: the scheduled sweep reads the ledger from its watermark and finds the pattern.
    _use_broker(BROKER)
    result = aml_services.monitoring_sweep()
    assert result.alerts == 1 and AmlAlert.objects.get(player=player).rule == "deposit_velocity"
    assert verify_ledger().ok


def test_a_report_asked_for_while_the_broker_is_down_is_accepted_and_sent_again(staff_user, redis_down, monkeypatch, private_media):
    from apps.reports import services as report_services

    not_sent: list[str] = []
    monkeypatch.setattr(report_services.logger, "error", lambda message, *args, **kwargs: not_sent.append(message % args))
    officer = staff_user("compliance")
    response = _client(officer).post("/api/v1/staff/reports/runs", {"type": "ggr_daily", "period": "2026-11-01"}, format="json")
    assert response.status_code == 202, response.content
    run = ReportRun.objects.get(pk=response.json()["id"])
    assert run.status == RunStatus.QUEUED
    assert any("could not send report run" in line for line in not_sent)

    # Back up: the sweeper (every few minutes, on beat) sends every run left queued too long.
    app.conf.task_always_eager = True
    sent = report_run_sweep_stale(now=clock.now() + timedelta(minutes=30))
    assert sent == [] or all(r.pk != run.pk for r in sent)  # nothing was running: no new version
    assert ReportRun.objects.get(pk=run.pk).status == RunStatus.DONE
