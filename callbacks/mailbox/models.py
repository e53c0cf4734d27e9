"""The bounce mailbox of an SMTP or Gmail provider: where to read it, and how it fares."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from common.backoff import retry_delay
from providers import crypto
from providers.forms.gmail import GMAIL_IMAP_PRESET
from providers.models import EmailProvider

IMPLICIT_TLS_PORT = 993
STARTTLS_PORT = 143
FIRST_RETRY_SECONDS = 60
LAST_RETRY_SECONDS = 6 * 3600


class BounceMailbox(models.Model):
    """IMAP settings of one provider's bounce mailbox, its resume point and its health."""

    class Tls(models.TextChoices):
        IMPLICIT = "implicit", "Implicit TLS (IMAPS)"
        STARTTLS = "starttls", "STARTTLS"

    class Processed(models.TextChoices):
        MARK_READ = "mark_read", "Mark as read"
        MOVE = "move", "Move to a folder"
        DELETE = "delete", "Delete"

    provider = models.OneToOneField(
        EmailProvider, on_delete=models.CASCADE, related_name="bounce_mailbox"
    )
    enabled = models.BooleanField(default=True)
    host = models.CharField(max_length=253)
    port = models.PositiveIntegerField(
        default=IMPLICIT_TLS_PORT, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    tls = models.CharField(max_length=10, choices=Tls.choices, default=Tls.IMPLICIT)
    username = models.CharField(max_length=254)
    password_encrypted = models.TextField(blank=True, editable=False)
    folder = models.CharField(max_length=200, default="INBOX")
    processed_action = models.CharField(
        max_length=10, choices=Processed.choices, default=Processed.MARK_READ
    )
    move_to_folder = models.CharField(max_length=200, blank=True)
    # Resume point: the highest UID whose events are in the inbox, valid for this UIDVALIDITY.
    uid_validity = models.BigIntegerField(null=True, blank=True, editable=False)
    last_uid = models.BigIntegerField(default=0, editable=False)
    # Health.
    polls = models.PositiveIntegerField(default=0, editable=False)
    last_poll_at = models.DateTimeField(null=True, blank=True, editable=False)
    messages_read = models.PositiveIntegerField(default=0, editable=False)
    bounces_found = models.PositiveIntegerField(default=0, editable=False)
    complaints_found = models.PositiveIntegerField(default=0, editable=False)
    unreadable_messages = models.PositiveIntegerField(default=0, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    failures = models.PositiveSmallIntegerField(default=0, editable=False)
    next_poll_at = models.DateTimeField(default=timezone.now, editable=False)
    # Set while a poll reads the mailbox; a poll that finds it set (and not past) skips it.
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        app_label = "callbacks"

    def __str__(self) -> str:
        return f"Bounce mailbox {self.username}@{self.host} of provider {self.provider_id}"

    @property
    def password(self) -> str:
        """The mailbox's own password; for Gmail's own account, the provider's app password."""
        if self.password_encrypted:
            return crypto.decrypt(self.password_encrypted)
        if self.uses_provider_password:
            return self.provider.secret
        return ""

    @property
    def uses_provider_password(self) -> bool:
        return (
            not self.password_encrypted
            and self.provider.kind == EmailProvider.Kind.GMAIL
            and self.username == self.provider.username
            and self.provider.secret_fits()
        )

    def set_password(self, plaintext: str) -> None:
        self.password_encrypted = crypto.encrypt(plaintext)

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted) or self.uses_provider_password

    def record_failure(self, error: str) -> None:
        """Note a failed poll and put the next one off, longer after each failure in a row."""
        self.failures += 1
        self.next_poll_at = timezone.now() + retry_delay(
            self.failures, first_seconds=FIRST_RETRY_SECONDS, last_seconds=LAST_RETRY_SECONDS
        )
        self.last_error = error[:1000]
        self.last_poll_at = timezone.now()


def defaults_for(provider: EmailProvider) -> dict:
    """Initial settings: for Gmail, the provider's own account on imap.gmail.com:993."""
    if provider.kind == EmailProvider.Kind.GMAIL:
        return {
            **GMAIL_IMAP_PRESET,
            "tls": BounceMailbox.Tls.IMPLICIT,
            "username": provider.username,
        }
    return {"host": "", "port": IMPLICIT_TLS_PORT, "tls": BounceMailbox.Tls.IMPLICIT}
