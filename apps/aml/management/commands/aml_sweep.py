"""Run the AML monitoring sweep now (what beat runs every five minutes)."""

from django.core.management.base import BaseCommand

from apps.aml.services import monitoring_sweep


class Command(BaseCommand):
    help = "Evaluate every AML rule over the ledger since the sweep's watermark."

    def handle(self, **options):
        result = monitoring_sweep()
        self.stdout.write(f"Transactions {result.from_id + 1}..{result.to_id}: {result.alerts} alert(s) opened or added to.")
