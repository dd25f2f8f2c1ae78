# Two commands matter: `make run` (demo on SQLite, eager Celery) and `make test` (PostgreSQL + Redis).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/casino
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
PYTEST_ARGS ?=
# `make test` runs pytest in this many pytest-xdist workers (this project's machines have 2 cores); 0: one process
PYTEST_WORKERS ?= 2

.PHONY: venv run test fuzz soak loadtest lint fmt bench bench-reports rng-report services browser screenshots migrate seed worker beat clean

$(STAMP): requirements/base.txt requirements/dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	@touch $(STAMP)

venv: $(STAMP)

migrate: venv
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

## make run: everything on a fresh machine, then serve admin + API + WebSockets (/ws/) on 127.0.0.1:8000
## (runserver is daphne's ASGI server: config/settings/local.py puts daphne first in INSTALLED_APPS)
## With CELERY_BROKER_URL set, a Celery worker and beat start next to it (Procfile.dev, honcho), so AML
## alerts appear as they would in production; without it, tasks run eagerly in-process.
run: seed
	@if [ -n "$$CELERY_BROKER_URL" ]; then \
		$(VENV)/bin/honcho -f Procfile.dev start; \
	else \
		$(PY) manage.py runserver 127.0.0.1:8000; \
	fi

services:
	@bash scripts/services-up.sh

## Debian's chromium for the browser tests and screenshots (apt-get, only when /usr/bin/chromium is missing)
browser:
	@bash scripts/install-browser.sh

## make test: lint, migration check and the whole suite against PostgreSQL + Redis, browser tests included, in
## PYTEST_WORKERS pytest-xdist workers (each its own test database; tests marked xdist_group share one worker)
test: venv services browser
	$(VENV)/bin/ruff check .
	DJANGO_SETTINGS_MODULE=config.settings.test DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(PY) manage.py makemigrations --check --dry-run
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

## make fuzz: schemathesis against a live server (own database, a few minutes at most); fails on any
## undocumented status, schema violation or server error
FUZZ_MAX_TIME ?= 300
fuzz: venv services
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) scripts/fuzz.py --max-time $(FUZZ_MAX_TIME)

## make soak: a few minutes of mixed load on the Procfile's web and worker processes with production settings
## (own database, dropped after): players, providers, officers, the AML sweep and reports; then verify_ledger,
## every idempotent replay, report-to-ledger reconciliation and flat web memory. Non-zero exit on any failure.
SOAK_DURATION ?= 150
SOAK_REDIS_URL ?= redis://127.0.0.1:6379/7
soak: venv services
	DATABASE_URL=$(TEST_DATABASE_URL) SOAK_REDIS_URL=$(SOAK_REDIS_URL) $(PY) scripts/soak.py --duration $(SOAK_DURATION)

## make loadtest: GET /api/v1/wallet on gunicorn with production settings; req/s, p95, max DB connections
loadtest: venv services
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) scripts/load_wallet.py --server gunicorn

lint: venv
	$(VENV)/bin/ruff check .

fmt: venv
	$(VENV)/bin/ruff check --fix .

## make bench: ledger postings/s through the service layer vs pgbench TPC-B on the same server, then HTTP
## (round, caleta_bet, wallet, trivial) on the Procfile's web server; verify_ledger after each; AML rules;
## player search on 100,000 players (goal < 2 s, bench/players_search.py); bench/results/latest.json
bench: venv services
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) scripts/bench.py
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) scripts/bench_aml.py
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/players_search.py

## make bench-reports: the daily CJD and ledger journal over 1,000,000 ledger entries: rows/s and peak RSS
bench-reports: venv services
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) scripts/bench_reports.py

## make rng-report: chi-square and KS over 1,000,000 provably fair floats, and each in-house game's simulated RTP
rng-report: venv
	$(PY) scripts/rng_report.py

## make screenshots: the demo seeded into its own SQLite file, served, and photographed into docs/screenshots/
screenshots: venv browser
	$(PY) scripts/screenshots.py

## make worker: the default queue and AML's real-time one (CELERY_TASK_ROUTES), as the Procfile's worker
worker: venv
	$(VENV)/bin/celery -A config worker -l info -Q celery,aml

beat: venv
	$(VENV)/bin/celery -A config beat -l info

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .test-private-media
