"""Browser tests: pytest + Playwright for Python driving Debian's chromium against a live server.

- The browser is Debian's `chromium` at /usr/bin/chromium (CHROMIUM_PATH to override), installed by
  scripts/install-browser.sh, which `make test` runs first. Never `playwright install`: it downloads a
  browser build from outside the package registries.
- The server is pytest-django's `live_server` (a threaded WSGI server on the test database). It makes
  every browser test transactional: the database is flushed after each test, so each test creates its
  own data, and the staff groups come from the real role sync (the `synced_roles` fixture), never by hand.
- Django's async-unsafe check: Playwright's sync API keeps an asyncio loop marked running in the test's
  thread while a browser is open, so the ORM there (fixtures creating users, assertions reading rows)
  would raise SynchronousOnlyOperation. DJANGO_ALLOW_ASYNC_UNSAFE is set only while a browser is open
  (module scope) and only in this process: no ORM call here ever runs concurrently with the event loop,
  it merely shares the thread. The live server answers from its own threads, which have no loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
STAFF_PASSWORD = "Staff-passphrase-42"  # the root conftest's staff_user fixture sets it
VIEWPORT = {"width": 1440, "height": 900}


def launch_chromium(playwright):
    """The one way this project starts a browser (tests and scripts/screenshots.py)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: run scripts/install-browser.sh (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must run the browser tests, never skip them quietly
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = launch_chromium(playwright)
            yield chromium
            chromium.close()


@pytest.fixture(autouse=True)
def _no_socket_pushes_from_the_test_thread(settings):
    """Postings made by the test itself run their after-commit pushes in this thread, inside Playwright's
    loop, where async_to_sync cannot run; the live feed has its own tests (apps/backoffice/tests/test_realtime.py)."""
    settings.REALTIME_PUSH = False


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    context.close()


def admin_login(page, base_url: str, email: str, password: str = STAFF_PASSWORD):
    """Log in through the admin's own login form, as a person would; answers the response of the landing page."""
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("input[type=submit], button[type=submit]")
    return page


@pytest.fixture
def login_as(page, live_server, staff_user) -> Callable:
    """login_as("operator" | "compliance" | "support") → (page, user): a new staff user of that role, logged in."""

    def login(role: str):
        user = staff_user(role)
        admin_login(page, live_server.url, user.email)
        return page, user

    return login
