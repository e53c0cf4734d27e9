from django.db import models
from django.db.models.functions import Lower


def normalize_email(address: str) -> str:
    """Addresses are compared case-insensitively everywhere: store them folded."""
    return address.strip().lower()


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

    class Meta:
        ordering = ["email"]
        indexes = [
            models.Index(fields=["status", "inactive_reason", "email"], name="profile_status_idx"),
            models.Index(Lower("name"), name="profile_name_lower_idx"),
            models.Index(fields=["-created_at"], name="profile_created_idx"),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class TimelineEvent(models.Model):
    """A system event on a profile's timeline, as the documents name them."""

    class Kind(models.TextChoices):
        NOTIFICATION_DELIVERED = "notification_delivered", "Notification Delivered"
        NOTIFICATION_FAILED = "notification_failed", "Notification Failed"
        CHANNEL_UNSUBSCRIBED = "channel_unsubscribed", "Channel Unsubscribed"
        CHANNEL_RESUBSCRIBED = "channel_resubscribed", "Channel Resubscribed"

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=30, choices=Kind)
    occurred_at = models.DateTimeField()
    provider_name = models.CharField(max_length=100, blank=True)
    properties = models.JSONField(
        default=dict, blank=True, help_text="Event properties: Error, Type, reason, meta."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["profile", "-occurred_at", "-id"], name="timeline_profile_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"
