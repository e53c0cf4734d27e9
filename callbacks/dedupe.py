"""Claim events' dedupe keys in `ReceivedEvent`: only the keys a batch inserted are new.

One INSERT … ON CONFLICT DO NOTHING RETURNING per batch, so a replayed batch changes nothing.
Stored keys are 24 bytes that start with the event's time, so a batch's keys land together at
the recent end of the table's only index instead of on a thousand random pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from django.db import connection

from common.bulk_sql import as_sqlite_text, bound_cursor, table_name
from providers.models import EmailProvider

from .formats.base import CallbackEvent
from .models import ReceivedEvent

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECONDS_PER_DAY = 86_400
UNKNOWN_TIME = 2**63 - 1  # an event without a time: its key sorts last


def claim_new(
    provider: EmailProvider, events: Sequence[CallbackEvent], now: datetime
) -> list[CallbackEvent]:
    """The events never seen before, in body order; claims their keys for this transaction."""
    first_by_key: dict[bytes, int] = {}
    for index, event in enumerate(events):
        if event.dedupe_key:
            first_by_key.setdefault(stored_key(event), index)
    claimed = _claim_keys(provider, sorted(first_by_key), now) if first_by_key else set()
    keep = {first_by_key[key] for key in claimed}
    return [event for index, event in enumerate(events) if (not event.dedupe_key) or index in keep]


def _claim_keys(provider: EmailProvider, keys: list[bytes], now: datetime) -> set[bytes]:
    """Store the keys not stored yet, and return them."""
    if connection.vendor != "postgresql":
        # SQLite lets one transaction write at a time, so reading the known keys and then
        # inserting the others cannot race (and its JSON rows cannot carry bytes).
        known = ReceivedEvent.objects.filter(provider=provider, event_key__in=keys)
        new = set(keys) - {bytes(key) for key in known.values_list("event_key", flat=True)}
        sql = (
            f"INSERT INTO {table_name(ReceivedEvent)} (provider_id, event_key, received_at) "  # noqa: S608
            "VALUES (%s, %s, %s)"
        )
        with connection.cursor() as cursor:
            cursor.executemany(sql, [(provider.pk, key, as_sqlite_text(now)) for key in new])
        return new
    sql = (
        f"INSERT INTO {table_name(ReceivedEvent)} (provider_id, event_key, received_at) "  # noqa: S608
        "SELECT %s, k, %s FROM unnest(%b::bytea[]) AS k WHERE true ORDER BY k "
        "ON CONFLICT (provider_id, event_key) DO NOTHING RETURNING event_key"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [provider.pk, now, keys])
        return {row[0] for row in cursor.fetchall()}


def stored_key(event: CallbackEvent) -> bytes:
    """The event's key in `ReceivedEvent`: its time, then the first half of its dedupe key.

    The time is whole seconds since the epoch as eight big-endian bytes, so keys sort by time:
    a retry carries the same time, so it still meets its first copy; and since ESPs post
    events soon after they happen, new keys go in near the end of the index. An event
    without a time sorts after all others. Sixteen bytes of a SHA-256 digest are plenty to
    tell events apart, at half the index size of the whole hex digest.
    """
    return key_prefix(event.occurred_at) + bytes.fromhex(event.dedupe_key[:32])


def key_prefix(at: datetime | None) -> bytes:
    """The first eight bytes of the stored key of an event at `at` (None: no time)."""
    if at is None:
        return UNKNOWN_TIME.to_bytes(8, "big", signed=True)
    since = at - EPOCH  # whole seconds, rounded down: days and seconds hold them exactly
    return (since.days * SECONDS_PER_DAY + since.seconds).to_bytes(8, "big", signed=True)
