"""A million-profile CSV export: the background task's time, then the download's.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postdesk_bench_export \
        .venv/bin/python -m bench.export --profiles 1000000

Seeds the profiles with COPY if the table holds fewer, runs the export the way the Celery task
does (`profiles.exporting.run_export`), then downloads it through Django's handler in this
process and checks every line arrived. The download streams stored parts, so it spends no
time per profile and no worker timeout applies to the building.
"""

import argparse
import resource
import time
from datetime import UTC, datetime

from bench.common import ensure_database, setup_django


def seed(count: int) -> None:
    from bench.seed import copy_rows, profile_rows
    from profiles.models import Profile

    if Profile.objects.count() >= count:
        return
    Profile.objects.all().delete()
    started = time.perf_counter()
    columns = ["email", "name", "status", "inactive_reason", "inactive_since"]
    copy_rows(
        Profile, profile_rows(count, datetime.now(UTC)), [*columns, "created_at", "updated_at"]
    )
    print(f"seeded {count:,} profiles in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    args = parser.parse_args()
    setup_django()
    ensure_database()
    seed(args.profiles)

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from profiles import exporting
    from profiles.models import ProfileExport

    user, _ = get_user_model().objects.get_or_create(username="bench-export")
    export = exporting.start_export({"sort": "email"}, by=user)
    started = time.perf_counter()
    exporting.run_export(export)
    built = time.perf_counter() - started
    assert export.status == ProfileExport.Status.DONE
    stored = sum(len(part.data) for part in export.parts.only("data"))
    print(
        f"built {export.processed:,} rows in {built:.1f} s, {export.parts.count()} parts, "
        f"{stored / 2**20:.1f} MiB stored; peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )

    client = Client()
    client.force_login(user)
    started = time.perf_counter()
    response = client.get(reverse("profiles:export_download", args=[export.pk]))
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    took = time.perf_counter() - started
    print(f"downloaded {size / 2**20:.1f} MiB, {lines:,} lines in {took:.1f} s")
    assert lines == args.profiles + 1, lines
    export.delete()


if __name__ == "__main__":
    main()
