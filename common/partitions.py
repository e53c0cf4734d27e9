"""Daily range partitions on PostgreSQL: list them, create them ahead, drop expired ones.

A table partitioned by day has one partition per UTC day, named `<parent>_pYYYYMMDD`, and a
DEFAULT partition, `<parent>_default`, that catches rows outside the created days (so an
insert never fails for want of a partition). `DailyRanges` says how a day becomes a bound of
the partition column: a timestamp for a time column, a key prefix for a key that starts with
a time (`callbacks.dedupe`).

- `ensure` creates the partitions of a span of days, idempotently. A new partition is built
  as a plain table and then attached, which locks the parent only in SHARE UPDATE EXCLUSIVE
  mode (inserts go on); rows of its day already in the DEFAULT partition are moved into it
  in the same transaction, the DEFAULT partition being locked first.
- `drop_expired` drops the partitions whose days ended before a cutoff. DROP TABLE locks the
  parent for a moment (DETACH … CONCURRENTLY is not allowed beside a DEFAULT partition), so
  it runs with a short lock timeout and is retried at the next run rather than queueing
  inserts behind a long transaction. Its files are unlinked at commit: no row is read.

PostgreSQL only; callers fall back to DELETEs on SQLite.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import OperationalError, connection, transaction

log = logging.getLogger(__name__)

DAY = timedelta(days=1)
# How far ahead the periodic tasks create partitions: beat may stop for this long and new rows
# still land in day partitions, not in the DEFAULT one.
AHEAD = timedelta(days=7)
# How long a DROP waits for the parent's lock (or a new partition for the DEFAULT partition's)
# before it gives up until the next run: inserts that arrive meanwhile wait behind it, so this
# bounds their stall.
LOCK_TIMEOUT = "500ms"
# How long a DROP waits for the expired partition itself, which only readers of old rows and
# autovacuum hold.
PARTITION_LOCK_TIMEOUT = "10s"
_RANGE = re.compile(r"FOR VALUES FROM \('(?P<lower>[^']*)'(?:::\w+)?\) TO \('(?P<upper>[^']*)'")


@dataclass(frozen=True)
class DailyRanges:
    """A table partitioned by RANGE (`column`) into UTC days.

    `bound` turns the start of a day into the column's value there; `parse` reads back a
    bound as pg_get_expr prints it. Both must keep order, so bounds compare like days.
    """

    table: str
    column: str
    bound: Callable[[datetime], Any]
    parse: Callable[[str], Any]

    @property
    def default(self) -> str:
        return f"{self.table}_default"

    def name(self, day: date) -> str:
        return f"{self.table}_p{day:%Y%m%d}"


@dataclass(frozen=True)
class Partition:
    name: str
    lower: Any
    upper: Any


@dataclass
class DropResult:
    dropped: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # refused by the caller's `keep`
    busy: list[str] = field(default_factory=list)  # the lock did not come in time


def supported() -> bool:
    """Whether the database partitions these tables (PostgreSQL); elsewhere callers DELETE."""
    return connection.vendor == "postgresql"


def timestamp_bound(at: datetime) -> datetime:
    return at


def parse_timestamp(text: str) -> datetime:
    """A timestamptz bound as PostgreSQL prints it ('2026-12-01 00:00:00+00')."""
    return datetime.fromisoformat(text).astimezone(UTC)


def parse_bytea(text: str) -> bytes:
    """A bytea bound as PostgreSQL prints it ('\\x0000…')."""
    return bytes.fromhex(text.removeprefix("\\x"))


def day_start(at: datetime) -> datetime:
    """Midnight UTC of `at`'s day."""
    return datetime.combine(at.astimezone(UTC).date(), time(), tzinfo=UTC)


def days(start: datetime, end: datetime) -> Iterator[datetime]:
    """The starts of the UTC days that overlap [start, end)."""
    day = day_start(start)
    while day < end:
        yield day
        day += DAY


def partitions(scheme: DailyRanges) -> list[Partition]:
    """The table's range partitions with their bounds, lowest first (not the DEFAULT one)."""
    sql = (
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [scheme.table])
        rows = cursor.fetchall()
    found = []
    for name, bound in rows:
        match = _RANGE.match(bound)
        if match:
            found.append(
                Partition(name, scheme.parse(match["lower"]), scheme.parse(match["upper"]))
            )
    return sorted(found, key=lambda partition: partition.lower)


def ensure(scheme: DailyRanges, start: datetime, end: datetime) -> list[str]:
    """Create the missing partitions of the days overlapping [start, end); return their names.

    If the DEFAULT partition's lock does not come within `LOCK_TIMEOUT`, the rest are left to
    the next run (the days are created well ahead).
    """
    existing = {partition.lower for partition in partitions(scheme)}
    created = []
    for day in days(start, end):
        if scheme.bound(day) in existing:
            continue
        try:
            _create(scheme, day)
        except OperationalError as exc:  # lock_timeout: the next run tries again
            log.warning("Partition %s not created this time: %s", scheme.name(day.date()), exc)
            break
        created.append(scheme.name(day.date()))
    return created


def _create(scheme: DailyRanges, day: datetime) -> None:
    """Create `day`'s partition, moving in the rows of that day the DEFAULT partition holds."""
    table, default, name = (_quote(scheme.table), _quote(scheme.default), scheme.name(day.date()))
    column = _quote(scheme.column)
    bounds = [scheme.bound(day), scheme.bound(day + DAY)]
    in_range = f"{column} >= %s AND {column} < %s"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(f"LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(
            f"CREATE TABLE {_quote(name)} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        cursor.execute(
            f"WITH moved AS (DELETE FROM {default} WHERE {in_range} RETURNING *) "  # noqa: S608
            f"INSERT INTO {_quote(name)} SELECT * FROM moved",
            bounds,
        )
        if cursor.rowcount:
            log.info("Moved %s rows from %s into %s", cursor.rowcount, scheme.default, name)
        cursor.execute(
            f"ALTER TABLE {table} ATTACH PARTITION {_quote(name)} "
            f"FOR VALUES FROM ({_literal(bounds[0])}) TO ({_literal(bounds[1])})"
        )


def drop_expired(
    scheme: DailyRanges, cutoff: datetime, keep: Callable[[str], bool] | None = None
) -> DropResult:
    """Drop the partitions whose upper bound is at or before `cutoff`'s, except those `keep` names.

    `keep(name)` runs in the transaction of the drop, after the parent is locked, so what it
    checks cannot change before the partition goes. A lock that does not come within
    `LOCK_TIMEOUT` leaves this and the later partitions to the next run (`busy`), so inserts
    are held up once, not once per partition.
    """
    limit = scheme.bound(cutoff)
    expired = [partition for partition in partitions(scheme) if partition.upper <= limit]
    result = DropResult()
    for number, partition in enumerate(expired):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                # The partition first, as long as it takes: waiting for it holds up no insert
                # (new rows go to newer days), and autovacuum gives way after deadlock_timeout.
                cursor.execute(f"SET LOCAL lock_timeout = '{PARTITION_LOCK_TIMEOUT}'")
                cursor.execute(f"LOCK TABLE {_quote(partition.name)} IN ACCESS EXCLUSIVE MODE")
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                cursor.execute(f"LOCK TABLE ONLY {_quote(scheme.table)} IN ACCESS EXCLUSIVE MODE")
                if keep and keep(partition.name):
                    result.kept.append(partition.name)
                    continue
                cursor.execute(f"DROP TABLE {_quote(partition.name)}")
                result.dropped.append(partition.name)
        except OperationalError as exc:  # lock_timeout: inserts were kept waiting long enough
            log.warning("Partition %s not dropped this time: %s", partition.name, exc)
            result.busy = [later.name for later in expired[number:]]
            break
    return result


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _literal(value: Any) -> str:
    """A bound as a SQL literal (ATTACH … FOR VALUES takes no parameters)."""
    if isinstance(value, bytes):
        return f"'\\x{value.hex()}'::bytea"
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::timestamptz"
    raise TypeError(f"No partition bound literal for {type(value).__name__}")


def delete_where(table: str, condition: str, params: list, chunk: int = 10_000) -> int:
    """DELETE the rows of `table` WHERE `condition`, `chunk` rows per transaction; how many.

    For the DEFAULT partitions, which stay small: rows outside every created day.
    """
    quoted = _quote(table)
    sql = (
        f"DELETE FROM {quoted} WHERE ctid = ANY(ARRAY("  # noqa: S608
        f"SELECT ctid FROM {quoted} WHERE {condition} LIMIT {int(chunk)}))"
    )
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            count = cursor.rowcount
        deleted += count
        if count < chunk:
            return deleted
