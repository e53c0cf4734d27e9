"""Seed the benchmark database: profiles and timeline events, loaded with COPY.

.venv/bin/python -m bench.seed --profiles 1000000 --events 10000000
"""

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta

from bench.common import ensure_database, setup_django

REASONS = ["hard_bounce", "dropped", "invalid", "spam", "unsubscribed"]
EVENT_KINDS = ["notification_delivered"] * 8 + ["notification_failed", "channel_unsubscribed"]


def copy_rows(model, rows, columns: list[str]) -> None:
    """COPY rows into a model's table; fields not given take their Python default."""
    from django.db import connection

    fields = {f.attname: f for f in model._meta.concrete_fields if f.attname != "id"}
    fixed = {
        name: field.get_prep_value(field.get_default())
        for name, field in fields.items()
        if name not in columns
    }
    fixed = {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in fixed.items()}
    all_columns = columns + list(fixed)
    sql = "COPY {} ({}) FROM STDIN".format(
        model._meta.db_table, ", ".join(f'"{c}"' for c in all_columns)
    )
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        extra = tuple(fixed.values())
        for row in rows:
            copy.write_row(row + extra)


def profile_rows(count: int, now: datetime):
    rng = random.Random(7)
    for i in range(count):
        inactive = rng.random() < 0.05
        yield (
            f"person{i}@bench.example",
            f"Person {i}",
            "inactive" if inactive else "active",
            rng.choice(REASONS) if inactive else "",
            now - timedelta(days=rng.randint(0, 90)) if inactive else None,
            now - timedelta(minutes=count - i),
            now,
        )


def event_rows(count: int, first_profile_id: int, profiles: int, now: datetime):
    rng = random.Random(11)
    for _ in range(count):
        kind = rng.choice(EVENT_KINDS)
        yield (
            first_profile_id + rng.randrange(profiles),
            kind,
            now - timedelta(seconds=rng.randrange(90 * 86400)),
            "Bench SMTP",
            json.dumps({"Error": "Soft bounce"} if kind == "notification_failed" else {}),
            now,
        )


def seed_providers_and_stats(days: int = 90) -> None:
    """Five providers with a daily stat row for each of the last `days` days."""
    from callbacks.models import DailyStat
    from providers.models import EmailProvider

    rng = random.Random(3)
    today = datetime.now(UTC).date()
    stats = []
    for n in range(5):
        provider, _ = EmailProvider.objects.get_or_create(
            nickname=f"Bench provider {n}",
            defaults={
                "kind": EmailProvider.Kind.SMTP,
                "host": "smtp.bench.example",
                "port": 587,
                "scheme": EmailProvider.Scheme.STARTTLS,
                "from_address": "bench@bench.example",
            },
        )
        for day in range(days):
            delivered = rng.randint(50_000, 150_000)
            stats.append(
                DailyStat(
                    provider=provider,
                    date=today - timedelta(days=day),
                    delivered=delivered,
                    soft_bounce=delivered // 60,
                    hard_bounce=delivered // 90,
                    dropped=delivered // 400,
                    invalid=delivered // 900,
                    spam=delivered // 2000,
                    unsubscribed=delivered // 700,
                )
            )
    if not EmailProvider.objects.filter(is_default=True).exists():
        EmailProvider.objects.mark_default(EmailProvider.objects.order_by("pk").first())
    DailyStat.objects.bulk_create(stats, ignore_conflicts=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args()

    setup_django()
    ensure_database()
    from django.db import connection

    from profiles.models import Profile, TimelineEvent

    seed_providers_and_stats()
    if Profile.objects.filter(email__endswith="@bench.example").exists():
        print("Profiles are already seeded; drop the database to seed them again.")
        return
    now = datetime.now(UTC)
    started = time.perf_counter()
    copy_rows(
        Profile,
        profile_rows(args.profiles, now),
        [
            "email",
            "name",
            "status",
            "inactive_reason",
            "inactive_since",
            "created_at",
            "updated_at",
        ],
    )
    first_id = Profile.objects.filter(email="person0@bench.example").values_list("id", flat=True)
    print(f"{args.profiles:,} profiles in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    copy_rows(
        TimelineEvent,
        event_rows(args.events, first_id[0], args.profiles, now),
        ["profile_id", "kind", "occurred_at", "provider_name", "properties", "created_at"],
    )
    print(f"{args.events:,} timeline events in {time.perf_counter() - started:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print("Analyzed.")


if __name__ == "__main__":
    main()
