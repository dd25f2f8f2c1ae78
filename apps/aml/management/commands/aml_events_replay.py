"""Publish ledger events again from a transaction id, e.g. after a consumer lost its stream."""

from django.core.management.base import BaseCommand, CommandError

from apps.aml.events import events_replay


class Command(BaseCommand):
    help = "Re-publish ledger transactions from FROM_ID (inclusive) to the event streams; consumers dedup by transaction_id."

    def add_arguments(self, parser):
        parser.add_argument("from_id", type=int)
        parser.add_argument("--to-id", type=int, default=None)

    def handle(self, from_id, to_id, **options):
        try:
            sent = events_replay(from_id=from_id, to_id=to_id)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{sent} event(s) published.")
