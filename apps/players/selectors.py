"""Read queries about players that other apps and the API need."""

from __future__ import annotations

from apps.core.errors import AccountBlocked, PermissionDenied, SelfExcluded

from .models import Player, PlayerStatus


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


def players_by_ids(ids: list[int]) -> list[Player]:
    """Players by primary key, in one query (batch jobs: markers of harm, register checks)."""
    return list(Player.objects.select_related("user").filter(pk__in=ids).order_by("pk"))
