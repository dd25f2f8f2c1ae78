"""Load a sanctions/PEP list from a CSV or XML file; a changed list re-screens every player."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.aml.screening import screening_list_load


class Command(BaseCommand):
    help = "Load (or replace) a screening list from a .csv or .xml file; re-screens everyone when it changed."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--name", default="", help="List name (default: the file name without extension).")
        parser.add_argument("--format", dest="fmt", choices=["csv", "xml"], default="")

    def handle(self, path, name, fmt, **options):
        if not Path(path).is_file():
            raise CommandError(f"No such file: {path}")
        try:
            screening_list, changed = screening_list_load(path=Path(path), name=name, fmt=fmt)
        except (ValueError, KeyError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        state = "loaded; re-screening everyone" if changed else "unchanged"
        self.stdout.write(f"{screening_list.name}: {screening_list.entries_count} entries, {state}.")
