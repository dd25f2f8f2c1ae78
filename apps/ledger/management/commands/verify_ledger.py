from django.core.management.base import BaseCommand, CommandError

from apps.ledger.checks import verify_ledger


class Command(BaseCommand):
    help = "Prove the ledger's invariants: balanced transactions, cached balances equal entries, no negative player money."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=50, help="Stop listing breaches after this many.")

    def handle(self, *args, limit: int, **options):
        report = verify_ledger(limit=limit)
        self.stdout.write(
            f"Checked {report.transactions} transactions, {report.entries} entries, {report.accounts} accounts."
        )
        if report.ok:
            self.stdout.write(self.style.SUCCESS("Ledger OK: every invariant holds."))
            return
        for breach in report.breaches:
            self.stderr.write(f"BREACH: {breach}")
        raise CommandError(f"{len(report.breaches)} ledger breach(es) found.")
