"""Read queries about players that other apps and the API need."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from datetime import datetime

from django.db import connection
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from apps.core.errors import AccountBlocked, PermissionDenied, SelfExcluded

from .models import Player, PlayerNote, PlayerStatus, PlayerTag
from .models import StatusReason as StatusReason  # re-exported: apps.reports maps it to the regulators' codes
from .search import FoldedName, PhoneDigits

# What a phone number looks like when typed: digits with the usual separators, at least four digits.
_PHONE_LIKE = re.compile(r"^\+?[0-9 ().\-/]+$")
MIN_PHONE_DIGITS = 4


def player_for_user(user) -> Player | None:
    if not getattr(user, "is_authenticated", False):
        return None
    state = getattr(user, "_state", None)
    if state is not None and "player" in state.fields_cache:
        # Joined by apps.players.auth.JWTAuthentication in the same query as the user (None: not a player).
        return state.fields_cache["player"]
    return Player.objects.select_related("user").filter(user=user).first()


def player_required(user, *, what: str) -> Player:
    """The player behind a player-only endpoint; a staff login there is refused with 403, naming what only players have."""
    player = player_for_user(user)
    if player is None:
        raise PermissionDenied(f"Only players have {what}.")
    return player


def player_by_public_id(public_id) -> Player | None:
    return Player.objects.select_related("user").filter(public_id=public_id).first()


def player_assert_can_play(player: Player) -> None:
    """Status gate for deposits and stakes: only an active player may put money at risk."""
    if player.status == PlayerStatus.SELF_EXCLUDED:
        raise SelfExcluded()
    if player.status != PlayerStatus.ACTIVE:
        raise AccountBlocked(details={"status": player.status})


def player_assert_not_legally_barred(player: Player) -> None:
    """The one rule for every way back to play: a player the market's national self-exclusion register names
    (legally barred) stays self-excluded, whatever their own self-exclusion does, until an operator lifts the bar
    because the register no longer names them (players.services.player_reinstate_barred).

    UKGC LCCP SR 3.5.4 (participation in GAMSTOP: a registered person may not gamble for the register's term) and
    RD 1614/2011 art. 26 with Ley 13/2011 art. 22 (RGIAJ: a registered person may not take part in gambling).
    Their own exclusion ending, and their own request to return, change neither.
    """
    if player.legally_barred_at is not None:
        raise SelfExcluded(
            "The national self-exclusion register names this person; the account stays self-excluded while it does.",
            details={"reason": "legally_barred", "register": player.legally_barred_register},
        )


def player_assert_can_withdraw(player: Player) -> None:
    """Self-excluded players keep the right to take their money out; suspended or closed accounts do not."""
    if player.status not in (PlayerStatus.ACTIVE, PlayerStatus.SELF_EXCLUDED):
        raise AccountBlocked(details={"status": player.status})


# --- for regulatory reports (apps.reports) ---------------------------------------------------------


def player_ids_registered_before(*, end: datetime, any_of: Iterable[QuerySet] = (), new_since: datetime | None = None) -> QuerySet:
    """Ids of players registered before `end`, in id order; with `any_of` (subqueries of player ids from
    other apps' selectors) or `new_since`, only those in one of them or registered since then."""
    qs = Player.objects.filter(created_at__lt=end)
    conditions = [Q(pk__in=subquery) for subquery in any_of]
    if new_since is not None:
        conditions.append(Q(created_at__gte=new_since))
    if conditions:
        combined = conditions[0]
        for condition in conditions[1:]:
            combined |= condition
        qs = qs.filter(combined)
    return qs.order_by("pk").values_list("pk", flat=True)


def player_ids_changed_between(*, start: datetime, end: datetime) -> QuerySet:
    """A subquery of the players whose own row (registry data, status) changed in the period (its history)."""
    return Player.history.filter(history_date__gte=start, history_date__lt=end).values("id")


def players_with_users(*, player_ids: Iterable[int]) -> list[Player]:
    return list(Player.objects.filter(pk__in=list(player_ids)).select_related("user").order_by("pk"))


def player_public_ids(*, player_ids: Iterable[int]) -> dict[int, str]:
    return {pk: str(public_id) for pk, public_id in Player.objects.filter(pk__in=list(player_ids)).values_list("pk", "public_id")}


def player_device_ids(*, player_ids: Iterable[int]) -> dict[int, str]:
    return dict(Player.objects.filter(pk__in=list(player_ids)).values_list("pk", "device_id"))


_STATUS_ROW = ("id", "status", "activated_at", "legally_barred_at", "history_date")
_NO_ROW = object()


def _status_facts(row: dict) -> Hashable:
    return row["status"], row["activated_at"] is not None, row["legally_barred_at"] is not None


def status_history(
    *, player_ids: Iterable[int], start: datetime, end: datetime, key: Callable[[dict], Hashable] = _status_facts
) -> dict[int, list[dict]]:
    """Each player's status at every change of it in the period (historical rows), oldest first.

    A row is a change when its `key` differs from the player's row before it, the last one before the period
    included: a period in which only other fields changed (an address, a phone) has no change. The default key
    is the status facts (status, activated, legally barred); a regulator's report passes its own status code,
    since a code can change while our status does not (a self-excluded player the national register then names
    becomes the DGOJ's PR) and stay while it does. Rows carry `id`, `status`, `activated_at`, `legally_barred_at`
    and `history_date`. Three queries, whatever the number of players and rows.
    """
    ids = list(player_ids)
    previous = Subquery(
        Player.history.filter(id=OuterRef("pk"), history_date__lt=start).order_by("-history_date", "-history_id").values("history_id")[:1]
    )
    before = [pk for pk in Player.objects.filter(pk__in=ids).annotate(previous=previous).values_list("previous", flat=True) if pk]
    last = {row["id"]: key(row) for row in Player.history.filter(history_id__in=before).values(*_STATUS_ROW)}
    rows = (
        Player.history.filter(id__in=ids, history_date__gte=start, history_date__lt=end)
        .order_by("id", "history_date", "history_id")
        .values(*_STATUS_ROW)
    )
    history: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        reported = key(row)
        if last.get(row["id"], _NO_ROW) != reported:
            history[row["id"]].append(row)
        last[row["id"]] = reported
    return history


def registrations_between(*, start: datetime, end: datetime) -> dict[str, int]:
    rows = Player.objects.filter(created_at__gte=start, created_at__lt=end).values("currency").annotate(n=Count("id"))
    return {r["currency"]: r["n"] for r in rows}
def _fold_term(term: str) -> str:
    """The term folded by the database's own casino_fold, so both sides of the LIKE fold the same way."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT casino_fold(%s)", [term])
        return cursor.fetchone()[0]


def player_search(queryset: QuerySet[Player], term: str) -> QuerySet[Player]:
    """Players matching what staff typed: a public id (UUID), an internal id or a phone (digits), else part of
    an email or of the name, accents and case ignored ("jose nunez" finds "José Núñez").

    Each branch keeps to the columns of one table so PostgreSQL answers it from the trigram indexes
    (apps.players.search): ids and phone digits live on players_player, email and name on players_user.
    """
    term = " ".join(term.split())
    if not term:
        return queryset
    try:
        return queryset.filter(public_id=uuid.UUID(term))
    except ValueError:
        pass
    if _PHONE_LIKE.match(term):
        number = "".join(char for char in term if char.isdigit())
        matches = Q(pk=int(number)) if term.isdigit() and len(number) <= 18 else Q(pk__in=[])
        if len(number) >= MIN_PHONE_DIGITS:
            matches |= Q(phone_digits__contains=number)
        return queryset.annotate(phone_digits=PhoneDigits()).filter(matches)
    folded = _fold_term(term)
    return queryset.annotate(folded_name=FoldedName()).filter(Q(user__email__contains=term.lower()) | Q(folded_name__contains=folded))


def player_notes(*, player: Player, limit: int = 50) -> list[PlayerNote]:
    return list(PlayerNote.objects.filter(player=player).select_related("author").order_by("-created_at", "-id")[:limit])


def player_tags(*, player: Player) -> list[PlayerTag]:
    return list(PlayerTag.objects.filter(player=player).select_related("tag", "added_by").order_by("tag__name"))
def players_by_ids(ids: list[int]) -> list[Player]:
    """Players by primary key, in one query (batch jobs: markers of harm, register checks)."""
    return list(Player.objects.select_related("user").filter(pk__in=ids).order_by("pk"))
