"""The report-type registry and the periods reports cover.

A report type is a class that streams rows from selectors into an open binary file and says how many it
wrote; the framework (services.report_run_execute) owns the temp file, the checksum, the validation and
the run's state. Types register themselves with @register when apps.reports.types is imported (ready()).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import BinaryIO, ClassVar
from zoneinfo import ZoneInfo

from apps.markets import selectors as markets_selectors
from apps.markets.selectors import MarketPolicy

XSD_DIR = Path(__file__).resolve().parent / "xsd"


class ReportInvalid(Exception):
    """The produced file fails its schema: the run is `failed` with these errors, never `done`."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors[:20]))


@dataclass(frozen=True)
class Period:
    """A reporting period in the regulator's calendar: [start, end) local dates."""

    kind: str  # "day" | "month" | "quarter"
    start: date
    end: date  # exclusive

    @property
    def label(self) -> str:
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"

    @property
    def compact(self) -> str:
        """DGOJ's period notation: yyyymmdd (daily) or yyyymm (monthly)."""
        return f"{self.start:%Y%m%d}" if self.kind == "day" else f"{self.start:%Y%m}"

    def bounds(self, time_zone: str) -> tuple[datetime, datetime]:
        """The aware instants the period covers: local midnight to local midnight, so DST days are 23 or 25 hours."""
        zone = ZoneInfo(time_zone)
        # In UTC: arithmetic between two aware datetimes of one ZoneInfo is wall-clock, which hides the DST hour.
        return (
            datetime.combine(self.start, time.min, zone).astimezone(UTC),
            datetime.combine(self.end, time.min, zone).astimezone(UTC),
        )

    def previous(self) -> Period:
        return period_containing(self.kind, self.start - timedelta(days=1))


def period_containing(kind: str, day: date) -> Period:
    if kind == "day":
        return Period("day", day, day + timedelta(days=1))
    if kind == "month":
        start = day.replace(day=1)
        return Period("month", start, _add_months(start, 1))
    start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return Period("quarter", start, _add_months(start, 3))


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


_PATTERNS = {
    "day": re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    "month": re.compile(r"^(\d{4})-(\d{2})$"),
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
}
_FORMATS = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "quarter": "YYYY-Qn"}


def parse_period(kind: str, text: str) -> Period:
    """API.md, Operations: YYYY-MM-DD for daily, YYYY-MM for monthly, YYYY-Qn for quarterly types."""
    match = _PATTERNS[kind].match(text or "")
    if not match:
        raise ValueError(f"Use {_FORMATS[kind]} for this report type.")
    try:
        if kind == "day":
            day = date(int(match[1]), int(match[2]), int(match[3]))
        elif kind == "month":
            day = date(int(match[1]), int(match[2]), 1)
        else:
            day = date(int(match[1]), 3 * (int(match[2]) - 1) + 1, 1)
    except ValueError:
        raise ValueError(f"Use {_FORMATS[kind]} for this report type.") from None
    return period_containing(kind, day)


class ReportType:
    """One kind of file. Subclasses set the class attributes and implement write()."""

    code: ClassVar[str]
    period_kind: ClassVar[str]  # "day" | "month" | "quarter"
    fmt: ClassVar[str]  # "csv" | "xml"
    description: ClassVar[str] = ""

    @property
    def market(self) -> MarketPolicy:
        """The licence that files this type (the market whose report set lists it, in the admin): its
        calendar, regulator ids and tax rate are the report's. Read per use, so an admin change applies
        to the next run."""
        return markets_selectors.market_for_report(self.code)

    @property
    def time_zone(self) -> str:
        return self.market.report_time_zone

    def file_name(self, *, period: Period, run) -> str:
        return f"{self.code}_{period.label}_v{run.version}.{self.fmt}"

    def write(self, fh: BinaryIO, *, period: Period, run) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def validate(self, path: Path) -> None:
        """CSV needs no schema; XML types check theirs (xml.validate_file)."""


REGISTRY: dict[str, ReportType] = {}


def register(cls: type[ReportType]) -> type[ReportType]:
    REGISTRY[cls.code] = cls()
    return cls


def report_type(code: str) -> ReportType:
    try:
        return REGISTRY[code]
    except KeyError:
        raise KeyError(f"Unknown report type {code!r}; known: {', '.join(sorted(REGISTRY))}.") from None
