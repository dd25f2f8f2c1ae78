"""Read queries about players that other apps and the API need."""

from __future__ import annotations

import re
import uuid

from django.db import connection
from django.db.models import Q, QuerySet

from apps.core.errors import AccountBlocked, PermissionDenied, SelfExcluded

from .models import Player, PlayerNote, PlayerStatus, PlayerTag
from .search import FoldedName, PhoneDigits

# What a phone number looks like when typed: digits with the usual separators, at least four digits.
_PHONE_LIKE = re.compile(r"^\+?[0-9 ().\-/]+$")
MIN_PHONE_DIGITS = 4


def player_for_user(user) -> Player | None:
    if not getattr(user, "is_authenticated", False):
        return None
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


def player_assert_can_withdraw(player: Player) -> None:
    """Self-excluded players keep the right to take their money out; suspended or closed accounts do not."""
    if player.status not in (PlayerStatus.ACTIVE, PlayerStatus.SELF_EXCLUDED):
        raise AccountBlocked(details={"status": player.status})


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
