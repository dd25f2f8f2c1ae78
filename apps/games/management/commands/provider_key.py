"""python manage.py provider_key CODE (--public-key PEMFILE | --secret VALUE) (API.md, Operations).

Registers or rotates a provider's key, creating the provider if new: an RSA public key for the Caleta
family, an HMAC secret for the generic protocol (stored encrypted, never printed back).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import DomainError
from apps.games.services import provider_key_set


class Command(BaseCommand):
    help = "Register or rotate a provider's RSA public key (Caleta family) or HMAC secret (generic); creates the provider if new."

    def add_arguments(self, parser):
        parser.add_argument("code")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--public-key", dest="public_key", help="Path of the provider's RSA public key (PEM).")
        group.add_argument("--secret", help="The shared HMAC secret (at least 32 characters).")

    def handle(self, *args, code: str, public_key: str | None, secret: str | None, **options):
        pem = None
        if public_key is not None:
            try:
                pem = Path(public_key).read_text()
            except OSError as exc:
                raise CommandError(f"Cannot read {public_key}: {exc}") from None
        try:
            provider, created = provider_key_set(code=code, secret=secret, public_key_pem=pem)
        except DomainError as exc:
            details = " ".join(str(m) for ms in exc.details.values() for m in (ms if isinstance(ms, list) else [ms]))
            raise CommandError(f"{exc.message} {details}".strip()) from None
        what = "public key" if pem is not None else "secret"
        done = "registered (new provider)" if created else "rotated"
        self.stdout.write(f"Provider {provider.code} ({provider.protocol}): {what} {done}.")
