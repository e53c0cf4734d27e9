"""The provider page's callback queries read the (provider, -received_at) index, never the whole
log: the plans PostgreSQL picks when it may not read a whole table, as on a large one."""

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from callbacks import health
from callbacks.models import CallbackLog, PendingBatch

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans"),
]

# The log's (provider, -received_at) index, or, on a log partitioned by day, each partition's.
INDEX = re.compile(
    r"Index (?:Only )?Scan (?:using|on) "
    r"(?:callbacklog_provider_idx|callbacks_callbacklog_\w+_provider_id_received_at_idx)"
)


def plans_without_seqscan(queries) -> list[str]:
    """The plan of each captured query with sequential scans ruled out."""
    plans = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


def callback_log_plans(plans: list[str]) -> list[str]:
    return [plan for plan in plans if "callbacks_callbacklog" in plan]


@pytest.fixture
def a_month_of_logs(make_provider, smtp_provider):
    """3000 requests of `smtp_provider` over 30 days, 1000 of another; two still waiting."""
    other = make_provider(nickname="Other")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO callbacks_callbacklog (provider_id, received_at, method, "
            "payload_format, status_code, events_total, processed, failed, duplicates, "
            "ignored, kind_counts, error, body_excerpt, is_sample, applied_at) "
            "SELECT CASE WHEN n %% 4 = 0 THEN %s ELSE %s END, "
            "now() - n * interval '10 minutes', 'POST', '', 200, 1, 1, 0, 0, 0, '{}', '', '', "
            "n %% 50 = 0, now() FROM generate_series(1, 4000) AS n",
            [other.pk, smtp_provider.pk],
        )
    for log in CallbackLog.objects.filter(provider=smtp_provider)[:2]:
        PendingBatch.objects.create(log=log, body=b"[]", attempts=1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE callbacks_callbacklog")
        cursor.execute("ANALYZE callbacks_pendingbatch")
    return smtp_provider


def test_the_health_reads_the_last_callback_and_the_last_day_from_the_index(a_month_of_logs):
    with CaptureQueriesContext(connection) as queries:
        health.callback_health(a_month_of_logs)
    assert len(queries) == 1
    (plan,) = plans_without_seqscan(queries)
    assert "Seq Scan on callbacks_callbacklog" not in plan
    last_callback, last_day = plan.split("SubPlan ")[1:3]
    # The last real callback: the index, newest first, stopped at the first real row.
    assert "Limit" in last_callback
    assert INDEX.search(last_callback)
    # The counts: the last 24 hours of the index only (a partitioned log prunes on it).
    assert INDEX.search(last_day)
    assert "AND (received_at >= '" in last_day, last_day


def test_the_recent_requests_and_the_log_page_read_the_index(client_logged_in, a_month_of_logs):
    smtp_provider = a_month_of_logs
    with CaptureQueriesContext(connection) as queries:
        health.recent_logs(smtp_provider)
        client_logged_in.get(reverse("callbacks:log", args=[smtp_provider.pk]))
    plans = callback_log_plans(plans_without_seqscan(queries))
    assert len(plans) == 2
    for plan in plans:
        assert INDEX.search(plan)
        assert "Seq Scan on callbacks_callbacklog" not in plan
