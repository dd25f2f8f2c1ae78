"""Read queries of the games app."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Game, GameSession, Round


def games_catalog(*, enabled_only: bool = False) -> QuerySet[Game]:
    qs = Game.objects.select_related("provider").order_by("slug")
    return qs.filter(enabled=True) if enabled_only else qs


def game_by_slug(slug: str) -> Game | None:
    return Game.objects.select_related("provider").filter(slug=slug).first()


def session_for_player(*, player, session_id: int) -> GameSession | None:
    return GameSession.objects.select_related("game").filter(pk=session_id, player_id=player.pk).first()


def session_rounds(*, session: GameSession) -> QuerySet[Round]:
    return Round.objects.filter(session=session).select_related("session").order_by("-id")


def session_rounds_all(*, session: GameSession) -> list[Round]:
    return list(Round.objects.filter(session=session).order_by("nonce"))
