"""Demo data for `make run`: staff logins for each role and a dozen funded players. Safe to run again.

Everything is looked up before it is created, and each demo deposit carries a fixed idempotency
key, so a second run changes nothing and moves no money.
"""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.core.money import Money
from apps.ledger.services import deposit_post
from apps.players.models import Player, User
from apps.players.roles import sync_role_permissions
from apps.players.services import player_register

DEFAULT_STAFF_PASSWORD = "Demo-operator-2024!"
DEFAULT_PLAYER_PASSWORD = "Demo-player-2024!"

STAFF = (
    # (email, group, superuser)
    ("operator@casino.test", "operator", True),
    ("compliance@casino.test", "compliance", False),
    ("support@casino.test", "support", False),
)

# (email local part, first name, last name, country, currency, date of birth, demo deposit)
PLAYERS = (
    ("anna.schmidt", "Anna", "Schmidt", "DE", "EUR", date(1988, 4, 12), "250.00"),
    ("lukas.weber", "Lukas", "Weber", "AT", "EUR", date(1992, 9, 3), "100.00"),
    ("sofia.rossi", "Sofia", "Rossi", "IT", "EUR", date(1979, 1, 25), "500.00"),
    ("javier.garcia", "Javier", "García", "ES", "EUR", date(1995, 6, 30), "75.50"),
    ("ines.costa", "Inês", "Costa", "PT", "EUR", date(2001, 11, 8), "40.00"),
    ("aoife.murphy", "Aoife", "Murphy", "IE", "EUR", date(1985, 3, 17), "300.00"),
    ("mikko.virtanen", "Mikko", "Virtanen", "FI", "EUR", date(1990, 12, 1), "150.00"),
    ("sophie.peeters", "Sophie", "Peeters", "BE", "EUR", date(1983, 7, 21), "60.00"),
    ("erik.lindqvist", "Erik", "Lindqvist", "SE", "SEK", date(1987, 2, 14), "1500.00"),
    ("maja.andersson", "Maja", "Andersson", "SE", "SEK", date(1999, 5, 5), "800.00"),
    ("joseph.borg", "Joseph", "Borg", "MT", "GBP", date(1976, 10, 10), "200.00"),
    ("ola.nordmann", "Ola", "Nordmann", "NO", "NOK", date(1993, 8, 19), "1000.00"),
)
PLAYER_EMAIL_DOMAIN = "demo.casino.test"


class Command(BaseCommand):
    help = "Create demo staff (operator, compliance, support) and a dozen funded demo players. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-production", action="store_true",
            help="Run even with DEBUG off (it creates a superuser with a known password).",
        )

    def handle(self, *args, allow_production: bool = False, **options):
        if not settings.DEBUG and not allow_production:
            raise CommandError("seed_demo creates logins with known passwords; refusing with DEBUG off (use --allow-production).")
        staff_password = os.environ.get("DEMO_OPERATOR_PASSWORD") or DEFAULT_STAFF_PASSWORD
        player_password = os.environ.get("DEMO_PLAYER_PASSWORD") or DEFAULT_PLAYER_PASSWORD

        sync_role_permissions()  # the groups exist even if migrate ran without post_migrate
        with transaction.atomic():
            for email, group, superuser in STAFF:
                self._staff(email=email, group=group, superuser=superuser, password=staff_password)
        created = funded = 0
        for local, first, last, country, currency, born, amount in PLAYERS:
            player, was_created = self._player(
                email=f"{local}@{PLAYER_EMAIL_DOMAIN}", first_name=first, last_name=last, country=country,
                currency=currency, date_of_birth=born, password=player_password,
            )
            created += was_created
            txn = deposit_post(
                player=player,
                amount=Money(Decimal(amount), currency),
                idempotency_key=f"seed-demo:deposit:{player.user.email}",
                reference="seed-demo",
            )
            funded += not getattr(txn, "replayed", False)
        games = self._games()
        self._report(staff_password=staff_password, player_password=player_password, created=created, funded=funded, games=games)

    def _staff(self, *, email: str, group: str, superuser: bool, password: str) -> User:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User(email=email)
        user.is_staff = True
        user.is_superuser = superuser
        user.is_active = True
        # The printed credentials must work, even if someone changed the demo password.
        if not user.has_usable_password() or not user.check_password(password):
            user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get(name=group))
        return user

    def _player(self, *, email: str, password: str, **fields) -> tuple[Player, bool]:
        existing = Player.objects.select_related("user").filter(user__email__iexact=email).first()
        if existing is not None:
            return existing, False
        return player_register(email=email, password=password, signup_device="PC", **fields), True

    def _games(self) -> str:
        """Games arrive in a later issue; its seed hooks in here when it exists."""
        try:
            from apps.games.seed import seed_demo_games  # type: ignore[import-not-found]
        except ImportError:
            return "none yet"
        return str(seed_demo_games())

    def _report(self, *, staff_password: str, player_password: str, created: int, funded: int, games: str) -> None:
        base_url = os.environ.get("DEMO_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
        out = self.stdout
        out.write(self.style.SUCCESS("Demo data ready."))
        out.write(f"  Admin:     {base_url}/admin/")
        for email, group, superuser in STAFF:
            role = f"{group}{' (superuser)' if superuser else ''}"
            out.write(f"  {role:<22} {email:<26} password: {staff_password}")
        out.write(f"  API docs:  {base_url}/api/docs/")
        out.write(
            f"  Players:   {len(PLAYERS)} ({created} new, {funded} deposits made), e.g. "
            f"{PLAYERS[0][0]}@{PLAYER_EMAIL_DOMAIN} password: {player_password}"
        )
        out.write(f"  Games:     {games}")
