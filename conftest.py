"""Fixtures shared by every app's tests."""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from pytest_django import fixtures as pytest_django_fixtures
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from apps.core.money import Money

# CI must be reproducible: the same examples every run (a failure there prints its blob to replay).
# Locally, hypothesis keeps exploring new examples each run.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

_counter = itertools.count(1)


def pytest_collection_modifyitems(config, items):
    """Tests marked slow (tens of seconds each) run first, in their collected order: `make test` hands tests to two
    xdist workers as they free up, and one of these picked up last would keep a worker busy after the other is done."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@contextlib.contextmanager
def _locked(path: Path):
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _needs_serialized_rollback(items) -> bool:
    for item in items:
        marker = item.get_closest_marker("django_db")
        if (marker and marker.kwargs.get("serialized_rollback")) or "django_db_serialized_rollback" in getattr(item, "fixturenames", ()):
            return True
    return False


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_use_migrations, django_db_keepdb,
                    django_db_createdb, django_db_modify_db_settings, tmp_path_factory):
    """The test database, as pytest-django makes it; under pytest-xdist (`make test`), migrated once and cloned per worker.

    Each xdist worker has its own database (pytest-django's _gw0/_gw1 suffix). Migrating each from nothing costs
    every worker the same half-minute of CPU at once; instead the first worker migrates the unsuffixed test
    database and every worker (the first one too) copies it with CREATE DATABASE ... TEMPLATE, one at a time under
    a file lock in the run's shared temporary directory; the last to copy drops the template. Outside xdist, or with
    --reuse-db, --no-migrations or a serialized-rollback test, this is pytest-django's own fixture, unchanged.
    """
    from django.db import connections
    from django.test.utils import setup_databases

    worker = getattr(request.config, "workerinput", {}).get("workerid")
    if not worker or django_db_keepdb or not django_db_use_migrations or _needs_serialized_rollback(request.session.items):
        yield from pytest_django_fixtures.django_db_setup.__wrapped__(
            request=request, django_test_environment=django_test_environment, django_db_blocker=django_db_blocker,
            django_db_use_migrations=django_db_use_migrations, django_db_keepdb=django_db_keepdb,
            django_db_createdb=django_db_createdb, django_db_modify_db_settings=django_db_modify_db_settings)
        return

    verbosity = request.config.option.verbose
    connection = connections["default"]
    original_name = connection.settings_dict["NAME"]
    own = connection.settings_dict["TEST"]["NAME"]  # with pytest-django's xdist suffix
    template = own.removesuffix(f"_{worker}")
    shared = tmp_path_factory.getbasetemp().parent  # this run's directory, the same for every worker
    state_file = shared / "django-test-db.json"
    with django_db_blocker.unblock(), _locked(shared / "django-test-db.lock"):
        state = json.loads(state_file.read_text()) if state_file.exists() else {"built": False, "cloned": 0}
        if not state["built"]:  # the first worker here; or a worker xdist restarted after the template was dropped
            connection.settings_dict["TEST"]["NAME"] = template
            setup_databases(verbosity=verbosity, interactive=False, aliases={"default"}, serialized_aliases=set())
            state["built"] = True
        else:
            connection.settings_dict["NAME"] = template
        connection.creation.clone_test_db(suffix=worker, verbosity=verbosity, autoclobber=True)  # closes its connections first
        connection.creation.setup_worker_connection(worker)  # NAME is now the clone's: `own`
        connection.settings_dict["TEST"]["NAME"] = own
        state["cloned"] += 1
        if state["cloned"] >= request.config.workerinput["workercount"]:
            with connection.creation._nodb_cursor() as cursor:
                cursor.execute(f"DROP DATABASE {connection.ops.quote_name(template)}")
            state["built"] = False
        state_file.write_text(json.dumps(state))
    assert connection.settings_dict["NAME"] == own
    yield
    with django_db_blocker.unblock():
        connection.creation.destroy_test_db(old_database_name=original_name, verbosity=verbosity)


FLUSH_TABLES_WITH_ROWS = """DO $flush$
DECLARE
  name text;
  has_rows boolean;
  with_rows text[] := ARRAY[]::text[];
BEGIN
  FOREACH name IN ARRAY ARRAY[{tables}]::text[] LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', name) INTO has_rows;
    IF has_rows THEN
      with_rows := with_rows || format('%I', name);
    END IF;
  END LOOP;
  IF cardinality(with_rows) > 0 THEN
    EXECUTE 'TRUNCATE ' || array_to_string(with_rows, ', ') || ' CASCADE';
  END IF;
END
$flush$"""


@pytest.fixture(scope="session", autouse=True)
def _flush_truncates_only_tables_with_rows():
    """A transactional test ends with Django's flush: one TRUNCATE of every table (80), then post_migrate.

    TRUNCATE gives each table a new file, about 0.7 s for all of them where the ~10 tables a test wrote take 0.1 s.
    Here the flush truncates only the tables that have a row, with CASCADE for the empty ones that reference them
    (PostgreSQL truncates those together, or refuses): the same empty tables after it as before, so the same tests.
    """
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or not tables:
            return original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        literals = ", ".join("'" + table.replace("'", "''") + "'" for table in sorted(tables))
        return [FLUSH_TABLES_WITH_ROWS.format(tables=literals)]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", sql_flush)
        yield


@pytest.fixture(autouse=True)
def _fresh_market_policies():
    """Market rules are cached per process; a test's rule change is rolled back, so its cache must go too."""
    from apps.markets.selectors import clear_policy_cache

    clear_policy_cache()
    yield
    clear_policy_cache()


@pytest.fixture(autouse=True)
def _settings_restored():
    """A test's settings overrides end with it: overrides unwound out of order once left a dead Redis cache in
    place for every later test (throttles off, the wallet fast path handing everything to Django)."""
    from django.conf import settings

    caches = settings.CACHES
    yield
    assert caches == settings.CACHES, "this test left CACHES overridden"


@pytest.fixture
def private_media(settings, tmp_path):
    """KYC documents land in a throw-away private directory for this test, never a developer's own."""
    root = tmp_path / "private-media"
    root.mkdir()
    settings.PRIVATE_MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(root)}},
    }
    return root


@pytest.fixture
def make_player(db):
    """Create a registered player through the real registration service (tests.factories.PlayerFactory)."""
    from tests.factories import PlayerFactory

    def make(**overrides):
        return PlayerFactory(**overrides)

    return make


@pytest.fixture
def player(make_player):
    return make_player()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def player_client(player):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(player.user).access_token}")
    client.player = player
    return client


def client_for(player) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(player.user).access_token}")
    client.player = player
    return client


@pytest.fixture
def fund():
    """Credit a player's cash through the ledger's deposit posting (no PSP, no limits)."""
    from apps.ledger.services import deposit_post

    def credit(player, amount: str, key: str | None = None):
        return deposit_post(
            player=player,
            amount=Money(Decimal(amount), player.currency),
            idempotency_key=key or f"test-fund:{player.pk}:{next(_counter)}",
            reference="test-fund",
        )

    return credit


@pytest.fixture
def synced_roles(db):
    """The staff groups exactly as production has them: the real role sync over every app's roles.py.

    A flushed test database (transactional tests) loses the groups that post_migrate made; syncing
    here means a test never hand-copies permissions and so never tests a role production lacks.
    """
    from apps.core.role_sync import sync_role_permissions

    sync_role_permissions()


@pytest.fixture
def staff_user(synced_roles):
    from apps.players.models import User

    def make(group: str | None = None, *, superuser: bool = False, email: str | None = None):
        from django.contrib.auth.models import Group

        email = email or f"{group or 'admin'}-{next(_counter)}@casino.test"
        if superuser:
            return User.objects.create_superuser(email=email, password="Staff-passphrase-42")
        user = User.objects.create_user(email=email, password="Staff-passphrase-42", is_staff=True)
        if group:
            user.groups.add(Group.objects.get(name=group))
        return user

    return make
