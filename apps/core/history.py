"""Saving a row with who changed it and why, as django-simple-history records it."""

from __future__ import annotations

from typing import Any

# simple-history stores the change reason in a varchar(100): a longer one would fail the whole change
# with a database error. The full text stays on the row itself (a rejection reason, a note, a PSP's message).
HISTORY_REASON_MAX = 100


def history_reason(reason: str) -> str:
    return reason if len(reason) <= HISTORY_REASON_MAX else reason[: HISTORY_REASON_MAX - 1] + "…"


def save_with_history(obj: Any, *, actor, reason: str) -> None:
    obj._history_user = actor
    obj._change_reason = history_reason(reason)
    obj.save()
