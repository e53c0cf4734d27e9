"""Callback ingestion under load: gunicorn (2 workers) on PostgreSQL, 1000-event batches.

    .venv/bin/python -m bench.ingest --seconds 60

Seeds a million profiles first if the benchmark database is empty (bench.seed). Runs Celery
workers on Redis (CELERY_BROKER_URL, default redis://127.0.0.1:6379/8) that apply the callback
inbox. Reports the events per second the endpoint accepted and the per-batch latency, the
events per second applied end to end (until the workers emptied the inbox), then the floors:
PostgreSQL COPY of the same rows into a bare table (before and after the load; the faster
counts), and a bare Django view that only parses the JSON. With ``--workers 0`` no worker runs
during the load, which measures the endpoint alone; the batches it accepted are then
discarded, unapplied (a minute of them takes a worker a quarter of an hour to apply).
"""

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx

from bench.common import ROOT, celery_worker, ensure_database, percentile, setup_django

BENCH_ENV = {
    "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdefghijkl",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "FIELD_ENCRYPTION_KEYS": "YmVuY2gta2V5LTAwMDAwMDAwMDAwMDAwMDAwMDAwMDA=",
    "SECURE_SSL_REDIRECT": "false",
    "LOG_LEVEL": "WARNING",
}
JSON_HEADERS = {"Content-Type": "application/json"}
BASE_BATCHES = 3000  # built once (~850 MB); each post gives its events fresh ids
POST_ID = b"~POSTID~"  # in every event id: replaced by the post's number, as hex

MIX = [("delivered", 70), ("soft", 15), ("hard", 10), ("spam", 3), ("unsubscribe", 2)]


def sendgrid_event(rng: random.Random, profiles: int, now: int) -> dict:
    kind = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
    event = {
        "email": f"person{rng.randrange(profiles)}@bench.example",
        "timestamp": now - rng.randrange(3600),
        "sg_event_id": POST_ID.decode() + uuid.UUID(int=rng.getrandbits(128)).hex[8:],
        "sg_message_id": uuid.UUID(int=rng.getrandbits(128)).hex + ".filter0001",
        "smtp-id": f"<{rng.getrandbits(64):x}@bench.example>",
    }
    if kind == "delivered":
        event.update(event="delivered", response="250 OK")
    elif kind == "soft":
        event.update(event="bounce", type="blocked", status="4.2.2", reason="452 mailbox full")
    elif kind == "hard":
        event.update(event="bounce", type="bounce", status="5.1.1", reason="550 no such user")
    elif kind == "spam":
        event.update(event="spamreport")
    else:
        event.update(event="unsubscribe")
    return event


def make_batches(count: int, size: int, profiles: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    now = int(time.time())
    return [
        json.dumps([sendgrid_event(rng, profiles, now) for _ in range(size)]).encode()
        for _ in range(count)
    ]


@contextmanager
def gunicorn(app: str, port: int, env: dict[str, str]):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def load(url: str, batches: list[bytes], seconds: float, concurrency: int, size: int) -> dict:
    """Post the batches in turn, from `concurrency` threads, for `seconds`.

    Every post is new to the server, not a replay, which would only measure de-duplication:
    the post's number replaces `POST_ID` in its event ids, so each post's events are new.
    """
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    counter = iter(range(10**9))

    target = urlsplit(url)

    def worker():
        # http.client, not httpx: the generator shares the server's two cores, so it should
        # spend as little of them as it can (a keep-alive connection, no body copies).
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            while time.monotonic() < stop_at:
                index = next(counter)
                body = batches[index % len(batches)].replace(POST_ID, b"%08x" % index)
                started = time.perf_counter()
                connection.request("POST", target.path, body=body, headers=JSON_HEADERS)
                response = connection.getresponse()
                response.read()
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    statuses[response.status] = statuses.get(response.status, 0) + 1
        finally:
            connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ok = statuses.get(200, 0)
    return {
        "events": ok * size,
        "events_per_second": ok * size / elapsed,
        "batches": len(latencies),
        "statuses": statuses,
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "seconds": elapsed,
    }


def copy_floor(batches: list[bytes]) -> float:
    """Events per second for PostgreSQL to COPY the same rows into a bare, index-free table."""
    from django.db import connection

    rows = [
        (
            e["email"],
            e["event"],
            e.get("type", ""),
            e["timestamp"],
            e["sg_event_id"],
            e.get("reason", ""),
        )
        for body in batches
        for e in json.loads(body)
    ]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_floor")  # an interrupted run's
        cursor.execute(
            # A regular (WAL-logged) table, like the real ones; a temp table would skip the WAL.
            "CREATE TABLE bench_floor (email text, event text, type text, ts bigint, "
            "event_id text, reason text)"
        )
        started = time.perf_counter()
        with cursor.cursor.copy("COPY bench_floor FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_floor")
    return len(rows) / elapsed


SERVER_SETTINGS = [
    "autovacuum",
    "shared_buffers",
    "max_wal_size",
    "checkpoint_timeout",
    "wal_compression",
    "synchronous_commit",
]


def server_settings() -> str:
    """The PostgreSQL settings that decide these figures, as `name=value` pairs."""
    from django.db import connection

    with connection.cursor() as cursor:
        values = []
        for name in SERVER_SETTINGS:
            cursor.execute(f"SHOW {name}")
            values.append(f"{name}={cursor.fetchone()[0]}")
    return ", ".join(values)


def discard_pending() -> int:
    """Delete the batches the endpoint accepted and no worker applied, with their logs.

    Then vacuum both tables, so the next run does not pay for this one's dead rows (a minute
    of bodies is a few GB) when autovacuum comes by in the middle of it.
    """
    from django.db import connection, transaction

    from callbacks.models import CallbackLog, PendingBatch

    with transaction.atomic():
        count, _ = PendingBatch.objects.all().delete()
        CallbackLog.objects.filter(applied_at__isnull=True).delete()
    tables = [PendingBatch._meta.db_table, CallbackLog._meta.db_table]
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {', '.join(tables)}")
    return count


def pending_batches() -> int:
    from callbacks.models import PendingBatch

    return PendingBatch.objects.count()


def wait_until_applied() -> float:
    """Wait for the workers to empty the callback inbox; return when they did (monotonic).

    Polls twice a second: the poll shares the cores and the database with what it measures.
    """
    from callbacks.models import PendingBatch

    while PendingBatch.objects.exists():
        time.sleep(0.5)
    return time.monotonic()


def bench_provider_token() -> str:
    from providers.models import EmailProvider

    provider, _ = EmailProvider.objects.get_or_create(
        nickname="Bench SendGrid",
        defaults={"kind": EmailProvider.Kind.SENDGRID, "from_address": "bench@bench.example"},
    )
    if not EmailProvider.objects.filter(is_default=True).exists():
        EmailProvider.objects.mark_default(provider)
    return provider.callback_token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2, help="parallel connections")
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="Celery worker processes applying while the load runs; 0 measures the endpoint alone",
    )
    args = parser.parse_args()

    os.environ.update(BENCH_ENV)
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/8")
    setup_django()
    ensure_database()
    from callbacks import inbox
    from profiles.models import Profile

    if not Profile.objects.filter(email="person0@bench.example").exists():
        subprocess.run(
            [sys.executable, "-m", "bench.seed", "--profiles", str(args.profiles), "--events", "0"],
            cwd=ROOT,
            check=True,
        )
    token = bench_provider_token()
    batches = make_batches(BASE_BATCHES, args.batch_size, args.profiles, seed=int(time.time()))
    # The floor is taken on the quiet server and again after the load (when autovacuum may be
    # busy with what the workers wrote); the ratios use the faster of the two.
    floor_before = copy_floor(batches)
    env = {
        **BENCH_ENV,
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "CALLBACK_WAKE_TASKS": str(max(args.workers, 1)),
    }

    print(
        f"Callback ingestion, {args.batch_size}-event SendGrid batches, "
        f"{args.concurrency} connections, {args.seconds:.0f} s, {os.cpu_count()} cores"
    )
    settings = server_settings()
    print(f"  PostgreSQL: {settings}")
    if "autovacuum=off" in settings:
        print(
            "  warning: autovacuum is off, so the inbox's applied batches are never vacuumed "
            "and finding the next one gets slower with every run (see docs/performance.md)"
        )

    def post_batches(base: str) -> dict:
        url = f"{base}/callbacks/{token}/"
        return load(url, batches, args.seconds, args.concurrency, args.batch_size)

    applied = None
    if args.workers:
        with celery_worker(env, f"--concurrency={args.workers}"):
            # What an earlier, interrupted run left; its task messages may be gone.
            inbox.publish(args.workers)
            wait_until_applied()
            with gunicorn("config.wsgi", args.port, env) as base:
                started = time.monotonic()
                result = post_batches(base)
                backlog = pending_batches()
                drained = wait_until_applied() - started
        applied = result["events"] / drained
    else:
        with gunicorn("config.wsgi", args.port, env) as base:
            result = post_batches(base)
        discard_pending()  # the next run starts from the same database
    accepted = result["events_per_second"]
    print(
        f"  accepted:   {accepted:>9,.0f} events/s over {result['seconds']:.0f} s; per batch "
        f"p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms; answers {result['statuses']}"
    )
    if applied:
        print(
            f"  applied:    {applied:>9,.0f} events/s end to end, by {args.workers} worker "
            f"processes ({backlog} batches were waiting when the load stopped; all applied "
            f"{drained - result['seconds']:.0f} s later)"
        )
    else:
        print("  applied:    not measured: no worker ran during the load (--workers 0)")

    with gunicorn("bench.bare_app", args.port + 1, env) as base:
        bare = load(
            f"{base}/callbacks/x/",
            batches,
            min(args.seconds, 20),
            args.concurrency,
            args.batch_size,
        )
    floor_after = copy_floor(batches)
    floor = max(floor_before, floor_after)
    print(
        f"  bare view:  {bare['events_per_second']:>9,.0f} events/s (parse JSON, answer 200); "
        f"p50 {bare['p50']:.0f} ms, p99 {bare['p99']:.0f} ms"
    )
    print(
        f"  COPY floor: {floor:>9,.0f} events/s into a bare table (before the load "
        f"{floor_before:,.0f}, after it {floor_after:,.0f})"
    )
    ratios = (
        f"  ratios: COPY floor / accepted = {floor / accepted:.1f}x, "
        f"bare view / accepted = {bare['events_per_second'] / accepted:.1f}x"
    )
    if applied:
        ratios += f", COPY floor / applied = {floor / applied:.1f}x"
    print(ratios)


if __name__ == "__main__":
    main()
