"""When an event counts, and adding a batch's events to the per-day `DailyStat` counters.

Every event counts at its own time (the ESP's timestamp), on the Stats page, on the provider
page and in the soft-bounce window alike; an event without a time, or dated after it was
received, counts at the time it was received (`counted_at`).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta

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


def add_to_stats(
    provider: EmailProvider,
    fresh: list[CallbackEvent],
    duplicates: int,
    now: datetime,
) -> None:
    """INSERT … ON CONFLICT (provider, date) DO UPDATE SET x = x + EXCLUDED.x, one row a day.

    Each event counts on the day of `counted_at`; duplicates count on the day received.
    """
    day_of = LocalDays(now)
    per_day = Counter((day_of(counted_at(event, now)), event.kind) for event in fresh)
    if duplicates:
        per_day[(day_of(now), "duplicates")] += duplicates
    if not per_day:
        return
    counters = DailyStat.COUNTERS
    days = sorted({day for day, _kind in per_day})
    columns = [("date", "date"), *[(name, "integer") for name in counters]]
    adapt = adapter()
    rows = [(adapt(day), *[per_day[(day, name)] for name in counters]) for day in days]
    source, params = rows_source(columns, rows)
    table = table_name(DailyStat)
    names = ", ".join(counters)
    values = ", ".join(f"v.{name}" for name in counters)
    increments = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in counters)
    sql = (
        f"INSERT INTO {table} (provider_id, date, {names}) "  # noqa: S608
        f"SELECT %s, v.date, {values} FROM ({source}) AS v WHERE true ORDER BY v.date "
        f"ON CONFLICT (provider_id, date) DO UPDATE SET {increments}"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [provider.pk, *params])


class LocalDays:
    """The local date of an instant, for many instants near `now`.

    An ESP's batch is about the last hours: almost every event falls on the day of `now`,
    which two comparisons with that day's local midnights find; only the others are converted.
    """

    def __init__(self, now: datetime):
        self.zone = timezone.get_current_timezone()
        self.today = now.astimezone(self.zone).date()
        self.starts = self._midnight(self.today)
        self.ends = self._midnight(self.today + timedelta(days=1))

    def _midnight(self, day: date) -> datetime:
        return timezone.make_aware(datetime.combine(day, time.min), self.zone)

    def __call__(self, at: datetime) -> date:
        if self.starts <= at < self.ends:
            return self.today
        return at.astimezone(self.zone).date()
