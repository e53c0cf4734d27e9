"""`GET /metrics`: the pipeline's counters in Prometheus's text format, read from the database.

Every number comes from the tables that already record it (the callback log, the daily stats,
the inbox, the test emails), so any number of gunicorn and Celery processes are counted once
and the callback endpoint does no extra work. Each scrape runs a handful of aggregates: the
callback log only over its last `RECENT_WINDOW` (indexed by time), the daily stats in full
(one row per provider per day), the inbox and the test emails grouped by their status.
"""

import hmac
from collections.abc import Iterator
from datetime import datetime, timedelta
from ipaddress import ip_address

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from callbacks.inbox import inbox_lag_seconds
from callbacks.mailbox.models import BounceMailbox
from callbacks.models import CallbackLog, DailyStat, EventKind, PendingBatch
from providers.models import TestEmail

RECENT_WINDOW = timedelta(minutes=5)


class DatabaseCollector(Collector):
    """Reads the metrics from the database at each scrape."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from callback_metrics(now)
        yield from event_metrics()
        yield from inbox_metrics(now)
        yield from test_email_metrics()
        yield from mailbox_poll_metrics()


def callback_metrics(now: datetime) -> Iterator[Metric]:
    """Callback requests and the events they brought, over the last `RECENT_WINDOW`."""
    window = int(RECENT_WINDOW.total_seconds())
    requests = GaugeMetricFamily(
        "postdesk_callback_requests_5m",
        f"Callback requests received in the last {window} seconds.",
        labels=["provider_kind", "format", "status"],
    )
    accepted = GaugeMetricFamily(
        "postdesk_callback_events_accepted_5m",
        f"Events accepted by the callback endpoint in the last {window} seconds.",
        labels=["provider_kind", "format"],
    )
    rows = (
        CallbackLog.objects.filter(received_at__gte=now - RECENT_WINDOW, is_sample=False)
        .values("provider__kind", "payload_format", "status_code")
        .annotate(requests=Count("pk"), events=Sum("processed"))
        .order_by()
    )
    events_by_format: dict[tuple[str, str], int] = {}
    for row in rows:
        labels = [row["provider__kind"], row["payload_format"] or "unknown"]
        requests.add_metric([*labels, str(row["status_code"])], row["requests"])
        key = (labels[0], labels[1])
        events_by_format[key] = events_by_format.get(key, 0) + row["events"]
    for labels, events in events_by_format.items():
        accepted.add_metric(list(labels), events)
    yield requests
    yield accepted


def event_metrics() -> Iterator[Metric]:
    """Events applied to profiles and stats by kind, and the replays skipped, since install."""
    columns = [kind.value for kind in EventKind]
    totals = DailyStat.objects.aggregate(
        **{column: Sum(column) for column in [*columns, "duplicates"]}
    )
    applied = CounterMetricFamily(
        "postdesk_events_applied", "Callback events applied, by kind.", labels=["kind"]
    )
    for column in columns:
        applied.add_metric([column], totals[column] or 0)
    yield applied
    yield CounterMetricFamily(
        "postdesk_events_duplicate",
        "Callback events skipped because they had been applied already.",
        value=totals["duplicates"] or 0,
    )


def inbox_metrics(now: datetime) -> Iterator[Metric]:
    """The batches waiting in the inbox, how old they are, and those that failed to apply."""
    inbox = PendingBatch.objects.aggregate(
        depth=Count("pk"),
        failing=Count("pk", filter=Q(attempts__gt=0)),
        failed_attempts=Sum("attempts"),
    )
    # Log ids grow with time, so the oldest batch is the first by primary key.
    oldest = PendingBatch.objects.order_by("pk").values_list("log__received_at", flat=True)
    oldest_received = oldest.first()
    oldest_age = (now - oldest_received).total_seconds() if oldest_received else 0.0
    yield GaugeMetricFamily(
        "postdesk_inbox_batches", "Callback batches waiting to be applied.", value=inbox["depth"]
    )
    yield GaugeMetricFamily(
        "postdesk_inbox_oldest_batch_age_seconds",
        "Age of the oldest callback batch waiting to be applied.",
        value=max(oldest_age, 0.0),
    )
    yield GaugeMetricFamily(
        "postdesk_inbox_lag_seconds",
        "How long the oldest due callback batch has waited for a worker.",
        value=inbox_lag_seconds(now),
    )
    yield GaugeMetricFamily(
        "postdesk_inbox_failing_batches",
        "Waiting callback batches that failed to apply at least once.",
        value=inbox["failing"],
    )
    yield GaugeMetricFamily(
        "postdesk_inbox_apply_failures",
        "Failed attempts to apply the callback batches still waiting.",
        value=inbox["failed_attempts"] or 0,
    )


def test_email_metrics() -> Iterator[Metric]:
    """Test emails by status and, for failed ones, why."""
    test_emails = GaugeMetricFamily(
        "postdesk_test_emails",
        "Test emails by status and failure reason.",
        labels=["status", "failure_reason"],
    )
    rows = TestEmail.objects.values("status", "failure_reason").annotate(count=Count("pk"))
    for row in rows.order_by():
        test_emails.add_metric([row["status"], row["failure_reason"]], row["count"])
    yield test_emails


MAILBOX_COUNTERS = {
    "polls": ("postdesk_bounce_mailbox_polls", "Polls of the bounce mailbox, failed ones too."),
    "messages_read": ("postdesk_bounce_mailbox_messages_read", "Messages read from it."),
    "bounces_found": ("postdesk_bounce_mailbox_bounces", "Bounces found in its messages."),
    "complaints_found": (
        "postdesk_bounce_mailbox_complaints",
        "Spam complaints found in its messages.",
    ),
    "unreadable_messages": (
        "postdesk_bounce_mailbox_unreadable_messages",
        "Messages that could not be read, left in the mailbox.",
    ),
}


def mailbox_poll_metrics() -> Iterator[Metric]:
    """Each bounce mailbox's polls and findings since it was set up, and how its last poll went."""
    labels = ["provider_kind", "provider_id"]
    counters = {
        column: CounterMetricFamily(name, text, labels=labels)
        for column, (name, text) in MAILBOX_COUNTERS.items()
    }
    last_poll = GaugeMetricFamily(
        "postdesk_bounce_mailbox_last_poll_timestamp_seconds",
        "When the bounce mailbox was last polled (Unix time).",
        labels=labels,
    )
    failing = GaugeMetricFamily(
        "postdesk_bounce_mailbox_failing",
        "1 when the bounce mailbox's last poll failed.",
        labels=labels,
    )
    rows = BounceMailbox.objects.values(
        "provider_id", "provider__kind", "last_poll_at", "last_error", *MAILBOX_COUNTERS
    )
    for row in rows.order_by("provider_id"):
        values = [row["provider__kind"], str(row["provider_id"])]
        for column, counter in counters.items():
            counter.add_metric(values, row[column])
        if row["last_poll_at"]:
            last_poll.add_metric(values, row["last_poll_at"].timestamp())
        failing.add_metric(values, 1 if row["last_error"] else 0)
    yield from counters.values()
    yield last_poll
    yield failing


def scrape_allowed(request: HttpRequest) -> bool:
    """A scraper must show the bearer token or come from an allowed address (either will do)."""
    return _token_matches(request) or _address_allowed(request)


def _token_matches(request: HttpRequest) -> bool:
    if not settings.METRICS_TOKEN:
        return False
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.METRICS_TOKEN.encode()
    )


def _address_allowed(request: HttpRequest) -> bool:
    try:
        address = ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_IPS)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not (settings.METRICS_TOKEN or settings.METRICS_ALLOWED_IPS):
        raise Http404("Metrics are off.")
    if not scrape_allowed(request):
        response = HttpResponse("Not allowed to read the metrics.\n", status=401)
        if settings.METRICS_TOKEN:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        else:
            response.status_code = 403
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(registry), content_type=content_type)
