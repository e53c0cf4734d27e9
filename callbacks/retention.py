"""Forget what no ESP will ask about again: old de-duplication keys and old callback logs.

Every applied event leaves a `ReceivedEvent` key, so at callback volume the table grows by
millions of rows a day. A key only has to outlive the ESP's retries of its event: SendGrid
retries a failed post for up to 24 hours after the event, Netcore for about five (reference
§1.7, §2.2). Delivery stats and profile timelines are kept (`profiles.retention` forgets old
deliveries on timelines).

On PostgreSQL both tables are partitioned by day (`callbacks.partitioning`): a run creates
the partitions of the coming days and drops the expired ones whole, which reads no row and
leaves no dead tuples to vacuum. Only the small DEFAULT partitions are pruned by DELETE.
Elsewhere (SQLite, `make run`), keys received more than `CALLBACK_DEDUPE_DAYS` ago and applied
logs received more than `CALLBACK_LOG_DAYS` ago are deleted.

Deletes run in chunks of `CHUNK` rows, each its own short transaction, so pruning a backlog
never holds locks or a snapshot for long while callbacks keep arriving.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from common import partitions
from common.bulk_sql import delete_in_chunks
from providers.models import EmailProvider

from . import partitioning
from .dedupe import key_prefix
from .models import CallbackLog, ReceivedEvent

CHUNK = 10_000
# A key whose event time lies this far past its receipt is kept by time, not only by receipt:
# see `_old_keys`.
CLOCK_SKEW = timedelta(days=1)


@dataclass
class PruneResult:
    keys: int = 0
    logs: int = 0
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    # Log partitions kept because a log of theirs still has its batch in the inbox.
    kept: list[str] = field(default_factory=list)


def prune(now: datetime | None = None) -> PruneResult:
    """Forget the keys and logs past their retention; return what went."""
    now = now or timezone.now()
    if partitions.supported():
        return _prune_partitions(now)
    key_cutoff = _receipt_cutoff(now)
    log_cutoff = partitioning.log_cutoff(now)
    result = PruneResult()
    for provider_id in EmailProvider.objects.values_list("pk", flat=True):
        result.keys += delete_in_chunks(_old_keys(provider_id, key_cutoff, now), CHUNK)
        old_logs = CallbackLog.objects.filter(
            provider_id=provider_id, received_at__lt=log_cutoff, pending__isnull=True
        )
        result.logs += delete_in_chunks(old_logs, CHUNK)
    return result


def _prune_partitions(now: datetime) -> PruneResult:
    """Create the coming days' partitions, drop expired ones, prune the DEFAULT partitions."""
    created = partitioning.ensure_partitions(now)
    drops = partitioning.drop_expired(now)
    keys = partitions.delete_where(
        partitioning.RECEIVED_EVENTS.default, "received_at < %s", [_receipt_cutoff(now)]
    )
    logs = partitions.delete_where(
        partitioning.CALLBACK_LOGS.default,
        "received_at < %s AND NOT EXISTS "
        "(SELECT 1 FROM callbacks_pendingbatch b WHERE b.log_id = id)",
        [partitioning.log_cutoff(now)],
    )
    return PruneResult(keys, logs, created, drops.dropped, drops.kept)


def _receipt_cutoff(now: datetime) -> datetime:
    """Keys kept by their receipt (all of them on SQLite, the DEFAULT partition's on
    PostgreSQL) go once received before this."""
    return now - timedelta(days=settings.CALLBACK_DEDUPE_DAYS)


def _old_keys(provider_id: int, cutoff: datetime, now: datetime):
    """The provider's keys received before `cutoff`.

    Keys start with their event's time, so the primary key finds them by range: events older
    than the cutoff, and those dated past tomorrow (a bad clock, or no time at all, which
    sorts last). The few keys of an old event received recently lie in the first range too,
    and `received_at` keeps them until their own retention is over.
    """
    return ReceivedEvent.objects.filter(
        Q(event_key__lt=key_prefix(cutoff)) | Q(event_key__gte=key_prefix(now + CLOCK_SKEW)),
        provider_id=provider_id,
        received_at__lt=cutoff,
    )
