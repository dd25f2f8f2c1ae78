"""`manage.py load_exchange_rates FILE.csv`: the EUR rates the markets' EUR thresholds are converted with."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import ValidationFailed
from apps.markets.services import exchange_rates_load


class Command(BaseCommand):
    help = "Load currency→EUR rates from a CSV file with the header currency,rate_to_eur,valid_from. All or nothing."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, **options):
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                count = exchange_rates_load(lines=handle, source=path.name)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from None
        except ValidationFailed as exc:
            raise CommandError(f"Nothing loaded: {exc.details}") from None
        self.stdout.write(self.style.SUCCESS(f"{count} exchange rates loaded from {path.name}."))
