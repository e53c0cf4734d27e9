"""What the provider page's callback panel shows: the health of a provider's callbacks and its
latest requests.

The health is one query: the provider's row with a subquery per fact. Each subquery reads only
what it needs, so the page stays fast however long the callback log grows: the last real
callback walks the (provider, -received_at) index backwards and stops at the first row; the
request counts read the last 24 hours of that index only, which on a table partitioned by
time also prunes to the recent partitions; the batches come from the inbox, which holds only
what waits.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, F, Func, IntegerField, JSONField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, JSONObject
from django.utils import timezone

from providers.models import EmailProvider, TestEmail

from .models import CallbackLog, DailyStat, EventKind, PendingBatch

QUIET_AFTER = timedelta(days=1)
LAST_DAY = timedelta(hours=24)


@dataclass
class CallbackHealth:
    last_received_at: datetime | None = None
    requests_24h: int = 0
    rejected_24h: int = 0
    samples_24h: int = 0  # sample callbacks sent from the provider page; not in the counts above
    counts_today: dict[str, int] = field(default_factory=dict)  # kind label → events dated today
    quiet_since_test_email: datetime | None = None  # set when the warning applies
    waiting_batches: int = 0  # accepted batches no worker has applied yet, failing ones included
    failing_batches: int = 0  # accepted batches whose application failed and is retried
    failing_since: datetime | None = None  # when the oldest of them was received
    failing_error: str = ""  # the last error of the batch that failed most often

    @property
    def events_today(self) -> int:
        return sum(self.counts_today.values())


def callback_health(provider: EmailProvider, now: datetime | None = None) -> CallbackHealth:
    """When the last callback came, how many requests the last 24 hours brought, the events of
    today by kind, the batches that wait or fail, and whether it is too quiet.

    Events count on the day they happened, from the same counters as the Stats page
    (`callbacks.stats.counted_at`); requests count when they were received. The warning: a test
    email went out more than a day ago and no callback has arrived since.
    """
    now = now or timezone.now()
    facts = EmailProvider.objects.filter(pk=provider.pk).values(**_fact_subqueries(now)).get()
    last_day = facts["last_day"] or {}
    counts_today = facts["counts_today"] or {}
    health = CallbackHealth(
        last_received_at=facts["last_received_at"],
        requests_24h=last_day.get("requests", 0),
        rejected_24h=last_day.get("rejected", 0),
        samples_24h=last_day.get("samples", 0),
        counts_today={
            kind.label: counts_today[kind.value]
            for kind in EventKind
            if counts_today.get(kind.value)
        },
        waiting_batches=facts["waiting_batches"],
        failing_batches=facts["failing_batches"],
        failing_since=facts["failing_since"],
        failing_error=facts["failing_error"] or "",
    )
    last_test = facts["last_test_sent_at"]
    if (
        last_test is not None
        and last_test <= now - QUIET_AFTER
        and (health.last_received_at is None or health.last_received_at < last_test)
    ):
        health.quiet_since_test_email = last_test
    return health


def recent_logs(provider: EmailProvider, limit: int = 10) -> list[CallbackLog]:
    """The provider's latest requests, samples included, with their batch if one waits."""
    return list(
        CallbackLog.objects.filter(provider=provider)
        .select_related("pending")
        .defer("pending__body")
        .order_by("-received_at", "-id")[:limit]
    )


def waiting_batches(provider: EmailProvider) -> int:
    """Accepted callback batches of `provider` that no worker has applied yet."""
    return PendingBatch.objects.filter(log__provider=provider).count()


def _fact_subqueries(now: datetime) -> dict:
    """The panel's facts as subqueries of the provider's row."""
    logs = CallbackLog.objects.filter(provider=OuterRef("pk")).order_by()
    real = Q(is_sample=False)
    last_day = logs.filter(received_at__gte=now - LAST_DAY).values("provider")
    counts_of_day = JSONObject(**{kind.value: kind.value for kind in EventKind})
    today = DailyStat.objects.filter(provider=OuterRef("pk"), date=timezone.localdate(now))
    sent_tests = TestEmail.objects.filter(provider=OuterRef("pk"), status=TestEmail.Status.SENT)
    batches = PendingBatch.objects.filter(log__provider=OuterRef("pk")).order_by()
    failing = batches.filter(attempts__gt=0)
    return {
        "last_received_at": Subquery(
            logs.filter(real).order_by("-received_at").values("received_at")[:1]
        ),
        "last_day": Subquery(
            last_day.annotate(
                counts=JSONObject(
                    requests=Count("pk", filter=real),
                    rejected=Count("pk", filter=real & Q(status_code__gte=400)),
                    samples=Count("pk", filter=~real),
                )
            ).values("counts"),
            output_field=JSONField(),
        ),
        "counts_today": Subquery(today.values(counts=counts_of_day), output_field=JSONField()),
        "last_test_sent_at": Subquery(sent_tests.order_by("-created_at").values("created_at")[:1]),
        "waiting_batches": _count(batches),
        "failing_batches": _count(failing),
        "failing_since": Subquery(
            failing.order_by("log__received_at").values("log__received_at")[:1]
        ),
        "failing_error": Subquery(failing.order_by("-attempts", "log_id").values("last_error")[:1]),
    }


def _count(queryset) -> Coalesce:
    """COUNT(*) of `queryset` as a scalar subquery (no GROUP BY)."""
    counted = queryset.annotate(count=Func(F("pk"), function="COUNT")).values("count")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)
