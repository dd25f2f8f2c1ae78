"""The 360° view of a player on the admin change page, assembled from every app's panel.

The registry lives in core so that the players app, which owns the page, never imports the apps
above it (ARCHITECTURE.md, "Layers"): each app adds its own section by registering a function that
returns (label, value) rows, usually from its own admin.py (admin modules are imported at start-up,
after all models):

    from apps.core.panels import player_panel

    @player_panel("Responsible gaming", order=30)
    def limits_panel(player):
        return [("Deposit limit (day)", "100.00 EUR"), ...]

Values are escaped unless they are SafeString (format_html), so a panel may link to its own admin pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

logger = logging.getLogger(__name__)

Rows = Iterable[tuple[str, object]]


@dataclass(frozen=True)
class PlayerPanel:
    title: str
    order: int
    render: Callable[..., Rows]


_panels: dict[str, PlayerPanel] = {}


def player_panel(title: str, *, order: int = 100) -> Callable[[Callable[..., Rows]], Callable[..., Rows]]:
    """Register a section of the player 360° view; registering a title again replaces it."""

    def register(func: Callable[..., Rows]) -> Callable[..., Rows]:
        _panels[title] = PlayerPanel(title=title, order=order, render=func)
        return func

    return register


def player_panels() -> list[PlayerPanel]:
    return sorted(_panels.values(), key=lambda panel: (panel.order, panel.title))


def readable(value):
    """A datetime as staff read it (settings' DATETIME_FORMAT, local time), never its raw ISO form with microseconds."""
    if isinstance(value, datetime):
        return date_format(localtime(value), "DATETIME_FORMAT")
    return value


def render_player_overview(player) -> str:
    """One small table per panel. A failing panel shows "unavailable" instead of breaking the page."""
    sections = []
    for panel in player_panels():
        try:
            rows = list(panel.render(player))
        except Exception:  # one app's broken panel must not hide the others from the operator
            logger.exception("player panel %r failed for player %s", panel.title, player.pk)
            rows = [("", "unavailable")]
        body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((label, readable(value)) for label, value in rows))
        sections.append(format_html('<div class="player-panel"><h3>{}</h3><table>{}</table></div>', panel.title, body))
    return format_html_join("", "{}", ((section,) for section in sections))
