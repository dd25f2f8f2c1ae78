"""Every write to users and players. Views, admin actions and other apps call these, never the models."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.core import clock
from apps.core.errors import (
    AccountBlocked,
    CountryBlocked,
    EmailTaken,
    InvalidState,
    PermissionDenied,
    SelfExcluded,
    TokenInvalid,
    Underage,
    ValidationFailed,
)
from apps.core.fsm import fsm_step
from apps.core.history import save_with_history
from apps.core.identity import normalise_identity_text
from apps.core.markets_hook import identity_on_national_register, market_codes, market_for_country
from apps.core.money import MINOR_UNITS, Money

from .models import ExcludedIdentity, IdentityKind, Player, PlayerNote, PlayerStatus, PlayerTag, StatusReason, Tag, User
from .selectors import player_assert_not_legally_barred
from .signals import player_logged_in, player_registered

DEPOSIT_LIMIT_PERIODS = ("day", "week", "month")


# --- Identity fingerprints: the same person under any email (issue #11, self-exclusion that holds) ---


_normalise = normalise_identity_text


def identity_fingerprints(*, first_name: str, last_name: str, date_of_birth: date, id_document_number: str = "") -> dict[str, str]:
    """kind → SHA-256 of the normalised identity; the document number only once it is known (KYC)."""
    prints = {
        IdentityKind.NAME_AND_BIRTH: hashlib.sha256(
            f"{_normalise(first_name)}|{_normalise(last_name)}|{date_of_birth.isoformat()}".encode()
        ).hexdigest()
    }
    if _normalise(id_document_number):
        prints[IdentityKind.DOCUMENT] = hashlib.sha256(f"doc|{_normalise(id_document_number)}".encode()).hexdigest()
    return prints


def _player_fingerprints(player: Player) -> dict[str, str]:
    return identity_fingerprints(
        first_name=player.user.first_name, last_name=player.user.last_name,
        date_of_birth=player.date_of_birth, id_document_number=player.id_document_number,
    )


def _excluded_identity_rows(prints: dict[str, str], *, except_player_id: int | None = None):
    rows = ExcludedIdentity.objects.filter(active=True, fingerprint__in=list(prints.values()))
    if except_player_id is not None:
        rows = rows.exclude(player_id=except_player_id)
    return rows


def identity_is_excluded(prints: dict[str, str], *, except_player_id: int | None = None) -> bool:
    return _excluded_identity_rows(prints, except_player_id=except_player_id).exists()


def player_same_person_excluded_accounts(*, player: Player) -> list[Player]:
    """The person's other accounts whose identity is excluded (they self-excluded and have not returned), by the
    same fingerprints as registration and login: apps.limits' return refuses while one of them still excludes
    the person (UKGC LCCP SR 3.5.4, RD 1614/2011 art. 26). `player` needs its user (the name is on it).
    """
    ids = _excluded_identity_rows(_player_fingerprints(player), except_player_id=player.pk).values("player_id")
    return list(Player.objects.filter(pk__in=ids).order_by("pk"))


def _record_exclusion(player: Player, *, reason: str) -> None:
    for kind, fingerprint in _player_fingerprints(player).items():
        ExcludedIdentity.objects.update_or_create(
            player=player, kind=kind, fingerprint=fingerprint, defaults={"active": True, "reason": reason[:255], "lifted_at": None}
        )


def _lift_exclusion(player: Player) -> None:
    ExcludedIdentity.objects.filter(player=player, active=True).update(active=False, lifted_at=clock.now())


def _age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@transaction.atomic
def player_register(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    date_of_birth: date,
    country: str,
    currency: str,
    signup_ip: str | None = None,
    signup_device: str = "",
    device_id: str = "",
    deposit_limits: dict[str, Money] | None = None,
    **profile: str,
) -> Player:
    """Create the login and the player profile together, or neither.

    The country decides the market (licence) once, here; countries on no licence are refused. Apps that
    set something up for every new player (limits: the market's mandatory deposit limits and the ones the
    player chose, `deposit_limits` by period) listen to `player_registered`, sent inside this transaction,
    so a refusal there registers nobody.
    """
    email = User.objects.normalize_email(email).strip().lower()
    country = country.upper()
    currency = currency.upper()
    if _age_on(date_of_birth, clock.now().date()) < settings.MINIMUM_AGE:
        raise Underage(details={"date_of_birth": [f"Players must be at least {settings.MINIMUM_AGE}."]})
    market = market_for_country(country)
    if market is None:
        raise CountryBlocked(details={"country": [f"Registration from {country} is not accepted."]})
    if currency not in settings.SUPPORTED_CURRENCIES or currency not in MINOR_UNITS:
        raise ValidationFailed(details={"currency": [f"{currency} is not offered."]})
    deposit_limits = dict(deposit_limits or {})
    for period, amount in deposit_limits.items():
        if period not in DEPOSIT_LIMIT_PERIODS or amount.currency != currency or amount.amount <= 0:
            raise ValidationFailed(details={"deposit_limits": [f"{period}: a positive amount in {currency} for day, week or month."]})
    if User.objects.filter(email__iexact=email).exists():
        raise EmailTaken(details={"email": ["An account with this email already exists."]})
    prints = identity_fingerprints(
        first_name=first_name, last_name=last_name, date_of_birth=date_of_birth, id_document_number=profile.get("id_document_number", "")
    )
    if identity_is_excluded(prints):
        # The same person under a new email: the exclusion is of the person, not of the account.
        raise SelfExcluded("You are excluded from gambling with us; a new account cannot be opened.")
    if identity_on_national_register(
        market, first_name=first_name, last_name=last_name, date_of_birth=date_of_birth,
        id_document_number=profile.get("id_document_number", ""),
    ):
        # The market's national self-exclusion register (GAMSTOP, RGIAJ) names this person: legally barred.
        raise SelfExcluded("You are on the national self-exclusion register; we cannot open an account.")
    candidate = User(email=email, first_name=first_name, last_name=last_name)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ValidationFailed("The password is too weak.", details={"password": list(exc.messages)}) from None
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, first_name=first_name, last_name=last_name)
    except IntegrityError:
        # Two registrations raced for one email; the database's unique index decided.
        raise EmailTaken(details={"email": ["An account with this email already exists."]}) from None
    player = Player.objects.create(
        user=user,
        date_of_birth=date_of_birth,
        country=country,
        currency=currency,
        market=market,
        signup_ip=signup_ip,
        signup_device=signup_device,
        device_id=device_id,
        status_changed_at=clock.now(),
        **profile,
    )
    player_registered.send(sender=Player, player=player, deposit_limits=deposit_limits)
    return player


@transaction.atomic
def player_change_market(*, player: Player, market: str, actor: User | None, reason: str) -> Player:
    """Move a player to another licence's rules (e.g. they moved country and proved it): an operator's decision.

    Only the code changes; what the new rules mean for existing limits or balances is for the apps that
    own them to apply the next time they read `policy_for(player)`.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(details={"reason": ["A reason is required to change a player's market."]})
    if market not in market_codes():
        raise ValidationFailed(details={"market": [f"No market {market!r}."]})
    locked = Player.objects.select_for_update().get(pk=player.pk)
    if locked.market != market:
        locked.market = market
        save_with_history(locked, actor=actor, reason=reason)
    return locked


def _transition(player: Player, method_name: str, *, actor: User | None, reason: str, reason_code: str = "") -> Player:
    """Run one status transition under a row lock, recording who did it and why in the history."""
    if reason_code and reason_code not in StatusReason.values:
        raise ValidationFailed(details={"reason_code": [f"Choose one of {', '.join(StatusReason.values)}."]})
    locked = Player.objects.select_for_update().get(pk=player.pk)
    before = locked.status
    fsm_step(locked, method_name)
    _assert_bar_holds(locked, before=before)
    locked.status_reason = reason[:255]
    # Only a suspension or closure carries a structured reason (the regulator's RUD asks for it then).
    locked.status_reason_code = reason_code
    locked.status_changed_at = clock.now()
    save_with_history(locked, actor=actor, reason=reason)
    return locked


def _assert_bar_holds(player: Player, *, before: str) -> None:
    """Every status change passes here, so no path (the player's return from their own self-exclusion through
    apps.limits, its periodic task, an operator's reinstatement in the admin) takes a legally barred player out of
    self-exclusion, nor to active: only closing the account, or lifting the bar first (player_reinstate_barred).

    UKGC LCCP SR 3.5.4 (GAMSTOP participation) and RD 1614/2011 art. 26 (RGIAJ): while the national register names
    the person they may not gamble, however their own self-exclusion with us ends.
    """
    after = player.status
    if after == PlayerStatus.ACTIVE or (before == PlayerStatus.SELF_EXCLUDED and after != PlayerStatus.CLOSED):
        player_assert_not_legally_barred(player)


@transaction.atomic
def player_suspend(*, player: Player, actor: User | None, reason: str, reason_code: str = StatusReason.OTHER) -> Player:
    return _transition(player, "suspend", actor=actor, reason=reason, reason_code=reason_code)


@transaction.atomic
def player_reinstate(*, player: Player, actor: User | None, reason: str) -> Player:
    return _transition(player, "reinstate", actor=actor, reason=reason)


@transaction.atomic
def player_close(*, player: Player, actor: User | None, reason: str, reason_code: str = StatusReason.OTHER) -> Player:
    """Close the account and end every session: a closed player must not keep playing on an old refresh token."""
    closed = _transition(player, "close", actor=actor, reason=reason, reason_code=reason_code)
    _revoke_refresh_tokens(user_id=closed.user_id)
    return closed


@transaction.atomic
def player_self_exclude(*, player: Player, actor: User | None, reason: str) -> Player:
    """Called by apps.limits when a self-exclusion starts; the exclusion period itself lives there.

    The person's identity is excluded with the account, so a new registration or another account of
    theirs is refused too, even after this account is closed.

    An account already self-excluded by a bar (another account of a self-excluded person, a national register)
    keeps its status, and its identity is recorded all the same: otherwise the person's own exclusion here would
    not hold on their other accounts, and one of them could return while this one is excluded for years
    (UKGC LCCP SR 3.5.4: self-exclusion covers every account of the person; RD 1614/2011 art. 26).
    """
    locked = Player.objects.select_for_update().select_related("user").get(pk=player.pk)
    if locked.status == PlayerStatus.SELF_EXCLUDED:
        _record_exclusion(locked, reason=reason)
        return locked
    excluded = _transition(locked, "self_exclude", actor=actor, reason=reason)
    _record_exclusion(excluded, reason=reason)
    return excluded


@transaction.atomic
def player_reactivate(*, player: Player, actor: User | None, reason: str) -> Player:
    """Called by apps.limits only after the exclusion period has ended and the player asked to return.
    Refused (SelfExcluded) while a national register bars the player: see _assert_bar_holds."""
    reactivated = _transition(player, "reactivate", actor=actor, reason=reason)
    _lift_exclusion(reactivated)
    return reactivated


@transaction.atomic
def player_bar_if_identity_excluded(*, player: Player, actor: User | None, when: str) -> bool:
    """Another account of a self-excluded person, or a person on their market's national self-exclusion
    register, is excluded as well (checked at every login and at KYC approval).

    Returns whether the player was barred. The account stays open, so they can still withdraw their money.
    """
    locked = Player.objects.select_for_update().select_related("user").get(pk=player.pk)
    if locked.status == PlayerStatus.CLOSED or (locked.status == PlayerStatus.SELF_EXCLUDED and locked.legally_barred_at):
        return False
    on_register = _on_national_register(locked)
    if on_register:
        # The market's national register (GAMSTOP, RGIAJ) names them: legally barred from play and deposits (RUD status PR).
        reason = f"On the national self-exclusion register ({when})"
        locked.legally_barred_at, locked.legally_barred_register = clock.now(), _register_of(locked)
        if locked.status == PlayerStatus.SELF_EXCLUDED:
            save_with_history(locked, actor=actor, reason=reason)
        else:
            # One history row: the mark, then the transition that re-reads the row under its lock and saves it.
            Player.objects.filter(pk=locked.pk).update(
                legally_barred_at=locked.legally_barred_at, legally_barred_register=locked.legally_barred_register
            )
            _transition(locked, "self_exclude", actor=actor, reason=reason)
        return True
    if locked.status not in (PlayerStatus.ACTIVE, PlayerStatus.SUSPENDED):
        return False
    if not identity_is_excluded(_player_fingerprints(locked), except_player_id=locked.pk):
        return False
    # Not recorded as an excluded identity of its own: when the person's exclusion ends, this duplicate
    # must not keep them excluded. An operator reinstates it (it has no exclusion period in apps.limits).
    _transition(locked, "self_exclude", actor=actor, reason=f"Identity matches a self-excluded person ({when})")
    return True


def _on_national_register(player: Player) -> bool:
    return identity_on_national_register(
        player.market, first_name=player.user.first_name, last_name=player.user.last_name,
        date_of_birth=player.date_of_birth, id_document_number=player.id_document_number,
    )


def _register_of(player: Player) -> str:
    from apps.core.markets_hook import national_register_of

    return national_register_of(player.market)


def national_register_batch_check(*, when: str = "daily register check") -> dict[str, int]:
    """Check every open account against its market's national register (RGIAJ for dgoj: the DGOJ expects
    operators to verify their players against it daily, Ley 13/2011 art. 22 and RD 1614/2011). A hit bars the
    player as at login. One short transaction per player; a register that cannot answer stops the run (fail loud:
    the next run retries) rather than passing anyone unchecked.
    """
    from apps.core.markets_hook import markets_with_national_register

    markets = list(markets_with_national_register())
    checked = barred = 0
    candidates = (
        Player.objects.filter(market__in=markets, legally_barred_at__isnull=True)
        .exclude(status=PlayerStatus.CLOSED).order_by("pk").values_list("pk", flat=True)
    )
    for player_id in candidates.iterator(chunk_size=500):
        checked += 1
        barred += int(player_bar_if_identity_excluded(player=Player(pk=player_id), actor=None, when=when))
    return {"checked": checked, "barred": barred}


@transaction.atomic
def player_reinstate_barred(*, player: Player, actor: User | None, reason: str) -> Player:
    """Lift a bar that no longer holds: an account barred because its identity matched a self-excluded person
    or a national register, once neither applies (the person's own exclusion ended, the register dropped them).

    Refused while the reason for the bar still stands, and for the person's own self-exclusion (that ends only
    through apps.limits' return, after its period); an operator's decision, with a reason, in the history. A player
    who had self-excluded before the register named them keeps that self-exclusion: only the legal bar goes, and
    they return through apps.limits' ordinary return like anyone else.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(details={"reason": ["A reason is required."]})
    locked = Player.objects.select_for_update().select_related("user").get(pk=player.pk)
    if locked.status != PlayerStatus.SELF_EXCLUDED:
        raise InvalidState("This account is not barred.", details={"status": locked.status})
    own_exclusion = locked.excluded_identities.filter(active=True).exists()
    if own_exclusion and locked.legally_barred_at is None:
        raise InvalidState("The player self-excluded this account; it reopens only when they return after the period.")
    if _on_national_register(locked):
        raise InvalidState("The national self-exclusion register still names this person.")
    if own_exclusion:
        locked.legally_barred_at, locked.legally_barred_register = None, ""
        save_with_history(locked, actor=actor, reason=f"Bar lifted, the player's own self-exclusion stands: {reason}")
        return locked
    if identity_is_excluded(_player_fingerprints(locked), except_player_id=locked.pk):
        raise InvalidState("The identity still matches a self-excluded person.")
    Player.objects.filter(pk=locked.pk).update(legally_barred_at=None, legally_barred_register="")
    return _transition(locked, "reactivate", actor=actor, reason=f"Bar lifted: {reason}")


@transaction.atomic
def player_return_suspended(*, player: Player, actor: User | None, reason: str) -> Player:
    """Called by apps.limits instead of player_reactivate when the player was suspended before the
    self-exclusion: an exclusion the player chose must not wipe a suspension staff imposed (e.g. for fraud)."""
    returned = _transition(player, "return_suspended", actor=actor, reason=reason)
    _lift_exclusion(returned)  # the exclusion is over; the suspension is a separate matter
    return returned


@transaction.atomic
def player_mark_activated(*, player: Player, actor: User | None = None) -> Player:
    """Record the first positive identity verification (the regulator's activation time); later ones keep it."""
    locked = Player.objects.select_for_update().get(pk=player.pk)
    if locked.activated_at is None:
        locked.activated_at = clock.now()
        save_with_history(locked, actor=actor, reason="KYC approved")
    return locked


@transaction.atomic
def player_update_identity(*, player: Player, actor: User | None, reason: str, **fields: object) -> Player:
    """Complete identity/contact data (at KYC); only profile fields, never status or money."""
    allowed = {
        "second_surname", "nationality", "sex", "address_street", "address_city", "address_postcode",
        "address_country", "phone", "phone_verified", "email_verified", "id_document_type", "id_document_number",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationFailed(details={name: ["This field cannot be changed here."] for name in sorted(unknown)})
    locked = Player.objects.select_for_update().get(pk=player.pk)
    for name, value in fields.items():
        setattr(locked, name, value)
    save_with_history(locked, actor=actor, reason=reason)
    if locked.excluded_identities.filter(active=True).exists():
        _record_exclusion(locked, reason="identity completed while excluded")  # the document number joins the names
    return locked


@transaction.atomic
def player_set_test_flag(*, player: Player, actor: User | None, is_test_player: bool, reason: str) -> Player:
    """Mark an operator's own test account, so regulatory reports and KPIs can leave it out."""
    locked = Player.objects.select_for_update().get(pk=player.pk)
    if locked.is_test_player != is_test_player:
        locked.is_test_player = is_test_player
        save_with_history(locked, actor=actor, reason=reason)
    return locked


# --- Staff notes and tags on a player (the 360's overview); the permission is checked here again ---

NOTE_PERMISSION = "players.add_playernote"
TAG_PERMISSION = "players.add_playertag"
UNTAG_PERMISSION = "players.delete_playertag"
STATUS_PERMISSION = "players.change_player_status"


def _require_perm(actor: User | None, permission: str) -> None:
    # The admin hides what a role may not do; the service refuses it anyway (a forged POST, another caller).
    if actor is None or not actor.is_active or not actor.has_perm(permission):
        raise PermissionDenied("Your role may not do this.")


def _required_text(value: str, *, field: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(details={field: [f"{what} is required."]})
    return value


@transaction.atomic
def player_note_add(*, player: Player, author: User, text: str) -> PlayerNote:
    """An internal note, kept forever with its author and time (notes are never edited)."""
    _require_perm(author, NOTE_PERMISSION)
    text = _required_text(text, field="text", what="The note")[:4000]
    note = PlayerNote(player=player, author=author, text=text)
    save_with_history(note, actor=author, reason="note added")
    return note


@transaction.atomic
def tag_create(*, name: str, actor: User | None, description: str = "") -> Tag:
    """A new kind of tag for staff to use (the admin's add form does the same, with history)."""
    name = _required_text(name, field="name", what="A name")[:40]
    tag = Tag(name=name, description=description[:255])
    save_with_history(tag, actor=actor, reason="tag created")
    return tag


@transaction.atomic
def player_tag_add(*, player: Player, tag: Tag, actor: User, reason: str) -> PlayerTag:
    """Tag a player (VIP, problem gambling, ...); tagging twice keeps the first tagging."""
    _require_perm(actor, TAG_PERMISSION)
    reason = _required_text(reason, field="reason", what="A reason")
    existing = PlayerTag.objects.filter(player=player, tag=tag).first()
    if existing is not None:
        return existing
    tagged = PlayerTag(player=player, tag=tag, reason=reason[:255], added_by=actor)
    save_with_history(tagged, actor=actor, reason=reason)
    return tagged


@transaction.atomic
def player_tag_remove(*, player: Player, tag: Tag, actor: User, reason: str) -> bool:
    """Take a tag off; the history keeps who removed it and why. Returns whether there was one."""
    _require_perm(actor, UNTAG_PERMISSION)
    reason = _required_text(reason, field="reason", what="A reason")
    tagged = PlayerTag.objects.select_for_update().filter(player=player, tag=tag).first()
    if tagged is None:
        return False
    tagged._history_user = actor
    tagged._change_reason = reason[:100]
    tagged.delete()
    return True


# --- Sessions: JWT pairs. The view authenticates (django-axes needs the request); these decide what is issued. ---


@dataclass(frozen=True, slots=True)
class TokenPair:
    access: str
    refresh: str


def _assert_may_hold_session(user: User) -> None:
    """Closed players are shut out; suspended and self-excluded ones may still log in to see their data and withdraw."""
    player = Player.objects.filter(user=user).only("status").first()
    if player is not None and player.status == PlayerStatus.CLOSED:
        raise AccountBlocked("This account is closed.", details={"status": player.status})


def _issue(user: User) -> TokenPair:
    refresh = RefreshToken.for_user(user)  # also records the OutstandingToken row the blacklist needs
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


@transaction.atomic
def auth_tokens_issue(*, user: User) -> TokenPair:
    """A fresh access/refresh pair for a user whose password was just checked.

    A login starts a new play session: apps that count from it (reality checks) listen to
    `player_logged_in`, sent inside this transaction so the session starts with the tokens or not at all.
    """
    _assert_may_hold_session(user)
    player = Player.objects.filter(user=user).first()
    if player is not None:
        player_bar_if_identity_excluded(player=player, actor=None, when="login")
        player_logged_in.send(sender=Player, player=player)
    return _issue(user)


def _consume_refresh(raw: str) -> OutstandingToken:
    """Verify a refresh token and blacklist it, exactly once even under concurrent use.

    simplejwt's own rotation checks the blacklist and then writes it, so two requests racing
    with one token could both get a new pair. Locking the token's OutstandingToken row makes
    the second request wait, then find the token used.
    """
    try:
        token = RefreshToken(raw)
    except TokenError:
        raise TokenInvalid() from None
    outstanding = (
        OutstandingToken.objects.select_for_update(of=("self",)).select_related("user").filter(jti=token.payload.get("jti")).first()
    )
    if outstanding is None or outstanding.user is None:
        # Every token this service issues is recorded; an unrecorded one is not ours to honour.
        raise TokenInvalid()
    if BlacklistedToken.objects.filter(token=outstanding).exists():
        raise TokenInvalid()
    BlacklistedToken.objects.create(token=outstanding)
    return outstanding


@transaction.atomic
def auth_token_refresh(*, refresh: str) -> TokenPair:
    """Rotate: the presented refresh token is spent and a new pair issued."""
    outstanding = _consume_refresh(refresh)
    user = outstanding.user
    if not user.is_active:
        raise TokenInvalid()
    _assert_may_hold_session(user)
    return _issue(user)


@transaction.atomic
def auth_logout(*, refresh: str) -> None:
    """Spend the refresh token without issuing another. Access tokens expire on their own within minutes."""
    _consume_refresh(refresh)


def _revoke_refresh_tokens(*, user_id: int) -> int:
    live = OutstandingToken.objects.filter(user_id=user_id, expires_at__gt=clock.now(), blacklistedtoken__isnull=True)
    created = BlacklistedToken.objects.bulk_create([BlacklistedToken(token=t) for t in live], ignore_conflicts=True)
    return len(created)


__all__ = [
    "PlayerStatus",
    "TokenPair",
    "auth_logout",
    "auth_token_refresh",
    "auth_tokens_issue",
    "identity_fingerprints",
    "national_register_batch_check",
    "player_bar_if_identity_excluded",
    "player_change_market",
    "player_close",
    "player_mark_activated",
    "player_reactivate",
    "player_register",
    "player_reinstate",
    "player_reinstate_barred",
    "player_same_person_excluded_accounts",
    "player_self_exclude",
    "player_set_test_flag",
    "player_suspend",
    "player_update_identity",
]
