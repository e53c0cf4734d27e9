"""Deliveries leave profile timelines after TIMELINE_DELIVERED_DAYS; other events stay."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.checks import run_checks
from django.db import connection

from common import partitions
from config.celery_app import app as celery_app
from profiles import retention
from profiles.models import TimelineEvent
from profiles.tasks import prune_timeline_deliveries
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

# Months before the test database was created: no day partitions yet, until a prune makes them.
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
Kind = TimelineEvent.Kind
KEPT_KINDS = [Kind.NOTIFICATION_FAILED, Kind.CHANNEL_UNSUBSCRIBED, Kind.PREFERENCES_UPDATED]
on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL partitions")


@pytest.fixture(params=["partitions", "deletes"])
def either_way(request, monkeypatch, settings):
    """Retention by dropping day partitions (PostgreSQL), or by DELETE (SQLite's way)."""
    settings.TIMELINE_DELIVERED_DAYS = 90
    if request.param == "deletes":
        monkeypatch.setattr(partitions, "supported", lambda: False)


def record(profile, kind: str, at: datetime) -> TimelineEvent:
    """A timeline event recorded at `at` (the partitions go by the time it was recorded)."""
    event = TimelineEvent.objects.create(profile=profile, kind=kind, occurred_at=at)
    TimelineEvent.objects.filter(pk=event.pk).update(created_at=at)
    return event


def test_old_deliveries_go_and_every_other_kind_stays_whatever_its_age(either_way):
    profile = ProfileFactory()
    retention.prune(now=T0)  # on PostgreSQL: T0's day and the coming ones
    record(profile, Kind.NOTIFICATION_DELIVERED, T0)
    recent = record(profile, Kind.NOTIFICATION_DELIVERED, T0 + 60 * DAY)
    kept = [record(profile, kind, T0 - 400 * DAY) for kind in KEPT_KINDS]
    retention.prune(now=T0 + 60 * DAY)

    retention.prune(now=T0 + 92 * DAY)

    remaining = set(profile.timeline.values_list("pk", flat=True))
    assert remaining == {recent.pk, *(event.pk for event in kept)}


@on_postgres
def test_a_delivery_day_is_dropped_whole_and_the_next_days_are_created(settings):
    settings.TIMELINE_DELIVERED_DAYS = 90
    retention.prune(now=T0)
    record(ProfileFactory(), Kind.NOTIFICATION_DELIVERED, T0)
    day = retention.DELIVERIES.name(T0.date())

    result = retention.prune(now=T0 + 91 * DAY)

    assert day in result.dropped
    assert retention.DELIVERIES.name((T0 + 98 * DAY).date()) in result.created
    assert not TimelineEvent.objects.exists()


@on_postgres
def test_deliveries_outside_the_created_days_are_deleted_from_the_default_partition(settings):
    settings.TIMELINE_DELIVERED_DAYS = 90
    profile = ProfileFactory()
    record(profile, Kind.NOTIFICATION_DELIVERED, T0 - 200 * DAY)  # no day partition then
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {retention.DELIVERIES.default}")  # noqa: S608
        assert cursor.fetchone()[0] == 1

    assert retention.prune(now=T0).deleted == 1


def test_a_profiles_timeline_is_deleted_with_it(either_way):
    profile, other = ProfileFactory(), ProfileFactory()
    for kind in [Kind.NOTIFICATION_DELIVERED, *KEPT_KINDS]:
        record(profile, kind, T0)
    record(other, Kind.NOTIFICATION_DELIVERED, T0)

    profile.delete()

    assert list(TimelineEvent.objects.values_list("profile_id", flat=True)) == [other.pk]


def test_the_hourly_task_prunes_deliveries(settings):
    settings.TIMELINE_DELIVERED_DAYS = 1
    record(ProfileFactory(), Kind.NOTIFICATION_DELIVERED, T0)

    prune_timeline_deliveries.apply()

    assert not TimelineEvent.objects.exists()
    schedule = celery_app.conf.beat_schedule["prune-timeline-deliveries"]
    assert schedule["task"] == prune_timeline_deliveries.name


def test_a_retention_under_a_day_is_refused(settings):
    settings.TIMELINE_DELIVERED_DAYS = 0
    assert "profiles.E001" in {message.id for message in run_checks()}
