"""Callback ingestion under load: gunicorn (2 workers) on PostgreSQL, 1000-event batches.

    .venv/bin/python -m bench.ingest --seconds 60
    .venv/bin/python -m bench.ingest --rate 10000     # freshness at a steady offered rate

Seeds a million profiles first if the benchmark database is empty (bench.seed). Runs Celery
workers on Redis (CELERY_BROKER_URL, default redis://127.0.0.1:6379/8) that apply the callback
inbox. By default the batches are what users send (``--mix mixed``): half SendGrid, a third
CleverTap generic v2, the rest Netcore native; a third of the posts replay an earlier post, as
ESPs retry, and a tenth of the addresses are new. ``--mix sendgrid`` posts new SendGrid
batches only. Reports the events per second the endpoint accepted and the per-batch latency,
the unique events per second applied end to end (until the workers emptied the inbox), then
the floors: PostgreSQL COPY of the same rows into a bare table (before and after the load; the
faster counts), and a bare Django view that only parses the JSON. With ``--rate`` the posts
are paced to that many events per second and every new SendGrid post carries a hard bounce
for a new address: freshness is the time from its POST until its profile is Inactive. With
``--workers 0`` no worker runs during the load, which measures the endpoint alone; the
batches it accepted are then discarded, unapplied (a minute of them takes a worker a quarter
of an hour to apply).
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
    "SITE_URL": "http://127.0.0.1",
}
JSON_HEADERS = {"Content-Type": "application/json"}
BASE_BATCHES = 3000  # built once (~850 MB); each post gives its events fresh ids
POST_ID = b"~POSTID~"  # in every event id: replaced by the post's number, as hex

MIX = [("delivered", 70), ("soft", 15), ("hard", 10), ("spam", 3), ("unsubscribe", 2)]
# What users send (issue 26): half SendGrid, a third CleverTap generic v2, the rest Netcore.
FORMAT_MIX = [("sendgrid", 3), ("generic_v2", 2), ("netcore", 1)]
REPLAY_SHARE = 1 / 3  # of the posts, an earlier post again, as ESPs retry
NEW_ADDRESS_SHARE = 0.1  # of the addresses, one no profile has yet


def event_kind(rng: random.Random) -> str:
    return rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]


def address(rng: random.Random, profiles: int, new_share: float) -> str:
    """A seeded profile's address, or (`new_share` of them) one new in each post."""
    if rng.random() < new_share:
        return f"new{POST_ID.decode()}-{rng.getrandbits(32):08x}@bench.example"
    return f"person{rng.randrange(profiles)}@bench.example"


def sendgrid_event(rng: random.Random, email: str, now: int) -> dict:
    kind = event_kind(rng)
    event = {
        "email": email,
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


GENERIC_V2_TYPES = {
    "delivered": "delivered",
    "soft": "soft_bounce",
    "hard": "hard_bounce",
    "spam": "spam",
    "unsubscribe": "unsubscribed",
}


def generic_v2_item(rng: random.Random, email: str, now: int) -> dict:
    """A CleverTap generic v2 item; the meta holds the send's id, so each post's are new."""
    kind = GENERIC_V2_TYPES[event_kind(rng)]
    item = {
        "type": kind,
        "email": email,
        "meta": f"{email}|{now}|campaign{rng.randrange(50)}|{POST_ID.decode()}"
        f"{rng.getrandbits(48):012x}|",
    }
    if kind != "delivered":
        item["description"] = "550 no such user" if kind == "hard_bounce" else kind
    return item


NETCORE_EVENTS = {
    "delivered": {"EVENT": "sent", "RESPONSE": "250 OK"},
    "soft": {"EVENT": "bounced", "BOUNCE_TYPE": "SOFTBOUNCE", "RESPONSE": "452 mailbox full"},
    "hard": {"EVENT": "bounced", "BOUNCE_TYPE": "HARDBOUNCE", "RESPONSE": "550 no such user"},
    "spam": {"EVENT": "abuse"},
    "unsubscribe": {"EVENT": "unsubscribed"},
}


def netcore_event(rng: random.Random, email: str, now: int) -> dict:
    return {
        "TRANSID": POST_ID.decode() + f"{rng.getrandbits(48):012x}",
        "EMAIL": email,
        "TIMESTAMP": now - rng.randrange(3600),
        "X-APIHEADER": f"campaign{rng.randrange(50)}",
        **NETCORE_EVENTS[event_kind(rng)],
    }


def batch_body(fmt: str, rng: random.Random, emails: list[str], now: int) -> bytes:
    if fmt == "generic_v2":
        items = [generic_v2_item(rng, email, now) for email in emails]
        events = {
            "success": [item for item in items if item["type"] == "delivered"],
            "failed": [item for item in items if item["type"] != "delivered"],
        }
        return json.dumps({"version": "v2", "events": events}).encode()
    make_event = netcore_event if fmt == "netcore" else sendgrid_event
    return json.dumps([make_event(rng, email, now) for email in emails]).encode()


def make_batches(
    count: int, size: int, profiles: int, seed: int, mix: str
) -> list[tuple[str, bytes]]:
    """`count` batches as (format, body); `mix` is "mixed" or "sendgrid"."""
    rng = random.Random(seed)
    now = int(time.time())
    formats, weights = zip(*FORMAT_MIX, strict=True) if mix == "mixed" else (["sendgrid"], [1])
    new_share = NEW_ADDRESS_SHARE if mix == "mixed" else 0
    batches = []
    for _ in range(count):
        fmt = rng.choices(formats, weights=weights)[0]
        emails = [address(rng, profiles, new_share) for _ in range(size)]
        batches.append((fmt, batch_body(fmt, rng, emails, now)))
    return batches


@contextmanager
def gunicorn(app: str, port: int, env: dict[str, str], *options: str):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            *options,
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
        stdout=subprocess.DEVNULL,  # the access log (one line a post); errors go to stderr
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


def probe_address(post: int) -> str:
    return f"probe{post:08x}@bench.example"


def with_probe(body: bytes, post: int) -> bytes:
    """A SendGrid body with one more event: a hard bounce for a new address."""
    probe = {
        "email": probe_address(post),
        "event": "bounce",
        "type": "bounce",
        "status": "5.1.1",
        "timestamp": int(time.time()),
        "sg_event_id": f"probe{post:08x}",
    }
    return body[:-1] + b"," + json.dumps(probe).encode() + b"]"


class Freshness(threading.Thread):
    """Polls the probes' profiles until each is Inactive; `seconds` from each POST to that."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sent: dict[str, float] = {}
        self.seconds: list[float] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def posted(self, post: int, at: float) -> None:
        with self.lock:
            self.sent[probe_address(post)] = at

    def run(self) -> None:
        from django.db import connection

        from profiles.models import Profile

        try:
            while not (self.stopping.is_set() and not self.sent):
                with self.lock:
                    waiting = list(self.sent)
                inactive = Profile.objects.filter(
                    email__in=waiting, status=Profile.Status.INACTIVE
                ).values_list("email", flat=True)
                now = time.monotonic()
                with self.lock:
                    for email in inactive:
                        self.seconds.append(now - self.sent.pop(email))
                time.sleep(0.05)
        finally:
            connection.close()

    def finish(self, timeout: float) -> int:
        """Stop once every probe is seen, or after `timeout`; the probes never seen."""
        self.stopping.set()
        self.join(timeout)
        return len(self.sent)


def load(
    urls: dict[str, str],
    batches: list[tuple[str, bytes]],
    seconds: float,
    concurrency: int,
    size: int,
    replay_share: float = 0,
    rate: float | None = None,
    freshness: Freshness | None = None,
) -> dict:
    """Post the batches in turn, from `concurrency` threads, for `seconds`.

    A new post is new to the server: the post's number replaces `POST_ID` in its event ids
    and new addresses. `replay_share` of the posts repeat an earlier new post, byte for byte.
    With `rate`, the threads together offer that many events per second; with `freshness`,
    every new SendGrid post carries its probe.
    """
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    new_posts: list[int] = []  # numbers of the new posts answered 200, for replays
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    counter = iter(range(10**9))
    interval = concurrency * size / rate if rate else 0
    paths = {fmt: urlsplit(url).path for fmt, url in urls.items()}

    def worker(seed: int):
        rng = random.Random(seed)
        first = urlsplit(next(iter(urls.values())))
        # http.client, not httpx: the generator shares the server's two cores, so it should
        # spend as little of them as it can (a keep-alive connection, no body copies).
        connection = http.client.HTTPConnection(first.hostname, first.port, timeout=60)
        next_at = time.monotonic()
        try:
            while time.monotonic() < stop_at:
                if interval:
                    next_at += interval
                    time.sleep(max(0.0, next_at - time.monotonic()))
                index = next(counter)
                replay = bool(new_posts) and rng.random() < replay_share
                post = rng.choice(new_posts) if replay else index
                fmt, template = batches[post % len(batches)]
                body = template.replace(POST_ID, b"%08x" % post)
                probe = freshness is not None and fmt == "sendgrid" and not replay
                if probe:
                    body = with_probe(body, post)
                started = time.perf_counter()
                if probe:
                    freshness.posted(post, time.monotonic())
                connection.request("POST", paths[fmt], body=body, headers=JSON_HEADERS)
                response = connection.getresponse()
                response.read()
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                    if response.status == 200 and not replay:
                        new_posts.append(post)
        finally:
            connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ok = statuses.get(200, 0)
    return {
        "events": ok * size,
        "unique_events": len(new_posts) * size,
        "events_per_second": ok * size / elapsed,
        "batches": len(latencies),
        "statuses": statuses,
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "seconds": elapsed,
    }


def floor_rows(fmt: str, body: bytes) -> list[tuple]:
    """The fields the apply stores of each event: address, event, type, time, id, reason."""
    data = json.loads(body)
    if fmt == "generic_v2":
        items = [item for bucket in data["events"].values() for item in bucket]
        return [
            (i["email"], i["type"], "", None, i["meta"], i.get("description", "")) for i in items
        ]
    if fmt == "netcore":
        return [
            (e["EMAIL"], e["EVENT"], e.get("BOUNCE_TYPE", ""), e["TIMESTAMP"], e["TRANSID"],
             e.get("RESPONSE", ""))
            for e in data
        ]  # fmt: skip
    return [
        (e["email"], e["event"], e.get("type", ""), e["timestamp"], e["sg_event_id"],
         e.get("reason", ""))
        for e in data
    ]  # fmt: skip


def copy_floor(batches: list[tuple[str, bytes]]) -> float:
    """Events per second for PostgreSQL to COPY the same rows into a bare, index-free table."""
    from django.db import connection

    rows = [row for fmt, body in batches for row in floor_rows(fmt, body)]
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


BENCH_PROVIDERS = {
    "sendgrid": ("Bench SendGrid", "sendgrid"),
    "generic_v2": ("Bench CleverTap", "smtp"),
    "netcore": ("Bench Netcore", "netcore"),
}


def bench_provider_tokens() -> dict[str, str]:
    """Each format's callback token, from a provider of the kind that posts it."""
    from providers.models import EmailProvider

    tokens = {}
    for fmt, (nickname, kind) in BENCH_PROVIDERS.items():
        provider, _ = EmailProvider.objects.get_or_create(
            nickname=nickname, defaults={"kind": kind, "from_address": "bench@bench.example"}
        )
        if not EmailProvider.objects.filter(is_default=True).exists():
            EmailProvider.objects.mark_default(provider)
        tokens[fmt] = provider.callback_token
    return tokens


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
    parser.add_argument(
        "--apply-only",
        action="store_true",
        help="post for --seconds with no worker running, then start the workers and time how "
        "long they take to empty the inbox: the apply side alone, steadier for A/B runs",
    )
    parser.add_argument(
        "--mix",
        choices=["mixed", "sendgrid"],
        default="mixed",
        help="mixed: formats, replays and new addresses as users send them; sendgrid: new "
        "SendGrid batches only",
    )
    parser.add_argument(
        "--rate",
        type=float,
        help="offered events/s; measures callback-to-profile freshness (needs --workers)",
    )
    parser.add_argument(
        "--base-batches",
        type=int,
        default=BASE_BATCHES,
        help="distinct batches built before the load (each post gives its events fresh ids)",
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
    tokens = bench_provider_tokens()
    batches = make_batches(
        args.base_batches, args.batch_size, args.profiles, seed=int(time.time()), mix=args.mix
    )
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

    what = (
        "mixed formats (1/2 SendGrid, 1/3 CleverTap generic v2, 1/6 Netcore), 1/3 replays, "
        "1/10 new addresses"
        if args.mix == "mixed"
        else "SendGrid"
    )
    offered = f", offered {args.rate:,.0f} events/s" if args.rate else ""
    print(
        f"Callback ingestion, {args.batch_size}-event batches of {what}, "
        f"{args.concurrency} connections, {args.seconds:.0f} s{offered}, {os.cpu_count()} cores"
    )
    settings = server_settings()
    print(f"  PostgreSQL: {settings}")
    if "autovacuum=off" in settings:
        print(
            "  warning: autovacuum is off, so the inbox's applied batches are never vacuumed "
            "and finding the next one gets slower with every run (see docs/performance.md)"
        )
    replay_share = REPLAY_SHARE if args.mix == "mixed" else 0
    freshness = Freshness() if args.rate and args.workers else None

    def post_batches(base: str) -> dict:
        urls = {fmt: f"{base}/callbacks/{token}/" for fmt, token in tokens.items()}
        return load(
            urls,
            batches,
            args.seconds,
            args.concurrency,
            args.batch_size,
            replay_share=replay_share,
            rate=args.rate,
            freshness=freshness,
        )

    applied = None
    if args.apply_only and args.workers:
        with gunicorn("config.wsgi", args.port, env) as base:
            result = post_batches(base)
        backlog = pending_batches()
        with celery_worker(env, f"--concurrency={args.workers}"):
            started = time.monotonic()
            inbox.publish(args.workers)
            drained = wait_until_applied() - started
        applied = result["unique_events"] / drained
    elif args.workers:
        with celery_worker(env, f"--concurrency={args.workers}"):
            # What an earlier, interrupted run left; its task messages may be gone.
            inbox.publish(args.workers)
            wait_until_applied()
            with gunicorn("config.wsgi", args.port, env) as base:
                started = time.monotonic()
                if freshness:
                    freshness.start()
                result = post_batches(base)
                backlog = pending_batches()
                drained = wait_until_applied() - started
        applied = result["unique_events"] / drained
        unseen = freshness.finish(timeout=60) if freshness else 0
    else:
        with gunicorn("config.wsgi", args.port, env) as base:
            result = post_batches(base)
        discard_pending()  # the next run starts from the same database
    accepted = result["events_per_second"]
    print(
        f"  accepted:   {accepted:>9,.0f} events/s over {result['seconds']:.0f} s; per batch "
        f"p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms; answers {result['statuses']}"
    )
    if applied and args.apply_only:
        print(
            f"  applied:    {applied:>9,.0f} unique events/s with nothing else running, by "
            f"{args.workers} worker processes ({backlog} batches in {drained:.0f} s)"
        )
    elif applied:
        print(
            f"  applied:    {applied:>9,.0f} unique events/s end to end, by {args.workers} worker "
            f"processes ({backlog} batches were waiting when the load stopped; all applied "
            f"{drained - result['seconds']:.0f} s later)"
        )
    else:
        print("  applied:    not measured: no worker ran during the load (--workers 0)")
    if freshness and freshness.seconds:
        print(
            f"  freshness:  a hard bounce's profile Inactive after p50 "
            f"{percentile(freshness.seconds, 0.5):.2f} s, p99 "
            f"{percentile(freshness.seconds, 0.99):.2f} s from its POST "
            f"({len(freshness.seconds)} probes, {unseen} never seen)"
        )

    # Not the project's gunicorn.conf.py: it loads the project's settings, which the bare app
    # configures itself.
    with gunicorn("bench.bare_app", args.port + 1, env, "--config=/dev/null") as base:
        bare = load(
            {fmt: f"{base}/callbacks/x/" for fmt in tokens},
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
