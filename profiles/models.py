from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from .categories import Category

# Below this many characters a substring search cannot use a trigram index (trigrams are
# three characters long), so the list searches by prefix instead.
TRIGRAM_MIN_LENGTH = 3


def normalize_email(address: str) -> str:
    """Addresses are compared case-insensitively everywhere: store them folded."""
    return address.strip().lower()


def is_full_address(term: str) -> bool:
    try:
        validate_email(term)
    except ValidationError:
        return False
    return True


class ProfileQuerySet(models.QuerySet):
    def search(self, term: str) -> "ProfileQuerySet":
        """Profiles whose email or name contains `term` (case-insensitive).

        A whole address finds its profile through the unique index at once; only when no
        profile has that address is it searched for like any other term.

        Terms of three characters or more are matched anywhere, which PostgreSQL answers from
        the trigram indexes; shorter terms match the start of the email or name, answered from
        the btree pattern indexes, so a one-letter search never scans a million rows. On
        PostgreSQL those indexes are on `ProfileSearch`, not on the profile.
        """
        term = term.strip()
        if not term:
            return self
        if is_full_address(term):
            exact = self.filter(email=normalize_email(term))
            if exact.exists():
                return exact
        if len(term) >= TRIGRAM_MIN_LENGTH:
            matches = Q(email__icontains=term) | Q(name__icontains=term)
        else:
            matches = Q(email__startswith=term.lower()) | Q(name__istartswith=term)
        if connection.vendor != "postgresql":
            return self.filter(matches)
        return self.filter(pk__in=ProfileSearch.objects.filter(matches).values("profile_id"))

    def with_status(self, status: str = "", reason: str = "") -> "ProfileQuerySet":
        queryset = self
        if status:
            queryset = queryset.filter(status=status)
        if reason:
            queryset = queryset.filter(inactive_reason=reason)
        return queryset


class Profile(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    class Reason(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", "Hard bounce"
        SOFT_BOUNCE = "soft_bounce", "Repeated soft bounces"
        DROPPED = "dropped", "Dropped"
        INVALID = "invalid", "Invalid"
        SPAM = "spam", "Spam complaint"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        MANUAL = "manual", "Manual"

    # Compared byte by byte on PostgreSQL (COLLATE "C", migration 0004): folded addresses need
    # no locale, and callbacks look up thousands of them per batch.
    email = models.CharField(max_length=254, unique=True)
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.ACTIVE)
    inactive_reason = models.CharField(max_length=20, choices=Reason, blank=True)
    inactive_since = models.DateTimeField(null=True, blank=True)
    inactive_provider = models.CharField(
        max_length=100, blank=True, help_text="Nickname of the provider behind the change."
    )
    inactive_detail = models.TextField(blank=True, help_text="The ESP's diagnostic text.")
    soft_bounce_count = models.PositiveIntegerField(default=0)
    soft_bounce_since = models.DateTimeField(null=True, blank=True)
    unsubscribed_categories = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProfileQuerySet.as_manager()

    # The email status and what explains it: written by callbacks, the preference center and
    # the re-activation service only.
    STATUS_FIELDS = [
        "status",
        "inactive_reason",
        "inactive_since",
        "inactive_provider",
        "inactive_detail",
        "soft_bounce_count",
        "soft_bounce_since",
    ]

    class Meta:
        ordering = ["email"]
        indexes = [
            models.Index(fields=["status", "inactive_reason", "email"], name="profile_status_idx"),
            models.Index(Lower("name"), name="profile_name_lower_idx"),
            models.Index(fields=["-created_at"], name="profile_created_idx"),
            models.Index(fields=["inactive_since"], name="profile_inactive_since_idx"),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def unsubscribed_category_labels(self) -> list[str]:
        keys = set(self.unsubscribed_categories or [])
        return [category.label for category in Category if category.value in keys]


class ProfileSearch(models.Model):
    """A profile's email and name again, with the search indexes (PostgreSQL; empty on SQLite).

    Callback events change a profile's status, never its email or name. Were the search
    indexes (two trigram GIN and a pattern btree) on the profile, each status change, which is
    not a heap-only update, would add entries to them too; here they are written only when a
    profile is created or its email or name changes. Triggers of migration 0002 keep the rows
    in step with every writer (the ORM, imports, the callbacks' bulk SQL, COPY).
    """

    profile = models.OneToOneField(
        Profile,
        on_delete=models.DO_NOTHING,  # the trigger deletes the row with its profile
        primary_key=True,
        related_name="+",
        db_constraint=False,
    )
    email = models.CharField(max_length=254)
    name = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return self.email


class TimelineEvent(models.Model):
    """A system event on a profile's timeline, as the documents name them."""

    class Kind(models.TextChoices):
        NOTIFICATION_DELIVERED = "notification_delivered", "Notification Delivered"
        NOTIFICATION_FAILED = "notification_failed", "Notification Failed"
        CHANNEL_UNSUBSCRIBED = "channel_unsubscribed", "Channel Unsubscribed"
        CHANNEL_RESUBSCRIBED = "channel_resubscribed", "Channel Resubscribed"
        PREFERENCES_UPDATED = "preferences_updated", "Preferences Updated"

    # No index of its own: timeline_profile_idx starts with profile and serves every lookup,
    # and one index fewer is one write fewer per event at callback volume. No database
    # constraint either: PostgreSQL checks it per inserted row with a KEY SHARE lock that
    # dirties the profile's page, which cost callback ingestion about a fifth of its time.
    # Django's CASCADE still deletes a profile's timeline with it; the one gap is a batch
    # that read a profile just before it was deleted, which leaves rows nothing shows.
    profile = models.ForeignKey(
        Profile,
        on_delete=models.CASCADE,
        related_name="timeline",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(max_length=30, choices=Kind)
    occurred_at = models.DateTimeField()
    provider_name = models.CharField(max_length=100, blank=True)
    # A callback event's properties, one column each (None: the event has none): callbacks
    # insert a thousand events a batch, and building each one's JSON took a third of the
    # insert. Every other event's properties, and those of callback events stored before
    # these columns, are in `extra`; `properties` reads them all.
    provider_type = models.CharField(max_length=100, null=True, blank=True)
    esp_event = models.TextField(null=True, blank=True)
    meta = models.TextField(null=True, blank=True)
    event_id = models.TextField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)
    unsubscribe_type = models.TextField(null=True, blank=True)
    reason = models.TextField(null=True, blank=True)
    extra = models.JSONField(
        db_column="properties",
        default=dict,
        blank=True,
        help_text="Properties not held in a column of their own.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # The properties the documents name, by the column that holds each.
    PROPERTY_COLUMNS = {
        "Provider": "provider_type",
        "esp_event": "esp_event",
        "meta": "meta",
        "event_id": "event_id",
        "Error": "error",
        "Type": "unsubscribe_type",
        "reason": "reason",
    }

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["profile", "-occurred_at", "-id"], name="timeline_profile_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"

    @property
    def properties(self) -> dict:
        """The event's properties (Provider, Error, Type, reason, meta…), wherever stored."""
        found = {
            key: value
            for key, column in self.PROPERTY_COLUMNS.items()
            if (value := getattr(self, column)) is not None
        }
        if self.provider_type is not None:  # a callback event names its provider too
            found["Provider nickname"] = self.provider_name
        return {**found, **self.extra}

    @properties.setter
    def properties(self, value: dict) -> None:
        self.extra = dict(value)


class ProfileImport(models.Model):
    """One uploaded CSV of profiles, imported in the background by `tasks.import_profiles`.

    The file itself is kept in the row (not on a local disk) so that any worker machine can
    read it; it is emptied once the import has finished.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Finished"
        FAILED = "failed", "Failed"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filename = models.CharField(max_length=255, blank=True)
    source = models.BinaryField(editable=False, default=bytes)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    total = models.PositiveIntegerField(default=0, help_text="Data rows in the file.")
    processed = models.PositiveIntegerField(default=0, help_text="Data rows read so far.")
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(
        default=0, help_text="Lines naming a profile that already had that name."
    )
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="The first bad rows: [{line, message}]."
    )
    failure = models.TextField(blank=True, help_text="Why the whole file could not be imported.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import {self.pk} of {self.filename or 'a CSV file'} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return 0
        return min(100, self.processed * 100 // self.total)


class ProfileExport(models.Model):
    """A CSV of the profile list (with its search, filters and sort), built by
    `tasks.export_profiles` in the background and downloaded when ready.

    The file is kept in the database, compressed, as numbered parts (`ProfileExportPart`), so
    any worker machine can write it and any web machine can stream it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Exporting"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filters = models.JSONField(
        default=dict, blank=True, help_text="The list's q, status, reason, sort."
    )
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    total = models.PositiveIntegerField(default=0, help_text="Profiles to export.")
    processed = models.PositiveIntegerField(default=0, help_text="Profiles written so far.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return 0
        return min(100, self.processed * 100 // self.total)

    @property
    def filename(self) -> str:
        return f"profiles-{timezone.localtime(self.created_at):%Y%m%d-%H%M}.csv"


class ProfileExportPart(models.Model):
    """One piece of an export's CSV, zlib-compressed; the download joins them in order."""

    export = models.ForeignKey(ProfileExport, on_delete=models.CASCADE, related_name="parts")
    number = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["export", "number"]
        constraints = [
            models.UniqueConstraint(fields=["export", "number"], name="one_export_part_number")
        ]

    def __str__(self) -> str:
        return f"Part {self.number} of export {self.export_id}"
