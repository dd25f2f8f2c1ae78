"""Times as people read them in the back-office: "1 Dec 2026, 08:50 UTC (3 hours ago)", never a raw ISO string."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils.timesince import timesince

from . import clock


def readable_time(moment: datetime | None, *, relative: bool = True) -> str:
    if moment is None:
        return "—"
    text = f"{moment.astimezone(UTC):%-d %b %Y, %H:%M} UTC"
    if relative:
        now = clock.now()
        if abs((now - moment).total_seconds()) < 60:
            text += " (just now)"
        elif moment <= now:
            text += f" ({timesince(moment, now).split(',')[0]} ago)"
        else:
            text += f" (in {timesince(now, moment).split(',')[0]})"
    return text
