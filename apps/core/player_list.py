"""Columns and filters of the player list that a higher app owns: the cash balance (ledger), the KYC state (kyc).

The players app (layer 2) owns the list but may not import the apps above it (ARCHITECTURE.md, "Layers").
Each owner registers, usually from its admin.py, an annotation (a Subquery on the player's row, so the
whole page costs one query however many players it shows), how to display the annotated value, and
optionally a list filter class that filters on that annotation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PlayerColumn:
    name: str
    label: str
    order: int
    annotation: Callable[[], Any]
    display: Callable[[Any, Any], str] = field(default=lambda player, value: "—" if value is None else str(value))
    list_filter: type | None = None
    # The value in a CSV export (plain, e.g. "12.50" without the currency); the display text by default.
    csv: Callable[[Any, Any], str] = field(default=lambda player, value: "" if value is None else str(value))


_columns: dict[str, PlayerColumn] = {}


def register_player_column(column: PlayerColumn) -> None:
    """Registering a name again replaces it (autoreload, tests)."""
    _columns[column.name] = column


def player_columns() -> list[PlayerColumn]:
    return sorted(_columns.values(), key=lambda column: (column.order, column.name))


def annotate_player_columns(queryset):
    """The player queryset with every registered column's value annotated under the column's name."""
    annotations = {column.name: column.annotation() for column in player_columns()}
    return queryset.annotate(**annotations) if annotations else queryset
