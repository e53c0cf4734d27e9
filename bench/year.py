"""A year of a busy sender: 100M timeline events, 50M de-duplication keys, a month of logs.

    .venv/bin/python -m bench.year                 # seeds once (~30 min), then measures
    .venv/bin/python -m bench.year --measure-only  # the dashboard pages again
    .venv/bin/python -m bench.year --drop          # time dropping each table's oldest day

Uses its own database (`postdesk_bench_year`; `DATABASE_URL` overrides it). Seeds 1M
profiles (bench.seed), then generates rows inside PostgreSQL: delivered events spread over
the retention of delivered events (`TIMELINE_DELIVERED_DAYS`), failures, complaints and
unsubscribes over a year, de-duplication keys over `CALLBACK_DEDUPE_DAYS` and a callback log
per 1000 events over `CALLBACK_LOG_DAYS`. Rows go in through each table's parent, so they land
in the partitions the product created for their dates; each table's secondary indexes are
built once the rows are in, as a restore would. Then prints the table sizes and the
dashboard pages' server time and query count (bench.dashboard) at that size.

Ingestion at this size: `DATABASE_URL=…/postdesk_bench_year python -m bench.ingest`.
"""

import argparse
import os
import subprocess
import sys
import time

from bench.common import ROOT, ensure_database, setup_django

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postdesk_bench_year"
CHUNK = 5_000_000
OTHER_KINDS = "ARRAY['notification_failed','notification_failed','channel_unsubscribed']"


def secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """The table's indexes that back no constraint, as (name, definition)."""
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "LEFT JOIN pg_constraint c ON c.conindid = i.oid "
        "WHERE t.relname = %s AND c.oid IS NULL",
        [table],
    )
    return cursor.fetchall()


def load_without_indexes(cursor, table: str, statements: list[str], params) -> float:
    """Run the INSERTs with the table's secondary indexes dropped, then build them again."""
    indexes = secondary_indexes(cursor, table)
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    started = time.perf_counter()
    for sql in statements:
        cursor.execute(sql, params)
    for _, definition in indexes:
        # A partitioned table's index prints as ON ONLY; built on the parent, it covers all.
        cursor.execute(definition.replace(" ON ONLY ", " ON "))
    return time.perf_counter() - started


def seed_timeline(cursor, total: int, first_id: int, profiles: int, delivered_days: int) -> None:
    """85% delivered over `delivered_days`, the rest over a year, spread over every profile."""
    table = "profiles_timelineevent"
    delivered = total * 85 // 100
    statements = []
    for kind_sql, count, days in (
        ("'notification_delivered'", delivered, delivered_days),
        (f"({OTHER_KINDS})[1 + floor(random() * 3)::int]", total - delivered, 365),
    ):
        for start in range(0, count, CHUNK):
            rows = min(CHUNK, count - start)
            statements.append(
                f"INSERT INTO {table} "  # noqa: S608
                "(profile_id, kind, occurred_at, provider_name, properties, created_at) "
                f"SELECT %(first)s + floor(random() * %(profiles)s)::bigint, {kind_sql}, "
                "t - interval '5 seconds', 'Bench SMTP', "
                "CASE WHEN random() < 0.5 THEN '{}'::jsonb "
                """ELSE '{"Error": "550 no such user", "Type": "hard"}'::jsonb END, t """
                f"FROM (SELECT now() - random() * interval '{days} days' AS t "
                f"FROM generate_series(1, {rows}) ORDER BY 1) AS s"
            )
    seconds = load_without_indexes(
        cursor, table, statements, {"first": first_id, "profiles": profiles}
    )
    print(f"  {total:,} timeline events in {seconds:.0f} s")


def seed_keys(cursor, total: int, provider_ids: list[int], dedupe_days: int) -> None:
    """Keys as `callbacks.dedupe.stored_key` makes them: the event's second, then 16 bytes.

    A day at a time, in key order, so each day's partition fills from one end.
    """
    per_day = total // dedupe_days
    statements = [
        "INSERT INTO callbacks_receivedevent (provider_id, event_key, received_at) "
        "SELECT (%(providers)s::bigint[])[1 + floor(random() * cardinality("
        "%(providers)s::bigint[]))::int], "
        "int8send(extract(epoch FROM t)::bigint) || "
        "decode(replace(gen_random_uuid()::text, '-', ''), 'hex'), t + interval '2 seconds' "
        f"FROM (SELECT date_trunc('day', now()) - interval '{day} days' "
        "+ random() * interval '1 day' AS t "
        f"FROM generate_series(1, {per_day})) AS s ORDER BY 2 "
        "ON CONFLICT DO NOTHING"
        for day in range(dedupe_days)
    ]
    seconds = load_without_indexes(
        cursor, "callbacks_receivedevent", statements, {"providers": provider_ids}
    )
    print(f"  {per_day * dedupe_days:,} de-duplication keys in {seconds:.0f} s")


def seed_logs(cursor, per_day: int, provider_ids: list[int], log_days: int) -> None:
    """Applied 1000-event SendGrid batches, `per_day` a day, for `log_days` days."""
    total = per_day * log_days
    statements = [
        "INSERT INTO callbacks_callbacklog (provider_id, received_at, method, payload_format, "
        "status_code, events_total, processed, failed, duplicates, ignored, kind_counts, "
        "error, body_excerpt, is_sample, applied_at) "
        "SELECT (%(providers)s::bigint[])[1 + floor(random() * cardinality("
        "%(providers)s::bigint[]))::int], t, 'POST', 'sendgrid', 200, 1000, 1000, 0, 0, 0, "
        """'{"delivered": 850, "soft_bounce": 90, "hard_bounce": 60}'::jsonb, '', """
        '\'[{"email": "person1@bench.example", "event": "delivered"}]\', false, t '
        f"FROM (SELECT now() - random() * interval '{log_days} days' AS t "
        f"FROM generate_series(1, {total}) ORDER BY 1) AS s"
    ]
    seconds = load_without_indexes(
        cursor, "callbacks_callbacklog", statements, {"providers": provider_ids}
    )
    print(f"  {total:,} callback logs in {seconds:.0f} s")


def table_sizes(cursor) -> None:
    """Rows (the planner's estimate), bytes and leaf partitions of each growing table."""
    for table in ("profiles_timelineevent", "callbacks_receivedevent", "callbacks_callbacklog"):
        cursor.execute(
            "SELECT count(*), sum(c.reltuples)::bigint, sum(pg_total_relation_size(t.relid)) "
            "FROM pg_partition_tree(%s::regclass) AS t JOIN pg_class c ON c.oid = t.relid "
            "WHERE t.isleaf",
            [table],
        )
        leaves, rows, size = cursor.fetchone()
        print(f"  {table:26} ~{rows:>13,} rows  {size / 2**30:6.1f} GiB  {leaves} partitions")


def seed(args) -> None:
    from django.conf import settings
    from django.db import connection

    from profiles.models import Profile
    from providers.models import EmailProvider

    if not Profile.objects.filter(email="person0@bench.example").exists():
        subprocess.run(
            [sys.executable, "-m", "bench.seed", "--profiles", str(args.profiles), "--events", "0"],
            cwd=ROOT,
            check=True,
        )
    first_id = Profile.objects.filter(email="person0@bench.example").values_list("pk", flat=True)[0]
    provider_ids = list(EmailProvider.objects.values_list("pk", flat=True))
    prepare_partitions()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '2GB'")
        seed_timeline(
            cursor, args.timeline, first_id, args.profiles, settings.TIMELINE_DELIVERED_DAYS
        )
        seed_keys(cursor, args.keys, provider_ids, settings.CALLBACK_DEDUPE_DAYS)
        seed_logs(cursor, args.logs_per_day, provider_ids, settings.CALLBACK_LOG_DAYS)
        started = time.perf_counter()
        cursor.execute("VACUUM ANALYZE")
        print(f"  vacuumed and analyzed in {time.perf_counter() - started:.0f} s")


def prepare_partitions() -> None:
    """Create the day partitions of every kept day, as beat's tasks keep them."""
    from django.utils import timezone

    from callbacks import partitioning
    from profiles import retention

    now = timezone.now()
    partitioning.ensure_partitions(now)
    retention.ensure_partitions(now)


def time_drops() -> None:
    """Drop the oldest day of keys, logs and timeline deliveries, as retention does; time each."""
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    from callbacks.partitioning import CALLBACK_LOGS, RECEIVED_EVENTS
    from common import partitions
    from profiles.retention import DELIVERIES

    for scheme in (RECEIVED_EVENTS, CALLBACK_LOGS, DELIVERIES):
        days = sorted(p.name for p in partitions.partitions(scheme))
        if not days:
            continue
        oldest = days[0]
        day = datetime.strptime(oldest.rsplit("_p", 1)[1], "%Y%m%d").replace(tzinfo=UTC)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint, pg_total_relation_size(oid) FROM pg_class "
                "WHERE oid = %s::regclass",
                [oldest],
            )
            rows, size = cursor.fetchone()
        started = time.perf_counter()
        result = partitions.drop_expired(scheme, day + timedelta(days=1))
        elapsed = (time.perf_counter() - started) * 1000
        print(
            f"  dropped {', '.join(result.dropped) or 'nothing'} (~{rows:,} rows, "
            f"{size / 2**20:,.0f} MiB) in {elapsed:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--timeline", type=int, default=100_000_000)
    parser.add_argument("--keys", type=int, default=50_000_000)
    parser.add_argument("--logs-per-day", type=int, default=15_000)
    parser.add_argument("--measure-only", action="store_true")
    parser.add_argument("--drop", action="store_true", help="time dropping the oldest days")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    setup_django()
    ensure_database()
    from django.db import connection

    from bench.dashboard import measure_pages
    from profiles.models import TimelineEvent

    if not args.measure_only and not TimelineEvent.objects.exists():
        print(f"Seeding {os.environ['DATABASE_URL'].rsplit('/', 1)[-1]}:")
        seed(args)
    with connection.cursor() as cursor:
        table_sizes(cursor)
    if args.drop:
        time_drops()
        return
    measure_pages(args.runs)


if __name__ == "__main__":
    main()
