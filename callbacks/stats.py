"""When an event counts, and adding batches' events to the per-day `DailyStat` counters.

Every event counts at its own time (the ESP's timestamp), on the Stats page, on the provider
page and in the soft-bounce window alike; an event without a time, or dated after it was
received, counts at the time it was received (`counted_at`).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from django.utils import timezone

from common.bulk_sql import adapter, bound_cursor, rows_source, table_name
from providers.models import EmailProvider

from .formats.base import CallbackEvent
from .models import DailyStat


def counted_at(event: CallbackEvent, received: datetime) -> datetime:
    """When an event counts: its own time, or when it was received if it has none or is later.

    An ESP cannot report what has not happened yet, so a future time is a wrong clock; counting
    it then would put it on a day that has not come and outside every window.
    """
    if event.occurred_at is None or event.occurred_at > received:
        return received
    return event.occurred_at


class StatsBook:
    """Counters of several batches, written together by `write_stats` at the end of their
    transaction: the (provider, day) rows every batch of a provider updates are then locked
    once, briefly and in one order, instead of by each batch in turn."""

    def __init__(self) -> None:
        self.per_day: dict[tuple[int, date], Counter] = {}

    def add(self, provider_id: int, per_day: dict[date, Counter]) -> None:
        for day, counts in per_day.items():
            self.per_day.setdefault((provider_id, day), Counter()).update(counts)

    def merge(self, other: StatsBook) -> None:
        for key, counts in other.per_day.items():
            self.per_day.setdefault(key, Counter()).update(counts)


def add_to_stats(
    provider: EmailProvider,
    fresh: list[CallbackEvent],
    duplicates: int,
    now: datetime,
    into: StatsBook | None = None,
) -> None:
    """Count the batch's events on their days: written now, or added to `into` for later.

    Each event counts on the day of `counted_at`; duplicates count on the day received.
    """
    per_day: dict[date, Counter] = {}
    zone = timezone.get_current_timezone()
    for event in fresh:
        day = counted_at(event, now).astimezone(zone).date()
        per_day.setdefault(day, Counter())[event.kind.value] += 1
    if duplicates:
        per_day.setdefault(timezone.localdate(now), Counter())["duplicates"] += duplicates
    book = StatsBook() if into is None else into
    book.add(provider.pk, per_day)
    if into is None:
        write_stats(book)


def write_stats(book: StatsBook) -> None:
    """INSERT … ON CONFLICT (provider, date) DO UPDATE SET x = x + EXCLUDED.x: one statement,
    one row per provider and day, in (provider, day) order so concurrent writers queue."""
    if not book.per_day:
        return
    counters = DailyStat.COUNTERS
    columns = [("provider_id", "bigint"), ("date", "date")]
    columns += [(name, "integer") for name in counters]
    adapt = adapter()
    rows = [
        (provider_id, adapt(day), *[book.per_day[provider_id, day][name] for name in counters])
        for provider_id, day in sorted(book.per_day)
    ]
    source, params = rows_source(columns, rows)
    table = table_name(DailyStat)
    names = ", ".join(counters)
    values = ", ".join(f"v.{name}" for name in counters)
    increments = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in counters)
    sql = (
        f"INSERT INTO {table} (provider_id, date, {names}) "  # noqa: S608
        f"SELECT v.provider_id, v.date, {values} FROM ({source}) AS v WHERE true "
        "ORDER BY v.provider_id, v.date "
        f"ON CONFLICT (provider_id, date) DO UPDATE SET {increments}"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, params)
