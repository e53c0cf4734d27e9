"""What the provider page's callback panel shows: health, recent requests, the sample button.

Usage (``templates/callbacks/_provider_callbacks_panel.html``)::

    {% load callback_tags %}
    {% callback_health provider as health %}
    {% recent_callback_logs provider 10 as logs %}
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django import template
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from providers.models import EmailProvider, TestEmail

from ..models import CallbackLog, DailyStat, EventKind, PendingBatch

register = template.Library()

QUIET_AFTER = timedelta(days=1)


@dataclass
class CallbackHealth:
    last_received_at: datetime | None = None
    requests_24h: int = 0
    rejected_24h: int = 0
    counts_today: dict[str, int] = field(default_factory=dict)  # kind label → events dated today
    quiet_since_test_email: datetime | None = None  # set when the warning applies
    failing_batches: int = 0  # accepted batches whose application failed and is retried
    failing_since: datetime | None = None  # when the oldest of them was received
    failing_error: str = ""  # the last error of the batch that failed most often

    @property
    def events_today(self) -> int:
        return sum(self.counts_today.values())


@register.simple_tag
def callback_health(provider: EmailProvider, now: datetime | None = None) -> CallbackHealth:
    """When the last callback came, how many requests the last 24 hours brought, the events of
    today by kind, and whether it is too quiet.

    Events count on the day they happened, from the same counters as the Stats page
    (`callbacks.stats.counted_at`); requests count when they were received. The warning: a test
    email went out more than a day ago and no callback has arrived since.
    """
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    real = CallbackLog.objects.filter(provider=provider, is_sample=False)
    aggregates = {
        "last": Max("received_at"),
        "requests": Count("id", filter=Q(received_at__gte=since)),
        "rejected": Count("id", filter=Q(received_at__gte=since, status_code__gte=400)),
    }
    row = real.aggregate(**aggregates)
    health = CallbackHealth(
        last_received_at=row["last"],
        requests_24h=row["requests"],
        rejected_24h=row["rejected"],
        counts_today=_counts_of_day(provider, timezone.localdate(now)),
    )
    last_test = (
        provider.test_emails.filter(status=TestEmail.Status.SENT)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if (
        last_test is not None
        and last_test <= now - QUIET_AFTER
        and (health.last_received_at is None or health.last_received_at < last_test)
    ):
        health.quiet_since_test_email = last_test
    _add_failing_batches(health, provider)
    return health


def _counts_of_day(provider: EmailProvider, day) -> dict[str, int]:
    """The provider's events dated `day`, per kind label, as the Stats page counts them."""
    stat = DailyStat.objects.filter(provider=provider, date=day).first()
    if stat is None:
        return {}
    counts = {kind.label: getattr(stat, kind.value) for kind in EventKind}
    return {label: count for label, count in counts.items() if count}


def _add_failing_batches(health: CallbackHealth, provider: EmailProvider) -> None:
    """Batches the workers keep failing to apply: the ESP got its 200, the profiles wait."""
    failing = PendingBatch.objects.filter(log__provider=provider, attempts__gt=0)
    row = failing.aggregate(count=Count("pk"), since=Min("log__received_at"))
    if not row["count"]:
        return
    health.failing_batches = row["count"]
    health.failing_since = row["since"]
    health.failing_error = (
        failing.order_by("-attempts", "log_id").values_list("last_error", flat=True).first()
    )


@register.simple_tag
def recent_callback_logs(provider: EmailProvider, limit: int = 10):
    return list(
        CallbackLog.objects.filter(provider=provider)
        .select_related("pending")
        .defer("pending__body")
        .order_by("-received_at", "-id")[:limit]
    )


@register.simple_tag
def waiting_callback_batches(provider: EmailProvider) -> int:
    """Accepted callback batches of `provider` that no worker has applied yet."""
    return PendingBatch.objects.filter(log__provider=provider).count()
