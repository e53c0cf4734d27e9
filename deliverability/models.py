"""Deliverability guard: rate thresholds, the alerts they raise, sending-domain checks."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from providers.models import EmailProvider

PERCENT = [MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))]


class Metric(models.TextChoices):
    BOUNCE_RATE = "bounce_rate", "Bounce rate"
    COMPLAINT_RATE = "complaint_rate", "Complaint rate"


class Level(models.TextChoices):
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class Window(models.TextChoices):
    DAY = "24h", "Last 24 hours"
    WEEK = "7d", "Last 7 days"


def percent_field(label: str, default: str) -> models.DecimalField:
    """A threshold in percent, 0–100 with two decimals."""
    return models.DecimalField(
        label, max_digits=5, decimal_places=2, default=Decimal(default), validators=PERCENT
    )


class Thresholds(models.Model):
    """The one row of rate thresholds (percentages), editable by staff.

    Defaults follow the large mailbox providers' bulk-sender guidance: complaints under 0.3%,
    aiming under 0.1%; bounces worrying from 2%, critical from 5%.
    """

    bounce_warning = percent_field("Bounce rate: warning at (%)", "2.00")
    bounce_critical = percent_field("Bounce rate: critical at (%)", "5.00")
    complaint_warning = percent_field("Complaint rate: warning at (%)", "0.10")
    complaint_critical = percent_field("Complaint rate: critical at (%)", "0.30")
    minimum_delivered = models.PositiveIntegerField(
        "Minimum delivered messages before alerting",
        default=100,
        validators=[MinValueValidator(1)],
        help_text="Below this volume in a window, rates are shown but raise no alert.",
    )

    class Meta:
        verbose_name = "thresholds"
        verbose_name_plural = "thresholds"

    def __str__(self) -> str:
        return "Deliverability thresholds"

    @classmethod
    def current(cls) -> "Thresholds":
        """The saved thresholds, or the defaults when nobody changed them yet."""
        return cls.objects.order_by("pk").first() or cls()

    def limits(self, metric: str) -> dict[str, Decimal]:
        """{level: threshold} for one metric."""
        if metric == Metric.BOUNCE_RATE:
            return {Level.WARNING: self.bounce_warning, Level.CRITICAL: self.bounce_critical}
        return {Level.WARNING: self.complaint_warning, Level.CRITICAL: self.complaint_critical}


class AlertQuerySet(models.QuerySet):
    def unacknowledged(self) -> "AlertQuerySet":
        return self.filter(acknowledged_at__isnull=True)


class Alert(models.Model):
    """A threshold crossed by one provider; at most one per provider, threshold and day."""

    provider = models.ForeignKey(EmailProvider, on_delete=models.CASCADE, related_name="alerts")
    metric = models.CharField(max_length=20, choices=Metric)
    level = models.CharField(max_length=10, choices=Level)
    window = models.CharField(max_length=3, choices=Window)
    day = models.DateField()
    rate = models.DecimalField(max_digits=6, decimal_places=2)
    threshold = models.DecimalField(max_digits=5, decimal_places=2)
    delivered = models.PositiveIntegerField()
    raised_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_error = models.CharField(max_length=300, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "metric", "level", "day"], name="one_alert_per_threshold_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id} {self.metric} {self.level} {self.day}"


class DomainCheck(models.Model):
    """The latest SPF / DKIM / DMARC check of a provider's From domain."""

    provider = models.OneToOneField(
        EmailProvider, on_delete=models.CASCADE, related_name="domain_check"
    )
    dkim_selector = models.CharField(
        "DKIM selector",
        max_length=63,
        blank=True,
        help_text="Leave blank to try the selectors the ESP documents.",
    )
    domain = models.CharField(max_length=253, blank=True)
    results = models.JSONField(default=dict, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.domain} ({self.provider_id})"
