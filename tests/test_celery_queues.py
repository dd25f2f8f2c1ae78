"""AML's near-real-time tasks have a queue of their own, and every worker the project starts consumes it.

Routing them to `aml` keeps a report run or the sweep from waiting behind an evaluation backlog on the default
queue; a worker started without `-Q ...,aml` would silently evaluate nothing until the sweep. So the route and
each worker command are checked together (a real worker taking from both: apps/aml/tests/test_celery_worker.py).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from django.conf import settings

from config.celery import app

ROOT = Path(__file__).resolve().parents[1]
AML_REAL_TIME = ("apps.aml.tasks.evaluate_transactions", "apps.aml.tasks.evaluate_transaction")
ON_THE_DEFAULT_QUEUE = ("apps.aml.tasks.monitoring_sweep", "apps.reports.tasks.execute_report_run", "apps.reports.tasks.scheduled_report")


def _queue(task_name: str) -> str:
    """Where the app (configured from the settings, as every process is) sends the task."""
    return app.amqp.Router().route({}, task_name)["queue"].name


def test_aml_real_time_tasks_are_routed_to_the_aml_queue_and_reports_and_the_sweep_stay_on_the_default():
    assert {name: _queue(name) for name in AML_REAL_TIME} == dict.fromkeys(AML_REAL_TIME, "aml")
    assert settings.CELERY_TASK_DEFAULT_QUEUE == "celery"
    assert {name: _queue(name) for name in ON_THE_DEFAULT_QUEUE} == dict.fromkeys(ON_THE_DEFAULT_QUEUE, "celery")


def _consumed_queues(command: str) -> set[str]:
    words = shlex.split(command)
    assert words[words.index("-A") + 1 :][:2] == ["config", "worker"], command
    queues: set[str] = set()
    for flag, value in zip(words, [*words[1:], ""], strict=True):
        if flag in ("-Q", "--queues"):
            queues |= set(value.split(","))
        elif flag.startswith("--queues="):
            queues |= set(flag.split("=", 1)[1].split(","))
    return queues


def _worker_commands() -> dict[str, str]:
    commands = {}
    for procfile in ("Procfile", "Procfile.dev"):
        [line] = [line for line in (ROOT / procfile).read_text().splitlines() if line.startswith("worker:")]
        commands[procfile] = line.split(":", 1)[1]
    make_worker = re.search(r"^worker:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    commands["Makefile (make worker)"] = make_worker.group(1).replace("$(VENV)/bin/", "")
    return commands


@pytest.mark.parametrize("where", ["Procfile", "Procfile.dev", "Makefile (make worker)"])
def test_every_worker_command_consumes_the_default_queue_and_every_routed_one(where):
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed == {"aml"}
    assert _consumed_queues(_worker_commands()[where]) >= {settings.CELERY_TASK_DEFAULT_QUEUE, *routed}
