"""Forget old deliveries on profile timelines: "Notification Delivered" events are kept
TIMELINE_DELIVERED_DAYS (90) after they were recorded; failures, complaints, unsubscribes and
preference changes are kept as long as the profile.

On PostgreSQL the timeline is partitioned by LIST (kind): deliveries, most of its rows, have a
partition of their own, itself partitioned by RANGE (created_at) into days, and every other
kind shares the DEFAULT list partition. A run creates the coming days' delivery partitions and
drops the expired ones whole (`common.partitions`); only the deliveries' small DEFAULT
partition is pruned by DELETE. By receipt time, not event time: new rows always land in a
day created ahead. Elsewhere (SQLite) old deliveries are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from common import partitions
from common.bulk_sql import delete_in_chunks
from common.partitions import DailyRanges

from .models import TimelineEvent

DELIVERIES = DailyRanges(
    "profiles_timelineevent_delivered",
    "created_at",
    partitions.timestamp_bound,
    partitions.parse_timestamp,
)


@dataclass
class TimelinePruneResult:
    deleted: int = 0
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def delivered_cutoff(now: datetime) -> datetime:
    """Deliveries recorded before this are forgotten."""
    return now - timedelta(days=settings.TIMELINE_DELIVERED_DAYS)


def ensure_partitions(now: datetime) -> list[str]:
    """PostgreSQL: the delivery partitions from the oldest kept day to `AHEAD` from now."""
    return partitions.ensure(DELIVERIES, delivered_cutoff(now), now + partitions.AHEAD)


def prune(now: datetime | None = None) -> TimelinePruneResult:
    """Forget the deliveries past their retention; return what went."""
    now = now or timezone.now()
    cutoff = delivered_cutoff(now)
    if not partitions.supported():
        old = TimelineEvent.objects.filter(
            kind=TimelineEvent.Kind.NOTIFICATION_DELIVERED, created_at__lt=cutoff
        )
        return TimelinePruneResult(deleted=delete_in_chunks(old))
    created = ensure_partitions(now)
    dropped = partitions.drop_expired(DELIVERIES, cutoff).dropped
    deleted = partitions.delete_where(DELIVERIES.default, "created_at < %s", [cutoff])
    return TimelinePruneResult(deleted, created, dropped)
