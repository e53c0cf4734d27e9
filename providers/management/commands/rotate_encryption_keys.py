"""Re-encrypt every stored provider secret under the newest key.

Rotation: put a new Fernet key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it),
deploy, run this command, then drop the old keys. Secrets are never printed.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from providers.crypto import SecretUnreadable
from providers.models import EmailProvider


class Command(BaseCommand):
    help = "Re-encrypt every stored provider secret under the newest FIELD_ENCRYPTION_KEYS key."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check that every secret can be read, without writing anything.",
        )

    def handle(self, *args, dry_run: bool = False, **options):
        rotated, unreadable = 0, []
        with transaction.atomic():
            providers = (
                EmailProvider.objects.select_for_update()
                .exclude(secret_encrypted="", webhook_secret_encrypted="")
                .only("pk", "nickname", "secret_encrypted", "webhook_secret_encrypted")
                .order_by("pk")
            )
            changed = []
            for provider in providers:
                try:
                    provider.reencrypt_secret()
                except SecretUnreadable:
                    unreadable.append(provider.nickname)
                    continue
                changed.append(provider)
            if unreadable:
                raise CommandError(
                    "No configured key can read the secret of: "
                    + ", ".join(unreadable)
                    + ". Nothing was changed; add the missing key to FIELD_ENCRYPTION_KEYS."
                )
            if not dry_run:
                EmailProvider.objects.bulk_update(
                    changed, ["secret_encrypted", "webhook_secret_encrypted"], batch_size=500
                )
            rotated = len(changed)
        verb = "can be re-encrypted" if dry_run else "re-encrypted under the newest key"
        self.stdout.write(self.style.SUCCESS(f"{rotated} provider secret(s) {verb}."))
