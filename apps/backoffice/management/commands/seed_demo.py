"""Demo data for `make run`: staff logins for each role and a dozen players with a history to work on.

Everything goes through the apps' services, as a player or an officer would, so the admin shows the
same rows, history and ledger postings real use produces: deposits, a few game rounds, KYC cases in
each queue state, withdrawals at each step, a deposit limit, a time-out and a self-exclusion.

Safe to run again: money steps carry fixed idempotency keys (a replay posts nothing), and every
state change first looks where the case, withdrawal or protection stands and only moves it forward
along the demo's path. Whatever a demo user changed by hand (a case rejected, a withdrawal paid) is
left as it is.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.backoffice.demo_documents import specimen_passport_pdf
from apps.core import clock
from apps.core.money import Money
from apps.core.role_sync import sync_role_permissions
from apps.games.services import stake_place
from apps.kyc import selectors as kyc_selectors
from apps.kyc import services as kyc_services
from apps.kyc.models import DocumentKind, DocumentStatus, KycState
from apps.ledger import services as ledger_services
from apps.ledger.models import LedgerTransaction
from apps.limits import selectors as limits_selectors
from apps.limits import services as limits_services
from apps.limits.models import LimitKind, LimitPeriod
from apps.markets import selectors as markets_selectors
from apps.payments import selectors as payments_selectors
from apps.payments import services as payments_services
from apps.payments.models import Deposit, DepositMethod, Withdrawal, WithdrawalStatus
from apps.players import services as players_services
from apps.players.models import Player, PlayerNote, Tag, User
from apps.players.services import player_register

DEFAULT_STAFF_PASSWORD = "Demo-operator-2024!"
DEFAULT_PLAYER_PASSWORD = "Demo-player-2024!"

STAFF = (
    # (email, group, superuser)
    ("operator@casino.test", "operator", True),
    ("compliance@casino.test", "compliance", False),
    ("support@casino.test", "support", False),
)
OPERATOR_EMAIL, COMPLIANCE_EMAIL = STAFF[0][0], STAFF[1][0]

# (email local part, first name, last name, country, currency, date of birth, demo deposit or None)
# Every deposit stays under the markets' due-diligence threshold (2000 EUR), so none waits for KYC.
# The country decides the market: GB → ukgc (verification before deposit, no reverse withdrawals, slot
# caps: oliver is verified first, chloe, 21 and unverified, cannot deposit yet), ES → dgoj (mandatory
# deposit limits from registration), the others → the default licence.
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
    ("oliver.smith", "Oliver", "Smith", "GB", "GBP", date(1984, 2, 9), "120.00"),
    ("chloe.evans", "Chloe", "Evans", "GB", "GBP", date(2005, 3, 3), None),
    ("lucia.fernandez", "Lucía", "Fernández", "ES", "EUR", date(1991, 10, 2), "50.00"),
)
PLAYER_EMAIL_DOMAIN = "demo.casino.test"
API_DEMO_PLAYER = PLAYERS[0][0]  # KYC approved, active, with a withdrawal in the queue

# Game rounds (stake, win; "0.00" = lost). Player n plays the first 3 + n % 3 of them, in their own currency.
ROUNDS = (("2.00", "0.00"), ("5.00", "12.50"), ("1.00", "0.00"), ("10.00", "4.00"), ("2.50", "0.00"))

# Where each player's KYC case ends up; players not named here never upload anything.
KYC_TARGETS = {
    "anna.schmidt": KycState.APPROVED,
    "sofia.rossi": KycState.APPROVED,
    "aoife.murphy": KycState.APPROVED,
    "erik.lindqvist": KycState.APPROVED,
    "oliver.smith": KycState.APPROVED,  # ukgc: verified before the first deposit
    "javier.garcia": KycState.SUBMITTED,
    "maja.andersson": KycState.SUBMITTED,
    "mikko.virtanen": KycState.MORE_INFO_REQUIRED,
}
MORE_INFO_NOTE = "The passport photo page is cut off at the bottom. Please upload a scan of the whole page."

# (player, amount, where the withdrawal ends up); all of them KYC approved above.
WITHDRAWALS = (
    ("anna.schmidt", "50.00", WithdrawalStatus.REQUESTED),
    ("aoife.murphy", "80.00", WithdrawalStatus.REQUESTED),
    ("erik.lindqvist", "400.00", WithdrawalStatus.APPROVED),
    ("sofia.rossi", "120.00", WithdrawalStatus.PAID),
)

# Responsible gaming, applied after the player's money steps (an excluded player could not deposit or play).
DEPOSIT_LIMIT = ("lukas.weber", LimitPeriod.WEEK, "200.00")
TIMEOUT = ("ines.costa", 48)
SELF_EXCLUSION = ("sophie.peeters", 6)

PASSPORT_VALID_DAYS = 4 * 365

# Phone numbers staff can search by ("+49 170 555 0001", "01705550001" and "5550001" all find Anna).
DIALLING_CODES = {"DE": 49, "AT": 43, "IT": 39, "ES": 34, "PT": 351, "IE": 353, "FI": 358, "BE": 32, "SE": 46, "MT": 356, "NO": 47,
                  "GB": 44}
# Tags and internal notes as operators leave them: (player, tag, why).
TAGS = (
    ("anna.schmidt", "VIP", "Demo: high deposits, account manager assigned."),
    ("sophie.peeters", "Problem gambling", "Demo: self-excluded after a safer-gambling conversation."),
)
NOTES = (
    ("anna.schmidt", "Demo: called about her pending withdrawal; told her it is reviewed within 24 hours."),
)


def demo_phone(index: int, country: str) -> str:
    return f"+{DIALLING_CODES.get(country, 1)} 170 555 {index + 1:04d}"


def demo_passport(player: Player, expires: date) -> bytes:
    return specimen_passport_pdf(
        surname=player.user.last_name, given_names=player.user.first_name, nationality=player.country,
        born=player.date_of_birth, number=f"DEMO{player.pk:06d}", expires=expires,
    )


def player_email(local: str) -> str:
    return f"{local}@{PLAYER_EMAIL_DOMAIN}"


def rounds_for(index: int) -> tuple[tuple[str, str], ...]:
    return ROUNDS[: 3 + index % 3]


def _key(*parts: object) -> str:
    return ":".join(("seed-demo", *map(str, parts)))


class Command(BaseCommand):
    help = "Create demo staff (operator, compliance, support) and a dozen demo players with payments, KYC and play history. Idempotent."

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
        self.done: Counter[str] = Counter()  # what this run changed; all zero on a second run
        ledger_before = LedgerTransaction.objects.count()

        sync_role_permissions()  # the groups exist even if migrate ran without post_migrate
        with transaction.atomic():
            staff = {
                email: self._staff(email=email, group=group, superuser=superuser, password=staff_password)
                for email, group, superuser in STAFF
            }
        operator, officer = staff[OPERATOR_EMAIL], staff[COMPLIANCE_EMAIL]

        players: dict[str, Player] = {}
        for index, (local, first, last, country, currency, born, amount) in enumerate(PLAYERS):
            player, was_created = self._player(
                email=player_email(local), first_name=first, last_name=last, country=country,
                currency=currency, date_of_birth=born, password=player_password, phone=demo_phone(index, country),
            )
            self.done["players"] += was_created
            players[local] = player
            if local in KYC_TARGETS and markets_selectors.policy_for(player).verification_before_play:
                self._kyc(player=player, target=KYC_TARGETS[local], officer=officer)
            if amount is None:
                continue  # shows a market's refusal: this player has not been verified yet
            self._deposit(player=player, local=local, amount=Money(Decimal(amount), currency))
            self._play(player=player, local=local, rounds=rounds_for(index))
        for local, target in KYC_TARGETS.items():
            self._kyc(player=players[local], target=target, officer=officer)
        for local, amount, target in WITHDRAWALS:
            player = players[local]
            self._withdrawal(player=player, local=local, amount=Money(Decimal(amount), player.currency), target=target, operator=operator)
        self._responsible_gaming(players)
        self._tags_and_notes(players, operator=operator)

        games = self._games()
        self._report(
            staff_password=staff_password, player_password=player_password, games=games,
            ledger_posted=LedgerTransaction.objects.count() - ledger_before,
        )

    # --- people ---

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
            if not existing.phone and fields.get("phone"):  # seeded before the demo had phone numbers
                existing = players_services.player_update_identity(
                    player=existing, actor=None, reason="demo: phone number", phone=fields["phone"]
                )
            return existing, False
        return player_register(email=email, password=password, signup_device="PC", **fields), True

    def _tags_and_notes(self, players: dict[str, Player], *, operator: User) -> None:
        for local, tag_name, reason in TAGS:
            tag = Tag.objects.filter(name=tag_name).first() or players_services.tag_create(name=tag_name, actor=operator)
            if not players[local].player_tags.filter(tag=tag).exists():
                players_services.player_tag_add(player=players[local], tag=tag, actor=operator, reason=reason)
                self.done["tags"] += 1
        for local, text in NOTES:
            if not PlayerNote.objects.filter(player=players[local], text=text).exists():
                players_services.player_note_add(player=players[local], author=operator, text=text)
                self.done["notes"] += 1

    # --- money ---

    def _deposit(self, *, player: Player, local: str, amount: Money) -> None:
        key = _key("deposit", local)
        if Deposit.objects.filter(player_id=player.pk, idempotency_key=key).exists():
            return
        # Databases seeded before deposits went through payments were funded straight on the ledger.
        if LedgerTransaction.objects.filter(idempotency_key=_key("deposit", player.user.email)).exists():
            return
        payments_services.deposit_create(player=player, amount=amount, method=DepositMethod.SANDBOX, idempotency_key=key)
        self.done["deposits"] += 1

    def _play(self, *, player: Player, local: str, rounds: tuple[tuple[str, str], ...]) -> None:
        for number, (stake, win) in enumerate(rounds, start=1):
            reference = _key("round", local, number)
            bet = stake_place(
                player=player, amount=Money(Decimal(stake), player.currency),
                idempotency_key=_key("bet", local, number), reference=reference, metadata={"game": "demo-slot"},
            )
            self.done["bets"] += not getattr(bet, "replayed", False)
            if Decimal(win) > 0:
                paid = ledger_services.win_post(
                    player=player, amount=Money(Decimal(win), player.currency),
                    idempotency_key=_key("win", local, number), reference=reference, metadata={"game": "demo-slot"},
                )
                self.done["wins"] += not getattr(paid, "replayed", False)

    def _withdrawal(self, *, player: Player, local: str, amount: Money, target: str, operator: User) -> None:
        """Request, then approve and pay as far as the target; a step already taken is not taken again."""
        key = _key("withdrawal", local)
        withdrawal = Withdrawal.objects.filter(player_id=player.pk, idempotency_key=key).first()
        if withdrawal is None:
            withdrawal = payments_services.withdrawal_request(player=player, amount=amount, idempotency_key=key)
            self.done["withdrawal steps"] += 1
        if target in (WithdrawalStatus.APPROVED, WithdrawalStatus.PAID) and withdrawal.status == WithdrawalStatus.REQUESTED:
            withdrawal = payments_services.withdrawal_approve(withdrawal=withdrawal, actor=operator, note="Demo: account checks passed.")
            self.done["withdrawal steps"] += 1
        if target == WithdrawalStatus.PAID and withdrawal.status == WithdrawalStatus.APPROVED:
            payments_services.withdrawal_mark_paid(withdrawal=withdrawal, actor=operator, psp_reference=_key("payout", local))
            self.done["withdrawal steps"] += 1

    # --- KYC ---

    def _kyc(self, *, player: Player, target: str, officer: User) -> None:
        """Upload and submit as the player, then review as compliance, as far as the target state.

        Only a case still on the demo's path (none, submitted, in review) is moved; one that already
        reached the target, or that a demo user decided otherwise, is left alone.
        """
        case = kyc_selectors.kyc_case_for_player(player=player)
        state = case.state if case is not None else KycState.NONE
        if state == target or state not in (KycState.NONE, KycState.SUBMITTED, KycState.IN_REVIEW):
            return
        if state == KycState.IN_REVIEW and target == KycState.SUBMITTED:
            return  # someone already took it from the queue
        if state == KycState.NONE:
            unsubmitted = kyc_selectors.kyc_documents(case=case).filter(submitted_at__isnull=True, status=DocumentStatus.PENDING)
            if not unsubmitted.exists():  # an earlier run may have stopped between upload and submit
                expires_on = clock.now().date() + timedelta(days=PASSPORT_VALID_DAYS)
                kyc_services.kyc_document_upload(
                    player=player,
                    kind=DocumentKind.PASSPORT,
                    uploaded_file=SimpleUploadedFile("passport.pdf", demo_passport(player, expires_on), content_type="application/pdf"),
                    expires_on=expires_on,
                )
            case = kyc_services.kyc_submit(player=player)
            self.done["kyc steps"] += 1
        if target == KycState.SUBMITTED:
            return
        if case.state == KycState.SUBMITTED:
            case = kyc_services.kyc_start_review(case=case, officer=officer)
            self.done["kyc steps"] += 1
        if target == KycState.APPROVED:
            kyc_services.kyc_approve(case=case, officer=officer, note="Demo: passport checked.", id_document_number=f"DEMO{player.pk:06d}")
        else:
            kyc_services.kyc_request_more_info(case=case, officer=officer, note=MORE_INFO_NOTE)
        self.done["kyc steps"] += 1

    # --- responsible gaming ---

    def _responsible_gaming(self, players: dict[str, Player]) -> None:
        """Each only if not already in force: a time-out or exclusion cannot be started twice, nor shortened."""
        local, period, amount = DEPOSIT_LIMIT
        player = players[local]
        in_force = limits_selectors.player_limits(player=player)
        if not any(limit.kind == LimitKind.DEPOSIT and limit.period == period for limit in in_force):
            limits_services.limit_set(player=player, kind=LimitKind.DEPOSIT, period=period, amount=Money(Decimal(amount), player.currency))
            self.done["protections"] += 1

        local, hours = TIMEOUT
        player = players[local]
        if limits_selectors.protection_overview(player=player).timeout_until is None:
            limits_services.timeout_start(player=player, hours=hours)
            self.done["protections"] += 1

        local, months = SELF_EXCLUSION
        player = players[local]
        if limits_selectors.protection_overview(player=player).self_excluded_from is None:
            limits_services.self_exclusion_start(player=player, months=months)
            self.done["protections"] += 1

    # --- the rest ---

    def _games(self) -> str:
        """Games arrive in a later issue; its seed hooks in here when it exists."""
        try:
            from apps.games.seed import seed_demo_games  # type: ignore[import-not-found]
        except ImportError:
            return "none yet"
        return str(seed_demo_games())

    def _report(self, *, staff_password: str, player_password: str, games: str, ledger_posted: int) -> None:
        base_url = os.environ.get("DEMO_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
        done = self.done
        demo_players = Player.objects.filter(user__email__endswith=f"@{PLAYER_EMAIL_DOMAIN}")
        kyc_states = Counter(kyc_selectors.kyc_status(player=p) for p in demo_players)
        withdrawals = Counter(Withdrawal.objects.values_list("status", flat=True))
        changed = ledger_posted or sum(done.values())
        out = self.stdout
        out.write(self.style.SUCCESS("Demo data ready." if changed else "Demo data ready (already there, nothing changed)."))
        out.write(f"  Admin:     {base_url}/admin/")
        for email, group, superuser in STAFF:
            role = f"{group}{' (superuser)' if superuser else ''}"
            out.write(f"  {role:<22} {email:<26} password: {staff_password}")
        out.write(f"  API docs:  {base_url}/api/docs/")
        out.write(f"  API login: POST {base_url}/api/v1/auth/token  email: {player_email(API_DEMO_PLAYER)}  password: {player_password}")
        out.write("")
        out.write(
            f"  Players:   {len(PLAYERS)} ({done['players']} new, {done['deposits']} deposits made), "
            f"*@{PLAYER_EMAIL_DOMAIN}, all with password {player_password}"
        )
        markets = Counter(demo_players.values_list("market", flat=True))
        out.write(f"  Markets:   {', '.join(f'{code}: {count}' for code, count in sorted(markets.items()))} players")
        out.write(f"  Play:      {done['bets']} bets and {done['wins']} wins posted; {ledger_posted} ledger transactions this run")
        out.write(
            f"  KYC:       {kyc_states[KycState.APPROVED]} approved, {kyc_states[KycState.SUBMITTED]} submitted, "
            f"{kyc_states[KycState.MORE_INFO_REQUIRED]} more info required; "
            f"{kyc_selectors.kyc_review_queue().count()} in the compliance review queue ({done['kyc steps']} steps taken)"
        )
        out.write(
            f"  Withdrawals: {withdrawals[WithdrawalStatus.REQUESTED]} requested, {withdrawals[WithdrawalStatus.APPROVED]} approved, "
            f"{withdrawals[WithdrawalStatus.PAID]} paid; {payments_selectors.withdrawal_queue().count()} in the operator queue "
            f"({done['withdrawal steps']} steps taken)"
        )
        limit_local, period, amount = DEPOSIT_LIMIT
        limit_currency = next(p[4] for p in PLAYERS if p[0] == limit_local)
        out.write(
            f"  Safer gambling: {limit_local} has a {limits_services.PERIOD_ADJECTIVE[period]} deposit limit of {amount} {limit_currency}, "
            f"{TIMEOUT[0]} a {TIMEOUT[1]} h time-out, {SELF_EXCLUSION[0]} a {SELF_EXCLUSION[1]}-month self-exclusion "
            f"({done['protections']} started)"
        )
        out.write(f"  Games:     {games}")
