"""Forget what no ESP will ask about again: old de-duplication keys and old callback logs.

Every applied event leaves a `ReceivedEvent` key, so at callback volume the table grows by
millions of rows a day. A key only has to outlive the ESP's retries of its event: SendGrid
retries a failed post for up to 24 hours after the event, Netcore for about five (reference
§1.7, §2.2). Keys received more than `CALLBACK_DEDUPE_DAYS` ago (7) are deleted, and so are
callback logs received more than `CALLBACK_LOG_DAYS` ago (30) whose events are applied.
Delivery stats and profile timelines are kept.

Deletes run in chunks of `CHUNK` rows, each its own short transaction, so pruning a backlog
never holds locks or a snapshot for long while callbacks keep arriving.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from providers.models import EmailProvider

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


def prune(now: datetime | None = None) -> PruneResult:
    """Delete the keys and logs past their retention; return how many of each went."""
    now = now or timezone.now()
    key_cutoff = now - timedelta(days=settings.CALLBACK_DEDUPE_DAYS)
    log_cutoff = now - timedelta(days=settings.CALLBACK_LOG_DAYS)
    result = PruneResult()
    for provider_id in EmailProvider.objects.values_list("pk", flat=True):
        result.keys += _delete_in_chunks(ReceivedEvent, _old_keys(provider_id, key_cutoff, now))
        old_logs = CallbackLog.objects.filter(
            provider_id=provider_id, received_at__lt=log_cutoff, pending__isnull=True
        )
        result.logs += _delete_in_chunks(CallbackLog, old_logs)
    return result


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


def _delete_in_chunks(model, queryset) -> int:
    deleted = 0
    while True:
        chunk = model.objects.filter(pk__in=queryset.values("pk")[:CHUNK]).only("pk")
        count = chunk.delete()[1].get(model._meta.label, 0)
        deleted += count
        if count < CHUNK:
            return deleted
