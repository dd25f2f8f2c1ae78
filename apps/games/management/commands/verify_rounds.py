"""python manage.py verify_rounds SESSION_ID: replay a closed session's rounds; non-zero exit on any mismatch."""

from django.core.management.base import BaseCommand, CommandError

from apps.games.verify import verify_session


class Command(BaseCommand):
    help = "Recompute every round of a closed game session from its revealed seed and report any mismatch."

    def add_arguments(self, parser):
        parser.add_argument("session_id", type=int)

    def handle(self, *args, session_id: int, **options):
        result = verify_session(session_id)
        for line in result.mismatches:
            self.stderr.write(line)
        if not result.ok:
            raise CommandError(f"Session {session_id}: {len(result.mismatches)} mismatch(es) in {result.rounds} round(s).")
        self.stdout.write(f"Session {session_id}: all {result.rounds} round(s) verified.")
