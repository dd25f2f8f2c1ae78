"""`make screenshots`: the back-office as a person sees it, saved as PNGs under docs/screenshots/.

Seeds the demo (manage.py migrate + seed_demo, as `make run` does) into its OWN throw-away SQLite file,
starts the project's ASGI dev server on it on a free local port, logs in as the demo operator (and compliance, for its queues) in Debian's
chromium (scripts/install-browser.sh; tests/browser/conftest.py launches it the same way) and saves:
the admin dashboard, a player's 360 view, each work queue (withdrawals, KYC, AML) and the Swagger UI.
Nothing of a developer's own db.sqlite3, PostgreSQL or Redis is touched; the server is stopped at the end.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--port 0]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import VIEWPORT, admin_login, launch_chromium  # noqa: E402

OPERATOR_EMAIL = "operator@casino.test"
COMPLIANCE_EMAIL = "compliance@casino.test"  # the KYC and AML queues as the role that works them
DEMO_PLAYER_EMAIL = "anna.schmidt@demo.casino.test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _demo_env(workdir: Path) -> dict[str, str]:
    """The embedded demo's environment (SQLite, eager Celery, in-memory layers) on this run's own files."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "AML_EVENTS_REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        SQLITE_PATH=str(workdir / "screenshots.sqlite3"),
        PRIVATE_MEDIA_ROOT=str(workdir / "private-media"),
        DJANGO_DEBUG="1",  # as `make run`: seed_demo refuses to create its known passwords otherwise
        LOG_LEVEL="WARNING",
        DEMO_OPERATOR_PASSWORD=env.get("DEMO_OPERATOR_PASSWORD", "Demo-operator-2024!"),
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _wait_until_up(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"The server exited with {server.returncode}.")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"The server did not answer on {url} within {seconds:.0f} s.")


def _demo_player_path(env: dict[str, str]) -> str:
    code = (
        "from apps.players.models import Player;"
        f"print(Player.objects.get(user__email={DEMO_PLAYER_EMAIL!r}).pk)"
    )
    player_id = int(_manage(env, "shell", "--no-imports", "-c", code).strip().splitlines()[-1])
    return f"/admin/players/player/{player_id}/change/"


def _shoot(page, url: str, path: Path, wait_for: str | None = None) -> None:
    response = page.goto(url, wait_until="networkidle")
    if response is None or response.status >= 400:
        raise SystemExit(f"{url} answered {response.status if response else 'nothing'}")
    if page.url != url:  # e.g. the admin sends an unknown object's page back to its index
        raise SystemExit(f"{url} ended on {page.url}")
    if wait_for:
        page.wait_for_selector(wait_for)
    page.screenshot(path=str(path), full_page=False)
    print(f"  {path.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--port", type=int, default=0, help="0: any free local port")
    options = parser.parse_args()
    out = Path(options.out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="casino-screenshots-") as tmp:
        workdir = Path(tmp)
        env = _demo_env(workdir)
        print("Seeding the demo into its own SQLite database...")
        _manage(env, "migrate", "--noinput")
        _manage(env, "seed_demo")
        player_path = _demo_player_path(env)

        port = options.port or _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            _wait_until_up(base, server)
            from playwright.sync_api import sync_playwright

            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                context = browser.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="UTC")
                page = context.new_page()
                admin_login(page, base, OPERATOR_EMAIL, env["DEMO_OPERATOR_PASSWORD"])
                print(f"Saving screenshots under {out}:")
                _shoot(page, f"{base}/admin/", out / "01-dashboard.png")
                _shoot(page, f"{base}{player_path}", out / "02-player-360.png")
                _shoot(page, f"{base}/admin/payments/withdrawal/", out / "03-queue-withdrawals.png")
                # The demo operator is a superuser; compliance's queues are shown as compliance sees them.
                officer = browser.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="UTC").new_page()
                admin_login(officer, base, COMPLIANCE_EMAIL, env["DEMO_OPERATOR_PASSWORD"])
                _shoot(officer, f"{base}/admin/kyc/kyccase/", out / "04-queue-kyc.png")
                _shoot(officer, f"{base}/admin/aml/amlalert/", out / "05-queue-aml.png")
                _shoot(page, f"{base}/api/docs/", out / "06-swagger-ui.png", wait_for=".swagger-ui .opblock")
                browser.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
