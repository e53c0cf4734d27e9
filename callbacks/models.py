from django.db import models
from django.utils import timezone

from providers.models import EmailProvider, TestEmail


class EventKind(models.TextChoices):
    """The normalised kinds every parser maps an ESP's event to."""

    DELIVERED = "delivered", "Delivered"
    SOFT_BOUNCE = "soft_bounce", "Soft bounce"
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    DROPPED = "dropped", "Dropped"
    INVALID = "invalid", "Invalid"
    SPAM = "spam", "Spam"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    IGNORED = "ignored", "Ignored (logged only)"


class CallbackLog(models.Model):
    """One request to a callback URL and what became of it."""

    # No index of its own: callbacklog_provider_idx starts with the provider and serves every
    # lookup by it. A second one cost every accepted request a write, and let the planner pick
    # it for the provider page's last-day counts, reading the whole day instead of its end.
    provider = models.ForeignKey(
        EmailProvider, on_delete=models.CASCADE, related_name="callback_logs", db_index=False
    )
    received_at = models.DateTimeField(auto_now_add=True)
    method = models.CharField(max_length=10, default="POST")
    payload_format = models.CharField(max_length=30, blank=True)
    status_code = models.PositiveSmallIntegerField()
    events_total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    ignored = models.PositiveIntegerField(default=0)
    kind_counts = models.JSONField(
        default=dict, blank=True, help_text="New events of this request per kind."
    )
    error = models.TextField(blank=True)
    body_excerpt = models.TextField(blank=True)
    is_sample = models.BooleanField(default=False)
    body_digest = models.BinaryField(
        null=True,
        editable=False,
        help_text="Of the body, once applied in full: a copy the ESP posts again is known by it.",
    )
    applied_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "When the events were applied (when answered, if none were accepted); "
            "empty while they wait."
        ),
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["provider", "-received_at"], name="callbacklog_provider_idx"),
            models.Index(
                fields=["provider", "body_digest"],
                condition=models.Q(body_digest__isnull=False),
                name="callbacklog_body_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.status_code} for {self.provider_id} at {self.received_at}"

    @property
    def is_waiting(self) -> bool:
        """Accepted events that no worker has applied yet."""
        return self.processed > 0 and self.applied_at is None and not self.is_sample

    @property
    def new_events(self) -> int:
        """Readable events that were neither duplicates nor ignored: new to Postdesk."""
        return self.processed - self.duplicates - self.ignored


class PendingBatch(models.Model):
    """An accepted callback batch waiting for a worker to apply it (see `callbacks.inbox`)."""

    # No database constraint: on PostgreSQL the log is partitioned by day and its primary key
    # is (id, received_at) (`callbacks.partitioning`); Django still cascades, and retention
    # never drops a log whose batch waits here.
    log = models.OneToOneField(
        CallbackLog,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="pending",
        db_constraint=False,
    )
    body = models.BinaryField(
        help_text="The body the ESP posted, checked; a worker parses it to apply it."
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Failed attempts so far.")
    retry_at = models.DateTimeField(default=timezone.now, help_text="Not applied before this time.")
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "pending batches"
        # /health/ and /metrics read the inbox lag (the oldest due batch) from this index.
        indexes = [models.Index(fields=["retry_at"], name="pendingbatch_retry_at_idx")]

    def __str__(self) -> str:
        return f"Batch of log {self.log_id} (attempts: {self.attempts})"


class InboxWakeup(models.Model):
    """At most one row: a worker has been asked to apply the inbox and has not yet emptied it.

    While the row exists, the endpoint stores batches without queueing another task: the asked
    worker finds them. A worker deletes the row only when it finds nothing due, then looks
    once more (`callbacks.inbox`), so a batch stored meanwhile is never left behind.
    """

    def __str__(self) -> str:
        return "Workers asked to apply the callback inbox"


class DailyStat(models.Model):
    """Delivery counters per provider per day, incremented atomically in bulk."""

    # One column per event kind, plus the replays that were skipped.
    COUNTERS = [*(kind.value for kind in EventKind), "duplicates"]

    provider = models.ForeignKey(
        EmailProvider, on_delete=models.CASCADE, related_name="daily_stats"
    )
    date = models.DateField()
    delivered = models.PositiveIntegerField(default=0)
    soft_bounce = models.PositiveIntegerField(default=0)
    hard_bounce = models.PositiveIntegerField(default=0)
    dropped = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    spam = models.PositiveIntegerField(default=0)
    unsubscribed = models.PositiveIntegerField(default=0)
    ignored = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "date"], name="one_stat_per_provider_day"),
        ]
        indexes = [models.Index(fields=["date"], name="dailystat_date_idx")]

    def __str__(self) -> str:
        return f"{self.provider_id} {self.date}"

    @property
    def bounces(self) -> int:
        return self.soft_bounce + self.hard_bounce


class ReceivedEvent(models.Model):
    """The de-duplication key of every applied event: a replayed event is skipped.

    The key is binary and is the primary key, so each event costs one small index entry:
    eight bytes of the event's time (seconds since the epoch, big-endian, so keys sort by time)
    and the first sixteen bytes of its SHA-256 dedupe key (`dedupe.stored_key`).
    """

    pk = models.CompositePrimaryKey("provider", "event_key")
    # No database constraint: it would check the same provider row once per event (a
    # thousand times a batch); Django's CASCADE still deletes these rows with their provider.
    provider = models.ForeignKey(
        EmailProvider,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    event_key = models.BinaryField(max_length=24)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return bytes(self.event_key).hex()


class SoftBouncePolicy(models.Model):
    """Singleton, an admin's opt-in: when repeated soft bounces make an address Inactive.

    The documents count soft bounces and never make an address Inactive for them (seeds 002,
    003), so the row exists only once an admin saved a policy; until then `current()` is the
    default, "never".
    """

    threshold = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=None,
        help_text="Soft bounces that make an address Inactive; empty means never.",
    )
    window_days = models.PositiveSmallIntegerField(default=14)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "soft bounce policy"

    def __str__(self) -> str:
        if self.threshold is None:
            return "Never make an address Inactive for soft bounces"
        return f"Inactive after {self.threshold} soft bounces within {self.window_days} days"

    @classmethod
    def current(cls) -> "SoftBouncePolicy":
        """The saved policy, or the unsaved default ("never") when no admin has chosen one."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)

    @property
    def is_chosen(self) -> bool:
        """An admin saved this policy (the default is not stored)."""
        return not self._state.adding


class TestEmailEvent(models.Model):
    """A callback event whose meta names a test email: what the ESP reported for that message."""

    test_email = models.ForeignKey(TestEmail, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind)
    occurred_at = models.DateTimeField()
    description = models.TextField(blank=True)
    received_at = models.DateTimeField()

    __test__ = False  # not a pytest test class

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["test_email", "occurred_at"], name="testemailevent_email_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for test email {self.test_email_id}"


from callbacks.mailbox.models import BounceMailbox  # noqa: E402, F401  (the bounce mailbox)
