"""PostgreSQL: keys and logs live in day partitions, created ahead and dropped whole."""

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from callbacks import partitioning, retention, services
from callbacks.formats.base import CallbackEvent
from callbacks.models import CallbackLog, PendingBatch, ReceivedEvent
from callbacks.tasks import prune_callback_history
from common import partitions
from providers.models import EmailProvider
from tests.factories import delivered_event

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL partitions"),
]

# Months before the test database was created: no day partitions yet, until a prune makes them.
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
KEYS = partitioning.RECEIVED_EVENTS
LOGS = partitioning.CALLBACK_LOGS


@pytest.fixture(autouse=True)
def immediate_constraints(db):
    """Check foreign keys as rows are written: PostgreSQL drops no table of this test's
    transaction while a deferred check on it is pending (other transactions wrote the rows of
    a real expired day long ago)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.fixture
def provider(make_provider, settings):
    settings.CALLBACK_DEDUPE_DAYS = 7
    settings.CALLBACK_LOG_DAYS = 30
    return make_provider(EmailProvider.Kind.SENDGRID, nickname="SG main")


def apply(provider, item: CallbackEvent, received: datetime) -> int:
    """Apply one event; 1 if it was new, 0 if it was a replay."""
    return sum(services.apply_events(provider, [item], now=received).counts.values())


def rows_in(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return cursor.fetchone()[0]


def names(scheme) -> set[str]:
    return {partition.name for partition in partitions.partitions(scheme)}


def test_a_prune_creates_the_coming_days_partitions_and_is_idempotent(provider):
    result = retention.prune(now=T0)

    ahead = {f"{KEYS.table}_p202603{day:02}" for day in range(1, 9)}
    assert ahead <= names(KEYS)
    assert {f"{LOGS.table}_p202603{day:02}" for day in range(1, 9)} <= names(LOGS)
    assert set(result.created) >= ahead
    assert retention.prune(now=T0).created == []


def test_expired_key_days_are_dropped_and_newer_ones_kept(provider):
    retention.prune(now=T0)
    old, recent = delivered_event("old", T0), delivered_event("recent", T0 + 8 * DAY)
    apply(provider, old, T0)
    now = T0 + 9 * DAY  # T0's day ended 8 days and 12 hours ago: 7 days, plus a day's margin
    retention.prune(now=now - DAY)
    apply(provider, recent, now - DAY)

    result = retention.prune(now=now)

    assert f"{KEYS.table}_p20260301" in result.dropped
    assert f"{KEYS.table}_p20260302" not in result.dropped
    assert ReceivedEvent.objects.count() == 1
    assert apply(provider, recent, now) == 0


def test_a_key_in_a_day_partition_catches_a_replay_after_midnight(provider):
    retention.prune(now=T0)
    last_second = delivered_event("midnight", datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC))
    assert apply(provider, last_second, T0) == 1
    assert rows_in(KEYS.name(T0.date())) == 1

    next_day = T0 + DAY
    retention.prune(now=next_day)

    assert apply(provider, last_second, next_day) == 0


def test_a_key_in_the_default_partition_catches_a_replay(provider):
    retention.prune(now=T0)
    long_ago = delivered_event("long-ago", T0 - 60 * DAY)  # older than any day partition
    timeless = delivered_event("timeless", None)

    assert apply(provider, long_ago, T0) == 1
    assert apply(provider, timeless, T0) == 1
    assert rows_in(KEYS.default) == 2
    assert apply(provider, long_ago, T0 + DAY) == 0
    assert apply(provider, timeless, T0 + DAY) == 0


def test_rows_in_the_default_partition_move_into_their_new_day(provider):
    retention.prune(now=T0)
    early = delivered_event("future-clock", T0 + 20 * DAY)  # past the days created ahead
    assert apply(provider, early, T0) == 1
    assert rows_in(KEYS.default) == 1

    retention.prune(now=T0 + 15 * DAY)

    assert rows_in(KEYS.default) == 0
    assert rows_in(KEYS.name((T0 + 20 * DAY).date())) == 1
    assert apply(provider, early, T0 + 16 * DAY) == 0


def test_the_default_key_partition_is_pruned_by_receipt(provider):
    retention.prune(now=T0)
    apply(provider, delivered_event("long-ago", T0 - 60 * DAY), T0)

    assert retention.prune(now=T0 + 6 * DAY).keys == 0
    assert retention.prune(now=T0 + 7 * DAY + timedelta(minutes=1)).keys == 1


def callback_log(provider, received_at: datetime, *, pending: bool = False) -> CallbackLog:
    log = CallbackLog.objects.create(provider=provider, status_code=200, applied_at=received_at)
    CallbackLog.objects.filter(pk=log.pk).update(received_at=received_at)
    if pending:
        CallbackLog.objects.filter(pk=log.pk).update(applied_at=None)
        PendingBatch.objects.create(log=log, body=b"[]")
    return log


def test_log_days_are_dropped_after_the_retention(provider):
    retention.prune(now=T0)
    old, recent = callback_log(provider, T0), callback_log(provider, T0 + 2 * DAY)
    assert rows_in(LOGS.name(T0.date())) == 1

    result = retention.prune(now=T0 + 31 * DAY)

    assert LOGS.name(T0.date()) in result.dropped
    assert list(CallbackLog.objects.values_list("pk", flat=True)) == [recent.pk]
    assert old.pk != recent.pk


def test_a_log_whose_batch_still_waits_keeps_its_day(provider):
    retention.prune(now=T0)
    waiting = callback_log(provider, T0, pending=True)
    day = LOGS.name(T0.date())

    result = retention.prune(now=T0 + 31 * DAY)

    assert day in result.kept and day not in result.dropped
    assert PendingBatch.objects.get().log_id == waiting.pk
    assert CallbackLog.objects.filter(pk=waiting.pk).exists()

    PendingBatch.objects.all().delete()  # applied at last
    assert day in retention.prune(now=T0 + 32 * DAY).dropped


def test_a_batch_applied_where_no_day_partition_exists_loses_nothing(provider):
    """Beat stopped longer than the days created ahead: the DEFAULT partitions take the rows."""
    assert partitions.partitions(KEYS)[0].lower > partitioning.key_prefix(T0)
    log = callback_log(provider, T0)
    assert apply(provider, delivered_event("no-day", T0), T0) == 1

    assert rows_in(KEYS.default) == 1
    assert rows_in(LOGS.default) == 1
    assert CallbackLog.objects.get().pk == log.pk
    assert rows_in("profiles_timelineevent_delivered_default") == 1


def test_a_drop_that_would_wait_for_a_long_transaction_gives_up_until_the_next_run(provider):
    """Inserts queue behind a waiting DROP: it waits only `LOCK_TIMEOUT`, then tries later."""
    retention.prune(now=T0)
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
    ) as reader:
        reader.execute("SET lock_timeout = '5s'")
        reader.execute(f"LOCK TABLE ONLY {KEYS.table} IN ACCESS SHARE MODE")  # a long report
        started = time.monotonic()
        result = partitions.drop_expired(KEYS, T0 + 20 * DAY)
        waited = time.monotonic() - started

    assert KEYS.name(T0.date()) in result.busy and not result.dropped
    assert waited < 5
    assert KEYS.name(T0.date()) in names(KEYS)


def test_the_default_partition_is_pruned_in_chunks_until_done(provider):
    retention.prune(now=T0)
    items = [delivered_event(f"long-ago-{n}", T0 - 60 * DAY) for n in range(5)]
    services.apply_events(provider, items, now=T0)

    assert partitions.delete_where(KEYS.default, "received_at <= %s", [T0], chunk=2) == 5
    assert rows_in(KEYS.default) == 0


def test_the_hourly_task_warns_of_a_day_kept_for_a_waiting_batch(provider, caplog):
    now = timezone.now()
    partitions.ensure(LOGS, now - 40 * DAY, now - 39 * DAY)
    callback_log(provider, now - 40 * DAY, pending=True)

    prune_callback_history.apply()

    assert LOGS.name((now - 40 * DAY).date()) in caplog.text
    assert "still has its batch in the inbox" in caplog.text
    assert PendingBatch.objects.exists()
