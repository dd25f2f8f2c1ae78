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

The 360 is a set of tabs (PLAYER_TABS); a panel names its tab (`tab="ledger"`), and may return a
`PanelTable` (a list with columns) instead of rows. A render function that takes a `request` keyword gets
the viewer's request, so it shows only what the viewer's role may see and offers only the buttons the
role may press (the views behind those buttons check the permission again on POST).

The timeline tab merges every app's `player_timeline` source: each returns `TimelineEvent`s for the player
(newest first, at most `limit`), and the players app sorts them into one story.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

logger = logging.getLogger(__name__)

Rows = Iterable[tuple[str, object]]

# (key, label) in the order the tabs appear on the player's page.
PLAYER_TABS: list[tuple[str, str]] = [
    ("overview", "Overview"),
    ("balances", "Balances"),
    ("ledger", "Ledger"),
    ("payments", "Deposits and withdrawals"),
    ("games", "Games"),
    ("limits", "Limits and exclusions"),
    ("aml", "AML alerts"),
    ("logins", "Login history"),
    ("timeline", "Timeline"),
]


@dataclass(frozen=True)
class PanelTable:
    """A list with column headers, for the tabs that show many rows (ledger lines, deposits, rounds)."""

    headers: list[str]
    rows: list[list[object]]
    empty: str = "Nothing yet."
    footer: object = ""


@dataclass(frozen=True)
class PlayerPanel:
    title: str
    order: int
    render: Callable[..., Rows | PanelTable | None]
    tab: str = "overview"
    wants_request: bool = False
    # Shown only to viewers holding this permission (e.g. the AML alerts: tipping-off); None: everyone who sees the player.
    permission: str | None = None

    def visible_to(self, request) -> bool:
        return self.permission is None or request is None or request.user.has_perm(self.permission)


_panels: dict[str, PlayerPanel] = {}


def _takes_request(func: Callable) -> bool:
    return "request" in inspect.signature(func).parameters


def player_panel(
    title: str, *, order: int = 100, tab: str = "overview", permission: str | None = None
) -> Callable[[Callable[..., Rows]], Callable[..., Rows]]:
    """Register a section of the player 360° view; registering a title again replaces it."""

    def register(func: Callable[..., Rows]) -> Callable[..., Rows]:
        _panels[title] = PlayerPanel(
            title=title, order=order, render=func, tab=tab, wants_request=_takes_request(func), permission=permission
        )
        return func

    return register


def visible_tabs(request) -> list[tuple[str, str]]:
    """The tabs this viewer has at least one panel on; a tab whose every panel needs a permission they lack is hidden."""
    return [(key, label) for key, label in PLAYER_TABS if any(panel.visible_to(request) for panel in player_panels(key))]


def readable(value):
    """A datetime as staff read it (settings' DATETIME_FORMAT, local time), never its raw ISO form with microseconds."""
    if isinstance(value, datetime):
        return date_format(localtime(value), "DATETIME_FORMAT")
    return value


def player_panels(tab: str | None = None) -> list[PlayerPanel]:
    panels = [panel for panel in _panels.values() if tab is None or panel.tab == tab]
    return sorted(panels, key=lambda panel: (panel.order, panel.title))


def _render_table(table: PanelTable) -> str:
    if not table.rows:
        return format_html('<p class="player-panel-empty">{}</p>{}', table.empty, table.footer)
    head = format_html_join("", "<th>{}</th>", ((header,) for header in table.headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((readable(cell),) for cell in row)),) for row in table.rows)
    )
    return format_html('<table class="player-list"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>{}', head, body, table.footer)


def render_player_overview(player, *, request=None, tab: str = "overview", titles: Iterable[str] | None = None) -> str:
    """One section per panel of the tab (or, with `titles`, those panels of any tab: a work queue shows the
    player's context this way). A failing panel shows "unavailable" instead of breaking the page;
    a panel that returns None has nothing this viewer may see and is left out."""
    sections = []
    chosen = player_panels(tab) if titles is None else [panel for panel in player_panels() if panel.title in set(titles)]
    for panel in chosen:
        if not panel.visible_to(request):
            continue
        try:
            result = panel.render(player, request=request) if panel.wants_request else panel.render(player)
            if result is None:
                continue
            if isinstance(result, PanelTable):
                body = _render_table(result)
            else:
                rows = list(result)
                body = format_html(
                    "<table>{}</table>",
                    format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((label, readable(value)) for label, value in rows)),
                )
        except Exception:  # one app's broken panel must not hide the others from the operator
            logger.exception("player panel %r failed for player %s", panel.title, player.pk)
            body = format_html("<table><tr><th></th><td>{}</td></tr></table>", "unavailable")
        sections.append(format_html('<div class="player-panel" id="panel-{}"><h3>{}</h3>{}</div>', _slug(panel.title), panel.title, body))
    return format_html_join("", "{}", ((section,) for section in sections))


def _slug(title: str) -> str:
    return "".join(char if char.isalnum() else "-" for char in title.lower()).strip("-")


# --- The timeline: one story of everything that happened to the player ---


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    what: str
    detail: object = ""
    who: str = ""
    source: str = ""
    link: str = field(default="", compare=False)


_timeline_sources: dict[str, tuple[Callable[..., Iterable[TimelineEvent]], bool]] = {}


def player_timeline(name: str) -> Callable[[Callable[..., Iterable[TimelineEvent]]], Callable[..., Iterable[TimelineEvent]]]:
    """Register a source of timeline events: `func(player, *, limit[, request])` → newest first, at most `limit`."""

    def register(func: Callable[..., Iterable[TimelineEvent]]) -> Callable[..., Iterable[TimelineEvent]]:
        _timeline_sources[name] = (func, _takes_request(func))
        return func

    return register


def player_timeline_events(player, *, request=None, limit: int = 200) -> list[TimelineEvent]:
    """Every source's events for the player, newest first, the `limit` most recent overall."""
    events: list[TimelineEvent] = []
    for name, (func, wants_request) in sorted(_timeline_sources.items()):
        try:
            found = func(player, limit=limit, request=request) if wants_request else func(player, limit=limit)
            events.extend(found)
        except Exception:  # one app's broken source must not hide the rest of the story
            logger.exception("timeline source %r failed for player %s", name, player.pk)
    events.sort(key=lambda event: event.at, reverse=True)
    return events[:limit]
