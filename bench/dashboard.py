"""Server time and query count of the main dashboard pages at scale.

    .venv/bin/python -m bench.dashboard            # seeds 1M profiles / 10M events if empty

Each page is requested through Django's handler in this process (no network), 20 times after
a warm-up; the figure is the median server time, with the number of SQL queries.
"""

import argparse
import statistics
import subprocess
import sys
import time

from bench.common import ROOT, ensure_database, setup_django


def measure(client, url: str, runs: int) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm-up: caches, connection
    timings = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), len(queries), response.status_code


def pages() -> list[tuple[str, str]]:
    from django.urls import reverse

    from profiles.models import Profile, TimelineEvent
    from providers.models import EmailProvider

    provider = EmailProvider.objects.order_by("pk").values_list("pk", flat=True).first()
    busiest = (
        TimelineEvent.objects.filter(profile__email__endswith="@bench.example")
        .values_list("profile_id", flat=True)
        .first()
    )
    inactive = Profile.objects.filter(status="inactive").values_list("pk", flat=True).first()
    return [
        ("provider list", reverse("providers:list")),
        ("profile list, first page", reverse("profiles:list")),
        ("profile list, search by email", reverse("profiles:list") + "?q=person123456@"),
        (
            "profile list, whole address",
            reverse("profiles:list") + "?q=person123456@bench.example",
        ),
        ("profile list, search by name", reverse("profiles:list") + "?q=Person 98765"),
        ("profile list, inactive filter", reverse("profiles:list") + "?status=inactive"),
        ("profile page", reverse("profiles:detail", args=[busiest])),
        ("profile page, inactive", reverse("profiles:detail", args=[inactive])),
        ("stats, 30 days", reverse("callbacks:stats") + "?days=30"),
        ("stats, 90 days", reverse("callbacks:stats") + "?days=90"),
        ("provider page", reverse("providers:detail", args=[provider])),
        ("callback log", reverse("callbacks:log", args=[provider])),
    ]


def measure_pages(runs: int) -> None:
    """Print each page's median server time and query count, signed in as staff."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment

    from profiles.models import Profile

    setup_test_environment()
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    print(f"Dashboard pages: {Profile.objects.count():,} profiles; median of {runs}")
    for name, url in pages():
        median, queries, status = measure(client, url, runs)
        print(f"  {name:32} {median:7.1f} ms  {queries:2d} queries  (HTTP {status})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    setup_django()
    ensure_database()
    from profiles.models import Profile

    if not Profile.objects.filter(email="person0@bench.example").exists():
        subprocess.run([sys.executable, "-m", "bench.seed"], cwd=ROOT, check=True)
    measure_pages(args.runs)


if __name__ == "__main__":
    main()
