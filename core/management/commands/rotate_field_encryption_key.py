from django.core.management.base import BaseCommand, CommandError

from core.secrets import secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypts every stored secret (every EncryptedSecretField of every model) with the first key of "
        "FIELD_ENCRYPTION_KEY. Rotation: set FIELD_ENCRYPTION_KEY=NEW,OLD in every process, run this, then "
        "remove OLD. Exits non-zero, after rotating everything else, if some value no key decrypts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="rows per transaction (default 500)")

    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        result = secrets_rotate(batch_size=batch_size)
        self.stdout.write(
            f"Re-encrypted {result.rotated} secret(s) with the newest key; {result.current} already were; "
            f"{result.changed_meanwhile} changed meanwhile (written under the newest key). "
            f"Fields: {', '.join(result.fields) or 'none'}."
        )
        if result.unreadable:
            for where in result.unreadable:
                self.stderr.write(f"Unreadable with every key, left as stored: {where}")
            raise CommandError(
                f"{len(result.unreadable)} secret(s) could not be decrypted with any key of FIELD_ENCRYPTION_KEY: "
                "keep the key that encrypted them, or store them again (reconnect Stripe) before removing a key."
            )
