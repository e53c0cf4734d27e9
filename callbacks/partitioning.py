"""How the callback history is partitioned by day on PostgreSQL (see `common.partitions`).

- `callbacks_receivedevent` by RANGE (event_key): a key starts with its event's time
  (`dedupe.key_prefix`), so a day's keys are those between the prefixes of two midnights, and
  the primary key (provider_id, event_key) holds across partitions: ON CONFLICT still finds a
  replay. Keys outside the created days (events older than the kept days, clocks in the
  future, events without a time, which sort last) go to the DEFAULT partition.
- `callbacks_callbacklog` by RANGE (received_at): its primary key is (id, received_at) in the
  database, Django still knows `id` as the primary key, and `PendingBatch.log` is no database
  foreign key (Django still cascades).

A key's day is dropped once it ended more than CALLBACK_DEDUPE_DAYS + 1 days ago, a log's day
once it ended more than CALLBACK_LOG_DAYS ago; `retention` prunes the DEFAULT partitions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from common import partitions
from common.partitions import DailyRanges

from .dedupe import key_prefix

RECEIVED_EVENTS = DailyRanges(
    "callbacks_receivedevent", "event_key", key_prefix, partitions.parse_bytea
)
CALLBACK_LOGS = DailyRanges(
    "callbacks_callbacklog",
    "received_at",
    partitions.timestamp_bound,
    partitions.parse_timestamp,
)
# Keys outlive their event's day by a day more than CALLBACK_DEDUPE_DAYS: an ESP retries an
# event up to a day after it happened, so a retry meets its key at least as long after its
# receipt as CALLBACK_DEDUPE_DAYS says.
KEY_MARGIN = timedelta(days=1)


def key_cutoff(now: datetime) -> datetime:
    """Key partitions whose days end at or before this are dropped."""
    return now - timedelta(days=settings.CALLBACK_DEDUPE_DAYS) - KEY_MARGIN


def log_cutoff(now: datetime) -> datetime:
    """Logs received before this are dropped (by partition) or deleted (DEFAULT partition)."""
    return now - timedelta(days=settings.CALLBACK_LOG_DAYS)


def ensure_partitions(now: datetime) -> list[str]:
    """Create the partitions from the oldest kept day to `partitions.AHEAD` from now."""
    end = now + partitions.AHEAD
    return [
        *partitions.ensure(RECEIVED_EVENTS, key_cutoff(now), end),
        *partitions.ensure(CALLBACK_LOGS, log_cutoff(now), end),
    ]


def drop_expired(now: datetime) -> partitions.DropResult:
    """Drop the expired day partitions of keys and logs; a log day with a waiting batch stays."""
    keys = partitions.drop_expired(RECEIVED_EVENTS, key_cutoff(now))
    logs = partitions.drop_expired(CALLBACK_LOGS, log_cutoff(now), keep=_has_waiting_batch)
    return partitions.DropResult(
        dropped=keys.dropped + logs.dropped, kept=logs.kept, busy=keys.busy + logs.busy
    )


def _has_waiting_batch(partition: str) -> bool:
    """A log of this partition still has its batch in the inbox: the ESP was told 200."""
    sql = (
        "SELECT EXISTS (SELECT 1 FROM callbacks_pendingbatch b "  # noqa: S608
        f"JOIN {connection.ops.quote_name(partition)} l ON l.id = b.log_id)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]
